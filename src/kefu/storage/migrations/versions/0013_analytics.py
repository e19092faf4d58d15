"""analytics: per-conversation facts derived from events, for fast dashboards

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# exact money: NUMERIC, or on SQLite an integer count of 1e-9 units (see Money)
_MONEY = sa.Numeric(20, 9).with_variant(sa.BigInteger(), "sqlite")
# a migration keeps its own copy: the model's tuple may change in a later revision
_DAILY = (
    "tenant_id",
    "day",
    "customer_turns",
    "closed",
    "handoff_open",
    "last_at",
    "automated",
    "resolved",
    "handed_off",
    "customer_key",
    "repeat_contact",
    "first_response_s",
    "human_first_response_s",
    "handle_time_s",
    "human_handle_time_s",
    "csat",
    "llm_cost",
    "llm_tokens",
    "fallbacks",
    "clarifies",
)


def _conversation() -> sa.Column[str]:
    return sa.Column(
        "conversation_id",
        sa.String(36),
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
    )


def _tenant(primary_key: bool = False) -> sa.Column[int]:
    return sa.Column(
        "tenant_id",
        sa.Integer(),
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
    )


def upgrade() -> None:
    op.create_table(
        "analytics_facts",
        sa.Column(
            "conversation_id",
            sa.String(36),
            sa.ForeignKey("conversations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _tenant(),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("customer", sa.String(128), nullable=True),
        sa.Column("customer_key", sa.String(128), nullable=True),
        sa.Column("customer_turns", sa.Integer(), nullable=False),
        sa.Column("bot_turns", sa.Integer(), nullable=False),
        sa.Column("agent_turns", sa.Integer(), nullable=False),
        sa.Column("handed_off", sa.Boolean(), nullable=False),
        sa.Column("handoff_open", sa.Boolean(), nullable=False),
        sa.Column("automated", sa.Boolean(), nullable=False),
        sa.Column("failed_end", sa.Boolean(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("fallbacks", sa.Integer(), nullable=False),
        sa.Column("clarifies", sa.Integer(), nullable=False),
        sa.Column("first_response_s", sa.Float(), nullable=True),
        sa.Column("human_first_response_s", sa.Float(), nullable=True),
        sa.Column("handle_time_s", sa.Float(), nullable=True),
        sa.Column("human_handle_time_s", sa.Float(), nullable=True),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("top_intent", sa.String(128), nullable=True),
        sa.Column("intents", sa.JSON(), nullable=False),
        sa.Column("negative_turns", sa.Integer(), nullable=False),
        sa.Column("emotion_turns", sa.Integer(), nullable=False),
        sa.Column("emotion_sum", sa.Float(), nullable=False),
        sa.Column("llm_cost", _MONEY, nullable=False),
        sa.Column("llm_tokens", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("repeat_contact", sa.Boolean(), nullable=False),
    )
    # covers the daily aggregates (see kefu.storage.fact_tables.DAILY_INDEX_COLUMNS)
    op.create_index("ix_analytics_facts_daily", "analytics_facts", list(_DAILY))
    op.create_index(
        "ix_analytics_facts_tenant_customer", "analytics_facts", ["tenant_id", "customer_key"]
    )
    op.create_table(
        "analytics_turns",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _conversation(),
        _tenant(),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("question", sa.String(200), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("decision", sa.String(32), nullable=True),
        sa.Column("intent", sa.String(128), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("emotion_label", sa.String(16), nullable=True),
        sa.Column("emotion_score", sa.Float(), nullable=True),
    )
    op.create_index(
        "ix_analytics_turns_emotion",
        "analytics_turns",
        ["tenant_id", "day", "emotion_label", "emotion_score"],
    )
    op.create_index(
        "ix_analytics_turns_intent",
        "analytics_turns",
        ["tenant_id", "intent", "conversation_id", "day"],
    )
    op.create_index("ix_analytics_turns_conversation_id", "analytics_turns", ["conversation_id"])
    op.create_table(
        "analytics_watermarks",
        _tenant(primary_key=True),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("analytics_watermarks")
    op.drop_table("analytics_turns")
    op.drop_table("analytics_facts")
