"""Benchmarks graded on final business state: tau-bench retail against kefu (``kefu bench tau``).

    tasks = load_tasks(Path("tasks_dev.json"))
    with TauBench(Path("tau_bench_retail")) as bench:
        result = bench.run(tasks[:3], trials=2, customers=scripted_customers(script))
    result.pass_hat_k()  # {1: 0.5, 2: 0.33}

Modules: :mod:`~kefu.bench.tasks` (task files), :mod:`~kefu.bench.customers` (simulated
customers), :mod:`~kefu.bench.grading` (gold replay, database hash and diff, tau's outputs rule),
:mod:`~kefu.bench.passk`, :mod:`~kefu.bench.runner` (trials), :mod:`~kefu.bench.llm` (``--llm``).
"""

from kefu.bench.customers import (
    STOP,
    Customer,
    CustomerFactory,
    LlmCustomer,
    ScriptedCustomer,
    llm_customers,
    load_script,
    scripted_customers,
    system_prompt,
)
from kefu.bench.grading import (
    DocDiff,
    GoldOutcome,
    Grade,
    db_diff,
    db_hash,
    grade,
    missing_outputs,
    replay_gold,
)
from kefu.bench.passk import pass_hat_k
from kefu.bench.runner import TAU_SETTINGS, BenchResult, TauBench, TrialRecord
from kefu.bench.tasks import BenchFileError, GoldAction, TauTask, load_tasks, select_tasks

__all__ = [
    "STOP",
    "TAU_SETTINGS",
    "BenchFileError",
    "BenchResult",
    "Customer",
    "CustomerFactory",
    "DocDiff",
    "GoldAction",
    "GoldOutcome",
    "Grade",
    "LlmCustomer",
    "ScriptedCustomer",
    "TauBench",
    "TauTask",
    "TrialRecord",
    "db_diff",
    "db_hash",
    "grade",
    "llm_customers",
    "load_script",
    "load_tasks",
    "missing_outputs",
    "pass_hat_k",
    "replay_gold",
    "scripted_customers",
    "select_tasks",
    "system_prompt",
]
