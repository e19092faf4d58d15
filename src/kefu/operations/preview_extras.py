"""Previews of the shop extensions' writes (freight on an address change, partial and combined
refunds, merges, coupons) from their dry runs (:class:`ExtrasDryRun`).

The money is what the write's rule booked (``ExtrasDryRun.effects``), exact to the cent: each
payment or refund with its payment method and the order it is booked on; a merge's moves of
payments between orders are ``transfers``. The fingerprint covers the orders (the target and
the others), the customer's payment methods, and what the rule read from the rules document:
the freight table and the weights of the items (address changes, merges), or the coupon
template and the whole customer (coupons).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from kefu.connectors.embedded_extras import ExtrasDryRun
from kefu.connectors.port import Address, money
from kefu.operations.preview import (
    CouponGrant,
    ItemChange,
    MoneyMove,
    OrderChange,
    Preview,
    Refusal,
    Transfer,
    _balances,
    _move,
    _total,
    fingerprint,
    records,
)
from kefu.operations.requests import IssueCoupon, MergeOrders, ModifyOrderAddress, Request

Doc = dict[str, Any]
# Keys of an order shown by their own parts of the preview, not in ``fields``.
_SHOWN = frozenset({"status", "items", "address", "payment_history", "freight"})


def _weights(run: ExtrasDryRun) -> Doc:
    """The weights the freight of the orders' items is computed from (variant, product)."""
    weights: Doc = {}
    orders = [run.order_before or {}, *run.others_before.values()]
    for order in orders:
        for item in order.get("items", ()):
            product = run.products.get(item["product_id"]) or {}
            variant = (product.get("variants") or {}).get(item["item_id"]) or {}
            weights[item["item_id"]] = [variant.get("weight_kg"), product.get("weight_kg")]
    return weights


def extras_read_set(request: Request, run: ExtrasDryRun) -> Doc:
    """The content the fingerprint of a shop-extension write covers."""
    records_: Doc = {"payment_methods": run.customer_before.get("payment_methods")}
    if run.order_before is not None:
        records_["order"] = run.order_before
    if run.others_before:
        records_["orders"] = run.others_before
    rules = run.rules or {}
    if isinstance(request, ModifyOrderAddress | MergeOrders):
        records_["freight"] = rules.get("freight")
        records_["weights"] = _weights(run)
    if isinstance(request, IssueCoupon):
        records_["customer"] = run.customer_before
        records_["coupon"] = (rules.get("coupons") or {}).get(request.template_id)
    return records_


def _order_total(order: Doc) -> Decimal:
    return _total(order) if order.get("items") is not None else Decimal(0)


def _moves(run: ExtrasDryRun) -> tuple[tuple[MoneyMove, ...], tuple[Transfer, ...]]:
    methods: Doc = run.customer_before.get("payment_methods") or {}
    moves: list[MoneyMove] = []
    transfers: list[Transfer] = []
    for effect in run.effects:
        amount = Decimal(effect["amount"])
        if effect["kind"] == "transfer":
            transfers.append(
                Transfer(
                    effect["from_order_id"], effect["order_id"], amount, effect["payment_method_id"]
                )
            )
            continue
        kind: Literal["payment", "refund"] = "payment" if effect["kind"] == "payment" else "refund"
        move = _move(kind, amount, effect["payment_method_id"], methods)
        moves.append(
            MoneyMove(
                kind=move.kind,
                amount=move.amount,
                payment_method_id=move.payment_method_id,
                source=move.source,
                when="now",
                brand=move.brand,
                last_four=move.last_four,
                order_id=effect["order_id"],
                what=effect["what"],
            )
        )
    return tuple(moves), tuple(transfers)


def _moved_items(run: ExtrasDryRun) -> tuple[ItemChange, ...]:
    """A merge's items moved from the other orders (listed with their prices)."""
    return tuple(
        ItemChange(
            name=item["name"],
            product_id=item["product_id"],
            item_id=item["item_id"],
            options={str(k): str(v) for k, v in item["options"].items()},
            price=money(item["price"]),
        )
        for order in run.others_before.values()
        for item in order["items"]
    )


def _coupon(facts: Doc) -> CouponGrant | None:
    coupon = facts.get("coupon")
    if coupon is None:
        return None
    return CouponGrant(
        coupon_id=coupon["coupon_id"],
        template_id=coupon["template_id"],
        name=coupon["name"],
        kind=coupon["kind"],
        value=money(coupon["value"]),
        max_value=money(coupon["max_value"]),
        min_spend=money(coupon["min_spend"]),
        valid_until=coupon["valid_until"],
        face_value=Decimal(coupon["face_value"]),
    )


def extras_preview(tenant: str, request: Request, run: ExtrasDryRun) -> Preview:
    base = Preview(
        tenant=tenant,
        request=request,
        customer_id=run.customer_id,
        fingerprint=fingerprint(tenant, request, run),
        before=records(run, after=False),
    )
    if run.refusal is not None:
        return base.with_(refusal=Refusal(run.refusal.reason, run.refusal.message))
    moves, transfers = _moves(run)
    changes: dict[str, Any] = {
        "after": records(run, after=True),
        "money": moves,
        "transfers": transfers,
        "gift_cards": _balances(run),
        "coupon": _coupon(run.facts),
    }
    freight = run.facts.get("freight")
    if freight is not None:
        changes["freight"] = (Decimal(freight["before"]), Decimal(freight["after"]))
    old, new = run.order_before, run.order_after
    if old is not None and new is not None:
        if old["status"] != new["status"]:
            changes["status"] = (old["status"], new["status"])
        if old["address"] != new["address"]:
            changes["address"] = (
                Address.from_tau(old["address"]),
                Address.from_tau(new["address"]),
            )
        changes["total"] = (_order_total(old), _order_total(new))
        changes["fields"] = {
            k: (old.get(k), new.get(k))
            for k in dict.fromkeys([*old, *new])
            if k not in _SHOWN and old.get(k) != new.get(k)
        }
    if isinstance(request, MergeOrders):
        changes["items"] = _moved_items(run)
    changes["orders"] = tuple(
        OrderChange(
            order_id=order_id,
            status=(before["status"], run.others_after[order_id]["status"]),
            total=(_order_total(before), _order_total(run.others_after[order_id])),
        )
        for order_id, before in run.others_before.items()
    )
    return base.with_(**changes)
