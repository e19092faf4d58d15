"""faq drafts: unanswered questions clustered into suggested FAQ entries

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "faq_drafts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "tenant_id",
            sa.Integer(),
            sa.ForeignKey("tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        # suggested, approved, rejected, merged
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("similar_questions", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answer_hint", sa.Text(), nullable=False),
        sa.Column("answer_source", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("support", sa.Integer(), nullable=False),
        sa.Column("examples", sa.JSON(), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("cluster_key", sa.String(64), nullable=False),
        sa.Column("near_faq_id", sa.String(64), nullable=True),
        sa.Column("near_score", sa.Float(), nullable=True),
        sa.Column("hint_faq_id", sa.String(64), nullable=True),
        sa.Column("edited", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("faq_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "cluster_key", name="uq_faq_drafts_cluster"),
    )
    op.create_index("ix_faq_drafts_tenant_status", "faq_drafts", ["tenant_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_faq_drafts_tenant_status", table_name="faq_drafts")
    op.drop_table("faq_drafts")
