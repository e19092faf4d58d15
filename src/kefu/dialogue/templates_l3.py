"""The brand-voice templates of the L3 write flows (zh and en), part of the 话术库.

Merged into :data:`kefu.dialogue.templates.DIALOGUE_TEMPLATES`, so each is a tenant setting
``template.NAME`` like the others. The previews themselves are not templates: they list exactly
what changes, with amounts, in plain code (:mod:`kefu.operations.wording`), so a rewritten
template can never misstate an amount.
"""

from __future__ import annotations

# name: (zh, en, help)
L3_TEMPLATES: dict[str, tuple[str, str, str]] = {
    # asking for what a write needs
    "ask_cancel_order_id": (
        "请问要取消哪个订单？请发订单号（如 #D1234567），或告诉我订单里的商品。",
        "Which order would you like to cancel? Please send the order id (e.g. #W1234567) or "
        "tell me an item in it.",
        "Asks which order to cancel.",
    ),
    "ask_cancel_reason": (
        "请问取消的原因是：1. 不再需要 2. 买错了？",
        "What is the reason for cancelling: 1. no longer needed, or 2. ordered by mistake?",
        "Asks for the cancellation reason (the shop accepts these two).",
    ),
    "ask_write_order_id": (
        "请问是哪个订单？请发订单号，或告诉我订单里的商品。",
        "Which order is it? Please send the order id, or tell me an item in it.",
        "Asks which order a change is for.",
    ),
    "ask_return_items": (
        "订单 {order.order_id} 里有：{order.lines}\n"
        "请问要退哪几件？可以说“第2件”、商品名或“全部”。",
        "Order {order.order_id} has: {order.lines}\nWhich item(s) would you like to return? Say "
        "'the second one', the product's name, or 'all'.",
        "Asks which items of the order to return.",
    ),
    "ask_exchange_item": (
        "订单 {order.order_id} 里有：{order.lines}\n请问要换哪一件？",
        "Order {order.order_id} has: {order.lines}\nWhich item would you like to swap?",
        "Asks which item of the order to exchange or change.",
    ),
    "ask_new_item": (
        "想把「{item.name}」（{item.options_text}）换成什么款式？例如颜色、尺码等。",
        "What would you like instead of {item.name_en} ({item.options_text})? Tell me the "
        "options, e.g. colour or size.",
        "Asks which variant the customer wants instead.",
    ),
    "ask_new_address": (
        "请发新的收货地址（省市区 + 详细地址）。",
        "Please send the new address (street, city, state and zip code).",
        "Asks for the new shipping address.",
    ),
    "ask_payment_method": (
        "请问用哪种支付方式？您账户里有：{customer.methods}",
        "Which payment method should I use? On your account: {customer.methods_en}",
        "Asks for the payment method.",
    ),
    "ask_refund_method": (
        "退款原路退回，还是退到礼品卡？",
        "Should the refund go back to the original payment method, or to a gift card?",
        "Asks where a refund goes.",
    ),
    "ask_merge_orders": (
        "要合并哪几个待发货的订单？请发订单号，或说“全部待发货的”。",
        "Which pending orders should I merge? Send their ids, or say 'all pending ones'.",
        "Asks which orders to merge.",
    ),
    "ask_price_item": (
        "订单 {order.order_id} 里有：{order.lines}\n是哪一件降价了？",
        "Order {order.order_id} has: {order.lines}\nWhich item's price dropped?",
        "Asks which item of the order a price adjustment is for.",
    ),
    "price_no_drop": (
        "「{diff.name}」现在的价格是 {currency}{diff.now}，不低于您购买时的 {currency}{diff.paid}，"
        "没有差价可退。",
        "{diff.name} costs {currency}{diff.now} now, not less than the {currency}{diff.paid} you "
        "paid, so there is no difference to refund.",
        "Price protection: the price did not drop.",
    ),
    "price_expired": (
        "价保期为下单后 {diff.days} 天，这个订单已经超过价保期了。",
        "Price protection lasts {diff.days} days from the order; this order is past that.",
        "Price protection: the order is older than price_protection_days.",
    ),
    "price_status": (
        "订单发货后才能申请价保退差价，待发货的订单可以取消后按新价格重新下单。",
        "A price adjustment is possible once the order has shipped; a pending order can be "
        "cancelled and placed again at the new price.",
        "Price protection: the order has not shipped.",
    ),
    "price_off": (
        "抱歉，本店暂不支持价保退差价。",
        "Sorry, this shop does not offer price adjustments.",
        "Price protection is turned off (price_protection_days 0).",
    ),
    "delay_not_late": (
        "订单下单 {delay.days} 天，还在承诺的 {delay.promise_days} 天送达时间内，请再耐心等一等；"
        "超时未到可以再来找我申请补偿。",
        "The order was placed {delay.days} day(s) ago, within the {delay.promise_days} days we "
        "promise; if it is later than that, ask me again for compensation.",
        "Delay compensation: the order is not late.",
    ),
    "delay_off": (
        "抱歉，本店暂不提供延迟补偿，我可以为您转人工。",
        "Sorry, this shop does not offer delay compensation; I can pass you to a colleague.",
        "Delay compensation is turned off (delivery_promise_days 0).",
    ),
    "delay_cancelled": (
        "这个订单已经取消了，不能申请延迟补偿。",
        "That order was cancelled, so there is no delay compensation for it.",
        "Delay compensation: the order is cancelled.",
    ),
    "delay_no_coupon": (
        "订单确实超时了，非常抱歉。本店没有设置补偿券，我为您转人工处理。",
        "The order is indeed late, I'm sorry. The shop has no compensation coupon set up; a "
        "colleague can help.",
        "Delay compensation: late, but the shop has no coupon template for it.",
    ),
    # invalid values
    "invalid_order_ambiguous": (
        "您有几个订单都有这件商品：{choices}。是哪一个？",
        "Several of your orders have that item: {choices}. Which one?",
        "The product named is in several of the customer's orders.",
    ),
    "invalid_order_with_missing": (
        "您的订单里没有找到「{text}」。",
        "I couldn't find {text} in your orders.",
        "No order of the customer holds the product named.",
    ),
    "invalid_merge_too_few": (
        "合并至少需要两个待发货的订单。您待发货的订单：{pending}",
        "Merging needs at least two pending orders. Your pending orders: {pending}",
        "Fewer than two orders were named for a merge.",
    ),
    "invalid_variant_missing": (
        "这款商品没有您说的款式。",
        "That product doesn't come in that option.",
        "No variant of the product has the options named.",
    ),
    "invalid_variant_unavailable": (
        "您要的款式（{options}）暂时缺货。",
        "The option you want ({options}) is out of stock right now.",
        "The variant named exists but is not available.",
    ),
    "invalid_variant_ambiguous": (
        "有几个款式符合：{choices}。请说得再具体一点。",
        "Several options fit: {choices}. Please be more specific.",
        "Several available variants fit what was said.",
    ),
    "invalid_payment_not_found": (
        "没有找到这个支付方式。您账户里有：{methods}",
        "I couldn't find that payment method. On your account: {methods_en}",
        "The payment method named is not on the customer's account.",
    ),
    "invalid_payment_ambiguous": (
        "您有几个这样的支付方式：{methods}。请说卡号后四位。",
        "You have several of those: {methods_en}. Please tell me the last four digits.",
        "Several payment methods fit.",
    ),
    "invalid_address_incomplete": (
        "地址不完整，需要省市区和详细地址。",
        "That address is incomplete: I need the street, city, state and zip code.",
        "The new address misses a part.",
    ),
    "invalid_cancel_reason": (
        "取消原因只能是“不再需要”或“买错了”。",
        "The reason must be 'no longer needed' or 'ordered by mistake'.",
        "The cancellation reason is not one the shop accepts.",
    ),
    "identified_next": (
        "请问需要办理什么？比如取消订单、退货、换货、改地址。",
        "What can I do for you? For example cancel an order, return or exchange an item, or "
        "change an address.",
        "Asked after a customer identified themselves without a task in progress.",
    ),
    "acknowledged": (
        "好的。还有什么可以帮您？",
        "OK. Anything else I can help with?",
        "A yes with nothing waiting for one (e.g. 确认 again after a task ended).",
    ),
    # the confirmation and the outcome
    "confirm_write": (
        "{preview.text}",
        "{preview.text}",
        "Shows the preview of a write (exactly what changes, with amounts) and asks for a yes.",
    ),
    "write_executed": (
        "已为您办理完成：{what}。",
        "Done: {what}.",
        "A confirmed write was executed.",
    ),
    "write_awaiting_approval": (
        "该操作需要人工审核，已提交，审核通过后为您办理，结果会通知您。",
        "This needs a staff member's approval: it is submitted and will be done once approved; "
        "we'll let you know.",
        "A confirmed write went to the approval queue (high risk).",
    ),
    "write_unknown_outcome": (
        "系统暂时没能确认是否办理成功，我们正在核实，不会重复办理，结果会通知您。",
        "I couldn't confirm whether that went through. We are checking, it will not be done "
        "twice, and we'll let you know.",
        "The shop did not answer a write: its outcome is unknown until reconciled.",
    ),
    "write_failed": (
        "抱歉，办理没有成功，没有做任何改动。已记录，客服会跟进。",
        "Sorry, that didn't go through and nothing was changed. It's recorded and a colleague "
        "will follow up.",
        "A write failed with nothing written.",
    ),
    "write_rejected": (
        "该操作未通过人工审核，没有做任何改动。",
        "This was not approved by our staff; nothing was changed.",
        "A queued write was rejected.",
    ),
    "write_confirmed": (
        "正在办理中，请稍候。",
        "It's being processed; please wait a moment.",
        "Another request with the same confirmation is still running.",
    ),
    "write_stale": (
        "订单信息刚刚有变化，以下是最新的变更内容：",
        "The order changed just now; here is the updated change:",
        "The records changed after the preview: a new preview follows.",
    ),
    # refusals by the shop's rules
    "write_refused": (
        "抱歉，无法办理：{message}",
        "Sorry, that isn't possible: {message}",
        "The shop refused a write (a reason without its own template).",
    ),
    "write_refused_order_not_pending": (
        "抱歉，该订单已发货或已处理，不能再取消或修改。如需帮助可以转人工。",
        "Sorry, that order has already been processed, so it can't be cancelled or changed any "
        "more. I can pass you to a colleague if you need help.",
        "The order is not pending (cancel or modify refused).",
    ),
    "write_refused_order_not_delivered": (
        "抱歉，订单签收后才能申请退换货。",
        "Sorry, returns and exchanges are possible only once the order is delivered.",
        "The order is not delivered (return or exchange refused).",
    ),
    "write_refused_refund_method_not_allowed": (
        "抱歉，退款只能原路退回或退到礼品卡。",
        "Sorry, a refund can only go to the original payment method or a gift card.",
        "The refund method is neither the original one nor a gift card.",
    ),
    "write_refused_insufficient_gift_card_balance": (
        "抱歉，礼品卡余额不足，请换一种支付方式。",
        "Sorry, the gift card balance isn't enough; please choose another payment method.",
        "A gift card cannot pay the amount due.",
    ),
    "write_refused_new_item_unavailable": (
        "抱歉，您要换的款式缺货了。",
        "Sorry, the item you want instead is out of stock.",
        "The new variant is not available.",
    ),
    "write_refused_same_payment_method": (
        "这个订单已经是用这个支付方式付的了。",
        "That order is already paid with that method.",
        "The new payment method is the current one.",
    ),
    "write_refused_payment_method_not_found": (
        "没有找到这个支付方式。",
        "I couldn't find that payment method on your account.",
        "The payment method is not the customer's.",
    ),
}
