"""Persisted LLM calls and the cost report.

Each metered call (:class:`kefu.llm.cost.CallRecord`) becomes one ``llm_calls`` row. A turn's
calls are written in the same transaction as its bot reply event
(:meth:`kefu.storage.conversations.ConversationRepository.append`), so a turn is either
recorded with its calls or not at all; :meth:`LlmCallRepository.add` writes calls on their own
(a turn that failed before its reply).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, case, distinct, func, select
from sqlalchemy.orm import Session, sessionmaker

from kefu.errors import ConversationNotFound, InvalidInputError
from kefu.llm.cost import CallRecord, CostTotals, money
from kefu.storage.llm_call_tables import LlmCallRow
from kefu.storage.models import ConversationRow, TenantRow
from kefu.storage.tenants import TenantRepository, utcnow

ReportBy = Literal["day", "conversation", "model", "purpose"]
REPORT_BY: tuple[ReportBy, ...] = ("day", "conversation", "model", "purpose")


def call_rows(
    tenant_id: int,
    conversation_id: str | None,
    turn: int | None,
    records: Iterable[CallRecord],
    now: datetime,
) -> list[LlmCallRow]:
    """The rows of ``records``: a failed call costs 0, an unpriced one has no cost (NULL)."""
    return [
        LlmCallRow(
            tenant_id=tenant_id,
            conversation_id=conversation_id,
            turn=turn,
            model=r.model[:128],
            purpose=(r.tags.get("purpose") or "")[:32],
            prompt_tokens=r.usage.prompt_tokens,
            completion_tokens=r.usage.completion_tokens,
            cost=(r.cost if r.ok else Decimal(0)),
            currency=r.currency[:8],
            latency_s=float(r.latency_s),
            outcome=r.outcome[:32],
            created_at=now,
        )
        for r in records
    ]


@dataclass(frozen=True, slots=True)
class LlmCall:
    """One stored call."""

    tenant: str
    conversation_id: str | None
    turn: int | None
    model: str
    purpose: str
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal | None
    currency: str
    latency_s: float
    outcome: str
    created_at: datetime

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True, slots=True)
class ReportLine:
    key: str
    totals: CostTotals

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            **self.totals.to_dict(),
            "conversations": self.totals.conversations,
        }


@dataclass(frozen=True, slots=True)
class CostReport:
    """A tenant's LLM calls between two dates (inclusive, UTC), in total and per group."""

    tenant: str
    since: date | None
    until: date | None
    by: ReportBy
    totals: CostTotals
    lines: list[ReportLine] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        per_conv = self.totals.cost_per_conversation
        return {
            "tenant": self.tenant,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "by": self.by,
            "totals": {
                **self.totals.to_dict(),
                "conversations": self.totals.conversations,
                "cost_per_conversation": None if per_conv is None else money(per_conv),
            },
            "groups": [line.to_dict() for line in self.lines],
        }


def parse_day(value: str | date | None, name: str) -> date | None:
    """``YYYY-MM-DD`` (or a date) -> a date; an InvalidInputError naming ``name`` otherwise."""
    if value is None or isinstance(value, date):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"{name} must be a date as YYYY-MM-DD, not {value!r}", field=name
        ) from None


def check_by(value: str) -> ReportBy:
    for by in REPORT_BY:
        if value == by:
            return by
    raise InvalidInputError(f"by must be one of {', '.join(REPORT_BY)}, not {value!r}", field="by")


