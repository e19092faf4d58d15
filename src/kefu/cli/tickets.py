"""`kefu ticket`: tickets (工单) from the terminal: list, show, comment, change status, mark SLA
breaches.

A command that changes a ticket sends the webhooks it caused before it exits (the CLI process
has no background sender that would outlive it); ``kefu ticket sla`` is meant for cron (every
minute or so): it marks breaches and sends every pending webhook delivery.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kefu.cli.common import console, handle_errors, print_json, state
from kefu.humans.tickets import Ticket, TicketService

app = typer.Typer(help="Tickets (工单).", no_args_is_help=True)


def _tickets(ctx: typer.Context) -> TicketService:
    tickets: TicketService = state(ctx).service(embedder=None).tickets
    tickets.webhooks.autostart = False  # sent before the command exits (see _flush)
    return tickets


def _flush(tickets: TicketService) -> None:
    """Send the webhooks this command caused (each attempt at most once; failures are retried
    by the server's sender or the next ``kefu ticket sla``)."""
    tickets.webhooks.deliver_pending()
    tickets.webhooks.close()


def _out() -> Console:
    return console if console.is_terminal else Console(file=sys.stdout, width=160)


def _sla(ticket: Ticket) -> str:
    return str(ticket.sla["state"])


@app.command("list")
@handle_errors
def list_cmd(
    ctx: typer.Context,
    tenant_name: Annotated[str, typer.Option("--tenant", help="Tenant")],
    status: Annotated[str | None, typer.Option(help="Only this status")] = None,
    priority: Annotated[str | None, typer.Option(help="Only this priority (P1-P4)")] = None,
    queue: Annotated[str | None, typer.Option(help="Only this queue")] = None,
    breached: Annotated[
        bool | None, typer.Option("--breached/--not-breached", help="Only (not) breached")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, most urgent first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Every field, as JSON")] = False,
) -> None:
    """A tenant's tickets, most urgent first."""
    items, total = _tickets(ctx).list(
        tenant_name,
        status=status,
        priority=priority,
        queue=queue,
        breached=breached,
        limit=limit,
    )
    if as_json:
        print_json({"items": [t.to_dict() for t in items], "total": total})
        return
    table = Table("id", "pri", "status", "sla", "queue", "category", "assignee", "subject")
    for t in items:
        table.add_row(
            str(t.id),
            t.priority,
            t.status,
            _sla(t),
            t.queue,
            t.category,
            t.assignee or "-",
            t.subject,
        )
    out = _out()
    out.print(table)
    out.print(f"{len(items)} of {total}")


@app.command("show")
@handle_errors
def show(
    ctx: typer.Context,
    ticket_id: Annotated[int, typer.Argument(help="Ticket id")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One ticket and its history."""
    ticket = _tickets(ctx).get(ticket_id)
    if as_json:
        print_json(ticket.to_dict())
        return
    out = _out()
    out.print(f"[bold]#{ticket.id}[/] {ticket.subject}", highlight=False)
    fields: list[tuple[str, Any]] = [
        ("tenant", ticket.tenant),
        ("status", ticket.status),
        ("priority", ticket.priority),
        ("queue", ticket.queue),
        ("category", ticket.category),
        ("source", ticket.source),
        ("assignee", ticket.assignee or "-"),
        ("conversation", ticket.conversation_id or "-"),
        ("sla", f"{ticket.sla['state']} ({ticket.sla['target'] or 'done'})"),
        ("first response due", ticket.first_response_due_at.isoformat(" ", "minutes")),
        ("resolution due", ticket.resolution_due_at.isoformat(" ", "minutes")),
    ]
    for name, value in fields:
        out.print(f"  {name}: {value}", highlight=False)
    if ticket.description:
        out.print(ticket.description, highlight=False, markup=False)
    for e in ticket.events or []:
        line = f"  {e.created_at:%Y-%m-%d %H:%M} {e.actor} {e.kind}"
        if e.kind in ("status", "priority", "queue", "assigned"):
            line += f" {e.data.get('from')} -> {e.data.get('to')}"
        if e.body:
            line += f": {e.body}"
        out.print(line, highlight=False, markup=False)


@app.command("comment")
@handle_errors
def comment(
    ctx: typer.Context,
    ticket_id: Annotated[int, typer.Argument(help="Ticket id")],
    text: Annotated[str, typer.Argument(help="The comment")],
    actor: Annotated[str, typer.Option("--as", help="Who writes it (an agent's name)")],
) -> None:
    """Add a comment (an agent's first comment is the first response)."""
    tickets = _tickets(ctx)
    event = tickets.comment(ticket_id, text, actor=actor)
    _flush(tickets)
    console.print(f"comment {event.id} added to ticket {ticket_id}", highlight=False)


@app.command("status")
@handle_errors
def status_cmd(
    ctx: typer.Context,
    ticket_id: Annotated[int, typer.Argument(help="Ticket id")],
    status: Annotated[
        str,
        typer.Argument(help="open, in_progress, waiting_customer, resolved or closed"),
    ],
    actor: Annotated[str, typer.Option("--as", help="Who changes it")] = "cli",
    note: Annotated[str | None, typer.Option(help="Why")] = None,
) -> None:
    """Move a ticket along its workflow (an invalid move is refused, naming from and to)."""
    tickets = _tickets(ctx)
    ticket = tickets.update(ticket_id, actor=actor, status=status, note=note)
    _flush(tickets)
    console.print(f"ticket {ticket.id} is now {ticket.status}", highlight=False)


@app.command("assign")
@handle_errors
def assign(
    ctx: typer.Context,
    ticket_id: Annotated[int, typer.Argument(help="Ticket id")],
    assignee: Annotated[str, typer.Argument(help="An agent's username ('' unassigns)")],
    actor: Annotated[str, typer.Option("--as", help="Who assigns it")] = "cli",
) -> None:
    """Assign a ticket to an agent of its tenant."""
    tickets = _tickets(ctx)
    ticket = tickets.update(ticket_id, actor=actor, assignee=assignee)
    _flush(tickets)
    console.print(f"ticket {ticket.id} assigned to {ticket.assignee or 'nobody'}", highlight=False)


@app.command("sla")
@handle_errors
def sla(
    ctx: typer.Context,
    tenant_name: Annotated[str, typer.Option("--tenant", help="Tenant")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Mark the tenant's tickets past their SLA as breached now, print them, and send pending
    webhooks (run it from cron)."""
    tickets = _tickets(ctx)
    marked = tickets.mark_breaches(tenant=tenant_name)
    _flush(tickets)
    if as_json:
        print_json([t.to_dict() for t in marked])
        return
    out = _out()
    if not marked:
        out.print("no new breaches")
        return
    table = Table("id", "pri", "status", "target", "queue", "subject")
    for t in marked:
        target = "first_response" if t.first_responded_at is None else "resolution"
        table.add_row(str(t.id), t.priority, t.status, target, t.queue, t.subject)
    out.print(table)
    out.print(f"{len(marked)} ticket(s) newly breached")
