"""`kefu` commands for automated quality inspection (质检): score the finished conversations,
list and show the scores, override a dimension."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kefu.cli.common import console, handle_errors, print_json, state
from kefu.quality.inspection import QaService
from kefu.quality.qa_settings import DIMENSION_NAMES, DIMENSIONS

app = typer.Typer(help="Automated quality inspection (质检).", no_args_is_help=True)


def _qa(ctx: typer.Context, embedder: Any = None) -> QaService:
    qa: QaService = state(ctx).service(embedder=embedder).qa
    return qa


def _out() -> Console:
    return console if console.is_terminal else Console(file=sys.stdout, width=200)


@app.command("run")
@handle_errors
def run(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant (default: every tenant)")
    ] = None,
    limit: Annotated[int, typer.Option(help="Score at most this many")] = 10_000,
    rescore: Annotated[
        bool, typer.Option("--rescore", help="Also re-score those scored under another rubric")
    ] = False,
) -> None:
    """Score the finished conversations not yet scored at their last event. The embedder is
    loaded (as the server does) to tell which fallbacks the knowledge base now answers."""
    scored = _qa(ctx, embedder="auto").score_finished(tenant, limit=limit, rescore=rescore)
    typer.echo(f"scored {scored} conversation(s)")


@app.command("list")
@handle_errors
def list_cmd(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant")],
    flagged: Annotated[bool, typer.Option("--flagged", help="Only flagged conversations")] = False,
    dimension: Annotated[
        str | None, typer.Option(help="Only conversations failing this dimension")
    ] = None,
    agent: Annotated[str | None, typer.Option(help="Only this agent's conversations")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Every field, as JSON")] = False,
) -> None:
    """A tenant's scored conversations, the most recently active first."""
    items, total = _qa(ctx).list(
        tenant,
        flagged=True if flagged else None,
        dimension=dimension,
        agent=agent,
        limit=limit,
        offset=offset,
    )
    if as_json:
        print_json({"items": [r.to_dict(detail=False) for r in items], "total": total})
        return
    table = Table("conversation", "last event (UTC)", "total", "flag", "failed", "agents")
    for r in items:
        table.add_row(
            r.conversation_id,
            r.last_event_at.strftime("%Y-%m-%d %H:%M") if r.last_event_at else "-",
            f"{r.total:g}",
            "FLAG" if r.flagged else "",
            ", ".join(r.failed) or "-",
            ", ".join(r.agents) or "-",
        )
    out = _out()
    out.print(table)
    out.print(f"{len(items)} of {total}")


@app.command("show")
@handle_errors
def show(
    ctx: typer.Context,
    conversation_id: Annotated[str, typer.Argument(help="Conversation id")],
    as_json: Annotated[bool, typer.Option("--json", help="Every field, as JSON")] = False,
) -> None:
    """One conversation's scores, reasons and overrides (scored now if it was not yet)."""
    qa = _qa(ctx)
    result = qa.get(conversation_id) or qa.score(conversation_id)
    history = qa.overrides(conversation_id)
    if as_json:
        print_json({**result.to_dict(), "overrides": history})
        return
    out = _out()
    flag = " [bold red]FLAGGED[/]" if result.flagged else ""
    out.print(f"conversation {result.conversation_id}  total {result.total:g}{flag}")
    for reason in result.reasons:
        out.print(f"  ! {reason['en']}")
    table = Table("dimension", "score", "passed", "reasons")
    for d in DIMENSIONS:
        auto = result.scores.get(d) or {}
        over = result.override.get(d)
        score = f"{result.score_of(d)}"
        if over is not None:
            score += f" (override by {over['by']}; auto {auto.get('score')})"
        elif not auto.get("applicable"):
            score += " (n/a)"
        reasons = "; ".join(
            f"[{r['code']}] {r['en']}" for r in auto.get("reasons", []) if r["penalty"]
        )
        table.add_row(
            f"{d} {DIMENSION_NAMES[d][0]}", score, "no" if d in result.failed else "yes", reasons
        )
    out.print(table)
    for h in history:
        out.print(
            f"override #{h['id']} {h['at']} {h['by']}: {h['dimension']} "
            f"{h['before']} -> {h['after']} {h['note']}"
        )


@app.command("override")
@handle_errors
def override(
    ctx: typer.Context,
    conversation_id: Annotated[str, typer.Argument(help="Conversation id")],
    dimension: Annotated[str, typer.Option(help=f"One of {', '.join(DIMENSIONS)}")],
    score: Annotated[int, typer.Option(help="The new score, 0-100")],
    by: Annotated[str, typer.Option(help="Who decides (kept in the history)")],
    note: Annotated[str, typer.Option(help="Why")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="The scores after it, as JSON")] = False,
) -> None:
    """Set a dimension's score by hand (kept when the conversation is scored again)."""
    result = _qa(ctx).override(conversation_id, dimension, score, by=by, note=note)
    if as_json:
        print_json(result.to_dict())
        return
    flag = " (flagged)" if result.flagged else ""
    typer.echo(f"{dimension} = {score}; total {result.total:g}{flag}")
