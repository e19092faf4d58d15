"""Tables of the analytics module (the schema itself is owned by the Alembic migrations).

``analytics_facts`` holds one row per conversation, ``analytics_turns`` one row per customer
message, both derived from the append-only events (never edited by hand: a refresh deletes and
rewrites a conversation's rows); ``analytics_watermarks`` remembers, per tenant, the highest
``events.id`` already reflected in them (see :mod:`kefu.analytics.refresh`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.storage.llm_call_tables import Money
from kefu.storage.models import Base

#: Every column the daily aggregates read, after (tenant_id, day): the index covers the
#: dashboard's GROUP BY day, so it never visits the table (3x faster on SQLite at 100k rows).
DAILY_INDEX_COLUMNS = (
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


class FactRow(Base):
    """One conversation, summarised. Time-dependent facts ("finished": closed, or idle for
    ``qa.idle_minutes``) are decided at query time from ``closed``, ``handoff_open`` and
    ``last_at``, so a refresh is needed only when events arrive."""

    __tablename__ = "analytics_facts"
    __table_args__ = (
        Index("ix_analytics_facts_daily", *DAILY_INDEX_COLUMNS),
        Index("ix_analytics_facts_tenant_customer", "tenant_id", "customer_key"),
    )

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    started_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    day: Mapped[str] = mapped_column(String(10), nullable=False)  # YYYY-MM-DD (UTC)
    last_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    last_seq: Mapped[int] = mapped_column(Integer, nullable=False)
    last_event_id: Mapped[int] = mapped_column(Integer, nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    customer: Mapped[str | None] = mapped_column(String(128), nullable=True)
    customer_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    customer_turns: Mapped[int] = mapped_column(Integer, nullable=False)
    bot_turns: Mapped[int] = mapped_column(Integer, nullable=False)
    agent_turns: Mapped[int] = mapped_column(Integer, nullable=False)
    handed_off: Mapped[bool] = mapped_column(Boolean, nullable=False)
    handoff_open: Mapped[bool] = mapped_column(Boolean, nullable=False)
    automated: Mapped[bool] = mapped_column(Boolean, nullable=False)
    failed_end: Mapped[bool] = mapped_column(Boolean, nullable=False)
    resolved: Mapped[bool] = mapped_column(Boolean, nullable=False)
    fallbacks: Mapped[int] = mapped_column(Integer, nullable=False)
    clarifies: Mapped[int] = mapped_column(Integer, nullable=False)
    first_response_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    human_first_response_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    handle_time_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    human_handle_time_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    csat: Mapped[int | None] = mapped_column(Integer, nullable=True)
    top_intent: Mapped[str | None] = mapped_column(String(128), nullable=True)
    intents: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    negative_turns: Mapped[int] = mapped_column(Integer, nullable=False)
    emotion_turns: Mapped[int] = mapped_column(Integer, nullable=False)
    emotion_sum: Mapped[float] = mapped_column(Float, nullable=False)
    llm_cost: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    llm_tokens: Mapped[int] = mapped_column(Integer, nullable=False)
    closed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    repeat_contact: Mapped[bool] = mapped_column(Boolean, nullable=False)


class TurnFactRow(Base):
    """One customer message with what the bot made of it (the next bot reply's decision,
    intent, confidence and the message's emotion)."""

    __tablename__ = "analytics_turns"
    __table_args__ = (
        # covering the emotion trend (GROUP BY day) and the intent distribution
        Index("ix_analytics_turns_emotion", "tenant_id", "day", "emotion_label", "emotion_score"),
        Index("ix_analytics_turns_intent", "tenant_id", "intent", "conversation_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    day: Mapped[str] = mapped_column(String(10), nullable=False)
    question: Mapped[str] = mapped_column(String(200), nullable=False)  # normalised text
    text: Mapped[str] = mapped_column(String(500), nullable=False)  # as stored (masked)
    decision: Mapped[str | None] = mapped_column(String(32), nullable=True)
    intent: Mapped[str | None] = mapped_column(String(128), nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    emotion_label: Mapped[str | None] = mapped_column(String(16), nullable=True)
    emotion_score: Mapped[float | None] = mapped_column(Float, nullable=True)


class WatermarkRow(Base):
    """The highest ``events.id`` (a global autoincrement) reflected in a tenant's facts."""

    __tablename__ = "analytics_watermarks"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    last_event_id: Mapped[int] = mapped_column(Integer, nullable=False)
    refreshed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
