"""Automated quality inspection (质检) over HTTP: the tenant's scores (viewer), one
conversation's scores with its reasons, overrides and transcript (viewer), a supervisor's
override of a dimension, and a scoring run (supervisor)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kefu.api.auth import Caller, authorize
from kefu.quality.inspection import MAX_LIST, QaService

router = APIRouter(prefix="/v1/qa", tags=["qa"])


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dimension: str = Field(min_length=1, max_length=32, description="The dimension to override")
    score: int = Field(ge=0, le=100, description="The new score, 0-100")
    note: str = Field("", max_length=2000, description="Why (kept in the override history)")


def _qa(request: Request) -> QaService:
    qa: QaService = request.app.state.service.qa
    return qa


def _tenant_of(request: Request, conversation_id: str) -> str:
    """The conversation's tenant (404 for an unknown conversation)."""
    tenant: str = request.app.state.service.conversations.get(conversation_id).tenant
    return tenant


@router.get("")
def list_scores(
    request: Request,
    principal: Caller,
    tenant: str = Query(description="Tenant name"),
    flagged: bool | None = Query(None, description="Only flagged (true) or unflagged (false)"),
    dimension: str | None = Query(None, description="Only conversations failing this dimension"),
    agent: str | None = Query(None, max_length=128, description="Only this agent's conversations"),
    limit: int = Query(50, ge=1, le=MAX_LIST, description="At most this many"),
    offset: int = Query(0, ge=0, description="Skip this many"),
) -> dict[str, Any]:
    """The tenant's scored conversations, the most recently active first: {"items", "total"}."""
    authorize(principal, tenant, "viewer")
    items, total = _qa(request).list(
        tenant, flagged=flagged, dimension=dimension, agent=agent, limit=limit, offset=offset
    )
    return {"items": [r.to_dict(detail=False) for r in items], "total": total}


@router.post("/run")
def run(
    request: Request,
    principal: Caller,
    tenant: str = Query(description="Tenant name"),
    limit: int = Query(10_000, ge=1, le=1_000_000, description="Score at most this many"),
    rescore: bool = Query(False, description="Also re-score those scored under another rubric"),
) -> dict[str, int]:
    """Score the tenant's finished conversations not yet scored at their last event."""
    authorize(principal, tenant, "supervisor")
    return {"scored": _qa(request).score_finished(tenant, limit=limit, rescore=rescore)}


@router.get("/{conversation_id}")
def get_score(
    conversation_id: str,
    request: Request,
    principal: Caller,
) -> dict[str, Any]:
    """One conversation's scores with their reasons, the override history and the transcript
    (a conversation not scored yet is scored now)."""
    authorize(principal, _tenant_of(request, conversation_id), "viewer")
    qa = _qa(request)
    found = qa.get(conversation_id) or qa.score(conversation_id)
    out = found.to_dict()
    out["overrides"] = qa.overrides(conversation_id)
    events = request.app.state.service.conversations.events(conversation_id)
    out["events"] = [e.to_dict() for e in events]
    return out


@router.post("/{conversation_id}/override")
def override(
    conversation_id: str,
    body: Override,
    request: Request,
    principal: Caller,
) -> dict[str, Any]:
    """A supervisor sets a dimension's score: the conversation's scores after it."""
    authorize(principal, _tenant_of(request, conversation_id), "supervisor")
    result = _qa(request).override(
        conversation_id, body.dimension, body.score, by=principal.display, note=body.note
    )
    return result.to_dict()
