"""One L2/L3 turn: understand, read the customer's mood, run the flows, build the result.

The offline NLU engine turns the message into commands (when it is unsure and the tenant has an
LLM, the LLM engine proposes commands instead, validated by code); the emotion estimate is
smoothed across turns and may add empathy, offer a human, or hand off (per tenant settings); the
dialogue engine executes the commands. Everything the next turn needs goes back into the
dialogue state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from kefu.dialogue.engine import DialogueEngine, DocResult, Outcome, Tasks
from kefu.dialogue.flows import FlowCatalog
from kefu.dialogue.state import DialogueState
from kefu.dialogue.turn import Reply, TurnResult
from kefu.domain.commands import Handoff
from kefu.knowledge.faq_index import FaqIndex
from kefu.settings import TenantSettings
from kefu.understanding.llm_engine import FaqCandidate, LlmEngine, needs_llm
from kefu.understanding.nlu_engine import Extractor, NluEngine, Understanding

DocSearch = Callable[[str, str], DocResult | None]


class IndexFaqs:
    """FAQ texts for the engine, read from the tenant's index."""

    def __init__(self, index: FaqIndex) -> None:
        self.index = index

    def answer(self, faq_id: str, language: str) -> tuple[str, str]:
        entry = self.index.groups[faq_id].version(language)
        return entry.answer, entry.language

    def question(self, faq_id: str, language: str) -> str:
        return self.index.groups[faq_id].version(language).question


@dataclass
class L2Policy:
    index: FaqIndex
    catalog: FlowCatalog
    settings: TenantSettings
    tasks: Tasks
    extractor: Extractor
    docs: DocSearch | None
    level: str
    now: datetime
    llm: LlmEngine | None = None  # asked only when the offline reading is unsure

    def decide(
        self,
        text: str,
        state: DialogueState,
        previous_customer_texts: Sequence[str],
        default_language: str | None = None,
    ) -> TurnResult:
        """Handle one message; ``state`` is updated in place."""
        from kefu.understanding import emotion as emotion_model

        nlu = NluEngine(
            self.index, self.catalog, self.settings, self.extractor, self.docs, self.level
        )
        understood = nlu.understand(text, state, self.now, default_language)
        understood = self._second_opinion(text, state, understood, previous_customer_texts)
        lang = understood.language

        def docs(query: str, language: str) -> DocResult | None:
            if understood.doc is not None:
                return understood.doc
            return self.docs(query, language) if self.docs is not None else None

        engine = DialogueEngine(
            self.catalog, self.settings, self.tasks, IndexFaqs(self.index), self.now, docs
        )
        mood = emotion_model.estimate(text, lang, previous_customer_texts)
        tracker = emotion_model.EmotionTracker.from_dict(state.emotion or {})
        tracker.update(mood)
        mode = str(self.settings["emotion_escalation"])
        escalate = tracker.escalation(float(self.settings["emotion_threshold"]), mode)
        commands = list(understood.commands)
        if escalate == "handoff" and not any(isinstance(c, Handoff) for c in commands):
            commands = [Handoff("emotion")]
        out = engine.run(state, commands, lang)
        state.emotion = tracker.to_dict()
        if mood.label == "negative" and not out.handoff:
            out.replies.insert(0, Reply(engine.render("empathy", lang), lang))
        turn = tracker.state.turns
        offered = int(state.context.get("human_offered_at", -10))
        if escalate == "offer_human" and not out.handoff and turn - offered >= 3:
            out.replies.append(Reply(engine.render("emotion_offer_human", lang), lang))
            state.context["human_offered_at"] = turn
        return self._result(out, state, lang, understood.entities, mood.to_dict())

    def _second_opinion(
        self,
        text: str,
        state: DialogueState,
        understood: Understanding,
        previous_customer_texts: Sequence[str],
    ) -> Understanding:
        """The LLM's validated commands when the offline engine is unsure and the model gives
        something usable; otherwise the offline reading (the fast path makes no call)."""
        threshold = float(self.settings["answer_threshold"])
        if self.llm is None or not needs_llm(understood.commands, threshold):
            return understood
        candidates = [FaqCandidate(c.faq_id, c.matched_question) for c in understood.candidates]
        history = [("customer", t) for t in previous_customer_texts[-3:]]
        proposal = self.llm.propose(text, state, candidates, history)
        if proposal is None:
            return understood
        return replace(understood, commands=list(proposal.commands))

    def _result(
        self,
        out: Outcome,
        state: DialogueState,
        lang: str,
        entities: list[dict[str, Any]],
        emotion: dict[str, Any],
    ) -> TurnResult:
        frame = state.active
        slots = {k: v for k, v in frame.slots.items() if not k.startswith("_")} if frame else {}
        return TurnResult(
            replies=out.replies or [Reply("", lang)],
            decision=out.decision,
            language=lang,
            intent=out.intent,
            confidence=out.confidence,
            faq_id=out.faq_id,
            suggestions=out.suggestions,
            handoff=out.handoff,
            handoff_reason=out.handoff_reason,
            citations=out.citations,
            operations=out.operations,
            flow=frame.flow if frame else None,
            slots=slots,
            commands=out.commands,
            entities=entities,
            emotion=emotion,
        )
