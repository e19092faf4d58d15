"""Scripted conversation tests: a YAML format, a runner and JUnit output (``kefu test``).

A file holds one or more conversations sharing a setup::

    setup:                      # all optional
      level: L2                 # L1, L2 or L3
      language: zh
      shop: demo                # "demo", "none", or a tau folder / db.json (relative to the
                                # file; ${VARIABLES} of the environment are expanded)
      faq: demo                 # "demo", "none", or an FAQ file
      docs: none                # "demo", "none", or a list of document files
      flows: my_flows.yaml      # the tenant's own flow file
      settings: {emotion_escalation: "off"}
      customer: null            # a verified channel identity (shop customer id)
      now: "2026-11-12T10:00:00+08:00"
    conversations:
      - name: 查订单状态
        setup: {customer: wanting_du_8837}     # per-conversation overrides
        turns:
          - user: 我的订单到哪了
            expect:
              decision: flow
              flow: order_status
              reply_contains: [订单号]

L3 conversations (``level: L3``) each get a fresh copy of their shop, so writes of one never leak
into the next, and are graded on final state and ledger as well::

          - user: 确认
            expect:
              ledger: [{operation: return_order_items, status: executed, count: 1}]
              shop:
                orders: {"#D3137656": {status: return requested, return_items: ["8860340335"]}}
                customers: {lijuan_wang_7028: {address: {city: 杭州市}}}

``ledger`` lists rows the conversation's ledger must hold (``count``: exactly that many, default
at least one); ``writes: 0`` says nothing was executed in the conversation so far; ``shop``
compares documents field by field (a mapping matches a subset, anything else must be equal).

Expectations per turn: ``decision``, ``intent``, ``flow`` (the task in progress after the turn,
``null`` for none), ``slots`` (a subset), ``reply_contains`` / ``reply_not_contains`` (case
insensitive), ``faq_id``, ``handoff``, ``handoff_reason``, ``citations`` (a minimum count, or a
list of ``{doc_id, section}`` that must be cited), ``operations`` (names that must have run),
``emotion`` (label), ``suggestions`` (a minimum count), ``confidence_min``. Each conversation runs
in a fresh conversation of a tenant built from its setup in a throwaway database.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

import yaml

from kefu.config import Config
from kefu.errors import ConversationFileError, KefuError
from kefu.knowledge.embedder import Embedder
from kefu.knowledge.faq_index import FaqIndexCache

if TYPE_CHECKING:
    from kefu.connectors.tau_schema import ShopData
    from kefu.service import Service

DEMO_DATA = Path(__file__).resolve().parent.parent / "demo" / "data"
DEFAULT_NOW = "2026-11-12T10:00:00+08:00"
SETUP_KEYS = {"level", "language", "shop", "faq", "docs", "flows", "settings", "customer", "now"}
EXPECT_KEYS = {
    "decision",
    "intent",
    "flow",
    "slots",
    "reply_contains",
    "reply_not_contains",
    "faq_id",
    "handoff",
    "handoff_reason",
    "citations",
    "operations",
    "emotion",
    "suggestions",
    "confidence_min",
    "ledger",
    "writes",
    "shop",
}


@dataclass(frozen=True)
class Turn:
    user: str
    expect: dict[str, Any]


@dataclass(frozen=True)
class ScriptedConversation:
    file: str
    name: str
    setup: dict[str, Any]
    turns: tuple[Turn, ...]


@dataclass
class TurnFailure:
    turn: int
    user: str
    problems: list[str]
    replies: str


@dataclass
class ConversationResult:
    conversation: ScriptedConversation
    failures: list[TurnFailure] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None


# -- loading ------------------------------------------------------------------------------------
def load_file(path: Path) -> list[ScriptedConversation]:
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConversationFileError(source, "file", "no such file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        raise ConversationFileError(source, where, str(getattr(exc, "problem", exc))) from None
    if not isinstance(data, dict):
        raise ConversationFileError(source, "top level", "expected a mapping")
    unknown = sorted(set(data) - {"setup", "conversations", "name", "turns"})
    if unknown:
        raise ConversationFileError(source, unknown[0], "unknown key")
    shared = _setup(data.get("setup") or {}, source, "setup", path.parent)
    raw = data.get("conversations")
    if raw is None and "turns" in data:
        raw = [{"name": data.get("name", path.stem), "turns": data["turns"]}]
    if not isinstance(raw, list) or not raw:
        raise ConversationFileError(source, "conversations", "expected a non-empty list")
    out = []
    for i, conv in enumerate(raw):
        where = f"conversations[{i}]"
        if not isinstance(conv, dict):
            raise ConversationFileError(source, where, "expected a mapping")
        bad = sorted(set(conv) - {"name", "setup", "turns"})
        if bad:
            raise ConversationFileError(source, f"{where}.{bad[0]}", "unknown key")
        setup = {**shared, **_setup(conv.get("setup") or {}, source, f"{where}.setup", path.parent)}
        turns = conv.get("turns")
        if not isinstance(turns, list) or not turns:
            raise ConversationFileError(source, f"{where}.turns", "expected a non-empty list")
        parsed = tuple(_turn(t, source, f"{where}.turns[{j}]") for j, t in enumerate(turns))
        out.append(ScriptedConversation(source, str(conv.get("name") or where), setup, parsed))
    return out


def _setup(raw: Any, source: str, where: str, base: Path) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConversationFileError(source, where, "expected a mapping")
    bad = sorted(set(raw) - SETUP_KEYS)
    if bad:
        raise ConversationFileError(source, f"{where}.{bad[0]}", "unknown setup key")
    setup = dict(raw)
    for key in ("shop", "faq", "flows"):
        value = setup.get(key)
        if isinstance(value, str) and value not in ("demo", "none"):
            expanded = os.path.expandvars(value)  # ${KEFU_DATASETS}/tau_bench_retail
            if "$" in expanded:
                raise ConversationFileError(
                    source, f"{where}.{key}", f"unset variable in {value!r}"
                )
            setup[key] = str((base / expanded).resolve())
    docs = setup.get("docs")
    if isinstance(docs, list):
        setup["docs"] = [str((base / d).resolve()) for d in docs]
    if "level" in setup and setup["level"] not in ("L1", "L2", "L3"):
        raise ConversationFileError(source, f"{where}.level", "expected L1, L2 or L3")
    if "now" in setup:
        try:
            datetime.fromisoformat(str(setup["now"]))
        except ValueError:
            raise ConversationFileError(source, f"{where}.now", "not an ISO date-time") from None
    return setup


def _turn(raw: Any, source: str, where: str) -> Turn:
    if not isinstance(raw, dict) or "user" not in raw:
        raise ConversationFileError(source, where, "a turn needs 'user' (and optional 'expect')")
    bad = sorted(set(raw) - {"user", "expect"})
    if bad:
        raise ConversationFileError(source, f"{where}.{bad[0]}", "unknown key")
    expect = raw.get("expect") or {}
    if not isinstance(expect, dict):
        raise ConversationFileError(source, f"{where}.expect", "expected a mapping")
    bad = sorted(set(expect) - EXPECT_KEYS)
    if bad:
        raise ConversationFileError(source, f"{where}.expect.{bad[0]}", "unknown expectation")
    return Turn(str(raw["user"]), dict(expect))


def discover(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(x for x in p.rglob("*.y*ml") if x.suffix in (".yaml", ".yml"))
        else:
            files.append(p)
    return files


# -- checking -------------------------------------------------------------------------------------
def check(expect: dict[str, Any], turn: dict[str, Any]) -> list[str]:
    """Problems of one turn's result (the API's message response) against its expectations."""
    problems: list[str] = []
    text = "\n".join(r["text"] for r in turn.get("replies", []))
    low = text.lower()
    for key in ("decision", "intent", "faq_id", "handoff", "handoff_reason", "flow"):
        if key in expect and turn.get(key) != expect[key]:
            problems.append(f"{key}: expected {expect[key]!r}, got {turn.get(key)!r}")
    if "slots" in expect:
        slots = turn.get("slots") or {}
        for k, v in (expect["slots"] or {}).items():
            if slots.get(k) != v:
                problems.append(f"slot {k}: expected {v!r}, got {slots.get(k)!r}")
    contains = expect.get("reply_contains") or []
    for s in [contains] if isinstance(contains, str) else contains:
        if str(s).lower() not in low:
            problems.append(f"reply does not contain {s!r}")
    absent = expect.get("reply_not_contains") or []
    for s in [absent] if isinstance(absent, str) else absent:
        if str(s).lower() in low:
            problems.append(f"reply contains {s!r}")
    if "citations" in expect:
        want = expect["citations"]
        cited = turn.get("citations") or []
        if isinstance(want, int):
            if len(cited) < want:
                problems.append(f"citations: expected at least {want}, got {len(cited)}")
        else:
            for w in want:
                ok = any(all(c.get(k) == v for k, v in w.items()) for c in cited)
                if not ok:
                    problems.append(f"citation {w!r} missing (got {cited!r})")
    if "operations" in expect:
        ran = {op.get("operation") for op in turn.get("operations") or []}
        for name in expect["operations"]:
            if name not in ran:
                problems.append(f"operation {name!r} did not run (ran {sorted(map(str, ran))})")
    if "emotion" in expect:
        label = (turn.get("emotion") or {}).get("label")
        if label != expect["emotion"]:
            problems.append(f"emotion: expected {expect['emotion']!r}, got {label!r}")
    if "suggestions" in expect and len(turn.get("suggestions") or []) < int(expect["suggestions"]):
        problems.append(
            f"suggestions: expected at least {expect['suggestions']}, "
            f"got {len(turn.get('suggestions') or [])}"
        )
    if "confidence_min" in expect and float(turn.get("confidence", 0)) < expect["confidence_min"]:
        problems.append(f"confidence {turn.get('confidence')} < {expect['confidence_min']}")
    return problems


def check_state(
    svc: Service, tenant: str, conversation_id: str, expect: dict[str, Any]
) -> list[str]:
    """Problems of the shop's records and the conversation's ledger against ``ledger``,
    ``writes`` and ``shop`` expectations."""
    problems: list[str] = []
    if "ledger" in expect or "writes" in expect:
        rows = svc.operations.ledger.list(tenant, conversation_id=conversation_id, limit=1000)
        for want in expect.get("ledger") or []:
            found = [
                r
                for r in rows
                if r.operation == want.get("operation", r.operation)
                and r.status == want.get("status", r.status)
            ]
            count = want.get("count")
            if (count is None and not found) or (count is not None and len(found) != count):
                seen = sorted(f"{r.operation}:{r.status}" for r in rows)
                problems.append(f"ledger: expected {want!r}, found {len(found)} (rows {seen})")
        if "writes" in expect:
            done = [r for r in rows if r.status == "executed"]
            if len(done) != int(expect["writes"]):
                problems.append(f"writes: expected {expect['writes']}, got {len(done)}")
    if "shop" in expect:
        data = svc.shop.dump(tenant)
        for kind, docs in (("orders", data.orders), ("customers", data.users)):
            for key, want in ((expect["shop"] or {}).get(kind) or {}).items():
                problems += [f"{kind} {key}: {p}" for p in _differences(docs.get(key), want)]
    return problems


def _differences(have: Any, want: Any, path: str = "") -> list[str]:
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [f"{path or 'record'}: expected a mapping, got {have!r}"]
        out: list[str] = []
        for k, v in want.items():
            out += _differences(have.get(k), v, f"{path}.{k}" if path else str(k))
        return out
    if have != want:
        return [f"{path}: expected {want!r}, got {have!r}"]
    return []


# -- running --------------------------------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = _utc(DEFAULT_NOW)

    def __call__(self) -> datetime:
        return self.now


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


class Runner:
    """Runs scripted conversations against a real service over a throwaway database (SQLite in
    a temporary directory, or ``database_url``), with one tenant per distinct data setup,
    reused across the conversations that share it."""

    def __init__(
        self,
        embedder: Embedder | None,
        index_cache: FaqIndexCache | None = None,
        workdir: Path | None = None,
        database_url: str | None = None,
    ) -> None:
        self.embedder = embedder
        self.index_cache = index_cache or FaqIndexCache()
        self._tmp = tempfile.TemporaryDirectory(prefix="kefu-test-") if workdir is None else None
        self.workdir = workdir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.database_url = database_url
        self._svc: Any = None
        self._clock = _Clock()
        self._tenants: dict[tuple[Any, ...], str] = {}
        self._shops: dict[Path, ShopData] = {}

    def close(self) -> None:
        if self._svc is not None:
            self._svc.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    def _service(self, setup: dict[str, Any]) -> tuple[Any, _Clock, str]:
        from kefu.service import build_service

        if self._svc is None:
            env = {"KEFU_DATABASE_URL": self.database_url} if self.database_url else {}
            config = Config.from_env(self.workdir / "data", env=env)
            self._svc = build_service(
                config, self.embedder, clock=self._clock, index_cache=self.index_cache
            )
        svc = self._svc
        data_key: tuple[Any, ...] = (
            setup.get("shop", "demo"),
            setup.get("faq", "demo"),
            str(setup.get("docs", "none")),
            setup.get("flows"),
            setup.get("level", "L2"),
            setup.get("language", "zh"),
            tuple(sorted((setup.get("settings") or {}).items())),
        )
        if data_key[4] == "L3":  # writes change the shop: a fresh copy per conversation
            data_key += (len(self._tenants),)
        tenant = self._tenants.get(data_key)
        if tenant is not None:
            return svc, self._clock, tenant
        tenant = f"t{len(self._tenants) + 1}"
        svc.tenants.create(tenant, {"level": data_key[4], "language": data_key[5]})
        for name, value in (setup.get("settings") or {}).items():
            svc.tenants.set(tenant, name, value)
        self._load(svc, tenant, setup)
        svc.warm(tenant)  # index, catalogue, sentiment model: turns then time the turn alone
        self._tenants[data_key] = tenant
        return svc, self._clock, tenant

    def _load(self, svc: Any, tenant: str, setup: dict[str, Any]) -> None:
        from kefu.connectors.tau_io import read_tau
        from kefu.knowledge.kb_io import read_faq_file

        faq = setup.get("faq", "demo")
        if faq != "none":
            path = DEMO_DATA / "faq.jsonl" if faq == "demo" else Path(faq)
            svc.faqs.upsert_many(tenant, read_faq_file(path))
        shop = setup.get("shop", "demo")
        if shop != "none":
            path = DEMO_DATA / "shop" if shop == "demo" else Path(shop)
            data = self._shops.get(path) or read_tau(path)
            self._shops[path] = data  # L3 conversations each load a fresh copy: read it once
            svc.shop.load(tenant, data.users, data.orders, data.products, rules=data.rules)
        docs = setup.get("docs", "none")
        if docs != "none":
            files = sorted((DEMO_DATA / "docs").iterdir()) if docs == "demo" else docs
            svc.import_documents(tenant, [Path(f) for f in files])
        flows = setup.get("flows")
        if flows:
            from kefu.dialogue.catalog import parse_tenant_flows

            text = Path(flows).read_text(encoding="utf-8")
            parse_tenant_flows(text, Path(flows).name)
            svc.flows.put(tenant, Path(flows).name, text)

    def send(self, svc: Service, conversation_id: str, text: str) -> dict[str, Any]:
        """One customer turn and the bot's answer as the API gives it (a hook: benchmarks time
        turns by overriding it)."""
        return svc.handle_message(conversation_id, text).to_dict()

    def run(self, conv: ScriptedConversation) -> ConversationResult:
        result = ConversationResult(conv)
        started = time.perf_counter()
        try:
            svc, clock, tenant = self._service(conv.setup)
            clock.now = _utc(str(conv.setup.get("now", DEFAULT_NOW)))
            c, _ = svc.start_conversation(
                tenant, "test", conv.setup.get("customer"), conv.setup.get("language")
            )
            for i, turn in enumerate(conv.turns):
                out = self.send(svc, c.id, turn.user)
                problems = check(turn.expect, out) + check_state(svc, tenant, c.id, turn.expect)
                if problems:
                    replies = "\n".join(r["text"] for r in out["replies"])
                    result.failures.append(TurnFailure(i + 1, turn.user, problems, replies))
        except KefuError as exc:
            result.error = exc.message
        result.seconds = time.perf_counter() - started
        return result

    def run_all(
        self,
        conversations: Sequence[ScriptedConversation],
        on_result: Callable[[ConversationResult], None] | None = None,
    ) -> Iterator[ConversationResult]:
        for conv in conversations:
            r = self.run(conv)
            if on_result is not None:
                on_result(r)
            yield r


def failure_report(results: Sequence[ConversationResult], reply_chars: int = 300) -> str:
    """The failed conversations of ``results``, one block each: the file and name, then each
    failing turn with its problems and the start of the bot's reply."""
    lines: list[str] = []
    for r in results:
        if r.passed:
            continue
        lines.append(f"{Path(r.conversation.file).name} :: {r.conversation.name}")
        if r.error:
            lines.append(f"    error: {r.error}")
        for f in r.failures:
            lines.append(f"    turn {f.turn} ({f.user!r}): {'; '.join(f.problems)}")
            lines.append(f"      bot: {f.replies[:reply_chars]!r}")
    return "\n".join(lines)


def junit_xml(results: Sequence[ConversationResult]) -> bytes:
    suite = ET.Element(
        "testsuite",
        name="kefu-conversations",
        tests=str(len(results)),
        failures=str(sum(1 for r in results if r.failures)),
        errors=str(sum(1 for r in results if r.error)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=Path(r.conversation.file).stem,
            name=r.conversation.name,
            time=f"{r.seconds:.3f}",
        )
        if r.error:
            ET.SubElement(case, "error", message=r.error)
        for f in r.failures:
            node = ET.SubElement(case, "failure", message=f"turn {f.turn}: {'; '.join(f.problems)}")
            node.text = f"user: {f.user}\nbot: {f.replies}"
    data: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return data
