"""The QA dimensions: one scorer per dimension, each a pure function of a conversation's
events (plus the tenant's :class:`~kefu.quality.qa_settings.QaConfig` and a snapshot of its
knowledge base), so a score can be recomputed at any time and tested on hand-written events.

Every scorer starts from 100 and deducts points, one :class:`Reason` per deduction (a machine
code, the points, the event it concerns and a sentence in Chinese and English), so a score is
always explained by its reasons: ``score = max(0, 100 - sum(penalties))``. A dimension with
nothing to judge (no agent ever replied, nobody was upset) is *not applicable*: it shows 100
and is left out of the weighted total.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
    TICKET_OPENED,
    Event,
)
from kefu.quality.qa_settings import QaConfig
from kefu.understanding.emotion import estimate
from kefu.understanding.pii import PiiKind, find_pii
from kefu.understanding.pii_detect import fold

#: Bot decisions of turns answered while a human is in charge (the desk's holding replies).
_HUMAN_DECISIONS = frozenset({"queued", "human"})
#: Ledger states of a write that reached the shop (or its approval queue).
_WRITE_DONE = frozenset({"executed", "awaiting_approval", "failed", "unknown_outcome"})
#: The PII a reply must not reveal unless the customer wrote it first.
_LEAK_KINDS = frozenset({PiiKind.PHONE, PiiKind.ID, PiiKind.CARD, PiiKind.EMAIL})
_PII_NAMES = {
    PiiKind.PHONE: ("手机号", "phone number"),
    PiiKind.ID: ("身份证号", "ID-card number"),
    PiiKind.CARD: ("银行卡号", "bank card number"),
    PiiKind.EMAIL: ("邮箱", "e-mail address"),
}
#: Emotion cues that make an upset message a complaint.
_COMPLAINT_CUES = frozenset(
    {
        "complaint_threat",
        "regulator_12315",
        "legal_threat",
        "chargeback_threat",
        "bad_review_threat",
        "public_exposure",
        "escalation_demand",
        "insult",
        "profanity",
    }
)

_GREETING = re.compile(
    r"您好|你好|欢迎|嗨|哈喽|早上好|上午好|中午好|下午好|晚上好|^\s*亲|亲[，,！!~～ ]"
    r"|为您服务|很高兴|耐心等待|久等了"
    r"|(?<![a-z])(hi|hello|hey|welcome|good (morning|afternoon|evening))(?![a-z])"
    r"|glad to help|happy to help|thanks for waiting|thank you for waiting|here to help"
)
_EMPATHY = re.compile(
    r"抱歉|对不起|不好意思|歉意|理解您|明白您|体谅|给您带来|让您久等|让您着急|辛苦您|请您放心|别着急"
    r"|消消气|转人工|转接人工|人工客服|(?<![a-z])(sorry|apolog|understand|inconvenience|frustrat"
    r"|i hear you|human agent|colleague)"
)
_IMPOLITE = re.compile(
    r"说了(多少|几|好几|很多)遍|(听|看)不懂(吗|么|人话)|有完没完|烦不烦|(这么|那么|真)(笨|蠢)|急什么"
    r"|别(再)?(问|烦)(我|了)|跟(我|你)(说|讲)(了)?(也)?没用|我(也)?没(有)?办法|不(关|归)我(的)?(事|管)"
    r"|(?<![a-z])(calm down|as i (already )?(said|told you)|i (already )?told you"
    r"|(read|look) it (up )?yourself|figure it out yourself|not my (problem|job|fault)"
    r"|that'?s your problem|deal with it|whatever|stop (asking|bothering))(?![a-z])"
)
_SENTENCE_END = re.compile(r"[。！？!?；;\n]+|\.(?:\s+|$)")
_NEGATED_ZH = ("不", "没", "无法", "不能", "未", "难以", "不敢")
_NEGATED_EN = re.compile(r"(not|n't|never|no|cannot)\s+(be\s+)?$")


@dataclass(frozen=True)
class Reason:
    """Why points were deducted (``penalty`` 0: a note that changes nothing)."""

    code: str
    penalty: int
    zh: str
    en: str
    seq: int | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "penalty": self.penalty, "seq": self.seq}
        if self.detail is not None:
            out["detail"] = self.detail
        out["zh"] = self.zh
        out["en"] = self.en
        return out


@dataclass(frozen=True)
class DimensionScore:
    score: int
    applicable: bool
    reasons: tuple[Reason, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "applicable": self.applicable,
            "reasons": [r.to_dict() for r in self.reasons],
        }


def _deducted(reasons: Iterable[Reason]) -> DimensionScore:
    kept = tuple(reasons)
    return DimensionScore(max(0, 100 - sum(r.penalty for r in kept)), True, kept)


def _not_applicable(zh: str, en: str) -> DimensionScore:
    return DimensionScore(100, False, (Reason("not_applicable", 0, zh, en),))


@dataclass(frozen=True)
class KbEntry:
    """An FAQ as it is now: its answers (every language, whitespace removed) and whether it
    is live (enabled and inside its validity dates)."""

    answers: tuple[str, ...]
    active: bool


@dataclass(frozen=True)
class Knowledge:
    """A snapshot of a tenant's knowledge base for the correctness dimension. ``match`` maps a
    customer question to the id of the live FAQ the bot would now answer it with (at or above
    the answer threshold), or None; it is asked only about fallbacks older than the newest FAQ
    change (``changed_at``), since a later fallback was given by the same knowledge base."""

    entries: Mapping[str, KbEntry] = field(default_factory=dict)
    match: Callable[[str], str | None] | None = None
    # the newest FAQ change: a fallback after it was the current knowledge base's own answer
    changed_at: datetime | None = None


# -- the transcript, read once --------------------------------------------------------------


@dataclass
class Handoff:
    """One request for a human and what became of it."""

    requested: Event
    handoff_id: str | None
    in_hours: bool | None
    ticket: bool
    taken: Event | None = None
    released: Event | None = None


class Transcript:
    """A conversation's events with what several scorers need, computed once."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = sorted(events, key=lambda e: e.seq)
        self.replies = [
            e
            for e in self.events
            if e.type in (BOT_REPLY, AGENT_MESSAGE) and (e.text or "").strip()
        ]
        self.customer = [e for e in self.events if e.type == CUSTOMER_MESSAGE]
        self.handoffs = _handoffs(self.events)
        self._emotions: dict[int, dict[str, Any]] | None = None

    def emotion(self, message: Event) -> dict[str, Any]:
        """The emotion of a customer message: the estimate its bot reply recorded (L2 and up),
        else one made here from its text (offline lexicons, no model)."""
        if self._emotions is None:
            self._emotions = {}
            pending: Event | None = None
            for e in self.events:
                if e.type == CUSTOMER_MESSAGE:
                    pending = e
                elif e.type == BOT_REPLY and pending is not None:
                    found = e.payload.get("emotion")
                    if isinstance(found, Mapping) and found.get("label"):
                        self._emotions[pending.seq] = {
                            **dict(found),
                            "handoff_reason": e.payload.get("handoff_reason"),
                        }
                    pending = None
        known = self._emotions.get(message.seq)
        if known is None:
            # "en": the lexicons read both scripts; only the slow snownlp pass is left out
            known = estimate(message.text or "", "en").to_dict()
            self._emotions[message.seq] = known
        return known

    def upset(self, message: Event) -> bool:
        found = self.emotion(message)
        return found.get("label") == "negative" or float(found.get("anger") or 0) >= 0.5

    def complaint(self, message: Event) -> bool:
        found = self.emotion(message)
        if found.get("handoff_reason") == "complaint":
            return True
        cues = set(found.get("cues") or ())
        return self.upset(message) and (
            float(found.get("anger") or 0) >= 0.5 or bool(cues & _COMPLAINT_CUES)
        )


