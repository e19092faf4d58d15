"""``kefu report cost``: a tenant's LLM calls, tokens and cost from the stored calls."""

from __future__ import annotations

import csv
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kefu.cli.common import console, handle_errors, print_json, state
from kefu.errors import InvalidInputError
from kefu.llm.cost import CostTotals, money
from kefu.storage.llm_calls import REPORT_BY, CostReport, parse_day

app = typer.Typer(help="Reports on what the bot did and cost.", no_args_is_help=True)

FORMATS = ("table", "csv", "json")
CSV_COLUMNS = (
    "calls",
    "failed_calls",
    "unpriced_calls",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "currency",
    "conversations",
)
TOTAL_KEY = "TOTAL"


@app.command("cost")
@handle_errors
def cost(
    ctx: typer.Context,
    tenant_name: Annotated[str, typer.Option("--tenant", help="Tenant to report on")],
    since: Annotated[
        str | None, typer.Option(help="First day, YYYY-MM-DD (UTC), inclusive")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD (UTC), inclusive")] = None,
    by: Annotated[str, typer.Option(help="Group by day, conversation, model or purpose")] = "day",
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """LLM calls, failed calls, tokens in/out and cost, in total and per group; with the cost
    per conversation."""
    if by not in REPORT_BY:
        raise InvalidInputError(
            f"--by must be one of {', '.join(REPORT_BY)}, not {by!r}", field="by"
        )
    if fmt not in FORMATS:
        raise InvalidInputError(
            f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}", field="format"
        )
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    if first and last and last < first:
        raise InvalidInputError(
            f"--until ({last.isoformat()}) is before --since ({first.isoformat()})",
            field="until",
        )
    svc = state(ctx).service(embedder=None)
    report = svc.llm_calls.report(tenant_name, first, last, by)
    if fmt == "json":
        print_json(report.to_dict())
    elif fmt == "csv":
        _csv(report)
    else:
        _table(report)


def _cost(totals: CostTotals) -> str:
    if totals.cost is None:  # several currencies
        return " + ".join(f"{money(v)} {c}" for c, v in totals.costs.items())
    return money(totals.cost)


def _csv(report: CostReport) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([report.by, *CSV_COLUMNS])
    lines = [(line.key, line.totals) for line in report.lines]
    for key, totals in [*lines, (TOTAL_KEY, report.totals)]:
        writer.writerow(
            [
                key,
                totals.calls,
                totals.failed_calls,
                totals.unpriced_calls,
                totals.prompt_tokens,
                totals.completion_tokens,
                _cost(totals),
                totals.currency or "",
                totals.conversations,
            ]
        )


def _table(report: CostReport) -> None:
    span = f"{report.since or '…'} – {report.until or '…'}"
    table = Table(
        report.by,
        "calls",
        "failed",
        "tokens in",
        "tokens out",
        "cost",
        title=f"LLM cost of {report.tenant} ({span}, UTC)",
    )
    key = table.columns[0]
    key.no_wrap = True
    key.min_width = min(40, max((len(line.key) for line in report.lines), default=5))
    for column in table.columns[1:]:
        column.justify = "right"
    for line in report.lines:
        table.add_row(line.key or "-", *_cells(line.totals))
    table.add_section()
    table.add_row("total", *_cells(report.totals), style="bold")
    # piped or redirected: as wide as the table needs, never a folded id or amount
    out = console
    if not console.is_terminal:
        out = Console(file=sys.stdout, width=max(console.width, key.min_width + 70))
    out.print(table)
    t = report.totals
    per_conv = t.cost_per_conversation
    plural = "" if t.conversations == 1 else "s"
    out.print(
        f"{t.calls} calls ({t.failed_calls} failed, {t.unpriced_calls} unpriced) in "
        f"{t.conversations} conversation{plural}; cost per conversation: "
        f"{'-' if per_conv is None else money(per_conv)} {t.currency or ''}".rstrip(),
        highlight=False,
        soft_wrap=True,
    )


def _cells(totals: CostTotals) -> list[str]:
    currency = f" {totals.currency}" if totals.currency else ""
    return [
        str(totals.calls),
        str(totals.failed_calls),
        str(totals.prompt_tokens),
        str(totals.completion_tokens),
        _cost(totals) + (currency if totals.cost is not None else ""),
    ]
