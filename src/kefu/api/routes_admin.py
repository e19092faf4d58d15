"""Tenants, settings, the FAQ knowledge base and the LLM cost report over HTTP.

Every route but ``GET /v1/settings`` (the public table of settings) needs a caller
(:func:`kefu.api.auth.current_principal`): reading a tenant needs its viewer role, changing its
settings or knowledge base its admin role, creating a tenant the admin role of ``*``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from kefu.api.auth import Caller, authorize
from kefu.api.schemas import (
    CostReportOut,
    FaqIn,
    FaqOut,
    SettingOut,
    SettingPatch,
    TenantCreate,
    TenantOut,
)
from kefu.domain.faq import FaqEntry
from kefu.errors import ConflictError, FaqNotFound, InvalidInputError
from kefu.service import Service
from kefu.settings import SETTINGS
from kefu.storage.llm_calls import parse_day

router = APIRouter(prefix="/v1", tags=["tenants and knowledge"])


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def _tenant_out(svc: Service, name: str) -> dict[str, Any]:
    t = svc.tenants.get(name)
    return {
        "name": t.name,
        "created_at": t.created_at,
        "kb_revision": t.kb_revision,
        "settings": svc.tenants.settings(name).as_dict(),
    }


@router.get("/settings", response_model=list[SettingOut])
def list_settings() -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "default": s.default,
            "help": s.help,
            "kind": s.kind,
            "choices": list(s.choices),
        }
        for s in SETTINGS.values()
    ]


@router.get("/tenants", response_model=list[TenantOut])
def list_tenants(request: Request, principal: Caller) -> list[dict[str, Any]]:
    """The tenants the caller has a role in (every tenant for a role in ``*``)."""
    svc = _service(request)
    return [_tenant_out(svc, t.name) for t in svc.tenants.all() if principal.can(t.name, "viewer")]


@router.post("/tenants", response_model=TenantOut, status_code=201)
def create_tenant(
    body: TenantCreate,
    request: Request,
    response: Response,
    principal: Caller,
) -> dict[str, Any]:
    authorize(principal, "*", "admin")
    svc = _service(request)
    _, created = svc.tenants.create(body.name, {"level": body.level, "language": body.language})
    if not created:
        response.status_code = 200
    return _tenant_out(svc, body.name)


@router.get("/tenants/{tenant}", response_model=TenantOut)
def get_tenant(tenant: str, request: Request, principal: Caller) -> dict[str, Any]:
    authorize(principal, tenant, "viewer")
    return _tenant_out(_service(request), tenant)


@router.put("/tenants/{tenant}/settings/{name}", response_model=TenantOut)
def set_setting(
    tenant: str,
    name: str,
    body: SettingPatch,
    request: Request,
    principal: Caller,
) -> dict[str, Any]:
    authorize(principal, tenant, "admin")
    svc = _service(request)
    svc.tenants.set(tenant, name, body.value)
    return _tenant_out(svc, tenant)


def _faq_out(e: FaqEntry) -> dict[str, Any]:
    d = dataclasses.asdict(e)
    d["similar_questions"] = list(e.similar_questions)
    d["tags"] = list(e.tags)
    return d


def _entry(body: FaqIn) -> FaqEntry:
    data = body.model_dump()
    for key in ("valid_from", "valid_until"):
        value = data[key]
        if value is not None and value.tzinfo is not None:
            data[key] = value.astimezone(UTC).replace(tzinfo=None)
    if data["valid_from"] and data["valid_until"] and data["valid_from"] > data["valid_until"]:
        raise InvalidInputError("valid_until is before valid_from", field="valid_until")
    questions = [q.strip() for q in data["similar_questions"] if q.strip()]
    if not data["question"].strip() or not data["answer"].strip():
        raise InvalidInputError("question and answer must not be blank", field="question")
    data["similar_questions"] = tuple(dict.fromkeys(questions))
    data["tags"] = tuple(data["tags"])
    return FaqEntry(**data)


@router.get("/tenants/{tenant}/faqs", response_model=list[FaqOut])
def list_faqs(
    tenant: str,
    request: Request,
    principal: Caller,
    language: str | None = Query(None, pattern="^(zh|en)$"),
) -> list[dict[str, Any]]:
    authorize(principal, tenant, "viewer")
    return [_faq_out(e) for e in _service(request).faqs.all(tenant, language)]


@router.get("/tenants/{tenant}/faqs/{faq_id}", response_model=list[FaqOut])
def get_faq(tenant: str, faq_id: str, request: Request, principal: Caller) -> list[dict[str, Any]]:
    """All language versions of one FAQ."""
    authorize(principal, tenant, "viewer")
    return [_faq_out(e) for e in _service(request).faqs.get(tenant, faq_id)]


@router.post("/tenants/{tenant}/faqs", response_model=FaqOut, status_code=201)
def create_faq(tenant: str, body: FaqIn, request: Request, principal: Caller) -> dict[str, Any]:
    authorize(principal, tenant, "admin")
    svc = _service(request)
    entry = _entry(body)
    try:
        existing = svc.faqs.get(tenant, entry.id)
    except FaqNotFound:
        existing = []
    if any(e.language == entry.language for e in existing):
        raise ConflictError(
            f"FAQ {entry.id!r} already has a {entry.language} version; use PUT to replace it",
            field="id",
        )
    svc.faqs.upsert_many(tenant, [entry])
    return _faq_out(entry)


@router.put("/tenants/{tenant}/faqs/{faq_id}", response_model=FaqOut)
def put_faq(
    tenant: str,
    faq_id: str,
    body: FaqIn,
    request: Request,
    principal: Caller,
) -> dict[str, Any]:
    authorize(principal, tenant, "admin")
    if body.id != faq_id:
        raise InvalidInputError("id in the body differs from the id in the path", field="id")
    entry = _entry(body)
    _service(request).faqs.upsert_many(tenant, [entry])
    return _faq_out(entry)


@router.delete("/tenants/{tenant}/faqs/{faq_id}", status_code=204)
def delete_faq(
    tenant: str,
    faq_id: str,
    request: Request,
    principal: Caller,
    language: str | None = Query(None, pattern="^(zh|en)$"),
) -> Response:
    authorize(principal, tenant, "admin")
    _service(request).faqs.delete(tenant, faq_id, language)
    return Response(status_code=204)


@router.get("/tenants/{tenant}/reports/cost", response_model=CostReportOut)
def cost_report(
    tenant: str,
    request: Request,
    principal: Caller,
    since: str | None = Query(None, description="first day, YYYY-MM-DD (UTC), inclusive"),
    until: str | None = Query(None, description="last day, YYYY-MM-DD (UTC), inclusive"),
    by: str = Query("day", description="group by day, conversation, model or purpose"),
) -> dict[str, Any]:
    """The tenant's LLM calls, tokens and cost in total and per group."""
    authorize(principal, tenant, "viewer")
    report = _service(request).llm_calls.report(
        tenant, parse_day(since, "since"), parse_day(until, "until"), by
    )
    return report.to_dict()
