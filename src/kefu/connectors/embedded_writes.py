"""Writes of the embedded shop (L3): tau-bench retail's seven write tools over the database.

The rules are tau's, check for check and effect for effect, so replaying a tau task on the
embedded shop leaves the same database as tau's own environment (``tests/test_tau_conformance.py``
replays the gold actions of tau's train and dev tasks against a transcription of tau's code):

- which state each write needs (``pending`` for cancel and modify, ``delivered`` for return and
  exchange; ``pending (item modified)`` is not ``pending``, so items can be modified once and an
  order whose items were modified can no longer be cancelled or re-addressed);
- the order of the checks, hence which refusal a request with several faults gets, and tau's
  refusal texts (:class:`~kefu.errors.OperationRefused` carries them without the ``Error:``
  prefix, and a stable ``reason``);
- the effects: refunds appended to ``payment_history`` (and put back on a gift card's balance
  at once), ``pending (item modified)``, ``cancel_reason``, ``return_items``,
  ``exchange_items`` and the other keys tau adds, in tau's key order, and an address replaced
  by tau's six keys in tau's order.

Money in a stored document is the JSON number tau would write: the arithmetic below is tau's
Python float arithmetic, step for step. Tau rounds a gift card's new balance and an exchange's
price difference to cents, but not the amount of an items modification's payment or refund
(``abs`` of a float sum, e.g. ``12.340000000000003``); the stored numbers reproduce that, and
the returned :class:`~kefu.connectors.port.Order` shows them exactly as Decimals (``money``).
Comparisons (a gift card's balance against the amount due) are made on the same floats, so a
float-noise cent refuses exactly when tau refuses.

Where tau's code would crash on data our schema allows (an order without payments, a refund to
a gift card the customer no longer has), tau's environment answers ``Error: <exception text>``
after a partial write; the embedded shop refuses with the same text and writes nothing.

Each write is one transaction. Its first statement takes the write lock on the order row (or
the customer row) with an UPDATE that sets the status to itself: on PostgreSQL that locks the
row until commit, so a second write of the same order waits and then reads the committed
document (READ COMMITTED); on SQLite a write statement takes the database's write lock, so
writers queue (``busy_timeout``) and each reads what the previous one committed. Only then is
the document read, checked and written back. Locks are taken order first, customer second, so
two writes cannot deadlock. (Product rows are read, not locked: a product change committed after
the read is ordered after the write.)

:meth:`EmbeddedShopWrites.write` is the operation layer's entry point to the same transactions:
it takes an ``expect`` callable that is given the documents as read under the locks (a
:class:`DryRun` of them) before anything is stored, and can stop the write by raising; the
operation layer checks there that the records still hash to the confirmed preview's fingerprint,
so nothing that changed after the preview is written under its confirmation.

:meth:`EmbeddedShopDryRuns.dry_run` is the read-only preview entry point of the operation layer
(:mod:`kefu.operations.preview`): the same rule functions, run on copies of the documents read
in one transaction without locks; it returns the documents before and after and the refusal the
write would raise, and writes nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session, sessionmaker

from kefu.connectors.port import Address, CancelReason, Customer, Order, OrderStatus
from kefu.errors import CustomerNotFound, InvalidInputError, OperationRefused, OrderNotFound
from kefu.storage.shop_tables import ShopCustomerRow, ShopOrderRow, ShopProductRow
from kefu.storage.tenants import TenantRepository

Doc = dict[str, Any]
Number = int | float  # a JSON number as tau's Python code handles it
# A rule changes the order and customer documents in place (given the products it may need),
# or raises OperationRefused having changed nothing.
_Rule = Callable[[Doc, Doc, dict[str, Doc]], None]

_CANCEL_REASONS = frozenset(r.value for r in CancelReason)


# --- the rules: tau's checks and effects on plain documents ----------------------------------


def _require_status(order: Doc, status: OrderStatus, refusal: str) -> None:
    if order["status"] != status:
        reason = "order_not_pending" if status == OrderStatus.PENDING else "order_not_delivered"
        raise OperationRefused(reason, refusal, order_id=order["order_id"], status=order["status"])


def _require_items(order: Doc, item_ids: Sequence[str], refusal: Callable[[str], str]) -> None:
    """Every id asked for is in the order at least as many times as it is asked for."""
    in_order = [item["item_id"] for item in order["items"]]
    for item_id in item_ids:
        if item_ids.count(item_id) > in_order.count(item_id):
            raise OperationRefused("item_not_in_order", refusal(item_id), item_id=item_id)


def _first_item(order: Doc, item_id: str) -> Doc:
    return next(item for item in order["items"] if item["item_id"] == item_id)


def _price_difference(
    order: Doc, item_ids: Sequence[str], new_item_ids: Sequence[str], products: dict[str, Doc]
) -> Number:
    """New prices minus old ones, summed pair by pair as tau does (floats, unrounded). Each new
    item must be an available variant of the old item's product."""
    if len(item_ids) != len(new_item_ids):
        raise OperationRefused(
            "item_count_mismatch", "the number of items to be exchanged should match"
        )
    difference: Number = 0
    for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
        item = _first_item(order, item_id)
        variants = products[item["product_id"]]["variants"]
        if not (new_item_id in variants and variants[new_item_id]["available"]):
            raise OperationRefused(
                "new_item_unavailable",
                f"new item {new_item_id} not found or available",
                item_id=new_item_id,
            )
        difference += variants[new_item_id]["price"] - item["price"]
    return difference


