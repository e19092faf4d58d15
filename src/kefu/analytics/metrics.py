"""The metrics: SQL aggregates over the facts tables (one GROUP BY per question), turned into
rates and means here. Definitions (with their formulas) are in docs/analytics.md.

"Finished" is decided at query time: a conversation is finished when it was closed, or when
its last event is older than the tenant's ``qa.idle_minutes`` and no handoff is open.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, func, not_, or_, select
from sqlalchemy.engine import Connection

from kefu.storage.fact_tables import FactRow, TurnFactRow

F = FactRow.__table__.c
T = TurnFactRow.__table__.c
UNANSWERED_DECISIONS = ("fallback", "clarify")


def _count(cond: ColumnElement[bool]) -> Any:
    return func.sum(case((cond, 1), else_=0))


def _finished(cutoff: datetime) -> ColumnElement[bool]:
    return or_(F.closed, and_(not_(F.handoff_open), F.last_at <= cutoff))


@dataclass
class Totals:
    """Sums over a set of conversations, from which every rate and mean follows."""

    conversations: int = 0
    engaged: int = 0  # with at least one customer message
    finished: int = 0  # engaged and finished
    automated: int = 0  # finished, no handoff requested
    resolved: int = 0  # finished and self-resolved
    handed_off: int = 0  # engaged, handoff requested
    identified: int = 0  # engaged with a known customer
    repeats: int = 0  # identified and contacted again within the window
    frt_sum: float = 0.0
    frt_n: int = 0
    hfrt_sum: float = 0.0
    hfrt_n: int = 0
    aht_sum: float = 0.0
    aht_n: int = 0
    hht_sum: float = 0.0
    hht_n: int = 0
    csat_sum: int = 0
    csat_n: int = 0
    csat_satisfied: int = 0
    llm_cost: Decimal = Decimal(0)
    llm_tokens: int = 0
    customer_turns: int = 0
    fallbacks: int = 0
    clarifies: int = 0

    @classmethod
    def from_row(cls, row: Any) -> Totals:
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = getattr(row, f.name)
            if f.name == "llm_cost":
                values[f.name] = Decimal(raw or 0)
            elif f.type in ("float",):
                values[f.name] = float(raw or 0)
            else:
                values[f.name] = int(raw or 0)
        return cls(**values)

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    # -- the metrics ------------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        return {
            "conversations": self.conversations,
            "engaged_conversations": self.engaged,
            "finished_conversations": self.finished,
            "automation_rate": ratio(self.automated, self.finished),
            "self_resolution_rate": ratio(self.resolved, self.finished),
            "transfer_rate": ratio(self.handed_off, self.engaged),
            "first_response_time_s": _mean(self.frt_sum, self.frt_n),
            "human_first_response_time_s": _mean(self.hfrt_sum, self.hfrt_n),
            "average_handle_time_s": _mean(self.aht_sum, self.aht_n),
            "human_handle_time_s": _mean(self.hht_sum, self.hht_n),
            "csat": _mean(self.csat_sum, self.csat_n),
            "csat_share_satisfied": ratio(self.csat_satisfied, self.csat_n),
            "csat_responses": self.csat_n,
            "repeat_contact_rate": ratio(self.repeats, self.identified),
            "automated_conversations": self.automated,
            "resolved_conversations": self.resolved,
            "handed_off_conversations": self.handed_off,
            "customer_turns": self.customer_turns,
            "fallbacks": self.fallbacks,
            "clarifies": self.clarifies,
            "llm_cost": _money(self.llm_cost),
            "llm_tokens": self.llm_tokens,
            "llm_cost_per_conversation": _money_per(self.llm_cost, self.engaged),
            "llm_cost_per_resolution": _money_per(self.llm_cost, self.resolved),
        }


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(total: float, n: int) -> float | None:
    return round(total / n, 2) if n else None


def _money(amount: Decimal) -> float:
    return float(round(amount, 6))


def _money_per(amount: Decimal, n: int) -> float | None:
    return float(round(amount / n, 6)) if n else None


def _totals_columns(cutoff: datetime) -> list[Any]:
    engaged = F.customer_turns > 0
    done = and_(engaged, _finished(cutoff))
    identified = and_(engaged, F.customer_key.is_not(None))
    return [
        func.count().label("conversations"),
        _count(engaged).label("engaged"),
        _count(done).label("finished"),
        _count(and_(done, F.automated)).label("automated"),
        _count(and_(done, F.resolved)).label("resolved"),
        _count(and_(engaged, F.handed_off)).label("handed_off"),
        _count(identified).label("identified"),
        _count(and_(identified, F.repeat_contact)).label("repeats"),
        func.sum(F.first_response_s).label("frt_sum"),
        func.count(F.first_response_s).label("frt_n"),
        func.sum(F.human_first_response_s).label("hfrt_sum"),
        func.count(F.human_first_response_s).label("hfrt_n"),
        func.sum(case((done, F.handle_time_s), else_=None)).label("aht_sum"),
        func.count(case((done, F.handle_time_s), else_=None)).label("aht_n"),
        func.sum(F.human_handle_time_s).label("hht_sum"),
        func.count(F.human_handle_time_s).label("hht_n"),
        func.sum(F.csat).label("csat_sum"),
        func.count(F.csat).label("csat_n"),
        _count(F.csat >= 4).label("csat_satisfied"),
        func.sum(F.llm_cost).label("llm_cost"),
        func.sum(F.llm_tokens).label("llm_tokens"),
        func.sum(F.customer_turns).label("customer_turns"),
        func.sum(F.fallbacks).label("fallbacks"),
        func.sum(F.clarifies).label("clarifies"),
    ]


def period_filter(
    table_day: Any, tenant_col: Any, tenant_id: int, first: str | None, last: str | None
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [tenant_col == tenant_id]
    if first:
        where.append(table_day >= first)
    if last:
        where.append(table_day <= last)
    return where


def daily_totals(
    conn: Connection, tenant_id: int, first: str | None, last: str | None, cutoff: datetime
) -> dict[str, Totals]:
    rows = conn.execute(
        select(F.day, *_totals_columns(cutoff))
        .where(*period_filter(F.day, F.tenant_id, tenant_id, first, last))
        .group_by(F.day)
        .order_by(F.day)
    )
    return {r.day: Totals.from_row(r) for r in rows}


def day_span(conn: Connection, tenant_id: int) -> tuple[str | None, str | None]:
    row = conn.execute(
        select(func.min(F.day), func.max(F.day)).where(F.tenant_id == tenant_id)
    ).one()
    return row[0], row[1]


def emotion_by_day(
    conn: Connection, tenant_id: int, first: str | None, last: str | None
) -> dict[str, dict[str, Any]]:
    """Per day: customer turns, turns with an emotion reading, the negative ones, their share
    and the mean score (-1..1)."""
    rows = conn.execute(
        select(
            T.day,
            func.count().label("turns"),
            func.count(T.emotion_label).label("rated"),
            _count(T.emotion_label == "negative").label("negative"),
            func.avg(T.emotion_score).label("mean"),
        )
        .where(*period_filter(T.day, T.tenant_id, tenant_id, first, last))
        .group_by(T.day)
        .order_by(T.day)
    )
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        rated, negative = int(r.rated or 0), int(r.negative or 0)
        out[r.day] = {
            "customer_turns": int(r.turns),
            "rated_turns": rated,
            "negative_turns": negative,
            "negative_share": ratio(negative, rated),
            "mean_score": round(float(r.mean), 4) if r.mean is not None else None,
        }
    return out


def intents(
    conn: Connection, tenant_id: int, first: str | None, last: str | None, limit: int
) -> list[dict[str, Any]]:
    where = [*period_filter(T.day, T.tenant_id, tenant_id, first, last), T.intent.is_not(None)]
    total = int(conn.execute(select(func.count()).where(*where)).scalar() or 0)
    rows = conn.execute(
        select(
            T.intent,
            func.count().label("turns"),
            func.count(distinct(T.conversation_id)).label("conversations"),
        )
        .where(*where)
        .group_by(T.intent)
        .order_by(func.count().desc(), T.intent)
        .limit(limit)
    )
    return [
        {
            "intent": r.intent,
            "turns": int(r.turns),
            "conversations": int(r.conversations),
            "share": ratio(int(r.turns), total),
        }
        for r in rows
    ]


def unanswered_condition(low_confidence: float) -> ColumnElement[bool]:
    return or_(
        T.decision.in_(UNANSWERED_DECISIONS),
        and_(T.decision == "answer", T.confidence < low_confidence),
    )


def questions(
    conn: Connection,
    tenant_id: int,
    first: str | None,
    last: str | None,
    limit: int,
    unanswered_below: float | None,
) -> list[dict[str, Any]]:
    """Customer messages grouped by their normalised text, most frequent first; with
    ``unanswered_below`` only the unanswered ones (fallback, clarify, or an answer below that
    confidence)."""
    where = [*period_filter(T.day, T.tenant_id, tenant_id, first, last), T.question != ""]
    if unanswered_below is not None:
        where.append(unanswered_condition(unanswered_below))
    rows = conn.execute(
        select(
            T.question,
            func.count().label("n"),
            func.count(distinct(T.conversation_id)).label("conversations"),
            func.min(T.text).label("example"),
            func.max(T.day).label("last_day"),
            _count(T.decision == "fallback").label("fallbacks"),
            _count(T.decision == "clarify").label("clarifies"),
        )
        .where(*where)
        .group_by(T.question)
        .order_by(func.count().desc(), T.question)
        .limit(limit)
    )
    return [
        {
            "question": r.question,
            "example": r.example,
            "count": int(r.n),
            "conversations": int(r.conversations),
            "fallbacks": int(r.fallbacks or 0),
            "clarifies": int(r.clarifies or 0),
            "last_day": r.last_day,
        }
        for r in rows
    ]
