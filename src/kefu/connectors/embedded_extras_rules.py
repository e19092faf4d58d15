"""The shop rules document (``shop_rules.json``): the freight table and the coupon templates.

A shop may have one rules document beside its users, orders and products (tau-bench's own
shops have none, and then every write is exactly tau's). It is imported with the shop
(:func:`read_rules`, :func:`validate_rules`), stored as the JSON document it was imported as
(table ``shop_rules``) and read by the writes that need it:

- ``freight``: region zones with a first-kilogram price and a price per additional (started)
  kilogram, free shipping from an items total, and the default weight of an item whose product
  has no ``weight_kg``. :func:`freight_of` prices an order.
- ``coupons``: coupon templates keyed by id (amount or percentage, minimum spend, validity,
  per-customer limit, the reasons they may be issued for, the largest value), used by
  ``issue_coupon``.

Problems raise :class:`~kefu.errors.ShopImportError` naming the file, the record and the field:
``shop_rules.json, freight zone "remote", first_kg: expected a number, got text``.
The format is documented in ``docs/shop-extensions.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kefu.connectors.port import CouponReason, money
from kefu.connectors.tau_schema import DocCheck, kind
from kefu.errors import ShopImportError

Doc = dict[str, Any]
CENT = Decimal("0.01")
RULES_FILE = "shop_rules.json"
_TOP_KEYS = frozenset({"currency", "freight", "coupons"})


def cents(value: Decimal) -> Decimal:
    """Rounded to cents, half up (money the new operations store)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class FreightZone:
    id: str
    name: str
    regions: tuple[str, ...]  # province names or their beginnings ("新疆" matches 新疆维吾尔自治区)
    first_kg: Decimal  # the price of the first ``first_weight_kg``
    additional_kg: Decimal  # the price of each further started kilogram
    free_over: Decimal | None  # items total from which shipping is free (>=), None: never

    def covers(self, state: str) -> bool:
        state = state.strip()
        return any(state == r or state.startswith(r) for r in self.regions)


@dataclass(frozen=True, slots=True)
class Freight:
    """What an order's freight is, and why."""

    amount: Decimal
    zone: str
    weight_kg: Decimal
    items_total: Decimal
    free: bool


@dataclass(frozen=True, slots=True)
class FreightTable:
    zones: tuple[FreightZone, ...]
    default: FreightZone | None
    first_weight_kg: Decimal
    default_weight_kg: Decimal

    def zone(self, state: str) -> FreightZone | None:
        """The first zone listing the province, else the default zone (None: no delivery)."""
        return next((z for z in self.zones if z.covers(state)), self.default)

    def weight_of(self, item: Mapping[str, Any], products: Mapping[str, Doc]) -> Decimal:
        """An item's weight: its variant's ``weight_kg``, else its product's, else the
        table's default."""
        product = products.get(item["product_id"]) or {}
        variant = (product.get("variants") or {}).get(item["item_id"]) or {}
        for source in (variant, product):
            if "weight_kg" in source:
                return money(source["weight_kg"])
        return self.default_weight_kg

    def price(self, zone: FreightZone, weight_kg: Decimal, items_total: Decimal) -> Freight:
        if zone.free_over is not None and items_total >= zone.free_over:
            return Freight(Decimal("0.00"), zone.id, weight_kg, items_total, True)
        extra = max(weight_kg - self.first_weight_kg, Decimal(0))
        amount = zone.first_kg + zone.additional_kg * math.ceil(extra)
        return Freight(cents(amount), zone.id, weight_kg, items_total, False)


@dataclass(frozen=True, slots=True)
class CouponTemplate:
    id: str
    name: str
    kind: str  # "amount" (value in currency) or "percentage" (value: percent off)
    value: Decimal
    max_value: Decimal  # the largest discount: the value of an amount coupon is at most this
    min_spend: Decimal
    valid_days: int
    per_customer_limit: int
    reasons: tuple[str, ...]

    @property
    def face_value(self) -> Decimal:
        """The most the coupon can be worth (what the approval threshold compares)."""
        return self.value if self.kind == "amount" else self.max_value


@dataclass(frozen=True, slots=True)
class ShopRules:
    currency: str | None
    freight: FreightTable | None
    coupons: Mapping[str, CouponTemplate]

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> ShopRules | None:
        """The typed rules of a validated document (None: the shop has none)."""
        if doc is None:
            return None
        freight = doc.get("freight")
        return cls(
            currency=doc.get("currency"),
            freight=None if freight is None else _freight(freight),
            coupons={k: _coupon(k, v) for k, v in (doc.get("coupons") or {}).items()},
        )


def _zone(doc: Mapping[str, Any], zone_id: str) -> FreightZone:
    free = doc.get("free_over")
    return FreightZone(
        id=zone_id,
        name=str(doc.get("name", zone_id)),
        regions=tuple(doc.get("regions") or ()),
        first_kg=money(doc["first_kg"]),
        additional_kg=money(doc["additional_kg"]),
        free_over=None if free is None else money(free),
    )


def _freight(doc: Mapping[str, Any]) -> FreightTable:
    default = doc.get("default")
    return FreightTable(
        zones=tuple(_zone(z, z["id"]) for z in doc.get("zones") or ()),
        default=None if default is None else _zone(default, str(default.get("id", "default"))),
        first_weight_kg=money(doc.get("first_weight_kg", 1)),
        default_weight_kg=money(doc.get("default_weight_kg", 0.5)),
    )