def _handoffs(events: Sequence[Event]) -> list[Handoff]:
    # A bot reply that hands off is covered by the desk's handoff_requested event in the same
    # turn (before the next customer message); without one (no desk) the reply is the request.
    covered: set[int] = set()
    turn: list[Event] = []
    for e in [*events, None]:
        if e is None or e.type == CUSTOMER_MESSAGE:
            if any(x.type == HANDOFF_REQUESTED for x in turn):
                covered.update(x.seq for x in turn)
            turn = []
        else:
            turn.append(e)
    out: list[Handoff] = []

    def find(payload: Mapping[str, Any]) -> Handoff | None:
        wanted = _str_or_none(payload.get("handoff_id"))
        if wanted is not None:
            for h in reversed(out):
                if h.handoff_id == wanted:
                    return h
        return out[-1] if out else None

    for e in events:
        if e.type == HANDOFF_REQUESTED:
            out.append(
                Handoff(
                    e,
                    _str_or_none(e.payload.get("handoff_id")),
                    e.payload.get("in_hours")
                    if isinstance(e.payload.get("in_hours"), bool)
                    else None,
                    e.payload.get("ticket_id") is not None,
                )
            )
        elif (
            e.type == BOT_REPLY
            and e.payload.get("handoff")
            and e.payload.get("decision") not in _HUMAN_DECISIONS
            and e.seq not in covered
        ):
            out.append(Handoff(e, None, None, False))
        elif e.type == BOT_REPLY and e.payload.get("intent") == "handoff_cancelled":
            # the customer called off a waiting handoff (the desk records no event for it)
            if out and out[-1].taken is None and out[-1].released is None:
                out[-1].released = e
        elif e.type == HANDOFF_TAKEN:
            h = find(e.payload)
            if h is not None and h.taken is None and h.released is None:
                h.taken = e
        elif e.type == HANDOFF_RELEASED:
            h = find(e.payload)
            if h is not None and h.released is None:
                h.released = e
        elif e.type == TICKET_OPENED and out and out[-1].taken is None:
            out[-1].ticket = True
    return out


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return (b - a).total_seconds()


