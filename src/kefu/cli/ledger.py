"""``kefu ledger``: the operation ledger (list entries, approve or reject queued writes)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kefu.cli.common import console, handle_errors, print_json, state
from kefu.operations.execute import Operations, operations_of

app = typer.Typer(
    help="The operation ledger: every shop write attempt; the approval queue.",
    no_args_is_help=True,
)


def _operations(ctx: typer.Context) -> Operations:
    return operations_of(state(ctx).service(embedder=None))


def _detail(entry: dict[str, Any]) -> str:
    result = entry.get("result") or {}
    refusal = result.get("refusal")
    if refusal:
        return f"{refusal['reason']}: {refusal['message']}"
    if entry.get("note"):
        return str(entry["note"])
    target = entry["arguments"].get("order_id") or entry["arguments"].get("customer_id") or ""
    return str(target)


@app.command("list")
@handle_errors
def list_cmd(
    ctx: typer.Context,
    tenant_name: Annotated[str, typer.Option("--tenant", help="Tenant")],
    conversation: Annotated[
        str | None, typer.Option(help="Only this conversation's entries")
    ] = None,
    status: Annotated[str | None, typer.Option(help="Only entries with this status")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Every field, as JSON")] = False,
) -> None:
    """A tenant's ledger entries, newest first."""
    entries = _operations(ctx).ledger.list(
        tenant_name, conversation_id=conversation, status=status, limit=limit
    )
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    table = Table("id", "time (UTC)", "operation", "status", "actor", "key", "detail")
    for e in entries:
        d = e.to_dict()
        table.add_row(
            str(e.id),
            e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.operation,
            e.status,
            e.actor,
            (e.idempotency_key or "-")[:14],
            _detail(d),
        )
    out = console if console.is_terminal else Console(file=sys.stdout, width=160)
    out.print(table)


@app.command("approve")
@handle_errors
def approve(
    ctx: typer.Context,
    ledger_id: Annotated[int, typer.Argument(help="Id of the awaiting_approval entry")],
    approver: Annotated[str, typer.Option(help="Who approves")],
    note: Annotated[str | None, typer.Option(help="Why")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Approve a queued operation and run it (checked against its preview again)."""
    outcome = _operations(ctx).approve(ledger_id, approver, note=note)
    if as_json:
        print_json(outcome.to_dict())
        return
    detail = f" ({outcome.refusal.reason}: {outcome.refusal.message})" if outcome.refusal else ""
    console.print(
        f"operation {ledger_id}: {outcome.status}{detail}; ledger entry {outcome.ledger_id}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("reject")
@handle_errors
def reject(
    ctx: typer.Context,
    ledger_id: Annotated[int, typer.Argument(help="Id of the awaiting_approval entry")],
    approver: Annotated[str, typer.Option(help="Who rejects")],
    note: Annotated[str | None, typer.Option(help="Why")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Reject a queued operation (nothing is written)."""
    entry = _operations(ctx).reject(ledger_id, approver, note)
    if as_json:
        print_json(entry.to_dict())
        return
    console.print(
        f"operation {ledger_id}: rejected; ledger entry {entry.id}", highlight=False, soft_wrap=True
    )


@app.command("reconcile")
@handle_errors
def reconcile(
    ctx: typer.Context,
    ledger_id: Annotated[int, typer.Argument(help="Id of any entry of the operation")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Settle an operation whose outcome is unknown: checked against the shop, never applied
    twice; any other operation shows its recorded outcome."""
    outcome = _operations(ctx).reconcile(ledger_id)
    if as_json:
        print_json(outcome.to_dict())
        return
    console.print(
        f"operation {ledger_id}: {outcome.status}; ledger entry {outcome.ledger_id}",
        highlight=False,
        soft_wrap=True,
    )
