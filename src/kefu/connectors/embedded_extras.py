"""Shop extensions of the embedded shop: freight, partial and combined refunds, merges, coupons.

These writes use the shop rules document (``shop_rules.json``, :mod:`embedded_extras_rules`):

- ``modify_order_address`` on a shop **with a freight table** recomputes the order's freight
  for the new address; a higher freight is charged to the order's original payment method, a
  lower one refunded to it (a ``payment_history`` entry; a gift card's balance changes at once),
  and the order's ``freight`` is set. On a shop without a freight table it is tau's write,
  unchanged (:mod:`embedded_writes`).
- ``refund_order``: part of a delivered or processed order refunded (reasons:
  :class:`~kefu.connectors.port.RefundReason`), at most what was paid minus what was refunded,
  to the original payment method or a gift card of the customer.
- ``refund_orders``: several such refunds on orders of one customer, all or nothing.
- ``merge_orders``: pending orders of one customer merged into the first (items and payments
  moved, the others cancelled with ``cancel_reason`` ``merged``), freight recomputed and the
  difference refunded to the original payment methods.
- ``issue_coupon``: a coupon of a template of the rules, stored on the customer document.

Money the new writes store is rounded to cents (a float with at most two decimals); the
arithmetic is Decimal. Each write is one transaction that locks its rows the way
:mod:`embedded_writes` does: the orders first, in sorted order of their ids, then the
customer, so two writes (single-order or combined) cannot deadlock. Product rows and the rules
document are read, not locked. ``dry_run`` and ``write`` dispatch on the operation name; the
dry runs are :class:`ExtrasDryRun`\\ s (a :class:`DryRun` with the other orders of a combined
write, the rules document read and the money effects the rule booked).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kefu.connectors.embedded_extras_rules import (
    FreightTable,
    ShopRules,
    cents,
    freight_of,
)
from kefu.connectors.embedded_writes import (
    DryRun,
    EmbeddedShopWrites,
    Expect,
    _customer_doc,
    _customer_row,
    _first_payment,
    _lock_customer,
    _lock_order,
    _modify_address,
    _order_row,
    _payment_method,
    _tau_address,
)
from kefu.connectors.port import (
    Address,
    Customer,
    Order,
    OrderStatus,
    RefundReason,
    money,
)
from kefu.errors import InvalidInputError, OperationRefused, OrderNotFound
from kefu.storage.shop_tables import ShopCustomerRow, ShopOrderRow, ShopProductRow, ShopRulesRow

Doc = dict[str, Any]
EXTRA_OPERATIONS: tuple[str, ...] = (
    "refund_order",
    "refund_orders",
    "merge_orders",
    "issue_coupon",
)
_REFUND_REASONS = frozenset(r.value for r in RefundReason)
_REFUNDABLE = (OrderStatus.DELIVERED.value, OrderStatus.PROCESSED.value)
MERGED = "merged"  # the cancel_reason of an order merged into another
SHOP_UTC_OFFSET = timedelta(hours=8)  # coupon dates are the shop's (China Standard Time) dates


@dataclass(frozen=True, kw_only=True)
class ExtrasDryRun(DryRun):
    """A :class:`DryRun` of a shop-extension write. ``order_before``/``order_after`` are the
    first (target) order, ``others_*`` the other orders of a combined write by id, in the
    order given; ``rules`` the rules document read (None: the shop has none); ``effects`` the
    money the write books (``{"kind": payment|refund|transfer, "amount", "payment_method_id",
    "order_id", "what", "from_order_id"?}``); ``facts`` what else the preview shows
    (``freight``: old and new; ``coupon``: the coupon issued)."""

    others_before: dict[str, Doc] = field(default_factory=dict)
    others_after: dict[str, Doc] = field(default_factory=dict)
    rules: Doc | None = None
    effects: tuple[Doc, ...] = ()
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Work:
    """What a rule works on: copies it may change (``orders`` in the order given, the first
    is the target), read-only lookups, and what it books."""

    orders: dict[str, Doc]
    user: Doc
    products: dict[str, Doc]
    rules: ShopRules | None
    lookups: dict[str, Doc] = field(default_factory=dict)
    effects: list[Doc] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def freight(self) -> FreightTable | None:
        return None if self.rules is None else self.rules.freight


_Rule = Callable[[_Work], None]


class _Plan(NamedTuple):
    """How to run one operation: the orders it locks and changes (target first), the
    customer (when no order names it), read-only orders, and the rule."""

    order_ids: tuple[str, ...]
    customer_id: str | None
    rule: _Rule
    lookups: tuple[str, ...] = ()


# --- money helpers -------------------------------------------------------------------------------


def _stored(amount: Decimal) -> float:
    """An amount as the JSON number the new writes store (cents)."""
    return float(cents(amount))


def paid(order: Mapping[str, Any]) -> Decimal:
    """Payments minus refunds of an order."""
    total = Decimal(0)
    for p in order["payment_history"]:
        value = money(p["amount"])
        total += -value if p["transaction_type"] == "refund" else value
    return total


def _amount(value: object) -> Decimal:
    """A requested amount (Decimal, text or number); refused unless > 0 in whole cents."""
    try:
        amount = value if isinstance(value, Decimal) else money(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        amount = Decimal(-1)
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise OperationRefused(
            "invalid_amount",
            "the amount must be more than 0 and in whole cents",
            amount=str(value),
        )
    return amount


def _book(w: _Work, order: Doc, kind: str, amount: Decimal, method_id: str, what: str) -> None:
    """Book a payment or refund on ``order`` with one of the customer's methods; a gift card's
    balance changes at once (a payment needs the balance)."""
    method = _payment_method(w.user, method_id)
    if method.get("source") == "gift_card":
        balance = money(method["balance"])
        if kind == "payment" and balance < amount:
            raise OperationRefused(
                "insufficient_gift_card_balance",
                "insufficient gift card balance to pay the freight",
                payment_method_id=method_id,
            )
        after = balance - amount if kind == "payment" else balance + amount
        method["balance"] = _stored(after)
    order["payment_history"].append(
        {"transaction_type": kind, "amount": _stored(amount), "payment_method_id": method_id}
    )
    w.effects.append(
        {
            "kind": kind,
            "amount": str(cents(amount)),
            "payment_method_id": method_id,
            "order_id": order["order_id"],
            "what": what,
        }
    )


def _original_method(order: Doc) -> str:
    method: str = _first_payment(order)["payment_method_id"]
    return method


# --- freight -------------------------------------------------------------------------------------


def _freight_for(
    table: FreightTable, address: Doc, items: list[Doc], products: dict[str, Doc]
) -> Decimal:
    found = freight_of(table, address["state"], items, products)
    if found is None:
        raise OperationRefused(
            "no_delivery_to_region",
            f"the shop does not deliver to {address['state']}",
            state=address["state"],
        )
    return found.amount


def _freight_now(table: FreightTable, order: Doc, products: dict[str, Doc]) -> Decimal:
    """The freight the order was charged: its ``freight``, else the table's for it."""
    if "freight" in order:
        return cents(money(order["freight"]))
    found = freight_of(table, order["address"]["state"], order["items"], products)
    return Decimal("0.00") if found is None else found.amount