def _folded(text: str | None) -> str:
    return fold(text or "")


@functools.lru_cache(maxsize=64)
def _words_pattern(words: tuple[str, ...], closed: bool) -> re.Pattern[str] | None:
    """One pattern for a word list: Latin words on word boundaries (the right one only when
    ``closed``: "compensat" is a stem), other words anywhere."""
    parts = []
    for w in sorted({fold(w) for w in words if w.strip()}, key=len, reverse=True):
        escaped = re.escape(w)
        if re.match(r"[a-z0-9]", w):
            escaped = r"(?<![a-z0-9])" + escaped
        if closed and re.search(r"[a-z0-9]$", w):
            escaped += r"(?![a-z0-9])"
        parts.append(escaped)
    return re.compile("|".join(parts)) if parts else None


def _negated(text: str, start: int) -> bool:
    before = text[max(0, start - 3) : start]
    if before.endswith(_NEGATED_ZH):
        return True
    return bool(_NEGATED_EN.search(text[max(0, start - 14) : start]))


def _actor(e: Event) -> tuple[str, str]:
    if e.type == AGENT_MESSAGE:
        name = e.payload.get("agent")
        return (f"客服{name}" if name else "客服", f"agent {name}" if name else "the agent")
    return ("机器人", "the bot")


def _normalised(text: str) -> str:
    return "".join(text.split())


# -- the scorers ----------------------------------------------------------------------------


def greeting(t: Transcript, cfg: QaConfig) -> DimensionScore:
    """The first reply of the conversation greets the customer, and so does each agent's
    first message after taking the conversation over."""
    if not t.replies:
        return _not_applicable("没有任何回复。", "Nobody replied.")
    reasons: list[Reason] = []
    first = t.replies[0]
    if not _GREETING.search(_folded(first.text)):
        zh, en = _actor(first)
        reasons.append(
            Reason(
                "no_greeting",
                50,
                f"第一条回复（{zh}）没有问候顾客。",
                f"The first reply ({en}) does not greet the customer.",
                first.seq,
            )
        )
    for h in t.handoffs:
        if h.taken is None:
            continue
        message = _first_agent_message(t, h.taken)
        if message is None or message is first:
            continue
        if not _GREETING.search(_folded(message.text)):
            zh, en = _actor(message)
            reasons.append(
                Reason(
                    "agent_no_greeting",
                    50,
                    f"{zh}接手后的第一条消息没有问候顾客。",
                    f"The first message of {en} after taking over does not greet the customer.",
                    message.seq,
                )
            )
    return _deducted(reasons)


