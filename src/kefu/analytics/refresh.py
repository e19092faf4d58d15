"""Incremental refresh of the facts tables from the events.

``events.id`` is a global autoincrement, so "what changed since the last refresh" is the set
of conversations with an event whose id is above the tenant's watermark. A refresh recomputes
exactly those conversations from all their events (a conversation's facts are a pure function
of its events, :func:`kefu.analytics.derive.derive`), then the repeat-contact flags of the
customers concerned, then moves the watermark to the highest event id it saw at its start.
Nothing changed: one indexed range read, so every read endpoint can refresh first.

Batches of conversations are written in their own short transactions (a full refresh of a
large tenant must not hold SQLite's one write lock for long); an interrupted refresh leaves
the watermark where it was and the next one redoes the rest (recomputing is idempotent).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kefu.analytics.derive import ConversationIn, EventIn, derive, is_resolved, repeat_flags
from kefu.storage.fact_tables import FactRow, TurnFactRow, WatermarkRow
from kefu.storage.llm_call_tables import LlmCallRow
from kefu.storage.models import ConversationRow, EventRow

BATCH = 400  # conversations recomputed per transaction


@dataclass(frozen=True, slots=True)
class RefreshResult:
    conversations: int  # recomputed
    watermark: int  # highest events.id now reflected


class FactRefresher:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, tenant_id: int) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(tenant_id, threading.Lock())

    def watermark(self, tenant_id: int) -> int:
        """The highest events.id reflected in the tenant's facts (0: never refreshed)."""
        with self._sessions() as s:
            mark = (
                s.connection()
                .execute(
                    select(WatermarkRow.last_event_id).where(WatermarkRow.tenant_id == tenant_id)
                )
                .scalar()
            )
        return int(mark or 0)

    def refresh(self, tenant_id: int, repeat_hours: int, now: datetime) -> RefreshResult:
        with self._lock(tenant_id):
            with self._sessions() as s:
                conn = s.connection()
                mark = conn.execute(
                    select(WatermarkRow.last_event_id).where(WatermarkRow.tenant_id == tenant_id)
                ).scalar()
                start = int(mark or 0)
                top = int(conn.execute(select(func.max(EventRow.id))).scalar() or 0)
                if top <= start:
                    return RefreshResult(0, start)
                changed = [
                    r[0]
                    for r in conn.execute(
                        select(EventRow.conversation_id)
                        .join(ConversationRow, ConversationRow.id == EventRow.conversation_id)
                        .where(
                            ConversationRow.tenant_id == tenant_id,
                            EventRow.id > start,
                            EventRow.id <= top,
                        )
                        .distinct()
                    )
                ]
            for i in range(0, len(changed), BATCH):
                self._recompute(tenant_id, changed[i : i + BATCH], repeat_hours)
            self._advance(tenant_id, mark is not None, top, now)
            return RefreshResult(len(changed), top)

    def _advance(self, tenant_id: int, exists: bool, top: int, now: datetime) -> None:
        w = cast(Table, WatermarkRow.__table__)
        with self._sessions.begin() as s:
            conn = s.connection()
            if exists:
                conn.execute(
                    update(w)
                    .where(w.c.tenant_id == tenant_id, w.c.last_event_id < top)
                    .values(last_event_id=top, refreshed_at=now)
                )
                return
        try:
            with self._sessions.begin() as s:
                s.connection().execute(
                    insert(w).values(tenant_id=tenant_id, last_event_id=top, refreshed_at=now)
                )
        except IntegrityError:  # another process inserted it meanwhile
            self._advance(tenant_id, True, top, now)

    def _recompute(self, tenant_id: int, ids: Sequence[str], repeat_hours: int) -> None:
        for attempt in range(3):
            try:
                self._recompute_once(tenant_id, ids, repeat_hours)
                return
            except IntegrityError:  # a concurrent refresh wrote the same rows first
                if attempt == 2:
                    raise

    def _recompute_once(self, tenant_id: int, ids: Sequence[str], repeat_hours: int) -> None:
        facts_t = cast(Table, FactRow.__table__)
        turns_t = cast(Table, TurnFactRow.__table__)
        with self._sessions.begin() as s:
            conn = s.connection()
            convs = {
                r.id: ConversationIn(
                    r.id, tenant_id, r.channel, r.customer, r.language, r.created_at
                )
                for r in conn.execute(
                    select(
                        ConversationRow.id,
                        ConversationRow.channel,
                        ConversationRow.customer,
                        ConversationRow.language,
                        ConversationRow.created_at,
                    ).where(ConversationRow.id.in_(ids))
                )
            }
            events: dict[str, list[EventIn]] = defaultdict(list)
            e = EventRow
            for r in conn.execute(
                select(
                    e.id, e.conversation_id, e.seq, e.type, e.actor, e.text, e.payload, e.created_at
                )
                .where(e.conversation_id.in_(ids))
                .order_by(e.conversation_id, e.seq)
            ):
                events[r.conversation_id].append(
                    EventIn(r.id, r.seq, r.type, r.actor, r.text, r.payload or {}, r.created_at)
                )
            llm: dict[str, tuple[Decimal, int]] = {}
            c = LlmCallRow
            for r in conn.execute(
                select(
                    c.conversation_id,
                    func.sum(c.cost),
                    func.sum(c.prompt_tokens + c.completion_tokens),
                )
                .where(c.conversation_id.in_(ids))
                .group_by(c.conversation_id)
            ):
                if r[0] is not None:
                    llm[r[0]] = (Decimal(r[1] or 0), int(r[2] or 0))
            old_keys = {
                r[0]
                for r in conn.execute(
                    select(facts_t.c.customer_key).where(
                        facts_t.c.conversation_id.in_(ids), facts_t.c.customer_key.is_not(None)
                    )
                )
            }
            fact_rows: list[dict[str, Any]] = []
            turn_rows: list[dict[str, Any]] = []
            for cid in ids:
                conv, evs = convs.get(cid), events.get(cid)
                if conv is None or not evs:
                    continue
                cost, tokens = llm.get(cid, (Decimal(0), 0))
                fact, turns = derive(conv, evs, cost, tokens)
                fact_rows.append(fact)
                turn_rows.extend(turns)
            conn.execute(delete(turns_t).where(turns_t.c.conversation_id.in_(ids)))
            conn.execute(delete(facts_t).where(facts_t.c.conversation_id.in_(ids)))
            if fact_rows:
                conn.execute(insert(facts_t), fact_rows)
            if turn_rows:
                conn.execute(insert(turns_t), turn_rows)
            keys = old_keys | {f["customer_key"] for f in fact_rows if f["customer_key"]}
            if keys:
                _update_repeats(conn, tenant_id, keys, repeat_hours)


