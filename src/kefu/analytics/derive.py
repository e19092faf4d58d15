"""From one conversation's events to its facts: a pure function, so the definitions in
docs/analytics.md can be read (and tested) in one place.

Event types and payloads are those of :mod:`kefu.domain.conversation` (see CONTRACTS): the
bot's ``decision``, ``intent``, ``confidence`` and the customer message's ``emotion`` live in the
``bot_reply`` that answers it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from kefu.domain.conversation import (
    AGENT_MESSAGE,
    BOT_REPLY,
    CONVERSATION_CLOSED,
    CSAT,
    CUSTOMER_MESSAGE,
    HANDOFF_RELEASED,
    HANDOFF_REQUESTED,
    HANDOFF_TAKEN,
)
from kefu.understanding.normalise import normalise

FAILED_DECISIONS = frozenset({"fallback", "clarify"})
HUMAN_DECISIONS = frozenset({"queued", "human"})  # desk replies while a human is in charge
QUESTION_CHARS = 200
TEXT_CHARS = 500
# events that are not part of handling the conversation (a rating may come hours later)
_AFTERMATH = frozenset({CSAT})


@dataclass(frozen=True, slots=True)
class EventIn:
    """One stored event, as the refresh reads it."""

    id: int
    seq: int
    type: str
    actor: str
    text: str | None
    payload: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ConversationIn:
    id: str
    tenant_id: int
    channel: str
    customer: str | None
    language: str | None
    created_at: datetime


def is_resolved(automated: bool, failed_end: bool, csat: int | None, repeat: bool) -> bool:
    """Self-resolution without the "finished" part (decided at query time): automated, the
    bot's last word was not a fallback or clarification, no repeat contact, no poor rating."""
    return automated and not failed_end and not repeat and (csat is None or csat > 2)


def _seconds(later: datetime, earlier: datetime) -> float:
    return round(max(0.0, (later - earlier).total_seconds()), 3)