def politeness(t: Transcript, cfg: QaConfig) -> DimensionScore:
    """No forbidden word (the tenant's list, 60 points each) and no impolite phrasing (a
    built-in list of patterns such as 说了几遍, "calm down", 30 points each) in any bot or
    agent text."""
    if not t.replies:
        return _not_applicable("没有任何回复。", "Nobody replied.")
    forbidden = _words_pattern(cfg.forbidden_words, True)
    reasons: list[Reason] = []
    for e in t.replies:
        text = _folded(e.text)
        zh, en = _actor(e)
        found = sorted({m.group() for m in forbidden.finditer(text)}) if forbidden else []
        for word in found:
            reasons.append(
                Reason(
                    "forbidden_word",
                    60,
                    f"{zh}使用了禁用语“{word}”。",
                    f"{en.capitalize()} used the forbidden word {word!r}.",
                    e.seq,
                    word,
                )
            )
        for m in _IMPOLITE.finditer(text):
            if any(m.group() in w or w in m.group() for w in found):
                continue
            reasons.append(
                Reason(
                    "impolite",
                    30,
                    f"{zh}的措辞不礼貌：“{m.group()}”。",
                    f"{en.capitalize()} was impolite: {m.group()!r}.",
                    e.seq,
                    m.group(),
                )
            )
    return _deducted(reasons)


def correctness(t: Transcript, cfg: QaConfig, kb: Knowledge) -> DimensionScore:
    """Each FAQ answer is still in the knowledge base and live, and is either its text or was
    given with confidence at or above the answer threshold; each fallback was on a question
    the knowledge base cannot answer now either."""
    reasons: list[Reason] = []
    judged = 0
    last_customer: Event | None = None
    for e in t.events:
        if e.type == CUSTOMER_MESSAGE:
            last_customer = e
            continue
        if e.type != BOT_REPLY:
            continue
        decision = e.payload.get("decision")
        faq_id = e.payload.get("faq_id")
        if decision == "answer" and isinstance(faq_id, str) and faq_id:
            judged += 1
            entry = kb.entries.get(faq_id)
            if entry is None:
                reasons.append(
                    Reason(
                        "faq_removed",
                        50,
                        f"回答所用的 FAQ {faq_id} 已不在知识库中。",
                        f"The answer came from FAQ {faq_id}, which is no longer in the "
                        "knowledge base.",
                        e.seq,
                        faq_id,
                    )
                )
                continue
            if not entry.active:
                reasons.append(
                    Reason(
                        "faq_inactive",
                        40,
                        f"回答所用的 FAQ {faq_id} 已停用或过期。",
                        f"The answer came from FAQ {faq_id}, which is disabled or expired.",
                        e.seq,
                        faq_id,
                    )
                )
                continue
            said = _normalised(e.text or "")
            verbatim = any(a and a in said for a in entry.answers)
            confidence = float(e.payload.get("confidence") or 0.0)
            if not verbatim and confidence < cfg.answer_threshold:
                reasons.append(
                    Reason(
                        "unsure_answer",
                        30,
                        f"回答与 FAQ {faq_id} 的答案不一致，且置信度 {confidence:.2f} 低于"
                        f"直接回答阈值 {cfg.answer_threshold:.2f}。",
                        f"The reply differs from FAQ {faq_id}'s answer and its confidence "
                        f"{confidence:.2f} is below the answer threshold "
                        f"{cfg.answer_threshold:.2f}.",
                        e.seq,
                        faq_id,
                    )
                )
        elif decision == "fallback" and e.payload.get("intent") != "unreadable":
            judged += 1
            if last_customer is None or kb.match is None or not kb.entries:
                continue
            learnt_since = (
                kb.changed_at is None or e.created_at is None or e.created_at < kb.changed_at
            )
            if not learnt_since:
                continue  # the knowledge base has not changed since: the bot knew what it knows
            now = kb.match(last_customer.text or "")
            if now is not None:
                reasons.append(
                    Reason(
                        "missed_answer",
                        25,
                        f"机器人表示无法回答，但知识库现在可以用 FAQ {now} 回答这个问题。",
                        f"The bot could not answer, but the knowledge base now answers this "
                        f"question with FAQ {now}.",
                        e.seq,
                        now,
                    )
                )
    if not judged:
        return _not_applicable("没有 FAQ 回答或兜底回复。", "No FAQ answer or fallback to judge.")
    return _deducted(reasons)


