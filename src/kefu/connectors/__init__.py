"""Shop connectors: the port (typed read operations) and its adapters.

- :mod:`kefu.connectors.port`: domain objects (Customer, Order, Product, Shipment, ...) and the
  :class:`~kefu.connectors.port.ShopConnector` protocol.
- :mod:`kefu.connectors.embedded`: :class:`~kefu.connectors.embedded.EmbeddedShop`, the
  reference shop stored in kefu's own database.
- :mod:`kefu.connectors.tau_io` / :mod:`kefu.connectors.tau_schema`: the tau-bench retail
  format (import, validation, export).
"""

from kefu.connectors.port import (
    Address,
    Customer,
    Order,
    OrderItem,
    OrderStatus,
    Payment,
    PaymentMethod,
    Product,
    Shipment,
    ShopConnector,
    ShopReader,
    TrackingEvent,
    Variant,
)

__all__ = [
    "Address",
    "Customer",
    "Order",
    "OrderItem",
    "OrderStatus",
    "Payment",
    "PaymentMethod",
    "Product",
    "Shipment",
    "ShopConnector",
    "ShopReader",
    "TrackingEvent",
    "Variant",
]