def _payment_method(user: Doc, payment_method_id: str) -> Doc:
    methods: dict[str, Doc] = user["payment_methods"]
    if payment_method_id not in methods:
        raise OperationRefused(
            "payment_method_not_found",
            "payment method not found",
            payment_method_id=payment_method_id,
        )
    return methods[payment_method_id]


def _require_balance(method: Doc, amount: Number, refusal: str) -> None:
    """A gift card must hold at least ``amount`` (other sources are not checked)."""
    if method["source"] == "gift_card" and method["balance"] < amount:
        raise OperationRefused(
            "insufficient_gift_card_balance", refusal, payment_method_id=method["id"]
        )


def _first_payment(order: Doc) -> Doc:
    """``payment_history[0]``; tau's code crashes on an order without payments."""
    if not order["payment_history"]:
        raise OperationRefused("no_payment", "list index out of range")
    first: Doc = order["payment_history"][0]
    return first


def _gift_card_to_refund(user: Doc, payment_method_id: str) -> Doc:
    """The gift card a refund goes back to. Tau looks it up by id (and crashes, ``KeyError``,
    when the customer has no such method or it has no balance)."""
    method = user["payment_methods"].get(payment_method_id)
    if method is None or "balance" not in method:
        missing = payment_method_id if method is None else "balance"
        raise OperationRefused(
            "payment_method_not_found", repr(missing), payment_method_id=payment_method_id
        )
    card: Doc = method
    return card


def _add_to_balance(card: Doc, amount: Number) -> None:
    card["balance"] += amount
    card["balance"] = round(card["balance"], 2)


def _take_from_balance(card: Doc, amount: Number) -> None:
    card["balance"] -= amount
    card["balance"] = round(card["balance"], 2)


def _cancel(reason: str) -> _Rule:
    def rule(order: Doc, user: Doc, _products: dict[str, Doc]) -> None:
        _require_status(order, OrderStatus.PENDING, "non-pending order cannot be cancelled")
        if reason not in _CANCEL_REASONS:
            raise OperationRefused("invalid_reason", "invalid reason", given=reason)
        refunds = []
        cards = []
        for payment in order["payment_history"]:
            payment_method_id = payment["payment_method_id"]
            refunds.append(
                {
                    "transaction_type": "refund",
                    "amount": payment["amount"],
                    "payment_method_id": payment_method_id,
                }
            )
            if "gift_card" in payment_method_id:  # tau tells gift cards by id here
                cards.append((_gift_card_to_refund(user, payment_method_id), payment["amount"]))
        for card, amount in cards:  # every check passed: now change
            _add_to_balance(card, amount)
        order["status"] = OrderStatus.CANCELLED.value
        order["cancel_reason"] = reason
        order["payment_history"].extend(refunds)

    return rule


def _tau_address(address: Address) -> Doc:
    """Tau's six keys in tau's order; ``district`` (demo shop) after them when given."""
    doc: Doc = {
        "address1": address.address1,
        "address2": address.address2,
        "city": address.city,
        "state": address.state,
        "country": address.country,
        "zip": address.zip,
    }
    if address.district is not None:
        doc["district"] = address.district
    return doc