def resolution(t: Transcript, cfg: QaConfig) -> DimensionScore:
    """The conversation ended resolved: every handoff was taken (or became a ticket, or was
    cancelled), the bot's last word was not a fallback, satisfaction (CSAT) is 4 or 5 when
    given, and the customer's last message is not a complaint."""
    if not t.customer:
        return _not_applicable("顾客没有发过消息。", "The customer sent no message.")
    reasons: list[Reason] = []
    for h in t.handoffs:
        if h.taken is not None or h.released is not None:
            continue
        if h.ticket:
            reasons.append(
                Reason(
                    "handoff_to_ticket",
                    20,
                    "转人工未在会话中接起，已转为工单跟进。",
                    "The handoff was not taken in the conversation; a ticket follows it up.",
                    h.requested.seq,
                )
            )
        else:
            reasons.append(
                Reason(
                    "handoff_unanswered",
                    50,
                    "顾客要求的人工服务始终没有人接。",
                    "The customer's request for a human was never taken.",
                    h.requested.seq,
                )
            )
    streak: list[Event] = []
    for e in t.events:
        if e.type == AGENT_MESSAGE:
            streak = []
        elif e.type == BOT_REPLY and e.payload.get("decision") not in (None, *_HUMAN_DECISIONS):
            if e.payload.get("decision") == "fallback":
                streak.append(e)
            elif e.payload.get("intent") != "welcome":
                streak = []
    if streak:
        reasons.append(
            Reason(
                "ended_on_fallback",
                40 if len(streak) == 1 else 50,
                f"会话以机器人无法回答结束（连续 {len(streak)} 次）。",
                f"The conversation ended on the bot being unable to answer ({len(streak)} in a "
                "row).",
                streak[-1].seq,
            )
        )
    for e in t.events:
        if e.type != CSAT:
            continue
        score = e.payload.get("score")
        if isinstance(score, int | float) and score < 4:
            reasons.append(
                Reason(
                    "low_csat",
                    50 if score <= 2 else 25,
                    f"顾客满意度评分为 {score:g} 分。",
                    f"The customer rated the service {score:g} out of 5.",
                    e.seq,
                    f"{score:g}",
                )
            )
    last = t.customer[-1]
    if t.complaint(last):
        reasons.append(
            Reason(
                "ended_complaining",
                30,
                "顾客的最后一条消息是投诉或不满。",
                "The customer's last message is a complaint.",
                last.seq,
            )
        )
    return _deducted(reasons)


