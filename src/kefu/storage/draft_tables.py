"""The table of suggested FAQ drafts (the schema itself is owned by migration 0014).

``cluster_key`` is unique per tenant: a stable hash of the normalised member questions of the
cluster a draft came from, so mining the same unanswered questions again finds the draft it
made before (and updates it while it is still ``suggested``) instead of adding a second one.
``members`` keeps every normalised member question: mining leaves out questions a decided
(approved, merged or rejected) draft already covers, so a rejected draft never comes back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kefu.storage.models import Base

DRAFT_STATUSES = ("suggested", "approved", "rejected", "merged")


class FaqDraftRow(Base):
    __tablename__ = "faq_drafts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "cluster_key", name="uq_faq_drafts_cluster"),
        Index("ix_faq_drafts_tenant_status", "tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    language: Mapped[str] = mapped_column(String(8), nullable=False)
    question: Mapped[str] = mapped_column(Text, nullable=False)
    similar_questions: Mapped[list[Any]] = mapped_column(JSON, nullable=False)
    answer: Mapped[str] = mapped_column(Text, nullable=False)
    answer_hint: Mapped[str] = mapped_column(Text, nullable=False)
    answer_source: Mapped[str] = mapped_column(
        String(16), nullable=False
    )  # agent / supervisor / none
    category: Mapped[str] = mapped_column(String(64), nullable=False)
    support: Mapped[int] = mapped_column(Integer, nullable=False)
    examples: Mapped[list[Any]] = mapped_column(JSON, nullable=False)  # conversation ids
    members: Mapped[list[Any]] = mapped_column(JSON, nullable=False)  # normalised questions
    cluster_key: Mapped[str] = mapped_column(String(64), nullable=False)
    near_faq_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    near_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    hint_faq_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    edited: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    decided_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    faq_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
