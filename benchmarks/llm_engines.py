"""The offline engine and a real LLM side by side, plus the LLM targets of issue 4.

    python -m benchmarks.llm_engines [--gguf PATH] [--suite PATH ...] [--skip-suites]
        [--skip-faq] [--skip-faults] [--fault-timeout 2] [--fault-turns 20] [--failures]

1. **Scripted L2 suites** (``tests/conversations/``, the runner of ``kefu test`` and
   ``benchmarks.conversations``) once per engine: ``offline`` (``llm_max_calls_per_turn`` 0) and,
   with ``--gguf`` (or ``KEFU_LLM_GGUF``), the local model in process (llama.cpp through
   ``xllamacpp``; every tenant is warmed with :meth:`Service.warm_llm` first, as ``kefu demo``
   does). Per engine: conversations passed, LLM calls and tokens per turn, turn latency (wall
   time of ``Service.handle_message``) p50 / p95 / max, and the conversations whose outcome
   differs between the engines.
2. **(a) Fast path**: every query of ``benchmarks/data/faq_dev.jsonl`` and
   ``faq_dev_extra.jsonl`` as the first message of a fresh conversation with the demo tenant
   (L2: FAQ, shop, documents, as ``kefu demo`` builds it) with an LLM configured (a local fake
   OpenAI-compatible server answering ``{"commands": []}``: whether a turn calls the model is
   decided before any call, so the model does not matter). Share of turns with zero LLM calls;
   target >= 70 %.
3. **(b) Overhead** of an LLM turn: turn wall time minus the time spent waiting for the provider
   (the metered ``latency_s`` of the turn's calls: ``ChatResult.latency_s`` of a successful call,
   the wall time of a failed one); p50 / p95 over the LLM turns of (1) with the real model and
   of (2) with the fake server; target p95 <= 30 ms.
4. **(c) Faults**: the provider down (connection refused), slow (a server that never answers)
   and garbage (200 with a non-JSON body), ``llm_timeout_s`` = ``--fault-timeout`` (2 s) and the
   default 8 s: ``--fault-turns`` unsure turns, each in a fresh conversation; every turn must
   answer (offline) within the timeout + 100 ms. The circuit breaker opens after 5 failures, so
   the first turns are the slow ones.

Calls are counted by tapping the registry's cost ledger (every metered call, failed ones too).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks._common import DATA, machine, read_jsonl, stamp
from benchmarks.conversations import SUITE, percentile
from kefu.config import Config
from kefu.llm.cost import CallRecord, CostLedger
from kefu.quality.conversation_tests import (
    ConversationResult,
    Runner,
    ScriptedConversation,
    discover,
    load_file,
)
from kefu.service import Service, build_service, make_embedder

LLM_ENV = ("KEFU_LLM_BASE_URL", "KEFU_LLM_MODEL", "KEFU_LLM_API_KEY", "KEFU_LLM_GGUF")
FAQ_FILES = ("faq_dev.jsonl", "faq_dev_extra.jsonl")
FAST_PATH_TARGET = 0.70
OVERHEAD_TARGET_MS = 30.0
FAULT_MARGIN_S = 0.100
NO_PROPOSAL = '{"commands": []}'


# -- measuring ---------------------------------------------------------------------------------
class CallTap:
    """Every record added to a ledger, kept here too (the service takes a turn's records out of
    its ledger to store them); with :meth:`time_stack`, also the wall time of each call as the
    policy makes it (masking, turn budget, fallback chain, metering, retries, adapter)."""

    def __init__(self, ledger: CostLedger) -> None:
        self.records: list[CallRecord] = []
        self.stack_s: list[float] = []
        add = ledger.add

        def tapped(record: CallRecord) -> None:
            self.records.append(record)
            add(record)

        ledger.add = tapped  # type: ignore[method-assign]

    def time_stack(self, svc: Service) -> None:
        make = svc._llm_engine
        sink = self.stack_s

        class Timed:
            def __init__(self, inner: Any) -> None:
                self.inner = inner
                self.model = inner.model

            def complete(self, request: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return self.inner.complete(request)
                finally:
                    sink.append(time.perf_counter() - t0)

            def stream(self, request: Any) -> Any:
                return self.inner.stream(request)

        def timed(*args: Any, **kwargs: Any) -> Any:
            engine = make(*args, **kwargs)
            if engine is not None:
                engine.provider = Timed(engine.provider)
            return engine

        svc._llm_engine = timed  # type: ignore[method-assign]


@dataclass
class TurnStat:
    wall_ms: float
    calls: int
    tokens: int
    provider_ms: float  # the metered calls' latency: waiting for the provider
    answered: bool
    stack_ms: float = 0.0  # the calls as the policy sees them: kefu's LLM stack + the wait

    @property
    def overhead_ms(self) -> float:
        return self.wall_ms - self.provider_ms

    @property
    def offline_ms(self) -> float:
        """The turn without its LLM calls: NLU, flows, storage."""
        return self.wall_ms - self.stack_ms

    @property
    def llm_stack_ms(self) -> float:
        """kefu's own time around the calls: masking, budget, chain, metering."""
        return self.stack_ms - self.provider_ms


