"""One L2/L3 turn: understand, read the customer's mood, run the flows, build the result.

The offline NLU engine turns the message into commands (when it is unsure and the tenant has an
LLM, the LLM engine proposes commands instead, validated by code); the emotion estimate is
smoothed across turns and may add empathy, offer a human, or hand off (per tenant settings); the
dialogue engine executes the commands. Everything the next turn needs goes back into the
dialogue state.

With an LLM, within the tenant's per-turn call cap (``llm_max_calls_per_turn``; the second
opinion comes first): a document answer is written from its passages by the LLM and checked by
code (``llm_grounded_docs``, :mod:`kefu.llm.grounded`), and the template replies are rephrased
in the brand voice and checked (``llm_rephrase``, :mod:`kefu.llm.rephrase`). Either falls back
to the offline text verbatim; what was used and why is listed in the turn's ``operations``.
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
from kefu.domain.commands import Handoff, SearchDocs
from kefu.knowledge.faq_index import FaqIndex
from kefu.llm.cost import llm_purpose
from kefu.llm.grounded import GroundedWriter, Passage
from kefu.llm.rephrase import Rephraser
from kefu.logs import get_logger
from kefu.settings import TenantSettings
from kefu.understanding.llm_engine import FaqCandidate, LlmEngine, needs_llm
from kefu.understanding.nlu_engine import Extractor, NluEngine, Understanding

DocSearch = Callable[[str, str], DocResult | None]
PassageText = Callable[[str, int], str | None]  # (doc_id, chunk seq) -> the chunk's text
log = get_logger(__name__)


class IndexFaqs:
    """FAQ texts for the engine, read from the tenant's index."""

    def __init__(self, index: FaqIndex) -> None:
        self.index = index

    def answer(self, faq_id: str, language: str) -> tuple[str, str]:
        entry = self.index.groups[faq_id].version(language)
        return entry.answer, entry.language

    def question(self, faq_id: str, language: str) -> str:
        return self.index.groups[faq_id].version(language).question


