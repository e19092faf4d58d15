"""The operation ledger: one row per attempt and per state change of a shop write (L3).

Append-only, like events: rows are inserted, never updated or deleted by kefu. A state change
(confirmed, approved, executed ...) is a new row whose ``ref`` names the row it follows.

``claim_key`` is set only on the rows that *claim* something: the ``confirmed`` row claims an
idempotency key (``confirm:<key>``), the ``approved``/``rejected`` row the decision on a queued
operation (``decide:<key>``). The unique ``(tenant_id, claim_key)`` lets exactly one of any
number of concurrent claimers insert its row (SQLite and PostgreSQL alike: NULLs never clash);
only the claimer writes to the shop, so a write runs once per key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.storage.models import Base


class OperationLedgerRow(Base):
    __tablename__ = "operation_ledger"
    __table_args__ = (
        UniqueConstraint("tenant_id", "claim_key", name="uq_operation_ledger_claim"),
        Index("ix_operation_ledger_tenant_id", "tenant_id", "id"),
        Index("ix_operation_ledger_key", "tenant_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    # not a foreign key: operations may come from outside a stored conversation (CLI, API)
    conversation_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    customer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    operation: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    arguments: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    preview: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    claim_key: Mapped[str | None] = mapped_column(String(140), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    ref: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