def _readdress(address: Address) -> _Rule:
    """tau's address change, then the freight for the new address (with a freight table)."""
    tau_rule = _modify_address(address)

    def rule(w: _Work) -> None:
        order = next(iter(w.orders.values()))
        table = w.freight
        old = None if table is None else _freight_now(table, order, w.products)
        tau_rule(order, w.user, w.products)  # order_not_pending
        if table is None or old is None:
            return
        new = _freight_for(table, order["address"], order["items"], w.products)
        difference = new - old
        if difference:
            kind = "payment" if difference > 0 else "refund"
            _book(w, order, kind, abs(difference), _original_method(order), "freight")
        order["freight"] = _stored(new)
        w.facts["freight"] = {"before": str(old), "after": str(new)}

    return rule


# --- refunds -------------------------------------------------------------------------------------


def _refund_one(w: _Work, order: Doc, requested: object, method_id: str, reason: str) -> None:
    if order["status"] not in _REFUNDABLE:
        raise OperationRefused(
            "order_not_refundable",
            "only a delivered or processed order can be partly refunded",
            order_id=order["order_id"],
            status=order["status"],
        )
    if reason not in _REFUND_REASONS:
        raise OperationRefused(
            "invalid_reason",
            f"invalid reason; one of {', '.join(sorted(_REFUND_REASONS))}",
            given=reason,
        )
    amount = _amount(requested)
    method = _payment_method(w.user, method_id)
    if method_id != _original_method(order) and method.get("source") != "gift_card":
        raise OperationRefused(
            "refund_method_not_allowed",
            "payment method should be either the original payment method or a gift card",
            payment_method_id=method_id,
        )
    refundable = cents(paid(order))
    if amount > refundable:
        raise OperationRefused(
            "amount_exceeds_refundable",
            f"the amount is more than what can still be refunded ({refundable})",
            order_id=order["order_id"],
            refundable=str(refundable),
        )
    _book(w, order, "refund", amount, method_id, "refund")
    order.setdefault("partial_refunds", []).append(
        {"amount": _stored(amount), "reason": reason, "payment_method_id": method_id}
    )