def _modify_address(address: Address) -> _Rule:
    def rule(order: Doc, _user: Doc, _products: dict[str, Doc]) -> None:
        _require_status(order, OrderStatus.PENDING, "non-pending order cannot be modified")
        order["address"] = _tau_address(address)

    return rule


def _modify_items(
    item_ids: Sequence[str], new_item_ids: Sequence[str], payment_method_id: str
) -> _Rule:
    def rule(order: Doc, user: Doc, products: dict[str, Doc]) -> None:
        _require_status(order, OrderStatus.PENDING, "non-pending order cannot be modified")
        _require_items(order, item_ids, lambda item_id: f"{item_id} not found")
        difference = _price_difference(order, item_ids, new_item_ids, products)
        method = _payment_method(user, payment_method_id)
        _require_balance(
            method, difference, "insufficient gift card balance to pay for the new item"
        )
        order["payment_history"].append(
            {
                "transaction_type": "payment" if difference > 0 else "refund",
                "amount": abs(difference),  # not rounded, as in tau
                "payment_method_id": payment_method_id,
            }
        )
        if method["source"] == "gift_card":
            _take_from_balance(method, difference)
        for item_id, new_item_id in zip(item_ids, new_item_ids, strict=True):
            item = _first_item(order, item_id)  # the first not yet swapped, as in tau
            variant = products[item["product_id"]]["variants"][new_item_id]
            item["item_id"] = new_item_id
            item["price"] = variant["price"]
            item["options"] = variant["options"]
        order["status"] = OrderStatus.PENDING_ITEM_MODIFIED.value

    return rule


def _modify_payment(payment_method_id: str) -> _Rule:
    def rule(order: Doc, user: Doc, _products: dict[str, Doc]) -> None:
        _require_status(order, OrderStatus.PENDING, "non-pending order cannot be modified")
        method = _payment_method(user, payment_method_id)
        history = order["payment_history"]
        if len(history) > 1 or _first_payment(order)["transaction_type"] != "payment":
            raise OperationRefused(
                "not_single_payment", "there should be exactly one payment for a pending order"
            )
        old_id = history[0]["payment_method_id"]
        if old_id == payment_method_id:
            raise OperationRefused(
                "same_payment_method",
                "the new payment method should be different from the current one",
            )
        amount = history[0]["amount"]
        _require_balance(method, amount, "insufficient gift card balance to pay for the order")
        # Tau pays by source but refunds a gift card by id.
        old_card = _gift_card_to_refund(user, old_id) if "gift_card" in old_id else None
        history.extend(
            [
                {
                    "transaction_type": "payment",
                    "amount": amount,
                    "payment_method_id": payment_method_id,
                },
                {"transaction_type": "refund", "amount": amount, "payment_method_id": old_id},
            ]
        )
        if method["source"] == "gift_card":
            _take_from_balance(method, amount)
        if old_card is not None:
            _add_to_balance(old_card, amount)

    return rule


def _return_items(item_ids: Sequence[str], payment_method_id: str) -> _Rule:
    def rule(order: Doc, user: Doc, _products: dict[str, Doc]) -> None:
        _require_status(order, OrderStatus.DELIVERED, "non-delivered order cannot be returned")
        _payment_method(user, payment_method_id)
        if (
            "gift_card" not in payment_method_id
            and payment_method_id != _first_payment(order)["payment_method_id"]
        ):
            raise OperationRefused(
                "refund_method_not_allowed",
                "payment method should be either the original payment method or a gift card",
                payment_method_id=payment_method_id,
            )
        _require_items(order, item_ids, lambda _item_id: "some item not found")
        order["status"] = OrderStatus.RETURN_REQUESTED.value
        order["return_items"] = sorted(item_ids)
        order["return_payment_method_id"] = payment_method_id

    return rule


def _exchange_items(
    item_ids: Sequence[str], new_item_ids: Sequence[str], payment_method_id: str
) -> _Rule:
    def rule(order: Doc, user: Doc, products: dict[str, Doc]) -> None:
        _require_status(order, OrderStatus.DELIVERED, "non-delivered order cannot be exchanged")
        _require_items(order, item_ids, lambda item_id: f"{item_id} not found")
        difference = round(_price_difference(order, item_ids, new_item_ids, products), 2)
        method = _payment_method(user, payment_method_id)
        _require_balance(
            method, difference, "insufficient gift card balance to pay for the price difference"
        )
        order["status"] = OrderStatus.EXCHANGE_REQUESTED.value
        order["exchange_items"] = sorted(item_ids)
        order["exchange_new_items"] = sorted(new_item_ids)
        order["exchange_payment_method_id"] = payment_method_id
        order["exchange_price_difference"] = difference

    return rule


