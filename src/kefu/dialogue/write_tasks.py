"""The L3 tasks of the dialogue: shop writes behind a preview and an explicit confirmation.

:class:`WriteTasks` extends the read-only :class:`~kefu.dialogue.tasks.ShopTasks` with

- validators that turn what the customer said into write arguments: ``order_items`` (one or
  several items of the order: by ordinal "第2件", by name in either language, "全部"),
  ``new_variant`` (the variant wanted instead of an item: "换成同款青轴的", "same boots but
  waterproof": the item's options with the ones said replaced), ``payment_method`` (by brand and
  last digits, by type, or "原路退回": the order's original method), ``new_address`` (a Chinese
  or a US street address), ``cancel_reason``, ``pending_orders`` (orders to merge), and
  ``own_order`` extended to "the order with the boots" / "the one ending in 66"; text values
  (an LLM's ``set_slot``) are read with the entity extractor;
- read operations ``price_difference`` (价保: the paid price against today's) and
  ``delivery_delay`` (late against ``delivery_promise_days``, and the shop's delay coupon);
- ``preview_write`` / ``execute_write``, the engine's ``write`` step: a preview through the
  operation layer (:class:`~kefu.operations.execute.Operations`, recorded in the ledger), then
  the execution of exactly the confirmed preview, once per conversation and preview
  (idempotency key), with the approval queue for high-risk writes.

Code decides, whatever the understanding proposed: a write needs an identified customer and
only ever touches that customer's orders and address; the shop's rules (statuses, one items
modification, refund methods) refuse the rest, and the refusal is told, not retried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from kefu.connectors.port import Address, Customer, Order, ShopReader
from kefu.dialogue.engine import Validation
from kefu.dialogue.state import DialogueState, Frame
from kefu.dialogue.tasks import Label, ShopTasks, _matches, _options_text
from kefu.errors import NotFoundError
from kefu.operations.eligibility import aware
from kefu.operations.execute import Confirmation, Operations
from kefu.operations.preview import Preview
from kefu.operations.preview import preview as compute_preview
from kefu.operations.requests import address_to_json, request_from_args
from kefu.operations.wording import SOURCE_NAMES
from kefu.understanding.write_values import cancel_reason, payment_value, write_value

CANCEL_REASONS = ("no longer needed", "ordered by mistake")
# The order statuses each built-in write flow can change: "the order with the boots" prefers
# those orders when the customer has several.
_FLOW_STATUSES = {
    "return_items": ("delivered",),
    "exchange_items": ("delivered",),
    "cancel_order": ("pending",),
    "modify_items": ("pending",),
    "change_order_address": ("pending",),
    "change_payment": ("pending",),
}
# Arguments naming a payment method that default to the order's original one when not said.
_PAYMENT_DEFAULTS = {
    "return_order_items",
    "exchange_order_items",
    "modify_order_items",
}


class WriteTasks(ShopTasks):
    """Read tasks plus the L3 writes of one conversation (implements ``engine.Tasks``)."""

    WRITE_OPERATIONS = ("price_difference", "delivery_delay")
    WRITE_VALIDATORS = (
        "order_items",
        "new_variant",
        "payment_method",
        "new_address",
        "cancel_reason",
        "pending_orders",
    )

    def __init__(
        self,
        shop: ShopReader,
        tenant: str,
        label: Label,
        now: datetime,
        return_window_days: int = 7,
        *,
        operations: Operations | None = None,
        conversation_id: str | None = None,
        currency: str = "",
        price_protection_days: int = 7,
        delivery_promise_days: int = 4,
        extract: Callable[[str], Sequence[Any]] | None = None,
    ) -> None:
        super().__init__(shop, tenant, label, now, return_window_days)
        self.operations = operations
        self.conversation_id = conversation_id
        self.currency = currency
        self.price_protection_days = price_protection_days
        self.delivery_promise_days = delivery_promise_days
        self.extract = extract  # entities of a text value (an LLM's slot value is text)

    def operation_names(self) -> set[str]:
        return super().operation_names() | set(self.WRITE_OPERATIONS)

    def call(
        self, name: str, args: dict[str, Any], state: DialogueState, language: str
    ) -> dict[str, Any]:
        if name == "price_difference":
            return self._price_difference(str(args["order_id"]), str(args["item"]), state)
        if name == "delivery_delay":
            return self._delivery_delay(str(args["order_id"]), state)
        return super().call(name, args, state, language)

    def _delivery_delay(self, order_id: str, state: DialogueState) -> dict[str, Any]:
        """Is the order late (not delivered ``delivery_promise_days`` after it was placed, or
        delivered later than that)? With the shop's coupon template for delay compensation:
        ``late`` and ``coupon``; else ``reason`` (``not_late``, ``off``, ``no_coupon``,
        ``cancelled``)."""
        order = self.shop.order(self.tenant, order_id)
        if order.customer_id != state.customer_id:
            raise PermissionError("order of another customer")
        view: dict[str, Any] = {"late": False, "promise_days": self.delivery_promise_days}
        placed, arrived = order.created_at, order.delivered_at
        took = None
        if placed is not None:
            took = ((aware(arrived) if arrived else aware(self.now)) - aware(placed)).days
        view["days"] = took
        rules = getattr(self.shop, "rules", None)
        found = rules(self.tenant) if callable(rules) else None
        coupon = next(
            (
                c
                for c in (found.coupons.values() if found else ())
                if "delay_compensation" in c.reasons
            ),
            None,
        )
        if not self.delivery_promise_days:
            view["reason"] = "off"
        elif order.status == "cancelled":
            view["reason"] = "cancelled"
        elif took is None or took < self.delivery_promise_days:
            view["reason"] = "not_late"
        elif coupon is None:
            view["reason"] = "no_coupon"
        else:
            view.update(
                late=True,
                coupon=coupon.id,
                coupon_name=coupon.name,
                value=f"{coupon.face_value:.2f}",
            )
        return view

    def _price_difference(
        self, order_id: str, item_id: str, state: DialogueState
    ) -> dict[str, Any]:
        """价保: what the item was paid and what the same variant costs now; ``refundable``
        with ``amount`` (the difference) when it dropped within ``price_protection_days`` of the
        order, else ``reason`` (``no_drop``, ``expired``, ``off``, ``status``)."""
        order = self.shop.order(self.tenant, order_id)
        if order.customer_id != state.customer_id:
            raise PermissionError("order of another customer")
        item = order.item(item_id)
        if item is None:
            raise KeyError(item_id)
        _product, variant = self.shop.variant(self.tenant, item.item_id)
        view: dict[str, Any] = {
            "refundable": False,
            "name": item.name,
            "paid": f"{item.price:.2f}",
            "now": f"{variant.price:.2f}",
            "days": self.price_protection_days,
            "payment_method_id": order_payment_method(order),
        }
        placed = order.created_at
        if not self.price_protection_days:
            view["reason"] = "off"
        elif order.status not in ("processed", "delivered"):
            view["reason"] = "status"
        elif (
            placed is not None
            and (aware(self.now) - aware(placed)).days > self.price_protection_days
        ):
            view["reason"] = "expired"
        elif variant.price >= item.price:
            view["reason"] = "no_drop"
        else:
            view.update(refundable=True, amount=f"{item.price - variant.price:.2f}")
        return view

    def validator_names(self) -> set[str]:
        return super().validator_names() | set(self.WRITE_VALIDATORS)

    def customer_view(self, customer_id: str) -> dict[str, Any]:
        view = super().customer_view(customer_id)
        if self.operations is not None:  # L3: the payment methods a write may name
            customer = self.shop.customer(self.tenant, customer_id)
            view["methods"] = _methods_text(customer, "zh")
            view["methods_en"] = _methods_text(customer, "en")
        return view

    # -- validators ---------------------------------------------------------------------------
    def validate(self, name: str, value: Any, frame: Frame, state: DialogueState) -> Validation:
        if name == "order_items":
            return self._order_items(value, frame)
        if name == "new_variant":
            return self._new_variant(value, frame)
        if name == "payment_method":
            return self._payment_method(value, frame, state)
        if name == "new_address":
            return self._new_address(value, frame, state)
        if name == "cancel_reason":
            return _cancel_reason(value)
        if name == "pending_orders":
            return self._pending_orders(value, state)
        if name == "own_order" and isinstance(value, dict):
            return self._order_with(value, frame, state)
        return super().validate(name, value, frame, state)

    def _order_with(
        self, value: Mapping[str, Any], frame: Frame, state: DialogueState
    ) -> Validation:
        """The order "with the boots": the identified customer's order holding that product
        (among several, the ones the task can change: delivered ones for a return); still
        several: list them and ask which ("the second one" then picks)."""
        suffix = str(value.get("id_suffix") or "")
        product = str(value.get("product_id") or "")
        if state.customer_id is None or not (product or suffix):
            return Validation(False, problem="missing")
        orders = [
            o
            for o in self.shop.orders_of_customer(self.tenant, state.customer_id)
            if (suffix and o.id.endswith(suffix))
            or (product and any(it.product_id == product for it in o.items))
        ]
        fitting = [o for o in orders if o.status in _FLOW_STATUSES.get(frame.flow, ())]
        orders = fitting or orders
        if len(orders) == 1:
            state.context["order_id"] = orders[0].id
            return Validation(True, orders[0].id)
        if not orders:
            return Validation(
                False, problem="order_with_missing", results={"text": value.get("text", "")}
            )
        state.context["list"] = {"kind": "order_id", "values": [o.id for o in orders]}
        choices = "; ".join(f"{i}. {o.id} ({o.status})" for i, o in enumerate(orders, 1))
        return Validation(False, problem="order_ambiguous", results={"choices": choices})

    def _pending_orders(self, value: Any, state: DialogueState) -> Validation:
        """Two or more of the customer's orders to merge: the ids named, or all pending."""
        if state.customer_id is None:
            return Validation(False, problem="missing")
        mine = {o.id: o for o in self.shop.orders_of_customer(self.tenant, state.customer_id)}
        if isinstance(value, dict) and value.get("all"):
            ids = [i for i, o in mine.items() if o.status == "pending"]
        elif isinstance(value, list | tuple):
            ids = [str(v) for v in value]
        else:
            ids = [str(value)] if value else []
        if any(i not in mine for i in ids):
            return Validation(False, problem="order_not_yours")
        pending = [i for i, o in mine.items() if o.status == "pending"]
        if len(ids) < 2:
            return Validation(
                False, problem="merge_too_few", results={"pending": "、".join(pending) or "-"}
            )
        return Validation(True, list(dict.fromkeys(ids)), {"orders_text": "、".join(ids)})

    def _order_items(self, value: Any, frame: Frame) -> Validation:
        order = frame.results.get("order") or {}
        items: list[dict[str, Any]] = list(order.get("items") or [])
        if not items:
            return Validation(False, problem="missing")
        picks: list[dict[str, Any]] = []
        if isinstance(value, dict) and value.get("all"):
            picks = list(items)
        elif isinstance(value, list):
            for one in value:
                check = self._order_item(one, frame)
                if not check.ok:
                    return check
                item = check.results["item"]
                if item not in picks:
                    picks.append(item)
        else:
            if isinstance(value, str | int) and str(value).isdigit() and len(str(value)) <= 2:
                value = {"ordinal": int(value)}  # "2": the second item (ids are longer)
            check = self._order_item(value, frame)
            if not check.ok:
                return check
            picks = [check.results["item"]]
        if not picks:
            return Validation(False, problem="missing")
        return Validation(
            True,
            [p["item_id"] for p in picks],
            {"item": picks[0], "items": picks, "items_text": _items_text(picks)},
        )

    def _new_variant(self, value: Any, frame: Frame) -> Validation:
        item = frame.results.get("item")
        if not isinstance(item, dict):  # the order's only item, set without a validator
            items = (frame.results.get("order") or {}).get("items") or []
            item = next((x for x in items if x["item_id"] == frame.slots.get("item")), None)
        if not isinstance(item, dict):
            return Validation(False, problem="missing")
        if isinstance(value, str) and not value.isdigit():
            value = self._read("new_item", value) or {}  # "the waterproof ones" from an LLM
        said: dict[str, str] = dict(value.get("options") or {}) if isinstance(value, dict) else {}
        if isinstance(value, str) and value.isdigit():
            said = {}
            wanted_id: str | None = value
        else:
            wanted_id = value.get("item_id") if isinstance(value, dict) else None
        try:
            product = self.shop.product(self.tenant, str(item["product_id"]))
        except NotFoundError:
            return Validation(False, problem="missing")
        current = next((v for v in product.variants if v.item_id == item["item_id"]), None)
        have = dict(current.options) if current is not None else {}
        if wanted_id:
            found = [v for v in product.variants if v.item_id == wanted_id]
        else:
            if not said:
                return Validation(False, problem="missing")
            found = [
                v
                for v in product.variants
                if v.item_id != item["item_id"] and _matches(v.options, said)
            ]
            if found:  # keep what was not said as it is ("same boots but waterproof")
                same = max(_agreement(v.options, have, said) for v in found)
                found = [v for v in found if _agreement(v.options, have, said) == same]
        if not found:
            return Validation(False, problem="variant_missing")
        available = [v for v in found if v.available]
        if not available:
            shown = _options_text(found[0].options)
            return Validation(False, problem="variant_unavailable", results={"options": shown})
        if len(available) > 1:
            choices = "；".join(
                f"{i}. {_options_text(v.options)}" for i, v in enumerate(available, 1)
            )
            return Validation(False, problem="variant_ambiguous", results={"choices": choices})
        pick = available[0]
        view = {
            "item_id": pick.item_id,
            "options_text": _options_text(pick.options),
            "price": f"{pick.price:.2f}",
        }
        return Validation(True, pick.item_id, {"new_item": view})

    def _payment_method(self, value: Any, frame: Frame, state: DialogueState) -> Validation:
        if state.customer_id is None:
            return Validation(False, problem="missing")
        customer = self.shop.customer(self.tenant, state.customer_id)
        methods = list(customer.payment_methods)
        if isinstance(value, str):  # an id, or words ("gift card", "原路退回") from an LLM
            ids = {m.id for m in methods}
            value = {"id": value} if value in ids else payment_value((), value.lower()) or {}
        if not isinstance(value, dict) or not value:
            return Validation(False, problem="missing")
        if value.get("original"):
            method_id = _original_method(frame)
            if method_id is None:
                return Validation(False, problem="missing")
            return Validation(True, method_id, {"payment": _method_view(customer, method_id)})
        fits = methods
        if value.get("id"):
            fits = [m for m in fits if m.id == value["id"]]
        if value.get("source"):
            fits = [m for m in fits if m.source == value["source"]]
        if value.get("brand"):
            brand = str(value["brand"]).lower()
            fits = [m for m in fits if (m.brand or "").lower() == brand]
        if value.get("last4"):
            fits = [m for m in fits if m.last_four == value["last4"]]
        if len(fits) != 1:
            return Validation(
                False,
                problem="payment_not_found" if not fits else "payment_ambiguous",
                results={
                    "methods": _methods_text(customer, "zh"),
                    "methods_en": _methods_text(customer, "en"),
                },
            )
        return Validation(True, fits[0].id, {"payment": _method_view(customer, fits[0].id)})

    def _read(self, entity: str, text: str) -> Any:
        """The slot value a text holds, read as the offline understanding reads a message."""
        if self.extract is None:
            return None
        return write_value(entity, self.extract(text), text.lower(), _option_pair, None)

    def _new_address(self, value: Any, frame: Frame, state: DialogueState) -> Validation:
        if isinstance(value, str):  # an address as text (an LLM's slot value)
            value = self._read("address", value)
        if not isinstance(value, dict):
            return Validation(False, problem="address_incomplete")
        order = frame.results.get("order") or {}
        old: Address | None = None
        try:
            if order.get("order_id"):
                old = self.shop.order(self.tenant, str(order["order_id"])).address
            elif state.customer_id is not None:
                old = self.shop.customer(self.tenant, state.customer_id).address
        except NotFoundError:
            old = None
        address = to_shop_address(value, old)
        if address is None:
            return Validation(False, problem="address_incomplete")
        doc = address_to_json(address)
        return Validation(True, doc, {"address_text": address.one_line()})

    # -- writes -------------------------------------------------------------------------------
    def preview_write(
        self, operation: str, args: dict[str, Any], state: DialogueState, language: str
    ) -> dict[str, Any]:
        if self.operations is None:
            raise KeyError(operation)
        customer_id = state.customer_id
        if customer_id is None:  # the flows identify first; code makes sure
            raise PermissionError("a write needs an identified customer")
        args = {k: v for k, v in args.items() if v is not None}
        for key in ("item_ids", "new_item_ids"):
            if isinstance(args.get(key), str):  # one item, set by the flow
                args[key] = [args[key]]
        if operation in ("modify_customer_address", "issue_coupon"):
            args["customer_id"] = customer_id  # only ever the identified customer's own
        named = [args["order_id"]] if args.get("order_id") else []
        named += list(args.get("order_ids") or [])
        named += [r.get("order_id") for r in args.get("refunds") or [] if isinstance(r, dict)]
        orders = [self.shop.order(self.tenant, str(i)) for i in named]
        if any(o.customer_id != customer_id for o in orders):
            raise PermissionError("order of another customer")
        if operation in _PAYMENT_DEFAULTS and not args.get("payment_method_id") and orders:
            first = order_payment_method(orders[0])
            if first is not None:
                args["payment_method_id"] = first
        request = request_from_args(operation, args)
        shown = self.operations.preview(
            self.tenant, request, conversation_id=self.conversation_id, actor="bot"
        )
        return self._shown(shown, language)

    def _shown(self, shown: Preview, language: str) -> dict[str, Any]:
        refusal = shown.refusal
        doc: dict[str, Any] = {
            "status": "previewed" if refusal is None else "refused",
            "operation": shown.operation,
            "arguments": shown.request.to_args(),
            "fingerprint": shown.fingerprint,
            "ledger_id": shown.ledger_id,
            "needs_approval": list(shown.needs_approval),
            "amount": str(shown.amount),
        }
        if refusal is None:
            doc["text"] = shown.summary(language, self.currency)
            return doc
        doc["refusal"] = refusal.to_dict()
        doc["text"] = self._refusal_text(refusal.reason, refusal.message, language)
        return doc

    def _refusal_text(self, reason: str, message: str, language: str) -> str:
        try:
            return self.label(f"write_refused_{reason}", language)
        except KeyError:
            return self.label("write_refused", language).replace("{message}", message)

    def execute_write(
        self, shown: dict[str, Any], state: DialogueState, language: str, said: str | None
    ) -> dict[str, Any]:
        if self.operations is None:
            raise KeyError(shown.get("operation"))
        if state.customer_id is None:
            raise PermissionError("a write needs an identified customer")
        request = request_from_args(str(shown["operation"]), shown["arguments"])
        current = compute_preview(self.shop, self.tenant, request)  # type: ignore[arg-type]
        if current.customer_id != state.customer_id:
            raise PermissionError("a write for another customer")
        if current.fingerprint != shown["fingerprint"]:
            return self._stale(request, language)
        policy = self.operations.policy(self.tenant)
        confirmed = current.with_(
            ledger_id=shown.get("ledger_id"),
            conversation_id=self.conversation_id,
            needs_approval=policy.review(current),
        )
        outcome = self.operations.execute(
            confirmed, Confirmation(current.fingerprint, actor="customer", text=said)
        )
        if outcome.refusal is not None and outcome.refusal.reason == "stale_preview":
            return self._stale(request, language)
        doc: dict[str, Any] = {
            "status": outcome.status,
            "operation": outcome.operation,
            "ledger_id": outcome.ledger_id,
            "replayed": outcome.replayed,
        }
        if outcome.refusal is not None:
            doc["refusal"] = outcome.refusal.to_dict()
            doc["text"] = self._refusal_text(
                outcome.refusal.reason, outcome.refusal.message, language
            )
        else:
            what = str(shown.get("text") or "").split("\n", 1)[0].rstrip("：: ")
            doc["text"] = self.label(f"write_{outcome.status}", language).replace("{what}", what)
        return doc

    def _stale(self, request: Any, language: str) -> dict[str, Any]:
        """The records changed since the preview: a new preview to confirm."""
        assert self.operations is not None
        again = self.operations.preview(
            self.tenant, request, conversation_id=self.conversation_id, actor="bot"
        )
        return {
            "status": "stale",
            "operation": request.name,
            "text": self.label("write_stale", language),
            "preview": self._shown(again, language),
        }