def timed_turn(svc: Service, tap: CallTap, conversation_id: str, text: str) -> tuple[Any, TurnStat]:
    before, stack_before = len(tap.records), len(tap.stack_s)
    t0 = time.perf_counter()
    handled = svc.handle_message(conversation_id, text)
    wall = (time.perf_counter() - t0) * 1000
    calls = [r for r in tap.records[before:] if r.tags.get("purpose") != "warm-up"]
    out = handled.to_dict()
    answered = bool(out["replies"]) and bool(out["replies"][0]["text"].strip())
    stat = TurnStat(
        wall,
        len(calls),
        sum(r.usage.prompt_tokens + r.usage.completion_tokens for r in calls),
        sum(r.latency_s for r in calls) * 1000,
        answered,
        sum(tap.stack_s[stack_before:]) * 1000,
    )
    return out, stat


@contextmanager
def llm_env(values: dict[str, str]) -> Iterator[None]:
    """The process environment's ``KEFU_LLM_*`` set to exactly ``values`` for the block."""
    saved = {k: os.environ.get(k) for k in LLM_ENV}
    for k in LLM_ENV:
        os.environ.pop(k, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def pcts(values: Sequence[float]) -> str:
    if not values:
        return "- | - | -"
    return f"{percentile(values, 0.5):.1f} | {percentile(values, 0.95):.1f} | {max(values):.1f}"


# -- 1. scripted suites per engine ---------------------------------------------------------------
@dataclass
class EngineRun:
    name: str
    results: list[ConversationResult] = field(default_factory=list)
    turns: list[TurnStat] = field(default_factory=list)
    seconds: float = 0.0
    warm_s: list[float] = field(default_factory=list)


def llamacpp_adapter(threads: int) -> Callable[[Any, str], Any]:
    """The registry's adapter factory with llama.cpp on ``threads`` threads."""
    from kefu.llm.factory import default_adapter
    from kefu.llm.llamacpp import LlamaCppConfig, LlamaCppProvider

    def adapter(config: Any, model: str) -> Any:
        if not config.gguf:
            return default_adapter(config, model)
        return LlamaCppProvider(
            LlamaCppConfig(Path(config.gguf), threads=threads, timeout_s=config.timeout_s)
        )

    return adapter


class EngineRunner(Runner):
    """``Runner`` that warms each new tenant's local model and times turns with a call tap."""

    def __init__(
        self, embedder: Any, tap_holder: list[CallTap], warm: list[float], threads: int | None
    ) -> None:
        super().__init__(embedder)
        self._taps = tap_holder
        self._warm = warm
        self._threads = threads
        self.turns: list[TurnStat] = []

    def send(self, svc: Service, conversation_id: str, text: str) -> dict[str, Any]:
        out, stat = timed_turn(svc, self._taps[0], conversation_id, text)
        self.turns.append(stat)
        return dict(out)

    def _service(self, setup: dict[str, Any]) -> tuple[Any, Any, str]:
        from kefu.llm.factory import ProviderRegistry

        known = set(self._tenants.values())
        svc, clock, tenant = super()._service(setup)
        if not self._taps:
            if self._threads is not None:
                svc.llm_registry = ProviderRegistry(adapter=llamacpp_adapter(self._threads))
            self._taps.append(CallTap(svc.llm_registry.ledger))
            self._taps[0].time_stack(svc)
        if tenant not in known:
            seconds = svc.warm_llm(tenant)
            if seconds is not None:
                self._warm.append(seconds)
        return svc, clock, tenant


def run_suite(
    name: str,
    conversations: Sequence[ScriptedConversation],
    embedder: Any,
    settings: dict[str, Any],
    env: dict[str, str],
    progress: bool,
    threads: int | None = None,
) -> EngineRun:
    run = EngineRun(name)
    taps: list[CallTap] = []
    runner = EngineRunner(embedder, taps, run.warm_s, threads)
    started = time.perf_counter()
    with llm_env(env):
        try:
            for n, original in enumerate(conversations, 1):
                conv = replace(
                    original,
                    setup={
                        **original.setup,
                        "settings": {**(original.setup.get("settings") or {}), **settings},
                    },
                )
                result = runner.run(conv)
                run.results.append(result)
                if progress and n % 10 == 0:
                    print(f"  [{name}] {n}/{len(conversations)} conversations", flush=True)
        finally:
            runner.close()
    run.turns = runner.turns
    run.seconds = time.perf_counter() - started
    return run


def conv_key(r: ConversationResult) -> str:
    return f"{Path(r.conversation.file).name} :: {r.conversation.name}"


def suites_report(runs: Sequence[EngineRun], show_failures: bool) -> list[str]:
    """The table of ``runs``; then, each run against the first, the conversations it fixed and
    broke, and (``show_failures``) every failing turn."""
    lines = [
        "| engine | conversations passed | turns | turns calling the LLM | LLM calls / turn "
        "| tokens / turn | turn p50 ms | turn p95 ms | turn max ms | LLM turn p50 / p95 ms "
        "| wall time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        total = len(run.results)
        passed = sum(r.passed for r in run.results)
        turns = len(run.turns)
        llm_turns = [t for t in run.turns if t.calls]
        walls = [t.wall_ms for t in run.turns]
        llm_walls = [t.wall_ms for t in llm_turns]
        calls = sum(t.calls for t in run.turns)
        tokens = sum(t.tokens for t in run.turns)
        llm_pct = (
            f"{percentile(llm_walls, 0.5):.0f} / {percentile(llm_walls, 0.95):.0f}"
            if llm_walls
            else "-"
        )
        lines.append(
            f"| {run.name} | {passed}/{total} ({passed / max(total, 1):.1%}) | {turns} | "
            f"{len(llm_turns)} ({len(llm_turns) / max(turns, 1):.1%}) | "
            f"{calls / max(turns, 1):.2f} | {tokens / max(turns, 1):.0f} | "
            f"{percentile(walls, 0.5):.1f} | {percentile(walls, 0.95):.1f} | "
            f"{max(walls, default=0):.0f} | {llm_pct} | {run.seconds:.0f} s |"
        )
    for run in runs:
        if run.warm_s:
            lines.append(
                f"\n{run.name}: {len(run.warm_s)} warm-up call(s) (model load + prompt prefix), "
                f"first {run.warm_s[0]:.1f} s, then median {statistics.median(run.warm_s):.1f} s"
            )
    if len(runs) > 1:
        base = {conv_key(r): r.passed for r in runs[0].results}
        for run in runs[1:]:
            now = {conv_key(r): r.passed for r in run.results}
            fixed = sorted(k for k, ok in now.items() if ok and base.get(k) is False)
            broken = sorted(k for k, ok in now.items() if not ok and base.get(k))
            lines.append(f"\n{run.name} vs {runs[0].name}: {len(fixed)} conversation(s) fixed, "
                         f"{len(broken)} broken")  # fmt: skip
            lines += [f"- fixed: {k}" for k in fixed] + [f"- broken: {k}" for k in broken]
    if show_failures:
        for run in runs:
            failed = [r for r in run.results if not r.passed]
            if failed:
                lines += ["", f"Failures ({run.name}):"]
            for r in failed:
                lines.append(f"- {conv_key(r)}" + (f" (error: {r.error})" if r.error else ""))
                for f in r.failures:
                    lines.append(f"  - turn {f.turn} ({f.user!r}): {'; '.join(f.problems)}")
    return lines


# -- 2. the demo tenant with an LLM configured ---------------------------------------------------
def demo_service(data_dir: Path, embedder: Any) -> Service:
    """The demo tenant as ``kefu demo`` builds it (L2: FAQ, shop, documents)."""
    from kefu.connectors.tau_io import read_tau
    from kefu.knowledge.kb_io import read_faq_file
    from kefu.quality.conversation_tests import DEMO_DATA

    svc = build_service(Config.from_env(data_dir, env={}), embedder=embedder)
    svc.tenants.create("demo", {"level": "L2", "language": "zh"})
    svc.faqs.upsert_many("demo", read_faq_file(DEMO_DATA / "faq.jsonl"), replace=True)
    shop = read_tau(DEMO_DATA / "shop")
    svc.shop.load("demo", shop.users, shop.orders, shop.products)
    svc.import_documents("demo", sorted((DEMO_DATA / "docs").iterdir()))
    svc.warm("demo")
    return svc


def configure(svc: Service, base_url: str, timeout_s: float | None = None) -> None:
    svc.tenants.set("demo", "llm_base_url", base_url)
    svc.tenants.set("demo", "llm_model", "fake-model")
    svc.tenants.set("demo", "llm_max_calls_per_turn", 2)
    if timeout_s is not None:
        svc.tenants.set("demo", "llm_timeout_s", timeout_s)


def first_turns(svc: Service, tap: CallTap, queries: Sequence[str]) -> list[TurnStat]:
    stats = []
    for q in queries:
        conv, _ = svc.start_conversation("demo", "test")
        stats.append(timed_turn(svc, tap, conv.id, q)[1])
    return stats


def fast_path(svc: Service, tap: CallTap, fake: Any) -> tuple[list[str], list[TurnStat]]:
    fake.default_text = NO_PROPOSAL
    configure(svc, fake.base_url)
    svc.warm_llm("demo")
    lines = [
        "| queries | turns | zero LLM calls | LLM calls / turn | target |",
        "|---|---:|---:|---:|---|",
    ]
    all_stats: list[TurnStat] = []
    groups: dict[str, list[TurnStat]] = {}
    for name in FAQ_FILES:
        rows = read_jsonl(DATA / name)
        for in_scope in (True, False):
            qs = [r["query"] for r in rows if bool(r.get("expected")) == in_scope]
            stats = first_turns(svc, tap, qs)
            label = f"{name} ({'answerable' if in_scope else 'out of scope'})"
            groups[label] = stats
            all_stats += stats
    for label, stats in [*groups.items(), ("**all**", all_stats)]:
        zero = sum(1 for s in stats if s.calls == 0)
        share = zero / max(len(stats), 1)
        verdict = ""
        if label == "**all**":
            verdict = (
                f">= {FAST_PATH_TARGET:.0%}: {'met' if share >= FAST_PATH_TARGET else 'MISSED'}"
            )
        lines.append(
            f"| {label} | {len(stats)} | {zero} ({share:.1%}) | "
            f"{sum(s.calls for s in stats) / max(len(stats), 1):.2f} | {verdict} |"
        )
    answerable = [s for label, st in groups.items() if "answerable" in label for s in st]
    zero = sum(1 for s in answerable if s.calls == 0)
    lines.append(
        f"| answerable only | {len(answerable)} | {zero} ({zero / max(len(answerable), 1):.1%}) "
        f"| {sum(s.calls for s in answerable) / max(len(answerable), 1):.2f} | |"
    )
    return lines, all_stats


def overhead_report(named: Sequence[tuple[str, Sequence[TurnStat]]]) -> list[str]:
    lines = [
        "| LLM turns of | turns | provider wait p50 | overhead p50 / p95 / max "
        "| of which offline work p50 / p95 | of which LLM stack p50 / p95 | target p95 <= 30 ms |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, stats in named:
        llm = [s for s in stats if s.calls]
        if not llm:
            lines.append(f"| {name} | 0 | - | - | - | - | - |")
            continue
        over = [s.overhead_ms for s in llm]
        offline = [s.offline_ms for s in llm]
        stack = [s.llm_stack_ms for s in llm]
        p95 = percentile(over, 0.95)
        lines.append(
            f"| {name} | {len(llm)} | {percentile([s.provider_ms for s in llm], 0.5):.1f} ms | "
            f"{percentile(over, 0.5):.1f} / {p95:.1f} / {max(over):.1f} ms | "
            f"{percentile(offline, 0.5):.1f} / {percentile(offline, 0.95):.1f} ms | "
            f"{percentile(stack, 0.5):.1f} / {percentile(stack, 0.95):.1f} ms | "
            f"{'met' if p95 <= OVERHEAD_TARGET_MS else 'MISSED'} |"
        )
    return lines


# -- 3. faults ---------------------------------------------------------------------------------
def refused_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def fault_run(
    svc: Service,
    tap: CallTap,
    queries: Sequence[str],
    base_url: str,
    timeout_s: float,
) -> list[TurnStat]:
    from kefu.llm.factory import ProviderRegistry

    svc.llm_registry = ProviderRegistry()  # fresh breakers for each scenario
    tapped = CallTap(svc.llm_registry.ledger)
    configure(svc, base_url, timeout_s)
    svc.warm_llm("demo")
    stats = first_turns(svc, tapped, queries)
    tap.records += tapped.records
    return stats


def faults(
    svc: Service, tap: CallTap, unsure: Sequence[str], timeouts: Sequence[float]
) -> list[str]:
    from tests.fake_llm_server import FakeLlmServer

    lines = [
        "| provider | llm_timeout_s | turns | answered | calls | max turn ms | p95 turn ms "
        "| bound (timeout + 100 ms) | within |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    scenarios: list[tuple[str, Callable[[Any], None] | None]] = [
        ("down (connection refused)", None),
        ("slow (never answers)", lambda f: [f.reply_hang() for _ in range(4 * len(unsure))]),
        ("garbage (200, not JSON)", lambda f: [f.reply_garbage() for _ in range(4 * len(unsure))]),
    ]
    for timeout_s in timeouts:
        for label, script in scenarios:
            fake = None
            if script is None:
                url = refused_url()
            else:
                fake = FakeLlmServer().start()
                script(fake)
                url = fake.base_url
            try:
                stats = fault_run(svc, tap, unsure, url, timeout_s)
            finally:
                if fake is not None:
                    fake.stop()
            walls = [s.wall_ms for s in stats]
            bound = (timeout_s + FAULT_MARGIN_S) * 1000
            worst = max(walls)
            lines.append(
                f"| {label} | {timeout_s:g} | {len(stats)} | "
                f"{sum(s.answered for s in stats)}/{len(stats)} | {sum(s.calls for s in stats)} | "
                f"{worst:.0f} | {percentile(walls, 0.95):.0f} | {bound:.0f} | "
                f"{'yes' if worst <= bound and all(s.answered for s in stats) else 'NO'} |"
            )
    return lines


# -- main ----------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", type=Path, default=os.environ.get("KEFU_LLM_GGUF") or None)
    ap.add_argument("--suite", nargs="*", type=Path, default=[SUITE])
    ap.add_argument("--llm-timeout", type=float, default=None, help="llm_timeout_s for suites")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default 2)")
    ap.add_argument("--sample", type=int, default=1, help="suites: every Nth conversation (1: all)")
    ap.add_argument(
        "--offline-full", action="store_true", help="also the offline engine on every conversation"
    )
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/kefu-conversations-bench"))
    ap.add_argument("--skip-suites", action="store_true")
    ap.add_argument("--skip-offline", action="store_true", help="suites: the LLM engine only")
    ap.add_argument("--skip-faq", action="store_true")
    ap.add_argument("--skip-faults", action="store_true")
    ap.add_argument("--fault-timeout", type=float, nargs="*", default=[2.0, 8.0])
    ap.add_argument("--fault-turns", type=int, default=20)
    ap.add_argument("--failures", action="store_true", help="list the failing turns")
    args = ap.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    embedder = make_embedder(Config.from_env(args.data_dir, env={}))
    print(f"machine: {machine()}\ndate: {stamp()}\n")

    suite_runs: list[EngineRun] = []
    if not args.skip_suites:
        everything = [c for f in discover(args.suite) for c in load_file(f)]
        conversations = everything[:: args.sample]
        print(f"suites: {len(conversations)} of {len(everything)} conversations", flush=True)
        engines: list[tuple[str, dict[str, Any], dict[str, str], list[ScriptedConversation]]] = []
        offline = {"llm_max_calls_per_turn": 0}
        if args.offline_full and args.sample > 1:
            engines.append(("offline, all conversations", offline, {}, everything))
        if not args.skip_offline:
            engines.append(("offline", offline, {}, conversations))
        if args.gguf:
            extra = {} if args.llm_timeout is None else {"llm_timeout_s": args.llm_timeout}
            env = {"KEFU_LLM_GGUF": str(args.gguf)}
            engines.append((args.gguf.stem, extra, env, conversations))
        for name, settings, env, convs in engines:
            print(f"suites with {name} ...", flush=True)
            run = run_suite(name, convs, embedder, settings, env, True, args.threads)
            suite_runs.append(run)
            print("\n".join(suites_report([run], False)) + "\n", flush=True)
        print("## Scripted L2 suites per engine\n")
        full = [r for r in suite_runs if r.name.endswith("all conversations")]
        compared = [r for r in suite_runs if r not in full]
        table = suites_report([*full, *compared], False)[: 2 + len(suite_runs)]
        print("\n".join(table + suites_report(compared, args.failures)[2 + len(compared) :]))
        print(flush=True)

    if args.skip_faq and args.skip_faults:
        named = [(r.name, r.turns) for r in suite_runs if r.name != "offline"]
        print("## (b) Overhead of an LLM turn\n")
        print("\n".join(overhead_report(named)))
        return

    from tests.fake_llm_server import FakeLlmServer

    with llm_env({}):
        svc = demo_service(Path(tempfile.mkdtemp(prefix="kefu-llm-bench-")), embedder)
        tap = CallTap(svc.llm_registry.ledger)
        tap.time_stack(svc)
        fake = FakeLlmServer(default_text=NO_PROPOSAL).start()
        try:
            faq_stats: list[TurnStat] = []
            if not args.skip_faq:
                lines, faq_stats = fast_path(svc, tap, fake)
                print("## (a) FAQ traffic on the fast path\n")
                print("\n".join(lines) + "\n", flush=True)
            named = [(r.name, r.turns) for r in suite_runs if r.name != "offline"]
            named.append(("demo FAQ queries, fake server", faq_stats))
            print("## (b) Overhead of an LLM turn\n")
            print("\n".join(overhead_report(named)) + "\n", flush=True)
            if not args.skip_faults:
                # unsure turns: the dev queries the router sends to the model
                rows = [r["query"] for n in FAQ_FILES for r in read_jsonl(DATA / n)]
                unsure = []
                fake.default_text = NO_PROPOSAL
                configure(svc, fake.base_url)
                for q in rows:
                    if len(unsure) >= args.fault_turns:
                        break
                    if first_turns(svc, tap, [q])[0].calls:
                        unsure.append(q)
                print("## (c) Provider down, slow, garbage\n")
                print("\n".join(faults(svc, tap, unsure, args.fault_timeout)), flush=True)
        finally:
            fake.stop()
            svc.close()


if __name__ == "__main__":
    main()
