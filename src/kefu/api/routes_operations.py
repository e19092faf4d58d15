"""The operation ledger over HTTP: list a tenant's entries, approve or reject queued writes,
reconcile a write whose outcome is unknown."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kefu.operations.execute import Operations, operations_of
from kefu.storage.ledger import MAX_LIMIT

router = APIRouter(prefix="/v1/operations", tags=["operations"])


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approver: str = Field(min_length=1, max_length=64, description="Who decides")
    note: str | None = Field(None, max_length=2000, description="Why (kept in the ledger)")


def _operations(request: Request) -> Operations:
    return operations_of(request.app.state.service)


@router.get("")
def list_operations(
    request: Request,
    tenant: str = Query(description="Tenant name"),
    conversation: str | None = Query(None, description="Only this conversation's entries"),
    status: str | None = Query(None, description="Only entries with this status"),
    limit: int = Query(100, ge=1, le=MAX_LIMIT, description="At most this many, newest first"),
) -> list[dict[str, Any]]:
    """The tenant's operation ledger entries (every attempt and state change), newest first."""
    entries = _operations(request).ledger.list(
        tenant, conversation_id=conversation, status=status, limit=limit
    )
    return [e.to_dict() for e in entries]


@router.get("/{ledger_id}")
def get_operation(ledger_id: int, request: Request) -> dict[str, Any]:
    """One ledger entry."""
    return _operations(request).ledger.get(ledger_id).to_dict()


@router.post("/{ledger_id}/approve")
def approve(ledger_id: int, body: Decision, request: Request) -> dict[str, Any]:
    """Approve a queued operation (its ``awaiting_approval`` entry) and run it: the outcome."""
    outcome = _operations(request).approve(ledger_id, body.approver, note=body.note)
    return outcome.to_dict()


@router.post("/{ledger_id}/reject")
def reject(ledger_id: int, body: Decision, request: Request) -> dict[str, Any]:
    """Reject a queued operation: the ``rejected`` entry."""
    return _operations(request).reject(ledger_id, body.approver, body.note).to_dict()


@router.post("/{ledger_id}/reconcile")
def reconcile(ledger_id: int, request: Request) -> dict[str, Any]:
    """Settle an operation whose outcome is unknown (or whose process died mid-write): checked
    against the shop by its idempotency key, run once more only if it provably did not happen.
    Any other operation: its recorded outcome. Returns the outcome."""
    return _operations(request).reconcile(ledger_id).to_dict()
