"""One row per metered LLM call (tokens, cost, latency, outcome), written with the turn's
bot reply in one transaction (see :mod:`kefu.storage.llm_calls`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from kefu.storage.models import Base

COST_SCALE = 9  # decimal places kept: 1e-9 of the currency unit
_NANO = Decimal(10) ** COST_SCALE


class Money(TypeDecorator[Decimal]):
    """An exact amount: ``NUMERIC(20, 9)`` where the database has it, and on SQLite (whose
    NUMERIC is a float) an integer count of 1e-9 units, so sums stay exact on both. ``SUM``
    over the column comes back as a :class:`~decimal.Decimal` too."""

    impl = Numeric(20, COST_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(20, COST_SCALE))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = Decimal(value).quantize(Decimal(1) / _NANO)
        return int(exact * _NANO) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)) / _NANO
        return Decimal(value)


class LlmCallRow(Base):
    """Append-only, like events: inserted, never updated."""

    __tablename__ = "llm_calls"
    __table_args__ = (Index("ix_llm_calls_tenant_created", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    turn: Mapped[int | None] = mapped_column(Integer, nullable=True)
    model: Mapped[str] = mapped_column(String(128), nullable=False)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False)
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False)
    cost: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)  # None: unpriced
    currency: Mapped[str] = mapped_column(String(8), nullable=False)
    latency_s: Mapped[float] = mapped_column(Float, nullable=False)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
