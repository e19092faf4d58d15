"""The read-only light tasks of L2, as operations and validators flows can call.

Each operation reads the shop through the :class:`~kefu.connectors.port.ShopReader` port and
returns plain JSON (stored in the dialogue state, formatted by templates). Personal data is only
ever read for the identified customer: ``own_order`` rejects another customer's order without
saying anything about it, and identification needs an email, name + zip, or phone + order id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from kefu.connectors.port import Customer, Order, Product, ShopReader, Variant
from kefu.dialogue.engine import Validation
from kefu.dialogue.glossary_en import option_value, to_english
from kefu.dialogue.state import DialogueState, Frame
from kefu.errors import NotFoundError
from kefu.operations.eligibility import (
    AfterSalesPolicy,
    exchange_eligibility,
    return_eligibility,
)

Label = Callable[[str, str], str]  # (template name, language) -> text


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _options_text(options: Mapping[str, str], language: str = "zh") -> str:
    values = [str(v) for v in options.values()]
    if language == "en":
        values = [option_value(v) for v in values]
    return " / ".join(values)


def _local(text: str, language: str) -> str:
    """A shop value (carrier, place, tracking event) in the reply's language."""
    return to_english(text) if language == "en" else text


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


class ShopTasks:
    """Operations and validators over one tenant's shop (implements ``engine.Tasks``)."""

    OPERATIONS = (
        "order_details",
        "customer_orders",
        "tracking",
        "return_eligibility",
        "variant_lookup",
        "similar_products",
    )
    VALIDATORS = ("own_order", "order_item", "known_product")

    def __init__(
        self,
        shop: ShopReader,
        tenant: str,
        label: Label,
        now: datetime,
        return_window_days: int = 7,
    ) -> None:
        self.shop = shop
        self.tenant = tenant
        self.label = label
        self.now = now
        self.window = return_window_days
        self._names_en: dict[str, str] = {}

    def operation_names(self) -> set[str]:
        return set(self.OPERATIONS)

    def validator_names(self) -> set[str]:
        return set(self.VALIDATORS)

    # -- identity ---------------------------------------------------------------------------
    def identify(self, details: Mapping[str, Any]) -> tuple[str | None, str | None]:
        email = details.get("email")
        if email:
            return self._found(lambda: self.shop.find_customer_by_email(self.tenant, str(email)))
        name = details.get("person_name")
        zip_code = details.get("zip")
        phone = details.get("phone")
        order_id = details.get("order_id")
        if name and zip_code:
            first, last = split_name(name)
            return self._found(
                lambda: self.shop.find_customer_by_name_zip(self.tenant, first, last, str(zip_code))
            )
        if phone and order_id:
            try:
                customer = self.shop.find_customer_by_phone(self.tenant, str(phone))
            except NotFoundError:
                return None, "failed"
            if str(order_id) not in customer.order_ids:
                return None, "failed"
            return customer.id, None
        if name:
            return None, "zip"
        if zip_code:
            return None, "name"
        if phone:
            return None, "order"
        # an order id alone is not a way to identify anyone: ask for the full choice again
        return None, None

    def _found(self, find: Callable[[], Customer]) -> tuple[str | None, str | None]:
        try:
            return find().id, None
        except NotFoundError:
            return None, "failed"

    def customer_view(self, customer_id: str) -> dict[str, Any]:
        c = self.shop.customer(self.tenant, customer_id)
        return {"customer_id": c.id, "display_name": c.name, "email": c.email}

    # -- validators ---------------------------------------------------------------------------
    def validate(self, name: str, value: Any, frame: Frame, state: DialogueState) -> Validation:
        if name == "own_order":
            return self._own_order(value, state)
        if name == "order_item":
            return self._order_item(value, frame)
        if name == "known_product":
            return self._known_product(value, state)
        raise KeyError(name)

    def _own_order(self, value: Any, state: DialogueState) -> Validation:
        order_id = str(value)
        try:
            order = self.shop.order(self.tenant, order_id)
        except NotFoundError:
            return Validation(False, problem="order_not_found")
        if state.customer_id is not None and order.customer_id != state.customer_id:
            return Validation(False, problem="order_not_yours")
        state.context["order_id"] = order.id
        return Validation(True, order.id)

    def _order_item(self, value: Any, frame: Frame) -> Validation:
        order = frame.results.get("order") or {}
        items: list[dict[str, Any]] = list(order.get("items") or [])
        if not items:
            return Validation(False, problem="missing")
        pick: dict[str, Any] | None = None
        if isinstance(value, dict) and set(value) == {"text"}:
            pick = named_item(items, str(value["text"]))
        elif isinstance(value, dict):
            if "ordinal" in value:
                i = int(value["ordinal"])
                index = i - 1 if i > 0 else len(items) + i
                if 0 <= index < len(items):
                    pick = items[index]
            elif "item_id" in value:
                pick = next((x for x in items if x["item_id"] == value["item_id"]), None)
            elif "product_id" in value:
                same = [x for x in items if x["product_id"] == value["product_id"]]
                if same:
                    pick = same[0]
                else:  # "the boots": the words of the mention in an item's name
                    words = str(value.get("text") or "").lower().split()
                    named = [
                        x
                        for x in items
                        if words
                        and all(
                            w.rstrip("s") in (x["name"] + " " + x.get("name_en", "")).lower()
                            for w in words
                            if w not in ("the", "a", "my")
                        )
                    ]
                    if len(named) == 1:
                        pick = named[0]
        elif isinstance(value, str):
            pick = next((x for x in items if x["item_id"] == value), None)
        if pick is None:
            return Validation(False, problem="missing")
        return Validation(True, pick["item_id"], {"item": pick})

    def _known_product(self, value: Any, state: DialogueState) -> Validation:
        if isinstance(value, dict) and value.get("alternatives"):
            return self._which_product(value, state)
        product_id = value.get("product_id") if isinstance(value, dict) else value
        try:
            product = self.shop.product(self.tenant, str(product_id))
        except NotFoundError:
            return Validation(False, problem="missing")
        state.context["product"] = product.id
        if isinstance(value, dict) and value.get("options"):
            state.context["options"] = dict(value["options"])
        results: dict[str, Any] = {"product": self._product_view(product)}
        if isinstance(value, dict) and value.get("options"):
            results["options"] = dict(value["options"])
        return Validation(True, product.id, results)

    def _which_product(self, value: Mapping[str, Any], state: DialogueState) -> Validation:
        """The words fit several products ("那个包", "the boots"): list them and ask which; an
        ordinal ("第二个") or a name then picks one."""
        products: list[Product] = []
        for pid in value["alternatives"]:
            try:
                products.append(self.shop.product(self.tenant, str(pid)))
            except NotFoundError:
                continue
        if len(products) < 2:
            rest = {k: v for k, v in value.items() if k != "alternatives"}
            if products:
                rest["product_id"] = products[0].id
            return self._known_product(rest, state)
        state.context["list"] = {"kind": "product", "values": [p.id for p in products]}
        if value.get("options"):
            state.context["options"] = dict(value["options"])
        return Validation(
            False,
            problem="product_ambiguous",
            results={
                "choices": "；".join(f"{i}. {p.name}" for i, p in enumerate(products, 1)),
                "choices_en": "; ".join(
                    f"{i}. {p.name_en or p.name}" for i, p in enumerate(products, 1)
                ),
            },
        )

    # -- operations -----------------------------------------------------------------------------
    def call(
        self, name: str, args: dict[str, Any], state: DialogueState, language: str
    ) -> dict[str, Any]:
        if name == "order_details":
            return self._order_details(str(args["order_id"]), state, language)
        if name == "customer_orders":
            return self._customer_orders(state, language)
        if name == "tracking":
            return self._tracking(str(args["order_id"]), language)
        if name == "return_eligibility":
            # one item ("item"), or several ("items": a return of some of an order's items)
            picked = args.get("items") if args.get("items") is not None else [args["item"]]
            items = [str(i) for i in (picked if isinstance(picked, list) else [picked])]
            return self._eligibility(str(args["order_id"]), items, args, language)
        if name == "variant_lookup":
            return self._variant_lookup(str(args["product"]), args.get("options") or {}, language)
        if name == "similar_products":
            return self._similar(str(args["product"]), args.get("options") or {}, language)
        raise KeyError(name)

    def _status_text(self, status: str, language: str) -> str:
        key = "status_" + "".join(ch if ch.isalnum() else "_" for ch in status).strip("_")
        key = key.replace("__", "_")
        try:
            return self.label(key, language)
        except KeyError:
            return status

    def _order_view(self, order: Order, language: str) -> dict[str, Any]:
        names = [
            it.name if language != "en" else self._name_en(it.product_id, it.name)
            for it in order.items
        ]
        lines = "".join(
            f"\n{i}. {name} ({_options_text(it.options, language)}) {_money(it.price)}"
            for i, (name, it) in enumerate(zip(names, order.items, strict=True), 1)
        )
        return {
            "lines": lines,
            "order_id": order.id,
            "status": order.status,
            "status_text": self._status_text(order.status, language),
            "item_count": len(order.items),
            "total": _money(order.total),
            "has_shipment": any(f.tracking_ids for f in order.fulfillments),
            "created_at": order.created_at.date().isoformat() if order.created_at else None,
            "payment_method_id": next(
                (
                    p.payment_method_id
                    for p in order.payment_history
                    if p.transaction_type == "payment"
                ),
                None,
            ),
            "items": [
                {
                    "index": i + 1,
                    "item_id": it.item_id,
                    "product_id": it.product_id,
                    "name": it.name,
                    "name_en": self._name_en(it.product_id, it.name),
                    "price": _money(it.price),
                    "options_text": _options_text(it.options, language),
                }
                for i, it in enumerate(order.items)
            ],
        }

    def _name_en(self, product_id: str, name: str) -> str:
        """The product's English name when the shop has one (Chinese catalogues carry
        ``name_en``), else its name."""
        if product_id not in self._names_en:
            try:
                product = self.shop.product(self.tenant, product_id)
                self._names_en[product_id] = product.name_en or product.name
            except NotFoundError:
                self._names_en[product_id] = name
        return self._names_en[product_id]

    def _order_details(self, order_id: str, state: DialogueState, language: str) -> dict[str, Any]:
        order = self.shop.order(self.tenant, order_id)
        if state.customer_id is not None and order.customer_id != state.customer_id:
            raise PermissionError("order of another customer")
        view = self._order_view(order, language)
        state.context["order_id"] = order.id
        state.context["list"] = {"kind": "item", "values": [i.item_id for i in order.items]}
        return view

    def _customer_orders(self, state: DialogueState, language: str) -> dict[str, Any]:
        assert state.customer_id is not None
        orders = self.shop.orders_of_customer(self.tenant, state.customer_id)
        views = [self._order_view(o, language) for o in orders]
        state.context["list"] = {"kind": "order_id", "values": [o.id for o in orders]}
        if len(orders) == 1:
            state.context["order_id"] = orders[0].id
        return {"count": len(views), "list": views}

    def _tracking(self, order_id: str, language: str) -> dict[str, Any]:
        shipments = [s for s in self.shop.tracking(self.tenant, order_id) if s.tracking_ids]
        if not shipments:
            return {
                "has_events": False,
                "tracking_number": None,
                "carrier": None,
                "events": [],
                "other_count": 0,
                "others": "",
            }
        ship = next((s for s in shipments if s.events), shipments[0])
        others = [s for s in shipments if s is not ship]
        events = [
            {
                "time": e.time.strftime("%m-%d %H:%M"),
                "location": _local(e.location, language),
                "status": _local(e.status, language),
                "description": _local(e.description, language),
            }
            for e in ship.events
        ]
        latest = ship.latest
        return {
            "has_events": bool(events),
            "tracking_number": ship.tracking_number,
            "carrier": _local(ship.carrier or "", language),
            "latest": (": " if language == "en" else " ").join(
                _local(x, language) for x in (latest.location, latest.description) if x
            )
            if latest
            else "",
            "events": events,
            "other_count": len(others),
            "others": ("; " if language == "en" else "，").join(
                f"{_local(s.carrier or '', language)} {s.tracking_number}".strip()
                for s in others
                if s.tracking_ids
            ),
        }

    def _eligibility(
        self, order_id: str, item_ids: list[str], args: Mapping[str, Any], language: str
    ) -> dict[str, Any]:
        kind = str(args.get("kind") or "return")
        order = self.shop.order(self.tenant, order_id)
        products = {
            it.product_id: self.shop.product(self.tenant, it.product_id) for it in order.items
        }
        window = self.window if self.window and order.delivered_at is not None else None
        policy = AfterSalesPolicy(
            return_window_days=window,
            exchange_window_days=window,
            quality_window_days=None,
            honour_non_returnable=True,
        )
        check = exchange_eligibility if kind == "exchange" else return_eligibility
        result = check(order, self.now, item_ids=item_ids, policy=policy, products=products)
        blocked = result.params.get("item_ids") or item_ids  # the item a refusal is about
        item_id = str(blocked[0]) if blocked else ""
        item = next((it for it in order.items if it.item_id == item_id), None)
        view: dict[str, Any] = {
            "item": {
                "item_id": item_id,
                "name": item.name if item else item_id,
                "name_en": self._name_en(item.product_id, item.name) if item else item_id,
            },
            "eligible": result.eligible,
            "reason": str(result.reason or ""),
            "kind": kind,
            "kind_text": self.label(f"kind_{kind}", language),
            "days": self.window,
            "deadline": result.deadline.date().isoformat() if result.deadline else "",
            "delivered": order.delivered_at.date().isoformat() if order.delivered_at else "",
        }
        if result.eligible:
            view["template"] = (
                "return_eligible" if result.deadline else "return_eligible_no_deadline"
            )
        known = {"not_delivered", "window_expired", "not_returnable_category", "already_requested"}
        if not result.eligible and view["reason"] not in known:
            view["reason"] = "other"
        return view

    def _product_view(self, product: Product) -> dict[str, Any]:
        prices = [v.price for v in product.variants] or [Decimal(0)]
        return {
            "product_id": product.id,
            "name": product.name,
            "name_en": product.name_en or product.name,
            "variant_count": len(product.variants),
            "in_stock_count": sum(1 for v in product.variants if v.available),
            "min_price": _money(min(prices)),
            "max_price": _money(max(prices)),
        }

    def _variant_view(self, product: Product, variant: Variant, language: str) -> dict[str, Any]:
        return {
            "found": True,
            "item_id": variant.item_id,
            "name": product.name,
            "name_en": product.name_en or product.name,
            "available": variant.available,
            "price": _money(variant.price),
            "options_text": _options_text(variant.options, language),
        }

    def _variant_lookup(
        self, product_id: str, options: Mapping[str, str], language: str
    ) -> dict[str, Any]:
        product = self.shop.product(self.tenant, product_id)
        if not options:
            return {"found": False}
        matches = [v for v in product.variants if _matches(v.options, options)]
        if len(matches) != 1:
            # none, or several (only the colour was named): summarise rather than guess
            return {"found": False}
        return self._variant_view(product, matches[0], language)

    def _similar(
        self, product_id: str, options: Mapping[str, str], language: str
    ) -> dict[str, Any]:
        product = self.shop.product(self.tenant, product_id)
        wanted = dict(options)
        ranked = sorted(
            (
                v
                for v in product.variants
                if v.available and not (wanted and _matches(v.options, wanted))
            ),
            key=lambda v: -sum(1 for k, x in wanted.items() if v.options.get(k) == x),
        )
        items = [self._variant_view(product, v, language) for v in ranked[:5]]
        return {"count": len(items), "items": items}


