"""The shop connector port: typed read operations over a shop's customers, orders, products.

The objects here are the read-side view of a shop. They are built from documents in the
tau-bench retail schema (``Customer.from_tau`` and friends), so any adapter that can produce that
JSON (the embedded shop, an HTTP connector mapping a merchant API) gives the dialogue engine the
same objects. Keys beyond tau's schema (``phone``, ``district``, ``created_at``, ``carrier``,
``events``, ``returnable``, ``name_en``, ...) are read when present; any other key is kept in
``extras`` so nothing a shop sends is lost.

Every operation names the tenant: one connector object serves every tenant that uses it (the
embedded shop keeps all tenants in one database; an HTTP connector looks the tenant's endpoint
up). Unknown tenants raise :class:`~kefu.errors.TenantNotFound`.

Money is :class:`~decimal.Decimal` built from the JSON number's shortest text (``47.84`` stays
``Decimal("47.84")``), so sums and previews never show float noise.

The port is split in protocols: :class:`ShopReader` (L2), :class:`ShopWriter` (L3: cancel,
modify, return, exchange, with tau-bench retail's rules and effects) and :class:`ShopConnector`,
both; code that only reads should ask for a ``ShopReader``. Confirmation of the exact preview,
idempotency keys and the ledger belong to the operations layer above the port.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from kefu.errors import ProductNotFound


class OrderStatus(StrEnum):
    """The statuses tau-bench uses; a shop may send others (``Order.status`` is plain text)."""

    PENDING = "pending"
    PENDING_ITEM_MODIFIED = "pending (item modified)"
    PROCESSED = "processed"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURN_REQUESTED = "return requested"
    EXCHANGE_REQUESTED = "exchange requested"


def money(value: float | int | str | Decimal) -> Decimal:
    """A JSON number as a Decimal with the digits it was written with (``47.84`` -> 47.84)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 date-time (``2026-11-05T14:32:00+08:00``) or None when absent."""
    if value is None:
        return None
    return datetime.fromisoformat(str(value))


_NOT_DIGIT = re.compile(r"\D")


def normalise_phone(phone: str) -> str:
    """Digits only, without a mainland country prefix: ``+86 138-0013-8000`` -> ``13800138000``.

    Lookups by phone compare normalised numbers.
    """
    digits = _NOT_DIGIT.sub("", unicodedata.normalize("NFKC", phone))
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            return digits[len(prefix) :]
    return digits


def normalise_email(email: str) -> str:
    """Lookups by email ignore case and surrounding blanks."""
    return unicodedata.normalize("NFKC", email).strip().lower()


def _extras(doc: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in known}


def _options(doc: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in doc.items()}


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text)


# --- customers -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Address:
    address1: str
    address2: str
    city: str
    state: str
    country: str
    zip: str
    district: str | None = None  # 区/县 (Chinese demo shop)

    _KEYS = frozenset({"address1", "address2", "city", "state", "country", "zip", "district"})

    @classmethod
    def from_tau(cls, doc: Mapping[str, Any]) -> Address:
        return cls(
            address1=doc["address1"],
            address2=doc["address2"],
            city=doc["city"],
            state=doc["state"],
            country=doc["country"],
            zip=doc["zip"],
            district=doc.get("district"),
        )

    def one_line(self) -> str:
        """The address as a customer would write it (Chinese order for Chinese addresses)."""
        if _has_cjk(self.city + self.state):
            city = "" if self.city == self.state else self.city  # 上海市, not 上海市上海市
            parts = (self.state, city, self.district or "", self.address1, self.address2)
            return "".join(p for p in parts if p)
        parts = (self.address1, self.address2, self.city, f"{self.state} {self.zip}", self.country)
        return ", ".join(p for p in parts if p.strip())


@dataclass(frozen=True, kw_only=True)
class PaymentMethod:
    """tau sources: ``credit_card`` (brand, last_four), ``gift_card`` (balance), ``paypal``;
    the demo shop adds ``alipay`` and ``wechat_pay``."""

    id: str
    source: str
    brand: str | None = None
    last_four: str | None = None
    balance: Decimal | None = None
    extras: Mapping[str, Any] = field(default_factory=dict)

    _KEYS = frozenset({"id", "source", "brand", "last_four", "balance"})

    @classmethod
    def from_tau(cls, doc: Mapping[str, Any]) -> PaymentMethod:
        balance = doc.get("balance")
        return cls(
            id=doc["id"],
            source=doc["source"],
            brand=doc.get("brand"),
            last_four=doc.get("last_four"),
            balance=None if balance is None else money(balance),
            extras=_extras(doc, cls._KEYS),
        )


@dataclass(frozen=True, kw_only=True)
class Customer:
    id: str
    first_name: str  # 名 for Chinese customers
    last_name: str  # 姓
    email: str
    phone: str | None
    address: Address
    payment_methods: tuple[PaymentMethod, ...]
    order_ids: tuple[str, ...]
    extras: Mapping[str, Any] = field(default_factory=dict)

    _KEYS = frozenset({"user_id", "name", "address", "email", "phone", "payment_methods", "orders"})

    @classmethod
    def from_tau(cls, customer_id: str, doc: Mapping[str, Any]) -> Customer:
        return cls(
            id=customer_id,
            first_name=doc["name"]["first_name"],
            last_name=doc["name"]["last_name"],
            email=doc["email"],
            phone=doc.get("phone"),
            address=Address.from_tau(doc["address"]),
            payment_methods=tuple(
                PaymentMethod.from_tau(pm) for pm in doc["payment_methods"].values()
            ),
            order_ids=tuple(doc["orders"]),
            extras=_extras(doc, cls._KEYS),
        )

    @property
    def name(self) -> str:
        """Display name: 姓名 for Chinese names, "First Last" otherwise."""
        if _has_cjk(self.last_name + self.first_name):
            return self.last_name + self.first_name
        return f"{self.first_name} {self.last_name}".strip()

    def payment_method(self, payment_method_id: str) -> PaymentMethod | None:
        return next((p for p in self.payment_methods if p.id == payment_method_id), None)


# --- orders ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OrderItem:
    item_id: str  # the variant bought
    product_id: str
    name: str
    price: Decimal
    options: Mapping[str, str]

    @classmethod
    def from_tau(cls, doc: Mapping[str, Any]) -> OrderItem:
        return cls(
            item_id=doc["item_id"],
            product_id=doc["product_id"],
            name=doc["name"],
            price=money(doc["price"]),
            options=_options(doc["options"]),
        )


@dataclass(frozen=True, kw_only=True)
class Payment:
    transaction_type: str  # "payment" or "refund"
    amount: Decimal
    payment_method_id: str

    @classmethod
    def from_tau(cls, doc: Mapping[str, Any]) -> Payment:
        return cls(
            transaction_type=doc["transaction_type"],
            amount=money(doc["amount"]),
            payment_method_id=doc["payment_method_id"],
        )


@dataclass(frozen=True, kw_only=True)
class TrackingEvent:
    time: datetime
    location: str
    status: str  # 已揽收 / 运输中 / 派送中 / 已签收 in the demo shop
    description: str

    @classmethod
    def from_tau(cls, doc: Mapping[str, Any]) -> TrackingEvent:
        return cls(
            time=datetime.fromisoformat(doc["time"]),
            location=doc["location"],
            status=doc["status"],
            description=doc["description"],
        )


@dataclass(frozen=True, kw_only=True)
class Shipment:
    """One parcel of an order (a tau ``fulfillments`` entry)."""

    tracking_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    carrier: str | None = None
    events: tuple[TrackingEvent, ...] = ()  # oldest first
    extras: Mapping[str, Any] = field(default_factory=dict)

    _KEYS = frozenset({"tracking_id", "item_ids", "carrier", "events"})

    @classmethod
    def from_tau(cls, doc: Mapping[str, Any]) -> Shipment:
        return cls(
            tracking_ids=tuple(doc["tracking_id"]),
            item_ids=tuple(doc["item_ids"]),
            carrier=doc.get("carrier"),
            events=tuple(TrackingEvent.from_tau(e) for e in doc.get("events") or ()),
            extras=_extras(doc, cls._KEYS),
        )

    @property
    def tracking_number(self) -> str | None:
        return self.tracking_ids[0] if self.tracking_ids else None

    @property
    def latest(self) -> TrackingEvent | None:
        return self.events[-1] if self.events else None


@dataclass(frozen=True, kw_only=True)
class Order:
    id: str
    customer_id: str
    status: str  # see OrderStatus
    address: Address
    items: tuple[OrderItem, ...]
    fulfillments: tuple[Shipment, ...]
    payment_history: tuple[Payment, ...]
    created_at: datetime | None = None
    delivered_at: datetime | None = None
    # Everything else the document holds: tau's write results (cancel_reason, return_items,
    # exchange_items, exchange_new_items, ..._payment_method_id, exchange_price_difference) and
    # any key a shop adds.
    extras: Mapping[str, Any] = field(default_factory=dict)

    _KEYS = frozenset(
        {
            "order_id",
            "user_id",
            "address",
            "items",
            "fulfillments",
            "status",
            "payment_history",
            "created_at",
            "delivered_at",
        }
    )

    @classmethod
    def from_tau(cls, doc: Mapping[str, Any]) -> Order:
        return cls(
            id=doc["order_id"],
            customer_id=doc["user_id"],
            status=doc["status"],
            address=Address.from_tau(doc["address"]),
            items=tuple(OrderItem.from_tau(i) for i in doc["items"]),
            fulfillments=tuple(Shipment.from_tau(f) for f in doc["fulfillments"]),
            payment_history=tuple(Payment.from_tau(p) for p in doc["payment_history"]),
            created_at=parse_time(doc.get("created_at")),
            delivered_at=parse_time(doc.get("delivered_at")),
            extras=_extras(doc, cls._KEYS),
        )

    @property
    def total(self) -> Decimal:
        """Sum of the item prices."""
        return sum((i.price for i in self.items), Decimal(0))

    @property
    def paid(self) -> Decimal:
        """Payments minus refunds."""
        total = Decimal(0)
        for p in self.payment_history:
            total += -p.amount if p.transaction_type == "refund" else p.amount
        return total

    def item(self, item_id: str) -> OrderItem | None:
        return next((i for i in self.items if i.item_id == item_id), None)


# --- products --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Variant:
    item_id: str
    options: Mapping[str, str]
    available: bool
    price: Decimal

    @classmethod
    def from_tau(cls, doc: Mapping[str, Any]) -> Variant:
        return cls(
            item_id=doc["item_id"],
            options=_options(doc["options"]),
            available=bool(doc["available"]),
            price=money(doc["price"]),
        )


@dataclass(frozen=True, kw_only=True)
class Product:
    id: str
    name: str
    variants: tuple[Variant, ...]
    name_en: str | None = None
    returnable: bool = True  # False: no no-reason returns or exchanges (内衣, 定制商品 ...)
    extras: Mapping[str, Any] = field(default_factory=dict)

    _KEYS = frozenset({"name", "product_id", "variants", "name_en", "returnable"})

    @classmethod
    def from_tau(cls, doc: Mapping[str, Any]) -> Product:
        return cls(
            id=doc["product_id"],
            name=doc["name"],
            variants=tuple(Variant.from_tau(v) for v in doc["variants"].values()),
            name_en=doc.get("name_en"),
            returnable=bool(doc.get("returnable", True)),
            extras=_extras(doc, cls._KEYS),
        )

    @property
    def in_stock(self) -> bool:
        return any(v.available for v in self.variants)

    def variant(self, item_id: str) -> Variant | None:
        return next((v for v in self.variants if v.item_id == item_id), None)


# --- the port --------------------------------------------------------------------------------


def filter_products(
    products: list[Product], *, name: str | None = None, in_stock: bool | None = None
) -> list[Product]:
    """``ShopReader.list_products``'s filter: the name (either language, case folded)
    contains ``name``; in stock or not."""
    if name is not None and name.strip():
        needle = name.strip().casefold()
        products = [
            p
            for p in products
            if needle in p.name.casefold() or needle in (p.name_en or "").casefold()
        ]
    if in_stock is not None:
        products = [p for p in products if p.in_stock == in_stock]
    return products


def find_variant(products: list[Product], item_id: str) -> tuple[Product, Variant]:
    """``ShopReader.variant`` over a list of products. Raises ProductNotFound."""
    for product in products:
        found = product.variant(item_id)
        if found is not None:
            return product, found
    raise ProductNotFound(item_id, field="item_id")


@runtime_checkable
class ShopReader(Protocol):
    """Read operations of a shop. Every method raises TenantNotFound for an unknown tenant."""

    def find_customer_by_email(self, tenant: str, email: str) -> Customer:
        """The customer with this email (case-insensitive). Raises CustomerNotFound."""
        ...

    def find_customer_by_name_zip(
        self, tenant: str, first_name: str, last_name: str, zip: str
    ) -> Customer:
        """The customer with this name (case-insensitive) and address zip code, as tau's
        ``find_user_id_by_name_zip``. For Chinese names ``first_name`` is 名 and ``last_name``
        姓. Raises CustomerNotFound."""
        ...

    def find_customer_by_phone(self, tenant: str, phone: str) -> Customer:
        """The customer with this phone number (compared after :func:`normalise_phone`).
        Raises CustomerNotFound."""
        ...

    def customer(self, tenant: str, customer_id: str) -> Customer:
        """Raises CustomerNotFound."""
        ...

    def order(self, tenant: str, order_id: str) -> Order:
        """The order with this id; ``W2611340`` also finds ``#W2611340``. Raises
        OrderNotFound."""
        ...

    def orders_of_customer(self, tenant: str, customer_id: str) -> list[Order]:
        """The customer's orders, oldest first (import order). Raises CustomerNotFound."""
        ...

    def product(self, tenant: str, product_id: str) -> Product:
        """Raises ProductNotFound."""
        ...

    def variant(self, tenant: str, item_id: str) -> tuple[Product, Variant]:
        """The product variant with this item id (tau2 ``get_item_details``). Raises
        ProductNotFound (field ``item_id``)."""
        ...

    def list_products(
        self, tenant: str, *, name: str | None = None, in_stock: bool | None = None
    ) -> list[Product]:
        """Products in catalogue order; ``name`` keeps those whose name or English name
        contains it (case-insensitive), ``in_stock`` those with (True) or without (False) an
        available variant. Never raises for an empty result."""
        ...

    def tracking(self, tenant: str, order_id: str) -> tuple[Shipment, ...]:
        """The order's shipments with their tracking events (empty before shipping). Raises
        OrderNotFound."""
        ...


