"""The built-in brand-voice templates (话术库) of the dialogue engine, zh and en.

Every bot utterance of L2 comes from a template: the engine holds no reply text. Each entry
becomes a tenant setting ``template.NAME`` (see :mod:`kefu.settings` and docs/settings.md), so a
shop rewrites any of them with ``kefu tenant set SHOP template.NAME '{"zh": "…", "en": "…"}'``;
a flow file may also bring its own templates. Variables in braces are filled by the engine:
``{brand}``, ``{hours}`` always; dotted names (``{order.order_id}``) from slots and results.
"""

from __future__ import annotations

from kefu.dialogue.templates_l3 import L3_TEMPLATES

# name: (zh, en, help)
DIALOGUE_TEMPLATES: dict[str, tuple[str, str, str]] = {
    # identity
    "ask_identity": (
        "为了保护您的隐私，请先核实身份：请提供下单邮箱，或“姓名 + 邮编”，或“手机号 + 订单号”。",
        "To protect your privacy, please verify who you are first: your email address, or your "
        "name and zip code, or your phone number and an order id.",
        "Asks the customer to identify themselves before personal data is shown.",
    ),
    "identify_more": (
        "还差一点信息：{missing}。",
        "I need a little more to find you: {missing}.",
        "Identification needs one more piece ({missing}: e.g. the zip code).",
    ),
    "identify_failed": (
        "抱歉，没有找到与这些信息匹配的账户，请核对后再试一次"
        "（邮箱，或姓名 + 邮编，或手机号 + 订单号）。",
        "Sorry, I couldn't find an account matching that. Please check and try again (email, or "
        "name and zip code, or phone number and order id).",
        "No customer matches the identity details given.",
    ),
    "identified": (
        "已核实，{customer.display_name}您好。",
        "Thanks, {customer.display_name}, you're verified.",
        "The customer has been identified.",
    ),
    "missing_zip": ("邮编", "your zip code", "Names the missing zip code in identify_more."),
    "missing_name": ("姓名", "your full name", "Names the missing name in identify_more."),
    "missing_order": ("订单号", "an order id", "Names the missing order id in identify_more."),
    "missing_phone": ("手机号", "your phone number", "Names the missing phone in identify_more."),
    # orders
    "ask_order_id": (
        "请问是哪个订单？请发一下订单号（例如 #D1000001）。",
        "Which order is it? Please send the order id (for example #D1000001).",
        "Asks for an order id.",
    ),
    "invalid_order_not_found": (
        "没有找到订单 {value}，请核对订单号。",
        "I couldn't find order {value}. Please check the order id.",
        "The order id given does not exist.",
    ),
    "invalid_order_not_yours": (
        "订单 {value} 不在您的账户下，请核对订单号。",
        "Order {value} isn't on your account. Please check the order id.",
        "The order belongs to another customer (nothing about it is revealed).",
    ),
    "invalid_missing": (
        "没有识别到{what}。",
        "I didn't catch {what} there.",
        "The reply did not contain the value being asked for.",
    ),
    "what_order_id": ("订单号", "an order id", "Names an order id in invalid_missing."),
    "what_product": ("商品", "a product", "Names a product in invalid_missing."),
    "what_item": ("商品", "an item", "Names an item of an order in invalid_missing."),
    "what_value": ("您要的信息", "the detail I asked for", "Generic name in invalid_missing."),
    "order_status": (
        "订单 {order.order_id} 当前状态：{order.status_text}。共 {order.item_count} 件商品，"
        "实付 {currency}{order.total}。",
        "Order {order.order_id} is {order.status_text}: {order.item_count} item(s), "
        "{currency}{order.total} paid.",
        "Tells the status of an order.",
    ),
    "order_status_shipped": (
        "已发货，{tracking.carrier}运单号 {tracking.tracking_number}，"
        "最新动态：{tracking.latest}。",
        "It has shipped with {tracking.carrier}, tracking number {tracking.tracking_number}; "
        "latest: {tracking.latest}.",
        "Adds the latest tracking news to the order status when the order has shipped.",
    ),
    "status_pending": ("待发货", "pending (not shipped yet)", "Order status name."),
    "status_processed": ("已发货", "shipped", "Order status name."),
    "status_delivered": ("已签收", "delivered", "Order status name."),
    "status_cancelled": ("已取消", "cancelled", "Order status name."),
    "status_return_requested": ("退货处理中", "return requested", "Order status name."),
    "status_exchange_requested": ("换货处理中", "exchange requested", "Order status name."),
    "status_pending_item_modified": (
        "待发货（商品已修改）",
        "pending (items modified)",
        "Order status name.",
    ),
    "customer_orders": (
        "您名下共有 {orders.count} 个订单：",
        "You have {orders.count} order(s):",
        "Heads the list of the customer's orders.",
    ),
    "customer_order_line": (
        "{index}. {order_id}（{status_text}，{item_count} 件，{currency}{total}）",
        "{index}. {order_id} ({status_text}, {item_count} item(s), {currency}{total})",
        "One line of the customer's order list.",
    ),
    "order_items": (
        "订单 {order.order_id} 里有 {order.item_count} 件商品：",
        "Order {order.order_id} has {order.item_count} item(s):",
        "Heads the list of items in an order.",
    ),
    "order_item_line": (
        "{index}. {name}（{options_text}）{currency}{price}",
        "{index}. {name_en} ({options_text}) {currency}{price}",
        "One line of an order's item list.",
    ),
    # logistics
    "tracking_header": (
        "订单 {order.order_id} 由{tracking.carrier}承运，运单号 {tracking.tracking_number}：",
        "Order {order.order_id} ships with {tracking.carrier}, tracking number "
        "{tracking.tracking_number}:",
        "Heads a tracking timeline.",
    ),
    "tracking_event_line": (
        "{time} {location} {description}",
        "{time} {location}: {description}",
        "One line of a tracking timeline.",
    ),
    "tracking_more_parcels": (
        "该订单另有 {tracking.other_count} 个包裹：{tracking.others}。",
        "This order also ships in {tracking.other_count} more parcel(s): {tracking.others}.",
        "Names the other parcels of an order shipped in several parcels.",
    ),
    "tracking_none": (
        "订单 {order.order_id} 还没有发货（{order.status_text}），暂无物流信息。发货后会有运单号。",
        "Order {order.order_id} hasn't shipped yet ({order.status_text}), so there is no "
        "tracking yet.",
        "An order with no shipment yet.",
    ),
    "tracking_number_only": (
        "订单 {order.order_id} 的运单号是 {tracking.tracking_number}，暂无详细轨迹。",
        "Order {order.order_id} has tracking number {tracking.tracking_number}; no detailed "
        "events are available.",
        "A shipment known only by its tracking number (no events).",
    ),
    # returns and exchanges
    "ask_return_item": (
        "请问要退/换订单里的哪件商品？可以说“第2件”或商品名称。",
        "Which item of the order is it? You can say 'the second one' or the product name.",
        "Asks which item of the order the customer means.",
    ),
    "return_eligible": (
        "订单 {order.order_id} 中的「{eligibility.item.name}」可以申请{eligibility.kind_text}，"
        "截止 {eligibility.deadline}。",
        "The {eligibility.item.name_en} in order {order.order_id} can be "
        "{eligibility.kind_text} until {eligibility.deadline}.",
        "The item can be returned or exchanged.",
    ),
    "return_eligible_no_deadline": (
        "订单 {order.order_id} 中的「{eligibility.item.name}」可以申请{eligibility.kind_text}。",
        "The {eligibility.item.name_en} in order {order.order_id} can be {eligibility.kind_text}.",
        "The item can be returned or exchanged (no deadline known).",
    ),
    "kind_return": ("退货", "returned", "Names a return in the eligibility replies."),
    "kind_exchange": ("换货", "exchanged", "Names an exchange in the eligibility replies."),
    "not_eligible_not_delivered": (
        "订单 {order.order_id} 目前是“{order.status_text}”，"
        "签收后才能申请{eligibility.kind_text}。",
        "Order {order.order_id} is {order.status_text}; it "
        "can be {eligibility.kind_text} only once it has "
        "been delivered.",
        "Not eligible: the order has not been delivered.",
    ),
    "not_eligible_window_expired": (
        "订单 {order.order_id} 已于 {eligibility.delivered} 签收，超过了 {eligibility.days} 天的"
        "{eligibility.kind_text}期限，无法申请。如是质量问题可以转人工处理。",
        "Order {order.order_id} was delivered on {eligibility.delivered}, more than "
        "{eligibility.days} days ago, so it can no longer be "
        "{eligibility.kind_text}. For a quality problem I "
        "can pass you to a colleague.",
        "Not eligible: the return window has passed.",
    ),
    "not_eligible_not_returnable_category": (
        "「{eligibility.item.name}」属于不支持七天无理由{eligibility.kind_text}的商品。如有质量问题可以转人工处理。",
        "The {eligibility.item.name_en} can't be {eligibility.kind_text} "
        "without a quality problem. I can pass you to a "
        "colleague if it is faulty.",
        "Not eligible: the product is not returnable.",
    ),
    "not_eligible_already_requested": (
        "订单 {order.order_id} 已经在{order.status_text}，无需重复申请。",
        "Order {order.order_id} is already {order.status_text}.",
        "Not eligible: a return or exchange is already under way.",
    ),
    "not_eligible_other": (
        "订单 {order.order_id} 目前不能{eligibility.kind_text}（{eligibility.reason}）。",
        "Order {order.order_id} can't be {eligibility.kind_text} right now ({eligibility.reason}).",
        "Not eligible for another reason.",
    ),
    # products
    "invalid_product_ambiguous": (
        "「{value}」有好几款：{choices}。",
        "“{value}” could be any of these: {choices_en}.",
        "The product words fit several products; lists them (the customer answers with a number "
        "or a name).",
    ),
    "ask_product": (
        "请问是哪款商品？说一下商品名称，也可以带上颜色、尺码等规格。",
        "Which product is it? Tell me its name, and the colour, size or other options if you like.",
        "Asks for a product.",
    ),
    "product_not_found": (
        "没有找到“{value}”这款商品，可以换个说法再试试。",
        "I couldn't find that product. Could you name it differently?",
        "No product matched.",
    ),
    "variant_in_stock": (
        "「{product.name}」{variant.options_text}：现货，{currency}{variant.price}。",
        "{product.name_en} {variant.options_text}: in stock, {currency}{variant.price}.",
        "A variant is in stock.",
    ),
    "variant_out_of_stock": (
        "「{product.name}」{variant.options_text}：暂时缺货（{currency}{variant.price}）。",
        "{product.name_en} {variant.options_text}: out of stock at the moment "
        "({currency}{variant.price}).",
        "A variant is out of stock.",
    ),
    "product_summary": (
        "「{product.name}」共 {product.variant_count} 个规格，"
        "{product.in_stock_count} 个有货，价格 "
        "{currency}{product.min_price}–{currency}{product.max_price}。说一下想要的颜色、尺码等，我帮您查具体库存。",
        "{product.name_en} comes in {product.variant_count} variants, {product.in_stock_count} in "
        "stock, from {currency}{product.min_price} to {currency}{product.max_price}. Tell "
        "me the options you want and "
        "I'll check that one.",
        "Summarises a product when no variant was specified.",
    ),
    "similar_header": (
        "和「{product.name}」相近、目前有货的规格/商品：",
        "Similar options in stock for {product.name_en}:",
        "Heads a list of similar products in stock.",
    ),
    "similar_line": (
        "{index}. {name} {options_text} {currency}{price}",
        "{index}. {name_en} {options_text} {currency}{price}",
        "One similar product in stock.",
    ),
    "similar_none": (
        "抱歉，暂时没有和「{product.name}」相近的有货商品。",
        "Sorry, nothing similar to {product.name_en} is in stock right now.",
        "Nothing similar is in stock.",
    ),
    # flow control and repair
    "flow_cancelled": (
        "好的，{flow_title}先不办了。还有什么可以帮您？",
        "OK, I've stopped {flow_title}. Anything else I can help with?",
        "The customer cancelled the task in progress.",
    ),
    "nothing_to_cancel": (
        "好的。还有什么可以帮您？",
        "OK. Anything else I can help with?",
        "The customer said cancel with no task in progress.",
    ),
    "resume": (
        "我们继续刚才的{flow_title}：",
        "Back to {flow_title}:",
        "Resumes a task after a digression or an interrupting task.",
    ),
    "confirm_denied": (
        "好的，不做改动。还有什么可以帮您？",
        "OK, nothing changed. Anything else?",
        "The customer said no at a confirmation.",
    ),
    "confirm_unclear": (
        "请回复“是”确认，或“不是”取消。",
        "Please reply yes to confirm or no to stop.",
        "A confirmation was asked and the answer was neither yes nor no.",
    ),
    "handoff_validation": (
        "抱歉，我没能确认这些信息，这就为您转接人工客服。",
        "Sorry, I couldn't confirm those details. I'm passing you to a colleague.",
        "Handoff after a value was rejected too many times.",
    ),
    "handoff_step_cap": (
        "抱歉，处理出了点问题，这就为您转接人工客服。",
        "Sorry, something went wrong on my side. I'm passing you to a colleague.",
        "Handoff when a flow hits the step cap (a loop).",
    ),
    "operation_failed": (
        "抱歉，暂时查不到相关信息，请稍后再试或转人工。",
        "Sorry, I can't look that up right now. Please try again later or ask for a colleague.",
        "A read operation failed.",
    ),
    "which_one": (
        "您说的是哪一个？可以说“第1个”或直接发编号。",
        "Which one do you mean? Say 'the first one' or send the id.",
        "A reference (它 / that one) could not be resolved.",
    ),
    # documents
    "doc_answer": (
        "{answer}\n（来源：《{title}》{section}）",
        "{answer}\n(Source: {title}, {section})",
        "An extractive answer from a document, with its source.",
    ),
    "doc_unknown": (
        "抱歉，这个问题我在店铺资料里没有找到确切答案。需要的话可以为您转人工。",
        "Sorry, I don't know: I couldn't find that in the shop's documents. I can pass you to a "
        "colleague if you like.",
        'Nothing in the documents supports an answer ("I don\'t know").',
    ),
    # emotion
    "empathy": (
        "非常抱歉给您带来不好的体验，我来尽快帮您处理。",
        "I'm really sorry about this. Let me sort it out for you as quickly as I can.",
        "Said before the answer when the customer is upset.",
    ),
    "emotion_offer_human": (
        "如果您希望，我可以马上为您转接人工客服，回复“转人工”即可。",
        "If you'd prefer, I can pass you to a colleague right away: just say 'agent'.",
        "Offers a human when the customer's frustration crosses the tenant's threshold.",
    ),
    "handoff_emotion": (
        "非常抱歉让您着急了，我马上为您转接人工客服，请稍等。",
        "I'm sorry for the trouble. I'm passing you to a colleague right now.",
        "Hands off because the customer is very upset.",
    ),
}

DIALOGUE_TEMPLATES.update(L3_TEMPLATES)  # the write flows' templates (templates_l3.py)