# -- helpers ----------------------------------------------------------------------------------


def _option_pair(value: Any) -> tuple[str, str]:
    """(key, value) of an option mention."""
    return str(getattr(value, "key", "") or ""), str(getattr(value, "value", "") or "")


def _items_text(items: list[dict[str, Any]]) -> str:
    return "、".join(
        f"{x['name']}（{x['options_text']}）" if x.get("options_text") else str(x["name"])
        for x in items
    )


def _agreement(options: Mapping[str, str], have: Mapping[str, str], said: Mapping[str, str]) -> int:
    """How many options not said keep the current item's value."""
    return sum(1 for k, v in have.items() if k not in said and options.get(k) == v)


def _original_method(frame: Frame) -> str | None:
    order = frame.results.get("order") or {}
    method = order.get("payment_method_id")
    return str(method) if method else None


def _method_view(customer: Customer, method_id: str) -> dict[str, Any]:
    method = customer.payment_method(method_id)
    return {
        "payment_method_id": method_id,
        "source": method.source if method else "",
        "last_four": (method.last_four if method else None) or "",
    }


def _methods_text(customer: Customer, language: str = "zh") -> str:
    """The customer's payment methods as a customer reads them: 微信支付, 信用卡 visa 尾号 2235,
    礼品卡（余额 120.00）."""
    zh = language != "en"
    parts = []
    for m in customer.payment_methods:
        names = SOURCE_NAMES.get(m.source, (m.source, m.source))
        label = names[0] if zh else names[1]
        if m.brand:
            label += f" {m.brand}"
        if m.last_four:
            label += f" 尾号 {m.last_four}" if zh else f" ending {m.last_four}"
        if m.balance is not None:
            label += f"（余额 {m.balance:.2f}）" if zh else f" (balance {m.balance:.2f})"
        parts.append(label)
    return ("、" if zh else ", ").join(parts)