def compliance(t: Transcript, cfg: QaConfig, kb: Knowledge) -> DimensionScore:
    """No promise beyond policy in any bot or agent text (the tenant's promise phrases; a bot
    answer that is the knowledge base's own text is policy), and every write reached the shop
    only after the customer confirmed its preview."""
    if not t.replies:
        return _not_applicable("没有任何回复。", "Nobody replied.")
    reasons: list[Reason] = []
    always = _words_pattern(cfg.always, False)
    promises = _words_pattern(cfg.promises, False)
    money = _words_pattern(cfg.money, False)
    for e in t.replies:
        if e.type == BOT_REPLY and _is_kb_text(e, kb):
            continue
        zh, en = _actor(e)
        for start, end in _sentences(_folded(e.text)):
            sentence = _folded(e.text)[start:end]
            shown = (e.text or "")[start:end].strip()
            found = always.search(sentence) if always else None
            if found is None and promises is not None and money is not None:
                vow = next(
                    (m for m in promises.finditer(sentence) if not _negated(sentence, m.start())),
                    None,
                )
                if vow is not None and money.search(sentence):
                    found = vow
            if found is None:
                continue
            reasons.append(
                Reason(
                    "promise",
                    60,
                    f"{zh}做出了超出政策的承诺：“{shown}”。",
                    f"{en.capitalize()} promised beyond policy: {shown!r}.",
                    e.seq,
                    found.group(),
                )
            )
    reasons += _unconfirmed_writes(t)
    return _deducted(reasons)


def _sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence (``fold`` keeps offsets, so they fit the original)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def _is_kb_text(e: Event, kb: Knowledge) -> bool:
    faq_id = e.payload.get("faq_id")
    entry = kb.entries.get(faq_id) if isinstance(faq_id, str) else None
    if entry is None:
        return False
    said = _normalised(e.text or "")
    return any(a and a in said for a in entry.answers)


def _unconfirmed_writes(t: Transcript) -> list[Reason]:
    """A write the shop ran (or queued) must follow a preview of it (same ledger entry, else
    same operation) with a customer message in between: the confirmation."""
    previews: list[tuple[int, dict[str, Any]]] = []
    reasons: list[Reason] = []
    last_customer = 0
    for e in t.events:
        if e.type == CUSTOMER_MESSAGE:
            last_customer = e.seq
            continue
        if e.type != BOT_REPLY:
            continue
        for op in e.payload.get("operations") or ():
            if not isinstance(op, Mapping):
                continue
            status = op.get("status")
            name = str(op.get("name") or op.get("operation") or "")
            if status == "previewed":
                previews.append((e.seq, dict(op)))
            elif status in _WRITE_DONE:
                ledger = op.get("ledger_id")
                confirmed = any(
                    seq < last_customer
                    and (
                        (ledger is not None and p.get("ledger_id") == ledger)
                        or (
                            (ledger is None or p.get("ledger_id") is None)
                            and str(p.get("name") or p.get("operation") or "") == name
                        )
                    )
                    for seq, p in previews
                )
                if not confirmed:
                    reasons.append(
                        Reason(
                            "write_without_confirmation",
                            100,
                            f"操作 {name} 没有经过顾客确认预览就执行了（状态 {status}）。",
                            f"The operation {name} ran without the customer confirming its "
                            f"preview (status {status}).",
                            e.seq,
                            name,
                        )
                    )
    return reasons


def pii(t: Transcript, cfg: QaConfig) -> DimensionScore:
    """No reply reveals a full phone number, ID-card number, bank card or e-mail address that
    the customer had not written in this conversation."""
    if not t.replies:
        return _not_applicable("没有任何回复。", "Nobody replied.")
    given: set[str] = set()
    reasons: list[Reason] = []
    for e in t.events:
        if e.actor == "customer":
            given.update(s.key for s in find_pii(e.text or "") if s.kind in _LEAK_KINDS)
            continue
        if e.type not in (BOT_REPLY, AGENT_MESSAGE) or not e.text:
            continue
        zh, en = _actor(e)
        for span in find_pii(e.text):
            if span.kind not in _LEAK_KINDS or span.key in given:
                continue
            kind_zh, kind_en = _PII_NAMES[span.kind]
            reasons.append(
                Reason(
                    "pii_exposed",
                    100,
                    f"{zh}的回复包含顾客未提供的完整{kind_zh}。",
                    f"{en.capitalize()}'s reply shows a full {kind_en} the customer did not give.",
                    e.seq,
                    str(span.kind),
                )
            )
    return _deducted(reasons)


