"""The structured handoff object: what an agent needs to take over without asking again.

Built by code from the conversation when the bot decides to hand off (never by an LLM): the
reason, what the customer wanted (intent, flow, slots), what the bot did and what is still
pending (from the turns' ``operations`` and the operation ledger), the customer's mood, a
three-line summary in the tenant's language, and the last turns of the transcript. The agent
reads it in the inbox, and it is stored on the ``handoff_requested`` event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kefu.dialogue.flows import FlowCatalog
from kefu.dialogue.state import DialogueState
from kefu.dialogue.turn import TurnResult
from kefu.domain.conversation import AGENT_MESSAGE, BOT_REPLY, CUSTOMER_MESSAGE, Event
from kefu.storage.ledger import LedgerEntry

DEFAULT_QUEUE = "general"  # the skill group of a handoff no group in desk.skill_groups lists
# Ledger statuses, as the agent needs them: written, still to happen, or not done at all.
DONE_STATUSES = frozenset({"executed"})
PENDING_STATUSES = frozenset(
    {"previewed", "confirmed", "awaiting_approval", "approved", "unknown_outcome"}
)
FAILED_STATUSES = frozenset({"refused", "rejected", "failed"})
# Intents that say nothing about what the customer wants.
_NEUTRAL_INTENTS = frozenset(
    {"handoff", "greeting", "thanks", "goodbye", "unreadable", "welcome", None, ""}
)
# Decisions whose intent says what the customer asked about (an answer, a task).
_INTENT_DECISIONS = frozenset({"answer", "flow"})
_TEXT_CHARS = 60  # a quoted customer message in the summary

_REASONS = {
    "zh": {
        "customer_request": "客户要求转人工",
        "repeated_failure": "机器人多次未能解答",
        "complaint": "客户投诉",
        "emotion": "客户情绪激动",
        "unsupported": "机器人无法办理",
        "validation_failed": "多次提供的信息无效",
        "step_cap": "流程异常",
    },
    "en": {
        "customer_request": "the customer asked for a human",
        "repeated_failure": "the bot failed repeatedly",
        "complaint": "complaint",
        "emotion": "the customer is upset",
        "unsupported": "the bot cannot do it",
        "validation_failed": "details given were rejected repeatedly",
        "step_cap": "the flow went wrong",
    },
}
_LINES = {
    "zh": {
        "want": "客户诉求：{want}",
        "want_unknown": "客户诉求：{text}",
        "did": "机器人已做：{did}",
        "did_nothing": "机器人已做：回复 {n} 次，未能解决",
        "pending": "待处理：{pending}（转人工原因：{reason}）",
        "pending_none": "待处理：跟进客户问题（转人工原因：{reason}）",
        "sep": "；",
        "answered": "回答了“{q}”",
        "looked_up": "查询了 {what}",
        "missing": "尚缺 {slots}",
    },
    "en": {
        "want": "Customer wants: {want}",
        "want_unknown": "Customer wants: {text}",
        "did": "Bot did: {did}",
        "did_nothing": "Bot did: replied {n} time(s) without solving it",
        "pending": "Pending: {pending} (handoff reason: {reason})",
        "pending_none": "Pending: follow up on the customer's question (handoff reason: {reason})",
        "sep": "; ",
        "answered": "answered “{q}”",
        "looked_up": "looked up {what}",
        "missing": "still missing {slots}",
    },
}


@dataclass(frozen=True)
class HandoffContext:
    """Everything the builder reads, gathered by the service for one handoff turn."""

    result: TurnResult  # the turn that decided to hand off
    events: Sequence[Event]  # the conversation so far (this turn's customer message included)
    reply_text: str  # the bot's reply of this turn (not stored yet)
    resume: DialogueState  # the state before the handoff (its flow and slots)
    tenant_language: str
    customer: str | None = None
    catalog: FlowCatalog | None = None
    faq: Callable[[str], tuple[str, str] | None] = lambda _id: None  # id -> (question, category)
    ledger: Sequence[LedgerEntry] = ()
    order_value: Callable[[str], float | None] = lambda _id: None
    skill_groups: Mapping[str, Any] = field(default_factory=dict)
    tail: int = 6


def choose_queue(groups: Mapping[str, Any], keys: Sequence[str]) -> str:
    """The first skill group (in the setting's order) that lists one of ``keys`` (the intent,
    the flow's name with and without ``flow:``, the FAQ's category); ``general`` otherwise."""
    wanted = {k.strip().lower() for k in keys if k}
    for group, members in groups.items():
        items = members if isinstance(members, list) else [members]
        if any(str(m).strip().lower() in wanted for m in items):
            return str(group)
    return DEFAULT_QUEUE


def build_handoff(ctx: HandoffContext) -> dict[str, Any]:
    """The handoff object (see CONTRACTS and docs/desk.md) for one handoff turn."""
    result = ctx.result
    frame = ctx.resume.active
    flow = result.flow or (frame.flow if frame else None)
    slots = dict(result.slots) or (
        {k: v for k, v in frame.slots.items() if not k.startswith("_")} if frame else {}
    )
    intent = _intent(result, ctx.events, flow)
    faq_id = intent if intent and not intent.startswith("flow:") else None
    faq = ctx.faq(faq_id) if faq_id else None
    keys = [intent or "", flow or "", f"flow:{flow}" if flow else "", faq[1] if faq else ""]
    queue = choose_queue(ctx.skill_groups, keys)
    operations = _operations(ctx.events, result, ctx.ledger)
    order_id = next((str(v) for k, v in slots.items() if k == "order_id" and v), None)
    order_value = ctx.order_value(order_id) if order_id else None
    emotion = result.emotion or _last_emotion(ctx.events)
    lang = ctx.tenant_language if ctx.tenant_language in _LINES else "zh"
    summary = _summary(ctx, lang, intent, flow, slots, faq, operations)
    return {
        "reason": result.handoff_reason or "customer_request",
        "intent": intent,
        "flow": flow,
        "slots": slots,
        "operations": operations,
        "emotion": (
            {"label": emotion.get("label"), "score": emotion.get("score")} if emotion else None
        ),
        "summary": summary,
        "customer": ctx.resume.customer_id or ctx.customer,
        "language": result.language,
        "queue": queue,
        "order_value": order_value,
        "transcript_tail": _tail(ctx.events, ctx.reply_text, ctx.tail),
    }


def _intent(result: TurnResult, events: Sequence[Event], flow: str | None) -> str | None:
    if result.intent not in _NEUTRAL_INTENTS and result.decision in _INTENT_DECISIONS:
        return result.intent
    if flow:
        return f"flow:{flow}"
    for e in reversed(events):
        if e.type == BOT_REPLY and e.payload.get("decision") in _INTENT_DECISIONS:
            found = e.payload.get("intent")
            if found not in _NEUTRAL_INTENTS:
                return str(found)
    return None


def _last_emotion(events: Sequence[Event]) -> dict[str, Any] | None:
    for e in reversed(events):
        if e.type == BOT_REPLY and e.payload.get("emotion"):
            found: dict[str, Any] = e.payload["emotion"]
            return found
    return None


def _operations(
    events: Sequence[Event], result: TurnResult, ledger: Sequence[LedgerEntry]
) -> dict[str, list[dict[str, Any]]]:
    """Done / pending / failed: shop writes by their newest ledger status (a row's chain is
    followed through ``ref`` to the preview that started it), and the reads the bot made."""
    done: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    # shop writes: the newest status of each chain of ledger rows
    by_id = {e.id: e for e in ledger}

    def root(entry: LedgerEntry) -> int:
        seen = 0
        while entry.ref is not None and entry.ref in by_id and seen < 50:
            entry = by_id[entry.ref]
            seen += 1
        return entry.id

    newest: dict[int, LedgerEntry] = {}
    for entry in sorted(ledger, key=lambda e: e.id):
        newest[root(entry)] = entry
    for entry in newest.values():
        item = {
            "name": entry.operation,
            "arguments": entry.arguments,
            "status": entry.status,
            "ledger_id": entry.id,
        }
        if entry.status in DONE_STATUSES:
            done.append(item)
        elif entry.status in PENDING_STATUSES:
            pending.append(item)
        elif entry.status in FAILED_STATUSES:
            failed.append(item)
    # writes shown in the turns but not (yet) in the ledger, and the reads (lookups)
    known = {i["ledger_id"] for i in done + pending + failed}
    payloads = [e.payload for e in events if e.type == BOT_REPLY] + [result.to_dict()]
    reads: dict[str, dict[str, Any]] = {}
    for payload in payloads:
        for op in payload.get("operations") or []:
            name = op.get("name") or op.get("operation")
            if not name or str(name).startswith("llm_"):
                continue
            if "name" in op:  # a write note
                if op.get("ledger_id") in known:
                    continue
                item = {
                    "name": name,
                    "arguments": op.get("arguments") or {},
                    "status": op.get("status"),
                    "ledger_id": op.get("ledger_id"),
                }
                status = str(op.get("status"))
                target = (
                    done
                    if status in DONE_STATUSES
                    else pending
                    if status in PENDING_STATUSES
                    else failed
                )
                target.append(item)
                known.add(op.get("ledger_id"))
            elif op.get("ok", True):
                args = op.get("args") or op.get("arguments") or {}
                reads[f"{name}:{sorted(args.items()) if isinstance(args, dict) else args}"] = {
                    "name": name,
                    "arguments": args if isinstance(args, dict) else {},
                    "status": "read",
                    "ledger_id": None,
                }
    return {"done": list(reads.values()) + done, "pending": pending, "failed": failed}


def _tail(events: Sequence[Event], reply_text: str, n: int) -> list[dict[str, str]]:
    said = [
        {"actor": e.actor, "text": e.text or ""}
        for e in events
        if e.type in (CUSTOMER_MESSAGE, BOT_REPLY, AGENT_MESSAGE) and (e.text or "").strip()
    ]
    if reply_text:
        said.append({"actor": "bot", "text": reply_text})
    return said[-n:]


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _TEXT_CHARS else text[: _TEXT_CHARS - 1] + "…"


def _summary(
    ctx: HandoffContext,
    lang: str,
    intent: str | None,
    flow: str | None,
    slots: Mapping[str, Any],
    faq: tuple[str, str] | None,
    operations: Mapping[str, list[dict[str, Any]]],
) -> list[str]:
    """Three lines: what the customer wants, what the bot did, what is pending."""
    words = _LINES[lang]
    sep = words["sep"]
    # 1. what the customer wants
    want = None
    if flow and ctx.catalog is not None and flow in ctx.catalog.flows:
        title = ctx.catalog.flows[flow].title
        want = title.get(lang) or next(iter(title.values()), flow)
    elif flow:
        want = flow
    elif faq is not None:
        want = faq[0]
    if want and slots:
        shown = ", ".join(f"{k}={v}" for k, v in slots.items() if not isinstance(v, dict | list))
        want = (
            f"{want}（{shown}）"
            if shown and lang == "zh"
            else f"{want} ({shown})"
            if shown
            else want
        )
    customer = [e.text or "" for e in ctx.events if e.type == CUSTOMER_MESSAGE]
    substantive = [t for t in customer if _substantive(t)]
    first = substantive[0] if substantive else (customer[-1] if customer else "-")
    line1 = (
        words["want"].format(want=want)
        if want
        else words["want_unknown"].format(text="“" + _short(first) + "”")
    )
    # 2. what the bot did
    did: list[str] = []
    for e in ctx.events:
        if e.type == BOT_REPLY and e.payload.get("decision") == "answer":
            question = ctx.faq(str(e.payload.get("faq_id"))) if e.payload.get("faq_id") else None
            did.append(
                words["answered"].format(q=_short(question[0] if question else e.text or ""))
            )
    for item in operations.get("done", []):
        args = item.get("arguments") or {}
        target = args.get("order_id") or args.get("customer_id") or ""
        label = f"{item['name']} {target}".strip()
        did.append(label if item["status"] != "read" else words["looked_up"].format(what=label))
    replies = sum(1 for e in ctx.events if e.type == BOT_REPLY)
    line2 = (
        words["did"].format(did=sep.join(dict.fromkeys(did)))
        if did
        else words["did_nothing"].format(n=replies)
    )
    # 3. what is pending
    reason = _REASONS[lang].get(ctx.result.handoff_reason or "", ctx.result.handoff_reason or "-")
    pending = [
        f"{i['name']} {(i.get('arguments') or {}).get('order_id', '')}".strip()
        + f" [{i['status']}]"
        for i in operations.get("pending", [])
    ]
    missing = _missing_slots(ctx.catalog, flow, slots)
    if missing:
        pending.append(words["missing"].format(slots=", ".join(missing)))
    line3 = (
        words["pending"].format(pending=sep.join(pending), reason=reason)
        if pending
        else words["pending_none"].format(reason=reason)
    )
    return [line1, line2, line3]


def _substantive(text: str) -> bool:
    """A message that says what the customer wants (not "转人工", "你好", "不用了")."""
    from kefu.understanding.normalise import normalise
    from kefu.understanding.smalltalk import classify

    return bool(text.strip()) and classify(normalise(text)) is None and not is_cancel(text)


def _missing_slots(
    catalog: FlowCatalog | None, flow: str | None, slots: Mapping[str, Any]
) -> list[str]:
    if catalog is None or not flow or flow not in catalog.flows:
        return []
    return [
        s.target
        for s in catalog.flows[flow].steps
        if s.kind == "collect" and not s.optional and s.target and s.target not in slots
    ]


# What a waiting customer says to take the handoff back (the whole message, normalised).
_CANCEL = frozenset(
    {
        "不用了",
        "不用",
        "不用了谢谢",
        "取消",
        "取消转人工",
        "不转人工了",
        "不转了",
        "不需要人工了",
        "不要人工了",
        "算了",
        "算了吧",
        "那算了",
        "never mind",
        "nevermind",
        "cancel",
        "cancel it",
        "cancel the transfer",
        "no need",
        "forget it",
    }
)


def is_cancel(text: str) -> bool:
    """Does a customer waiting for a human call the handoff off ("不用了", "算了", "cancel")?"""
    from kefu.understanding.normalise import normalise

    norm = normalise(text).strip(" .!?~。！？…，,")
    return norm in _CANCEL or norm.rstrip("了啦吧呀哈 ") in _CANCEL