def _cancel_reason(value: Any) -> Validation:
    text = str(value or "").strip().lower()
    reason = text if text in CANCEL_REASONS else cancel_reason(text)
    if reason is not None:
        return Validation(True, reason)
    return Validation(False, problem="cancel_reason")


def to_shop_address(value: Mapping[str, Any], old: Address | None) -> Address | None:
    """The shop address for an extracted address (a Chinese ``{province, city, district,
    detail}`` or a US ``{address1, address2, city, state, zip}``), completed from the old
    address where the customer left a part out that did not change (the country; a zip code
    in the same city). None when too little was said to ship anything."""
    if value.get("detail") is not None or value.get("province") is not None:
        detail = str(value.get("detail") or "").strip()
        city = str(value.get("city") or value.get("province") or "")
        province = str(value.get("province") or city)
        if not detail or not city:
            return None
        same_city = old is not None and old.city == city
        zip_code = str(value.get("zip") or (old.zip if same_city and old is not None else ""))
        return Address(
            address1=detail,
            address2="",
            city=city,
            state=province,
            country="中国",
            zip=zip_code,
            district=value.get("district") or None,
        )
    street = str(value.get("address1") or "").strip()
    city = str(value.get("city") or "").strip()
    state = str(value.get("state") or "").strip()
    zip_code = str(value.get("zip") or "").strip()
    if not street or not city or not state or not zip_code:
        return None
    country = str(value.get("country") or (old.country if old is not None else "USA"))
    return Address(
        address1=street,
        address2=str(value.get("address2") or ""),
        city=city,
        state=state,
        country=country,
        zip=zip_code,
    )


def order_payment_method(order: Order) -> str | None:
    """The order's original payment method (its first payment)."""
    paid = [p for p in order.payment_history if p.transaction_type == "payment"]
    return paid[0].payment_method_id if paid else None


def source_of(text: str) -> str | None:
    """A payment source named in ``text`` (礼品卡 / gift card, 信用卡 / credit card, …)."""
    lowered = text.lower()
    table = (
        ("gift_card", ("礼品卡", "gift card", "gift-card", "giftcard")),
        ("credit_card", ("信用卡", "credit card", "银行卡", "card ending")),
        ("paypal", ("paypal",)),
        ("alipay", ("支付宝", "alipay")),
        ("wechat_pay", ("微信", "wechat")),
    )
    for source, words in table:
        if any(w in lowered for w in words):
            return source
    return None
