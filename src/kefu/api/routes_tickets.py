"""Tickets (工单) over HTTP: list, read, open by hand, change, comment.

Roles (of the ticket's own tenant; a ticket addressed by id is loaded first, then its tenant is
checked, so a caller without a role there gets 403 and nothing changes):

- viewer: list and read;
- agent: open a ticket, comment, change its status, assign it;
- supervisor: also change its priority or queue (re-triage moves SLA due times and skill
  groups, so it is kept to the people who own them).

The actor recorded in a ticket's events is the authenticated caller (``principal.display``).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kefu.api.auth import Caller, authorize
from kefu.humans.ticket_rules import CATEGORIES
from kefu.humans.tickets import (
    COMMENT_MAX,
    DESCRIPTION_MAX,
    KEY_MAX,
    MAX_LIMIT,
    QUEUE_MAX,
    SUBJECT_MAX,
    TicketService,
)

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])

Priority = Literal["P1", "P2", "P3", "P4"]
Status = Literal["open", "in_progress", "waiting_customer", "resolved", "closed"]


class NewTicket(BaseModel):
    """A ticket opened by hand (source ``manual``)."""

    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, max_length=64)
    subject: str = Field(min_length=1, max_length=SUBJECT_MAX)
    description: str = Field("", max_length=DESCRIPTION_MAX)
    conversation_id: str | None = Field(None, max_length=36)
    customer: str | None = Field(None, max_length=64)
    priority: Priority | None = None
    category: str | None = Field(None, max_length=32, description=", ".join(CATEGORIES))
    dedupe_key: str | None = Field(
        None, max_length=KEY_MAX, description="A retry with the same key returns the same ticket"
    )


class TicketChange(BaseModel):
    """Fields to change (at least one); ``assignee`` null unassigns."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    priority: Priority | None = None
    queue: str | None = Field(None, min_length=1, max_length=QUEUE_MAX)
    assignee: str | None = Field(None, max_length=64)
    note: str | None = Field(None, max_length=COMMENT_MAX, description="Why (kept in the event)")


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=COMMENT_MAX)


def _tickets(request: Request) -> TicketService:
    tickets: TicketService = request.app.state.service.tickets
    return tickets


@router.get("")
def list_tickets(
    request: Request,
    principal: Caller,
    tenant: str = Query(description="Tenant name"),
    status: str | None = Query(None, max_length=24, description="open, in_progress, ..."),
    priority: str | None = Query(None, max_length=2, description="P1-P4"),
    queue: str | None = Query(None, max_length=QUEUE_MAX),
    breached: bool | None = Query(None, description="Only breached (true) or not (false)"),
    assignee: str | None = Query(None, max_length=64),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    """The tenant's tickets, most urgent first: ``{"items", "total", "limit", "offset"}``."""
    authorize(principal, tenant, "viewer")
    items, total = _tickets(request).list(
        tenant,
        status=status,
        priority=priority,
        queue=queue,
        breached=breached,
        assignee=assignee,
        limit=limit,
        offset=offset,
    )
    return {
        "items": [t.to_dict() for t in items],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/{ticket_id}")
def get_ticket(ticket_id: int, request: Request, principal: Caller) -> dict[str, Any]:
    """One ticket with its events (oldest first)."""
    tickets = _tickets(request)
    authorize(principal, tickets.tenant_of(ticket_id), "viewer")
    return tickets.get(ticket_id).to_dict()


@router.post("", status_code=201)
def open_ticket(body: NewTicket, request: Request, principal: Caller) -> dict[str, Any]:
    """Open a ticket by hand; category, priority and queue follow the rules unless given."""
    authorize(principal, body.tenant, "agent")
    ticket = _tickets(request).open(
        body.tenant,
        source="manual",
        subject=body.subject,
        description=body.description,
        conversation_id=body.conversation_id,
        customer=body.customer,
        category=body.category,
        priority=body.priority,
        dedupe_key=body.dedupe_key,
        actor=principal.display,
    )
    return ticket.to_dict()


@router.patch("/{ticket_id}")
def change_ticket(
    ticket_id: int, body: TicketChange, request: Request, principal: Caller
) -> dict[str, Any]:
    """Change status, priority, queue and/or assignee; the ticket with its events. 409 for a
    status change the workflow does not allow (naming from and to)."""
    tickets = _tickets(request)
    tenant = tickets.tenant_of(ticket_id)
    given = body.model_fields_set
    needed = "supervisor" if {"priority", "queue"} & given else "agent"
    authorize(principal, tenant, needed)
    changes: dict[str, Any] = {}
    if "assignee" in given:
        changes["assignee"] = body.assignee
    tickets.update(
        ticket_id,
        actor=principal.display,
        tenant=tenant,
        status=body.status,
        priority=body.priority,
        queue=body.queue,
        note=body.note,
        **changes,
    )
    return tickets.get(ticket_id).to_dict()


@router.post("/{ticket_id}/comments", status_code=201)
def add_comment(
    ticket_id: int, body: Comment, request: Request, principal: Caller
) -> dict[str, Any]:
    """Add a comment (an agent's first one is the ticket's first response): the event."""
    tickets = _tickets(request)
    tenant = tickets.tenant_of(ticket_id)
    authorize(principal, tenant, "agent")
    return tickets.comment(ticket_id, body.text, actor=principal.display, tenant=tenant).to_dict()