def named_item(items: list[dict[str, Any]], text: str) -> dict[str, Any] | None:
    """The one item whose name (either language) contains the words said ("保温杯", "the
    kettle"), or whose name the words contain; None when none or several fit."""
    said = re.sub(
        r"^(?:那个|这个|就是|是|要|the|my|a)\s*|(?:吧|的|呢|啊|please)$", "", text.lower()
    )
    said = said.strip()
    if len(said) < 2:
        return None
    fits = [
        x
        for x in items
        if said in (x["name"] + " " + x.get("name_en", "")).lower()
        or x["name"].lower() in said
        or (x.get("name_en") and x["name_en"].lower() in said)
    ]
    return fits[0] if len({x["item_id"] for x in fits}) == 1 else None


def _matches(have: Mapping[str, str], want: Mapping[str, str]) -> bool:
    """Every wanted option matches; the key ``*`` matches any option with that value."""
    for k, v in want.items():
        wanted = str(v).lower()
        if k == "*":
            if not any(str(x).lower() == wanted for x in have.values()):
                return False
        elif str(have.get(k, "")).lower() != wanted:
            return False
    return True


def split_name(name: Any) -> tuple[str, str]:
    """(first name, last name) from an entity value or text: 张伟 -> (伟, 张); Noah Brown ->
    (Noah, Brown). Compound surnames (欧阳, 司马 …) are kept whole."""
    if isinstance(name, dict):
        first = str(name.get("first_name") or name.get("first") or "")
        last = str(name.get("last_name") or name.get("last") or "")
        if first or last:
            return first, last
        name = name.get("full") or name.get("text") or ""
    text = str(name).strip()
    if _has_cjk(text):
        compound = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐")
        cut = 2 if text[:2] in compound else 1
        return text[cut:], text[:cut]
    parts = text.split()
    if len(parts) >= 2:
        return " ".join(parts[:-1]), parts[-1]
    return text, ""
