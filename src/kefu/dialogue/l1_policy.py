"""The L1 decision: answer, clarify ("您是不是想问…"), fallback, hand off, or small talk.

Deterministic given the index, the tenant settings, the recent history and the clock.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kefu.dialogue.hours import within_business_hours
from kefu.dialogue.turn import Reply, Suggestion, TurnResult
from kefu.domain.conversation import BOT_REPLY, Event
from kefu.knowledge.faq_index import Candidate, FaqIndex
from kefu.settings import TenantSettings
from kefu.understanding.language import detect_language
from kefu.understanding.normalise import normalise
from kefu.understanding.smalltalk import classify, strip_greeting

_PICK = {
    "1": 0,
    "2": 1,
    "3": 2,
    "一": 0,
    "二": 1,
    "三": 2,
    "第一": 0,
    "第二": 1,
    "第三": 2,
    "第一个": 0,
    "第二个": 1,
    "第三个": 2,
    "first": 0,
    "second": 1,
    "third": 2,
    "the first": 0,
    "the second": 1,
    "the third": 2,
    "first one": 0,
    "second one": 1,
    "third one": 2,
    "the first one": 0,
    "the second one": 1,
    "the third one": 2,
    "1st": 0,
    "2nd": 1,
    "3rd": 2,
}
_PICK_STRIP = re.compile(r"^(?:选|是|要|问|option|number|no)\s*|\s*(?:个|条|吧|呀|啊|问题|吗)$")


def pick_index(norm: str) -> int | None:
    """Which suggestion a normalised reply picks ("2", "第二个", "the second one"), or None."""
    return _PICK.get(_PICK_STRIP.sub("", norm).strip())


@dataclass(frozen=True)
class History:
    """What the policy needs to know about earlier turns."""

    consecutive_fallbacks: int = 0
    last_suggestions: tuple[Suggestion, ...] = ()
    language: str | None = None

    @classmethod
    def from_events(cls, events: Sequence[Event]) -> History:
        fallbacks = 0
        suggestions: tuple[Suggestion, ...] = ()
        language: str | None = None
        bot_turns = [e for e in events if e.type == BOT_REPLY]
        for e in reversed(bot_turns):
            if e.payload.get("decision") == "fallback":
                fallbacks += 1
            else:
                break
        if bot_turns:
            last = bot_turns[-1].payload
            language = last.get("language")
            if last.get("decision") == "clarify":
                suggestions = tuple(Suggestion(**s) for s in last.get("suggestions", []))
        return cls(fallbacks, suggestions, language)


class L1Policy:
    def __init__(self, index: FaqIndex, settings: TenantSettings) -> None:
        self.index = index
        self.settings = settings

    def _language(self, text: str, history: History, default: str | None) -> str:
        fallback = history.language or default or str(self.settings["language"])
        return detect_language(text, fallback) or fallback

    def decide(
        self, text: str, history: History, now: datetime, default_language: str | None = None
    ) -> TurnResult:
        lang = self._language(text, history, default_language)
        norm = normalise(text)
        t = self.settings.template
        if not norm:
            return TurnResult(
                [Reply(t("unreadable", lang), lang)], "fallback", lang, intent="unreadable"
            )

        kind = classify(norm)
        if kind == "handoff":
            return self._handoff(lang, now, "customer_request")
        if kind is not None:
            return TurnResult(
                [Reply(t(kind, lang), lang)], "chitchat", lang, intent=kind, confidence=1.0
            )

        picked = self._picked_suggestion(norm, history)
        if picked is not None:
            return self._answer(picked, 1.0, lang)

        query = strip_greeting(norm)
        candidates = self.index.search(query, k=3, now=now)
        top = candidates[0] if candidates else None
        answer_at = float(self.settings["answer_threshold"])
        clarify_at = float(self.settings["clarify_threshold"])
        if top is not None and top.confidence >= answer_at:
            return self._answer(top.faq_id, top.confidence, lang)
        if top is not None and top.confidence >= clarify_at:
            suggestions = [
                Suggestion(c.faq_id, self.index.groups[c.faq_id].version(lang).question)
                for c in candidates
                if c.confidence >= clarify_at / 2
            ]
            return TurnResult(
                [Reply(t("clarify", lang), lang)],
                "clarify",
                lang,
                intent=top.faq_id,
                confidence=top.confidence,
                suggestions=suggestions,
            )
        limit = int(self.settings["handoff_after_failures"])
        if limit and history.consecutive_fallbacks + 1 >= limit:
            return self._handoff(lang, now, "repeated_failure", _confidence(top))
        return TurnResult(
            [Reply(t("fallback", lang), lang)],
            "fallback",
            lang,
            intent=None,
            confidence=_confidence(top),
        )

    def _picked_suggestion(self, norm: str, history: History) -> str | None:
        if not history.last_suggestions:
            return None
        for s in history.last_suggestions:
            if normalise(s.text) == norm:
                return s.faq_id
        i = pick_index(norm)
        if i is not None and i < len(history.last_suggestions):
            return history.last_suggestions[i].faq_id
        return None

    def _answer(self, faq_id: str, confidence: float, lang: str) -> TurnResult:
        entry = self.index.groups[faq_id].version(lang)
        return TurnResult(
            [Reply(entry.answer, entry.language)],
            "answer",
            entry.language,
            intent=faq_id,
            confidence=confidence,
            faq_id=faq_id,
        )

    def _handoff(
        self, lang: str, now: datetime, reason: str, confidence: float = 1.0
    ) -> TurnResult:
        t = self.settings.template
        if not within_business_hours(self.settings, now):
            text = t("handoff_closed", lang)
        elif reason == "repeated_failure":
            text = t("handoff_failures", lang)
        else:
            text = t("handoff", lang)
        return TurnResult(
            [Reply(text, lang)],
            "handoff",
            lang,
            intent="handoff",
            confidence=confidence,
            handoff=True,
            handoff_reason=reason,
        )


def _confidence(c: Candidate | None) -> float:
    return c.confidence if c is not None else 0.0