class LlmCallRepository:
    def __init__(self, sessions: sessionmaker[Session], tenants: TenantRepository) -> None:
        self._sessions = sessions
        self._tenants = tenants

    def add(
        self,
        tenant: str,
        records: Sequence[CallRecord],
        *,
        conversation_id: str | None = None,
        turn: int | None = None,
        at: datetime | None = None,
    ) -> int:
        """Write calls on their own (one transaction); returns how many."""
        if not records:
            return 0
        t = self._tenants.get(tenant)
        with self._sessions.begin() as s:
            s.add_all(call_rows(t.id, conversation_id, turn, records, at or utcnow()))
        return len(records)

    def calls(self, tenant: str, conversation_id: str | None = None) -> list[LlmCall]:
        """Stored calls of a tenant (of one conversation), oldest first."""
        t = self._tenants.get(tenant)
        q = select(LlmCallRow).where(LlmCallRow.tenant_id == t.id)
        if conversation_id is not None:
            q = q.where(LlmCallRow.conversation_id == conversation_id)
        with self._sessions() as s:
            rows = list(s.scalars(q.order_by(LlmCallRow.id)))
        return [
            LlmCall(
                t.name,
                r.conversation_id,
                r.turn,
                r.model,
                r.purpose,
                r.prompt_tokens,
                r.completion_tokens,
                r.cost,
                r.currency,
                r.latency_s,
                r.outcome,
                r.created_at,
            )
            for r in rows
        ]

    def conversation_totals(self, conversation_id: str) -> CostTotals:
        """A conversation's stored calls in total (zeros in the tenant's ``llm_currency``
        when there are none)."""
        with self._sessions() as s:
            tenant = s.scalar(
                select(TenantRow.name)
                .join(ConversationRow, ConversationRow.tenant_id == TenantRow.id)
                .where(ConversationRow.id == conversation_id)
            )
            if tenant is None:
                raise ConversationNotFound(conversation_id)
            where = [LlmCallRow.conversation_id == conversation_id]
            return _totals(s, where, self._currency(tenant))

    def _currency(self, tenant: str) -> str:
        return str(self._tenants.settings(tenant)["llm_currency"])

    def report(
        self,
        tenant: str,
        since: date | None = None,
        until: date | None = None,
        by: str = "day",
    ) -> CostReport:
        """Totals and one line per day (UTC), conversation, model or purpose."""
        group = check_by(by)
        if since and until and until < since:
            raise InvalidInputError(
                f"until ({until.isoformat()}) is before since ({since.isoformat()})",
                field="until",
            )
        t = self._tenants.get(tenant)
        default_currency = self._currency(tenant)
        where: list[ColumnElement[bool]] = [LlmCallRow.tenant_id == t.id]
        if since is not None:
            where.append(LlmCallRow.created_at >= datetime.combine(since, time()))
        if until is not None:
            where.append(LlmCallRow.created_at < datetime.combine(until + timedelta(1), time()))
        key: Any = {
            "day": func.date(LlmCallRow.created_at),
            "conversation": LlmCallRow.conversation_id,
            "model": LlmCallRow.model,
            "purpose": LlmCallRow.purpose,
        }[group]
        with self._sessions() as s:
            per_key = _aggregate(key.label("key")).where(*where)
            groups: dict[str, list[Any]] = {}
            for row in s.execute(per_key.group_by(key, LlmCallRow.currency)):
                groups.setdefault(_key(row.key), []).append(row)
            per_conv = select(key.label("key"), func.count(distinct(LlmCallRow.conversation_id)))
            conversations = {
                _key(k): int(n) for k, n in s.execute(per_conv.where(*where).group_by(key))
            }
            every = select(func.count(distinct(LlmCallRow.conversation_id))).where(*where)
            in_all = int(s.scalar(every) or 0)
        # the totals are the lines' sums: they always add up, whatever was written meanwhile
        totals = _combine([r for rows in groups.values() for r in rows], default_currency, in_all)
        lines = [
            ReportLine(name, _combine(rows, default_currency, conversations.get(name, 0)))
            for name, rows in groups.items()
        ]
        if group == "day":
            lines.sort(key=lambda line: line.key)
        else:
            lines.sort(
                key=lambda line: (-sum(line.totals.costs.values()), -line.totals.calls, line.key)
            )
        return CostReport(t.name, since, until, group, totals, lines)


def _aggregate(*columns: Any) -> Any:
    failed = case((LlmCallRow.outcome != "ok", 1), else_=0)
    unpriced = case(((LlmCallRow.outcome == "ok") & LlmCallRow.cost.is_(None), 1), else_=0)
    return select(
        *columns,
        LlmCallRow.currency.label("currency"),
        func.count().label("calls"),
        func.sum(failed).label("failed"),
        func.sum(unpriced).label("unpriced"),
        func.sum(LlmCallRow.prompt_tokens).label("prompt"),
        func.sum(LlmCallRow.completion_tokens).label("completion"),
        func.sum(LlmCallRow.cost).label("cost"),
    )


def _key(value: Any) -> str:
    """A group key as text (a day is a ``date`` on PostgreSQL, a string on SQLite)."""
    return "" if value is None else str(value)


def _combine(rows: Sequence[Any], default_currency: str, conversations: int) -> CostTotals:
    """One line's totals from its rows per currency."""
    costs: dict[str, Decimal] = {}
    for r in rows:
        if r.cost is not None:
            costs[r.currency] = costs.get(r.currency, Decimal(0)) + Decimal(r.cost)
    return CostTotals(
        calls=sum(int(r.calls) for r in rows),
        failed_calls=sum(int(r.failed or 0) for r in rows),
        unpriced_calls=sum(int(r.unpriced or 0) for r in rows),
        prompt_tokens=sum(int(r.prompt or 0) for r in rows),
        completion_tokens=sum(int(r.completion or 0) for r in rows),
        costs={c: costs[c] for c in sorted(costs)},
        conversations=conversations,
        default_currency=default_currency,
    )


def _totals(s: Session, where: Sequence[ColumnElement[bool]], default_currency: str) -> CostTotals:
    rows = list(s.execute(_aggregate().where(*where).group_by(LlmCallRow.currency)))
    conversations = s.scalar(select(func.count(distinct(LlmCallRow.conversation_id))).where(*where))
    return _combine(rows, default_currency, int(conversations or 0))


def tenant_of(s: Session, conversation_id: str) -> int | None:
    """The tenant id of a conversation, inside an open session."""
    return s.scalar(select(ConversationRow.tenant_id).where(ConversationRow.id == conversation_id))
