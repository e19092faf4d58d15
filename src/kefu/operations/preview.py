"""Previews: exactly what a write would change, computed without writing.

:func:`preview` asks the shop for a dry run (the write's own rule run on copies of the
documents read now, :meth:`~kefu.connectors.embedded_writes.EmbeddedShopDryRuns.dry_run`) and
lists the differences: the order's status, the items (old -> new, with prices), the address,
the money moved (payments and refunds with amounts and methods; ``when`` says whether the shop
books it now or when the return or exchange completes), gift-card balances, the order total,
and any other key the write sets (``cancel_reason``, ``return_items`` ...). A refusal found now
comes back as a refused preview (``refusal``), never raised.

A preview's :attr:`Preview.fingerprint` is a SHA-256 over the request and the current content
of every record the write reads or changes (the order, the customer's payment methods - or the
whole customer for a customer address change - and the new variants of an items change). The
confirmation names it; before writing, the records are read again and a different fingerprint
means the preview is stale (:mod:`kefu.operations.execute`).

The shop extensions (docs/shop-extensions.md) add to a preview: the freight before and after
(``freight``), the other orders of a combined write (``orders``: their status changes), the
payments a merge moves between orders (``transfers``, not money the customer pays or gets),
the coupon issued (``coupon``) and, in ``money``, the order each payment or refund is booked
on. Their fingerprints also cover the other orders, the freight table and the item weights,
or the coupon template (:mod:`kefu.operations.preview_extras`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Literal, Protocol

from kefu.connectors.embedded_writes import DryRun
from kefu.connectors.port import Address, money
from kefu.operations.requests import (
    ExchangeOrderItems,
    ModifyCustomerAddress,
    ModifyOrderItems,
    Request,
    ReturnOrderItems,
)

Doc = dict[str, Any]
CENT = Decimal("0.01")
# Keys of the order shown by their own fields, not in ``fields``.
_SHOWN = frozenset({"status", "items", "address", "payment_history"})


class PreviewableShop(Protocol):
    """A shop whose writes can be dry-run (the embedded shop)."""

    def dry_run(self, tenant: str, operation: str, arguments: Mapping[str, Any]) -> DryRun: ...


def cents(amount: Decimal) -> str:
    """An amount as text with two decimals (``12.340000000000003`` -> ``12.34``)."""
    return str(amount.quantize(CENT))


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message}


@dataclass(frozen=True, slots=True)
class ItemChange:
    """An item the write touches: swapped (``new_*`` set) or returned (``new_*`` None)."""

    name: str
    product_id: str
    item_id: str
    options: dict[str, str]
    price: Decimal
    new_item_id: str | None = None
    new_options: dict[str, str] | None = None
    new_price: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "product_id": self.product_id,
            "item_id": self.item_id,
            "options": self.options,
            "price": str(self.price),
            "new_item_id": self.new_item_id,
            "new_options": self.new_options,
            "new_price": None if self.new_price is None else str(self.new_price),
        }


@dataclass(frozen=True, slots=True)
class MoneyMove:
    """A payment or refund: ``when`` ``now`` (booked in the order's payment history by the
    write) or ``on_completion`` (when the shop completes the return or exchange)."""

    kind: Literal["payment", "refund"]
    amount: Decimal
    payment_method_id: str
    source: str
    when: Literal["now", "on_completion"] = "now"
    brand: str | None = None
    last_four: str | None = None
    order_id: str | None = None  # the order it is booked on (shop extensions' writes)
    what: str | None = None  # "freight" or "refund" (shop extensions' writes)

    def to_dict(self) -> dict[str, Any]:
        doc = {
            "kind": self.kind,
            "amount": str(self.amount),
            "payment_method_id": self.payment_method_id,
            "source": self.source,
            "brand": self.brand,
            "last_four": self.last_four,
            "when": self.when,
        }
        if self.order_id is not None:
            doc["order_id"] = self.order_id
        if self.what is not None:
            doc["what"] = self.what
        return doc


@dataclass(frozen=True, slots=True)
class Transfer:
    """A payment a merge moves from a cancelled order to the merged one (no money moves)."""

    from_order_id: str
    to_order_id: str
    amount: Decimal
    payment_method_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "from_order_id": self.from_order_id,
            "to_order_id": self.to_order_id,
            "amount": str(self.amount),
            "payment_method_id": self.payment_method_id,
        }


@dataclass(frozen=True, slots=True)
class OrderChange:
    """Another order a combined write changes: its status before and after, its item total
    before and after."""

    order_id: str
    status: tuple[str, str]
    total: tuple[Decimal, Decimal]

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "status": list(self.status),
            "total": [str(t) for t in self.total],
        }


@dataclass(frozen=True, slots=True)
class CouponGrant:
    """The coupon an ``issue_coupon`` gives."""

    coupon_id: str
    template_id: str
    name: str
    kind: str  # amount | percentage
    value: Decimal
    max_value: Decimal
    min_spend: Decimal
    valid_until: str
    face_value: Decimal  # the most it is worth: what the approval threshold compares

    def to_dict(self) -> dict[str, Any]:
        return {
            "coupon_id": self.coupon_id,
            "template_id": self.template_id,
            "name": self.name,
            "kind": self.kind,
            "value": str(self.value),
            "max_value": str(self.max_value),
            "min_spend": str(self.min_spend),
            "valid_until": self.valid_until,
            "face_value": str(self.face_value),
        }


@dataclass(frozen=True, slots=True)
class BalanceChange:
    payment_method_id: str
    before: Decimal
    after: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "payment_method_id": self.payment_method_id,
            "before": str(self.before),
            "after": str(self.after),
        }


@dataclass(frozen=True, slots=True)
class Preview:
    """What one write would change now. ``refusal`` set: the write would be refused (nothing
    else is listed). ``needs_approval`` holds the approval policy's reasons, when the
    operations service found any (see :mod:`kefu.operations.policy`)."""

    tenant: str
    request: Request
    customer_id: str
    fingerprint: str
    refusal: Refusal | None = None
    status: tuple[str, str] | None = None
    items: tuple[ItemChange, ...] = ()
    address: tuple[Address, Address] | None = None
    money: tuple[MoneyMove, ...] = ()
    gift_cards: tuple[BalanceChange, ...] = ()
    total: tuple[Decimal, Decimal] | None = None
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    before: dict[str, Doc] = field(default_factory=dict)
    after: dict[str, Doc] = field(default_factory=dict)
    needs_approval: tuple[str, ...] = ()
    conversation_id: str | None = None
    ledger_id: int | None = None
    freight: tuple[Decimal, Decimal] | None = None
    orders: tuple[OrderChange, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    coupon: CouponGrant | None = None

    @property
    def operation(self) -> str:
        return self.request.name

    @property
    def ok(self) -> bool:
        return self.refusal is None

    @property
    def amount(self) -> Decimal:
        """The money the write moves: the larger of its payments and its refunds in total, or
        the face value of the coupon it issues. (A merge's transfers move no money.)"""
        paid = sum((m.amount for m in self.money if m.kind == "payment"), Decimal(0))
        refunded = sum((m.amount for m in self.money if m.kind == "refund"), Decimal(0))
        coupon = Decimal(0) if self.coupon is None else self.coupon.face_value
        return max(paid, refunded, coupon)

    def with_(self, **changes: Any) -> Preview:
        return replace(self, **changes)

    def summary(self, language: str = "zh", currency: str = "") -> str:
        """The preview as the customer reads it (``zh`` or ``en``); amounts with 2 decimals,
        after ``currency`` (``¥``, ``$``, or nothing)."""
        from kefu.operations.wording import preview_text

        return preview_text(self, language, currency)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "operation": self.operation,
            "arguments": self.request.to_args(),
            "customer_id": self.customer_id,
            "fingerprint": self.fingerprint,
            "refusal": None if self.refusal is None else self.refusal.to_dict(),
            "status": None if self.status is None else list(self.status),
            "items": [i.to_dict() for i in self.items],
            "address": None
            if self.address is None
            else [self.address[0].one_line(), self.address[1].one_line()],
            "money": [m.to_dict() for m in self.money],
            "gift_cards": [g.to_dict() for g in self.gift_cards],
            "total": None if self.total is None else [str(t) for t in self.total],
            "amount": str(self.amount),
            "fields": {k: list(v) for k, v in self.fields.items()},
            "needs_approval": list(self.needs_approval),
            **self._extras_dict(),
        }

    def _extras_dict(self) -> dict[str, Any]:
        """The shop extensions' parts, when there are any (tau's previews are unchanged)."""
        doc: dict[str, Any] = {}
        if self.freight is not None:
            doc["freight"] = [str(f) for f in self.freight]
        if self.orders:
            doc["orders"] = [o.to_dict() for o in self.orders]
        if self.transfers:
            doc["transfers"] = [t.to_dict() for t in self.transfers]
        if self.coupon is not None:
            doc["coupon"] = self.coupon.to_dict()
        return doc


