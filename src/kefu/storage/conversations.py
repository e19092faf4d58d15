"""Conversations and their append-only event log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kefu.domain.conversation import Conversation, Event
from kefu.errors import ConflictError, ConversationNotFound
from kefu.llm.cost import CallRecord
from kefu.storage.llm_calls import call_rows, tenant_of
from kefu.storage.models import ConversationRow, EventRow, TenantRow
from kefu.storage.tenants import TenantRepository, utcnow

NewEvent = tuple[str, str, str | None, dict[str, Any]]  # type, actor, text, payload


def _event(row: EventRow) -> Event:
    return Event(row.seq, row.type, row.actor, row.text, dict(row.payload), row.created_at)


class ConversationRepository:
    def __init__(self, sessions: sessionmaker[Session], tenants: TenantRepository) -> None:
        self._sessions = sessions
        self._tenants = tenants

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
        return Conversation(row.id, t.name, channel, customer, language, row.created_at)

    def get(self, conversation_id: str) -> Conversation:
        with self._sessions() as s:
            found = s.execute(
                select(ConversationRow, TenantRow.name)
                .join(TenantRow, TenantRow.id == ConversationRow.tenant_id)
                .where(ConversationRow.id == conversation_id)
            ).first()
            if found is None:
                raise ConversationNotFound(conversation_id)
            row, tenant = found
            return Conversation(
                row.id, tenant, row.channel, row.customer, row.language, row.created_at
            )

    def events(self, conversation_id: str, last: int | None = None) -> list[Event]:
        """Events in order; with ``last`` only the newest ``last`` of them."""
        with self._sessions() as s:
            q = select(EventRow).where(EventRow.conversation_id == conversation_id)
            if last is not None:
                rows = list(s.scalars(q.order_by(EventRow.seq.desc()).limit(last)))
                rows.reverse()
            else:
                rows = list(s.scalars(q.order_by(EventRow.seq)))
            return [_event(r) for r in rows]

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
                    last = s.scalar(
                        select(func.max(EventRow.seq)).where(
                            EventRow.conversation_id == conversation_id
                        )
                    )
                    seq = int(last or 0)
                    rows = []
                    now = utcnow()
                    for type_, actor, text, payload in new:
                        seq += 1
                        row = EventRow(
                            conversation_id=conversation_id,
                            seq=seq,
                            type=type_,
                            actor=actor,
                            text=text,
                            payload=payload,
                            created_at=now,
                        )
                        s.add(row)
                        rows.append(row)
                    if llm_calls:
                        tenant_id = tenant_of(s, conversation_id)
                        if tenant_id is None:
                            raise ConversationNotFound(conversation_id)
                        s.add_all(call_rows(tenant_id, conversation_id, turn, llm_calls, now))
                    s.flush()
                    return [_event(r) for r in rows]
            except IntegrityError:
                continue
        raise ConflictError("could not append to the conversation; too many concurrent writers")
