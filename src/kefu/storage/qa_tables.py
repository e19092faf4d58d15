"""Tables of automated quality inspection (the schema itself is owned by migration 0012):
one current score per conversation, and every supervisor's override of a dimension."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.storage.models import Base


class QaScoreRow(Base):
    """The automatic scores of a conversation at ``last_seq`` (replaced when it is scored
    again) and the supervisors' current overrides (kept across re-scoring). ``total`` and
    ``flagged`` already count the overrides. ``failed`` and ``agents`` are comma-wrapped lists
    (",pii,compliance,") so lists can filter on them with LIKE in any database. ``revision``
    guards read-modify-write against a concurrent writer."""

    __tablename__ = "qa_scores"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    rubric_hash: Mapped[str] = mapped_column(String(32), nullable=False)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    total: Mapped[float] = mapped_column(Float, nullable=False)
    flagged: Mapped[bool] = mapped_column(Boolean, nullable=False)
    failed: Mapped[str] = mapped_column(String(255), nullable=False, default=",")
    reasons: Mapped[list[Any]] = mapped_column(JSON, nullable=False)
    agents: Mapped[str] = mapped_column(Text, nullable=False, default=",")
    last_seq: Mapped[int] = mapped_column(Integer, nullable=False)
    last_event_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    scored_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    override: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    overridden_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    overridden_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)

    # an UPDATE checks the revision it read (StaleDataError when another writer came first)
    __mapper_args__ = {"version_id_col": revision}  # noqa: RUF012


class QaOverrideRow(Base):
    """One supervisor's change of one dimension's score (history; never updated)."""

    __tablename__ = "qa_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    dimension: Mapped[str] = mapped_column(String(32), nullable=False)
    score_before: Mapped[int] = mapped_column(Integer, nullable=False)
    score_after: Mapped[int] = mapped_column(Integer, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    created_by: Mapped[str] = mapped_column(String(128), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
