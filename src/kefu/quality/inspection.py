"""Automated quality inspection (质检): every finished conversation scored on a rubric.

A conversation is *finished* when it has a ``conversation_closed`` event, or when its last
event is older than the tenant's ``qa.idle_minutes`` and no handoff is open. :class:`QaService`
finds the finished conversations not yet scored at their current last event with one query
per tenant and batch (index look-ups per conversation; no event is read until a conversation
is known to need scoring), scores them with :mod:`kefu.quality.qa_dimensions` (pure functions
of the events), and stores one row per conversation (``qa_scores``).

Re-scoring (new events after the score, or ``rescore`` after a rubric change) replaces the
automatic part and keeps the supervisors' overrides; the total and the flag always count the
overrides. Every override is also kept as history (``qa_overrides``).
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from kefu.domain.conversation import (
    CONVERSATION_CLOSED,
    HANDOFF_RELEASED,
    HANDOFF_REQUESTED,
    Event,
)
from kefu.errors import ConflictError, ConversationNotFound, InvalidInputError, KefuError
from kefu.logs import get_logger
from kefu.quality.qa_dimensions import KbEntry, Knowledge, agents_of, score_all
from kefu.quality.qa_settings import DIMENSION_NAMES, DIMENSIONS, QaConfig, Rubric
from kefu.storage.desk_tables import OPEN_STATUSES, HandoffRow
from kefu.storage.models import ConversationRow, EventRow, FaqRow, TenantRow
from kefu.storage.qa_tables import QaOverrideRow, QaScoreRow
from kefu.storage.tenants import TenantRepository

log = get_logger(__name__)

BATCH = 200  # conversations scored per query and transaction
MAX_LIST = 500
_RETRIES = 5


class _Candidate(Protocol):
    @property
    def faq_id(self) -> str: ...

    @property
    def confidence(self) -> float: ...


class KbIndex(Protocol):
    """What the correctness check needs of a tenant's FAQ index (``FaqIndex``)."""

    def search(self, query: str, k: int = 3) -> Sequence[_Candidate]: ...


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def _wrap(items: Iterable[str]) -> str:
    """``["a", "b"]`` -> ``",a,b,"`` (LIKE '%,a,%' finds a member)."""
    cleaned = [i.replace(",", " ") for i in items]
    return "," + "".join(f"{i}," for i in cleaned)


def _unwrap(value: str | None) -> list[str]:
    return [i for i in (value or "").split(",") if i]


@dataclass(frozen=True)
class Verdict:
    """The rubric applied to the effective scores (automatic, or overridden)."""

    total: float
    flagged: bool
    failed: list[str]
    reasons: list[dict[str, Any]]


def evaluate(
    auto: Mapping[str, Mapping[str, Any]], override: Mapping[str, Mapping[str, Any]], rubric: Rubric
) -> Verdict:
    """The weighted total over the dimensions that apply (an overridden one always does), the
    dimensions below their minimum, and whether the conversation is flagged."""
    effective: dict[str, tuple[float, bool]] = {}
    for d in DIMENSIONS:
        if d in override:
            effective[d] = (float(override[d]["score"]), True)
        else:
            found = auto.get(d) or {}
            effective[d] = (float(found.get("score", 100)), bool(found.get("applicable", False)))
    weighted = [
        (rubric.weights.get(d, 0.0), s)
        for d, (s, applies) in effective.items()
        if applies and rubric.weights.get(d, 0.0) > 0
    ]
    weight = sum(w for w, _ in weighted)
    total = round(sum(w * s for w, s in weighted) / weight, 1) if weight else 100.0
    failed = [
        d for d, (s, applies) in effective.items() if applies and s < rubric.minimums.get(d, 0.0)
    ]
    reasons: list[dict[str, Any]] = []
    if total < rubric.flag_below:
        reasons.append(
            {
                "code": "total_below",
                "dimension": None,
                "zh": f"总分 {total:g} 低于 {rubric.flag_below:g}。",
                "en": f"The total {total:g} is below {rubric.flag_below:g}.",
            }
        )
    for d in failed:
        score, minimum = effective[d][0], rubric.minimums[d]
        reasons.append(
            {
                "code": "dimension_below",
                "dimension": d,
                "zh": f"{DIMENSION_NAMES[d][0]}得分 {score:g} 低于及格线 {minimum:g}。",
                "en": f"{DIMENSION_NAMES[d][1].capitalize()} scored {score:g}, below its pass "
                f"mark {minimum:g}.",
            }
        )
    return Verdict(total, bool(reasons), failed, reasons)