# --- the transactions ------------------------------------------------------------------------


def _order_row(tenant_id: int, order_id: str) -> tuple[ColumnElement[bool], ...]:
    return (ShopOrderRow.tenant_id == tenant_id, ShopOrderRow.order_id == order_id)


def _customer_row(tenant_id: int, customer_id: str) -> tuple[ColumnElement[bool], ...]:
    return (ShopCustomerRow.tenant_id == tenant_id, ShopCustomerRow.customer_id == customer_id)


def _lock_order(s: Session, tenant_id: int, order_id: str) -> bool:
    """Take the order row's write lock (see the module docstring); False when there is none."""
    result = s.execute(
        update(ShopOrderRow)
        .where(*_order_row(tenant_id, order_id))
        .values(status=ShopOrderRow.status)
    )
    return bool(getattr(result, "rowcount", 0))


def _lock_customer(s: Session, tenant_id: int, customer_id: str) -> bool:
    result = s.execute(
        update(ShopCustomerRow)
        .where(*_customer_row(tenant_id, customer_id))
        .values(zip=ShopCustomerRow.zip)
    )
    return bool(getattr(result, "rowcount", 0))


def _customer_doc(s: Session, tenant_id: int, customer_id: str) -> Doc:
    doc = s.scalar(select(ShopCustomerRow.doc).where(*_customer_row(tenant_id, customer_id)))
    if doc is None:
        raise CustomerNotFound("id", customer_id)
    return copy.deepcopy(doc)


def _zip_column(zip_code: str) -> str:
    value = zip_code.strip()
    length: int | None = getattr(ShopCustomerRow.zip.type, "length", None)
    if length is not None and len(value) > length:
        raise InvalidInputError(
            f"the zip code is {len(value)} characters long; the limit is {length}", field="zip"
        )
    return value


# --- dry runs: the same rules on copies, nothing written (previews of the operations layer) ----

_RULE_BUILDERS: dict[str, Callable[[dict[str, Any]], _Rule]] = {
    "cancel_order": lambda a: _cancel(a["reason"]),
    "modify_order_address": lambda a: _modify_address(a["address"]),
    "modify_order_items": lambda a: _modify_items(
        list(a["item_ids"]), list(a["new_item_ids"]), a["payment_method_id"]
    ),
    "modify_order_payment": lambda a: _modify_payment(a["payment_method_id"]),
    "return_order_items": lambda a: _return_items(list(a["item_ids"]), a["payment_method_id"]),
    "exchange_order_items": lambda a: _exchange_items(
        list(a["item_ids"]), list(a["new_item_ids"]), a["payment_method_id"]
    ),
}


@dataclass(frozen=True, kw_only=True)
class DryRun:
    """What one write would do to the documents as they are now: copies before and after the
    same rule the write runs (``order_before``/``order_after`` are None for a customer
    address change), the products of the order's items, and the refusal the write would
    raise (``None``: it would succeed; otherwise the ``after`` documents equal ``before``).
    :meth:`EmbeddedShopWrites.write` returns one too: the documents as read under its locks and
    as stored."""

    operation: str
    customer_id: str
    customer_before: Doc
    customer_after: Doc
    order_before: Doc | None = None
    order_after: Doc | None = None
    products: dict[str, Doc] = field(default_factory=dict)
    refusal: OperationRefused | None = None


# Called inside a write's transaction, after the locks are taken and the documents read, with
# the dry run of those documents; raising (OperationRefused) stops the write, nothing stored. It
# must not use the database: the write holds its locks.
Expect = Callable[[DryRun], None]


def _readdressed(customer_id: str, user: Doc, address: Doc) -> DryRun:
    """A customer address change: the customer document before and after."""
    after = copy.deepcopy(user)
    after["address"] = address
    return DryRun(
        operation="modify_customer_address",
        customer_id=customer_id,
        customer_before=user,
        customer_after=after,
    )


