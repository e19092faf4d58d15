"""The HTTP shop: the connector port over a merchant's REST API (declared in a merchant YAML).

Reads (:class:`~kefu.connectors.port.ShopReader`) GET the merchant's records, map their field
names to ours (:mod:`kefu.connectors.http_mapping`) and build the port's objects from them.

Writes are decided here, as for the embedded shop, and sent to the merchant only when our rules
allow them:

- :meth:`HttpShop.dry_run` GETs the order, its customer and the products of its items as
  documents and runs the *same* rule functions the embedded shop runs
  (:data:`~kefu.connectors.embedded_writes.RULE_BUILDERS`) on copies: previews and refusals
  are computed locally, nothing is sent.
- :meth:`HttpShop.write` reads again, gives that dry run to ``expect`` (the operation layer's
  preview-fingerprint guard), and only then sends the write with its ``Idempotency-Key``. It
  returns the records before (as read) and after (the record the merchant returned; for an
  order write the customer after is the rule's result, e.g. a gift card's new balance).

The guard is best-effort over HTTP: there is no lock across the merchant's API, so a change the
merchant accepts between our read and its write is not seen. What prevents a *double* write is
the merchant's idempotency-key handling: every write carries a key, a retry (ours after a
connection error or 502/503/504, or the operation layer's after an unknown outcome) carries the
same key, and the merchant answers a known key with its stored first response.
:meth:`HttpShop.recorded_write` reads the merchant's record of a key (when the merchant file
declares ``idempotency.lookup``) so the operation layer can reconcile an unknown outcome.

The shop extensions (freight on an address change, partial and combined refunds, merges,
coupons) are previewed and written the same way; their part is :mod:`kefu.connectors.http_extras`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

import httpx

from kefu.connectors.embedded_extras import ExtrasDryRun
from kefu.connectors.embedded_writes import (
    RULE_BUILDERS,
    DryRun,
    Expect,
    apply_rule,
    readdressed,
    tau_address,
)
from kefu.connectors.http_client import MerchantClient, Reply, dig
from kefu.connectors.http_config import Endpoint, MerchantConfig
from kefu.connectors.http_extras import CUSTOMER_WRITES, HttpShopExtras, request_body
from kefu.connectors.http_mapping import FieldMap
from kefu.connectors.port import (
    Address,
    Customer,
    Order,
    Product,
    Shipment,
    Variant,
    filter_products,
    find_variant,
    normalise_email,
    normalise_phone,
)
from kefu.errors import (
    CustomerNotFound,
    InvalidInputError,
    KefuError,
    MerchantError,
    OperationRefused,
    OrderNotFound,
    ProductNotFound,
)
from kefu.operations.execute import KeyLookup
from kefu.operations.preview import Refusal
from kefu.storage.tenants import TenantRepository

Doc = dict[str, Any]
_T = TypeVar("_T")


def _target_order(arguments: Mapping[str, Any]) -> object:
    """The order a write targets: its ``order_id``, the first of ``order_ids`` (a merge) or
    of the ``refunds`` lines (a combined refund, lines as mappings or tuples)."""
    if arguments.get("order_id"):
        return arguments["order_id"]
    for key in ("order_ids", "refunds"):
        for first in arguments.get(key) or ():
            if isinstance(first, Mapping):
                return first.get("order_id")
            return first[0] if isinstance(first, tuple | list) else first
    return None


class HttpShop(HttpShopExtras):
    """A :class:`~kefu.connectors.port.ShopConnector` over a merchant's REST API, and an
    :class:`~kefu.operations.execute.OperationsShop` (dry runs, guarded writes with
    idempotency keys, lookups of a key), the shop extensions included
    (:class:`~kefu.connectors.http_extras.HttpShopExtras`). ``tenants``, when given, makes
    unknown tenants raise TenantNotFound; a template may use ``{tenant}``."""

    def __init__(
        self,
        config: MerchantConfig,
        tenants: TenantRepository | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self._tenants = tenants
        self._client = MerchantClient(config, transport)
        self._map = FieldMap(config.fields)

    def close(self) -> None:
        self._client.close()

    # -- plumbing ------------------------------------------------------------------------
    def _check_tenant(self, tenant: str) -> None:
        if self._tenants is not None:
            self._tenants.get(tenant)

    def _read(self, tenant: str, name: str, params: Mapping[str, Any], what: str) -> Reply:
        self._check_tenant(tenant)
        endpoint = self.config.reads.get(name)
        if endpoint is None:
            raise MerchantError(
                f"{self.config.file} declares no reads.{name}: cannot look up {what}"
            )
        return self._client.get(endpoint, {"tenant": tenant, **params}, what)

    def _body(self, reply: Reply, what: str) -> Any:
        if reply.status == 409 or reply.status == 422:
            raise MerchantError(
                f"the merchant API answered HTTP {reply.status} to {what}", http_status=reply.status
            )
        body = dig(reply.body, self.config.response_root)
        if body is None:
            raise MerchantError(f"the merchant API sent no usable body for {what}")
        return body

    def _convert(self, what: str, build: Callable[[Any], _T], raw: Any) -> _T:
        """``build(raw)``; a reply that does not fit our documents is a MerchantError."""
        try:
            return build(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"missing {exc.args[0]!r}" if isinstance(exc, KeyError) else type(exc).__name__
            raise MerchantError(
                f"the merchant's {what} does not match the field mapping of "
                f"{self.config.file} ({detail})"
            ) from None

    def _order_of(self, raw: Any) -> Order:
        return Order.from_tau(self._map.order(raw))

    def _product_of(self, raw: Any) -> Product:
        return Product.from_tau(self._map.product(raw))

    def _order_doc(self, tenant: str, order_id: str) -> Doc:
        reply = self._read(tenant, "order", {"order_id": order_id}, "an order")
        if reply.status == 404:
            raise OrderNotFound(order_id)
        raw = self._body(reply, "an order")
        doc = self._convert("order", self._map.order, raw)
        self._convert("order", Order.from_tau, doc)
        return doc

    def _customer_doc(self, tenant: str, customer_id: str) -> Doc:
        reply = self._read(tenant, "customer", {"customer_id": customer_id}, "a customer")
        if reply.status == 404:
            raise CustomerNotFound("id", customer_id)
        raw = self._body(reply, "a customer")
        doc = self._convert("customer", self._tau_customer, raw)
        self._convert("customer", partial(Customer.from_tau, customer_id), doc)
        return doc

    def _tau_customer(self, raw: Any) -> Doc:
        """A customer document as tau keeps it: without its own id (tau keys customers by
        id)."""
        doc = self._map.customer(raw)
        doc.pop("user_id", None)
        return doc

    def _product_doc(self, tenant: str, product_id: str) -> Doc:
        reply = self._read(tenant, "product", {"product_id": product_id}, "a product")
        if reply.status == 404:
            raise ProductNotFound(product_id)
        raw = self._body(reply, "a product")
        doc = self._convert("product", self._map.product, raw)
        self._convert("product", Product.from_tau, doc)
        return doc

    def _customer(self, doc: Doc, fallback_id: str | None = None) -> Customer:
        customer_id = str(doc.get("user_id") or fallback_id or "")
        return self._convert("customer", partial(Customer.from_tau, customer_id), doc)

    def _search(
        self,
        tenant: str,
        name: str,
        params: Mapping[str, Any],
        by: str,
        match: Callable[[Customer], bool],
    ) -> Customer:
        reply = self._read(tenant, name, params, "a customer")
        if reply.status == 404:
            raise CustomerNotFound(by)
        body = self._body(reply, "a customer")
        found = body if isinstance(body, list) else [body]
        for raw in found:
            customer = self._customer(self._convert("customer", self._map.customer, raw))
            if match(customer):
                return customer
        raise CustomerNotFound(by)

    # -- ShopReader ----------------------------------------------------------------------
    def find_customer_by_email(self, tenant: str, email: str) -> Customer:
        wanted = normalise_email(email)
        return self._search(
            tenant,
            "customer_by_email",
            {"email": email.strip()},
            "email",
            lambda c: normalise_email(c.email) == wanted,
        )

    def find_customer_by_name_zip(
        self, tenant: str, first_name: str, last_name: str, zip: str
    ) -> Customer:
        first, last = first_name.strip().casefold(), last_name.strip().casefold()
        return self._search(
            tenant,
            "customer_by_name_zip",
            {"first_name": first_name.strip(), "last_name": last_name.strip(), "zip": zip.strip()},
            "name_zip",
            lambda c: (
                c.first_name.strip().casefold() == first
                and c.last_name.strip().casefold() == last
                and c.address.zip.strip() == zip.strip()
            ),
        )

    def find_customer_by_phone(self, tenant: str, phone: str) -> Customer:
        digits = normalise_phone(phone)
        if not digits:
            raise CustomerNotFound("phone")
        return self._search(
            tenant,
            "customer_by_phone",
            {"phone": digits},
            "phone",
            lambda c: c.phone is not None and normalise_phone(c.phone) == digits,
        )

    def customer(self, tenant: str, customer_id: str) -> Customer:
        return self._customer(self._customer_doc(tenant, customer_id), customer_id)

    def order(self, tenant: str, order_id: str) -> Order:
        wanted = order_id.strip()
        try:
            return Order.from_tau(self._order_doc(tenant, wanted))
        except OrderNotFound:
            if wanted.startswith("#"):
                raise
        try:
            return Order.from_tau(self._order_doc(tenant, "#" + wanted))
        except OrderNotFound:
            raise OrderNotFound(order_id) from None

    def orders_of_customer(self, tenant: str, customer_id: str) -> list[Order]:
        if "orders_of_customer" not in self.config.reads:
            customer = self.customer(tenant, customer_id)
            return [Order.from_tau(self._order_doc(tenant, o)) for o in customer.order_ids]
        reply = self._read(tenant, "orders_of_customer", {"customer_id": customer_id}, "orders")
        if reply.status == 404:
            raise CustomerNotFound("id", customer_id)
        body = self._body(reply, "orders")
        if not isinstance(body, list):
            raise MerchantError("the merchant API did not send a list of orders")
        return [self._convert("order", self._order_of, raw) for raw in body]

    def tracking(self, tenant: str, order_id: str) -> tuple[Shipment, ...]:
        return self.order(tenant, order_id).fulfillments

    def product(self, tenant: str, product_id: str) -> Product:
        return Product.from_tau(self._product_doc(tenant, product_id))

    def _products(self, tenant: str) -> list[Product]:
        body = self._body(self._read(tenant, "products", {}, "the products"), "the products")
        raws = list(body.values()) if isinstance(body, Mapping) else body
        if not isinstance(raws, list):
            raise MerchantError("the merchant API did not send a list of products")
        return [self._convert("product", self._product_of, raw) for raw in raws]

    def variant(self, tenant: str, item_id: str) -> tuple[Product, Variant]:
        if "variant" in self.config.reads:
            reply = self._read(tenant, "variant", {"item_id": item_id}, "an item")
            if reply.status != 404:
                raw = self._body(reply, "an item")
                product = self._convert("product", self._product_of, raw)
                found = product.variant(item_id)
                if found is not None:
                    return product, found
            raise ProductNotFound(item_id, field="item_id")
        return find_variant(self._products(tenant), item_id)

    def list_products(
        self, tenant: str, *, name: str | None = None, in_stock: bool | None = None
    ) -> list[Product]:
        return filter_products(self._products(tenant), name=name, in_stock=in_stock)

    # -- dry runs and writes (the operation layer) ----------------------------------------
    def dry_run(self, tenant: str, operation: str, arguments: Mapping[str, Any]) -> DryRun:
        """The rule of ``operation`` run locally on the records as the merchant sends them now
        (order, customer, products of the order's items; for the shop extensions also the
        other orders named and the shop rules); nothing is sent. Raises OrderNotFound /
        CustomerNotFound / MerchantError; a refusal is returned in ``refusal``."""
        args = dict(arguments)
        extras = self._extras_dry_run(tenant, operation, args)
        if extras is not None:
            return extras
        if operation == "modify_customer_address":
            customer_id = args["customer_id"]
            user = self._customer_doc(tenant, customer_id)
            address = args["address"]
            doc = tau_address(address) if isinstance(address, Address) else dict(address)
            return readdressed(customer_id, user, doc)
        build = RULE_BUILDERS.get(operation)
        if build is None:
            raise InvalidInputError(f"unknown write operation: {operation!r}", field="operation")
        order = self._order_doc(tenant, args["order_id"])
        user = self._customer_doc(tenant, order["user_id"])
        product_ids = sorted({item["product_id"] for item in order["items"]})
        products = {pid: self._product_doc(tenant, pid) for pid in product_ids}
        return apply_rule(operation, build(args), order, user, products)

    def write(
        self,
        tenant: str,
        operation: str,
        arguments: Mapping[str, Any],
        *,
        expect: Expect | None = None,
        idempotency_key: str | None = None,
    ) -> DryRun:
        """Read again (:meth:`dry_run`), let ``expect`` stop the write, refuse what our rules
        refuse, then send it with ``idempotency_key`` (a fresh one when None). Returns the
        records before and after. Raises OperationRefused (ours or the merchant's 409/422),
        OrderNotFound / CustomerNotFound, MerchantError (certainly not applied) or
        WriteOutcomeUnknown (maybe applied)."""
        run = self.dry_run(tenant, operation, arguments)
        if expect is not None:
            expect(run)
        if run.refusal is not None:
            raise run.refusal
        key = idempotency_key or f"kefu-{uuid.uuid4().hex}"
        body = request_body(operation, arguments)
        what = f"the write {operation}"
        reply = self._client.write(
            self.config.writes[operation],
            self._placeholders(tenant, body, run),
            self._map.request(body),
            key,
            what,
        )
        if reply.status == 404:
            if operation in CUSTOMER_WRITES:
                raise CustomerNotFound("id", run.customer_id)
            raise OrderNotFound(str((run.order_before or {}).get("order_id", "")))
        if reply.status in (409, 422):
            raise self._refusal(reply.body, reply.status, what)
        return self._written(tenant, operation, reply.body, run)

    @staticmethod
    def _placeholders(tenant: str, body: Mapping[str, Any], run: DryRun) -> dict[str, Any]:
        """What a write's URL template may name: the tenant, the body's text arguments, the
        customer and the (first) order."""
        params: dict[str, Any] = {"customer_id": run.customer_id}
        if run.order_before is not None:
            params["order_id"] = run.order_before["order_id"]
        params.update({k: v for k, v in body.items() if isinstance(v, str)})
        return {"tenant": tenant, **params}

    def _refusal(self, body: Any, status: int, what: str) -> KefuError:
        reason = dig(body, self.config.refusal.reason)
        message = dig(body, self.config.refusal.message)
        if isinstance(reason, str) and reason:
            return OperationRefused(reason, str(message or reason), merchant_status=status)
        return MerchantError(
            f"the merchant API answered HTTP {status} to {what} without a refusal reason; "
            "nothing was written",
            http_status=status,
        )

    def _answered(self, operation: str, raw: Any) -> list[Doc]:
        """The records a write's answer holds, in our names: the customer (a customer write),
        else the order, or each order of a list. Raises ValueError (and friends) when the
        answer does not fit."""
        body = dig(raw, self.config.response_root)
        if operation in CUSTOMER_WRITES:
            doc = self._tau_customer(body)
            Customer.from_tau("", doc)
            return [doc]
        docs = []
        for found in body if isinstance(body, list) else [body]:
            doc = self._map.order(found)
            Order.from_tau(doc)
            docs.append(doc)
        return docs

    def _written(self, tenant: str, operation: str, raw: Any, run: DryRun) -> DryRun:
        """``run`` with the records after a write the merchant applied: from its answer, else
        read again, else the rule's result. Never raises: the write happened."""
        try:
            answered = self._answered(operation, raw)
        except (KeyError, TypeError, ValueError, AttributeError):
            answered = []
        if operation in CUSTOMER_WRITES:
            after = answered[0] if answered else None
            if after is None:
                after = self._again(lambda: self._customer_doc(tenant, run.customer_id))
            return replace(run, customer_after=after or run.customer_after)
        by_id = {doc.get("order_id"): doc for doc in answered}

        def order_after(order_id: str, predicted: Doc | None) -> Doc:
            found = by_id.get(order_id) or self._again(lambda: self._order_doc(tenant, order_id))
            return found or predicted or {}

        assert run.order_before is not None
        target = run.order_before["order_id"]
        if target not in by_id and len(answered) == 1 and operation != "refund_orders":
            by_id[target] = answered[0]  # the merchant's answer is the order written
        changes: dict[str, Any] = {"order_after": order_after(target, run.order_after)}
        if isinstance(run, ExtrasDryRun) and run.others_after:
            changes["others_after"] = {
                order_id: order_after(order_id, predicted)
                for order_id, predicted in run.others_after.items()
            }
        return replace(run, **changes)

    @staticmethod
    def _again(read: Callable[[], Doc]) -> Doc | None:
        try:
            return read()
        except KefuError:
            return None

    def recorded_write(
        self, tenant: str, operation: str, arguments: Mapping[str, Any], idempotency_key: str
    ) -> KeyLookup | None:
        """The merchant's record of the write sent with ``idempotency_key`` (from
        ``idempotency.lookup``; None when the merchant file declares none). Raises
        MerchantError when the lookup fails."""
        endpoint: Endpoint | None = self.config.lookup
        if endpoint is None:
            return None
        self._check_tenant(tenant)
        reply = self._client.get(
            endpoint, {"tenant": tenant, "key": idempotency_key}, "an idempotency record"
        )
        if reply.status == 404:
            return KeyLookup("absent")
        if reply.status == 409:
            return KeyLookup("pending")
        if reply.status == 422:
            raise MerchantError("the merchant API answered HTTP 422 to an idempotency lookup")
        found = dig(reply.body, self.config.response_root)
        status = dig(found, self.config.lookup_status_field)
        stored = dig(found, self.config.lookup_body_field)
        if not isinstance(status, int):
            raise MerchantError("the merchant's idempotency record has no HTTP status")
        if 200 <= status < 300:
            docs = self._convert("stored answer", partial(self._answered, operation), stored)
            wanted = _target_order(arguments)
            record = next((d for d in docs if d.get("order_id") == wanted), docs[0])
            return KeyLookup("applied", record=record)
        if status in (409, 422):
            refused = self._refusal(stored, status, "a stored write")
            if isinstance(refused, OperationRefused):
                return KeyLookup("refused", refusal=Refusal(refused.reason, refused.message))
        # Any other stored answer: the write was not applied; sending it again with the same key
        # gets that stored answer back.
        return KeyLookup("absent")

    # -- ShopWriter (each call with a fresh idempotency key) -------------------------------
    def _order_write(self, tenant: str, operation: str, arguments: Doc) -> Order:
        run = self.write(tenant, operation, arguments)
        return Order.from_tau(run.order_after or {})

    def cancel_order(self, tenant: str, order_id: str, reason: str) -> Order:
        return self._order_write(tenant, "cancel_order", {"order_id": order_id, "reason": reason})

    def modify_order_address(self, tenant: str, order_id: str, address: Address) -> Order:
        return self._order_write(
            tenant, "modify_order_address", {"order_id": order_id, "address": address}
        )

    def modify_order_items(
        self,
        tenant: str,
        order_id: str,
        item_ids: Sequence[str],
        new_item_ids: Sequence[str],
        payment_method_id: str,
    ) -> Order:
        args = {
            "order_id": order_id,
            "item_ids": list(item_ids),
            "new_item_ids": list(new_item_ids),
            "payment_method_id": payment_method_id,
        }
        return self._order_write(tenant, "modify_order_items", args)

    def modify_order_payment(self, tenant: str, order_id: str, payment_method_id: str) -> Order:
        args = {"order_id": order_id, "payment_method_id": payment_method_id}
        return self._order_write(tenant, "modify_order_payment", args)

    def return_order_items(
        self, tenant: str, order_id: str, item_ids: Sequence[str], payment_method_id: str
    ) -> Order:
        args = {
            "order_id": order_id,
            "item_ids": list(item_ids),
            "payment_method_id": payment_method_id,
        }
        return self._order_write(tenant, "return_order_items", args)

    def exchange_order_items(
        self,
        tenant: str,
        order_id: str,
        item_ids: Sequence[str],
        new_item_ids: Sequence[str],
        payment_method_id: str,
    ) -> Order:
        args = {
            "order_id": order_id,
            "item_ids": list(item_ids),
            "new_item_ids": list(new_item_ids),
            "payment_method_id": payment_method_id,
        }
        return self._order_write(tenant, "exchange_order_items", args)

    def modify_customer_address(self, tenant: str, customer_id: str, address: Address) -> Customer:
        run = self.write(
            tenant, "modify_customer_address", {"customer_id": customer_id, "address": address}
        )
        return Customer.from_tau(customer_id, run.customer_after)
