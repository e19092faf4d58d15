"""``kefu bench``: benchmarks graded on final business state (``kefu bench tau``)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kefu.cli.common import console, err_console, handle_errors, print_json, state
from kefu.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from kefu.bench import BenchResult, TauTask, TrialRecord
    from kefu.bench.customers import CustomerFactory
    from kefu.bench.llm import BenchLlm

app = typer.Typer(
    help="Benchmarks graded on the final database (tau-bench retail).", no_args_is_help=True
)

AGENTS = ("offline", "llm")
_STEPS = frozenset({"previewed", "confirmed", "approved"})  # ledger rows on the way to an outcome


def _settings(raw: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` tenant settings, parsed as ``kefu tenant set`` parses them."""
    from kefu.settings import parse_cli_value

    out: dict[str, Any] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--setting expects KEY=VALUE, got {item!r}", field="setting")
        out[key.strip()] = parse_cli_value(key.strip(), value)
    return out


def _task_ids(raw: Sequence[str]) -> list[str]:
    return [part.strip() for item in raw for part in item.split(",") if part.strip()]


def _customers(
    tasks: Sequence[TauTask], script: Path | None, llm: BenchLlm | None, temperature: float
) -> tuple[CustomerFactory, str]:
    from kefu.bench.customers import llm_customers, load_script, scripted_customers
    from kefu.bench.tasks import BenchFileError

    if script is not None:
        messages = load_script(script)
        missing = [t.id for t in tasks if t.id not in messages]
        if missing:
            raise BenchFileError(
                str(script), f"task {missing[0]}", "no messages for this task (it is to be run)"
            )
        return scripted_customers(messages), f"scripted ({script.name})"
    if llm is None:
        raise ConfigurationError(
            "the simulated customer needs an LLM (--llm URL or .gguf file) or a script "
            "(--script FILE)",
            field="llm",
        )
    return llm_customers(llm.customer, temperature=temperature), f"llm: {llm.label}"


def _apply_env(changes: dict[str, str | None]) -> None:
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _progress(record: TrialRecord) -> None:
    note = f" ({record.error})" if record.error else ""
    err_console.print(
        f"task {record.task_id} trial {record.trial}: reward {record.reward:g}, "
        f"{record.turns} turns, ended {record.ended}{note}",
        highlight=False,
        markup=False,
    )


def _table(result: BenchResult) -> None:
    """One row per task (its diff and ledger outcomes from its first trial), then pass^k."""
    table = Table(
        "task", "customer", "gold writes", "rewards", "turns", "ended", "kefu writes", "diff"
    )
    by_task: dict[str, list[TrialRecord]] = {}
    for r in result.records:
        by_task.setdefault(r.task_id, []).append(r)
    for task in result.tasks:
        records = by_task.get(task.id, [])
        diff = [d["summary"] for r in records[:1] for d in r.diff[:2]]
        ledger = [
            f"{e['operation']} {e['status']}"
            for r in records[:1]
            for e in r.ledger
            if e["status"] not in _STEPS
        ]
        table.add_row(
            task.id,
            task.user_id,
            ", ".join(a.name for a in task.writes) or "-",
            " ".join(f"{r.reward:g}" for r in records),
            " ".join(str(r.turns) for r in records),
            " ".join(r.ended for r in records),
            escape("; ".join(ledger) or "-"),
            escape("\n".join(diff) or "-"),
        )
    out = console if console.is_terminal else Console(file=sys.stdout, width=200)
    out.print(table)
    passes = "  ".join(f"pass^{k} {v:.3f}" for k, v in result.pass_hat_k().items())
    console.print(
        f"{len(result.tasks)} tasks x {result.trials} trials: average reward "
        f"{result.average_reward():.3f}  {passes}",
        highlight=False,
    )


