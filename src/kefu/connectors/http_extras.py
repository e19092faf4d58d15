"""The shop extensions over HTTP: freight on an address change, partial and combined refunds,
merges and coupons (docs/shop-extensions.md) on a merchant's REST API.

They work exactly as the seven tau writes of :mod:`kefu.connectors.http_shop` do:

- the preview (``dry_run``) is computed **locally** with the embedded shop's own rule functions
  (:mod:`kefu.connectors.embedded_extras`) on the merchant's records, read by GET: the orders
  the write names, their customer, the products of their items and the merchant's shop rules
  document (``reads.shop_rules``: freight table, coupon templates, mapped by ``fields``). Same
  records, same rules, so the same amounts (freight differences, refund totals, coupon values)
  and the same fingerprint as the embedded shop;
- the write is sent only when our rules allow it, with the operation's idempotency key, to the
  merchant file's ``writes.refund_order`` / ``refund_orders`` / ``merge_orders`` /
  ``issue_coupon`` template (an address change goes to ``writes.modify_order_address`` as
  before: the merchant recomputes its own freight, our preview shows what it should be);
- the records after are the merchant's answer (an order; the orders of a combined refund as a
  list; the customer for a coupon), else read again, else the rule's prediction.

A shop without ``reads.shop_rules`` (or whose rules read answers 404) has no rules: address
changes are tau's, coupons are refused (``coupons_not_configured``), as on the embedded shop
without a rules document. An extension write the merchant file does not declare cannot be
previewed (:class:`~kefu.errors.MerchantError` naming the missing key).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from kefu.connectors.embedded_extras import (
    EXTRA_OPERATIONS,
    ExtensionWrites,
    ExtrasDryRun,
    extras_plan,
    run_plan,
    shop_today,
)
from kefu.connectors.embedded_extras_rules import ShopRules, validate_rules
from kefu.connectors.embedded_writes import DryRun, Expect
from kefu.connectors.http_config import MerchantConfig
from kefu.connectors.http_mapping import FieldMap
from kefu.errors import KefuError, MerchantError
from kefu.operations.requests import request_from_args

if TYPE_CHECKING:
    from kefu.connectors.http_client import Reply

Doc = dict[str, Any]
# Writes whose answer is the customer (the others answer with an order, or a list of orders).
CUSTOMER_WRITES = frozenset({"modify_customer_address", "issue_coupon"})
_LINE_KEYS = ("order_id", "amount", "payment_method_id")


def request_body(operation: str, arguments: Mapping[str, Any]) -> Doc:
    """A write's arguments (as the operation layer's dry run takes them: Address objects,
    Decimals, refund lines as tuples) as JSON, exactly as the ledger stores them: the typed
    request's ``to_args`` (amounts as exact text, ``"30.50"``). Raises InvalidInputError."""
    args = dict(arguments)
    refunds = args.get("refunds")
    if isinstance(refunds, list | tuple):
        args["refunds"] = [
            line if isinstance(line, Mapping) else dict(zip(_LINE_KEYS, line, strict=False))
            for line in refunds
        ]
    return request_from_args(operation, args).to_args()


class HttpShopExtras(ExtensionWrites):
    """The shop-extension half of :class:`~kefu.connectors.http_shop.HttpShop` (a mixin over
    its reads and its write): the rules document, the extension dry runs and the
    :class:`~kefu.connectors.port.ShopWriter` methods ``refund_order``, ``refund_orders``,
    ``merge_orders`` and ``issue_coupon``. ``today`` gives the shop's date for coupons
    (UTC+8, as the embedded shop; replace it in tests)."""

    config: MerchantConfig
    _map: FieldMap
    today: Callable[[], date] = staticmethod(shop_today)

    if TYPE_CHECKING:

        def _read(self, tenant: str, name: str, params: Mapping[str, Any], what: str) -> Reply: ...

        def _body(self, reply: Reply, what: str) -> Any: ...

        def _order_doc(self, tenant: str, order_id: str) -> Doc: ...

        def _customer_doc(self, tenant: str, customer_id: str) -> Doc: ...

        def _product_doc(self, tenant: str, product_id: str) -> Doc: ...

        def write(
            self,
            tenant: str,
            operation: str,
            arguments: Mapping[str, Any],
            *,
            expect: Expect | None = None,
            idempotency_key: str | None = None,
        ) -> DryRun: ...

    # -- the rules document ----------------------------------------------------------------
    def rules_doc(self, tenant: str) -> Doc | None:
        """The merchant's shop rules as our rules document (``shop_rules.json``'s shape,
        checked as an import checks it); None when the merchant file declares no
        ``reads.shop_rules`` or the merchant answers 404. Raises MerchantError for a document
        that does not fit."""
        if "shop_rules" not in self.config.reads:
            return None
        reply = self._read(tenant, "shop_rules", {}, "the shop rules")
        if reply.status == 404:
            return None
        raw = self._body(reply, "the shop rules")
        try:
            return validate_rules(self._map.rules(raw), f"{self.config.file}: reads.shop_rules")
        except (KefuError, KeyError, TypeError, ValueError, AttributeError) as exc:
            place = getattr(exc, "place", None)
            where = f" at {place}" if place else ""
            raise MerchantError(
                f"the merchant's shop rules do not match the field mapping of "
                f"{self.config.file}{where}"
            ) from None

    def rules(self, tenant: str) -> ShopRules | None:
        """The merchant's typed shop rules (None: it has none), as
        :meth:`EmbeddedShop.rules <kefu.connectors.embedded.EmbeddedShop.rules>` gives the
        embedded shop's (the dialogue reads the delay coupon from it)."""
        return ShopRules.from_doc(self.rules_doc(tenant))

    # -- dry runs --------------------------------------------------------------------------
    def _extras_dry_run(
        self, tenant: str, operation: str, args: Mapping[str, Any]
    ) -> ExtrasDryRun | None:
        """The dry run of a shop-extension write (an address change on a shop with a freight
        table included) on the merchant's records now; None for tau's writes as they are."""
        if operation not in EXTRA_OPERATIONS and operation != "modify_order_address":
            return None
        if operation not in self.config.writes:
            raise MerchantError(
                f"{self.config.file} declares no writes.{operation}: this merchant's API "
                "cannot do it"
            )
        rules = self.rules_doc(tenant)
        plan = extras_plan(operation, args, ShopRules.from_doc(rules), self.today())
        if plan is None:
            return None
        orders = {o: self._order_doc(tenant, o) for o in plan.order_ids}
        customer_id = plan.customer_id or orders[plan.order_ids[0]]["user_id"]
        user = self._customer_doc(tenant, customer_id)
        lookups = {o: self._order_doc(tenant, o) for o in plan.lookups}
        product_ids = sorted(
            {item["product_id"] for order in orders.values() for item in order["items"]}
        )
        products = {pid: self._product_doc(tenant, pid) for pid in product_ids}
        return run_plan(operation, plan, orders, customer_id, user, products, rules, lookups)
