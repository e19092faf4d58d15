"""Typed requests for the seven shop writes of :class:`~kefu.connectors.port.ShopWriter`.

One small frozen class per write, serialisable to and from JSON (``to_args`` /
:func:`request_from_args`): the ledger stores the arguments, the API and CLI read them back.
``apply`` performs the write through the port; ``dry_run_args`` are the keyword arguments of
the shop's dry run (the same rule, on copies).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from kefu.connectors.port import Address, Customer, Order, ShopWriter
from kefu.errors import InvalidInputError

_ADDRESS_KEYS = ("address1", "address2", "city", "state", "country", "zip")


def address_to_json(address: Address) -> dict[str, Any]:
    doc: dict[str, Any] = {k: getattr(address, k) for k in _ADDRESS_KEYS}
    if address.district is not None:
        doc["district"] = address.district
    return doc


def _address(args: Mapping[str, Any]) -> Address:
    value = args.get("address")
    if isinstance(value, Address):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInputError("address must be an object", field="address")
    missing = [k for k in _ADDRESS_KEYS if not isinstance(value.get(k), str)]
    if missing:
        raise InvalidInputError(
            f"address needs text for {', '.join(missing)}", field=f"address.{missing[0]}"
        )
    district = value.get("district")
    return Address(
        **{k: value[k] for k in _ADDRESS_KEYS},
        district=None if district is None else str(district),
    )


def _text(args: Mapping[str, Any], name: str) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{name} must be non-empty text", field=name)
    return value


def _ids(args: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = args.get(name)
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(v, str) and v for v in value)
    ):
        raise InvalidInputError(f"{name} must be a non-empty list of ids", field=name)
    return tuple(value)


class OperationRequest(Protocol):
    """What every request offers."""

    name: ClassVar[str]

    @property
    def target(self) -> str:
        """The order id, or the customer id for a customer address change."""
        ...

    def to_args(self) -> dict[str, Any]: ...

    def dry_run_args(self) -> dict[str, Any]: ...

    def apply(self, shop: ShopWriter, tenant: str) -> Order | Customer: ...


@dataclass(frozen=True, slots=True)
class CancelOrder:
    name: ClassVar[str] = "cancel_order"
    order_id: str
    reason: str

    @property
    def target(self) -> str:
        return self.order_id

    def to_args(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "reason": self.reason}

    def dry_run_args(self) -> dict[str, Any]:
        return self.to_args()

    def apply(self, shop: ShopWriter, tenant: str) -> Order:
        return shop.cancel_order(tenant, self.order_id, self.reason)


@dataclass(frozen=True, slots=True)
class ModifyOrderAddress:
    name: ClassVar[str] = "modify_order_address"
    order_id: str
    address: Address

    @property
    def target(self) -> str:
        return self.order_id

    def to_args(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "address": address_to_json(self.address)}

    def dry_run_args(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "address": self.address}

    def apply(self, shop: ShopWriter, tenant: str) -> Order:
        return shop.modify_order_address(tenant, self.order_id, self.address)


@dataclass(frozen=True, slots=True)
class ModifyCustomerAddress:
    name: ClassVar[str] = "modify_customer_address"
    customer_id: str
    address: Address

    @property
    def target(self) -> str:
        return self.customer_id

    def to_args(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "address": address_to_json(self.address)}

    def dry_run_args(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "address": self.address}

    def apply(self, shop: ShopWriter, tenant: str) -> Customer:
        return shop.modify_customer_address(tenant, self.customer_id, self.address)


@dataclass(frozen=True, slots=True)
class ModifyOrderItems:
    name: ClassVar[str] = "modify_order_items"
    order_id: str
    item_ids: tuple[str, ...]
    new_item_ids: tuple[str, ...]
    payment_method_id: str

    @property
    def target(self) -> str:
        return self.order_id

    def to_args(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "item_ids": list(self.item_ids),
            "new_item_ids": list(self.new_item_ids),
            "payment_method_id": self.payment_method_id,
        }

    def dry_run_args(self) -> dict[str, Any]:
        return self.to_args()

    def apply(self, shop: ShopWriter, tenant: str) -> Order:
        return shop.modify_order_items(
            tenant, self.order_id, self.item_ids, self.new_item_ids, self.payment_method_id
        )


@dataclass(frozen=True, slots=True)
class ModifyOrderPayment:
    name: ClassVar[str] = "modify_order_payment"
    order_id: str
    payment_method_id: str

    @property
    def target(self) -> str:
        return self.order_id

    def to_args(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "payment_method_id": self.payment_method_id}

    def dry_run_args(self) -> dict[str, Any]:
        return self.to_args()

    def apply(self, shop: ShopWriter, tenant: str) -> Order:
        return shop.modify_order_payment(tenant, self.order_id, self.payment_method_id)


@dataclass(frozen=True, slots=True)
class ReturnOrderItems:
    name: ClassVar[str] = "return_order_items"
    order_id: str
    item_ids: tuple[str, ...]
    payment_method_id: str

    @property
    def target(self) -> str:
        return self.order_id

    def to_args(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "item_ids": list(self.item_ids),
            "payment_method_id": self.payment_method_id,
        }

    def dry_run_args(self) -> dict[str, Any]:
        return self.to_args()

    def apply(self, shop: ShopWriter, tenant: str) -> Order:
        return shop.return_order_items(tenant, self.order_id, self.item_ids, self.payment_method_id)


@dataclass(frozen=True, slots=True)
class ExchangeOrderItems:
    name: ClassVar[str] = "exchange_order_items"
    order_id: str
    item_ids: tuple[str, ...]
    new_item_ids: tuple[str, ...]
    payment_method_id: str

    @property
    def target(self) -> str:
        return self.order_id

    def to_args(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "item_ids": list(self.item_ids),
            "new_item_ids": list(self.new_item_ids),
            "payment_method_id": self.payment_method_id,
        }

    def dry_run_args(self) -> dict[str, Any]:
        return self.to_args()

    def apply(self, shop: ShopWriter, tenant: str) -> Order:
        return shop.exchange_order_items(
            tenant, self.order_id, self.item_ids, self.new_item_ids, self.payment_method_id
        )


Request = (
    CancelOrder
    | ModifyOrderAddress
    | ModifyCustomerAddress
    | ModifyOrderItems
    | ModifyOrderPayment
    | ReturnOrderItems
    | ExchangeOrderItems
)
OPERATIONS: tuple[str, ...] = (
    CancelOrder.name,
    ModifyOrderAddress.name,
    ModifyCustomerAddress.name,
    ModifyOrderItems.name,
    ModifyOrderPayment.name,
    ReturnOrderItems.name,
    ExchangeOrderItems.name,
)


def request_from_args(operation: str, args: Mapping[str, Any]) -> Request:
    """The typed request of ``operation`` (a ShopWriter method name) from JSON arguments.
    Raises InvalidInputError naming the field for an unknown operation or a bad argument."""
    if operation == CancelOrder.name:
        return CancelOrder(_text(args, "order_id"), _text(args, "reason"))
    if operation == ModifyOrderAddress.name:
        return ModifyOrderAddress(_text(args, "order_id"), _address(args))
    if operation == ModifyCustomerAddress.name:
        return ModifyCustomerAddress(_text(args, "customer_id"), _address(args))
    if operation == ModifyOrderPayment.name:
        return ModifyOrderPayment(_text(args, "order_id"), _text(args, "payment_method_id"))
    if operation == ReturnOrderItems.name:
        return ReturnOrderItems(
            _text(args, "order_id"), _ids(args, "item_ids"), _text(args, "payment_method_id")
        )
    if operation in (ModifyOrderItems.name, ExchangeOrderItems.name):
        cls = ModifyOrderItems if operation == ModifyOrderItems.name else ExchangeOrderItems
        return cls(
            _text(args, "order_id"),
            _ids(args, "item_ids"),
            _ids(args, "new_item_ids"),
            _text(args, "payment_method_id"),
        )
    raise InvalidInputError(
        f"unknown operation {operation!r}; one of {', '.join(OPERATIONS)}", field="operation"
    )