class _RecordedFaqs(IndexFaqs):
    """IndexFaqs that notes the answers it gives (FAQ answers are never rephrased)."""

    def __init__(self, index: FaqIndex, answers: list[str]) -> None:
        super().__init__(index)
        self.answers = answers

    def answer(self, faq_id: str, language: str) -> tuple[str, str]:
        text, lang = super().answer(faq_id, language)
        self.answers.append(text)
        return text, lang


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
    passage_text: PassageText | None = None  # the cited chunks, for grounded answers

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
        self._calls = 0  # LLM calls made in this turn
        self._notes: list[dict[str, Any]] = []  # what the LLM wrote or why not (operations)
        understood = nlu.understand(text, state, self.now, default_language)
        understood = self._second_opinion(text, state, understood, previous_customer_texts)
        lang = understood.language
        answers: list[str] = []  # FAQ and document answers: never rephrased

        def docs(query: str, language: str) -> DocResult | None:
            found = understood.doc
            if found is None and self.docs is not None:
                found = self.docs(query, language)
            if found is not None and found.answered:
                found = self._grounded(query, language, found)
                answers.append(found.text)
            return found

        faqs = _RecordedFaqs(self.index, answers) if self.llm is not None else IndexFaqs(self.index)
        engine = DialogueEngine(self.catalog, self.settings, self.tasks, faqs, self.now, docs)
        mood = emotion_model.estimate(text, lang, previous_customer_texts)
        tracker = emotion_model.EmotionTracker.from_dict(state.emotion or {})
        tracker.update(mood)
        mode = str(self.settings["emotion_escalation"])
        escalate = tracker.escalation(float(self.settings["emotion_threshold"]), mode)
        commands = list(understood.commands)
        if escalate == "handoff" and not any(isinstance(c, Handoff) for c in commands):
            commands = [Handoff("emotion")]
        out = engine.run(state, commands, lang, text)
        state.emotion = tracker.to_dict()
        if mood.label == "negative" and not out.handoff:
            out.replies.insert(0, Reply(engine.render("empathy", lang), lang))
        turn = tracker.state.turns
        offered = int(state.context.get("human_offered_at", -10))
        if escalate == "offer_human" and not out.handoff and turn - offered >= 3:
            out.replies.append(Reply(engine.render("emotion_offer_human", lang), lang))
            state.context["human_offered_at"] = turn
        self._rephrase(out, answers, lang)
        out.operations.extend(self._notes)
        return self._result(out, state, lang, understood.entities, mood.to_dict())

    def _take_call(self, setting: str) -> bool:
        """Whether an LLM call for ``setting`` (an on/off switch) may be made in this turn."""
        if self.llm is None or str(self.settings[setting]) != "on":
            return False
        if self._calls >= int(self.settings["llm_max_calls_per_turn"]):
            return False
        self._calls += 1
        return True

    def _grounded(self, question: str, language: str, found: DocResult) -> DocResult:
        """The document answer written by the LLM from its passages when every check passes;
        otherwise ``found`` as it is (the extractive answer)."""
        if not found.citations or not self._take_call("llm_grounded_docs"):
            return found
        assert self.llm is not None
        passages = [self._passage(c) for c in found.citations]
        writer = GroundedWriter(self.llm.provider)
        with llm_purpose("grounded"):
            answer = writer.write(question, language, passages, found.text)
        self._note("llm_grounded_answer", answer.path == "llm", answer.to_dict())
        if answer.path != "llm":
            log.info("grounded answer not used: %s %s", answer.reason, answer.detail)
            return found
        return replace(found, text=answer.text)

    def _note(self, operation: str, ok: bool, what: dict[str, Any]) -> None:
        """Record in the turn's operations what the LLM wrote, or why its text was not used."""
        self._notes.append({"operation": operation, "ok": ok, **what})

    def _passage(self, citation: dict[str, Any]) -> Passage:
        text = None
        if self.passage_text is not None:
            text = self.passage_text(str(citation["doc_id"]), int(citation["chunk_seq"]))
        title, section = str(citation.get("title", "")), str(citation.get("section", ""))
        section = section.split(" > ", 1)[-1] if section.startswith(title + " > ") else section
        return Passage(title, section, text or str(citation.get("quote", "")))

    def _rephrase(self, out: Outcome, answers: Sequence[str], lang: str) -> None:
        """Template replies in the brand voice, each checked against its template."""
        picked = [
            i
            for i, r in enumerate(out.replies)
            if r.text
            and r.type == "text"  # previews of writes keep their exact wording and amounts
            and r.language == lang
            and not any(a and a in r.text for a in answers)
        ]
        if not picked or not self._take_call("llm_rephrase"):
            return
        assert self.llm is not None
        rephraser = Rephraser(self.llm.provider, str(self.settings["llm_brand_voice"]))
        with llm_purpose("rephrase"):
            results = rephraser.rephrase([out.replies[i].text for i in picked], lang)
        for i, result in zip(picked, results, strict=True):
            self._note("llm_rephrase", result.path == "llm", result.to_dict())
            if result.path == "llm":
                out.replies[i] = replace(out.replies[i], text=result.text)
            else:
                log.info("rephrased reply not used: %s %s", result.reason, result.detail)

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
        first = understood.commands[0] if understood.commands else None
        if isinstance(first, SearchDocs) and understood.doc is not None and understood.doc.answered:
            return understood  # the documents answer it with a citation: nothing to arbitrate
        if self._calls >= int(self.settings["llm_max_calls_per_turn"]):
            return understood
        self._calls += 1
        floor = float(self.settings["llm_candidate_floor"])
        candidates = [
            FaqCandidate(c.faq_id, c.matched_question)
            for c in understood.candidates
            if c.confidence >= floor
        ]
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
