"""``kefu kb import|export|list``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kefu.cli.common import console, err_console, handle_errors, print_json, state
from kefu.errors import InvalidInputError
from kefu.knowledge.kb_io import SUPPORTED_FORMATS, dump_faq, read_faq_file

app = typer.Typer(help="Manage the FAQ knowledge base.", no_args_is_help=True)


@app.command("import")
@handle_errors
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV, JSON, JSONL or XLSX file")],
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    replace: Annotated[
        bool, typer.Option(help="Delete FAQ entries that are not in the file")
    ] = False,
) -> None:
    """Import FAQ entries (all or nothing: any bad row aborts, nothing is written)."""
    svc = state(ctx).service(embedder=None)
    svc.tenants.get(tenant)  # fail before reading a large file
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as progress:
        read_task = progress.add_task("reading", total=None)
        entries = read_faq_file(
            file,
            progress=lambda done, total: progress.update(read_task, completed=done, total=total),
        )
        save_task = progress.add_task("saving", total=len(entries))
        created, updated = svc.faqs.upsert_many(
            tenant,
            entries,
            replace=replace,
            progress=lambda done, total: progress.update(save_task, completed=done, total=total),
        )
    ids = {e.id for e in entries}
    console.print(
        f"imported {len(entries)} rows ({len(ids)} FAQs) into [bold]{tenant}[/]: "
        f"{created} new, {updated} updated"
    )


@app.command("export")
@handle_errors
def export(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    fmt: Annotated[str, typer.Option("--format", help="csv, json, jsonl or xlsx")] = "jsonl",
    output: Annotated[Path | None, typer.Option(help="File to write (default stdout)")] = None,
) -> None:
    """Export the knowledge base in an importable format."""
    if fmt not in SUPPORTED_FORMATS:
        raise InvalidInputError(f"--format must be one of {', '.join(SUPPORTED_FORMATS)}")
    svc = state(ctx).service(embedder=None)
    data = dump_faq(svc.faqs.all(tenant), fmt)
    if output is None:
        if fmt == "xlsx":
            raise InvalidInputError("xlsx needs --output FILE")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        err_console.print(f"wrote {output}")


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List FAQ entries."""
    svc = state(ctx).service(embedder=None)
    entries = svc.faqs.all(tenant)
    if as_json:
        print_json(
            [
                {
                    "id": e.id,
                    "language": e.language,
                    "category": e.category,
                    "question": e.question,
                    "enabled": e.enabled,
                }
                for e in entries
            ]
        )
        return
    for e in entries:
        flag = "" if e.enabled else " [dim](disabled)[/]"
        console.print(f"{e.id:<14} {e.language}  {e.category:<12} {e.question}{flag}")