@app.command("tau")
@handle_errors
def tau(
    ctx: typer.Context,
    tasks_file: Annotated[
        Path, typer.Option("--tasks", help="tau-bench retail task file (tasks_dev.json ...)")
    ],
    shop: Annotated[
        Path | None,
        typer.Option(help="The tau shop: a folder or a db.json (default: the tasks file's folder)"),
    ] = None,
    llm: Annotated[
        str | None,
        typer.Option(
            help="The LLM playing the customer: an OpenAI-compatible http(s) URL or a .gguf file"
        ),
    ] = None,
    llm_model: Annotated[
        str | None, typer.Option(help="Model name at the --llm URL (env KEFU_LLM_MODEL)")
    ] = None,
    llm_timeout: Annotated[
        float | None, typer.Option(help="Seconds for one customer message (retries included)")
    ] = None,
    agent: Annotated[
        str, typer.Option(help="kefu's understanding: offline (the NLU engine) or llm (--llm)")
    ] = "offline",
    script: Annotated[
        Path | None,
        typer.Option(help="Scripted customers (YAML/JSON: task id -> messages) instead of --llm"),
    ] = None,
    trials: Annotated[int, typer.Option(min=1, max=100, help="Trials per task (pass^k)")] = 1,
    limit: Annotated[int | None, typer.Option(min=1, help="Run the first N tasks")] = None,
    task_ids: Annotated[
        list[str] | None,
        typer.Option("--task-ids", help="Only these tasks (positions in the file; 0,3,17)"),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Shuffle the tasks with this seed (before --limit)")
    ] = None,
    max_turns: Annotated[
        int, typer.Option(min=1, max=200, help="Most customer messages per conversation")
    ] = 30,
    temperature: Annotated[
        float, typer.Option(min=0.0, max=2.0, help="Sampling temperature of the customer LLM")
    ] = 1.0,
    setting: Annotated[
        list[str] | None,
        typer.Option("--setting", help="A tenant setting for kefu, KEY=VALUE (repeatable)"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write every trial's record here (JSON lines)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON")] = False,
) -> None:
    """Run tau-bench retail tasks against kefu with a simulated customer; grade each trial on
    the final database (as tau-bench does) and report pass^k."""
    from kefu.bench.llm import bench_llm
    from kefu.bench.runner import TauBench
    from kefu.bench.tasks import load_tasks, select_tasks
    from kefu.service import make_embedder

    if agent not in AGENTS:
        raise InvalidInputError(f"--agent must be offline or llm, not {agent!r}", field="agent")
    if agent == "llm" and llm is None:
        raise ConfigurationError("--agent llm needs --llm", field="agent")
    if llm_model and llm is None:
        raise ConfigurationError("--llm-model needs --llm URL", field="llm_model")
    all_tasks = load_tasks(tasks_file)
    chosen = select_tasks(all_tasks, task_ids=_task_ids(task_ids or []), limit=limit, seed=seed)
    overrides = _settings(setting or [])
    model = bench_llm(llm, llm_model, timeout_s=llm_timeout) if llm is not None else None
    customers, customer_label = _customers(chosen, script, model, temperature)
    settings: dict[str, Any] = {}
    if agent == "llm" and model is not None:
        settings.update(model.agent_settings())
        _apply_env(model.agent_env())
    settings.update(overrides)
    shop_path = shop if shop is not None else tasks_file.resolve().parent
    embedder = make_embedder(state(ctx).config())
    sink = out.open("w", encoding="utf-8") if out is not None else None

    def on_record(record: TrialRecord) -> None:
        if sink is not None:
            sink.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            sink.flush()
        _progress(record)

    configure = model.configure if (agent == "llm" and model is not None) else None
    try:
        with TauBench(
            shop_path,
            embedder=embedder,
            settings=settings,
            max_turns=max_turns,
            configure=configure,
        ) as bench:
            result = bench.run(chosen, trials, customers, on_record)
    finally:
        if sink is not None:
            sink.close()
    if as_json:
        print_json(
            {
                "tasks_file": str(tasks_file),
                "shop": str(shop_path),
                "agent": agent,
                "customer": customer_label,
                "seed": seed,
                "max_turns": max_turns,
                **result.to_dict(),
            }
        )
        return
    console.print(f"customer: {customer_label}; kefu: {agent}", highlight=False, markup=False)
    _table(result)