@dataclass(frozen=True)
class QaResult:
    """A conversation's stored QA record."""

    conversation_id: str
    tenant: str
    rubric_hash: str
    scores: dict[str, Any]  # automatic: {dimension: {"score", "applicable", "reasons"}}
    override: dict[str, Any]  # current overrides: {dimension: {"score", "note", "by", "at"}}
    total: float
    flagged: bool
    failed: list[str]
    reasons: list[dict[str, Any]]
    agents: list[str]
    last_seq: int
    last_event_at: datetime | None
    scored_at: datetime
    overridden_by: str | None = None
    overridden_at: datetime | None = None

    def score_of(self, dimension: str) -> int:
        """The effective score of a dimension (its override, else the automatic one)."""
        if dimension in self.override:
            return int(self.override[dimension]["score"])
        return int((self.scores.get(dimension) or {}).get("score", 100))

    def to_dict(self, detail: bool = True) -> dict[str, Any]:
        dimensions: dict[str, Any] = {}
        for d in DIMENSIONS:
            auto = self.scores.get(d) or {"score": 100, "applicable": False, "reasons": []}
            over = self.override.get(d)
            item: dict[str, Any] = {
                "score": self.score_of(d),
                "applicable": bool(auto.get("applicable")) or over is not None,
                "passed": d not in self.failed,
                "overridden": over is not None,
            }
            if detail:
                item["auto_score"] = auto.get("score")
                item["override"] = over
                item["reasons"] = auto.get("reasons", [])
            dimensions[d] = item
        return {
            "conversation_id": self.conversation_id,
            "tenant": self.tenant,
            "total": self.total,
            "flagged": self.flagged,
            "failed": list(self.failed),
            "reasons": list(self.reasons),
            "dimensions": dimensions,
            "agents": list(self.agents),
            "last_seq": self.last_seq,
            "last_event_at": _iso(self.last_event_at),
            "scored_at": _iso(self.scored_at),
            "rubric_hash": self.rubric_hash,
            "overridden_by": self.overridden_by,
            "overridden_at": _iso(self.overridden_at),
        }


@dataclass
class _Computed:
    conversation_id: str
    scores: dict[str, Any]
    agents: list[str]
    last_seq: int
    last_event_at: datetime | None


@dataclass
class _TenantRun:
    """What scoring one tenant needs, read once per run."""

    name: str
    tenant_id: int
    config: QaConfig
    knowledge: Knowledge | None = None
    skipped: set[str] = field(default_factory=set)


