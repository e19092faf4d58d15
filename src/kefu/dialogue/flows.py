"""Flow definitions: YAML in, validated typed objects out.

A flow file (``kefu flows import``; the built-in one is ``dialogue/flows/default.yaml``)::

    version: 1
    templates:                       # optional; same names override the built-in ones
      order_status: {zh: "订单 {order.order_id}：{order.status_text}", en: "..."}
    flows:
      order_status:
        title: {zh: 查询订单状态, en: Check an order's status}
        identity: required           # identify first: email, name + zip, or phone + order
        examples: {zh: [我的订单到哪了], en: [where is my order]}
        steps:
          - collect: order_id        # fill a slot from an entity of the same type
            entity: order_id
            ask: ask_order_id        # template asking for it
            validate: own_order      # a validator (operation) that may reject the value
          - call: order_details      # a read operation; its result is stored as ``order``
            args: {order_id: order_id}
            as: order
          - branch:
              - when: {var: order.status, in: [cancelled]}
                goto: cancelled
            otherwise: tell
          - id: tell
            say: order_status        # template, formatted with slots and results
            next: end
          - id: cancelled
            say: order_cancelled

Step kinds: ``collect``, ``call``, ``say`` (optionally ``each: LIST`` to render one line per
element), ``branch``, ``confirm`` (``on_deny``: a step id or ``end``), ``write`` (an L3 shop
write: preview, explicit confirmation bound to that preview, execution once; ``args``, ``as``,
``on_deny``), ``set``, ``link`` (start another flow), ``handoff``. A step may name ``next`` (a
step id or ``end``). Problems raise
:class:`~kefu.errors.FlowError` naming the file and the place, e.g.
``flows.yaml, flows.order_status.steps[2].goto: unknown step 'tell2'``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from kefu.errors import FlowError

STEP_KINDS = ("collect", "call", "say", "branch", "confirm", "write", "set", "link", "handoff")
CONDITION_OPS = ("equals", "not_equals", "in", "not_in", "exists", "gt", "lt", "truthy")
END = "end"


@dataclass(frozen=True)
class Condition:
    var: str
    op: str
    value: Any = None

    def test(self, values: Mapping[str, Any]) -> bool:
        found, actual = lookup(values, self.var)
        if self.op == "exists":
            return found == bool(self.value)
        if self.op == "truthy":
            return bool(actual) == bool(self.value if self.value is not None else True)
        if not found:
            return self.op in ("not_equals", "not_in")
        if self.op == "equals":
            return bool(actual == self.value)
        if self.op == "not_equals":
            return bool(actual != self.value)
        if self.op == "in":
            return actual in self.value
        if self.op == "not_in":
            return actual not in self.value
        try:
            if self.op == "gt":
                return bool(actual > self.value)
            return bool(actual < self.value)
        except TypeError:
            return False


@dataclass(frozen=True)
class Branch:
    when: Condition
    goto: str


@dataclass(frozen=True)
class Step:
    id: str
    kind: str
    target: str = ""  # slot / operation / template / flow / handoff reason, per kind
    entity: str | None = None
    ask: str | None = None
    validate: str | None = None
    args: dict[str, str] = field(default_factory=dict)
    result: str | None = None
    each: str | None = None
    branches: tuple[Branch, ...] = ()
    otherwise: str | None = None
    on_deny: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    next: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class Flow:
    name: str
    title: dict[str, str]
    examples: dict[str, tuple[str, ...]]
    steps: tuple[Step, ...]
    identity: bool = False
    level: str = "L2"

    def index_of(self, step_id: str) -> int:
        for i, s in enumerate(self.steps):
            if s.id == step_id:
                return i
        raise KeyError(step_id)

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(s.target for s in self.steps if s.kind == "collect")

    def collect_step(self, slot: str) -> Step | None:
        for s in self.steps:
            if s.kind == "collect" and s.target == slot:
                return s
        return None


@dataclass(frozen=True)
class FlowCatalog:
    flows: dict[str, Flow]
    templates: dict[str, dict[str, str]]

    def merged(self, other: FlowCatalog) -> FlowCatalog:
        """``other`` over this catalogue (same names replace)."""
        return FlowCatalog({**self.flows, **other.flows}, {**self.templates, **other.templates})


def lookup(values: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """Resolve a dotted path (``order.status``, ``order.items.0.name``) in nested values."""
    current: Any = values
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list | tuple) and part.lstrip("-").isdigit():
            i = int(part)
            if -len(current) <= i < len(current):
                current = current[i]
            else:
                return False, None
        else:
            return False, None
    return True, current


class _Loader:
    def __init__(
        self,
        source: str,
        known_ops: set[str] | None,
        known_validators: set[str] | None,
        known_writes: set[str] | None = None,
    ):
        self.source = source
        self.known_ops = known_ops
        self.known_validators = known_validators
        self.known_writes = known_writes

    def fail(self, where: str, problem: str) -> FlowError:
        return FlowError(self.source, where, problem)

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "expected a non-empty string")
        return value

    def i18n(self, value: Any, where: str) -> dict[str, str]:
        if isinstance(value, str):
            return {"zh": value}
        m = self.mapping(value, where)
        out: dict[str, str] = {}
        for lang, text in m.items():
            if lang not in ("zh", "en"):
                raise self.fail(f"{where}.{lang}", "unknown language (use zh, en)")
            out[lang] = self.text(text, f"{where}.{lang}")
        if not out:
            raise self.fail(where, "needs at least one language")
        return out

    def catalog(self, data: Any) -> FlowCatalog:
        root = self.mapping(data, "top level")
        unknown = sorted(set(root) - {"version", "flows", "templates"})
        if unknown:
            raise self.fail(unknown[0], "unknown key (expected version, flows, templates)")
        if root.get("version", 1) != 1:
            raise self.fail("version", "only version 1 is supported")
        templates = {
            str(name): self.i18n(text, f"templates.{name}")
            for name, text in self.mapping(root.get("templates") or {}, "templates").items()
        }
        flows: dict[str, Flow] = {}
        for name, body in self.mapping(root.get("flows") or {}, "flows").items():
            flows[str(name)] = self.flow(str(name), body, f"flows.{name}")
        for flow in flows.values():
            for i, step in enumerate(flow.steps):
                if step.kind == "link" and step.target not in flows and step.target != "*":
                    where = f"flows.{flow.name}.steps[{i}].link"
                    self.pending_links.append((where, step.target))
        return FlowCatalog(flows, templates)

    pending_links: list[tuple[str, str]]

    def flow(self, name: str, body: Any, where: str) -> Flow:
        m = self.mapping(body, where)
        allowed = {"title", "examples", "steps", "identity", "level", "description"}
        unknown = sorted(set(m) - allowed)
        if unknown:
            raise self.fail(f"{where}.{unknown[0]}", "unknown key")
        title = self.i18n(m.get("title", name), f"{where}.title")
        examples: dict[str, tuple[str, ...]] = {}
        for lang, items in self.mapping(m.get("examples") or {}, f"{where}.examples").items():
            if lang not in ("zh", "en"):
                raise self.fail(f"{where}.examples.{lang}", "unknown language (use zh, en)")
            if not isinstance(items, list):
                raise self.fail(f"{where}.examples.{lang}", "expected a list of strings")
            examples[lang] = tuple(
                self.text(x, f"{where}.examples.{lang}[{i}]") for i, x in enumerate(items)
            )
        identity = m.get("identity", "none")
        if identity not in ("required", "none"):
            raise self.fail(f"{where}.identity", "expected 'required' or 'none'")
        level = m.get("level", "L2")
        if level not in ("L2", "L3"):
            raise self.fail(f"{where}.level", "expected L2 or L3")
        raw_steps = m.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise self.fail(f"{where}.steps", "expected a non-empty list of steps")
        steps = [self.step(s, f"{where}.steps[{i}]", i) for i, s in enumerate(raw_steps)]
        ids = [s.id for s in steps]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise self.fail(f"{where}.steps", f"duplicate step id {dupes[0]!r}")
        targets = set(ids) | {END}
        for i, s in enumerate(steps):
            refs = [("next", s.next), ("otherwise", s.otherwise), ("on_deny", s.on_deny)]
            refs += [(f"branch[{j}].goto", b.goto) for j, b in enumerate(s.branches)]
            for key, ref in refs:
                if ref is not None and ref not in targets:
                    raise self.fail(f"{where}.steps[{i}].{key}", f"unknown step {ref!r}")
        return Flow(name, title, examples, tuple(steps), identity == "required", level)

    def step(self, raw: Any, where: str, position: int) -> Step:
        m = self.mapping(raw, where)
        kinds = [k for k in STEP_KINDS if k in m]
        if len(kinds) != 1:
            raise self.fail(
                where, f"a step needs exactly one of {', '.join(STEP_KINDS)} (found {len(kinds)})"
            )
        kind = kinds[0]
        allowed = {
            "collect": {"entity", "ask", "validate", "optional"},
            "call": {"args", "as"},
            "say": {"each"},
            "branch": {"otherwise"},
            "confirm": {"on_deny"},
            "write": {"args", "as", "on_deny"},
            "set": set(),
            "link": set(),
            "handoff": set(),
        }[kind] | {"id", "next", kind}
        unknown = sorted(set(m) - allowed)
        if unknown:
            raise self.fail(f"{where}.{unknown[0]}", f"unknown key for a {kind} step")
        step_id = str(m.get("id") or f"{kind}_{position}")
        nxt = m.get("next")
        common: dict[str, Any] = {"id": step_id, "kind": kind, "next": None}
        if nxt is not None:
            common["next"] = self.text(nxt, f"{where}.next")
        if kind == "collect":
            slot = self.text(m["collect"], f"{where}.collect")
            validate = m.get("validate")
            if validate is not None:
                validate = self.text(validate, f"{where}.validate")
                if self.known_validators is not None and validate not in self.known_validators:
                    raise self.fail(f"{where}.validate", f"unknown validator {validate!r}")
            return Step(
                target=slot,
                entity=self.text(m.get("entity", slot), f"{where}.entity"),
                ask=self.text(m["ask"], f"{where}.ask") if "ask" in m else f"ask_{slot}",
                validate=validate,
                optional=bool(m.get("optional", False)),
                **common,
            )
        if kind == "call":
            op = self.text(m["call"], f"{where}.call")
            if self.known_ops is not None and op not in self.known_ops:
                raise self.fail(f"{where}.call", f"unknown operation {op!r}")
            args = self.mapping(m.get("args") or {}, f"{where}.args")
            return Step(
                target=op,
                args={str(k): self.text(v, f"{where}.args.{k}") for k, v in args.items()},
                result=self.text(m.get("as", op), f"{where}.as"),
                **common,
            )
        if kind == "say":
            each = m.get("each")
            return Step(
                target=self.text(m["say"], f"{where}.say"),
                each=self.text(each, f"{where}.each") if each is not None else None,
                **common,
            )
        if kind == "branch":
            raw_branches = m["branch"]
            if not isinstance(raw_branches, list) or not raw_branches:
                raise self.fail(f"{where}.branch", "expected a non-empty list of {when, goto}")
            branches = tuple(
                self.branch(b, f"{where}.branch[{j}]") for j, b in enumerate(raw_branches)
            )
            otherwise = m.get("otherwise")
            return Step(
                branches=branches,
                otherwise=self.text(otherwise, f"{where}.otherwise") if otherwise else None,
                **common,
            )
        if kind == "confirm":
            on_deny = m.get("on_deny")
            return Step(
                target=self.text(m["confirm"], f"{where}.confirm"),
                on_deny=self.text(on_deny, f"{where}.on_deny") if on_deny else None,
                **common,
            )
        if kind == "write":
            op = self.text(m["write"], f"{where}.write")
            if self.known_writes is not None and op not in self.known_writes:
                raise self.fail(f"{where}.write", f"unknown write operation {op!r}")
            args = self.mapping(m.get("args") or {}, f"{where}.args")
            on_deny = m.get("on_deny")
            return Step(
                target=op,
                args={str(k): self.text(v, f"{where}.args.{k}") for k, v in args.items()},
                result=self.text(m.get("as", op), f"{where}.as"),
                on_deny=self.text(on_deny, f"{where}.on_deny") if on_deny else None,
                **common,
            )
        if kind == "set":
            return Step(values=dict(self.mapping(m["set"], f"{where}.set")), **common)
        if kind == "link":
            return Step(target=self.text(m["link"], f"{where}.link"), **common)
        return Step(target=self.text(m["handoff"], f"{where}.handoff"), **common)

    def branch(self, raw: Any, where: str) -> Branch:
        m = self.mapping(raw, where)
        if set(m) != {"when", "goto"}:
            raise self.fail(where, "a branch needs exactly 'when' and 'goto'")
        return Branch(
            self.condition(m["when"], f"{where}.when"), self.text(m["goto"], f"{where}.goto")
        )

    def condition(self, raw: Any, where: str) -> Condition:
        m = self.mapping(raw, where)
        var = self.text(m.get("var"), f"{where}.var")
        ops = [k for k in m if k != "var"]
        if len(ops) != 1 or ops[0] not in CONDITION_OPS:
            raise self.fail(where, f"a condition needs 'var' and one of {', '.join(CONDITION_OPS)}")
        op = ops[0]
        value = m[op]
        if op in ("in", "not_in") and not isinstance(value, list):
            raise self.fail(f"{where}.{op}", "expected a list")
        return Condition(var, op, value)


def parse_flows(
    text: str,
    source: str = "flows.yaml",
    *,
    known_ops: set[str] | None = None,
    known_validators: set[str] | None = None,
    known_flows: set[str] = frozenset(),  # type: ignore[assignment]
    known_writes: set[str] | None = None,
) -> FlowCatalog:
    """Parse and validate a flow file; raises FlowError naming ``source`` and the place."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise FlowError(source, where, str(problem)) from None
    loader = _Loader(source, known_ops, known_validators, known_writes)
    loader.pending_links = []
    catalog = loader.catalog(data)
    for where, target in loader.pending_links:
        if target not in known_flows:
            raise FlowError(source, where, f"unknown flow {target!r}")
    return catalog
