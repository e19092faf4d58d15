"""`kefu inbox`: the agent desk from the command line (conversations waiting for a human).

The CLI runs on the server with direct access to the database, so it acts as a local operator:
``--agent NAME`` is the name recorded on the events (what the customer sees), with every role.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kefu.access.roles import ALL_TENANTS, Principal
from kefu.cli.common import console, handle_errors, print_json, state

app = typer.Typer(
    help="The agent desk (inbox of conversations waiting for a human).", no_args_is_help=True
)

AgentOption = Annotated[str, typer.Option("--agent", help="Agent name shown to the customer")]


def _desk(ctx: typer.Context) -> Any:
    svc = state(ctx).service(embedder=None)
    return svc


def _operator(name: str) -> Principal:
    return Principal("user", name, {ALL_TENANTS: "admin"})


@app.command("list")
@handle_errors
def list_cmd(
    ctx: typer.Context,
    tenant_name: Annotated[str, typer.Option("--tenant", help="Tenant")],
    status: Annotated[
        str, typer.Option(help="waiting, active, open (both), or any handoff status")
    ] = "open",
    queue: Annotated[str | None, typer.Option(help="Only this skill group")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Every field, as JSON")] = False,
) -> None:
    """Handoffs of a tenant, the longest waiting first."""
    svc = _desk(ctx)
    items = [h.to_dict(now=svc.clock()) for h in svc.desk.inbox(tenant_name, status, queue)]
    if as_json:
        print_json({"items": items})
        return
    table = Table("conversation", "status", "queue", "waiting s", "agent", "reason", "summary")
    for i in items:
        table.add_row(
            i["conversation_id"],
            i["status"],
            i["queue"],
            f"{i['waiting_s']:.0f}",
            i["taken_by"] or "-",
            i["reason"],
            " / ".join(i["handoff"].get("summary") or []),
        )
    out = console if console.is_terminal else Console(file=sys.stdout, width=200)
    out.print(table)


@app.command("take")
@handle_errors
def take(
    ctx: typer.Context,
    conversation: Annotated[str, typer.Argument(help="Conversation id")],
    agent: AgentOption,
) -> None:
    """Take a waiting conversation."""
    svc = _desk(ctx)
    print_json(svc.desk.take(conversation, _operator(agent)).to_dict(now=svc.clock()))


@app.command("reply")
@handle_errors
def reply(
    ctx: typer.Context,
    conversation: Annotated[str, typer.Argument(help="Conversation id")],
    text: Annotated[str, typer.Argument(help="The message to the customer")],
    agent: AgentOption,
) -> None:
    """Send a message to the customer of a conversation you hold."""
    print_json(_desk(ctx).desk.agent_message(conversation, _operator(agent), text).to_dict())


@app.command("release")
@handle_errors
def release(
    ctx: typer.Context,
    conversation: Annotated[str, typer.Argument(help="Conversation id")],
    agent: AgentOption,
) -> None:
    """Hand the conversation back to the bot."""
    svc = _desk(ctx)
    print_json(svc.desk.release(conversation, _operator(agent)).to_dict(now=svc.clock()))


@app.command("close")
@handle_errors
def close(
    ctx: typer.Context,
    conversation: Annotated[str, typer.Argument(help="Conversation id")],
    agent: AgentOption,
    reason: Annotated[str, typer.Option(help="Why")] = "resolved",
) -> None:
    """Close the conversation (and its open handoff)."""
    print_json(_desk(ctx).desk.close(conversation, _operator(agent), reason).to_dict())
