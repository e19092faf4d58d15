"""Running tau-bench tasks against kefu: one throwaway kefu per trial, graded on its database.

For each task and trial, :class:`TauBench` builds a fresh kefu with the machinery of
``kefu test`` (:class:`kefu.quality.conversation_tests.Runner`: SQLite in a temporary folder, a
tenant built from a setup) whose tenant holds the tau shop at level L3, starts a conversation
with no verified customer and lets the simulated customer talk to
:meth:`kefu.service.Service.handle_message` until it says ``###STOP###``, kefu hands over to a
human (tau's terminating ``transfer_to_human_agents``) or the turn cap is reached. The gold
database (the task's gold writes replayed on a fresh copy) is computed once per task.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kefu.bench.customers import STOP, Customer, CustomerFactory, usage_of
from kefu.bench.grading import GoldOutcome, Grade, ShopJson, canonical_json, grade, replay_gold
from kefu.bench.passk import pass_hat_k
from kefu.bench.tasks import TauTask
from kefu.errors import KefuError
from kefu.knowledge.embedder import Embedder
from kefu.knowledge.faq_index import FaqIndexCache
from kefu.quality.conversation_tests import DEFAULT_NOW, Runner

if TYPE_CHECKING:
    from kefu.service import Service

# The tau shop's tenant: tau has no approval step (every write the agent makes runs), the shop
# has no name, prices are in dollars and the turns are in English.
TAU_SETTINGS: dict[str, Any] = {
    "brand_name": "our shop",
    "currency_symbol": "$",
    "approval_amount_threshold": 1e12,
    "llm_max_calls_per_turn": 0,  # the offline engine, unless the LLM agent is asked for
}
ENDINGS = ("stop", "handoff", "max_turns", "error")


@dataclass(frozen=True)
class TrialRecord:
    """One trial of one task: the grade and what happened (a line of ``--out``)."""

    task_id: str
    trial: int
    user_id: str
    reward: float
    db_match: bool
    outputs: Mapping[str, bool]
    turns: int
    ended: str  # stop | handoff | max_turns | error
    diff: tuple[dict[str, Any], ...] = ()
    ledger: tuple[dict[str, Any], ...] = ()
    operations: tuple[str, ...] = ()  # what kefu's turns ran (reads included), in order
    gold: tuple[dict[str, Any], ...] = ()  # each gold write's outcome on the fresh copy
    transcript: tuple[dict[str, str], ...] = ()
    customer_llm: Mapping[str, int] = field(default_factory=dict)
    kefu_hash: str = ""
    gold_hash: str = ""
    seconds: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "trial": self.trial,
            "user_id": self.user_id,
            "reward": self.reward,
            "db_match": self.db_match,
            "outputs": dict(self.outputs),
            "turns": self.turns,
            "ended": self.ended,
            "error": self.error,
            "diff": list(self.diff),
            "ledger": list(self.ledger),
            "operations": list(self.operations),
            "gold": list(self.gold),
            "kefu_hash": self.kefu_hash,
            "gold_hash": self.gold_hash,
            "customer_llm": dict(self.customer_llm),
            "seconds": round(self.seconds, 3),
            "transcript": list(self.transcript),
        }

    def brief(self) -> dict[str, Any]:
        """The record without the transcript, hashes and ledger details (for ``--json``)."""
        return {
            "trial": self.trial,
            "reward": self.reward,
            "db_match": self.db_match,
            "outputs": dict(self.outputs),
            "turns": self.turns,
            "ended": self.ended,
            "error": self.error,
            "diff": [d["summary"] for d in self.diff],
            "ledger": [f"{e['operation']} {e['status']}" for e in self.ledger],
            "operations": list(self.operations),
        }


@dataclass(frozen=True)
class BenchResult:
    """Every trial of a run, and pass^k over its tasks."""

    tasks: tuple[TauTask, ...]
    trials: int
    records: tuple[TrialRecord, ...]

    def successes(self) -> dict[str, int]:
        counts = {t.id: 0 for t in self.tasks}
        for r in self.records:
            if r.reward == 1.0:
                counts[r.task_id] += 1
        return counts

    def pass_hat_k(self) -> dict[int, float]:
        return pass_hat_k(list(self.successes().values()), self.trials)

    def average_reward(self) -> float:
        return sum(r.reward for r in self.records) / len(self.records) if self.records else 0.0

    def to_dict(self) -> dict[str, Any]:
        by_task: dict[str, list[TrialRecord]] = {t.id: [] for t in self.tasks}
        for r in self.records:
            by_task[r.task_id].append(r)
        endings = {e: sum(1 for r in self.records if r.ended == e) for e in ENDINGS}
        return {
            "trials": self.trials,
            "tasks_run": len(self.tasks),
            "trials_run": len(self.records),
            "average_reward": round(self.average_reward(), 4),
            "pass_hat_k": {str(k): round(v, 4) for k, v in self.pass_hat_k().items()},
            "endings": endings,
            "tasks": [
                {
                    "task_id": t.id,
                    "user_id": t.user_id,
                    "gold_writes": [a.name for a in t.writes],
                    "outputs": list(t.outputs),
                    "successes": sum(1 for r in by_task[t.id] if r.reward == 1.0),
                    "rewards": [r.reward for r in by_task[t.id]],
                    "trials": [r.brief() for r in by_task[t.id]],
                }
                for t in self.tasks
            ],
        }


@dataclass
class _Talk:
    """One trial's conversation as it goes."""

    conversation_id: str
    transcript: list[dict[str, str]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # kefu's, one per customer message
    operations: list[str] = field(default_factory=list)
    turns: int = 0
    ended: str = "max_turns"
    error: str | None = None

    def end(self, how: str, error: str | None = None) -> None:
        self.ended, self.error = how, error


@dataclass(frozen=True)
class GoldShop:
    """A task's shop before and after its gold writes, and each write's outcome."""

    initial: ShopJson
    final: ShopJson
    outcomes: tuple[GoldOutcome, ...]


class TauBench:
    """Runs tasks against throwaway kefus over the tau shop at ``shop`` (a tau folder or a
    db.json). ``settings`` are tenant settings over :data:`TAU_SETTINGS`; ``configure`` is
    called with each trial's service before its conversation starts (e.g. to share one
    local model between the customer and kefu)."""

    def __init__(
        self,
        shop: Path,
        *,
        embedder: Embedder | None = None,
        index_cache: FaqIndexCache | None = None,
        settings: Mapping[str, Any] | None = None,
        level: str = "L3",
        language: str = "en",
        max_turns: int = 30,
        now: str = DEFAULT_NOW,
        configure: Callable[[Service], None] | None = None,
    ) -> None:
        if max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        self.shop = shop
        self.embedder = embedder
        self.index_cache = index_cache or FaqIndexCache()
        self.max_turns = max_turns
        self.configure = configure
        self.setup: dict[str, Any] = {
            "level": level,
            "language": language,
            "shop": str(shop),
            "faq": "none",
            "docs": "none",
            "now": now,
            "settings": {**TAU_SETTINGS, **(settings or {})},
        }
        self._gold: dict[str, GoldShop] = {}

    def close(self) -> None:
        self._gold.clear()

    def __enter__(self) -> TauBench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the throwaway kefu ------------------------------------------------------------------
    def _kefu(self, runner: Runner) -> tuple[Service, str]:
        """A service and the tau tenant in ``runner``'s throwaway database (the setup machinery
        of ``kefu test``), its clock at the setup's ``now``."""
        svc, clock, tenant = runner._service(self.setup)
        moment = datetime.fromisoformat(str(self.setup["now"]))
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        clock.now = moment
        return svc, tenant

    def gold(self, task: TauTask) -> GoldShop:
        """The shop before and after the task's gold actions, replayed on a fresh copy in a
        throwaway kefu of its own (computed once per distinct list of gold writes)."""
        key = canonical_json([a.to_dict() for a in task.writes])  # reads change nothing
        found = self._gold.get(key)
        if found is not None:
            return found
        runner = Runner(None, self.index_cache)
        try:
            svc, tenant = self._kefu(runner)
            initial = svc.shop.dump(tenant).to_json()
            outcomes = replay_gold(svc.shop, tenant, task.writes)
            final = svc.shop.dump(tenant).to_json()
        finally:
            runner.close()
        gold = GoldShop(initial, final, tuple(outcomes))
        self._gold[key] = gold
        return gold

    # -- one trial ---------------------------------------------------------------------------
    def run_trial(self, task: TauTask, trial: int, customer: Customer) -> TrialRecord:
        """One conversation of ``customer`` with a fresh kefu, graded against the gold shop."""
        gold = self.gold(task)
        started = time.perf_counter()
        runner = Runner(self.embedder, self.index_cache)
        try:
            svc, tenant = self._kefu(runner)
            if self.configure is not None:
                self.configure(svc)
            talk = self._converse(svc, tenant, customer)
            final = svc.shop.dump(tenant).to_json()
            ledger = _ledger(svc, tenant, talk.conversation_id)
        finally:
            runner.close()
        graded: Grade = grade(gold.initial, final, gold.final, task.outputs, talk.replies)
        return TrialRecord(
            task_id=task.id,
            trial=trial,
            user_id=task.user_id,
            reward=0.0 if talk.error is not None else graded.reward,  # unfinished: a failure
            db_match=graded.db_match,
            outputs=dict(graded.outputs),
            turns=talk.turns,
            ended=talk.ended,
            diff=tuple(d.to_dict() for d in graded.diff),
            ledger=tuple(ledger),
            operations=tuple(talk.operations),
            gold=tuple(o.to_dict() for o in gold.outcomes),
            transcript=tuple(talk.transcript),
            customer_llm=usage_of(customer),
            kefu_hash=graded.kefu_hash,
            gold_hash=graded.gold_hash,
            seconds=time.perf_counter() - started,
            error=talk.error,
        )

    def _converse(self, svc: Service, tenant: str, customer: Customer) -> _Talk:
        """A new conversation (no verified customer) until the customer stops, kefu hands over,
        the turn cap, or an error."""
        limit = int(svc.tenants.settings(tenant)["max_message_chars"])
        conv, welcome = svc.start_conversation(tenant, "test")
        talk = _Talk(conv.id)
        agent = welcome.text or ""
        talk.transcript.append({"role": "kefu", "text": agent})
        while talk.turns < self.max_turns:
            try:
                message = customer.say(agent)
            except KefuError as exc:
                talk.end("error", f"customer simulator: {exc.code}: {exc.message}")
                break
            if message == STOP:
                talk.end("stop")
                break
            message = message[:limit]
            talk.turns += 1
            talk.transcript.append({"role": "customer", "text": message})
            try:
                result = svc.handle_message(conv.id, message).result
            except KefuError as exc:
                talk.end("error", f"kefu: {exc.code}: {exc.message}")
                break
            agent = "\n".join(r.text for r in result.replies)
            if result.suggestions:  # "did you mean": the chat shows them as buttons
                agent += "".join(f"\n{i}. {s.text}" for i, s in enumerate(result.suggestions, 1))
            talk.replies.append(agent)
            talk.transcript.append({"role": "kefu", "text": agent})
            talk.operations += [str(op.get("operation")) for op in result.operations]
            if result.handoff:  # tau's transfer_to_human_agents ends the episode too
                talk.end("handoff")
                break
        return talk

    # -- a run -------------------------------------------------------------------------------
    def iter_trials(
        self, tasks: Sequence[TauTask], trials: int, customers: CustomerFactory
    ) -> Iterator[TrialRecord]:
        """Each task's trials in turn, yielded as they finish."""
        if trials < 1:
            raise ValueError("trials must be at least 1")
        if len({t.id for t in tasks}) != len(tasks):
            raise ValueError("each task may be run once: its trials are counted together")
        for task in tasks:
            for trial in range(trials):
                yield self.run_trial(task, trial, customers(task, trial))

    def run(
        self,
        tasks: Sequence[TauTask],
        trials: int,
        customers: CustomerFactory,
        on_record: Callable[[TrialRecord], None] | None = None,
    ) -> BenchResult:
        records = []
        for record in self.iter_trials(tasks, trials, customers):
            records.append(record)
            if on_record is not None:
                on_record(record)
        return BenchResult(tuple(tasks), trials, tuple(records))


def _ledger(svc: Service, tenant: str, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's ledger rows, oldest first, in short."""
    from kefu.storage.db import session_factory
    from kefu.storage.ledger import MAX_LIMIT, LedgerRepository

    ledger = LedgerRepository(session_factory(svc.engine), svc.tenants)
    rows = ledger.list(tenant, conversation_id=conversation_id, limit=MAX_LIMIT)
    out = []
    for e in reversed(rows):
        refusal = (e.result or {}).get("refusal") if isinstance(e.result, dict) else None
        entry: dict[str, Any] = {
            "id": e.id,
            "operation": e.operation,
            "status": e.status,
            "arguments": e.arguments,
        }
        if refusal:
            entry["refusal"] = refusal.get("reason")
        out.append(entry)
    return out
