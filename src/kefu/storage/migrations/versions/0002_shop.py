"""reference shop: customers, orders, products as tau-bench documents

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _tenant() -> sa.Column[int]:
    return sa.Column(
        "tenant_id", sa.Integer(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "shop_customers",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        _tenant(),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("zip", sa.String(16), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.UniqueConstraint("tenant_id", "customer_id", name="uq_shop_customer"),
    )
    op.create_index("ix_shop_customers_tenant_id", "shop_customers", ["tenant_id"])
    op.create_index("ix_shop_customers_email", "shop_customers", ["email"])
    op.create_index("ix_shop_customers_phone", "shop_customers", ["phone"])
    op.create_table(
        "shop_orders",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        _tenant(),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.UniqueConstraint("tenant_id", "order_id", name="uq_shop_order"),
    )
    op.create_index("ix_shop_orders_tenant_id", "shop_orders", ["tenant_id"])
    op.create_index("ix_shop_orders_customer_id", "shop_orders", ["customer_id"])
    op.create_table(
        "shop_products",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        _tenant(),
        sa.Column("product_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.UniqueConstraint("tenant_id", "product_id", name="uq_shop_product"),
    )
    op.create_index("ix_shop_products_tenant_id", "shop_products", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("shop_products")
    op.drop_table("shop_orders")
    op.drop_table("shop_customers")
