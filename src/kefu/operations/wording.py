"""The customer's text of previews and outcomes, in Chinese and English.

Plain code, no templates: the lines list exactly the preview's changes, amounts with two
decimals (``cents``). A language other than ``zh`` reads English.
"""

from __future__ import annotations

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
_SOURCE = {
    "credit_card": ("信用卡", "credit card"),
    "gift_card": ("礼品卡", "gift card"),
    "paypal": ("PayPal", "PayPal"),
    "alipay": ("支付宝", "Alipay"),
    "wechat_pay": ("微信支付", "WeChat Pay"),
}
_REASONS_ZH = {
    "no longer needed": "不再需要",
    "ordered by mistake": "误下单",
}


def _zh(language: str) -> bool:
    return language.lower().startswith("zh")


def _status(value: str, zh: bool) -> str:
    return _STATUS_ZH.get(value, value) if zh else value


def method_label(move: MoneyMove, zh: bool) -> str:
    names = _SOURCE.get(move.source, (move.source, move.source))
    label = names[0] if zh else names[1]
    if move.brand:
        label = f"{label} {move.brand}"
    if move.last_four:
        label += f" 尾号 {move.last_four}" if zh else f" ending {move.last_four}"
    return f"{label} ({move.payment_method_id})"


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
        lines.append(
            f"无法办理：{preview.refusal.message}"
            if zh
            else f"Not possible: {preview.refusal.message}"
        )
        return "\n".join(lines)
    if preview.status is not None:
        old, new = preview.status
        label = "状态" if zh else "Status"
        lines.append(f"- {label}: {_status(old, zh)} -> {_status(new, zh)}")
    for change in preview.items:
        old_side = f"{change.name} ({_options(change.options)}) {amount(change.price)}"
        if change.new_item_id is None:
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
    for move in preview.money:
        method = method_label(move, zh)
        later = move.when == "on_completion"
        if zh:
            verb = "退款" if move.kind == "refund" else "支付"
            when = "（退换货完成后）" if later else ""
            to = "到" if move.kind == "refund" else "用"
            lines.append(f"- {verb} {amount(move.amount)} {to} {method}{when}")
        else:
            verb = "Refund" if move.kind == "refund" else "Pay"
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
        return (
            f"无法办理：{outcome.refusal.message}"
            if zh
            else f"Not possible: {outcome.refusal.message}"
        )
    if status == "confirmed":
        return "正在办理中，请稍候。" if zh else "In progress; please wait a moment."
    return (
        "办理时出现问题，已记录，客服会跟进。"
        if zh
        else "Something went wrong; it is recorded and our staff will follow up."
    )
