"""Can this order (or some of its items) be returned or exchanged now?

Pure functions over the connector's domain objects: no database, no clock (``now`` is an
argument), no reply text. A refusal carries a machine reason code and its parameters; the
dialogue engine renders it through a template (``eligibility.window_expired`` ...).

Rules, checked in this order (the first that fails is the reason):

1. ``no_items`` - an empty selection of items.
2. ``item_not_in_order`` - an item id that the order does not hold (``item_ids``).
3. ``already_requested`` - the order already has a return or exchange request (``status``).
4. ``not_delivered`` - tau's rule: only delivered orders can be returned or exchanged
   (``status``).
5. ``delivery_date_unknown`` - the policy has a time window but the order has no
   ``delivered_at``.
6. ``window_expired`` - past the window (``delivered_at``, ``days``, ``deadline``).
7. ``not_returnable_category`` - an item of a product marked ``returnable: false`` (内衣、
   定制商品 ...) under a policy that honours the mark (``item_ids``, ``names``). A quality
   problem skips this rule and uses ``quality_window_days``.

:data:`TAU_POLICY` is tau-bench's (delivered only, no window); :data:`DEMO_POLICY` the Chinese
demo shop's (7-day no-reason returns and exchanges from delivery, 15 days for quality problems,
non-returnable products honoured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from kefu.connectors.port import Order, OrderStatus, Product


class Reason(StrEnum):
    NO_ITEMS = "no_items"
    ITEM_NOT_IN_ORDER = "item_not_in_order"
    ALREADY_REQUESTED = "already_requested"
    NOT_DELIVERED = "not_delivered"
    DELIVERY_DATE_UNKNOWN = "delivery_date_unknown"
    WINDOW_EXPIRED = "window_expired"
    NOT_RETURNABLE_CATEGORY = "not_returnable_category"


class Action(StrEnum):
    RETURN = "return"
    EXCHANGE = "exchange"


@dataclass(frozen=True, kw_only=True)
class AfterSalesPolicy:
    """Windows are days from delivery; None means no limit."""

    return_window_days: int | None = None  # no-reason returns (7天无理由退货)
    exchange_window_days: int | None = None
    quality_window_days: int | None = None  # returns and exchanges for a quality problem
    honour_non_returnable: bool = False  # products with "returnable": false


TAU_POLICY = AfterSalesPolicy()
DEMO_POLICY = AfterSalesPolicy(
    return_window_days=7,
    exchange_window_days=7,
    quality_window_days=15,
    honour_non_returnable=True,
)

_REQUESTED = frozenset({OrderStatus.RETURN_REQUESTED, OrderStatus.EXCHANGE_REQUESTED})


@dataclass(frozen=True, kw_only=True)
class Eligibility:
    action: Action
    order_id: str
    item_ids: tuple[str, ...]  # the items the decision is about
    eligible: bool
    reason: Reason | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    deadline: datetime | None = None  # last moment the request is allowed, when windowed

    def __bool__(self) -> bool:
        return self.eligible


def aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC (kefu's clock is naive UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _decide(
    action: Action,
    order: Order,
    now: datetime,
    item_ids: Sequence[str] | None,
    policy: AfterSalesPolicy,
    products: Mapping[str, Product] | None,
    quality_issue: bool,
) -> Eligibility:
    chosen = tuple(i.item_id for i in order.items) if item_ids is None else tuple(item_ids)

    def no(reason: Reason, **params: Any) -> Eligibility:
        return Eligibility(
            action=action,
            order_id=order.id,
            item_ids=chosen,
            eligible=False,
            reason=reason,
            params=params,
        )

    if not chosen:
        return no(Reason.NO_ITEMS)
    held = {i.item_id for i in order.items}
    missing = [i for i in chosen if i not in held]
    if missing:
        return no(Reason.ITEM_NOT_IN_ORDER, item_ids=missing)
    status = order.status.strip().lower()
    if status in _REQUESTED:
        return no(Reason.ALREADY_REQUESTED, status=order.status)
    if status != OrderStatus.DELIVERED:
        return no(Reason.NOT_DELIVERED, status=order.status)

    if quality_issue:
        days = policy.quality_window_days
    elif action is Action.RETURN:
        days = policy.return_window_days
    else:
        days = policy.exchange_window_days
    deadline: datetime | None = None
    if days is not None:
        if order.delivered_at is None:
            return no(Reason.DELIVERY_DATE_UNKNOWN, days=days)
        deadline = order.delivered_at + timedelta(days=days)
        if aware(now) > aware(deadline):
            return no(
                Reason.WINDOW_EXPIRED,
                delivered_at=order.delivered_at.isoformat(),
                days=days,
                deadline=deadline.isoformat(),
            )

    if policy.honour_non_returnable and not quality_issue and products is not None:
        blocked = [
            item
            for item in order.items
            if item.item_id in chosen
            and item.product_id in products
            and not products[item.product_id].returnable
        ]
        if blocked:
            return no(
                Reason.NOT_RETURNABLE_CATEGORY,
                item_ids=[i.item_id for i in blocked],
                names=[i.name for i in blocked],
            )
    return Eligibility(
        action=action, order_id=order.id, item_ids=chosen, eligible=True, deadline=deadline
    )


def return_eligibility(
    order: Order,
    now: datetime,
    *,
    item_ids: Sequence[str] | None = None,
    policy: AfterSalesPolicy = TAU_POLICY,
    products: Mapping[str, Product] | None = None,
    quality_issue: bool = False,
) -> Eligibility:
    """May ``item_ids`` (default: every item) of ``order`` be returned at ``now``?

    ``products`` (product id -> Product) is needed for the non-returnable rule; products
    missing from it count as returnable. ``quality_issue`` applies the quality window and
    ignores the non-returnable mark.
    """
    return _decide(Action.RETURN, order, now, item_ids, policy, products, quality_issue)


def exchange_eligibility(
    order: Order,
    now: datetime,
    *,
    item_ids: Sequence[str] | None = None,
    policy: AfterSalesPolicy = TAU_POLICY,
    products: Mapping[str, Product] | None = None,
    quality_issue: bool = False,
) -> Eligibility:
    """May ``item_ids`` (default: every item) of ``order`` be exchanged at ``now``? Same rules
    as :func:`return_eligibility` with the exchange window. Whether a replacement variant is
    available is checked when the exchange is previewed, not here."""
    return _decide(Action.EXCHANGE, order, now, item_ids, policy, products, quality_issue)
