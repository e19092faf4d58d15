"""The agent desk over HTTP: the inbox, take, reply, release, close, and the live streams.

Agents' routes need a caller (:func:`kefu.api.auth.current_principal`): reading the inbox needs
the tenant's viewer role, acting on a conversation its agent role (checked against the
conversation's tenant before anything changes). ``GET /v1/conversations/{id}/stream`` is public
like the transcript: whoever holds the conversation id (the customer's page) reads its events
live.

Both streams are server-sent events. A stream is woken at once by every append made in this
process, and, for appends made by another worker process, by a database poll every 0.1 s
(:mod:`kefu.humans.live`); a comment line every 15 s keeps proxies from closing it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from kefu.access.roles import Principal
from kefu.api.auth import Caller, authorize
from kefu.domain.conversation import CUSTOMER_MESSAGE, HANDOFF_TAKEN, Event
from kefu.humans.desk import INBOX_STATUSES, MAX_AGENT_MESSAGE, Handoff
from kefu.humans.live import conversation_key, tenant_key
from kefu.service import Service

router = APIRouter(tags=["desk"])

HEARTBEAT_S = 15.0  # a comment line this often keeps idle streams open through proxies
DESK_POLL_S = 1.0  # the agents' stream re-reads the inbox at least this often
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentMessageIn(_Strict):
    text: str = Field(min_length=1, max_length=MAX_AGENT_MESSAGE, description="The reply")


class CloseIn(_Strict):
    reason: str | None = Field(None, max_length=200, description="Why (default resolved)")


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def _item(handoff: Handoff, svc: Service) -> dict[str, Any]:
    return handoff.to_dict(now=svc.clock())


@router.get("/v1/inbox")
def inbox(
    request: Request,
    principal: Caller,
    tenant: str = Query(min_length=1, max_length=64),
    status: str = Query("open", description=f"one of {', '.join(INBOX_STATUSES)}"),
    queue: str | None = Query(None, max_length=64, description="Only this skill group"),
) -> dict[str, Any]:
    """Handoffs of a tenant, the longest waiting first (viewer role)."""
    authorize(principal, tenant, "viewer")
    svc = _service(request)
    return {"items": [_item(h, svc) for h in svc.desk.inbox(tenant, status, queue)]}


def _conversation_tenant(svc: Service, conversation_id: str) -> str:
    tenant: str = svc.conversations.get(conversation_id).tenant
    return tenant


@router.get("/v1/conversations/{conversation_id}/handoffs")
def conversation_handoffs(
    conversation_id: str, request: Request, principal: Caller
) -> dict[str, Any]:
    """Every handoff of one conversation, oldest first (viewer role)."""
    svc = _service(request)
    authorize(principal, _conversation_tenant(svc, conversation_id), "viewer")
    return {"items": [_item(h, svc) for h in svc.desk.of_conversation(conversation_id)]}


@router.post("/v1/conversations/{conversation_id}/take")
def take(conversation_id: str, request: Request, principal: Caller) -> dict[str, Any]:
    """Take a waiting conversation (agent role); 409 ``already_taken`` if another agent did."""
    svc = _service(request)
    authorize(principal, _conversation_tenant(svc, conversation_id), "agent")
    return _item(svc.desk.take(conversation_id, principal), svc)


@router.post("/v1/conversations/{conversation_id}/agent-messages", status_code=201)
def agent_message(
    conversation_id: str, body: AgentMessageIn, request: Request, principal: Caller
) -> dict[str, Any]:
    """The holding agent's reply to the customer (the event written)."""
    svc = _service(request)
    authorize(principal, _conversation_tenant(svc, conversation_id), "agent")
    return svc.desk.agent_message(conversation_id, principal, body.text).to_dict()


@router.post("/v1/conversations/{conversation_id}/release")
def release(conversation_id: str, request: Request, principal: Caller) -> dict[str, Any]:
    """Hand the conversation back to the bot (the holding agent, or a supervisor)."""
    svc = _service(request)
    authorize(principal, _conversation_tenant(svc, conversation_id), "agent")
    return _item(svc.desk.release(conversation_id, principal), svc)


@router.post("/v1/conversations/{conversation_id}/close")
def close(
    conversation_id: str,
    request: Request,
    principal: Caller,
    body: CloseIn | None = None,
) -> dict[str, Any]:
    """Close the conversation and its open handoff (the ``conversation_closed`` event)."""
    svc = _service(request)
    authorize(principal, _conversation_tenant(svc, conversation_id), "agent")
    reason = body.reason if body is not None else None
    return svc.desk.close(conversation_id, principal, reason).to_dict()


