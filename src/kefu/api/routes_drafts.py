"""Suggested FAQ drafts over HTTP: list and read them (viewer), mine a tenant's conversations,
edit, approve, merge or reject a draft (supervisor). A draft addressed by id is loaded first
and the caller's role checked against its tenant: without one there, 403 and nothing changes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kefu.access.roles import Principal
from kefu.api.auth import authorize, current_principal
from kefu.knowledge.kb_io import MAX_ANSWER, MAX_ID, MAX_QUESTION, MAX_SIMILAR
from kefu.quality.drafts import MAX_CATEGORY, MAX_NOTE, DraftService

router = APIRouter(prefix="/v1/drafts", tags=["drafts"])
Caller = Annotated[Principal, Depends(current_principal)]


class DraftEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str | None = Field(None, min_length=1, max_length=MAX_QUESTION)
    similar_questions: list[str] | None = Field(None, max_length=MAX_SIMILAR)
    answer: str | None = Field(None, max_length=MAX_ANSWER)
    category: str | None = Field(None, max_length=MAX_CATEGORY)


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    faq_id: str | None = Field(None, min_length=1, max_length=MAX_ID, description="New FAQ id")
    answer: str | None = Field(None, max_length=MAX_ANSWER, description="Replaces the answer")


class Merge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    faq_id: str = Field(min_length=1, max_length=MAX_ID, description="The FAQ to extend")


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=MAX_NOTE, description="Why (kept on the draft)")


def _drafts(request: Request) -> DraftService:
    drafts: DraftService = request.app.state.service.drafts
    return drafts


def _authorized(request: Request, principal: Principal, draft_id: int, needed: str) -> None:
    authorize(principal, _drafts(request).get(draft_id).tenant, needed)


@router.get("")
def list_drafts(
    request: Request,
    principal: Caller,
    tenant: str = Query(description="Tenant name"),
    status: str | None = Query(None, description="suggested, approved, rejected or merged"),
) -> dict[str, Any]:
    """The tenant's drafts, most asked first."""
    authorize(principal, tenant, "viewer")
    return {"items": [d.to_dict() for d in _drafts(request).list(tenant, status)]}


@router.post("/mine")
def mine(
    request: Request,
    principal: Caller,
    tenant: str = Query(description="Tenant name"),
    since: Annotated[
        datetime | None, Query(description="Only conversations started at or after this")
    ] = None,
) -> dict[str, int]:
    """Mine the tenant's conversations for unanswered questions: {"new", "updated"}."""
    authorize(principal, tenant, "supervisor")
    return _drafts(request).mine(tenant, since=since).to_dict()


@router.get("/{draft_id}")
def get_draft(draft_id: int, request: Request, principal: Caller) -> dict[str, Any]:
    """One draft."""
    draft = _drafts(request).get(draft_id)
    authorize(principal, draft.tenant, "viewer")
    return draft.to_dict()


@router.patch("/{draft_id}")
def edit_draft(
    draft_id: int,
    body: DraftEdit,
    request: Request,
    principal: Caller,
) -> dict[str, Any]:
    """Edit a suggested draft's question, similar questions, answer or category."""
    _authorized(request, principal, draft_id, "supervisor")
    return (
        _drafts(request)
        .edit(
            draft_id,
            question=body.question,
            similar_questions=body.similar_questions,
            answer=body.answer,
            category=body.category,
        )
        .to_dict()
    )


@router.post("/{draft_id}/approve")
def approve_draft(
    draft_id: int,
    request: Request,
    principal: Caller,
    body: Approval | None = None,
) -> dict[str, Any]:
    """Create the FAQ entry from a suggested draft (422 naming "answer" when it has none)."""
    _authorized(request, principal, draft_id, "supervisor")
    body = body or Approval(faq_id=None, answer=None)
    draft = _drafts(request).approve(
        draft_id, principal.display, faq_id=body.faq_id, answer=body.answer
    )
    return draft.to_dict()


@router.post("/{draft_id}/merge")
def merge_draft(draft_id: int, body: Merge, request: Request, principal: Caller) -> dict[str, Any]:
    """Add a suggested draft's questions to an existing FAQ entry as similar questions."""
    _authorized(request, principal, draft_id, "supervisor")
    return _drafts(request).merge(draft_id, principal.display, body.faq_id).to_dict()


@router.post("/{draft_id}/reject")
def reject_draft(
    draft_id: int,
    request: Request,
    principal: Caller,
    body: Rejection | None = None,
) -> dict[str, Any]:
    """Reject a suggested draft; mining never suggests its questions again."""
    _authorized(request, principal, draft_id, "supervisor")
    note = body.note if body is not None else None
    return _drafts(request).reject(draft_id, principal.display, note).to_dict()
