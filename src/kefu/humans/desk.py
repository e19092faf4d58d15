"""The agent desk: handoffs waiting for a human, taken, answered, handed back, closed.

One ``handoffs`` row per episode (``waiting`` -> ``active`` -> ``released`` | ``closed``;
``ticketed`` when requested outside business hours, ``cancelled`` when the customer changed
their mind). A conversation has at most one open (waiting or active) handoff: :meth:`create`
checks it in the transaction that inserts, and the service calls it under the conversation's
turn lock. Taking is one conditional ``UPDATE ... WHERE status = 'waiting'``: of two agents
taking at once exactly one changes the row, the other gets :class:`AlreadyTaken` (409).

Everything the customer and the agents see is also an event of the conversation (see
``kefu.domain.conversation``): ``handoff_taken`` (its text is the notice shown to the customer,
"人工客服 X 为您服务"), ``agent_message``, ``handoff_released`` followed by a ``bot_reply`` whose
payload carries the dialogue state the bot resumes from, ``conversation_closed``. Each append
wakes the live streams (:mod:`kefu.humans.live`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from kefu.access.roles import Principal
from kefu.dialogue.state import DialogueState
from kefu.dialogue.turn import Reply, TurnResult
from kefu.domain.conversation import (
    AGENT_MESSAGE,
    BOT_REPLY,
    CONVERSATION_CLOSED,
    HANDOFF_RELEASED,
    HANDOFF_TAKEN,
    Conversation,
    Event,
)
from kefu.errors import (
    AlreadyTaken,
    ConflictError,
    HandoffNotFound,
    InvalidInputError,
    PermissionDenied,
)
from kefu.humans.live import LiveHub, conversation_key, tenant_key
from kefu.storage.desk_tables import HANDOFF_STATUSES, OPEN_STATUSES, HandoffRow
from kefu.storage.models import EventRow, TenantRow
from kefu.storage.tenants import TenantRepository

MAX_AGENT_MESSAGE = 4000
INBOX_STATUSES = ("waiting", "active", "open", "all")
_INBOX_LIMIT = 500


@dataclass(frozen=True)
class Handoff:
    """One handoff episode."""

    id: int
    tenant: str
    conversation_id: str
    status: str
    queue: str
    reason: str
    handoff: dict[str, Any]
    resume_state: dict[str, Any] | None
    ticket_id: int | None
    requested_at: datetime
    taken_at: datetime | None
    taken_by: str | None
    released_at: datetime | None
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def waiting_s(self, now: datetime) -> float:
        """Seconds the customer waited (so far, or until an agent took it)."""
        end = self.taken_at or self.closed_at or now
        return round(max(0.0, (end - self.requested_at).total_seconds()), 1)

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() + "Z" if value else None

        out: dict[str, Any] = {
            "handoff_id": self.id,
            "tenant": self.tenant,
            "conversation_id": self.conversation_id,
            "status": self.status,
            "queue": self.queue,
            "reason": self.reason,
            "requested_at": iso(self.requested_at),
            "taken_at": iso(self.taken_at),
            "taken_by": self.taken_by,
            "released_at": iso(self.released_at),
            "closed_at": iso(self.closed_at),
            "ticket_id": self.ticket_id,
            "handoff": self.handoff,
        }
        if now is not None:
            out["waiting_s"] = self.waiting_s(now)
        return out


def _handoff(row: HandoffRow, tenant: str) -> Handoff:
    return Handoff(
        id=row.id,
        tenant=tenant,
        conversation_id=row.conversation_id,
        status=row.status,
        queue=row.queue,
        reason=row.reason,
        handoff=dict(row.handoff or {}),
        resume_state=row.resume_state,
        ticket_id=row.ticket_id,
        requested_at=row.requested_at,
        taken_at=row.taken_at,
        taken_by=row.taken_by,
        released_at=row.released_at,
        closed_at=row.closed_at,
    )


class Desk:
    """Handoffs and the agents' actions on them. ``conversations`` (the service's
    ConversationRepository) and ``turn_locks`` are given by the service; without them (a bare
    Desk) only the queue itself works."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        tenants: TenantRepository,
        clock: Callable[[], datetime],
        *,
        conversations: Any = None,
        turn_locks: Any = None,
        stored: Callable[[Conversation, str], str] | None = None,
    ) -> None:
        self._sessions = sessions
        self._tenants = tenants
        self._clock = clock
        self._conversations = conversations
        self._turn_locks = turn_locks
        # what the tenant's transcript policy stores of an agent's text (masked or as typed)
        self._stored = stored or (lambda _conv, text: text)
        self.live = LiveHub(poll=self._newest_seqs)

    # -- reading ----------------------------------------------------------------------------
    def open_for(self, conversation_id: str) -> Handoff | None:
        """The conversation's open (waiting or active) handoff, if any."""
        with self._sessions() as s:
            found = s.execute(
                select(HandoffRow, TenantRow.name)
                .join(TenantRow, TenantRow.id == HandoffRow.tenant_id)
                .where(
                    HandoffRow.conversation_id == conversation_id,
                    HandoffRow.status.in_(OPEN_STATUSES),
                )
                .order_by(HandoffRow.id.desc())
                .limit(1)
            ).first()
        return _handoff(found[0], found[1]) if found else None

    def get(self, handoff_id: int) -> Handoff:
        with self._sessions() as s:
            found = s.execute(
                select(HandoffRow, TenantRow.name)
                .join(TenantRow, TenantRow.id == HandoffRow.tenant_id)
                .where(HandoffRow.id == handoff_id)
            ).first()
        if found is None:
            raise HandoffNotFound(f"unknown handoff: {handoff_id}", handoff_id=handoff_id)
        return _handoff(found[0], found[1])

    def of_conversation(self, conversation_id: str) -> list[Handoff]:
        """Every handoff of a conversation, oldest first."""
        with self._sessions() as s:
            rows = s.execute(
                select(HandoffRow, TenantRow.name)
                .join(TenantRow, TenantRow.id == HandoffRow.tenant_id)
                .where(HandoffRow.conversation_id == conversation_id)
                .order_by(HandoffRow.id)
            ).all()
        return [_handoff(r, t) for r, t in rows]

    def inbox(self, tenant: str, status: str = "open", queue: str | None = None) -> list[Handoff]:
        """The tenant's handoffs by status (``waiting``, ``active``, ``open`` = both, ``all``
        = open ones too), the longest waiting first."""
        if status not in INBOX_STATUSES and status not in HANDOFF_STATUSES:
            allowed = ", ".join(dict.fromkeys(INBOX_STATUSES + HANDOFF_STATUSES))
            raise InvalidInputError(f"status must be one of {allowed}", field="status")
        t = self._tenants.get(tenant)
        q = select(HandoffRow).where(HandoffRow.tenant_id == t.id)
        if status == "open" or status == "all":
            q = q.where(HandoffRow.status.in_(OPEN_STATUSES))
        else:
            q = q.where(HandoffRow.status == status)
        if queue:
            q = q.where(HandoffRow.queue == queue)
        with self._sessions() as s:
            rows = s.scalars(q.order_by(HandoffRow.requested_at, HandoffRow.id).limit(_INBOX_LIMIT))
            return [_handoff(r, t.name) for r in rows]

    def position(self, handoff: Handoff) -> int:
        """Customers waiting in the same queue ahead of this one."""
        t = self._tenants.get(handoff.tenant)
        with self._sessions() as s:
            ahead = s.execute(
                select(func.count())
                .select_from(HandoffRow)
                .where(
                    HandoffRow.tenant_id == t.id,
                    HandoffRow.queue == handoff.queue,
                    HandoffRow.status == "waiting",
                    or_(
                        HandoffRow.requested_at < handoff.requested_at,
                        and_(
                            HandoffRow.requested_at == handoff.requested_at,
                            HandoffRow.id < handoff.id,
                        ),
                    ),
                )
            ).scalar_one()
        return int(ahead)

    def events_after(self, conversation_id: str, after: int, limit: int = 500) -> list[Event]:
        """The conversation's events with ``seq > after``, oldest first."""
        e = EventRow
        q = (
            select(e.seq, e.type, e.actor, e.text, e.payload, e.created_at)
            .where(e.conversation_id == conversation_id, e.seq > after)
            .order_by(e.seq)
            .limit(limit)
        )
        with self._sessions() as s:
            rows = list(s.connection().execute(q))
        return [Event(r.seq, r.type, r.actor, r.text, dict(r.payload), r.created_at) for r in rows]

    def _newest_seqs(self, conversation_ids: Sequence[str]) -> dict[str, int]:
        """For the live poller: each conversation's newest seq (one query)."""
        with self._sessions() as s:
            rows = s.connection().execute(
                select(EventRow.conversation_id, func.max(EventRow.seq))
                .where(EventRow.conversation_id.in_(list(conversation_ids)))
                .group_by(EventRow.conversation_id)
            )
            return {str(c): int(m or 0) for c, m in rows}

    # -- the service's side -----------------------------------------------------------------
    def create(
        self,
        conv: Conversation,
        *,
        status: str,
        queue: str,
        reason: str,
        handoff: dict[str, Any],
        resume_state: dict[str, Any] | None,
    ) -> Handoff:
        """A new handoff episode; :class:`ConflictError` if one is already open."""
        if status not in HANDOFF_STATUSES:
            raise InvalidInputError(f"unknown handoff status {status!r}", field="status")
        t = self._tenants.get(conv.tenant)
        now = self._clock()
        with self._sessions.begin() as s:
            open_id = s.execute(
                select(HandoffRow.id).where(
                    HandoffRow.conversation_id == conv.id,
                    HandoffRow.status.in_(OPEN_STATUSES),
                )
            ).first()
            if open_id is not None:
                raise ConflictError(
                    "the conversation already has an open handoff", handoff_id=open_id[0]
                )
            row = HandoffRow(
                tenant_id=t.id,
                conversation_id=conv.id,
                status=status,
                queue=queue,
                reason=reason,
                handoff=handoff,
                resume_state=resume_state,
                requested_at=now,
                closed_at=now if status in ("ticketed", "cancelled") else None,
            )
            s.add(row)
            s.flush()
            created = _handoff(row, t.name)
        return created

    def set_ticket(self, handoff_id: int, ticket_id: int) -> None:
        with self._sessions.begin() as s:
            s.execute(
                update(HandoffRow).where(HandoffRow.id == handoff_id).values(ticket_id=ticket_id)
            )

    def discard(self, handoff_id: int) -> None:
        """Cancel a handoff whose turn failed before anything was shown (no event)."""
        with self._sessions.begin() as s:
            s.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id)
                .values(status="cancelled", closed_at=self._clock())
            )

    def cancel(self, handoff: Handoff) -> bool:
        """The customer cancels a waiting handoff; False if an agent took it meanwhile."""
        with self._sessions.begin() as s:
            done = _rowcount(
                s.execute(
                    update(HandoffRow)
                    .where(HandoffRow.id == handoff.id, HandoffRow.status == "waiting")
                    .values(status="cancelled", closed_at=self._clock())
                )
            )
        if done:
            self.live.notify(tenant_key(handoff.tenant))
        return bool(done)

    def notify(self, conv: Conversation) -> None:
        """Something was appended to ``conv``: wake its live readers and its tenant's desk."""
        self.live.notify(conversation_key(conv.id), tenant_key(conv.tenant))

    # -- the agents' actions ----------------------------------------------------------------
    def take(self, conversation_id: str, principal: Principal) -> Handoff:
        """The agent takes the conversation's waiting handoff (exactly one of several agents
        taking at once succeeds; the others get :class:`AlreadyTaken`)."""
        conv = self._conv(conversation_id)
        _authorize(principal, conv.tenant, "agent")
        agent = principal.display
        with self._lock(conversation_id):
            handoff = self._open(conversation_id)
            if handoff.status == "active" and handoff.taken_by == agent:
                return handoff  # taken twice by the same agent (a double click): nothing new
            now = self._clock()
            with self._sessions.begin() as s:
                changed = _rowcount(
                    s.execute(
                        update(HandoffRow)
                        .where(HandoffRow.id == handoff.id, HandoffRow.status == "waiting")
                        .values(status="active", taken_at=now, taken_by=agent)
                    )
                )
            if changed != 1:
                current = self.get(handoff.id)
                raise AlreadyTaken(
                    f"the conversation was already taken by {current.taken_by}"
                    if current.taken_by
                    else "the conversation is no longer waiting for a human",
                    handoff_id=handoff.id,
                    taken_by=current.taken_by,
                )
            lang = self.language(conv)
            notice = self._tenants.settings(conv.tenant).template(
                "handoff_taken", lang, agent=agent
            )
            self._append(
                conv,
                [(HANDOFF_TAKEN, "system", notice, {"handoff_id": handoff.id, "agent": agent})],
            )
        return self.get(handoff.id)

    def agent_message(self, conversation_id: str, principal: Principal, text: str) -> Event:
        """The holding agent's reply to the customer."""
        conv = self._conv(conversation_id)
        _authorize(principal, conv.tenant, "agent")
        text = (text or "").strip()
        if not text:
            raise InvalidInputError("text must not be empty", field="text")
        if len(text) > MAX_AGENT_MESSAGE:
            raise InvalidInputError(
                f"text is {len(text)} characters long; the limit is {MAX_AGENT_MESSAGE}",
                field="text",
            )
        handoff = self._open(conversation_id)
        self._check_holder(handoff, principal, supervisor_may=False)
        event = (AGENT_MESSAGE, "agent", self._stored(conv, text), {"agent": principal.display})
        return self._append(conv, [event])[0]

    def release(self, conversation_id: str, principal: Principal) -> Handoff:
        """Hand the conversation back to the bot: ``handoff_released``, then the bot's greeting
        carrying the dialogue state it resumes from (the flow and slots before the handoff)."""
        conv = self._conv(conversation_id)
        _authorize(principal, conv.tenant, "agent")
        with self._lock(conversation_id):
            handoff = self._open(conversation_id)
            self._check_holder(handoff, principal)
            self._finish(handoff, "released")
            settings = self._tenants.settings(conv.tenant)
            lang = self.language(conv)
            greeting = TurnResult(
                [Reply(settings.template("handoff_released", lang), lang)],
                "chitchat",
                lang,
                intent="handoff_released",
                confidence=1.0,
            )
            payload = greeting.to_dict()
            if handoff.resume_state is not None:
                payload["state"] = resume(handoff.resume_state)
            self._append(
                conv,
                [
                    (
                        HANDOFF_RELEASED,
                        "system",
                        None,
                        {"handoff_id": handoff.id, "agent": principal.display},
                    ),
                    (BOT_REPLY, "bot", greeting.replies[0].text, payload),
                ],
            )
        return self.get(handoff.id)

    def close(self, conversation_id: str, principal: Principal, reason: str | None = None) -> Event:
        """Close the conversation (and its open handoff): ``conversation_closed``."""
        conv = self._conv(conversation_id)
        _authorize(principal, conv.tenant, "agent")
        reason = (reason or "resolved").strip()[:200] or "resolved"
        with self._lock(conversation_id):
            if self._last_of(conversation_id, CONVERSATION_CLOSED) is not None:
                raise ConflictError("the conversation is already closed")
            handoff = self.open_for(conversation_id)
            if handoff is not None:
                self._check_holder(handoff, principal)
                self._finish(handoff, "closed")
            by = f"agent:{principal.display}"
            return self._append(
                conv, [(CONVERSATION_CLOSED, "system", None, {"by": by, "reason": reason})]
            )[0]

    # -- helpers ----------------------------------------------------------------------------
    def _conv(self, conversation_id: str) -> Conversation:
        if self._conversations is None:
            raise RuntimeError("this Desk was built without the conversations")
        conv: Conversation = self._conversations.get(conversation_id)
        return conv

    def _lock(self, conversation_id: str) -> AbstractContextManager[Any]:
        if self._turn_locks is None:
            return nullcontext()
        held: AbstractContextManager[Any] = self._turn_locks.hold(conversation_id)
        return held

    def _open(self, conversation_id: str) -> Handoff:
        handoff = self.open_for(conversation_id)
        if handoff is None:
            raise HandoffNotFound(
                f"conversation {conversation_id} has no open handoff",
                conversation_id=conversation_id,
            )
        return handoff

    @staticmethod
    def _check_holder(handoff: Handoff, principal: Principal, supervisor_may: bool = True) -> None:
        """Only the agent holding the conversation acts on it (a supervisor may release or
        close another agent's conversation); a waiting one must be taken first."""
        if handoff.status == "waiting":
            if supervisor_may:
                return  # closing or releasing a waiting handoff needs no taking
            raise ConflictError(
                "take the conversation before replying", handoff_id=handoff.id, status="waiting"
            )
        if handoff.taken_by == principal.display:
            return
        if supervisor_may and principal.can(handoff.tenant, "supervisor"):
            return
        raise ConflictError(
            f"the conversation is held by {handoff.taken_by}",
            handoff_id=handoff.id,
            taken_by=handoff.taken_by,
        )

    def _finish(self, handoff: Handoff, status: str) -> None:
        now = self._clock()
        values: dict[str, Any] = {"status": status}
        values["released_at" if status == "released" else "closed_at"] = now
        with self._sessions.begin() as s:
            changed = _rowcount(
                s.execute(
                    update(HandoffRow)
                    .where(HandoffRow.id == handoff.id, HandoffRow.status == handoff.status)
                    .values(**values)
                )
            )
        if changed != 1:
            raise ConflictError("the handoff changed meanwhile; try again", handoff_id=handoff.id)

    def language(self, conv: Conversation) -> str:
        """The language the customer is being answered in (the newest bot reply's)."""
        last = self._last_of(conv.id, BOT_REPLY)
        if last is not None and last.payload.get("language") in ("zh", "en"):
            return str(last.payload["language"])
        return conv.language or str(self._tenants.settings(conv.tenant)["language"])

    def _last_of(self, conversation_id: str, type_: str) -> Event | None:
        """The conversation's newest event of one type."""
        e = EventRow
        with self._sessions() as s:
            row = (
                s.connection()
                .execute(
                    select(e.seq, e.type, e.actor, e.text, e.payload, e.created_at)
                    .where(e.conversation_id == conversation_id, e.type == type_)
                    .order_by(e.seq.desc())
                    .limit(1)
                )
                .first()
            )
        if row is None:
            return None
        return Event(row.seq, row.type, row.actor, row.text, dict(row.payload), row.created_at)

    def _append(
        self, conv: Conversation, new: list[tuple[str, str, str | None, dict[str, Any]]]
    ) -> list[Event]:
        events: list[Event] = self._conversations.append(conv.id, new)
        self.notify(conv)
        return events


def resume(state: dict[str, Any]) -> dict[str, Any]:
    """The dialogue state the bot continues from after a human: the flow and slots as they were
    before the handoff, the mood and the failure count reset (the human dealt with them)."""
    resumed = DialogueState.from_dict(state)
    resumed.emotion = {}
    resumed.fallbacks = 0
    resumed.suggestions = []
    return resumed.to_dict()


def _rowcount(result: Any) -> int:
    """Rows an UPDATE changed (the decision of a conditional update)."""
    return int(getattr(result, "rowcount", 0))


def _authorize(principal: Principal, tenant: str, needed: str) -> None:
    if not principal.can(tenant, needed):
        role = principal.role_in(tenant)
        have = f"your role there is {role}" if role else "you have no role there"
        raise PermissionDenied(
            f"{needed} role needed for tenant {tenant!r}; {have}", tenant=tenant, needed=needed
        )