class QaService:
    """Scores, lists and overrides. ``kb_index`` gives a tenant's current FAQ index, which
    answers "which FAQ would the bot give for this question now" for the correctness dimension
    (without it a fallback is never held against the bot)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        tenants: TenantRepository,
        clock: Callable[[], datetime],
        *,
        kb_index: Callable[[str], KbIndex] | None = None,
        batch_size: int = BATCH,
    ) -> None:
        self._sessions = sessions
        self._tenants = tenants
        self._clock = clock
        self._kb_index = kb_index
        self._batch = batch_size

    # -- configuration -------------------------------------------------------------------
    def config(self, tenant: str) -> QaConfig:
        return QaConfig.of(self._tenants.settings(tenant))

    def _knowledge(self, run: _TenantRun) -> Knowledge:
        if run.knowledge is not None:
            return run.knowledge
        now = self._clock()
        answers: dict[str, list[str]] = {}
        active: dict[str, bool] = {}
        changed: datetime | None = None
        with self._sessions() as s:
            rows = s.execute(
                select(
                    FaqRow.faq_id,
                    FaqRow.answer,
                    FaqRow.enabled,
                    FaqRow.valid_from,
                    FaqRow.valid_until,
                    FaqRow.updated_at,
                ).where(FaqRow.tenant_id == run.tenant_id)
            )
            for faq_id, answer, enabled, valid_from, valid_until, updated_at in rows:
                changed = updated_at if changed is None else max(changed, updated_at)
                answers.setdefault(faq_id, []).append("".join(answer.split()))
                live = bool(enabled) and not (valid_from is not None and now < valid_from)
                live = live and not (valid_until is not None and now > valid_until)
                active[faq_id] = active.get(faq_id, False) or live
        entries = {k: KbEntry(tuple(v), active[k]) for k, v in answers.items()}
        match = None
        if self._kb_index is not None and entries:
            match = self._matcher(run.name, entries, run.config.answer_threshold)
        run.knowledge = Knowledge(entries, match, changed)
        return run.knowledge

    def _matcher(
        self, tenant: str, entries: Mapping[str, KbEntry], threshold: float
    ) -> Callable[[str], str | None]:
        """question -> the live FAQ the current index answers it with, or None. The index is
        fetched at the first question (once per run) and each question searched once."""
        get_index = self._kb_index
        assert get_index is not None
        index: list[KbIndex] = []
        seen: dict[str, str | None] = {}

        def match(question: str) -> str | None:
            question = question.strip()
            if not question:
                return None
            if question in seen:
                return seen[question]
            found: str | None = None
            try:
                if not index:
                    index.append(get_index(tenant))
                for c in list(index[0].search(question, k=1))[:1]:
                    entry = entries.get(c.faq_id)
                    if entry is not None and entry.active and c.confidence >= threshold:
                        found = c.faq_id
            except KefuError as exc:
                log.warning("qa: knowledge search failed for tenant %s: %s", tenant, exc.code)
            seen[question] = found
            return found

        return match

    def _run(self, tenant: str) -> _TenantRun:
        t = self._tenants.get(tenant)
        return _TenantRun(t.name, t.id, self.config(t.name))

    # -- finding finished conversations -------------------------------------------------
    def _finished(self, conv: Any, cutoff: datetime) -> ColumnElement[bool]:
        """SQL: the conversation ``conv`` (a ConversationRow alias) is finished."""
        e_closed, e_last, e_open = aliased(EventRow), aliased(EventRow), aliased(EventRow)
        closed = exists().where(
            e_closed.conversation_id == conv.id, e_closed.type == CONVERSATION_CLOSED
        )
        last_at = (
            select(e_last.created_at)
            .where(e_last.conversation_id == conv.id)
            .order_by(e_last.seq.desc())
            .limit(1)
            .scalar_subquery()
        )
        last_handoff = (
            select(e_open.type)
            .where(
                e_open.conversation_id == conv.id,
                e_open.type.in_((HANDOFF_REQUESTED, HANDOFF_RELEASED, CONVERSATION_CLOSED)),
            )
            .order_by(e_open.seq.desc())
            .limit(1)
            .scalar_subquery()
        )
        # The desk's handoffs table says whether one is open (a customer's cancel leaves no
        # event); a conversation the desk never saw (events appended directly) goes by its
        # events: the last handoff request neither released nor closed is open.
        h = aliased(HandoffRow)
        desk_open = exists().where(h.conversation_id == conv.id, h.status.in_(OPEN_STATUSES))
        desk_knows = exists().where(h.conversation_id == conv.id)
        events_open = and_(
            ~desk_knows, last_handoff.is_not(None), last_handoff == HANDOFF_REQUESTED
        )
        idle = and_(last_at <= cutoff, ~desk_open, ~events_open)
        return or_(closed, idle)

    def _cutoff(self, run: _TenantRun) -> datetime:
        return self._clock() - timedelta(minutes=run.config.idle_minutes)

    def is_finished(self, conversation_id: str) -> bool:
        """Is the conversation finished now (closed, or idle with no handoff open)?"""
        tenant = self._tenant_of(conversation_id)
        run = self._run(tenant)
        conv = aliased(ConversationRow)
        with self._sessions() as s:
            found = s.execute(
                select(conv.id).where(
                    conv.id == conversation_id, self._finished(conv, self._cutoff(run))
                )
            ).first()
        return found is not None

    def _pending(self, run: _TenantRun, size: int, rescore: bool) -> list[str]:
        """Up to ``size`` finished conversations of the tenant whose score is missing, older
        than their last event, or (``rescore``) made under another rubric."""
        conv = aliased(ConversationRow)
        e = aliased(EventRow)
        last_seq = select(func.max(e.seq)).where(e.conversation_id == conv.id).scalar_subquery()
        q = QaScoreRow
        stale = [q.conversation_id.is_(None), q.last_seq < last_seq]
        if rescore:
            stale.append(q.rubric_hash != run.config.hash)
        stmt = (
            select(conv.id)
            .outerjoin(q, q.conversation_id == conv.id)
            .where(conv.tenant_id == run.tenant_id, or_(*stale))
            .where(self._finished(conv, self._cutoff(run)))
            .order_by(conv.created_at, conv.id)
            .limit(size)
        )
        if run.skipped:
            stmt = stmt.where(conv.id.not_in(builtins.list(run.skipped)))
        with self._sessions() as s:
            return [r[0] for r in s.execute(stmt)]

    def _events(self, ids: Sequence[str]) -> dict[str, list[Event]]:
        out: dict[str, list[Event]] = {i: [] for i in ids}
        e = EventRow
        with self._sessions() as s:
            rows = s.connection().execute(
                select(e.conversation_id, e.seq, e.type, e.actor, e.text, e.payload, e.created_at)
                .where(e.conversation_id.in_(ids))
                .order_by(e.conversation_id, e.seq)
            )
            for r in rows:
                out[r.conversation_id].append(
                    Event(r.seq, r.type, r.actor, r.text, dict(r.payload or {}), r.created_at)
                )
        return out

    # -- scoring ---------------------------------------------------------------------------
    def _compute(self, run: _TenantRun, conversation_id: str, events: list[Event]) -> _Computed:
        dims = score_all(events, run.config, self._knowledge(run))
        return _Computed(
            conversation_id,
            {d: dims[d].to_dict() for d in DIMENSIONS},
            agents_of(events),
            max((ev.seq for ev in events), default=0),
            events[-1].created_at if events else None,
        )

    def _store(self, run: _TenantRun, computed: Sequence[_Computed]) -> None:
        """Insert or replace the automatic part of each score, keeping overrides; retried on
        a concurrent writer (another run, an override)."""
        if not computed:
            return
        ids = [c.conversation_id for c in computed]
        for attempt in range(_RETRIES):
            try:
                with self._sessions.begin() as s:
                    existing = {
                        r.conversation_id: r
                        for r in s.scalars(
                            select(QaScoreRow).where(QaScoreRow.conversation_id.in_(ids))
                        )
                    }
                    now = self._clock()
                    for c in computed:
                        row = existing.get(c.conversation_id)
                        override = dict(row.override) if row is not None else {}
                        verdict = evaluate(c.scores, override, run.config.rubric)
                        values = {
                            "rubric_hash": run.config.hash,
                            "scores": c.scores,
                            "total": verdict.total,
                            "flagged": verdict.flagged,
                            "failed": _wrap(verdict.failed),
                            "reasons": verdict.reasons,
                            "agents": _wrap(c.agents),
                            "last_seq": c.last_seq,
                            "last_event_at": c.last_event_at,
                            "scored_at": now,
                        }
                        if row is None:
                            s.add(
                                QaScoreRow(
                                    conversation_id=c.conversation_id,
                                    tenant_id=run.tenant_id,
                                    override={},
                                    **values,
                                )
                            )
                        else:
                            for key, value in values.items():
                                setattr(row, key, value)
                    s.flush()
                return
            except (IntegrityError, StaleDataError):
                if attempt == _RETRIES - 1:
                    raise ConflictError(
                        "could not store the QA scores; too many concurrent writers"
                    ) from None

    def score(self, conversation_id: str) -> QaResult:
        """Score one conversation now (finished or not) and store the result."""
        run = self._run(self._tenant_of(conversation_id))
        events = self._events([conversation_id])[conversation_id]
        self._store(run, [self._compute(run, conversation_id, events)])
        found = self.get(conversation_id)
        assert found is not None
        return found

    def score_finished(
        self, tenant: str | None = None, *, limit: int = 10_000, rescore: bool = False
    ) -> int:
        """Score the finished conversations (of ``tenant``, or of every tenant) that have no
        score at their current last event - and, with ``rescore``, those scored under another
        rubric - at most ``limit`` of them, in batches. Returns how many were scored. A
        conversation whose scoring fails is logged and left for the next run."""
        if limit < 1:
            raise InvalidInputError("limit must be at least 1", field="limit")
        names = [tenant] if tenant is not None else [t.name for t in self._tenants.all()]
        scored = 0
        for name in names:
            run = self._run(name)
            while scored < limit:
                ids = self._pending(run, min(self._batch, limit - scored), rescore)
                if not ids:
                    break
                events = self._events(ids)
                computed = []
                for cid in ids:
                    try:
                        computed.append(self._compute(run, cid, events[cid]))
                    except Exception:
                        log.exception("qa: scoring conversation %s failed", cid)
                        run.skipped.add(cid)
                self._store(run, computed)
                scored += len(computed)
        return scored

    def run_periodically(self, stop: threading.Event, interval_s: float = 300.0) -> None:
        """Score the finished conversations of every tenant every ``interval_s`` seconds until
        ``stop`` is set (for a server's background thread; a failed run is logged and the next
        one tries again)."""
        while not stop.is_set():
            try:
                scored = self.score_finished()
                if scored:
                    log.info("qa: scored %d finished conversation(s)", scored)
            except Exception:
                log.exception("qa: a scoring run failed")
            stop.wait(interval_s)

    # -- reading -----------------------------------------------------------------------------
    def _tenant_of(self, conversation_id: str) -> str:
        with self._sessions() as s:
            name = s.scalar(
                select(TenantRow.name)
                .join(ConversationRow, ConversationRow.tenant_id == TenantRow.id)
                .where(ConversationRow.id == conversation_id)
            )
        if name is None:
            raise ConversationNotFound(conversation_id)
        return str(name)

    @staticmethod
    def _result(row: QaScoreRow, tenant: str) -> QaResult:
        return QaResult(
            conversation_id=row.conversation_id,
            tenant=tenant,
            rubric_hash=row.rubric_hash,
            scores=dict(row.scores),
            override=dict(row.override or {}),
            total=float(row.total),
            flagged=bool(row.flagged),
            failed=_unwrap(row.failed),
            reasons=list(row.reasons or []),
            agents=_unwrap(row.agents),
            last_seq=row.last_seq,
            last_event_at=row.last_event_at,
            scored_at=row.scored_at,
            overridden_by=row.overridden_by,
            overridden_at=row.overridden_at,
        )

    def get(self, conversation_id: str) -> QaResult | None:
        """The stored score, or None when the conversation has not been scored."""
        with self._sessions() as s:
            found = s.execute(
                select(QaScoreRow, TenantRow.name)
                .join(TenantRow, TenantRow.id == QaScoreRow.tenant_id)
                .where(QaScoreRow.conversation_id == conversation_id)
            ).first()
            return None if found is None else self._result(found[0], found[1])

    def list(
        self,
        tenant: str,
        *,
        flagged: bool | None = None,
        dimension: str | None = None,
        agent: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[builtins.list[QaResult], int]:
        """A tenant's scores, the most recently active conversations first, and how many
        match in all. ``dimension``: only those failing that dimension; ``agent``: only those
        the agent took part in."""
        if dimension is not None:
            check_dimension(dimension)
        if not 1 <= limit <= MAX_LIST:
            raise InvalidInputError(f"limit must be between 1 and {MAX_LIST}", field="limit")
        if offset < 0:
            raise InvalidInputError("offset must not be negative", field="offset")
        t = self._tenants.get(tenant)
        q = QaScoreRow
        where: builtins.list[ColumnElement[bool]] = [q.tenant_id == t.id]
        if flagged is not None:
            where.append(q.flagged.is_(flagged))
        if dimension is not None:
            where.append(q.failed.like(f"%,{dimension},%"))
        if agent:
            escaped = agent.replace(",", " ")
            for ch in ("\\", "%", "_"):
                escaped = escaped.replace(ch, "\\" + ch)
            where.append(q.agents.like(f"%,{escaped},%", escape="\\"))
        with self._sessions() as s:
            total = int(s.scalar(select(func.count()).select_from(q).where(*where)) or 0)
            rows = s.scalars(
                select(q)
                .where(*where)
                .order_by(q.last_event_at.desc().nulls_last(), q.conversation_id)
                .offset(offset)
                .limit(limit)
            )
            return [self._result(r, t.name) for r in rows], total

    def flagged(self, tenant: str, *, limit: int = 50, offset: int = 0) -> builtins.list[QaResult]:
        """A tenant's flagged conversations, the most recently active first."""
        return self.list(tenant, flagged=True, limit=limit, offset=offset)[0]

    def overrides(self, conversation_id: str) -> builtins.list[dict[str, Any]]:
        """The override history of a conversation, oldest first."""
        o = QaOverrideRow
        with self._sessions() as s:
            rows = s.scalars(select(o).where(o.conversation_id == conversation_id).order_by(o.id))
            return [
                {
                    "id": r.id,
                    "dimension": r.dimension,
                    "before": r.score_before,
                    "after": r.score_after,
                    "note": r.note,
                    "by": r.created_by,
                    "at": _iso(r.created_at),
                }
                for r in rows
            ]

    # -- supervisors ---------------------------------------------------------------------
    def override(
        self, conversation_id: str, dimension: str, score: int, *, by: str, note: str = ""
    ) -> QaResult:
        """Set a dimension's score by hand (a supervisor's decision, recorded with who, when
        and why). The total and the flag are recomputed; later automatic re-scoring keeps the
        override. A conversation not yet scored is scored first."""
        check_dimension(dimension)
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
            raise InvalidInputError("score must be a whole number from 0 to 100", field="score")
        if not by.strip() or len(by) > 128:
            raise InvalidInputError("by must be 1-128 characters", field="by")
        if len(note) > 2000:
            raise InvalidInputError("note must be at most 2000 characters", field="note")
        tenant = self._tenant_of(conversation_id)
        if self.get(conversation_id) is None:
            self.score(conversation_id)
        rubric = self.config(tenant).rubric
        for attempt in range(_RETRIES):
            try:
                with self._sessions.begin() as s:
                    row = s.get(QaScoreRow, conversation_id)
                    assert row is not None
                    current = self._result(row, tenant)
                    now = self._clock()
                    override = dict(row.override or {})
                    override[dimension] = {"score": score, "note": note, "by": by, "at": _iso(now)}
                    verdict = evaluate(row.scores, override, rubric)
                    row.override = override
                    row.total = verdict.total
                    row.flagged = verdict.flagged
                    row.failed = _wrap(verdict.failed)
                    row.reasons = verdict.reasons
                    row.overridden_by = by
                    row.overridden_at = now
                    s.add(
                        QaOverrideRow(
                            conversation_id=conversation_id,
                            tenant_id=row.tenant_id,
                            dimension=dimension,
                            score_before=current.score_of(dimension),
                            score_after=score,
                            note=note,
                            created_by=by,
                            created_at=now,
                        )
                    )
                    s.flush()
                break
            except StaleDataError:
                if attempt == _RETRIES - 1:
                    raise ConflictError("the score changed meanwhile; try again") from None
        found = self.get(conversation_id)
        assert found is not None
        return found


def check_dimension(dimension: str) -> str:
    if dimension not in DIMENSIONS:
        raise InvalidInputError(
            f"unknown dimension {dimension!r}; use one of {', '.join(DIMENSIONS)}",
            field="dimension",
            dimension=dimension,
        )
    return dimension
