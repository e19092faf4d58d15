"""The tau-bench retail schema: validation of a whole shop (users, orders, products).

:func:`validate_shop` checks that every user, order and product has the fields tau's schema
requires with the right JSON types, that the Chinese demo shop's extra keys (``phone``,
``district``, ``created_at``, ``delivered_at``, ``carrier``, ``events``, ``name_en``,
``returnable``; the shop extensions' ``weight_kg`` of products and variants, ``freight`` of
orders, ``coupons`` of users) have the right types when present, and that references resolve:
an order's ``user_id`` names a user, each item names a product and one of its variants, each id in a
user's ``orders`` names an order. Other keys are allowed and kept as they are.

Problems raise :class:`~kefu.errors.ShopImportError` naming the file and the place, e.g.
``orders.json, order "#W2611340", items[1].price: expected a number``. List indexes in places
are 0-based, as in a JSON path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from kefu.errors import ShopImportError


class ShopFiles(NamedTuple):
    """How errors name where each part of a shop came from."""

    users: str = "users.json"
    orders: str = "orders.json"
    products: str = "products.json"


@dataclass(frozen=True)
class ShopData:
    """A whole shop as tau JSON: dicts keyed by id, in file order."""

    users: dict[str, Any]
    orders: dict[str, Any]
    products: dict[str, Any]
    files: ShopFiles = field(default=ShopFiles(), compare=False)  # where each part came from
    # The shop rules document (shop_rules.json: freight table, coupon templates), None when the shop
    # has none (tau-bench's own shops); see kefu.connectors.embedded_extras_rules.
    rules: dict[str, Any] | None = None

    def to_json(self) -> dict[str, dict[str, Any]]:
        """The three tau sections: ``{"users", "orders", "products"}``."""
        return {"users": self.users, "orders": self.orders, "products": self.products}

    def export_json(self) -> dict[str, dict[str, Any]]:
        """The export document: the tau sections, and ``"rules"`` when the shop has a rules
        document."""
        doc = self.to_json()
        if self.rules is not None:
            doc["rules"] = self.rules
        return doc


def kind(value: object) -> str:
    """How a JSON value is called in error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _Doc:
    """Checks on one top-level document (a user, an order, a product, a rules section)."""

    def __init__(self, file: str, head: str) -> None:
        self.file = file
        self.head = head

    def fail(self, path: str, problem: str) -> ShopImportError:
        return ShopImportError(self.file, f"{self.head}, {path}" if path else self.head, problem)

    def obj(self, value: object, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, got {kind(value)}")
        return value

    def get(self, doc: dict[str, Any], key: str, path: str) -> Any:
        if key not in doc:
            raise self.fail(_join(path, key), "missing required field")
        return doc[key]

    def text(self, doc: dict[str, Any], key: str, path: str = "", *, required: bool = True) -> str:
        if not required and key not in doc:
            return ""
        value = self.get(doc, key, path)
        if not isinstance(value, str):
            raise self.fail(_join(path, key), f"expected text, got {kind(value)}")
        return value

    def number(
        self, doc: dict[str, Any], key: str, path: str = "", *, required: bool = True
    ) -> None:
        if not required and key not in doc:
            return
        value = self.get(doc, key, path)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(_join(path, key), f"expected a number, got {kind(value)}")

    def boolean(
        self, doc: dict[str, Any], key: str, path: str = "", *, required: bool = True
    ) -> None:
        if not required and key not in doc:
            return
        value = self.get(doc, key, path)
        if not isinstance(value, bool):
            raise self.fail(_join(path, key), f"expected true or false, got {kind(value)}")

    def time(self, doc: dict[str, Any], key: str, path: str = "", *, required: bool = True) -> None:
        if not required and key not in doc:
            return
        text = self.text(doc, key, path)
        try:
            datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(_join(path, key), f"expected an ISO date-time, got {text!r}") from None

    def texts(self, doc: dict[str, Any], key: str, path: str = "") -> list[str]:
        value = self.get(doc, key, path)
        where = _join(path, key)
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail(_join(where, i), f"expected text, got {kind(item)}")
        return value

    def items(self, doc: dict[str, Any], key: str, path: str = "") -> list[dict[str, Any]]:
        """A list of objects."""
        value = self.get(doc, key, path)
        where = _join(path, key)
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {kind(value)}")
        return [self.obj(item, _join(where, i)) for i, item in enumerate(value)]

    def options(self, doc: dict[str, Any], key: str, path: str) -> None:
        where = _join(path, key)
        for name, value in self.obj(self.get(doc, key, path), where).items():
            if not isinstance(value, str):
                raise self.fail(_join(where, name), f"expected text, got {kind(value)}")

    def address(self, doc: dict[str, Any], key: str) -> None:
        address = self.obj(self.get(doc, key, ""), key)
        for name in ("address1", "address2", "city", "country", "state", "zip"):
            self.text(address, name, key)
        self.text(address, "district", key, required=False)


DocCheck = _Doc  # the checks, for other documents of a shop (the rules document)


def _not_negative(d: _Doc, doc: dict[str, Any], key: str, path: str = "") -> None:
    """An optional number that must not be negative (weights, freight)."""
    d.number(doc, key, path, required=False)
    if key in doc and doc[key] < 0:
        raise d.fail(_join(path, key), "expected a non-negative number")


def _section(file: str, value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ShopImportError(
            file, None, f"expected a JSON object of {what} keyed by id, got {kind(value)}"
        )
    return value


def _check_user(file: str, user_id: str, raw: object) -> dict[str, Any]:
    d = _Doc(file, f'user "{user_id}"')
    doc = d.obj(raw, "")
    if "user_id" in doc and d.text(doc, "user_id") != user_id:
        raise d.fail("user_id", f"does not match the key {user_id!r}")
    name = d.obj(d.get(doc, "name", ""), "name")
    d.text(name, "first_name", "name")
    d.text(name, "last_name", "name")
    d.address(doc, "address")
    d.text(doc, "email")
    d.text(doc, "phone", required=False)
    methods = d.obj(d.get(doc, "payment_methods", ""), "payment_methods")
    for method_id, raw_method in methods.items():
        where = f'payment_methods["{method_id}"]'
        method = d.obj(raw_method, where)
        if d.text(method, "id", where) != method_id:
            raise d.fail(_join(where, "id"), f"does not match the key {method_id!r}")
        source = d.text(method, "source", where)
        if source == "credit_card":
            d.text(method, "brand", where)
            d.text(method, "last_four", where)
        elif source == "gift_card":
            d.number(method, "balance", where)
    d.texts(doc, "orders")
    if "coupons" in doc:
        for i, coupon in enumerate(d.items(doc, "coupons")):
            d.text(coupon, "coupon_id", f"coupons[{i}]")
            d.text(coupon, "template_id", f"coupons[{i}]")
    return doc


def _check_product(file: str, product_id: str, raw: object) -> dict[str, Any]:
    d = _Doc(file, f'product "{product_id}"')
    doc = d.obj(raw, "")
    d.text(doc, "name")
    if d.text(doc, "product_id") != product_id:
        raise d.fail("product_id", f"does not match the key {product_id!r}")
    d.text(doc, "name_en", required=False)
    d.boolean(doc, "returnable", required=False)
    _not_negative(d, doc, "weight_kg")
    variants = d.obj(d.get(doc, "variants", ""), "variants")
    for item_id, raw_variant in variants.items():
        where = f'variants["{item_id}"]'
        variant = d.obj(raw_variant, where)
        if d.text(variant, "item_id", where) != item_id:
            raise d.fail(_join(where, "item_id"), f"does not match the key {item_id!r}")
        d.options(variant, "options", where)
        d.boolean(variant, "available", where)
        d.number(variant, "price", where)
        _not_negative(d, variant, "weight_kg", where)
    return doc


def _check_order(
    file: str,
    order_id: str,
    raw: object,
    users: Mapping[str, Any],
    products: Mapping[str, Any],
    files: ShopFiles,
) -> None:
    d = _Doc(file, f'order "{order_id}"')
    doc = d.obj(raw, "")
    if d.text(doc, "order_id") != order_id:
        raise d.fail("order_id", f"does not match the key {order_id!r}")
    user_id = d.text(doc, "user_id")
    if user_id not in users:
        raise d.fail("user_id", f"unknown user {user_id!r} (not in {files.users})")
    d.address(doc, "address")
    for i, item in enumerate(d.items(doc, "items")):
        where = f"items[{i}]"
        d.text(item, "name", where)
        product_id = d.text(item, "product_id", where)
        item_id = d.text(item, "item_id", where)
        d.number(item, "price", where)
        d.options(item, "options", where)
        product = products.get(product_id)
        if product is None:
            raise d.fail(
                _join(where, "product_id"),
                f"unknown product {product_id!r} (not in {files.products})",
            )
        if item_id not in product["variants"]:
            raise d.fail(
                _join(where, "item_id"), f"product {product_id!r} has no variant {item_id!r}"
            )
    for i, shipment in enumerate(d.items(doc, "fulfillments")):
        where = f"fulfillments[{i}]"
        d.texts(shipment, "tracking_id", where)
        d.texts(shipment, "item_ids", where)
        d.text(shipment, "carrier", where, required=False)
        if "events" in shipment:
            for j, event in enumerate(d.items(shipment, "events", where)):
                at = f"{where}.events[{j}]"
                d.time(event, "time", at)
                for name in ("location", "status", "description"):
                    d.text(event, name, at)
    d.text(doc, "status")
    for i, payment in enumerate(d.items(doc, "payment_history")):
        where = f"payment_history[{i}]"
        d.text(payment, "transaction_type", where)
        d.number(payment, "amount", where)
        d.text(payment, "payment_method_id", where)
    d.time(doc, "created_at", required=False)
    d.time(doc, "delivered_at", required=False)
    _not_negative(d, doc, "freight")


def validate_shop(
    users: object,
    orders: object,
    products: object,
    files: ShopFiles | None = None,
    *,
    rules: object = None,
    rules_file: str = "shop_rules.json",
) -> ShopData:
    """Check a whole shop; return it typed as :class:`ShopData` or raise ShopImportError.
    ``rules``, when given, is the shop rules document (checked by
    :func:`~kefu.connectors.embedded_extras_rules.validate_rules`, errors naming
    ``rules_file``)."""
    from kefu.connectors.embedded_extras_rules import validate_rules

    files = files or ShopFiles()
    rules_doc = None if rules is None else validate_rules(rules, rules_file)
    user_docs = _section(files.users, users, "users")
    order_docs = _section(files.orders, orders, "orders")
    product_docs = _section(files.products, products, "products")
    for product_id, product in product_docs.items():
        _check_product(files.products, product_id, product)
    for user_id, user in user_docs.items():
        _check_user(files.users, user_id, user)
    for order_id, order in order_docs.items():
        _check_order(files.orders, order_id, order, user_docs, product_docs, files)
    for user_id, user in user_docs.items():
        for i, order_id in enumerate(user["orders"]):
            if order_id not in order_docs:
                raise ShopImportError(
                    files.users,
                    f'user "{user_id}", orders[{i}]',
                    f"unknown order {order_id!r} (not in {files.orders})",
                )
    return ShopData(user_docs, order_docs, product_docs, files, rules_doc)
