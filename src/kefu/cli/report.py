"""``kefu report``: ``cost`` (a tenant's LLM calls, tokens and cost from the stored calls) and
the analytics reports ``summary``, ``daily``, ``intents``, ``unanswered`` and ``roi``."""

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


# -- analytics (kefu.analytics): summary, daily, intents, unanswered, roi ---------------------
TenantOpt = Annotated[str, typer.Option("--tenant", help="Tenant to report on")]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="First day, YYYY-MM-DD (UTC), inclusive")
]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (UTC), inclusive")]
LimitOpt = Annotated[int, typer.Option(help="At most this many rows")]

SUMMARY_ROWS = (
    ("conversations", "conversations"),
    ("engaged_conversations", "with a customer message"),
    ("finished_conversations", "finished"),
    ("automation_rate", "automation rate"),
    ("self_resolution_rate", "self-resolution rate"),
    ("transfer_rate", "transfer-to-human rate"),
    ("first_response_time_s", "first response (s)"),
    ("human_first_response_time_s", "human first response (s)"),
    ("average_handle_time_s", "average handle time (s)"),
    ("human_handle_time_s", "human handle time (s)"),
    ("csat", "CSAT (1-5)"),
    ("repeat_contact_rate", "repeat-contact rate"),
    ("negative_share", "negative customer turns"),
    ("llm_cost", "LLM cost"),
    ("llm_cost_per_conversation", "LLM cost / conversation"),
    ("llm_cost_per_resolution", "LLM cost / resolution"),
)


def _check_format(fmt: str, allowed: tuple[str, ...]) -> None:
    if fmt not in allowed:
        raise InvalidInputError(
            f"--format must be one of {', '.join(allowed)}, not {fmt!r}", field="format"
        )


def _show(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _print_table(table: Table) -> None:
    out = console if console.is_terminal else Console(file=sys.stdout, width=200)
    out.print(table)


@app.command("summary")
@handle_errors
def summary(
    ctx: typer.Context,
    tenant_name: TenantOpt,
    first: FromOpt = None,
    last: ToOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Headline metrics: automation, self-resolution, transfer, response and handle times,
    CSAT, repeat contacts, LLM cost (see docs/analytics.md)."""
    _check_format(fmt, ("table", "json"))
    data = state(ctx).service(embedder=None).analytics.summary(tenant_name, first, last)
    if fmt == "json":
        print_json(data)
        return
    p = data["period"]
    span = f"{p['from'] or p['data_from'] or '…'} – {p['to'] or p['data_to'] or '…'}"
    table = Table("metric", "value", title=f"{tenant_name} ({span}, UTC)")
    table.columns[1].justify = "right"
    for key, label in SUMMARY_ROWS:
        table.add_row(label, _show(data[key]))
    d = data["csat_detail"]
    table.add_row("CSAT responses / share 4-5", f"{d['responses']} / {_show(d['share_satisfied'])}")
    _print_table(table)


@app.command("daily")
@handle_errors
def daily(
    ctx: typer.Context,
    tenant_name: TenantOpt,
    first: FromOpt = None,
    last: ToOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """One row per day with every metric (csv: the same columns as the API's export)."""
    _check_format(fmt, FORMATS)
    analytics = state(ctx).service(embedder=None).analytics
    if fmt == "csv":
        sys.stdout.write(analytics.export_csv(tenant_name, first, last, "daily"))
        return
    rows = analytics.daily(tenant_name, first, last)
    if fmt == "json":
        print_json(rows)
        return
    cols = (
        ("conversations", "conv."),
        ("automation_rate", "automation"),
        ("self_resolution_rate", "self-resolved"),
        ("transfer_rate", "transfer"),
        ("first_response_time_s", "FRT s"),
        ("average_handle_time_s", "AHT s"),
        ("csat", "CSAT"),
        ("negative_share", "negative"),
        ("llm_cost", "LLM cost"),
    )
    table = Table("day", *(label for _, label in cols), title=f"{tenant_name} per day (UTC)")
    for column in table.columns[1:]:
        column.justify = "right"
    for row in rows:
        table.add_row(row["day"], *(_show(row[key]) for key, _ in cols))
    _print_table(table)


@app.command("intents")
@handle_errors
def intents(
    ctx: typer.Context,
    tenant_name: TenantOpt,
    first: FromOpt = None,
    last: ToOpt = None,
    limit: LimitOpt = 30,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Intent distribution of the customers' messages."""
    _check_format(fmt, ("table", "json"))
    data = state(ctx).service(embedder=None).analytics.intents(tenant_name, first, last, limit)
    if fmt == "json":
        print_json(data)
        return
    table = Table("intent", "turns", "conversations", "share", title=f"{tenant_name} intents")
    for item in data["items"]:
        table.add_row(
            item["intent"], str(item["turns"]), str(item["conversations"]), _show(item["share"])
        )
    _print_table(table)


@app.command("unanswered")
@handle_errors
def unanswered(
    ctx: typer.Context,
    tenant_name: TenantOpt,
    first: FromOpt = None,
    last: ToOpt = None,
    limit: LimitOpt = 30,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Questions the bot could not answer (fallback, clarify, low confidence), most asked
    first."""
    _check_format(fmt, ("table", "json"))
    data = (
        state(ctx)
        .service(embedder=None)
        .analytics.questions(tenant_name, first, last, limit, unanswered=True)
    )
    if fmt == "json":
        print_json(data)
        return
    table = Table("question", "times", "conversations", "last day", title="unanswered questions")
    for item in data["items"]:
        table.add_row(
            item["example"], str(item["count"]), str(item["conversations"]), item["last_day"]
        )
    _print_table(table)


@app.command("roi")
@handle_errors
def roi(
    ctx: typer.Context,
    tenant_name: TenantOpt,
    first: FromOpt = None,
    last: ToOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Agents saved (FTE) and money saved per month against kefu's cost (settings
    analytics.*)."""
    _check_format(fmt, ("table", "json"))
    data = state(ctx).service(embedder=None).analytics.summary(tenant_name, first, last)["roi"]
    if fmt == "json":
        print_json(data)
        return
    cur = data["currency"]
    table = Table("ROI (per month)", "value", title=f"{tenant_name}, {data['period_days']} day(s)")
    table.columns[1].justify = "right"
    for key, label in (
        ("automated_conversations", "automated conversations in the period"),
        ("automated_per_month", "automated conversations / month"),
        ("agents_saved_fte", "agents saved (FTE)"),
        ("money_saved_per_month", f"agent cost saved ({cur})"),
        ("llm_cost_per_month", f"LLM cost ({cur})"),
        ("system_cost_per_month", f"system + LLM cost ({cur})"),
        ("net_saving_per_month", f"net saving ({cur})"),
        ("roi", "ROI (net / cost)"),
    ):
        table.add_row(label, _show(data[key]))
    _print_table(table)
