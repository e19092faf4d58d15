"""The deterministic flow executor: commands in, replies and a new state out.

One call of :meth:`DialogueEngine.run` handles one customer turn:

1. each command is validated against the state and the flow catalogue (an invalid one becomes a
   logged :class:`~kefu.domain.commands.Noop`) and applied: start or cancel a flow, fill or
   correct a slot, confirm, answer an FAQ or a document question, clarify, hand off;
2. the active flow then runs step by step until it needs the customer again (a question, a
   confirmation) or ends; a finished flow resumes the one it interrupted;
3. at most ``flow_step_cap`` steps run per turn: a flow that loops ends in a handoff.

Repair patterns: cancel ("算了"), correction ("不对，是另一个订单": the slot is replaced and the
steps after it re-run), digression (an FAQ answered mid-flow, then the pending question again),
clarification, and a handoff after ``max_slot_retries`` rejected values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from kefu.dialogue.flows import END, Flow, FlowCatalog, Step, lookup
from kefu.dialogue.hours import within_business_hours
from kefu.dialogue.render import Renderer
from kefu.dialogue.state import DialogueState, Frame
from kefu.dialogue.turn import Reply, Suggestion
from kefu.domain.commands import (
    AnswerFaq,
    Cancel,
    ChitChat,
    Clarify,
    Command,
    Confirm,
    CorrectSlot,
    Deny,
    Handoff,
    Noop,
    OutOfScope,
    SearchDocs,
    SetSlot,
    StartFlow,
    Unreadable,
)
from kefu.logs import get_logger
from kefu.settings import TenantSettings

log = get_logger(__name__)

IDENTITY_KEYS = ("email", "person_name", "zip", "phone", "order_id")


@dataclass(frozen=True)
class Validation:
    """What a validator says about a value offered for a slot."""

    ok: bool
    value: Any = None
    results: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # template suffix: invalid_<problem>


class Tasks(Protocol):
    """The operations and validators flows may call (read-only in L2)."""

    def operation_names(self) -> set[str]: ...

    def validator_names(self) -> set[str]: ...

    def call(
        self, name: str, args: dict[str, Any], state: DialogueState, language: str
    ) -> dict[str, Any]: ...

    def validate(self, name: str, value: Any, frame: Frame, state: DialogueState) -> Validation: ...

    def identify(self, details: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """(customer id, None) when identified, else (None, what is missing or 'failed')."""
        ...

    def customer_view(self, customer_id: str) -> dict[str, Any]: ...

    def preview_write(
        self, operation: str, args: dict[str, Any], state: DialogueState, language: str
    ) -> dict[str, Any]:
        """Preview a shop write (nothing written): ``{"status": "previewed" | "refused",
        "text", "fingerprint", "ledger_id", ...}`` (L3 tasks; others raise KeyError)."""
        ...

    def execute_write(
        self, shown: dict[str, Any], state: DialogueState, language: str, said: str | None
    ) -> dict[str, Any]:
        """Execute the write of the preview ``shown`` the customer confirmed (``said``: their
        words): ``{"status", "text", "ledger_id", "preview"? (a new one when stale)}``."""
        ...


class FaqSource(Protocol):
    def answer(self, faq_id: str, language: str) -> tuple[str, str]:
        """(answer text, language of the text)."""
        ...

    def question(self, faq_id: str, language: str) -> str: ...


@dataclass(frozen=True)
class DocResult:
    answered: bool
    text: str
    confidence: float
    citations: list[dict[str, Any]]
    title: str = ""
    section: str = ""


@dataclass
class Outcome:
    """The engine's result for one turn (the service turns it into a TurnResult)."""

    replies: list[Reply] = field(default_factory=list)
    decision: str = "flow"
    intent: str | None = None
    confidence: float = 0.0
    faq_id: str | None = None
    suggestions: list[Suggestion] = field(default_factory=list)
    handoff: bool = False
    handoff_reason: str | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)
    operations: list[dict[str, Any]] = field(default_factory=list)
    commands: list[dict[str, Any]] = field(default_factory=list)


class StepCapReached(Exception):
    pass


def _write_note(shown: dict[str, Any], status: str, result: dict[str, Any]) -> dict[str, Any]:
    """A write as the turn's ``operations`` list shows it."""
    return {
        "operation": shown["operation"],
        "name": shown["operation"],
        "arguments": shown.get("arguments") or {},
        "status": status,
        "ok": status in ("previewed", "executed", "awaiting_approval"),
        "ledger_id": result.get("ledger_id"),
    }


