"""Typed requests for the shop writes of :class:`~kefu.connectors.port.ShopWriter`: tau's
seven, and the shop extensions (``refund_order``, ``refund_orders``, ``merge_orders``,
``issue_coupon``; docs/shop-extensions.md).

One small frozen class per write, serialisable to and from JSON (``to_args`` /
:func:`request_from_args`): the ledger stores the arguments, the API and CLI read them back.
``apply`` performs the write through the port; ``dry_run_args`` are the keyword arguments of
the shop's dry run (the same rule, on copies).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Protocol

from kefu.connectors.port import Address, Customer, Order, ShopWriter, money
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


def _optional_text(args: Mapping[str, Any], name: str) -> str | None:
    if args.get(name) is None:
        return None
    return _text(args, name)


def _amount(value: object, field: str) -> Decimal:
    """A money amount given as a JSON number or text (``"12.50"``); its sign and cents are
    the shop's rules (``invalid_amount``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise InvalidInputError(f"{field} must be a number or numeric text", field=field)
    try:
        return money(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        raise InvalidInputError(f"{field} must be a number", field=field) from None


class OperationRequest(Protocol):
    """What every request offers."""

    name: ClassVar[str]

    @property
    def target(self) -> str:
        """The order id, or the customer id for a customer address change."""
        ...

    def to_args(self) -> dict[str, Any]: ...

    def dry_run_args(self) -> dict[str, Any]: ...

    def apply(self, shop: ShopWriter, tenant: str) -> Order | Customer | list[Order]: ...


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


# --- shop extensions (docs/shop-extensions.md) --------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefundOrder:
    """A partial refund of a delivered or processed order."""

    name: ClassVar[str] = "refund_order"
    order_id: str
    amount: Decimal
    payment_method_id: str
    reason: str  # a RefundReason

    @property
    def target(self) -> str:
        return self.order_id

    def to_args(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "amount": str(self.amount),
            "payment_method_id": self.payment_method_id,
            "reason": self.reason,
        }

    def dry_run_args(self) -> dict[str, Any]:
        return {**self.to_args(), "amount": self.amount}

    def apply(self, shop: ShopWriter, tenant: str) -> Order:
        return shop.refund_order(
            tenant, self.order_id, self.amount, self.payment_method_id, self.reason
        )


@dataclass(frozen=True, slots=True)
class RefundLine:
    """One order's part of a combined refund."""

    order_id: str
    amount: Decimal
    payment_method_id: str

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "amount": str(self.amount),
            "payment_method_id": self.payment_method_id,
        }


@dataclass(frozen=True, slots=True)
class RefundOrders:
    """Partial refunds on several orders of one customer, all or nothing."""

    name: ClassVar[str] = "refund_orders"
    refunds: tuple[RefundLine, ...]
    reason: str  # a RefundReason, for every line

    @property
    def target(self) -> str:
        return self.refunds[0].order_id

    def to_args(self) -> dict[str, Any]:
        return {"refunds": [line.to_json() for line in self.refunds], "reason": self.reason}

    def dry_run_args(self) -> dict[str, Any]:
        return {
            "refunds": [(r.order_id, r.amount, r.payment_method_id) for r in self.refunds],
            "reason": self.reason,
        }

    def apply(self, shop: ShopWriter, tenant: str) -> list[Order]:
        lines = [(r.order_id, r.amount, r.payment_method_id) for r in self.refunds]
        return shop.refund_orders(tenant, lines, self.reason)


@dataclass(frozen=True, slots=True)
class MergeOrders:
    """Pending orders of one customer merged into the first (``address``: None keeps the
    first order's)."""

    name: ClassVar[str] = "merge_orders"
    order_ids: tuple[str, ...]
    address: Address | None = None

    @property
    def target(self) -> str:
        return self.order_ids[0]

    def to_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"order_ids": list(self.order_ids)}
        if self.address is not None:
            args["address"] = address_to_json(self.address)
        return args

    def dry_run_args(self) -> dict[str, Any]:
        return {"order_ids": list(self.order_ids), "address": self.address}

    def apply(self, shop: ShopWriter, tenant: str) -> Order:
        return shop.merge_orders(tenant, self.order_ids, self.address)