def _coupon(template_id: str, doc: Mapping[str, Any]) -> CouponTemplate:
    return CouponTemplate(
        id=template_id,
        name=doc["name"],
        kind=doc["kind"],
        value=money(doc["value"]),
        max_value=money(doc["max_value"]),
        min_spend=money(doc.get("min_spend", 0)),
        valid_days=int(doc["valid_days"]),
        per_customer_limit=int(doc["per_customer_limit"]),
        reasons=tuple(doc["reasons"]),
    )


def freight_of(
    table: FreightTable,
    state: str,
    items: Sequence[Mapping[str, Any]],
    products: Mapping[str, Doc],
) -> Freight | None:
    """The freight of ``items`` shipped to province ``state`` (None: no zone delivers there)."""
    zone = table.zone(state)
    if zone is None:
        return None
    weight = sum((table.weight_of(i, products) for i in items), Decimal(0))
    total = sum((money(i["price"]) for i in items), Decimal(0))
    return table.price(zone, weight, total)


# --- validation --------------------------------------------------------------------------------


def _amount(
    d: DocCheck, doc: Doc, key: str, *, required: bool = True, positive: bool = False
) -> None:
    if not required and key not in doc:
        return
    d.number(doc, key)
    value = doc[key]
    if value < 0 or (positive and value == 0):
        raise d.fail(key, f"expected a {'positive' if positive else 'non-negative'} number")


def _whole(d: DocCheck, doc: Doc, key: str) -> None:
    value = d.get(doc, key, "")
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise d.fail(key, f"expected a whole number of at least 1, got {kind(value)}")


def _check_zone(file: str, head: str, raw: object, *, regions: bool) -> None:
    d = DocCheck(file, head)
    doc = d.obj(raw, "")
    d.text(doc, "name", required=False)
    if regions and not d.texts(doc, "regions"):
        raise d.fail("regions", "expected at least one region")
    _amount(d, doc, "first_kg")
    _amount(d, doc, "additional_kg")
    if doc.get("free_over") is not None:
        _amount(d, doc, "free_over")


def _check_freight(file: str, raw: object) -> None:
    d = DocCheck(file, "freight")
    doc = d.obj(raw, "")
    _amount(d, doc, "first_weight_kg", required=False, positive=True)
    _amount(d, doc, "default_weight_kg", required=False)
    zones = d.items(doc, "zones") if "zones" in doc else []
    seen: set[str] = set()
    for i, zone in enumerate(zones):
        zone_id = zone.get("id")
        if not isinstance(zone_id, str) or not zone_id:
            raise d.fail(f"zones[{i}].id", "expected a non-empty text id")
        if zone_id in seen:
            raise d.fail(f"zones[{i}].id", f"duplicate zone id {zone_id!r}")
        seen.add(zone_id)
        _check_zone(file, f'freight zone "{zone_id}"', zone, regions=True)
    if "default" in doc:
        _check_zone(file, "freight zone default", doc["default"], regions=False)
    elif not zones:
        raise d.fail("zones", "a freight table needs zones or a default zone")


def _check_coupon(file: str, template_id: str, raw: object) -> None:
    d = DocCheck(file, f'coupon "{template_id}"')
    doc = d.obj(raw, "")
    d.text(doc, "name")
    coupon_kind = d.text(doc, "kind")
    if coupon_kind not in ("amount", "percentage"):
        raise d.fail("kind", f'expected "amount" or "percentage", got {coupon_kind!r}')
    _amount(d, doc, "value", positive=True)
    _amount(d, doc, "max_value", positive=True)
    _amount(d, doc, "min_spend", required=False)
    if coupon_kind == "percentage" and doc["value"] >= 100:
        raise d.fail("value", "a percentage coupon takes off less than 100 percent")
    if coupon_kind == "amount" and doc["value"] > doc["max_value"]:
        raise d.fail("value", f"is more than max_value {doc['max_value']}")
    _whole(d, doc, "valid_days")
    _whole(d, doc, "per_customer_limit")
    reasons = d.texts(doc, "reasons")
    if not reasons:
        raise d.fail("reasons", "expected at least one reason")
    known = {r.value for r in CouponReason}
    for i, reason in enumerate(reasons):
        if reason not in known:
            raise d.fail(
                f"reasons[{i}]", f"unknown reason {reason!r}; one of {', '.join(sorted(known))}"
            )


def validate_rules(raw: object, file: str = RULES_FILE) -> Doc:
    """Check a rules document; return it unchanged or raise ShopImportError."""
    if not isinstance(raw, dict):
        raise ShopImportError(file, None, f"expected a JSON object, got {kind(raw)}")
    for key in raw:
        if key not in _TOP_KEYS:
            raise ShopImportError(
                file, f'"{key}"', f"unknown section; expected {', '.join(sorted(_TOP_KEYS))}"
            )
    if "currency" in raw and not isinstance(raw["currency"], str):
        raise ShopImportError(file, "currency", f"expected text, got {kind(raw['currency'])}")
    if "freight" in raw:
        _check_freight(file, raw["freight"])
    if "coupons" in raw:
        coupons = raw["coupons"]
        if not isinstance(coupons, dict):
            raise ShopImportError(
                file, "coupons", f"expected an object keyed by template id, got {kind(coupons)}"
            )
        for template_id, template in coupons.items():
            _check_coupon(file, template_id, template)
    return raw