def _one_customer(orders: Sequence[Doc]) -> None:
    owners = {o["user_id"] for o in orders}
    if len(owners) > 1:
        raise OperationRefused(
            "different_customers",
            "the orders belong to different customers",
            order_ids=[o["order_id"] for o in orders],
        )


def _distinct(order_ids: Sequence[str]) -> None:
    if len(set(order_ids)) != len(order_ids):
        raise OperationRefused("duplicate_order", "an order is named twice")


def _refund(amount: object, method_id: str, reason: str) -> _Rule:
    def rule(w: _Work) -> None:
        order = next(iter(w.orders.values()))
        _refund_one(w, order, amount, method_id, reason)

    return rule


def _refund_many(refunds: Sequence[tuple[str, object, str]], reason: str) -> _Rule:
    def rule(w: _Work) -> None:
        if not refunds:
            raise OperationRefused("no_refunds", "no refund given")
        _distinct([order_id for order_id, _, _ in refunds])
        _one_customer(list(w.orders.values()))
        for order_id, amount, method_id in refunds:
            _refund_one(w, w.orders[order_id], amount, method_id, reason)

    return rule


# --- merge ---------------------------------------------------------------------------------------


def _net_by_method(order: Doc) -> dict[str, Decimal]:
    """What each payment method paid for the order net of refunds, in first-use order."""
    nets: dict[str, Decimal] = {}
    for p in order["payment_history"]:
        value = money(p["amount"])
        sign = -1 if p["transaction_type"] == "refund" else 1
        nets[p["payment_method_id"]] = nets.get(p["payment_method_id"], Decimal(0)) + sign * value
    return nets


def _merge(order_ids: Sequence[str], address: Address | None) -> _Rule:
    def rule(w: _Work) -> None:
        if len(order_ids) < 2:
            raise OperationRefused("too_few_orders", "at least two orders are needed to merge")
        _distinct(order_ids)
        orders = [w.orders[o] for o in order_ids]
        _one_customer(orders)
        for order in orders:
            if order["status"] != OrderStatus.PENDING:
                raise OperationRefused(
                    "order_not_pending",
                    f"order {order['order_id']} is not pending and cannot be merged",
                    order_id=order["order_id"],
                    status=order["status"],
                )
        target, others = orders[0], orders[1:]
        for order in orders:
            _original_method(order)  # no_payment
            _payment_method(w.user, _original_method(order))  # payment_method_not_found
        table = w.freight
        shipping = target["address"] if address is None else _tau_address(address)
        items = [item for order in orders for item in order["items"]]
        old = {o["order_id"]: Decimal(0) for o in orders}
        new = Decimal(0)
        if table is not None:
            old = {o["order_id"]: _freight_now(table, o, w.products) for o in orders}
            new = _freight_for(table, shipping, items, w.products)
        # Payments follow the items: each other order's net payments move to the target.
        for order in others:
            for method_id, net in _net_by_method(order).items():
                if net <= 0:
                    continue
                moved = _stored(net)
                order["payment_history"].append(
                    {"transaction_type": "refund", "amount": moved, "payment_method_id": method_id}
                )
                target["payment_history"].append(
                    {"transaction_type": "payment", "amount": moved, "payment_method_id": method_id}
                )
                w.effects.append(
                    {
                        "kind": "transfer",
                        "amount": str(cents(net)),
                        "payment_method_id": method_id,
                        "order_id": target["order_id"],
                        "from_order_id": order["order_id"],
                        "what": "transfer",
                    }
                )
        difference = sum(old.values(), Decimal(0)) - new
        if difference < 0:
            _book(w, target, "payment", -difference, _original_method(target), "freight")
        remaining = difference
        refunds: dict[str, Decimal] = {}
        for order in [*others, target]:  # the cancelled orders' freight first
            if remaining <= 0:
                break
            part = min(old[order["order_id"]], remaining)
            if part > 0:
                method_id = _original_method(order)
                refunds[method_id] = refunds.get(method_id, Decimal(0)) + part
                remaining -= part
        for method_id, refund in refunds.items():
            _book(w, target, "refund", refund, method_id, "freight")
        target["items"] = items
        target["address"] = shipping
        target["merged_from"] = [*target.get("merged_from", []), *(o["order_id"] for o in others)]
        for order in others:
            order["items"] = []
            order["status"] = OrderStatus.CANCELLED.value
            order["cancel_reason"] = MERGED
            order["merged_into"] = target["order_id"]
        if table is not None:
            target["freight"] = _stored(new)
            for order in others:
                order["freight"] = 0.0
            w.facts["freight"] = {
                "before": str(sum(old.values(), Decimal(0))),
                "after": str(new),
                "orders": {k: str(v) for k, v in old.items()},
            }

    return rule


