"""Conversations: start, send a message (plain or streamed), read the transcript."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from kefu.api.schemas import (
    ConversationCreate,
    ConversationOut,
    MessageCreate,
    ReplyOut,
    TranscriptOut,
    TurnOut,
)
from kefu.service import Service

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])

STREAM_CHUNK = 12  # characters per SSE delta


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


@router.post("", status_code=201, response_model=ConversationOut)
def create_conversation(body: ConversationCreate, request: Request) -> dict[str, Any]:
    conv, welcome = _service(request).start_conversation(
        body.tenant, body.channel, body.customer, body.language
    )
    reply = welcome.payload["replies"][0]
    return {**conv.__dict__, "welcome": ReplyOut(**reply)}


@router.get("/{conversation_id}", response_model=TranscriptOut)
def get_conversation(conversation_id: str, request: Request) -> dict[str, Any]:
    svc = _service(request)
    conv, events = svc.transcript(conversation_id)
    llm = svc.llm_calls.conversation_totals(conversation_id).to_dict()
    return {**conv.__dict__, "events": [e.to_dict() for e in events], "llm": llm}


@router.post("/{conversation_id}/messages", response_model=TurnOut)
def post_message(conversation_id: str, body: MessageCreate, request: Request) -> dict[str, Any]:
    return _service(request).handle_message(conversation_id, body.text).to_dict()


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post(
    "/{conversation_id}/messages/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "SSE: `meta`, "
            '`delta` (repeated, `{"index", "text"}`), then `done` with the full turn',
        }
    },
)
async def post_message_stream(
    conversation_id: str, body: MessageCreate, request: Request
) -> StreamingResponse:
    """The same turn as ``/messages``, streamed as server-sent events.

    Errors found before the turn (unknown conversation, bad text) are ordinary JSON errors.
    """
    svc = _service(request)
    turn = await run_in_threadpool(svc.handle_message, conversation_id, body.text)
    data = turn.to_dict()

    async def events() -> AsyncIterator[str]:
        meta = {k: v for k, v in data.items() if k != "replies"}
        yield _sse("meta", meta)
        for i, reply in enumerate(data["replies"]):
            text = reply["text"]
            for start in range(0, len(text), STREAM_CHUNK):
                yield _sse("delta", {"index": i, "text": text[start : start + STREAM_CHUNK]})
        yield _sse("done", data)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
