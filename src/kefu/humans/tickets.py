"""Tickets (工单): work that outlives a conversation, with a priority, a queue and an SLA.

Tickets come from the desk (a handoff outside business hours, a complaint), from the operation
ledger (a failed write, a write whose outcome is unknown, a write waiting for approval: see
:meth:`TicketService.on_ledger`) and by hand (API, CLI). :meth:`TicketService.open` classifies
each one by code (:mod:`kefu.humans.ticket_rules`: category, priority, queue, due times), and
with a ``dedupe_key`` returns the tenant's existing ticket of that key instead of a second one:
the unique ``(tenant_id, dedupe_key)`` makes concurrent opens with one key create one ticket.

Every change (created, comment, status, assigned, priority, queue, breached) is a row in
``ticket_events`` and, when the tenant set ``tickets.webhook_url``, a webhook delivery written
in the same transaction, sent afterwards by :class:`~kefu.humans.webhooks.WebhookSender` (a
request never waits for a webhook).
"""

from __future__ import annotations

import builtins
import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from kefu.access.roles import ALL_TENANTS, allows
from kefu.domain.conversation import BOT_REPLY
from kefu.errors import ConflictError, InvalidInputError, TicketNotFound
from kefu.humans import ticket_rules as rules
from kefu.humans.webhooks import WebhookSender
from kefu.logs import get_logger
from kefu.settings import TenantSettings
from kefu.storage.access_tables import MembershipRow, UserRow
from kefu.storage.models import FaqRow, TenantRow
from kefu.storage.tenants import TenantRepository
from kefu.storage.ticket_tables import TicketEventRow, TicketRow, WebhookDeliveryRow

if TYPE_CHECKING:
    from kefu.operations.execute import Operations
    from kefu.storage.conversations import ConversationRepository
    from kefu.storage.ledger import LedgerEntry

log = get_logger(__name__)