# --- coupons -------------------------------------------------------------------------------------


def shop_today() -> date:
    """Today in the shop's time zone (UTC+8)."""
    return (datetime.now(UTC) + SHOP_UTC_OFFSET).date()


def _issue(
    customer_id: str, template_id: str, reason: str, order_id: str | None, today: date
) -> _Rule:
    def rule(w: _Work) -> None:
        if w.rules is None or not w.rules.coupons:
            raise OperationRefused("coupons_not_configured", "the shop has no coupon templates")
        template = w.rules.coupons.get(template_id)
        if template is None:
            raise OperationRefused(
                "unknown_coupon", f"no coupon template {template_id!r}", template_id=template_id
            )
        if reason not in template.reasons:
            raise OperationRefused(
                "reason_not_allowed",
                f"coupon {template_id} is not issued for {reason!r}; "
                f"allowed: {', '.join(template.reasons)}",
                template_id=template_id,
                allowed=list(template.reasons),
            )
        if order_id is not None and w.lookups[order_id]["user_id"] != customer_id:
            raise OperationRefused(
                "order_not_of_customer", "the order is not the customer's", order_id=order_id
            )
        coupons: list[Doc] = w.user.setdefault("coupons", [])
        issued = sum(1 for c in coupons if c.get("template_id") == template_id)
        if issued >= template.per_customer_limit:
            raise OperationRefused(
                "coupon_limit_reached",
                f"the customer already has {issued} coupon(s) {template_id} "
                f"(limit {template.per_customer_limit})",
                template_id=template_id,
                limit=template.per_customer_limit,
            )
        coupon: Doc = {
            "coupon_id": f"{template_id}-{len(coupons) + 1}",
            "template_id": template_id,
            "name": template.name,
            "kind": template.kind,
            "value": _stored(template.value)
            if template.kind == "amount"
            else float(template.value),
            "max_value": _stored(template.max_value),
            "min_spend": _stored(template.min_spend),
            "reason": reason,
            "issued_on": today.isoformat(),
            "valid_until": (today + timedelta(days=template.valid_days)).isoformat(),
            "status": "unused",
        }
        if order_id is not None:
            coupon["order_id"] = order_id
        coupons.append(coupon)
        w.facts["coupon"] = {**coupon, "face_value": str(cents(template.face_value))}

    return rule


# --- running a rule --------------------------------------------------------------------


def _order_doc(s: Session, tenant_id: int, order_id: str) -> Doc:
    doc = s.scalar(select(ShopOrderRow.doc).where(*_order_row(tenant_id, order_id)))
    if doc is None:
        raise OrderNotFound(order_id)
    return copy.deepcopy(doc)


def _products(s: Session, tenant_id: int, orders: Sequence[Doc]) -> dict[str, Doc]:
    product_ids = {item["product_id"] for order in orders for item in order["items"]}
    return {
        product_id: copy.deepcopy(doc)
        for product_id, doc in s.execute(
            select(ShopProductRow.product_id, ShopProductRow.doc).where(
                ShopProductRow.tenant_id == tenant_id,
                ShopProductRow.product_id.in_(product_ids),
            )
        )
    }


def rules_doc(s: Session, tenant_id: int) -> Doc | None:
    """The tenant's rules document as stored (None: none)."""
    doc: Doc | None = s.scalar(select(ShopRulesRow.doc).where(ShopRulesRow.tenant_id == tenant_id))
    return doc


def _run(
    s: Session,
    tenant_id: int,
    operation: str,
    plan: _Plan,
    orders: dict[str, Doc],
    customer_id: str,
    user: Doc,
) -> ExtrasDryRun:
    """The plan's rule on copies of the documents read in ``s`` (:func:`run_plan`)."""
    lookups = {o: _order_doc(s, tenant_id, o) for o in plan.lookups}
    products = _products(s, tenant_id, list(orders.values()))
    rules = rules_doc(s, tenant_id)
    return run_plan(operation, plan, orders, customer_id, user, products, rules, lookups)