class CancelReason(StrEnum):
    """The reasons tau-bench accepts for cancelling a pending order."""

    NO_LONGER_NEEDED = "no longer needed"
    ORDERED_BY_MISTAKE = "ordered by mistake"


@runtime_checkable
class ShopWriter(Protocol):
    """Write operations of a shop (L3), with tau-bench retail's rules and effects.

    Each operation is all or nothing and returns the object as it is after the write. Every
    method raises TenantNotFound for an unknown tenant, OrderNotFound / CustomerNotFound when
    the order or customer named does not exist (ids are exact: ``#W2611340``), and
    :class:`~kefu.errors.OperationRefused` when the shop's rules forbid the write (the order is
    not pending, an item is not in the order, a gift card's balance is too low, ...); nothing
    is written then. ``item_ids`` may repeat an id (two of the same item), and ``new_item_ids``
    pairs with ``item_ids`` by position: each new item is a variant of the same product.
    """

    def cancel_order(self, tenant: str, order_id: str, reason: str) -> Order:
        """Cancel a pending order (``reason``: a :class:`CancelReason`). Every payment is
        refunded; refunds to a gift card go back on its balance at once. Status becomes
        ``cancelled``."""
        ...

    def modify_order_address(self, tenant: str, order_id: str, address: Address) -> Order:
        """Change the shipping address of a pending order."""
        ...

    def modify_order_items(
        self,
        tenant: str,
        order_id: str,
        item_ids: Sequence[str],
        new_item_ids: Sequence[str],
        payment_method_id: str,
    ) -> Order:
        """Swap items of a pending order for other available variants of the same products;
        the price difference is paid with (or refunded to) ``payment_method_id``. Status
        becomes ``pending (item modified)``, so this can be done once."""
        ...

    def modify_order_payment(self, tenant: str, order_id: str, payment_method_id: str) -> Order:
        """Pay a pending order (exactly one payment so far) with another of the customer's
        payment methods; the old one is refunded."""
        ...

    def modify_customer_address(self, tenant: str, customer_id: str, address: Address) -> Customer:
        """Change the customer's default address."""
        ...

    def return_order_items(
        self, tenant: str, order_id: str, item_ids: Sequence[str], payment_method_id: str
    ) -> Order:
        """Request the return of items of a delivered order, refunded to the original payment
        method or a gift card. Status becomes ``return requested``."""
        ...

    def exchange_order_items(
        self,
        tenant: str,
        order_id: str,
        item_ids: Sequence[str],
        new_item_ids: Sequence[str],
        payment_method_id: str,
    ) -> Order:
        """Request the exchange of items of a delivered order for available variants of the same
        products; the price difference is settled with ``payment_method_id``. Status becomes
        ``exchange requested``."""
        ...

    # -- shop extensions (rules document: freight table, coupon templates) -------------------

    def refund_order(
        self, tenant: str, order_id: str, amount: Decimal, payment_method_id: str, reason: str
    ) -> Order:
        """Refund part of a ``delivered`` or ``processed`` order (price protection, a missing
        accessory, ...): ``amount`` (> 0, whole cents) at most what was paid minus what was
        refunded, to the original payment method or one of the customer's gift cards (its
        balance goes up at once); ``reason`` a :class:`RefundReason`. The status is kept;
        the refund is listed in the order's ``partial_refunds``."""
        ...

    def refund_orders(
        self,
        tenant: str,
        refunds: Sequence[tuple[str, Decimal, str]],
        reason: str,
    ) -> list[Order]:
        """Several partial refunds ``(order_id, amount, payment_method_id)`` on orders of one
        customer, all or nothing, each under :meth:`refund_order`'s rules. Returns the orders
        in the order given."""
        ...

    def merge_orders(
        self, tenant: str, order_ids: Sequence[str], address: Address | None = None
    ) -> Order:
        """Merge pending orders of one customer (at least two; ``pending (item modified)`` is
        not pending) into the first: their items and payments move to it, they are cancelled
        (``cancel_reason`` ``merged``, ``merged_into``), it ships to ``address`` (default: its
        own) and, with a freight table, its freight is recomputed for the merged items and
        the difference refunded to (or charged to) the original payment methods."""
        ...

    def issue_coupon(
        self,
        tenant: str,
        customer_id: str,
        template_id: str,
        reason: str,
        order_id: str | None = None,
    ) -> Customer:
        """Issue a coupon of the shop's template ``template_id`` to the customer for
        ``reason`` (a :class:`CouponReason` the template allows; ``order_id`` names the
        customer's order it compensates), within the template's per-customer limit. The
        coupon is stored in the customer document's ``coupons``."""
        ...


@runtime_checkable
class ShopConnector(ShopReader, ShopWriter, Protocol):
    """The whole connector port: reads (L2) and writes (L3). Code that only reads should ask
    for a :class:`ShopReader`."""


class RefundReason(StrEnum):
    """Why part of an order is refunded (``refund_order``, ``refund_orders``)."""

    PRICE_PROTECTION = "price_protection"  # 价保：降价补差
    MISSING_ACCESSORY = "missing_accessory"  # 少件、缺配件
    MINOR_DEFECT = "minor_defect"  # 轻微瑕疵，顾客保留商品
    LATE_DELIVERY = "late_delivery"  # 发货或物流延迟补偿
    FREIGHT_ADJUSTMENT = "freight_adjustment"  # 运费多收退还


class CouponReason(StrEnum):
    """Why a coupon may be issued (``issue_coupon``; a coupon template lists the ones it
    allows)."""

    DELAY_COMPENSATION = "delay_compensation"  # 发货或物流延迟补偿
    QUALITY_COMPENSATION = "quality_compensation"  # 质量问题补偿
    SERVICE_COMPENSATION = "service_compensation"  # 服务体验补偿
    OUT_OF_STOCK_COMPENSATION = "out_of_stock_compensation"  # 缺货补偿
