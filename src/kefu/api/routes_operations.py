"""The operation ledger over HTTP: list a tenant's entries, approve or reject queued writes,
reconcile a write whose outcome is unknown.

Reading needs the viewer role of the tenant; deciding or reconciling the supervisor role of the
entry's own tenant (an entry addressed by id is loaded first, then its tenant is checked). The
approver recorded in the ledger is the authenticated caller (``principal.display``), never a
name the request supplies.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kefu.api.auth import Caller, authorize
from kefu.operations.execute import Operations, operations_of
from kefu.storage.ledger import MAX_LIMIT

router = APIRouter(prefix="/v1/operations", tags=["operations"])


class Decision(BaseModel):
    """The body of approve and reject: only a note; the approver is the signed-in caller."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000, description="Why (kept in the ledger)")


def _operations(request: Request) -> Operations:
    return operations_of(request.app.state.service)


@router.get("")
def list_operations(
    request: Request,
    principal: Caller,
    tenant: str = Query(description="Tenant name"),
    conversation: str | None = Query(None, description="Only this conversation's entries"),
    status: str | None = Query(None, description="Only entries with this status"),
    limit: int = Query(100, ge=1, le=MAX_LIMIT, description="At most this many, newest first"),
) -> list[dict[str, Any]]:
    """The tenant's operation ledger entries (every attempt and state change), newest first."""
    authorize(principal, tenant, "viewer")
    entries = _operations(request).ledger.list(
        tenant, conversation_id=conversation, status=status, limit=limit
    )
    return [e.to_dict() for e in entries]


@router.get("/{ledger_id}")
def get_operation(ledger_id: int, request: Request, principal: Caller) -> dict[str, Any]:
    """One ledger entry."""
    entry = _operations(request).ledger.get(ledger_id)
    authorize(principal, entry.tenant, "viewer")
    return entry.to_dict()


def _tenant_of(ops: Operations, ledger_id: int, principal: Caller) -> str:
    """The tenant of entry ``ledger_id``, once the caller is known to supervise it."""
    tenant = ops.ledger.get(ledger_id).tenant
    authorize(principal, tenant, "supervisor")
    return tenant


@router.post("/{ledger_id}/approve")
def approve(
    ledger_id: int, request: Request, principal: Caller, body: Decision | None = None
) -> dict[str, Any]:
    """Approve a queued operation (its ``awaiting_approval`` entry) and run it: the outcome."""
    ops = _operations(request)
    tenant = _tenant_of(ops, ledger_id, principal)
    outcome = ops.approve(
        ledger_id, principal.display, note=body.note if body else None, tenant=tenant
    )
    return outcome.to_dict()


@router.post("/{ledger_id}/reject")
def reject(
    ledger_id: int, request: Request, principal: Caller, body: Decision | None = None
) -> dict[str, Any]:
    """Reject a queued operation: the ``rejected`` entry."""
    ops = _operations(request)
    tenant = _tenant_of(ops, ledger_id, principal)
    return ops.reject(
        ledger_id, principal.display, body.note if body else None, tenant=tenant
    ).to_dict()


@router.post("/{ledger_id}/reconcile")
def reconcile(ledger_id: int, request: Request, principal: Caller) -> dict[str, Any]:
    """Settle an operation whose outcome is unknown (or whose process died mid-write): checked
    against the shop by its idempotency key, run once more only if it provably did not happen.
    Any other operation: its recorded outcome. Returns the outcome."""
    ops = _operations(request)
    tenant = _tenant_of(ops, ledger_id, principal)
    return ops.reconcile(ledger_id, tenant=tenant).to_dict()
