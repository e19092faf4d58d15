"""The customer's text of previews and outcomes, in Chinese and English.

Plain code, no templates: the lines list exactly the preview's changes, amounts with two
decimals (``cents``). A language other than ``zh`` reads English.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kefu.operations.preview import MoneyMove, cents

if TYPE_CHECKING:
    from kefu.operations.execute import Outcome
    from kefu.operations.preview import Preview

_TITLES = {
    "cancel_order": ("取消订单", "Cancel order"),
    "modify_order_address": ("修改订单收货地址", "Change the shipping address of order"),
    "modify_customer_address": ("修改默认地址", "Change the default address of"),
    "modify_order_items": ("更换订单商品", "Change items of order"),
    "modify_order_payment": ("更换订单支付方式", "Change the payment method of order"),
    "return_order_items": ("申请退货", "Return items of order"),
    "exchange_order_items": ("申请换货", "Exchange items of order"),
    "refund_order": ("部分退款", "Partial refund of order"),
    "refund_orders": ("合并退款", "Refunds on several orders, starting with"),
    "merge_orders": ("合并订单到", "Merge orders into"),
    "issue_coupon": ("发放优惠券给", "Issue a coupon to"),
}
_STATUS_ZH = {
    "pending": "待发货",
    "pending (item modified)": "待发货（已改商品）",
    "processed": "已发货",
    "delivered": "已签收",
    "cancelled": "已取消",
    "return requested": "退货申请中",
    "exchange requested": "换货申请中",
}
SOURCE_NAMES = {  # payment sources as customers read them (zh, en)
    "credit_card": ("信用卡", "credit card"),
    "gift_card": ("礼品卡", "gift card"),
    "paypal": ("PayPal", "PayPal"),
    "alipay": ("支付宝", "Alipay"),
    "wechat_pay": ("微信支付", "WeChat Pay"),
}
_REASONS_ZH = {
    "no longer needed": "不再需要",
    "ordered by mistake": "误下单",
    "merged": "已合并到其他订单",
    # refunds (RefundReason) and coupons (CouponReason)
    "price_protection": "价格保护（降价补差）",
    "missing_accessory": "少件或缺配件",
    "minor_defect": "轻微瑕疵",
    "late_delivery": "发货或物流延迟",
    "freight_adjustment": "运费多收退还",
    "delay_compensation": "延迟补偿",
    "quality_compensation": "质量问题补偿",
    "service_compensation": "服务补偿",
    "out_of_stock_compensation": "缺货补偿",
}
_REASONS_EN = {
    "price_protection": "price protection",
    "missing_accessory": "missing accessory",
    "minor_defect": "minor defect",
    "late_delivery": "late delivery",
    "freight_adjustment": "freight charged in excess",
    "delay_compensation": "compensation for a delay",
    "quality_compensation": "compensation for a quality problem",
    "service_compensation": "service compensation",
    "out_of_stock_compensation": "compensation for an item out of stock",
}
# The shop extensions' refusals in Chinese (tau's keep the shop's own wording).
_REFUSALS_ZH = {
    "order_not_refundable": "只有已发货或已签收的订单可以部分退款",
    "invalid_amount": "退款金额须大于 0，且精确到分",
    "amount_exceeds_refundable": "退款金额超过了该订单可退的金额",
    "refund_method_not_allowed": "退款只能退回原支付方式或礼品卡",
    "different_customers": "这些订单不属于同一位顾客",
    "duplicate_order": "同一个订单出现了两次",
    "too_few_orders": "至少需要两个订单才能合并",
    "no_delivery_to_region": "该地区暂不配送",
    "coupons_not_configured": "本店暂未设置优惠券",
    "unknown_coupon": "没有这种优惠券",
    "reason_not_allowed": "该优惠券不能以这个原因发放",
    "order_not_of_customer": "该订单不属于这位顾客",
    "coupon_limit_reached": "该顾客领取这种优惠券已达上限",
    "no_refunds": "没有指定退款",
}
_WHAT = {"freight": ("运费", "freight"), "refund": ("退款", "refund")}


def operation_title(operation: str, language: str) -> str:
    """What an operation is called, for the customer (the preview's title)."""
    titles = _TITLES.get(operation)
    if titles is None:
        return operation
    return titles[0 if _zh(language) else 1]


def _zh(language: str) -> bool:
    return language.lower().startswith("zh")


def _status(value: str, zh: bool) -> str:
    return _STATUS_ZH.get(value, value) if zh else value


def method_label(move: MoneyMove, zh: bool) -> str:
    names = SOURCE_NAMES.get(move.source, (move.source, move.source))
    label = names[0] if zh else names[1]
    if move.brand:
        label = f"{label} {move.brand}"
    if move.last_four:
        label += f" 尾号 {move.last_four}" if zh else f" ending {move.last_four}"
    return f"{label} ({move.payment_method_id})"


def refusal_text(reason: str, message: str, zh: bool) -> str:
    """A refusal as the customer reads it: the shop extensions' reasons in Chinese, else the
    shop's own message."""
    if zh and reason in _REFUSALS_ZH:
        return _REFUSALS_ZH[reason]
    return message


def _reason(text: str, zh: bool) -> str:
    return _REASONS_ZH.get(text, text) if zh else _REASONS_EN.get(text, text)


def _options(options: dict[str, str] | None) -> str:
    return ", ".join(f"{k}: {v}" for k, v in (options or {}).items())


def preview_text(preview: Preview, language: str, currency: str = "") -> str:
    zh = _zh(language)

    def amount(value: object) -> str:
        from decimal import Decimal

        assert isinstance(value, Decimal)
        return f"{currency}{cents(value)}"

    title = _TITLES[preview.operation][0 if zh else 1]
    lines = [f"{title} {preview.request.target}" + ("：" if zh else ":")]
    if preview.refusal is not None:
        text = refusal_text(preview.refusal.reason, preview.refusal.message, zh)
        lines.append(f"无法办理：{text}" if zh else f"Not possible: {text}")
        return "\n".join(lines)
    if preview.status is not None:
        old, new = preview.status
        label = "状态" if zh else "Status"
        lines.append(f"- {label}: {_status(old, zh)} -> {_status(new, zh)}")
    merge = preview.operation == "merge_orders"
    for other in preview.orders:
        old, new = other.status
        label = "订单" if zh else "Order"
        lines.append(f"- {label} {other.order_id}: {_status(old, zh)} -> {_status(new, zh)}")
    for change in preview.items:
        old_side = f"{change.name} ({_options(change.options)}) {amount(change.price)}"
        if change.new_item_id is None and merge:
            lines.append(f"- {'并入商品' if zh else 'Item moved in'}: {old_side}")
        elif change.new_item_id is None:
            lines.append(f"- {'退回' if zh else 'Return'}: {old_side}")
        else:
            assert change.new_price is not None
            new_side = f"{_options(change.new_options)} {amount(change.new_price)}"
            lines.append(f"- {'商品' if zh else 'Item'}: {old_side} -> {new_side}")
    if preview.address is not None:
        old_address, new_address = preview.address
        label = "地址" if zh else "Address"
        lines.append(f"- {label}: {old_address.one_line()} -> {new_address.one_line()}")
    reason = preview.fields.get("cancel_reason")
    if reason is not None:
        text = str(reason[1])
        lines.append(f"- 原因: {_REASONS_ZH.get(text, text)}" if zh else f"- Reason: {text}")
    request_reason = getattr(preview.request, "reason", None)
    if preview.operation in ("refund_order", "refund_orders", "issue_coupon") and request_reason:
        label = "原因" if zh else "Reason"
        lines.append(f"- {label}: {_reason(str(request_reason), zh)}")
    if preview.freight is not None:
        old_fee, new_fee = preview.freight
        difference = new_fee - old_fee
        if zh:
            lines.append(
                f"- 运费: 原运费 {amount(old_fee)}，新运费 {amount(new_fee)}，"
                f"差价 {amount(abs(difference))}"
                + ("（需补）" if difference > 0 else "（退还）" if difference < 0 else "")
            )
        else:
            lines.append(
                f"- Freight: was {amount(old_fee)}, now {amount(new_fee)}, difference "
                f"{amount(abs(difference))}"
                + (" (to pay)" if difference > 0 else " (refunded)" if difference < 0 else "")
            )
    for transfer in preview.transfers:
        lines.append(
            f"- 原订单 {transfer.from_order_id} 的付款 {amount(transfer.amount)} "
            f"({transfer.payment_method_id}) 转入 {transfer.to_order_id}"
            if zh
            else f"- Payment of {amount(transfer.amount)} ({transfer.payment_method_id}) moves "
            f"from {transfer.from_order_id} to {transfer.to_order_id}"
        )
    if preview.coupon is not None:
        lines.append(_coupon_line(preview, zh, amount))
    for move in preview.money:
        method = method_label(move, zh)
        later = move.when == "on_completion"
        what = _WHAT.get(move.what or "")
        on = f" [{move.order_id}]" if move.order_id and preview.operation == "refund_orders" else ""
        if zh:
            verb = "退款" if move.kind == "refund" else "支付"
            if what is not None and move.what == "freight":
                verb = "退运费" if move.kind == "refund" else "补运费"
            verb += on
            when = "（退换货完成后）" if later else ""
            to = "到" if move.kind == "refund" else "用"
            lines.append(f"- {verb} {amount(move.amount)} {to} {method}{when}")
        else:
            verb = "Refund" if move.kind == "refund" else "Pay"
            if move.what == "freight":
                verb += " freight"
            verb += on
            when = " (when the return or exchange completes)" if later else ""
            to = "to" if move.kind == "refund" else "with"
            lines.append(f"- {verb} {amount(move.amount)} {to} {method}{when}")
    for card in preview.gift_cards:
        label = "礼品卡余额" if zh else "Gift card balance"
        lines.append(
            f"- {label} ({card.payment_method_id}): {amount(card.before)} -> {amount(card.after)}"
        )
    if preview.total is not None and preview.total[0] != preview.total[1]:
        label = "订单商品合计" if zh else "Order total"
        lines.append(f"- {label}: {amount(preview.total[0])} -> {amount(preview.total[1])}")
    if preview.needs_approval:
        lines.append(
            "此操作需人工审核，确认后将提交审核，审核通过后办理。"
            if zh
            else "This needs a staff member's approval: once you confirm, it is queued and "
            "done when approved."
        )
    lines.append("请回复“确认”办理。" if zh else "Reply “confirm” to go ahead.")
    return "\n".join(lines)


def outcome_text(outcome: Outcome, language: str) -> str:
    zh = _zh(language)
    status = outcome.status
    if status == "executed":
        return "已办理完成。" if zh else "Done."
    if status == "awaiting_approval":
        return (
            "已提交人工审核，审核通过后为您办理，结果会通知您。"
            if zh
            else "Submitted for a staff member's approval; we will do it once approved and "
            "let you know."
        )
    if status == "rejected":
        return "该操作未通过人工审核。" if zh else "This was not approved by our staff."
    if outcome.refusal is not None and outcome.refusal.reason == "stale_preview":
        return (
            "订单信息刚刚发生了变化，请查看新的变更内容后重新确认。"
            if zh
            else "The order changed just now; please check the new preview and confirm again."
        )
    if outcome.refusal is not None:
        text = refusal_text(outcome.refusal.reason, outcome.refusal.message, zh)
        return f"无法办理：{text}" if zh else f"Not possible: {text}"
    if status == "unknown_outcome":
        return (
            "暂时无法确认是否已办理成功，我们正在核实，不会重复办理。"
            if zh
            else "We could not confirm whether it went through; we are checking, and it will "
            "not be applied twice."
        )
    if status == "confirmed":
        return "正在办理中，请稍候。" if zh else "In progress; please wait a moment."
    return (
        "办理时出现问题，已记录，客服会跟进。"
        if zh
        else "Something went wrong; it is recorded and our staff will follow up."
    )


def _coupon_line(preview: Preview, zh: bool, amount: Callable[[object], str]) -> str:
    coupon = preview.coupon
    assert coupon is not None
    spend = amount(coupon.min_spend)
    if coupon.kind == "amount":
        worth = f"满 {spend} 减 {amount(coupon.value)}" if zh else f"{amount(coupon.value)} off"
        if not zh and coupon.min_spend:
            worth += f" orders of {spend} or more"
    else:
        percent = f"{coupon.value.normalize():f}"
        worth = (
            f"满 {spend} 减 {percent}%，最多减 {amount(coupon.max_value)}"
            if zh
            else f"{percent}% off orders of {spend} or more, at most {amount(coupon.max_value)}"
        )
    if zh:
        return f"- 优惠券: {coupon.name}（{worth}），有效期至 {coupon.valid_until}"
    return f"- Coupon: {coupon.name} ({worth}), valid until {coupon.valid_until}"
