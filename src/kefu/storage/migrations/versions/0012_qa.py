"""qa: automated quality inspection scores and supervisors' overrides

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qa_scores",
        sa.Column(
            "conversation_id",
            sa.String(36),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "tenant_id",
            sa.Integer(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("rubric_hash", sa.String(32), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("failed", sa.String(255), nullable=False, server_default=","),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("agents", sa.Text(), nullable=False, server_default=","),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_event_at", sa.DateTime(), nullable=True),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.Column("override", sa.JSON(), nullable=False),
        sa.Column("overridden_by", sa.String(128), nullable=True),
        sa.Column("overridden_at", sa.DateTime(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="1"),
    )
    # lists: a tenant's scores newest first, or only its flagged ones
    op.create_index("ix_qa_scores_tenant_last", "qa_scores", ["tenant_id", "last_event_at"])
    op.create_index(
        "ix_qa_scores_tenant_flagged", "qa_scores", ["tenant_id", "flagged", "last_event_at"]
    )
    op.create_table(
        "qa_overrides",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "conversation_id",
            sa.String(36),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "tenant_id",
            sa.Integer(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("dimension", sa.String(32), nullable=False),
        sa.Column("score_before", sa.Integer(), nullable=False),
        sa.Column("score_after", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_qa_overrides_conversation", "qa_overrides", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_qa_overrides_conversation", table_name="qa_overrides")
    op.drop_table("qa_overrides")
    op.drop_index("ix_qa_scores_tenant_flagged", table_name="qa_scores")
    op.drop_index("ix_qa_scores_tenant_last", table_name="qa_scores")
    op.drop_table("qa_scores")