def _refund_lines(value: object) -> tuple[tuple[str, object, str], ...]:
    lines = []
    for line in value or ():  # type: ignore[attr-defined]
        if isinstance(line, Mapping):
            lines.append((line["order_id"], line["amount"], line["payment_method_id"]))
        else:
            order_id, amount, method_id = line
            lines.append((order_id, amount, method_id))
    return tuple(lines)


def extras_plan(
    operation: str, args: Mapping[str, Any], rules: ShopRules | None, today: date
) -> _Plan | None:
    """The plan of a shop-extension write (the embedded shop's and the HTTP connector's);
    None: one of tau's writes as it is (an address change on a shop without a freight
    table)."""
    if operation == "modify_order_address":
        if rules is None or rules.freight is None:
            return None
        return _Plan((args["order_id"],), None, _readdress(args["address"]))
    if operation == "refund_order":
        rule = _refund(args["amount"], args["payment_method_id"], args["reason"])
        return _Plan((args["order_id"],), None, rule)
    if operation == "refund_orders":
        lines = _refund_lines(args["refunds"])
        if not lines:
            raise InvalidInputError("refunds must not be empty", field="refunds")
        ids = tuple(dict.fromkeys(line[0] for line in lines))
        return _Plan(ids, None, _refund_many(lines, args["reason"]))
    if operation == "merge_orders":
        order_ids = list(args["order_ids"])
        if not order_ids:
            raise InvalidInputError("order_ids must not be empty", field="order_ids")
        return _Plan(tuple(dict.fromkeys(order_ids)), None, _merge(order_ids, args.get("address")))
    if operation == "issue_coupon":
        order_id = args.get("order_id")
        rule = _issue(args["customer_id"], args["template_id"], args["reason"], order_id, today)
        return _Plan((), args["customer_id"], rule, () if order_id is None else (order_id,))
    return None


def run_plan(
    operation: str,
    plan: _Plan,
    orders: dict[str, Doc],
    customer_id: str,
    user: Doc,
    products: dict[str, Doc],
    rules: Doc | None,
    lookups: dict[str, Doc],
) -> ExtrasDryRun:
    """The plan's rule on copies of the documents (read from the embedded shop's rows or from
    a merchant's API); a refusal leaves the ``after`` documents as they were."""
    work = _Work(
        orders=copy.deepcopy(orders),
        user=copy.deepcopy(user),
        products=copy.deepcopy(products),
        rules=ShopRules.from_doc(rules),
        lookups=lookups,
    )
    refusal: OperationRefused | None = None
    try:
        plan.rule(work)
    except OperationRefused as exc:
        refusal = exc
        work = _Work(
            orders=copy.deepcopy(orders), user=copy.deepcopy(user), products={}, rules=None
        )
    ids = list(orders)
    first = ids[0] if ids else None
    return ExtrasDryRun(
        operation=operation,
        customer_id=customer_id,
        customer_before=user,
        customer_after=work.user,
        order_before=None if first is None else orders[first],
        order_after=None if first is None else work.orders[first],
        others_before={o: orders[o] for o in ids[1:]},
        others_after={o: work.orders[o] for o in ids[1:]},
        products=products,
        refusal=refusal,
        rules=rules,
        effects=tuple(work.effects),
        facts=work.facts,
    )


class ExtensionWrites:
    """The :class:`~kefu.connectors.port.ShopWriter` methods of the shop extensions over a
    shop's ``write`` (the embedded shop's one locked transaction, or the HTTP connector's
    request with its idempotency key): both shops' answers are the same documents."""

    if TYPE_CHECKING:

        def write(self, tenant: str, operation: str, arguments: Mapping[str, Any]) -> DryRun: ...

    def refund_order(
        self, tenant: str, order_id: str, amount: Decimal, payment_method_id: str, reason: str
    ) -> Order:
        args = {
            "order_id": order_id,
            "amount": amount,
            "payment_method_id": payment_method_id,
            "reason": reason,
        }
        run = self.write(tenant, "refund_order", args)
        return Order.from_tau(run.order_after or {})

    def refund_orders(
        self, tenant: str, refunds: Sequence[tuple[str, Decimal, str]], reason: str
    ) -> list[Order]:
        run = self.write(tenant, "refund_orders", {"refunds": list(refunds), "reason": reason})
        assert isinstance(run, ExtrasDryRun) and run.order_after is not None
        docs = {run.order_after["order_id"]: run.order_after, **run.others_after}
        return [Order.from_tau(docs[order_id]) for order_id, _, _ in refunds]

    def merge_orders(
        self, tenant: str, order_ids: Sequence[str], address: Address | None = None
    ) -> Order:
        run = self.write(tenant, "merge_orders", {"order_ids": list(order_ids), "address": address})
        return Order.from_tau(run.order_after or {})

    def issue_coupon(
        self,
        tenant: str,
        customer_id: str,
        template_id: str,
        reason: str,
        order_id: str | None = None,
    ) -> Customer:
        args = {
            "customer_id": customer_id,
            "template_id": template_id,
            "reason": reason,
            "order_id": order_id,
        }
        run = self.write(tenant, "issue_coupon", args)
        return Customer.from_tau(customer_id, run.customer_after)