# --- building a preview from a dry run -------------------------------------------------------


def fingerprint(tenant: str, request: Request, run: DryRun) -> str:
    """SHA-256 (hex) of the request and the records it reads or changes, as they are now."""
    body = {
        "v": 1,
        "tenant": tenant,
        "operation": request.name,
        "arguments": request.to_args(),
        "records": read_set(request, run),
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(hashlib.sha256(text.encode("utf-8")).hexdigest())


def read_set(request: Request, run: DryRun) -> Doc:
    """The content the fingerprint covers."""
    from kefu.connectors.embedded_extras import ExtrasDryRun

    if isinstance(run, ExtrasDryRun):
        from kefu.operations.preview_extras import extras_read_set

        return extras_read_set(request, run)
    records: Doc = {}
    if isinstance(request, ModifyCustomerAddress):
        records["customer"] = run.customer_before
        return records
    records["order"] = run.order_before
    records["payment_methods"] = run.customer_before.get("payment_methods")
    if isinstance(request, ModifyOrderItems | ExchangeOrderItems) and run.order_before:
        variants: Doc = {}
        for item_id, new_item_id in zip(request.item_ids, request.new_item_ids, strict=False):
            item = _find_item(run.order_before, item_id)
            if item is not None:
                product = run.products.get(item["product_id"]) or {}
                variants[new_item_id] = (product.get("variants") or {}).get(new_item_id)
        records["variants"] = variants
    return records


def preview(shop: PreviewableShop, tenant: str, request: Request) -> Preview:
    """What ``request`` would change now (nothing is written). Raises what the shop raises for
    unknown tenants, orders and customers; a refusal is returned in the preview."""
    run = shop.dry_run(tenant, request.name, request.dry_run_args())
    return from_dry_run(tenant, request, run)


def from_dry_run(tenant: str, request: Request, run: DryRun) -> Preview:
    from kefu.connectors.embedded_extras import ExtrasDryRun

    if isinstance(run, ExtrasDryRun):
        from kefu.operations.preview_extras import extras_preview

        return extras_preview(tenant, request, run)
    base = Preview(
        tenant=tenant,
        request=request,
        customer_id=run.customer_id,
        fingerprint=fingerprint(tenant, request, run),
        before=records(run, after=False),
    )
    if run.refusal is not None:
        return base.with_(refusal=Refusal(run.refusal.reason, run.refusal.message))
    base = base.with_(after=records(run, after=True))
    if run.order_before is None or run.order_after is None:  # customer address
        return base.with_(
            address=(
                Address.from_tau(run.customer_before["address"]),
                Address.from_tau(run.customer_after["address"]),
            )
        )
    old, new = run.order_before, run.order_after
    methods: Doc = run.customer_before.get("payment_methods") or {}
    changes: dict[str, Any] = {
        "items": _items(request, run),
        "money": _money(request, run, methods),
        "gift_cards": _balances(run),
        "fields": {
            k: (old.get(k), new.get(k))
            for k in dict.fromkeys([*old, *new])
            if k not in _SHOWN and old.get(k) != new.get(k)
        },
    }
    if old["status"] != new["status"]:
        changes["status"] = (old["status"], new["status"])
    if old["address"] != new["address"]:
        changes["address"] = (Address.from_tau(old["address"]), Address.from_tau(new["address"]))
    before_total, after_total = _total(old), _total(new)
    changes["total"] = (before_total, after_total)
    return base.with_(**changes)


def records(run: DryRun, *, after: bool) -> dict[str, Doc]:
    """The records a write touches, as they are now (or would be after it)."""
    from kefu.connectors.embedded_extras import ExtrasDryRun

    found: dict[str, Doc] = {}
    order = run.order_after if after else run.order_before
    if order is not None:
        found["order"] = order
    found["customer"] = run.customer_after if after else run.customer_before
    if isinstance(run, ExtrasDryRun) and run.others_before:
        found["orders"] = run.others_after if after else run.others_before
    return found


def _total(order: Doc) -> Decimal:
    return sum((money(i["price"]) for i in order["items"]), Decimal(0))


def _find_item(order: Doc, item_id: str) -> Doc | None:
    return next((i for i in order["items"] if i["item_id"] == item_id), None)


def _items(request: Request, run: DryRun) -> tuple[ItemChange, ...]:
    order = run.order_before or {}
    if isinstance(request, ReturnOrderItems):
        return tuple(
            ItemChange(
                name=item["name"],
                product_id=item["product_id"],
                item_id=item["item_id"],
                options={str(k): str(v) for k, v in item["options"].items()},
                price=money(item["price"]),
            )
            for item_id in request.item_ids
            if (item := _find_item(order, item_id)) is not None
        )
    if not isinstance(request, ModifyOrderItems | ExchangeOrderItems):
        return ()
    changes = []
    for item_id, new_item_id in zip(request.item_ids, request.new_item_ids, strict=True):
        item = _find_item(order, item_id)
        if item is None:  # pragma: no cover - the rule refused already
            continue
        variant = run.products[item["product_id"]]["variants"][new_item_id]
        changes.append(
            ItemChange(
                name=item["name"],
                product_id=item["product_id"],
                item_id=item_id,
                options={str(k): str(v) for k, v in item["options"].items()},
                price=money(item["price"]),
                new_item_id=new_item_id,
                new_options={str(k): str(v) for k, v in variant["options"].items()},
                new_price=money(variant["price"]),
            )
        )
    return tuple(changes)


def _move(
    kind: Literal["payment", "refund"],
    amount: Any,
    method_id: str,
    methods: Doc,
    when: Literal["now", "on_completion"] = "now",
) -> MoneyMove:
    method = methods.get(method_id) or {}
    source = method.get("source") or next(
        (s for s in ("gift_card", "credit_card", "paypal") if s in method_id), "unknown"
    )
    return MoneyMove(
        kind=kind,
        amount=money(amount),
        payment_method_id=method_id,
        source=str(source),
        when=when,
        brand=method.get("brand"),
        last_four=method.get("last_four"),
    )


def _money(request: Request, run: DryRun, methods: Doc) -> tuple[MoneyMove, ...]:
    old, new = run.order_before or {}, run.order_after or {}
    moves = [
        _move(p["transaction_type"], p["amount"], p["payment_method_id"], methods)
        for p in new["payment_history"][len(old["payment_history"]) :]
    ]
    if isinstance(request, ReturnOrderItems):
        refund = sum((i.price for i in _items(request, run)), Decimal(0))
        moves.append(_move("refund", refund, request.payment_method_id, methods, "on_completion"))
    elif isinstance(request, ExchangeOrderItems):
        difference = money(new["exchange_price_difference"])
        if difference:
            kind: Literal["payment", "refund"] = "payment" if difference > 0 else "refund"
            moves.append(
                _move(kind, abs(difference), request.payment_method_id, methods, "on_completion")
            )
    return tuple(moves)


def _balances(run: DryRun) -> tuple[BalanceChange, ...]:
    old = run.customer_before.get("payment_methods") or {}
    new = run.customer_after.get("payment_methods") or {}
    changes = []
    for method_id, method in old.items():
        after = (new.get(method_id) or {}).get("balance")
        if "balance" in method and after is not None and after != method["balance"]:
            changes.append(BalanceChange(method_id, money(method["balance"]), money(after)))
    return tuple(changes)