SUBJECT_MAX = 200
DESCRIPTION_MAX = 10_000
COMMENT_MAX = 5_000
KEY_MAX = 200
QUEUE_MAX = 64
MAX_LIMIT = 500
SYSTEM = "system"
# Ledger statuses that settle an operation queued for approval (its ticket is then resolved).
_SETTLED = frozenset({"executed", "rejected", "refused", "failed", "unknown_outcome"})
_UNSET: Any = object()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """One entry of a ticket's history."""

    id: int
    ticket_id: int
    actor: str
    kind: str
    body: str | None
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, row: TicketEventRow) -> TicketEvent:
        return cls(
            row.id, row.ticket_id, row.actor, row.kind, row.body, dict(row.data), row.created_at
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "actor": self.actor,
            "kind": self.kind,
            "body": self.body,
            "data": self.data,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket as read at one moment (``sla`` is computed from the clock then)."""

    id: int
    tenant: str
    conversation_id: str | None
    source: str
    category: str
    priority: str
    queue: str
    status: str
    subject: str
    description: str
    customer: str | None
    assignee: str | None
    dedupe_key: str | None
    ledger_id: int | None
    first_response_due_at: datetime
    resolution_due_at: datetime
    first_responded_at: datetime | None
    resolved_at: datetime | None
    breached_at: datetime | None
    created_at: datetime
    updated_at: datetime
    data: dict[str, Any]
    sla: dict[str, Any]
    events: list[TicketEvent] | None = field(default=None)

    @classmethod
    def of(
        cls,
        row: TicketRow,
        tenant: str,
        now: datetime,
        events: list[TicketEvent] | None = None,
    ) -> Ticket:
        sla = rules.sla_state(
            status=row.status,
            created_at=row.created_at,
            first_response_due_at=row.first_response_due_at,
            resolution_due_at=row.resolution_due_at,
            first_responded_at=row.first_responded_at,
            breached_at=row.breached_at,
            now=now,
        )
        return cls(
            id=row.id,
            tenant=tenant,
            conversation_id=row.conversation_id,
            source=row.source,
            category=row.category,
            priority=row.priority,
            queue=row.queue,
            status=row.status,
            subject=row.subject,
            description=row.description,
            customer=row.customer,
            assignee=row.assignee,
            dedupe_key=row.dedupe_key,
            ledger_id=row.ledger_id,
            first_response_due_at=row.first_response_due_at,
            resolution_due_at=row.resolution_due_at,
            first_responded_at=row.first_responded_at,
            resolved_at=row.resolved_at,
            breached_at=row.breached_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            data=dict(row.data),
            sla=sla,
            events=events,
        )

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "tenant": self.tenant,
            "conversation_id": self.conversation_id,
            "source": self.source,
            "category": self.category,
            "priority": self.priority,
            "queue": self.queue,
            "status": self.status,
            "subject": self.subject,
            "description": self.description,
            "customer": self.customer,
            "assignee": self.assignee,
            "dedupe_key": self.dedupe_key,
            "ledger_id": self.ledger_id,
            "first_response_due_at": _iso(self.first_response_due_at),
            "resolution_due_at": _iso(self.resolution_due_at),
            "first_responded_at": _iso(self.first_responded_at),
            "resolved_at": _iso(self.resolved_at),
            "breached_at": _iso(self.breached_at),
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "sla": self.sla,
            "data": self.data,
        }
        if self.events is not None:
            doc["events"] = [e.to_dict() for e in self.events]
        return doc


@dataclass(frozen=True, slots=True)
class _Change:
    """An event to record (and to send as a webhook)."""

    kind: str
    actor: str
    body: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _text(value: str | None, name: str, maximum: int, *, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInputError(f"{name} must not be empty", field=name)
    if len(text) > maximum:
        raise InvalidInputError(f"{name} is longer than {maximum} characters", field=name)
    return text


def _clip(value: str, maximum: int) -> str:
    """Text from the system (an operation's note, a transcript line) shortened to fit."""
    return value if len(value) <= maximum else value[: maximum - 1] + "…"


class TicketService:
    """Tickets of every tenant. ``operations``: the operation layer whose ledger opens and
    settles tickets (see :meth:`on_ledger`); ``conversations``: read for the intent, flow and
    emotion of a ticket's conversation when the caller gives none."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        tenants: TenantRepository,
        clock: Callable[[], datetime],
        *,
        operations: Operations | None = None,
        conversations: ConversationRepository | None = None,
        webhook_timeout_s: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._tenants = tenants
        self._clock = clock
        self._conversations = conversations
        self.webhooks = WebhookSender(sessions, tenants, clock, timeout_s=webhook_timeout_s)
        if operations is not None:
            operations.listeners.append(self.on_ledger)

    # -- opening -----------------------------------------------------------------------------
    def open(
        self,
        tenant: str,
        *,
        source: str,
        subject: str,
        description: str = "",
        conversation_id: str | None = None,
        customer: str | None = None,
        category: str | None = None,
        priority: str | None = None,
        emotion: Mapping[str, Any] | None = None,
        order_value: float | None = None,
        ledger_id: int | None = None,
        dedupe_key: str | None = None,
        data: Mapping[str, Any] | None = None,
        actor: str = SYSTEM,
    ) -> Ticket:
        """Open a ticket, classified and routed by :mod:`~kefu.humans.ticket_rules` unless
        ``category``/``priority`` are given. With ``dedupe_key``, the tenant's ticket holding
        that key is returned instead (whatever its status), also when another caller opens it
        at the same moment. Raises TenantNotFound, InvalidInputError."""
        check = rules.check_source(source)
        subject_text = _clip(_text(subject, "subject", 100_000, required=True), SUBJECT_MAX)
        body = _clip(_text(description, "description", 1_000_000), DESCRIPTION_MAX)
        key = None if dedupe_key is None else _text(dedupe_key, "dedupe_key", KEY_MAX) or None
        if conversation_id is not None and not 0 < len(conversation_id) <= 36:
            raise InvalidInputError(
                "conversation_id must be 1-36 characters", field="conversation_id"
            )
        if category is not None:
            rules.check_category(category)
        chosen_priority = None if priority is None else rules.check_priority(priority)
        try:
            value = None if order_value is None else float(order_value)
        except (TypeError, ValueError):
            raise InvalidInputError("order_value must be a number", field="order_value") from None
        t = self._tenants.get(tenant)
        if key is not None:
            found = self._by_key(t.id, t.name, key)
            if found is not None:
                return found
        settings = self._tenants.settings(t.name)
        hints = dict(data or {})
        handoff = hints.get("handoff")
        if isinstance(handoff, Mapping):  # the desk's handoff object
            for name in ("intent", "flow"):
                if isinstance(handoff.get(name), str) and name not in hints:
                    hints[name] = handoff[name]
        emotion_seen = dict(emotion) if emotion else None
        if conversation_id is not None and self._conversations is not None:
            hints, emotion_seen = self._conversation_hints(t.id, conversation_id, hints, emotion)
        text = f"{subject_text}\n{body}"
        chosen_category = category or rules.categorize(check, text, hints)
        auto_priority, reasons = rules.prioritize(
            check,
            emotion=emotion_seen,
            order_value=value,
            high_value=float(settings["tickets.high_value_amount"]),
        )
        final_priority = chosen_priority or auto_priority
        queue = rules.route(chosen_category, settings["tickets.routing"])
        targets = rules.sla_targets(final_priority, settings["tickets.sla"])
        now = self._clock()
        stored = {
            **dict(data or {}),
            "classification": {
                "category": "given" if category else "rules",
                "priority": "given" if chosen_priority else "rules",
                "reasons": reasons,
            },
        }
        for name in ("intent", "flow", "faq_category"):
            if name in hints and name not in stored:
                stored[name] = hints[name]
        if emotion_seen:
            stored["emotion"] = emotion_seen
        if value is not None:
            stored["order_value"] = value
        stored = json.loads(json.dumps(stored, ensure_ascii=False, default=str))  # plain JSON
        row = TicketRow(
            tenant_id=t.id,
            conversation_id=conversation_id,
            source=check,
            category=chosen_category,
            priority=final_priority,
            queue=queue,
            status="open",
            subject=subject_text,
            description=body,
            customer=None if customer is None else _clip(customer, 64),
            assignee=None,
            dedupe_key=key,
            ledger_id=ledger_id,
            first_response_due_at=now + targets.first_response,
            resolution_due_at=now + targets.resolution,
            created_at=now,
            updated_at=now,
            data=stored,
        )
        try:
            with self._sessions.begin() as s:
                s.add(row)
                s.flush()
                created = _Change(
                    "created",
                    _clip(actor, 128),
                    None,
                    {"source": check, "priority": final_priority, "queue": queue},
                )
                self._record(s, row, t.name, [created], now, _webhook_url(settings))
                ticket = Ticket.of(row, t.name, now)
        except IntegrityError:
            if key is None:
                raise
            found = self._by_key(t.id, t.name, key)
            if found is None:  # pragma: no cover - the clash that sent us here is a row
                raise
            return found
        if _webhook_url(settings):
            self.webhooks.kick()
        return ticket

    def _by_key(self, tenant_id: int, tenant: str, key: str) -> Ticket | None:
        with self._sessions() as s:
            row = s.scalars(
                select(TicketRow).where(
                    TicketRow.tenant_id == tenant_id, TicketRow.dedupe_key == key
                )
            ).first()
            return None if row is None else Ticket.of(row, tenant, self._clock())

    def _conversation_hints(
        self,
        tenant_id: int,
        conversation_id: str,
        hints: dict[str, Any],
        emotion: Mapping[str, Any] | None,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The intent, flow, FAQ category and emotion of the conversation's latest bot reply
        that has them, for what the caller did not say."""
        assert self._conversations is not None
        try:
            events = self._conversations.events(conversation_id, last=30)
        except Exception:  # a ticket never fails for its conversation's sake
            log.warning("ticket: conversation %s not readable", conversation_id)
            return hints, dict(emotion) if emotion else None
        seen = dict(emotion) if emotion else None
        for event in reversed(events):
            if event.type != BOT_REPLY:
                continue
            payload = event.payload
            if seen is None and isinstance(payload.get("emotion"), Mapping):
                seen = dict(payload["emotion"])
            for name in ("intent", "flow"):
                value = payload.get(name)
                if name not in hints and isinstance(value, str) and value:
                    hints[name] = value
            faq_id = payload.get("faq_id")
            if "faq_category" not in hints and isinstance(faq_id, str) and faq_id:
                with self._sessions() as s:
                    found = s.scalars(
                        select(FaqRow.category).where(
                            FaqRow.tenant_id == tenant_id, FaqRow.faq_id == faq_id
                        )
                    ).first()
                if found:
                    hints["faq_category"] = found
            if "intent" in hints and seen is not None:
                break
        return hints, seen

    # -- reading -----------------------------------------------------------------------------
    def get(self, ticket_id: int, tenant: str | None = None, *, events: bool = True) -> Ticket:
        """The ticket (of ``tenant``, when named) with its events, oldest first. Raises
        TicketNotFound."""
        with self._sessions() as s:
            found = s.execute(
                select(TicketRow, TenantRow.name)
                .join(TenantRow, TenantRow.id == TicketRow.tenant_id)
                .where(TicketRow.id == ticket_id)
            ).first()
            if found is None or (tenant is not None and found[1] != tenant):
                raise TicketNotFound(ticket_id)
            history = None
            if events:
                rows = s.scalars(
                    select(TicketEventRow)
                    .where(TicketEventRow.ticket_id == ticket_id)
                    .order_by(TicketEventRow.id)
                )
                history = [TicketEvent.of(r) for r in rows]
            return Ticket.of(found[0], found[1], self._clock(), history)

    def tenant_of(self, ticket_id: int) -> str:
        """The tenant a ticket belongs to (routes authorise against it). Raises
        TicketNotFound."""
        with self._sessions() as s:
            name = s.scalars(
                select(TenantRow.name)
                .join(TicketRow, TicketRow.tenant_id == TenantRow.id)
                .where(TicketRow.id == ticket_id)
            ).first()
        if name is None:
            raise TicketNotFound(ticket_id)
        return name

    def list(
        self,
        tenant: str,
        *,
        status: str | None = None,
        priority: str | None = None,
        queue: str | None = None,
        breached: bool | None = None,
        assignee: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[builtins.list[Ticket], int]:
        """A tenant's tickets, most urgent first (priority, then id): one page and the total
        that match. ``breached``: marked breached, or past a running target now."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInputError(f"limit must be 1-{MAX_LIMIT}, not {limit}", field="limit")
        if offset < 0:
            raise InvalidInputError("offset must be 0 or more", field="offset")
        t = self._tenants.get(tenant)
        now = self._clock()
        conditions: builtins.list[ColumnElement[bool]] = [TicketRow.tenant_id == t.id]
        if status is not None:
            conditions.append(TicketRow.status == rules.check_status(status))
        if priority is not None:
            conditions.append(TicketRow.priority == rules.check_priority(priority))
        if queue is not None:
            conditions.append(TicketRow.queue == queue)
        if assignee is not None:
            conditions.append(TicketRow.assignee == assignee)
        if breached is not None:
            late = _breached_clause(now)
            conditions.append(late if breached else ~late)
        with self._sessions() as s:
            total = s.scalar(select(func.count()).select_from(TicketRow).where(*conditions)) or 0
            rows = s.scalars(
                select(TicketRow)
                .where(*conditions)
                .order_by(TicketRow.priority, TicketRow.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [Ticket.of(r, t.name, now) for r in rows], int(total)

    # -- changing ----------------------------------------------------------------------------
    def comment(
        self,
        ticket_id: int,
        text: str,
        *,
        actor: str,
        tenant: str | None = None,
        agent: bool = True,
    ) -> TicketEvent:
        """Add a comment. An agent's (``agent``) first comment is the ticket's first
        response. Raises TicketNotFound, InvalidInputError, ConflictError (closed)."""
        body = _text(text, "text", COMMENT_MAX, required=True)
        who = _text(actor, "actor", 128, required=True)

        def change(s: Session, row: TicketRow, now: datetime, _: Any) -> builtins.list[_Change]:
            if agent and row.first_responded_at is None:
                row.first_responded_at = now
            return [_Change("comment", who, body, {"agent": agent})]

        return self._change(ticket_id, tenant, change)[0]

    def update(
        self,
        ticket_id: int,
        *,
        actor: str,
        tenant: str | None = None,
        status: str | None = None,
        priority: str | None = None,
        queue: str | None = None,
        assignee: str | None = _UNSET,
        note: str | None = None,
    ) -> Ticket:
        """Change status, priority, queue and/or assignee at once (one event each; a value
        equal to the current one changes nothing). ``assignee`` None or "" unassigns; a name
        must be a user with at least the agent role in the ticket's tenant. Raises
        TicketNotFound, InvalidInputError, ConflictError (a transition the workflow does not
        allow, naming from and to; a closed ticket)."""
        who = _text(actor, "actor", 128, required=True)
        new_status = None if status is None else rules.check_status(status)
        new_priority = None if priority is None else rules.check_priority(priority)
        new_queue = None if queue is None else _text(queue, "queue", QUEUE_MAX, required=True)
        new_assignee: str | Any | None = _UNSET
        if assignee is not _UNSET:
            new_assignee = _text(assignee, "assignee", 64) or None
        if (new_status, new_priority, new_queue) == (None, None, None) and new_assignee is _UNSET:
            raise InvalidInputError("nothing to change: give status, priority, queue or assignee")

        def change(
            s: Session, row: TicketRow, now: datetime, settings: TenantSettings
        ) -> builtins.list[_Change]:
            changes: builtins.list[_Change] = []
            if new_status is not None and new_status != row.status:
                rules.check_transition(row.status, new_status)
                changes.append(_Change("status", who, note, {"from": row.status, "to": new_status}))
                if new_status == "in_progress" and row.first_responded_at is None:
                    row.first_responded_at = now
                if new_status == "resolved":
                    row.resolved_at = now
                    if row.breached_at is None and now > row.resolution_due_at:
                        row.breached_at = now
                        changes.append(_breach(row, "resolution", row.resolution_due_at))
                if new_status == "open":  # reopened
                    row.resolved_at = None
                row.status = new_status
            if new_priority is not None and new_priority != row.priority:
                targets = rules.sla_targets(new_priority, settings["tickets.sla"])
                changes.append(
                    _Change("priority", who, note, {"from": row.priority, "to": new_priority})
                )
                row.priority = new_priority
                row.first_response_due_at = row.created_at + targets.first_response
                row.resolution_due_at = row.created_at + targets.resolution
            if new_queue is not None and new_queue != row.queue:
                changes.append(_Change("queue", who, note, {"from": row.queue, "to": new_queue}))
                row.queue = new_queue
            if new_assignee is not _UNSET and new_assignee != row.assignee:
                if new_assignee is not None:
                    self._check_agent(s, self._tenant_name(s, row.tenant_id), new_assignee)
                changes.append(
                    _Change("assigned", who, note, {"from": row.assignee, "to": new_assignee})
                )
                row.assignee = new_assignee
            return changes

        self._change(ticket_id, tenant, change)
        return self.get(ticket_id)

    def mark_breaches(
        self, now: datetime | None = None, tenant: str | None = None
    ) -> builtins.list[Ticket]:
        """Mark every open ticket past a running target (no first response by its due time,
        or not resolved by its due time) as breached: ``breached_at`` is set and a
        ``breached`` event recorded once per ticket, also when two callers run at once.
        Returns the tickets marked by this call."""
        at = now or self._clock()
        conditions: builtins.list[ColumnElement[bool]] = [
            TicketRow.breached_at.is_(None),
            _late_clause(at),
        ]
        if tenant is not None:
            conditions.append(TicketRow.tenant_id == self._tenants.get(tenant).id)
        with self._sessions() as s:
            candidates = s.execute(
                select(TicketRow.id, TenantRow.name)
                .join(TenantRow, TenantRow.id == TicketRow.tenant_id)
                .where(*conditions)
                .order_by(TicketRow.id)
            ).all()
        marked: builtins.list[Ticket] = []
        urls: dict[str, str] = {}
        for ticket_id, name in candidates:
            if name not in urls:
                urls[name] = _webhook_url(self._tenants.settings(name))
            with self._sessions.begin() as s:
                claimed = s.execute(
                    update(TicketRow)
                    .where(TicketRow.id == ticket_id, TicketRow.breached_at.is_(None))
                    .values(breached_at=at, updated_at=at)
                    .execution_options(synchronize_session=False)
                )
                if getattr(claimed, "rowcount", 0) != 1:
                    continue  # marked by another caller meanwhile
                row = s.get(TicketRow, ticket_id)
                assert row is not None
                s.refresh(row)
                if row.first_responded_at is None and row.first_response_due_at < at:
                    change = _breach(row, "first_response", row.first_response_due_at)
                else:
                    change = _breach(row, "resolution", row.resolution_due_at)
                self._record(s, row, name, [change], at, urls[name])
                marked.append(Ticket.of(row, name, at))
        if any(urls[t.tenant] for t in marked):
            self.webhooks.kick()
        return marked

    def _change(
        self,
        ticket_id: int,
        tenant: str | None,
        apply: Callable[[Session, TicketRow, datetime, TenantSettings], builtins.list[_Change]],
    ) -> builtins.list[TicketEvent]:
        """Run ``apply`` on the locked ticket row and record its changes (events and webhook
        deliveries) in the same transaction."""
        name = self.tenant_of(ticket_id)
        if tenant is not None and name != tenant:
            raise TicketNotFound(ticket_id)
        settings = self._tenants.settings(name)
        now = self._clock()
        with self._sessions.begin() as s:
            # Write first: takes the row's lock (PostgreSQL) or the database's write lock
            # (SQLite, waiting its busy timeout) before the read, so concurrent changes of one
            # ticket run one after the other, each on the other's result.
            s.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id)
                .values(updated_at=TicketRow.updated_at)
                .execution_options(synchronize_session=False)
            )
            row = s.get(TicketRow, ticket_id, populate_existing=True)
            if row is None:
                raise TicketNotFound(ticket_id)
            if row.status == "closed":
                raise ConflictError(
                    f"ticket {ticket_id} is closed: it cannot change any more",
                    field="status",
                    **{"from": "closed"},
                )
            changes = apply(s, row, now, settings)
            if not changes:
                return []
            row.updated_at = now
            events = self._record(s, row, name, changes, now, _webhook_url(settings))
        if _webhook_url(settings):
            self.webhooks.kick()
        return events

    def _record(
        self,
        s: Session,
        row: TicketRow,
        tenant: str,
        changes: Sequence[_Change],
        now: datetime,
        url: str,
    ) -> builtins.list[TicketEvent]:
        """Append the events of ``changes`` and, with a webhook ``url``, their deliveries."""
        events: builtins.list[TicketEvent] = []
        for change in changes:
            event_row = TicketEventRow(
                ticket_id=row.id,
                actor=change.actor,
                kind=change.kind,
                body=change.body,
                data=change.data,
                created_at=now,
            )
            s.add(event_row)
            s.flush()
            event = TicketEvent.of(event_row)
            events.append(event)
            if url:
                s.add(
                    WebhookDeliveryRow(
                        tenant_id=row.tenant_id,
                        ticket_id=row.id,
                        event=change.kind,
                        url=url,
                        payload={
                            "event": change.kind,
                            "event_id": event.id,
                            "tenant": tenant,
                            "at": now.isoformat(),
                            "actor": change.actor,
                            "body": change.body,
                            "change": change.data,
                            "ticket": Ticket.of(row, tenant, now).to_dict(),
                        },
                        attempts=0,
                        status="pending",
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
        return events

    def _tenant_name(self, s: Session, tenant_id: int) -> str:
        name = s.scalars(select(TenantRow.name).where(TenantRow.id == tenant_id)).one()
        return str(name)

    def _check_agent(self, s: Session, tenant: str, username: str) -> None:
        """``username`` must be an enabled console user with the agent role (or higher) in
        ``tenant`` (directly or for every tenant)."""
        roles = s.scalars(
            select(MembershipRow.role)
            .join(UserRow, UserRow.id == MembershipRow.user_id)
            .where(
                UserRow.username == username,
                UserRow.disabled.is_(False),
                MembershipRow.tenant.in_([tenant, ALL_TENANTS]),
            )
        ).all()
        if not any(allows(role, "agent") for role in roles):
            raise InvalidInputError(
                f"{username!r} is not an agent of tenant {tenant!r}: assign tickets to a user "
                "with the agent role there",
                field="assignee",
            )

    # -- the operation ledger ----------------------------------------------------------------
    def on_ledger(self, entry: LedgerEntry) -> None:
        """Open or settle tickets from one new ledger row (an :class:`Operations` listener):
        ``failed`` opens an operation_failed ticket, ``unknown_outcome`` an operation_unknown
        one (P1: money may have moved), ``awaiting_approval`` an approval ticket; each is
        deduplicated by the operation's idempotency key (or the row id). When a queued
        operation is decided, its approval ticket gets a comment, and is resolved once the
        operation is settled (executed, rejected, refused, failed, unknown outcome)."""
        if entry.status in ("failed", "unknown_outcome", "awaiting_approval"):
            self._ticket_from_ledger(entry)
        if entry.status in _SETTLED or entry.status == "approved":
            self._settle_approval(entry)

    def _ticket_from_ledger(self, entry: LedgerEntry) -> None:
        source = {
            "failed": "operation_failed",
            "unknown_outcome": "operation_unknown",
            "awaiting_approval": "approval",
        }[entry.status]
        operation_key = entry.idempotency_key or f"ledger-{entry.id}"
        result = entry.result or {}
        error = result.get("error") if isinstance(result.get("error"), Mapping) else None
        amount = _amount(entry.preview)
        order = entry.arguments.get("order_id")
        target = f" {order}" if isinstance(order, str) else ""
        subject = {
            "operation_failed": f"操作失败 / Operation failed: {entry.operation}{target}",
            "operation_unknown": f"操作结果未知，请核对 / Outcome unknown, check the shop: "
            f"{entry.operation}{target}",
            "approval": f"待审批 / Awaiting approval: {entry.operation}{target}",
        }[source]
        lines = [f"ledger #{entry.id}, idempotency key {operation_key}"]
        if error is not None:
            lines.append(f"error: {error.get('code')}: {error.get('message')}")
        if entry.note:
            lines.append(entry.note)
        if amount is not None:
            lines.append(f"amount: {amount:g}")
        self.open(
            entry.tenant,
            source=source,
            subject=subject,
            description="\n".join(lines),
            conversation_id=entry.conversation_id,
            customer=entry.customer_id,
            order_value=amount,
            ledger_id=entry.id,
            dedupe_key=f"{source}:{operation_key}",
            data={"operation": entry.operation, "arguments": entry.arguments},
        )

    def _settle_approval(self, entry: LedgerEntry) -> None:
        if entry.idempotency_key is None:
            return
        t = self._tenants.get(entry.tenant)
        ticket = self._by_key(t.id, t.name, f"approval:{entry.idempotency_key}")
        if ticket is None or ticket.status not in rules.ACTIVE:
            return
        who = entry.actor
        if entry.status == "approved":
            text = f"已批准 / Approved by {who}" + (f": {entry.note}" if entry.note else "")
            self.comment(ticket.id, text, actor=SYSTEM, agent=False)
            return
        words = {
            "executed": "已执行 / Executed",
            "rejected": f"已拒绝 / Rejected by {who}",
            "refused": "被拒绝执行 / Refused by the shop",
            "failed": "执行失败 / Failed",
            "unknown_outcome": "结果未知 / Outcome unknown (a P1 ticket was opened)",
        }[entry.status]
        if entry.note and entry.status == "rejected":
            words += f": {entry.note}"
        with contextlib.suppress(ConflictError):  # resolved meanwhile
            self.update(
                ticket.id,
                actor=SYSTEM,
                status="resolved",
                note=f"{words} (ledger #{entry.id})",
            )


def _webhook_url(settings: TenantSettings) -> str:
    return str(settings["tickets.webhook_url"]).strip()


def _breach(row: TicketRow, target: str, due: datetime) -> _Change:
    return _Change(
        "breached",
        SYSTEM,
        None,
        {"target": target, "due_at": due.isoformat(), "priority": row.priority},
    )


def _late_clause(now: datetime) -> ColumnElement[bool]:
    """Active and past a running target at ``now``."""
    return and_(
        TicketRow.status.in_(sorted(rules.ACTIVE)),
        or_(
            and_(
                TicketRow.first_responded_at.is_(None),
                TicketRow.first_response_due_at < now,
            ),
            TicketRow.resolution_due_at < now,
        ),
    )


def _breached_clause(now: datetime) -> ColumnElement[bool]:
    return or_(TicketRow.breached_at.is_not(None), _late_clause(now))


def _amount(preview: Mapping[str, Any] | None) -> float | None:
    """The money an operation moves, from its preview (None when it moves none)."""
    if not preview:
        return None
    try:
        value = float(preview.get("amount") or 0)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None