def apply_rule(
    operation: str, rule: _Rule, order: Doc, user: Doc, products: dict[str, Doc]
) -> DryRun:
    """``rule`` run on copies of the order, customer and product documents (nothing stored);
    a refusal leaves the ``after`` documents as they were. Any shop (the embedded one, the
    HTTP connector) previews with it."""
    order_after, user_after = copy.deepcopy(order), copy.deepcopy(user)
    refusal: OperationRefused | None = None
    try:
        rule(order_after, user_after, copy.deepcopy(products))
    except OperationRefused as exc:
        refusal = exc
        order_after, user_after = copy.deepcopy(order), copy.deepcopy(user)
    return DryRun(
        operation=operation,
        customer_id=order["user_id"],
        customer_before=user,
        customer_after=user_after,
        order_before=order,
        order_after=order_after,
        products=products,
        refusal=refusal,
    )


def _apply(
    s: Session, tenant_id: int, operation: str, rule: _Rule, order: Doc, user: Doc
) -> DryRun:
    """``rule`` run on copies of the order and customer documents and of the products of the
    order's items (read in ``s``); a refusal leaves the ``after`` documents as they were."""
    product_ids = {item["product_id"] for item in order["items"]}
    products: dict[str, Doc] = {
        product_id: copy.deepcopy(doc)
        for product_id, doc in s.execute(
            select(ShopProductRow.product_id, ShopProductRow.doc).where(
                ShopProductRow.tenant_id == tenant_id,
                ShopProductRow.product_id.in_(product_ids),
            )
        )
    }
    return apply_rule(operation, rule, order, user, products)


class EmbeddedShopDryRuns:
    """The read-only preview entry point of the embedded shop's writes (a mixin like
    :class:`EmbeddedShopWrites`)."""

    _sessions: sessionmaker[Session]
    _tenants: TenantRepository

    def dry_run(self, tenant: str, operation: str, arguments: Mapping[str, Any]) -> DryRun:
        """Run the rule of ``operation`` (a :class:`ShopWriter` method name; ``arguments`` its
        keyword arguments without ``tenant``) on copies of the documents read now, in one read
        transaction without locks. Raises what the write raises for unknown tenants, orders,
        customers and bad zip codes; a refusal is returned in ``refusal``, not raised."""
        t = self._tenants.get(tenant)
        args = dict(arguments)
        if operation == "modify_customer_address":
            address: Address = args["address"]
            _zip_column(address.zip)
            with self._sessions() as s:
                user = _customer_doc(s, t.id, args["customer_id"])
            return _readdressed(args["customer_id"], user, _tau_address(address))
        build = _RULE_BUILDERS.get(operation)
        if build is None:
            raise InvalidInputError(f"unknown write operation: {operation!r}", field="operation")
        order_id = args["order_id"]
        with self._sessions() as s:
            stored = s.scalar(select(ShopOrderRow.doc).where(*_order_row(t.id, order_id)))
            if stored is None:
                raise OrderNotFound(order_id)
            order: Doc = copy.deepcopy(stored)
            user = _customer_doc(s, t.id, order["user_id"])
            return _apply(s, t.id, operation, build(args), order, user)