def derive(
    conv: ConversationIn, events: list[EventIn], llm_cost: Decimal, llm_tokens: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The facts row and the per-customer-message rows of one conversation (``events`` in
    sequence order, at least one)."""
    started_at = events[0].created_at if events else conv.created_at
    last = events[-1]
    work = [e for e in events if e.type not in _AFTERMATH] or events
    customer_turns = bot_turns = agent_turns = fallbacks = clarifies = 0
    negative = emotion_turns = 0
    emotion_sum = 0.0
    first_customer: datetime | None = None
    first_response: float | None = None
    handoff_at: datetime | None = None
    human_first: float | None = None
    taken_at: datetime | None = None
    human_handle = 0.0
    was_taken = False
    handed_off = handoff_open = closed = False
    csat: int | None = None
    last_bot_decision: str | None = None
    state_customer: str | None = None
    intents: Counter[str] = Counter()
    turns: list[dict[str, Any]] = []
    open_turn: dict[str, Any] | None = None
    for e in events:
        p = e.payload or {}
        if e.type == CUSTOMER_MESSAGE:
            customer_turns += 1
            if first_customer is None:
                first_customer = e.created_at
            text = e.text or ""
            open_turn = {
                "conversation_id": conv.id,
                "tenant_id": conv.tenant_id,
                "seq": e.seq,
                "day": e.created_at.date().isoformat(),
                "question": normalise(text)[:QUESTION_CHARS],
                "text": text[:TEXT_CHARS],
                "decision": None,
                "intent": None,
                "confidence": None,
                "emotion_label": None,
                "emotion_score": None,
            }
            turns.append(open_turn)
        elif e.type == BOT_REPLY:
            bot_turns += 1
            decision = p.get("decision")
            decision = str(decision)[:32] if decision is not None else None
            intent = p.get("intent")
            intent = str(intent)[:128] if intent else None
            if decision == "fallback":
                fallbacks += 1
            elif decision == "clarify":
                clarifies += 1
            if decision not in HUMAN_DECISIONS:
                last_bot_decision = decision
            if intent and decision not in HUMAN_DECISIONS:
                intents[intent] += 1
            emotion = p.get("emotion") if isinstance(p.get("emotion"), dict) else None
            label = str(emotion.get("label"))[:16] if emotion and emotion.get("label") else None
            score = _number(emotion.get("score")) if emotion else None
            if label is not None or score is not None:
                emotion_turns += 1
                negative += label == "negative"
                emotion_sum += score or 0.0
            state = p.get("state")
            if isinstance(state, dict) and state.get("customer_id"):
                state_customer = str(state["customer_id"])[:128]
            if first_customer is not None and first_response is None:
                first_response = _seconds(e.created_at, first_customer)
            if open_turn is not None and open_turn["decision"] is None:
                open_turn.update(
                    decision=decision,
                    intent=intent,
                    confidence=_number(p.get("confidence")),
                    emotion_label=label,
                    emotion_score=score,
                )
                open_turn = None
        elif e.type == AGENT_MESSAGE:
            agent_turns += 1
            if first_customer is not None and first_response is None:
                first_response = _seconds(e.created_at, first_customer)
            if handoff_at is not None and human_first is None:
                human_first = _seconds(e.created_at, handoff_at)
        elif e.type == HANDOFF_REQUESTED:
            handed_off = handoff_open = True
            if handoff_at is None:
                handoff_at = e.created_at
        elif e.type == HANDOFF_TAKEN:
            if taken_at is None:
                taken_at = e.created_at
            was_taken = True
        elif e.type in (HANDOFF_RELEASED, CONVERSATION_CLOSED):
            handoff_open = False
            if taken_at is not None:
                human_handle += _seconds(e.created_at, taken_at)
                taken_at = None
            closed = closed or e.type == CONVERSATION_CLOSED
        elif e.type == CSAT and csat is None:
            score = _number(p.get("score"))
            csat = int(score) if score is not None else None
    end = work[-1].created_at
    if taken_at is not None:  # a human is still in charge
        human_handle += _seconds(end, taken_at)
    automated = customer_turns > 0 and not handed_off
    failed_end = last_bot_decision in FAILED_DECISIONS
    top = max(intents.items(), key=lambda kv: kv[1])[0] if intents else None
    fact = {
        "conversation_id": conv.id,
        "tenant_id": conv.tenant_id,
        "started_at": started_at,
        "day": started_at.date().isoformat(),
        "last_at": end,
        "last_seq": last.seq,
        "last_event_id": max(e.id for e in events),
        "channel": conv.channel,
        "language": conv.language,
        "customer": conv.customer,
        "customer_key": state_customer or conv.customer,
        "customer_turns": customer_turns,
        "bot_turns": bot_turns,
        "agent_turns": agent_turns,
        "handed_off": handed_off,
        "handoff_open": handoff_open,
        "automated": automated,
        "failed_end": failed_end,
        "resolved": is_resolved(automated, failed_end, csat, False),
        "fallbacks": fallbacks,
        "clarifies": clarifies,
        "first_response_s": first_response,
        "human_first_response_s": human_first,
        "handle_time_s": _seconds(end, first_customer) if first_customer else None,
        "human_handle_time_s": round(human_handle, 3) if was_taken else None,
        "csat": csat,
        "top_intent": top,
        "intents": dict(intents),
        "negative_turns": negative,
        "emotion_turns": emotion_turns,
        "emotion_sum": round(emotion_sum, 6),
        "llm_cost": llm_cost,
        "llm_tokens": llm_tokens,
        "closed": closed,
        "repeat_contact": False,
    }
    return fact, turns


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def repeat_flags(contacts: list[tuple[str, datetime, datetime]], hours: int) -> dict[str, bool]:
    """``contacts``: one customer's conversations as (id, started_at, ended_at). A conversation
    is a repeat contact when another one of the customer starts after it started and no later
    than ``hours`` after it ended."""
    from datetime import timedelta

    window = timedelta(hours=hours)
    ordered = sorted(contacts, key=lambda c: (c[1], c[0]))
    flags: dict[str, bool] = {}
    for i, (cid, started, ended) in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        flags[cid] = nxt is not None and started <= nxt[1] <= ended + window
    return flags