class EmbeddedShopExtras(EmbeddedShopWrites, ExtensionWrites):
    """The shop-extension writes of :class:`~kefu.connectors.embedded.EmbeddedShop` (a mixin
    over its session factory and tenant repository). ``today`` gives the shop's date for
    coupons (replace it in tests)."""

    today: Callable[[], date] = staticmethod(shop_today)

    def _rules_doc(self, s: Session, tenant_id: int) -> Doc | None:
        return rules_doc(s, tenant_id)

    def _plan(self, tenant: str, operation: str, args: Mapping[str, Any]) -> _Plan | None:
        """The plan of a shop-extension operation; None: one of tau's writes as they are."""
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            rules = ShopRules.from_doc(rules_doc(s, t.id))
        return extras_plan(operation, args, rules, self.today())

    # -- the operation layer's entry points ------------------------------------------------
    def dry_run(self, tenant: str, operation: str, arguments: Mapping[str, Any]) -> DryRun:
        plan = self._plan(tenant, operation, dict(arguments))
        if plan is None:
            return super().dry_run(tenant, operation, arguments)
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            orders = {o: _order_doc(s, t.id, o) for o in plan.order_ids}
            customer_id = plan.customer_id or orders[plan.order_ids[0]]["user_id"]
            user = _customer_doc(s, t.id, customer_id)
            return _run(s, t.id, operation, plan, orders, customer_id, user)

    def write(
        self,
        tenant: str,
        operation: str,
        arguments: Mapping[str, Any],
        *,
        expect: Expect | None = None,
    ) -> DryRun:
        plan = self._plan(tenant, operation, dict(arguments))
        if plan is None:
            return super().write(tenant, operation, arguments, expect=expect)
        return self._write_plan(tenant, operation, plan, expect)

    def _write_plan(
        self, tenant: str, operation: str, plan: _Plan, expect: Expect | None = None
    ) -> ExtrasDryRun:
        """Lock the orders (sorted by id) and then the customer, run the rule on copies, and
        store every changed document; all in one transaction."""
        t = self._tenants.get(tenant)
        with self._sessions.begin() as s:
            for order_id in sorted(plan.order_ids):
                if not _lock_order(s, t.id, order_id):
                    raise OrderNotFound(order_id)
            orders = {o: _order_doc(s, t.id, o) for o in plan.order_ids}
            customer_id = plan.customer_id or orders[plan.order_ids[0]]["user_id"]
            _lock_customer(s, t.id, customer_id)
            user = _customer_doc(s, t.id, customer_id)
            run = _run(s, t.id, operation, plan, orders, customer_id, user)
            if expect is not None:
                expect(run)  # raises: rolled back, nothing written
            if run.refusal is not None:
                raise run.refusal  # rolled back, nothing written
            after = {}
            if run.order_after is not None:
                after[run.order_after["order_id"]] = run.order_after
            after.update(run.others_after)
            for order_id, doc in after.items():
                if doc != orders[order_id]:
                    s.execute(
                        update(ShopOrderRow)
                        .where(*_order_row(t.id, order_id))
                        .values(doc=doc, status=doc["status"])
                    )
            s.execute(
                update(ShopCustomerRow)
                .where(*_customer_row(t.id, customer_id))
                .values(doc=run.customer_after)
            )
        return run

    # -- the ShopWriter methods --------------------------------------------------------------
    def modify_order_address(self, tenant: str, order_id: str, address: Address) -> Order:
        plan = self._plan(
            tenant, "modify_order_address", {"order_id": order_id, "address": address}
        )
        if plan is None:
            return super().modify_order_address(tenant, order_id, address)
        return Order.from_tau(
            self._write_plan(tenant, "modify_order_address", plan).order_after or {}
        )
