"""Ticket rules, by code (no model): classification, routing, SLA and the status workflow.

Kept apart from :mod:`kefu.humans.tickets` (storage and side effects) so the rules read in
one place and are tested without a database. Every rule is deterministic: the same ticket
gets the same category, priority, queue and due times on every run, and the docs
(docs/tickets.md) list them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kefu.errors import ConflictError, InvalidInputError
from kefu.humans.ticket_settings import DEFAULT_SLA

SOURCES = (
    "handoff_after_hours",
    "operation_failed",
    "operation_unknown",
    "approval",
    "complaint",
    "manual",
)
CATEGORIES = (
    "logistics",
    "returns_refunds",
    "payment",
    "order_change",
    "product",
    "account",
    "complaint",
    "other",
)
PRIORITIES = ("P1", "P2", "P3", "P4")  # P1 is the most urgent
STATUSES = ("open", "in_progress", "waiting_customer", "resolved", "closed")
ACTIVE = frozenset({"open", "in_progress", "waiting_customer"})
DEFAULT_QUEUE = "general"
AT_RISK_SHARE = 0.2  # under 20% of the window left: at_risk

# from -> the statuses it may go to (closed is final; resolved -> open is a reopen)
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "resolved"}),
    "in_progress": frozenset({"waiting_customer", "resolved"}),
    "waiting_customer": frozenset({"in_progress", "resolved"}),
    "resolved": frozenset({"closed", "open"}),
    "closed": frozenset(),
}

# Where a conversation's intent, flow or FAQ category points.
_BY_NAME: dict[str, str] = {
    # FAQ categories (the demo knowledge base's and common ones)
    "shipping": "logistics",
    "logistics": "logistics",
    "delivery": "logistics",
    "returns": "returns_refunds",
    "refunds": "returns_refunds",
    "after_sales": "returns_refunds",
    "payment": "payment",
    "invoices": "payment",
    "coupons": "payment",
    "promotions": "payment",
    "sizes": "product",
    "product": "product",
    "membership": "account",
    "account": "account",
    "privacy": "account",
    "complaint": "complaint",
    # built-in flows
    "order_status": "logistics",
    "track_shipment": "logistics",
    "delay_compensation": "logistics",
    "return_eligibility": "returns_refunds",
    "exchange_eligibility": "returns_refunds",
    "return_items": "returns_refunds",
    "exchange_items": "returns_refunds",
    "price_protection": "returns_refunds",
    "product_stock": "product",
    "similar_products": "product",
    "order_items": "order_change",
    "list_orders": "order_change",
    "cancel_order": "order_change",
    "modify_items": "order_change",
    "change_order_address": "order_change",
    "merge_orders": "order_change",
    "change_default_address": "account",
    "identify_me": "account",
    "change_payment": "payment",
    # operations (the ledger's names)
    "modify_order_address": "order_change",
    "modify_order_items": "order_change",
    "modify_order_payment": "payment",
    "modify_customer_address": "account",
    "return_order_items": "returns_refunds",
    "exchange_order_items": "returns_refunds",
    "refund_order": "returns_refunds",
    "refund_orders": "returns_refunds",
    "issue_coupon": "payment",
}

# Keywords (zh and en, lower case), checked in this order: the first category with a hit wins.
_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("complaint", ("投诉", "举报", "差评", "12315", "消协", "complain", "complaint")),
    (
        "returns_refunds",
        ("退货", "退款", "换货", "退钱", "售后", "refund", "return", "exchange"),
    ),
    (
        "payment",
        ("付款", "支付", "扣款", "扣费", "发票", "优惠券", "payment", "charged", "invoice", "pay"),
    ),
    (
        "logistics",
        (
            "物流",
            "快递",
            "发货",
            "配送",
            "运费",
            "没收到",
            "签收",
            "shipping",
            "delivery",
            "tracking",
            "parcel",
            "courier",
        ),
    ),
    (
        "order_change",
        (
            "改地址",
            "修改订单",
            "取消订单",
            "改订单",
            "合并订单",
            "cancel",
            "change my order",
            "modify",
            "address",
        ),
    ),
    ("product", ("质量", "尺码", "商品", "破损", "坏了", "quality", "size", "broken", "product")),
    ("account", ("账号", "账户", "会员", "密码", "登录", "account", "password", "login", "member")),
)

# A source's own priority before the other rules raise it.
_SOURCE_PRIORITY: dict[str, str] = {
    "operation_unknown": "P1",  # money may have moved: check the shop now
    "operation_failed": "P2",
    "approval": "P2",  # a customer waits on a human decision
    "complaint": "P2",
    "handoff_after_hours": "P3",
    "manual": "P3",
}


def check_source(source: str) -> str:
    if source not in SOURCES:
        raise InvalidInputError(
            f"source must be one of {', '.join(SOURCES)}, not {source!r}", field="source"
        )
    return source


def check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise InvalidInputError(
            f"category must be one of {', '.join(CATEGORIES)}, not {category!r}",
            field="category",
        )
    return category


def check_priority(priority: str) -> str:
    value = priority.strip().upper()
    if value not in PRIORITIES:
        raise InvalidInputError(
            f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}",
            field="priority",
        )
    return value


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidInputError(
            f"status must be one of {', '.join(STATUSES)}, not {status!r}", field="status"
        )
    return status


def check_transition(current: str, new: str) -> None:
    """Raise :class:`ConflictError` (409) naming both statuses unless the workflow allows
    ``current`` -> ``new``."""
    check_status(new)
    if new not in TRANSITIONS.get(current, frozenset()):
        allowed = sorted(TRANSITIONS.get(current, frozenset()))
        raise ConflictError(
            f"a ticket cannot go from {current} to {new}"
            + (f"; from {current} it may go to {', '.join(allowed)}" if allowed else ""),
            field="status",
            **{"from": current, "to": new, "allowed": allowed},
        )


def categorize(source: str, text: str, hints: Mapping[str, Any]) -> str:
    """The ticket's category: a complaint is a complaint; else the conversation's (or the
    operation's) intent, flow, FAQ category or operation name when one is known; else the
    first keyword family found in the subject and description; else ``other``."""
    if source == "complaint":
        return "complaint"
    for key in ("operation", "flow", "intent", "faq_category"):
        value = hints.get(key)
        if not isinstance(value, str) or not value:
            continue
        name = value.removeprefix("flow:")
        if name in _BY_NAME:
            return _BY_NAME[name]
        prefix = name.split("-", 1)[0]  # FAQ ids like ship-001
        if prefix in ("ship", "shipping"):
            return "logistics"
        if prefix in ("ret", "return", "refund"):
            return "returns_refunds"
        if prefix in ("pay", "payment"):
            return "payment"
    lowered = text.lower()
    for category, words in _KEYWORDS:
        if any(w in lowered for w in words):
            return category
    return "other"


def _raise(priority: str, levels: int = 1) -> str:
    return PRIORITIES[max(0, PRIORITIES.index(priority) - levels)]


def prioritize(
    source: str,
    *,
    emotion: Mapping[str, Any] | None,
    order_value: float | None,
    high_value: float,
) -> tuple[str, list[str]]:
    """The priority and the reasons for it: the source's own level (operation_unknown P1,
    operation_failed/approval/complaint P2, others P3), then raised to P1 for a negative
    customer with high anger (>= 0.7), to at least P2 for a negative one with anger >= 0.4
    or a score <= -0.6, and by one level for an order worth ``high_value`` or more."""
    priority = _SOURCE_PRIORITY.get(source, "P3")
    reasons = [f"source:{source}"]
    if emotion and emotion.get("label") == "negative":
        anger = float(emotion.get("anger") or 0.0)
        score = float(emotion.get("score") or 0.0)
        if anger >= 0.7:
            priority = "P1"
            reasons.append("emotion:angry")
        elif (anger >= 0.4 or score <= -0.6) and PRIORITIES.index(priority) > 1:
            priority = "P2"
            reasons.append("emotion:negative")
    if order_value is not None and high_value > 0 and order_value >= high_value:
        raised = _raise(priority)
        if raised != priority:
            reasons.append("order_value")
        priority = raised
    return priority, reasons


def route(category: str, routing: Mapping[str, Any]) -> str:
    """The queue (skill group) of a category per the tenant's ``tickets.routing``."""
    queue = routing.get(category, routing.get("*", DEFAULT_QUEUE))
    return str(queue) if isinstance(queue, str) and queue.strip() else DEFAULT_QUEUE


