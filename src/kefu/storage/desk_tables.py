"""The desk's table: one row per handoff episode (the schema itself is owned by migration 0010).

A conversation has at most one open (``waiting`` or ``active``) handoff at a time; the desk
enforces it in code, inside the transaction that creates one (the conversation's turn lock
serialises the turns that may create one)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.storage.models import Base

HANDOFF_STATUSES = ("waiting", "active", "released", "closed", "ticketed", "cancelled")
OPEN_STATUSES = ("waiting", "active")


class HandoffRow(Base):
    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_tenant_status", "tenant_id", "status"),
        Index("ix_handoffs_conversation", "conversation_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    queue: Mapped[str] = mapped_column(String(64), nullable=False)
    reason: Mapped[str] = mapped_column(String(64), nullable=False)
    handoff: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    resume_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    taken_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    released_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
