"""`kefu drafts`: FAQ drafts mined from unanswered questions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from kefu.cli.common import console, handle_errors, print_json, state
from kefu.quality.drafts import Draft

app = typer.Typer(
    help="Suggested FAQ drafts mined from unanswered questions.", no_args_is_help=True
)


def _show(draft: Draft) -> None:
    console.print(
        f"[bold]#{draft.id}[/] {draft.status} ({draft.language}, asked {draft.support}x)",
        highlight=False,
    )
    console.print(f"question: {draft.question}", markup=False, highlight=False)
    for q in draft.similar_questions:
        console.print(f"  similar: {q}", markup=False, highlight=False)
    console.print(f"answer: {draft.answer or '-'}", markup=False, highlight=False)
    if draft.answer_hint:
        hint = f"hint (from FAQ {draft.hint_faq_id}): {draft.answer_hint}"
        console.print(hint, markup=False, highlight=False)
    console.print(f"category: {draft.category or '-'}", markup=False, highlight=False)
    if draft.near_faq_id:
        console.print(
            f"may duplicate FAQ {draft.near_faq_id} (similarity {draft.near_score}): "
            f"consider `kefu drafts merge {draft.id} --faq-id {draft.near_faq_id}`",
            markup=False,
            highlight=False,
        )
    if draft.decided_by:
        console.print(
            f"decided by {draft.decided_by} at {draft.decided_at}"
            + (f"; FAQ {draft.faq_id}" if draft.faq_id else "")
            + (f"; note: {draft.note}" if draft.note else ""),
            markup=False,
            highlight=False,
        )
    console.print(f"examples: {', '.join(draft.examples)}", markup=False, highlight=False)


@app.command("mine")
@handle_errors
def mine(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    since: Annotated[
        datetime | None,
        typer.Option(help="Only conversations started at or after this time (UTC)"),
    ] = None,
) -> None:
    """Cluster the tenant's unanswered questions into suggested FAQ drafts."""
    result = state(ctx).service().drafts.mine(tenant, since=since)
    console.print(f"{result.new} new, {result.updated} updated drafts for [bold]{tenant}[/]")


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    status: Annotated[
        str | None, typer.Option(help="suggested, approved, rejected or merged")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """The tenant's drafts, most asked first."""
    drafts = state(ctx).service(embedder=None).drafts.list(tenant, status)
    if json_:
        print_json([d.to_dict() for d in drafts])
        return
    table = Table("id", "status", "lang", "asked", "question", "answer", "may duplicate")
    for d in drafts:
        table.add_row(
            str(d.id),
            d.status,
            d.language,
            str(d.support),
            d.question,
            d.answer[:40] or "-",
            d.near_faq_id or "",
        )
    console.print(table)


@app.command("show")
@handle_errors
def show(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(help="Draft id")],
    json_: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """One draft in full."""
    draft = state(ctx).service(embedder=None).drafts.get(draft_id)
    if json_:
        print_json(draft.to_dict())
    else:
        _show(draft)


@app.command("approve")
@handle_errors
def approve(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(help="Draft id")],
    by: Annotated[str, typer.Option(help="Who approves (recorded)")],
    answer: Annotated[str | None, typer.Option(help="The answer (replaces the draft's)")] = None,
    faq_id: Annotated[str | None, typer.Option(help="Id of the new FAQ entry")] = None,
) -> None:
    """Create an FAQ entry from a suggested draft."""
    draft = (
        state(ctx).service(embedder=None).drafts.approve(draft_id, by, faq_id=faq_id, answer=answer)
    )
    console.print(f"draft {draft.id} approved: FAQ [bold]{draft.faq_id}[/] ({draft.language})")


@app.command("merge")
@handle_errors
def merge(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(help="Draft id")],
    faq_id: Annotated[str, typer.Option(help="The existing FAQ to add the questions to")],
    by: Annotated[str, typer.Option(help="Who decides (recorded)")],
) -> None:
    """Add a suggested draft's questions to an existing FAQ entry as similar questions."""
    draft = state(ctx).service(embedder=None).drafts.merge(draft_id, by, faq_id)
    console.print(f"draft {draft.id} merged into FAQ [bold]{draft.faq_id}[/]")


@app.command("reject")
@handle_errors
def reject(
    ctx: typer.Context,
    draft_id: Annotated[int, typer.Argument(help="Draft id")],
    by: Annotated[str, typer.Option(help="Who decides (recorded)")] = "cli",
    note: Annotated[str | None, typer.Option(help="Why")] = None,
) -> None:
    """Reject a suggested draft (its questions are never suggested again)."""
    draft = state(ctx).service(embedder=None).drafts.reject(draft_id, by, note)
    console.print(f"draft {draft.id} rejected")
