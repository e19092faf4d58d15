"""Conversations and their append-only event log."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kefu.domain.conversation import Conversation, Event
from kefu.errors import ConflictError, ConversationNotFound
from kefu.llm.cost import CallRecord
from kefu.storage.llm_calls import call_rows, tenant_of
from kefu.storage.models import ConversationRow, EventRow, TenantRow
from kefu.storage.tenants import TenantRepository, utcnow

NewEvent = tuple[str, str, str | None, dict[str, Any]]  # type, actor, text, payload


_KNOWN = 4096  # conversations remembered per process (their rows never change)


class ConversationRepository:
    """Conversations and their events. A conversation's row is written once and never updated
    or deleted, so the ones this process has seen are remembered (a bounded LRU) instead of
    read again on every turn. The per-turn statements (append, recent events) are Core
    statements: the ORM's unit of work added ~0.5 ms a turn for nothing here."""

    def __init__(self, sessions: sessionmaker[Session], tenants: TenantRepository) -> None:
        self._sessions = sessions
        self._tenants = tenants
        self._known: OrderedDict[str, Conversation] = OrderedDict()
        self._known_lock = threading.Lock()

    def _remember(self, conv: Conversation) -> Conversation:
        with self._known_lock:
            self._known[conv.id] = conv
            self._known.move_to_end(conv.id)
            while len(self._known) > _KNOWN:
                self._known.popitem(last=False)
        return conv

    def create(
        self, tenant: str, channel: str, customer: str | None, language: str | None
    ) -> Conversation:
        t = self._tenants.get(tenant)
        row = ConversationRow(
            id=str(uuid.uuid4()),
            tenant_id=t.id,
            channel=channel,
            customer=customer,
            language=language,
            created_at=utcnow(),
        )
        with self._sessions.begin() as s:
            s.add(row)
        return self._remember(
            Conversation(row.id, t.name, channel, customer, language, row.created_at)
        )

    def get(self, conversation_id: str) -> Conversation:
        with self._known_lock:
            known = self._known.get(conversation_id)
            if known is not None:
                self._known.move_to_end(conversation_id)
                return known
        with self._sessions() as s:
            found = s.execute(
                select(ConversationRow, TenantRow.name)
                .join(TenantRow, TenantRow.id == ConversationRow.tenant_id)
                .where(ConversationRow.id == conversation_id)
            ).first()
            if found is None:
                raise ConversationNotFound(conversation_id)
            row, tenant = found
            return self._remember(
                Conversation(
                    row.id, tenant, row.channel, row.customer, row.language, row.created_at
                )
            )

    def events(self, conversation_id: str, last: int | None = None) -> list[Event]:
        """Events in order; with ``last`` only the newest ``last`` of them."""
        e = EventRow
        q = select(e.seq, e.type, e.actor, e.text, e.payload, e.created_at).where(
            e.conversation_id == conversation_id
        )
        with self._sessions() as s:
            if last is not None:
                rows = list(s.connection().execute(q.order_by(e.seq.desc()).limit(last)))
                rows.reverse()
            else:
                rows = list(s.connection().execute(q.order_by(e.seq)))
        return [Event(r.seq, r.type, r.actor, r.text, dict(r.payload), r.created_at) for r in rows]

    def append(
        self,
        conversation_id: str,
        new: Sequence[NewEvent],
        *,
        llm_calls: Sequence[CallRecord] = (),
        turn: int | None = None,
    ) -> list[Event]:
        """Append events atomically after the current last one. Sequence numbers are allocated
        under the unique (conversation, seq) constraint, so concurrent writers from several
        processes never interleave inside one batch nor overwrite each other.

        ``llm_calls`` (the turn's metered LLM calls, turn number ``turn``) are written in the
        same transaction: both are stored or neither."""
        for _attempt in range(20):
            try:
                with self._sessions.begin() as s:
                    conn = s.connection()
                    last = conn.execute(
                        select(func.max(EventRow.seq)).where(
                            EventRow.conversation_id == conversation_id
                        )
                    ).scalar()
                    first = int(last or 0) + 1
                    now = utcnow()
                    events = [
                        Event(seq, type_, actor, text, dict(payload), now)
                        for seq, (type_, actor, text, payload) in enumerate(new, first)
                    ]
                    if events:
                        conn.execute(
                            insert(EventRow),
                            [
                                {
                                    "conversation_id": conversation_id,
                                    "seq": ev.seq,
                                    "type": ev.type,
                                    "actor": ev.actor,
                                    "text": ev.text,
                                    "payload": payload,
                                    "created_at": now,
                                }
                                for ev, (_t, _a, _x, payload) in zip(events, new, strict=True)
                            ],
                        )
                    if llm_calls:
                        tenant_id = tenant_of(s, conversation_id)
                        if tenant_id is None:
                            raise ConversationNotFound(conversation_id)
                        s.add_all(call_rows(tenant_id, conversation_id, turn, llm_calls, now))
                        s.flush()
                    return events
            except IntegrityError:
                continue
        raise ConflictError("could not append to the conversation; too many concurrent writers")