def emotion(t: Transcript, cfg: QaConfig) -> DimensionScore:
    """Each upset customer message (negative or angry) is met, within ``qa.emotion_window``
    replies, by an apology or empathy phrase, an offer of a human, or a handoff."""
    reasons: list[Reason] = []
    upset = 0
    events = t.events
    for i, e in enumerate(events):
        if e.type != CUSTOMER_MESSAGE or not t.upset(e):
            continue
        upset += 1
        seen = 0
        handled = False
        for later in events[i + 1 :]:
            if later.type == HANDOFF_REQUESTED or (
                later.type == BOT_REPLY and later.payload.get("handoff")
            ):
                handled = True
                break
            if later.type in (BOT_REPLY, AGENT_MESSAGE) and (later.text or "").strip():
                if _EMPATHY.search(_folded(later.text)):
                    handled = True
                    break
                seen += 1
                if seen >= cfg.emotion_window:
                    break
        if not handled:
            reasons.append(
                Reason(
                    "emotion_ignored",
                    50,
                    f"顾客情绪不满，但随后 {cfg.emotion_window} 条回复内没有道歉、安抚或转人工。",
                    f"The customer was upset, but none of the next {cfg.emotion_window} "
                    "replies apologised, empathised or handed off.",
                    e.seq,
                )
            )
    if not upset:
        return _not_applicable("顾客没有负面情绪，无需安抚。", "The customer was never upset.")
    return _deducted(reasons)


@dataclass
class _Shift:
    """An agent in charge: from the take (or the message the agent first answered) to the
    release, the close or the next take."""

    start: Event
    taken: bool
    events: list[Event] = field(default_factory=list)


def _shifts(t: Transcript) -> list[_Shift]:
    shifts: list[_Shift] = []
    current: _Shift | None = None
    last_customer: Event | None = None
    for e in t.events:
        if e.type == HANDOFF_TAKEN:
            current = _Shift(e, True)
            shifts.append(current)
            continue
        if e.type in (HANDOFF_RELEASED, CONVERSATION_CLOSED):
            current = None
            continue
        if e.type == AGENT_MESSAGE and current is None:
            # an agent who answered without a recorded take: timed from the message answered
            current = _Shift(last_customer or e, False)
            shifts.append(current)
        if e.type == CUSTOMER_MESSAGE:
            last_customer = e
        if current is not None:
            current.events.append(e)
    return shifts


def response_time(t: Transcript, cfg: QaConfig) -> DimensionScore:
    """An agent's first message after taking a conversation comes within
    ``qa.agent_response_s`` (60 points), and so does the answer to each later customer message
    (20 points each). Bot replies are instant: a conversation no agent served does not apply."""
    shifts = _shifts(t)
    if not shifts:
        return _not_applicable(
            "没有人工客服参与，机器人即时回复。", "No agent took part; the bot replies instantly."
        )
    limit = cfg.agent_response_s
    reasons: list[Reason] = []
    for shift in shifts:
        messages = [e for e in shift.events if e.type == AGENT_MESSAGE]
        if not messages:
            reasons.append(
                Reason(
                    "no_agent_response",
                    60,
                    "客服接入后没有发送任何消息。",
                    "The agent took the conversation but never wrote.",
                    shift.start.seq,
                )
            )
            continue
        first = messages[0]
        waited = _seconds(shift.start.created_at, first.created_at)
        if waited is not None and waited > limit:
            zh, en = _actor(first)
            reasons.append(
                Reason(
                    "slow_first_response",
                    60,
                    f"{zh}接入后 {waited:.0f} 秒才首次回复（要求 {limit:g} 秒内）。",
                    f"{en.capitalize()} first replied {waited:.0f} s after taking over (limit "
                    f"{limit:g} s).",
                    first.seq,
                    f"{waited:.0f}",
                )
            )
        pending: Event | None = None
        for e in shift.events:
            if e.seq <= first.seq:
                continue
            if e.type == CUSTOMER_MESSAGE:
                pending = pending or e
            elif e.type == AGENT_MESSAGE:
                if pending is not None:
                    delay = _seconds(pending.created_at, e.created_at)
                    if delay is not None and delay > limit:
                        reasons.append(
                            Reason(
                                "slow_reply",
                                20,
                                f"顾客等了 {delay:.0f} 秒才得到客服回复（要求 {limit:g} 秒内）。",
                                f"The customer waited {delay:.0f} s for the agent's reply "
                                f"(limit {limit:g} s).",
                                e.seq,
                                f"{delay:.0f}",
                            )
                        )
                pending = None
        if pending is not None:
            reasons.append(
                Reason(
                    "customer_unanswered",
                    20,
                    "客服在岗期间顾客的消息没有得到回复。",
                    "A customer message got no reply while the agent was in charge.",
                    pending.seq,
                )
            )
    return _deducted(reasons)