# -- live streams --------------------------------------------------------------------------
def _sse(event: str, data: Any, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _after(request: Request, after: int) -> int:
    """``after``, or the browser's ``Last-Event-ID`` when an EventSource reconnects."""
    last = request.headers.get("last-event-id", "").strip()
    return max(after, int(last)) if last.isdigit() else after


@router.get(
    "/v1/conversations/{conversation_id}/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "SSE: `message` (data = an event, id = its seq) for every event "
            "after `after`, then each new one as it is appended; a comment every 15 s",
        }
    },
)
async def conversation_stream(
    conversation_id: str,
    request: Request,
    after: int = Query(0, ge=0, description="Send the events after this seq"),
) -> StreamingResponse:
    """The conversation's events live (public, like the transcript)."""
    svc = _service(request)
    conv = await run_in_threadpool(svc.conversations.get, conversation_id)
    start = _after(request, after)

    async def events() -> AsyncIterator[str]:
        seen = start
        loop = asyncio.get_running_loop()
        with svc.desk.live.subscribe(conversation_key(conv.id)) as sub:
            yield ": connected\n\n"
            beat = loop.time()
            while True:
                new = await run_in_threadpool(svc.desk.events_after, conv.id, seen)
                for e in new:
                    seen = e.seq
                    yield _sse("message", e.to_dict(), e.seq)
                if new:
                    continue  # there may be more than one read's worth
                woke = await sub.wait(max(0.01, HEARTBEAT_S - (loop.time() - beat)))
                if not woke and loop.time() - beat >= HEARTBEAT_S:
                    beat = loop.time()
                    yield ": heartbeat\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=_SSE_HEADERS)


@router.get(
    "/v1/desk/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "SSE for agents: `inbox` ({items}) at the start and whenever the "
            "tenant's open handoffs change; `message` ({conversation_id, event}) for each new "
            "customer message of a conversation the caller holds",
        }
    },
)
async def desk_stream(
    request: Request, principal: Caller, tenant: str = Query(min_length=1, max_length=64)
) -> StreamingResponse:
    """The tenant's inbox and the caller's conversations, live (viewer role)."""
    authorize(principal, tenant, "viewer")
    svc = _service(request)
    svc.tenants.get(tenant)

    async def events() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        shown: list[tuple[int, str, str | None]] | None = None
        held: dict[str, int] = {}  # conversation -> the last seq looked at
        with svc.desk.live.subscribe(tenant_key(tenant)) as sub:
            yield ": connected\n\n"
            beat = loop.time()
            while True:
                items = await run_in_threadpool(svc.desk.inbox, tenant, "open")
                signature = [(h.id, h.status, h.taken_by) for h in items]
                if signature != shown:
                    shown = signature
                    yield _sse("inbox", {"items": [_item(h, svc) for h in items]})
                mine = [
                    h.conversation_id
                    for h in items
                    if h.status == "active" and h.taken_by == principal.display
                ]
                for conv_id in [c for c in held if c not in mine]:
                    del held[conv_id]
                for conv_id in mine:
                    found, last = await run_in_threadpool(
                        _customer_messages, svc, conv_id, held.get(conv_id), principal
                    )
                    for e in found:
                        yield _sse("message", {"conversation_id": conv_id, "event": e.to_dict()})
                    held[conv_id] = last
                woke = await sub.wait(DESK_POLL_S)
                if not woke and loop.time() - beat >= HEARTBEAT_S:
                    beat = loop.time()
                    yield ": heartbeat\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=_SSE_HEADERS)


def _customer_messages(
    svc: Service, conversation_id: str, after: int | None, principal: Principal
) -> tuple[list[Event], int]:
    """Customer messages of a held conversation after ``after`` (first look: since the caller
    took it), and the newest seq looked at."""
    if after is None:
        events = svc.desk.events_after(conversation_id, 0, limit=10_000)
        taken = [
            e.seq
            for e in events
            if e.type == HANDOFF_TAKEN and e.payload.get("agent") == principal.display
        ]
        after = taken[-1] if taken else (events[-1].seq if events else 0)
    else:
        events = svc.desk.events_after(conversation_id, after)
    new = [e for e in events if e.seq > after]
    last = new[-1].seq if new else after
    return [e for e in new if e.type == CUSTOMER_MESSAGE], last
