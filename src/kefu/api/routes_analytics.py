"""Analytics (viewer of the tenant): summary, time series, intents, questions, emotion, CSV
export; and the customers' satisfaction rating (public, like sending a message: the
conversation id is the secret)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from kefu.access.roles import Principal
from kefu.analytics.csat import COMMENT_CHARS, record_csat
from kefu.api.auth import authorize, current_principal
from kefu.service import Service

router = APIRouter(tags=["analytics"])

Tenant = Annotated[str, Query(min_length=1, max_length=64, description="tenant name")]
From = Annotated[
    str | None, Query(alias="from", max_length=10, description="first day, YYYY-MM-DD (UTC)")
]
To = Annotated[str | None, Query(alias="to", max_length=10, description="last day, YYYY-MM-DD")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Caller = Annotated[Principal, Depends(current_principal)]


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def _viewer(principal: Principal, tenant: str) -> None:
    authorize(principal, tenant, "viewer")


@router.get("/v1/analytics/summary")
def summary(
    request: Request,
    principal: Caller,
    tenant: Tenant,
    first: From = None,
    last: To = None,
) -> dict[str, Any]:
    """Headline metrics: automation, self-resolution and transfer rates, response and handle
    times, CSAT (``csat`` = mean; ``csat_detail``), repeat contacts, LLM cost, ROI."""
    _viewer(principal, tenant)
    return _service(request).analytics.summary(tenant, first, last)


@router.get("/v1/analytics/timeseries")
def timeseries(
    request: Request,
    principal: Caller,
    tenant: Tenant,
    metric: Annotated[str, Query(max_length=64)],
    first: From = None,
    last: To = None,
) -> dict[str, Any]:
    """One metric per day: ``{"metric", "points": [{"day", "value"}]}``."""
    _viewer(principal, tenant)
    return _service(request).analytics.timeseries(tenant, metric, first, last)


@router.get("/v1/analytics/intents")
def intents(
    request: Request,
    principal: Caller,
    tenant: Tenant,
    first: From = None,
    last: To = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Intent distribution; each item has a ``label`` for people: the FAQ's question or the
    flow's title in the tenant's language (the intent itself when neither is known)."""
    _viewer(principal, tenant)
    svc = _service(request)
    found = svc.analytics.intents(tenant, first, last, limit)
    labels = intent_labels(svc, tenant)
    items = [
        {**item, "label": labels.get(item["intent"], item["intent"])} for item in found["items"]
    ]
    return {**found, "items": items}


def intent_labels(svc: Service, tenant: str) -> dict[str, str]:
    """Intent -> what people call it: FAQ ids to their question, ``flow:NAME`` to the flow's
    title, in the tenant's language when the KB has it."""
    language = str(svc.tenants.settings(tenant)["language"])
    labels: dict[str, str] = {}
    for entry in svc.faqs.all(tenant):
        if entry.id not in labels or entry.language == language:
            labels[entry.id] = entry.question
    for name, flow in svc.catalog(tenant).flows.items():
        title = flow.title.get(language) or next(iter(flow.title.values()), name)
        labels[f"flow:{name}"] = title
    return labels


@router.get("/v1/analytics/questions")
def questions(
    request: Request,
    principal: Caller,
    tenant: Tenant,
    first: From = None,
    last: To = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """The most frequent customer questions (grouped by normalised text)."""
    _viewer(principal, tenant)
    return _service(request).analytics.questions(tenant, first, last, limit)


@router.get("/v1/analytics/unanswered")
def unanswered(
    request: Request,
    principal: Caller,
    tenant: Tenant,
    first: From = None,
    last: To = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Questions the bot fell back on, asked to clarify, or answered with low confidence."""
    _viewer(principal, tenant)
    return _service(request).analytics.questions(tenant, first, last, limit, unanswered=True)


@router.get("/v1/analytics/emotion")
def emotion(
    request: Request,
    principal: Caller,
    tenant: Tenant,
    first: From = None,
    last: To = None,
) -> dict[str, Any]:
    _viewer(principal, tenant)
    return _service(request).analytics.emotion(tenant, first, last)


@router.get(
    "/v1/analytics/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_csv(
    request: Request,
    principal: Caller,
    tenant: Tenant,
    first: From = None,
    last: To = None,
    kind: Annotated[str, Query(max_length=32)] = "daily",
) -> Response:
    """Per-day rows of every metric, or with ``kind=conversations`` the per-conversation
    facts."""
    _viewer(principal, tenant)
    text = _service(request).analytics.export_csv(tenant, first, last, kind)
    parts = ["kefu", re.sub(r"[^A-Za-z0-9_.-]", "_", tenant), kind, first or "", last or ""]
    name = "-".join(p for p in parts if p) + ".csv"
    return Response(
        content=text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class CsatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    score: int = Field(ge=1, le=5, strict=True, description="1 (very poor) to 5 (very good)")
    comment: str | None = Field(default=None, max_length=COMMENT_CHARS)


@router.post("/v1/conversations/{conversation_id}/csat", status_code=201)
def post_csat(conversation_id: str, body: CsatIn, request: Request) -> dict[str, Any]:
    """The customer's rating of the conversation, once (a second one: 409, nothing stored)."""
    svc = _service(request)
    event = record_csat(
        svc.conversations, svc.turn_locks, conversation_id, body.score, body.comment
    )
    return event.to_dict()