def _update_repeats(conn: Any, tenant_id: int, keys: Iterable[str], hours: int) -> None:
    """Recompute the repeat-contact flag (and so ``resolved``) of every conversation of these
    customers."""
    f = cast(Table, FactRow.__table__)
    groups: dict[str, list[Any]] = defaultdict(list)
    key_list = sorted(keys)
    for i in range(0, len(key_list), 500):
        for r in conn.execute(
            select(
                f.c.conversation_id,
                f.c.customer_key,
                f.c.started_at,
                f.c.last_at,
                f.c.repeat_contact,
                f.c.automated,
                f.c.failed_end,
                f.c.csat,
                f.c.resolved,
            ).where(and_(f.c.tenant_id == tenant_id, f.c.customer_key.in_(key_list[i : i + 500])))
        ):
            groups[r.customer_key].append(r)
    changes: list[dict[str, Any]] = []
    for rows in groups.values():
        flags = repeat_flags([(r.conversation_id, r.started_at, r.last_at) for r in rows], hours)
        for r in rows:
            repeat = flags[r.conversation_id]
            resolved = is_resolved(r.automated, r.failed_end, r.csat, repeat)
            if repeat != r.repeat_contact or resolved != r.resolved:
                changes.append({"cid": r.conversation_id, "rep": repeat, "res": resolved})
    if changes:
        conn.execute(
            update(f)
            .where(f.c.conversation_id == bindparam("cid"))
            .values(repeat_contact=bindparam("rep"), resolved=bindparam("res")),
            changes,
        )