@dataclass(frozen=True, slots=True)
class IssueCoupon:
    """A coupon of one of the shop's templates for a customer (``order_id``: the order it
    compensates, when there is one)."""

    name: ClassVar[str] = "issue_coupon"
    customer_id: str
    template_id: str
    reason: str  # a CouponReason the template allows
    order_id: str | None = None

    @property
    def target(self) -> str:
        return self.customer_id

    def to_args(self) -> dict[str, Any]:
        args = {
            "customer_id": self.customer_id,
            "template_id": self.template_id,
            "reason": self.reason,
        }
        if self.order_id is not None:
            args["order_id"] = self.order_id
        return args

    def dry_run_args(self) -> dict[str, Any]:
        return {**self.to_args(), "order_id": self.order_id}

    def apply(self, shop: ShopWriter, tenant: str) -> Customer:
        return shop.issue_coupon(
            tenant, self.customer_id, self.template_id, self.reason, self.order_id
        )


Request = (
    CancelOrder
    | ModifyOrderAddress
    | ModifyCustomerAddress
    | ModifyOrderItems
    | ModifyOrderPayment
    | ReturnOrderItems
    | ExchangeOrderItems
    | RefundOrder
    | RefundOrders
    | MergeOrders
    | IssueCoupon
)
# tau-bench retail's seven writes (``OPERATIONS``, kept as it was), the shop extensions'
# writes, and every operation :func:`request_from_args` accepts.
OPERATIONS: tuple[str, ...] = (
    CancelOrder.name,
    ModifyOrderAddress.name,
    ModifyCustomerAddress.name,
    ModifyOrderItems.name,
    ModifyOrderPayment.name,
    ReturnOrderItems.name,
    ExchangeOrderItems.name,
)
EXTRA_OPERATIONS: tuple[str, ...] = (
    RefundOrder.name,
    RefundOrders.name,
    MergeOrders.name,
    IssueCoupon.name,
)
TAU_OPERATIONS = OPERATIONS
ALL_OPERATIONS: tuple[str, ...] = OPERATIONS + EXTRA_OPERATIONS


def _refund_lines(args: Mapping[str, Any]) -> tuple[RefundLine, ...]:
    value = args.get("refunds")
    if not isinstance(value, list | tuple) or not value:
        raise InvalidInputError("refunds must be a non-empty list", field="refunds")
    lines = []
    for i, line in enumerate(value):
        if not isinstance(line, Mapping):
            raise InvalidInputError(
                "each refund must be an object with order_id, amount, payment_method_id",
                field=f"refunds[{i}]",
            )
        try:
            lines.append(
                RefundLine(
                    _text(line, "order_id"),
                    _amount(line.get("amount"), "amount"),
                    _text(line, "payment_method_id"),
                )
            )
        except InvalidInputError as exc:
            raise InvalidInputError(exc.message, field=f"refunds[{i}].{exc.field}") from None
    return tuple(lines)


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
    if operation == RefundOrder.name:
        return RefundOrder(
            _text(args, "order_id"),
            _amount(args.get("amount"), "amount"),
            _text(args, "payment_method_id"),
            _text(args, "reason"),
        )
    if operation == RefundOrders.name:
        return RefundOrders(_refund_lines(args), _text(args, "reason"))
    if operation == MergeOrders.name:
        address = None if args.get("address") is None else _address(args)
        return MergeOrders(_ids(args, "order_ids"), address)
    if operation == IssueCoupon.name:
        return IssueCoupon(
            _text(args, "customer_id"),
            _text(args, "template_id"),
            _text(args, "reason"),
            _optional_text(args, "order_id"),
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
        f"unknown operation {operation!r}; one of {', '.join(ALL_OPERATIONS)}",
        field="operation",
    )
