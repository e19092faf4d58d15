"""shop rules: the shop-level rules document (freight table, coupon templates) per tenant

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shop_rules",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "tenant_id",
            sa.Integer(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.UniqueConstraint("tenant_id", name="uq_shop_rules_tenant"),
    )


def downgrade() -> None:
    op.drop_table("shop_rules")