class EmbeddedShopWrites(EmbeddedShopDryRuns):
    """The write half of :class:`~kefu.connectors.embedded.EmbeddedShop` (a mixin over its
    session factory and tenant repository); implements :class:`ShopWriter`."""

    _sessions: sessionmaker[Session]
    _tenants: TenantRepository

    def cancel_order(self, tenant: str, order_id: str, reason: str) -> Order:
        return _order(self._write_order(tenant, "cancel_order", order_id, _cancel(reason)))

    def modify_order_address(self, tenant: str, order_id: str, address: Address) -> Order:
        return _order(
            self._write_order(tenant, "modify_order_address", order_id, _modify_address(address))
        )

    def modify_order_items(
        self,
        tenant: str,
        order_id: str,
        item_ids: Sequence[str],
        new_item_ids: Sequence[str],
        payment_method_id: str,
    ) -> Order:
        rule = _modify_items(list(item_ids), list(new_item_ids), payment_method_id)
        return _order(self._write_order(tenant, "modify_order_items", order_id, rule))

    def modify_order_payment(self, tenant: str, order_id: str, payment_method_id: str) -> Order:
        rule = _modify_payment(payment_method_id)
        return _order(self._write_order(tenant, "modify_order_payment", order_id, rule))

    def return_order_items(
        self, tenant: str, order_id: str, item_ids: Sequence[str], payment_method_id: str
    ) -> Order:
        rule = _return_items(list(item_ids), payment_method_id)
        return _order(self._write_order(tenant, "return_order_items", order_id, rule))

    def exchange_order_items(
        self,
        tenant: str,
        order_id: str,
        item_ids: Sequence[str],
        new_item_ids: Sequence[str],
        payment_method_id: str,
    ) -> Order:
        rule = _exchange_items(list(item_ids), list(new_item_ids), payment_method_id)
        return _order(self._write_order(tenant, "exchange_order_items", order_id, rule))

    def modify_customer_address(self, tenant: str, customer_id: str, address: Address) -> Customer:
        run = self._write_customer(tenant, customer_id, address)
        return Customer.from_tau(customer_id, run.customer_after)

    def write(
        self,
        tenant: str,
        operation: str,
        arguments: Mapping[str, Any],
        *,
        expect: Expect | None = None,
    ) -> DryRun:
        """The write ``operation`` (named and given as to :meth:`dry_run`) in its one locked
        transaction. ``expect``, when given, is called with the dry run of the documents as
        read under the locks (the refusal the rule raises included) before the refusal is
        raised or anything is stored; whatever it raises stops the write. Returns the documents
        before and after, as read and as stored. Raises what the :class:`ShopWriter` method
        raises."""
        args = dict(arguments)
        if operation == "modify_customer_address":
            return self._write_customer(tenant, args["customer_id"], args["address"], expect)
        build = _RULE_BUILDERS.get(operation)
        if build is None:
            raise InvalidInputError(f"unknown write operation: {operation!r}", field="operation")
        return self._write_order(tenant, operation, args["order_id"], build(args), expect)

    def _write_customer(
        self, tenant: str, customer_id: str, address: Address, expect: Expect | None = None
    ) -> DryRun:
        t = self._tenants.get(tenant)
        doc = _tau_address(address)
        zip_code = _zip_column(address.zip)
        with self._sessions.begin() as s:
            if not _lock_customer(s, t.id, customer_id):
                raise CustomerNotFound("id", customer_id)
            run = _readdressed(customer_id, _customer_doc(s, t.id, customer_id), doc)
            if expect is not None:
                expect(run)  # raises: rolled back, nothing written
            s.execute(
                update(ShopCustomerRow)
                .where(*_customer_row(t.id, customer_id))
                .values(doc=run.customer_after, zip=zip_code)
            )
        return run

    def _write_order(
        self,
        tenant: str,
        operation: str,
        order_id: str,
        rule: _Rule,
        expect: Expect | None = None,
    ) -> DryRun:
        """Lock the order and its customer, apply ``rule`` to copies of their documents and the
        products of the order's items, and store both; all in one transaction."""
        t = self._tenants.get(tenant)
        with self._sessions.begin() as s:
            if not _lock_order(s, t.id, order_id):
                raise OrderNotFound(order_id)
            stored = s.scalar(select(ShopOrderRow.doc).where(*_order_row(t.id, order_id)))
            if stored is None:  # pragma: no cover - the row was just locked
                raise OrderNotFound(order_id)
            order: Doc = copy.deepcopy(stored)
            customer_id = order["user_id"]
            _lock_customer(s, t.id, customer_id)
            user = _customer_doc(s, t.id, customer_id)
            run = _apply(s, t.id, operation, rule, order, user)
            if expect is not None:
                expect(run)  # raises: rolled back, nothing written
            if run.refusal is not None:
                raise run.refusal  # rolled back, nothing written
            assert run.order_after is not None
            s.execute(
                update(ShopOrderRow)
                .where(*_order_row(t.id, order_id))
                .values(doc=run.order_after, status=run.order_after["status"])
            )
            s.execute(
                update(ShopCustomerRow)
                .where(*_customer_row(t.id, customer_id))
                .values(doc=run.customer_after)
            )
        return run


def _order(run: DryRun) -> Order:
    """The order as an order write stored it."""
    return Order.from_tau(run.order_after or {})


# Public names of the rules for other connectors: the HTTP connector
# (:mod:`kefu.connectors.http_shop`) computes its dry runs locally with the very same rule
# functions. Plain aliases: same objects, same behaviour.
Rule = _Rule
RULE_BUILDERS = _RULE_BUILDERS
tau_address = _tau_address
readdressed = _readdressed