def transfer(t: Transcript, cfg: QaConfig) -> DimensionScore:
    """Each handoff in business hours is taken within ``qa.transfer_sla_s``; one outside them
    becomes a ticket; one the customer cancelled costs nothing."""
    if not t.handoffs:
        return _not_applicable("没有转人工。", "No handoff.")
    reasons: list[Reason] = []
    sla = cfg.transfer_sla_s
    for h in t.handoffs:
        seq = h.requested.seq
        if h.taken is None and h.released is not None:
            reasons.append(
                Reason(
                    "handoff_cancelled",
                    0,
                    "转人工在接起前被取消。",
                    "The handoff was cancelled before anyone took it.",
                    seq,
                )
            )
        elif h.in_hours is False and h.taken is None:
            if h.ticket:
                reasons.append(
                    Reason(
                        "after_hours_ticket",
                        0,
                        "非工作时间转人工，已建工单。",
                        "A handoff outside business hours became a ticket.",
                        seq,
                    )
                )
            else:
                reasons.append(
                    Reason(
                        "after_hours_no_ticket",
                        30,
                        "非工作时间转人工，但没有建工单跟进。",
                        "A handoff outside business hours got no ticket.",
                        seq,
                    )
                )
        elif h.taken is None:
            reasons.append(
                Reason(
                    "handoff_not_taken",
                    60,
                    "转人工请求没有客服接起。",
                    "No agent took the handoff.",
                    seq,
                )
            )
        else:
            waited = _seconds(h.requested.created_at, h.taken.created_at)
            if waited is not None and waited > sla:
                reasons.append(
                    Reason(
                        "slow_take",
                        40,
                        f"转人工等待 {waited:.0f} 秒才被接起（要求 {sla:g} 秒内）。",
                        f"The handoff waited {waited:.0f} s to be taken (limit {sla:g} s).",
                        h.taken.seq,
                        f"{waited:.0f}",
                    )
                )
    return _deducted(reasons)


def _first_agent_message(t: Transcript, taken: Event) -> Event | None:
    for e in t.events:
        if e.seq <= taken.seq:
            continue
        if e.type in (HANDOFF_RELEASED, CONVERSATION_CLOSED, HANDOFF_TAKEN):
            return None
        if e.type == AGENT_MESSAGE and (e.text or "").strip():
            return e
    return None


def score_all(events: Sequence[Event], cfg: QaConfig, kb: Knowledge) -> dict[str, DimensionScore]:
    """Every dimension of one conversation, in :data:`~kefu.quality.qa_settings.DIMENSIONS`
    order."""
    t = Transcript(events)
    return {
        "greeting": greeting(t, cfg),
        "politeness": politeness(t, cfg),
        "correctness": correctness(t, cfg, kb),
        "resolution": resolution(t, cfg),
        "compliance": compliance(t, cfg, kb),
        "pii": pii(t, cfg),
        "emotion": emotion(t, cfg),
        "response_time": response_time(t, cfg),
        "transfer": transfer(t, cfg),
    }


def agents_of(events: Sequence[Event]) -> list[str]:
    """The agents who took part (display names, first appearance first)."""
    names: dict[str, None] = {}
    for e in events:
        if e.type in (AGENT_MESSAGE, HANDOFF_TAKEN):
            name = e.payload.get("agent")
            if isinstance(name, str) and name:
                names.setdefault(name, None)
    return list(names)
