"""Tables of the embedded reference shop (read side in L2, writes in L3).

Each customer, order and product is kept as the exact JSON document it was imported as (tau-bench
schema, plus the Chinese demo shop's extra keys), next to a few indexed columns used for lookups.
``position`` keeps the import order so an export reproduces the file unchanged.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.storage.models import Base


class ShopCustomerRow(Base):
    __tablename__ = "shop_customers"
    __table_args__ = (UniqueConstraint("tenant_id", "customer_id", name="uq_shop_customer"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True
    )
    customer_id: Mapped[str] = mapped_column(String(64), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    email: Mapped[str] = mapped_column(String(254), nullable=False, index=True)
    first_name: Mapped[str] = mapped_column(String(100), nullable=False)
    last_name: Mapped[str] = mapped_column(String(100), nullable=False)
    zip: Mapped[str] = mapped_column(String(16), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class ShopOrderRow(Base):
    __tablename__ = "shop_orders"
    __table_args__ = (UniqueConstraint("tenant_id", "order_id", name="uq_shop_order"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True
    )
    order_id: Mapped[str] = mapped_column(String(32), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    customer_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(64), nullable=False)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class ShopProductRow(Base):
    __tablename__ = "shop_products"
    __table_args__ = (UniqueConstraint("tenant_id", "product_id", name="uq_shop_product"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True
    )
    product_id: Mapped[str] = mapped_column(String(32), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class ShopRulesRow(Base):
    """The shop-level rules document (``shop_rules.json``: freight table, coupon templates), one
    per tenant; absent for shops without rules (tau-bench's own)."""

    __tablename__ = "shop_rules"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_shop_rules_tenant"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    doc: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
