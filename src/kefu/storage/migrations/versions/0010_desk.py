"""desk: handoffs to humans (the structured handoff object, queue, take and release)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "tenant_id",
            sa.Integer(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "conversation_id",
            sa.String(36),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        # waiting, active, released, closed, ticketed, cancelled (waiting/active are "open")
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(64), nullable=False),  # the skill group
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("handoff", sa.JSON(), nullable=False),  # the structured handoff object
        # the dialogue state the bot resumes from when the handoff ends (its flow and slots)
        sa.Column("resume_state", sa.JSON(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=True),
        sa.Column("taken_by", sa.String(128), nullable=True),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_handoffs_tenant_status", "handoffs", ["tenant_id", "status"])
    op.create_index("ix_handoffs_conversation", "handoffs", ["conversation_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_handoffs_conversation", table_name="handoffs")
    op.drop_index("ix_handoffs_tenant_status", table_name="handoffs")
    op.drop_table("handoffs")