@dataclass(frozen=True, slots=True)
class SlaTargets:
    first_response: timedelta
    resolution: timedelta


def sla_targets(priority: str, table: Mapping[str, Any]) -> SlaTargets:
    """The windows of ``priority`` from the tenant's ``tickets.sla`` (defaults for anything
    missing or malformed)."""
    default = DEFAULT_SLA[priority]
    row = table.get(priority) if isinstance(table, Mapping) else None
    row = row if isinstance(row, Mapping) else {}

    def minutes(name: str) -> float:
        value = row.get(name, default[name])
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        return float(value) if ok else float(default[name])

    return SlaTargets(
        timedelta(minutes=minutes("first_response")), timedelta(minutes=minutes("resolution"))
    )


def sla_state(
    *,
    status: str,
    created_at: datetime,
    first_response_due_at: datetime,
    resolution_due_at: datetime,
    first_responded_at: datetime | None,
    breached_at: datetime | None,
    now: datetime,
) -> dict[str, Any]:
    """``{"state": ok|at_risk|breached, "target": first_response|resolution|None, "due_at",
    "remaining_s"}`` at ``now``: the running target is the first response until there is
    one, then resolution; at_risk when less than 20% of its window is left; breached once a
    breach was marked or the target is past. A resolved or closed ticket keeps its verdict
    (breached or ok) and has no running target."""
    if status not in ACTIVE:
        return {
            "state": "breached" if breached_at else "ok",
            "target": None,
            "due_at": None,
            "remaining_s": None,
        }
    if first_responded_at is None:
        target, due = "first_response", first_response_due_at
    else:
        target, due = "resolution", resolution_due_at
    window = max((due - created_at).total_seconds(), 1.0)
    remaining = (due - now).total_seconds()
    if breached_at is not None or remaining < 0:
        state = "breached"
    elif remaining < AT_RISK_SHARE * window:
        state = "at_risk"
    else:
        state = "ok"
    return {
        "state": state,
        "target": target,
        "due_at": due.isoformat(),
        "remaining_s": round(remaining),
    }