class DialogueEngine:
    def __init__(
        self,
        catalog: FlowCatalog,
        settings: TenantSettings,
        tasks: Tasks,
        faqs: FaqSource,
        now: datetime,
        docs: Callable[[str, str], DocResult | None] | None = None,
    ) -> None:
        self.catalog = catalog
        self.settings = settings
        self.render = Renderer(settings, catalog.templates)
        self.tasks = tasks
        self.faqs = faqs
        self.now = now
        self.docs = docs
        self.step_cap = int(settings["flow_step_cap"])
        self.max_retries = int(settings["max_slot_retries"])

    # -- entry point ------------------------------------------------------------------------
    def run(
        self,
        state: DialogueState,
        commands: list[Command],
        language: str,
        text: str | None = None,
    ) -> Outcome:
        """One turn: apply ``commands`` (understood from the customer's ``text``) to ``state``
        and run the active flow."""
        out = Outcome()
        self.text = text
        self.steps = 0
        self._link: tuple[str, dict[str, Any]] | None = None
        state.language = language
        self.lang = language
        frame = state.active
        was_waiting = frame is not None and frame.awaiting is not None
        digression = any(isinstance(c, AnswerFaq | SearchDocs | ChitChat) for c in commands)
        clarifying = any(isinstance(c, Clarify) for c in commands)
        try:
            for command in commands:
                checked = self._check(command, state)  # against the state as it is now
                out.commands.append(checked.to_dict())
                self._apply(checked, state, out)
                if out.handoff:
                    break
            if not out.handoff and not clarifying:
                resumed = False
                if was_waiting and digression and frame is not None and state.active is frame:
                    frame.awaiting = None  # answered a side question: ask ours again
                    resumed = True
                self._advance(state, out, resumed)
        except StepCapReached:
            log.warning("flow step cap reached: %s", [f.flow for f in state.frames])
            self._handoff(state, out, "step_cap")
        if out.decision != "fallback":
            state.fallbacks = 0
        state.suggestions = [{"faq_id": s.faq_id, "text": s.text} for s in out.suggestions]
        return out

    # -- validation of commands -------------------------------------------------------------
    def _check(self, command: Command, state: DialogueState) -> Command:
        problem = None
        if isinstance(command, StartFlow) and command.flow not in self.catalog.flows:
            problem = f"unknown flow {command.flow!r}"
        elif isinstance(command, SetSlot | CorrectSlot):
            frame = state.active
            if command.slot in IDENTITY_KEYS and self._needs_identity(state):
                problem = None
            elif frame is None:
                problem = "no flow is active"
            elif command.slot not in self.catalog.flows[frame.flow].slots:
                problem = f"flow {frame.flow!r} has no slot {command.slot!r}"
        elif isinstance(command, Confirm | Deny):
            frame = state.active
            if frame is None or frame.awaiting != "confirm":
                problem = "nothing is waiting for a confirmation"
        if problem is None:
            return command
        log.info("rejected command %s: %s", command.to_dict(), problem)
        return Noop(problem, command.to_dict())

    # -- applying commands ------------------------------------------------------------------
    def _apply(self, command: Command, state: DialogueState, out: Outcome) -> None:
        t = self.render
        lang = self.lang
        if isinstance(command, Noop):
            return
        if isinstance(command, Unreadable):
            if state.active is not None and state.active.awaiting is not None:
                return  # the flow asks its question again
            self._say(out, t("unreadable", lang))
            self._decide(out, "fallback", "unreadable")
        elif isinstance(command, ChitChat):
            if command.kind in ("thanks", "goodbye"):
                state.frames.clear()
            self._say(out, t(command.kind, lang))
            self._decide(out, "chitchat", command.kind, 1.0)
        elif isinstance(command, Handoff):
            self._handoff(state, out, command.reason)
        elif isinstance(command, Cancel):
            frame = state.active
            if frame is None:
                self._say(out, t("nothing_to_cancel", lang))
            else:
                state.frames.pop()
                title = self._title(frame.flow)
                self._say(out, t("flow_cancelled", lang, {"flow_title": title}))
                state.frames.clear()
            self._decide(out, "flow", "cancel", 1.0)
        elif isinstance(command, StartFlow):
            self._start(state, command.flow, out, command.confidence)
        elif isinstance(command, SetSlot):
            self._set_slot(state, command.slot, command.value, correction=False)
        elif isinstance(command, CorrectSlot):
            self._set_slot(state, command.slot, command.value, correction=True)
        elif isinstance(command, Confirm):
            frame = state.active
            assert frame is not None
            frame.awaiting = None
            step = self._flow(frame).steps[frame.step]
            if step.kind == "write":  # the write step executes the confirmed preview
                frame.results.setdefault(step.result or step.target, {})["confirmed"] = True
            else:
                frame.step += 1
        elif isinstance(command, Deny):
            frame = state.active
            assert frame is not None
            step = self._flow(frame).steps[frame.step]
            frame.awaiting = None
            if step.on_deny and step.on_deny != END:
                frame.step = self._flow(frame).index_of(step.on_deny)
            else:
                state.frames.pop()
                self._say(out, t("confirm_denied", lang))
        elif isinstance(command, AnswerFaq):
            text, text_lang = self.faqs.answer(command.faq_id, lang)
            out.replies.append(Reply(text, text_lang))
            self._decide(out, "answer", command.faq_id, command.confidence)
            out.faq_id = command.faq_id
        elif isinstance(command, SearchDocs):
            self._docs(command.query, out)
        elif isinstance(command, Clarify):
            out.suggestions = [Suggestion(o, self._option_text(o)) for o in command.options]
            self._say(out, t("clarify", lang))
            intent = command.options[0] if command.options else None
            self._decide(out, "clarify", intent, command.confidence)
        elif isinstance(command, OutOfScope):
            self._out_of_scope(state, out, command.confidence)

    def _decide(
        self, out: Outcome, decision: str, intent: str | None, confidence: float = 0.0
    ) -> None:
        if out.decision in ("answer", "clarify", "handoff") and decision == "flow":
            return
        if decision == "flow" and out.decision == "flow" and out.confidence > 0:
            out.intent = intent  # keep how sure the understanding was that started the task
            return
        out.decision = decision
        out.intent = intent
        out.confidence = confidence

    def _say(self, out: Outcome, text: str, kind: str = "text") -> None:
        if text:
            out.replies.append(Reply(text, self.lang, kind))

    def _title(self, flow: str) -> str:
        f = self.catalog.flows.get(flow)
        if f is None:
            return flow
        return f.title.get(self.lang) or next(iter(f.title.values()))

    def _option_text(self, option: str) -> str:
        if option.startswith("flow:"):
            return self._title(option[5:])
        return self.faqs.question(option, self.lang)

    def _flow(self, frame: Frame) -> Flow:
        return self.catalog.flows[frame.flow]

    def _start(self, state: DialogueState, flow: str, out: Outcome, confidence: float) -> None:
        active = state.active
        if active is not None and active.flow == flow:
            return  # already doing it; slots that came with the message are applied next
        state.frames.append(Frame(flow=flow))
        if len(state.frames) > 3:  # keep the stack shallow: drop the oldest interrupted task
            del state.frames[0]
        self._decide(out, "flow", flow, confidence)

    def _needs_identity(self, state: DialogueState) -> bool:
        return state.customer_id is None and any(
            self.catalog.flows[f.flow].identity for f in state.frames
        )

    def _set_slot(self, state: DialogueState, slot: str, value: Any, correction: bool) -> None:
        if slot in IDENTITY_KEYS and self._needs_identity(state):
            state.identity[slot] = value
            frame = state.active
            if slot != "order_id" or frame is None:
                return
            # an order id given to identify also names the order the customer asks about
            if "order_id" not in self._flow(frame).slots:
                return
        frame = state.active
        assert frame is not None
        flow = self._flow(frame)
        step = flow.collect_step(slot)
        assert step is not None
        index = flow.index_of(step.id)
        if correction or (slot in frame.slots and index < frame.step):
            # re-run everything after the corrected slot
            frame.slots[slot] = value
            frame.results.pop(slot, None)
            later = {s.result for s in flow.steps[index:] if s.result}
            for name in later:
                frame.results.pop(name, None)
            frame.step = index
            frame.awaiting = None
            frame.retries = 0
            frame.slots[f"_offered_{slot}"] = True
            return
        frame.slots[slot] = value
        frame.slots[f"_offered_{slot}"] = True

    # -- running flows ----------------------------------------------------------------------
    def _advance(self, state: DialogueState, out: Outcome, resumed: bool) -> None:
        while state.frames:
            frame = state.frames[-1]
            if resumed:
                title = self._title(frame.flow)
                self._say(out, self.render("resume", self.lang, {"flow_title": title}))
                resumed = False
            if self._run_frame(state, frame, out):
                return  # waiting for the customer
            if out.handoff:
                return
            state.context["last_flow"] = frame.flow
            state.frames.pop()
            if self._link is not None:
                flow, carried = self._link
                self._link = None
                state.frames.append(Frame(flow=flow, slots=dict(carried)))
                self._decide(out, "flow", flow, 1.0)
                continue
            if state.frames:
                resumed = True
                state.frames[-1].awaiting = None

    def _tick(self) -> None:
        self.steps += 1
        if self.steps > self.step_cap:
            raise StepCapReached

    def _run_frame(self, state: DialogueState, frame: Frame, out: Outcome) -> bool:
        """Run the frame; True when it waits for the customer, False when it ended."""
        flow = self._flow(frame)
        if flow.identity and state.customer_id is None and not self._identify(state, frame, out):
            return True
        while 0 <= frame.step < len(flow.steps):
            self._tick()
            step = flow.steps[frame.step]
            jump = self._run_step(state, frame, step, out)
            if out.handoff:
                return False
            if jump == "wait":
                return True
            if jump == END:
                return False
            if jump is not None:
                frame.step = flow.index_of(jump)
                continue
            if step.next == END:
                return False
            frame.step = flow.index_of(step.next) if step.next else frame.step + 1
        return False

    def _values(self, state: DialogueState, frame: Frame) -> dict[str, Any]:
        values: dict[str, Any] = {k: v for k, v in frame.slots.items() if not k.startswith("_")}
        values.update(frame.results)  # a slot's validated details win over its raw value
        if state.customer_id is not None:
            values.setdefault("customer", self.tasks.customer_view(state.customer_id))
        return values

    def _resolve(self, spec: str, values: Mapping[str, Any]) -> Any:
        if spec.startswith("="):
            return spec[1:]
        if "{" in spec:
            return self.render.format(spec, values)
        found, value = lookup(values, spec)
        return value if found else None

    def _run_step(self, state: DialogueState, frame: Frame, step: Step, out: Outcome) -> str | None:
        values = self._values(state, frame)
        lang = self.lang
        if step.kind == "collect":
            return self._collect(state, frame, step, out)
        if step.kind == "call":
            slots = {k: v for k, v in frame.slots.items() if not k.startswith("_")}
            scope = {**values, **slots}  # arguments take the slot's value, not its details
            args = {k: self._resolve(v, scope) for k, v in step.args.items()}
            try:
                result = self.tasks.call(step.target, args, state, lang)
            except Exception:
                log.exception("operation %s failed", step.target)
                self._say(out, self.render("operation_failed", lang))
                return END
            frame.results[step.result or step.target] = result
            out.operations.append({"operation": step.target, "args": args, "ok": True})
            return None
        if step.kind == "say":
            name = self.render.format(step.target, values) if "{" in step.target else step.target
            if step.each:
                found, items = lookup(values, step.each)
                lines = []
                for i, item in enumerate(items if found and isinstance(items, list) else []):
                    env = {**values, **(item if isinstance(item, dict) else {"value": item})}
                    env["index"] = i + 1
                    lines.append(self.render(name, lang, env))
                if lines:
                    self._say(out, "\n".join(lines))
            else:
                self._say(out, self.render(name, lang, values))
            self._decide(out, "flow", frame.flow, 1.0)
            return None
        if step.kind == "branch":
            for b in step.branches:
                if b.when.test(values):
                    return b.goto
            return step.otherwise or None
        if step.kind == "set":
            flow = self._flow(frame)
            for k, v in step.values.items():
                frame.slots[k] = self._resolve(v, values) if isinstance(v, str) else v
                collect = flow.collect_step(k)
                if collect is not None and collect.validate:
                    # a slot the flow fills itself (an order's only item) gets the details
                    # its validator gives (the item's name and options, for the next question)
                    check = self.tasks.validate(collect.validate, frame.slots[k], frame, state)
                    if check.ok:
                        frame.slots[k] = check.value if check.value is not None else frame.slots[k]
                        frame.results.update(check.results)
            return None
        if step.kind == "confirm":
            if frame.awaiting == "confirm":
                return "wait"
            self._say(out, self.render(step.target, lang, values))
            frame.awaiting = "confirm"
            self._decide(out, "flow", frame.flow, 1.0)
            return "wait"
        if step.kind == "write":
            return self._write(state, frame, step, out)
        if step.kind == "link":
            target = self.catalog.flows[step.target]
            carried = {k: v for k, v in frame.slots.items() if k in target.slots}
            self._link = (step.target, carried)
            return END
        # handoff
        self._handoff(state, out, step.target)
        return END

    def _write(self, state: DialogueState, frame: Frame, step: Step, out: Outcome) -> str | None:
        """An L3 write: preview it and ask for an explicit yes (wait); once confirmed, execute
        exactly that preview. A preview the shop refuses, or an execution, stores its result
        (``status``, ``text``) as the step's result and the flow goes on (branch on it)."""
        key = step.result or step.target
        held = frame.results.get(key) or {}
        if frame.awaiting == "confirm":
            return "wait"
        lang = self.lang
        if held.get("confirmed") and held.get("preview"):
            try:
                done = self.tasks.execute_write(held["preview"], state, lang, self.text)
            except Exception:
                log.exception("write %s failed", step.target)
                self._say(out, self.render("operation_failed", lang))
                return END
            out.operations.append(_write_note(held["preview"], done["status"], done))
            self._say(out, str(done.get("text") or ""))
            again = done.get("preview")
            if done["status"] == "stale" and again and again.get("status") == "previewed":
                return self._ask_confirm(frame, key, again, out)
            frame.results[key] = done
            return None
        values = self._values(state, frame)
        slots = {k: v for k, v in frame.slots.items() if not k.startswith("_")}
        args = {k: self._resolve(v, {**values, **slots}) for k, v in step.args.items()}
        try:
            shown = self.tasks.preview_write(step.target, args, state, lang)
        except Exception:
            log.exception("preview of %s failed", step.target)
            self._say(out, self.render("operation_failed", lang))
            return END
        out.operations.append(_write_note(shown, shown["status"], shown))
        if shown["status"] != "previewed":
            self._say(out, str(shown.get("text") or ""))
            frame.results[key] = shown
            return None
        return self._ask_confirm(frame, key, shown, out)

    def _ask_confirm(self, frame: Frame, key: str, shown: dict[str, Any], out: Outcome) -> str:
        frame.results[key] = {"preview": shown}
        # a preview is never rephrased: it states exactly what changes and the amounts
        self._say(out, self.render("confirm_write", self.lang, {"preview": shown}), "preview")
        frame.awaiting = "confirm"
        self._decide(out, "flow", frame.flow, 1.0)
        return "wait"

    def _collect(self, state: DialogueState, frame: Frame, step: Step, out: Outcome) -> str | None:
        slot = step.target
        offered = frame.slots.pop(f"_offered_{slot}", False)
        if slot in frame.slots and not offered:
            return None  # already filled earlier (prefilled or set)
        if slot in frame.slots and offered:
            value = frame.slots[slot]
            if step.validate:
                check = self.tasks.validate(step.validate, value, frame, state)
                if not check.ok:
                    del frame.slots[slot]
                    problem = check.problem or "missing"
                    return self._reject(state, frame, step, out, problem, value, check.results)
                frame.slots[slot] = check.value if check.value is not None else value
                frame.results.update(check.results)
            frame.awaiting = None
            frame.retries = 0
            return None
        if frame.awaiting == "collect":
            # we asked and the answer did not contain the value
            return self._reject(state, frame, step, out, "missing", None)
        if step.optional:
            return None
        self._say(
            out, self.render(step.ask or f"ask_{slot}", self.lang, self._values(state, frame))
        )
        frame.awaiting = "collect"
        self._decide(out, "flow", frame.flow, 1.0)
        return "wait"

    def _reject(
        self,
        state: DialogueState,
        frame: Frame,
        step: Step,
        out: Outcome,
        problem: str,
        value: Any,
        detail: Mapping[str, Any] | None = None,
    ) -> str:
        """Say why the value was refused (``invalid_<problem>``, with the validator's
        ``detail``) and ask again; a handoff after ``max_retries`` refusals."""
        frame.retries += 1
        if frame.retries > self.max_retries:
            self._handoff(state, out, "validation_failed")
            return END
        lang = self.lang
        what_name = f"what_{step.entity}"
        what = self.render(what_name if self.render.has(what_name) else "what_value", lang)
        reason = f"invalid_{problem}"
        if self.render.has(reason):
            shown = value.get("text", "") if isinstance(value, dict) else (value or "")
            found = {**(detail or {}), "value": shown, "what": what}
            self._say(out, self.render(reason, lang, found))
        self._say(
            out, self.render(step.ask or f"ask_{step.target}", lang, self._values(state, frame))
        )
        frame.awaiting = "collect"
        self._decide(out, "flow", frame.flow, 1.0)
        return "wait"

    def _identify(self, state: DialogueState, frame: Frame, out: Outcome) -> bool:
        lang = self.lang
        if state.identity:
            customer, missing = self.tasks.identify(state.identity)
            if customer is not None:
                state.customer_id = customer
                order = state.identity.get("order_id")
                if (
                    order
                    and "order_id" in self._flow(frame).slots
                    and "order_id" not in frame.slots
                ):
                    frame.slots["order_id"] = order
                    frame.slots["_offered_order_id"] = True
                state.identity = {}
                state.identify_failures = 0
                view = self.tasks.customer_view(customer)
                self._say(out, self.render("identified", lang, {"customer": view}))
                out.operations.append({"operation": "identify_customer", "ok": True})
                frame.awaiting = None
                return True
            if missing == "failed":
                state.identify_failures += 1
                state.identity = {}
                out.operations.append({"operation": "identify_customer", "ok": False})
                if state.identify_failures > self.max_retries:
                    self._handoff(state, out, "validation_failed")
                    return False
                self._say(out, self.render("identify_failed", lang))
                frame.awaiting = "identity"
                self._decide(out, "flow", frame.flow, 1.0)
                return False
            if missing:
                what = self.render(f"missing_{missing}", lang)
                self._say(out, self.render("identify_more", lang, {"missing": what}))
                frame.awaiting = "identity"
                self._decide(out, "flow", frame.flow, 1.0)
                return False
        if frame.awaiting == "identity":
            state.identify_failures += 1
            if state.identify_failures > self.max_retries:
                self._handoff(state, out, "validation_failed")
                return False
        self._say(out, self.render("ask_identity", lang))
        frame.awaiting = "identity"
        self._decide(out, "flow", frame.flow, 1.0)
        return False

    # -- answers, fallbacks and handoff ---------------------------------------------------------
    def _docs(self, query: str, out: Outcome) -> None:
        lang = self.lang
        result = self.docs(query, lang) if self.docs is not None else None
        if result is None or not result.answered:
            self._say(out, self.render("doc_unknown", lang))
            self._decide(out, "fallback", None, result.confidence if result else 0.0)
            return
        values = {"answer": result.text, "title": result.title, "section": result.section}
        self._say(out, self.render("doc_answer", lang, values))
        out.citations = list(result.citations)
        self._decide(out, "answer", "documents", result.confidence)

    def _out_of_scope(self, state: DialogueState, out: Outcome, confidence: float) -> None:
        frame = state.active
        if frame is not None and frame.awaiting in ("collect", "identity", "confirm"):
            if frame.awaiting == "confirm":
                self._say(out, self.render("confirm_unclear", self.lang))
                return
            return  # the frame re-asks (and counts the failure) when it runs
        limit = int(self.settings["handoff_after_failures"])
        if limit and state.fallbacks + 1 >= limit:
            state.fallbacks = 0
            self._handoff(state, out, "repeated_failure", confidence)
            return
        state.fallbacks += 1
        self._say(out, self.render("fallback", self.lang))
        self._decide(out, "fallback", None, confidence)

    def _handoff(
        self, state: DialogueState, out: Outcome, reason: str, confidence: float = 1.0
    ) -> None:
        lang = self.lang
        if not within_business_hours(self.settings, self.now):
            name = "handoff_closed"
        else:
            name = {
                "repeated_failure": "handoff_failures",
                "validation_failed": "handoff_validation",
                "step_cap": "handoff_step_cap",
                "emotion": "handoff_emotion",
            }.get(reason, "handoff")
        self._say(out, self.render(name, lang))
        out.decision = "handoff"
        out.intent = "handoff"
        out.confidence = confidence
        out.handoff = True
        out.handoff_reason = reason
        state.frames.clear()
