"""The offline understanding engine: a customer message in, typed commands out.

No LLM: small-talk rules, yes/no/cancel/correction lexicons, the entity extractor and the hybrid
FAQ index, whose entries include one pseudo-entry per flow (``flow:NAME``, trained from the
flow's examples), so FAQs and tasks compete on one calibrated confidence. The state says what the
bot is waiting for (a slot, a confirmation, identification), which decides how a bare "#W123" or
"第二个" is read. Document answers compete with FAQ answers on the same confidence scale.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from kefu.dialogue.engine import IDENTITY_KEYS, DocResult
from kefu.dialogue.flows import Flow, FlowCatalog
from kefu.dialogue.state import DialogueState
from kefu.dialogue.tasks import named_item
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
    OutOfScope,
    SearchDocs,
    SetSlot,
    StartFlow,
    Unreadable,
)
from kefu.knowledge.faq_index import Candidate, FaqIndex
from kefu.knowledge.fusion import Signals
from kefu.settings import TenantSettings
from kefu.understanding.language import detect_language
from kefu.understanding.normalise import normalise
from kefu.understanding.smalltalk import classify, strip_greeting
from kefu.understanding.write_values import WRITE_ENTITIES, cancel_reason, write_value

FLOW_PREFIX = "flow:"
_NOT_WORDS = re.compile(r"\S+@\S+|#?[A-Za-z]{1,2}\d{5,}|\d+|https?://\S+")

_FILLER = re.compile(r"(?:吧|啦|了|呀|啊|哈|嗯|哦|呢|的|please|pls)$")
CANCEL = frozenset(
    "算了 不用了 不用 取消 不查了 不要了 先不用了 不需要了 停 停止 不办了 先这样 不弄了 "
    "cancel stop nevermind never_mind forget_it no_thanks skip_it".replace("_", " ").split(" ")
) | {"never mind", "forget it", "no thanks", "skip it"}
YES = frozenset(
    "是 是的 对 对的 确认 好 好的 可以 行 嗯 嗯嗯 没问题 确定 确认无误 ok okay yes y yeah yep sure "
    "confirm correct right".split()
) | {"go ahead", "do it", "that's right", "thats right"}
NO = frozenset("不 不是 不要 不用 否 不对 不行 不可以 no n nope nah".split()) | {"don't", "do not"}
CORRECTION = re.compile(
    r"不对|不是这|不是那|错了|搞错|弄错|应该是|换成|改成|另一个|另外一个|是另|"
    r"\bactually\b|\bi meant\b|\bwrong\b|\bnot that\b|\banother\b|\binstead\b|\bsorry,? i mean",
)
ADDING = re.compile(r"\bas well\b|\balso\b|\btoo\b|\bin addition\b|还有|也要|也退|也换|再加|另外")
ORDER_SUFFIX = re.compile(
    r"(?:ends? (?:in|with)|ending (?:in|with)?|last (?:digits|two|three|four) (?:are|is)?|"
    r"尾号是?|末尾是?|最后几位是?|结尾是?)\s*#?(\d{2,6})\b"
)
REFERENCE = re.compile(
    r"这个订单|那个订单|这单|那单|这笔|那笔|刚才那个|刚刚那个|上一个|同一个|这个|那个|它|那|"
    r"\bthat order\b|\bthis order\b|\bsame order\b|\bthat one\b|\bit\b|\bthat\b|\bthis\b",
)


class EntityLike(Protocol):
    type: str
    value: Any
    text: str
    start: int
    end: int


class Extractor(Protocol):
    def extract(self, text: str, now: datetime | None = None) -> Sequence[EntityLike]: ...


@dataclass(frozen=True)
class Understanding:
    commands: list[Command]
    language: str
    entities: list[dict[str, Any]] = field(default_factory=list)
    doc: DocResult | None = None
    candidates: list[Candidate] = field(default_factory=list)


_YES_LEAD = re.compile(
    r"^(?:yes|yeah|yep|yup|sure|ok|okay|confirm(?:ed)?|correct|right|go ahead|proceed|"
    r"please (?:do|go ahead|proceed)|that'?s (?:right|correct|fine)|sounds good|"
    r"是的?|好的?|确认|确定|可以|对的?|行|没问题|嗯+)(?![a-z])"
)
_NOT = re.compile(
    r"不|别|没(?!问题)|\bno\b|\bnot\b|n't\b|\bwait\b|\bhold on\b|等等|等一下|再想想|"
    r"\bbut\b|\binstead\b|\bactually\b|\bchange\b|但|不过|改成|换成"
)
_NO_LEAD = re.compile(
    r"^(?:no|nope|nah|don'?t|do not|不要|不用|不是|不对|不行|先不|算了|别)(?![a-z])"
)


def confirmation(norm: str) -> str | None:
    """ "yes" or "no" for a reply to a confirmation, also in a sentence ("Yes, please cancel
    it", "是的，确认退货", "no, don't"); None when it is neither (a correction, a question)."""
    key = _key(norm)
    if key in YES:
        return "yes"
    if key in NO:
        return "no"
    # the first clause or word: "yes, please cancel it", "不 先不退了"
    first = _key(re.split(r"[\s,，。.!！?？;；]+", key, maxsplit=1)[0])
    if first in YES and not _NOT.search(norm):
        return "yes"
    if first in NO or _NO_LEAD.match(key):
        return "no"
    if _YES_LEAD.match(key) and not _NOT.search(key):
        return "yes"
    return None


def _key(norm: str) -> str:
    key = norm.strip()
    for _ in range(2):
        key = _FILLER.sub("", key).strip()
    return key


class NluEngine:
    def __init__(
        self,
        index: FaqIndex,
        catalog: FlowCatalog,
        settings: TenantSettings,
        extractor: Extractor,
        docs: Callable[[str, str], DocResult | None] | None = None,
        level: str = "L2",
    ) -> None:
        self.index = index
        self.catalog = catalog
        self.settings = settings
        self.extractor = extractor
        self.docs = docs
        self.level = level

    def language(self, text: str, state: DialogueState, default: str | None) -> str:
        fallback = state.language or default or str(self.settings["language"])
        words = _NOT_WORDS.sub(" ", text)
        if state.language and len(re.findall(r"[A-Za-z]{2,}|[\u4e00-\u9fff]", words)) < 2:
            return state.language  # an email, an id or a number alone keeps the language
        return detect_language(text, fallback) or fallback

    def understand(
        self, text: str, state: DialogueState, now: datetime, default_language: str | None = None
    ) -> Understanding:
        lang = self.language(text, state, default_language)
        norm = normalise(text)
        if not norm:
            return Understanding([Unreadable()], lang)
        kind = classify(norm)
        if kind == "handoff":
            return Understanding([Handoff("customer_request")], lang)
        if kind is not None:
            return Understanding([ChitChat(kind)], lang)

        frame = state.active
        key = _key(norm)
        if frame is not None and frame.awaiting == "collect":
            step = self.catalog.flows[frame.flow].steps[frame.step]
            if (step.entity or step.target) == "cancel_reason":
                reason = cancel_reason(norm)  # "不需要了" answers the question, not cancels
                if reason is not None:
                    return Understanding([SetSlot(step.target, reason)], lang)
        if key in CANCEL or norm.strip() in CANCEL:
            return Understanding([Cancel()], lang)
        if frame is not None and any(c in CANCEL or _key(c) in CANCEL for c in _clauses(text)):
            return Understanding([Cancel()], lang)  # "不用了，先不查了" mid-task
        said = confirmation(norm) if frame is not None and frame.awaiting == "confirm" else None
        if said == "yes":
            return Understanding([Confirm()], lang)

        awaiting_identity = frame is not None and frame.awaiting == "identity"
        entities = list(self._extract(text, now, "identity" if awaiting_identity else None))
        ents = [_entity_dict(e) for e in entities]

        picked = self._picked(norm, state)
        if picked is not None:
            return Understanding(self._chosen(picked, 1.0, entities, state, norm), lang, ents)

        # the bot is waiting for something: read the message as that first
        if frame is not None and frame.awaiting == "identity":
            found = self._identity(entities, state)
            if found:
                return Understanding(found, lang, ents)
        if frame is not None and frame.awaiting == "collect":
            flow = self.catalog.flows[frame.flow]
            slot = flow.steps[frame.step].target
            entity = flow.steps[frame.step].entity or slot
            value = self._value(entity, entities, state, norm)
            if value is None and entity in ("item", "items"):
                items = (frame.results.get("order") or {}).get("items") or []
                if 0 < len(key) <= 24 and named_item(items, key) is not None:
                    value = {"text": key}  # "保温杯": the one item of the order so named
            if value is not None:
                commands: list[Command] = [SetSlot(slot, value)]
                commands += self._prefill(flow, entities, state, norm, skip={slot})
                return Understanding(commands, lang, ents)

        # at a write's confirmation, a changed detail ("退到礼品卡吧", "the other address")
        # corrects its slot: the flow shows a new preview
        if frame is not None and frame.awaiting == "confirm":
            changed = self._correction(entities, state, norm, active_only=True)
            if changed:  # "不对，其实是第一件": a correction, not a no
                return Understanding(changed, lang, ents)
            if said == "no":
                return Understanding([Deny()], lang)
        if frame is None and confirmation(norm) == "yes" and state.context.get("last_flow"):
            # "确认" again after the task ended: nothing is waiting for it
            return Understanding([ChitChat("acknowledged")], lang)

        # corrections of a slot filled earlier in this flow, or of the task just finished
        if CORRECTION.search(norm):
            corrected = self._correction(entities, state, norm)
            if corrected:
                return Understanding(corrected, lang, ents)

        return self._search(text, norm, lang, entities, ents, state)

    def _extract(self, text: str, now: datetime, hint: str | None) -> Sequence[EntityLike]:
        if hint is not None:
            try:
                return self.extractor.extract(text, now, hint=hint)  # type: ignore[call-arg]
            except TypeError:  # an extractor without hints
                pass
        return self.extractor.extract(text, now)

    # -- reading the message against the state ----------------------------------------------
    def _picked(self, norm: str, state: DialogueState) -> str | None:
        if not state.suggestions:
            return None
        from kefu.dialogue.l1_policy import pick_index

        for s in state.suggestions:
            if normalise(s["text"]) == norm:
                return s["faq_id"]
        i = pick_index(norm)
        if i is not None and i < len(state.suggestions):
            return state.suggestions[i]["faq_id"]
        return None

    def _chosen(
        self,
        option: str,
        confidence: float,
        entities: Sequence[EntityLike],
        state: DialogueState,
        norm: str,
    ) -> list[Command]:
        if option.startswith(FLOW_PREFIX):
            name = option[len(FLOW_PREFIX) :]
            flow = self.catalog.flows[name]
            return [StartFlow(name, confidence), *self._prefill(flow, entities, state, norm)]
        return [AnswerFaq(option, confidence)]

    def _identity(self, entities: Sequence[EntityLike], state: DialogueState) -> list[Command]:
        out: list[Command] = []
        for e in entities:
            key = {"email": "email", "phone": "phone", "person_name": "person_name"}.get(e.type)
            if e.type == "zip":
                key = "zip"
            if e.type == "order_id":
                key = "order_id"
            if key is not None and key in IDENTITY_KEYS:
                out.append(SetSlot(key, e.value))
        return out

    def _value(
        self, entity: str, entities: Sequence[EntityLike], state: DialogueState, norm: str
    ) -> Any:
        by_type = {e.type: e for e in entities}
        if entity == "order_ref":  # an order id, or "the order with the boots" (L3 flows)
            found = self._value("order_id", entities, state, norm)
            suffix = ORDER_SUFFIX.search(norm)
            if found is None and suffix and not re.search(r"card|卡|phone|手机|电话", norm):
                return {"id_suffix": suffix.group(1)}  # "the order number ends in 66"
            if found is None and "product" in by_type:
                mention = by_type["product"]
                return {"product_id": _product_id(mention.value), "text": mention.text}
            return found
        if entity in WRITE_ENTITIES:
            return write_value(entity, entities, norm, _option, _bare_size(norm, entities))
        if entity == "order_id":
            if "order_id" in by_type:
                return by_type["order_id"].value
            listed = state.context.get("list") or {}
            if "ordinal" in by_type and listed.get("kind") == "order_id":
                return _nth(listed.get("values") or [], by_type["ordinal"].value)
            if state.context.get("order_id"):
                if REFERENCE.search(norm):
                    return state.context["order_id"]
                if "ordinal" in by_type and listed.get("kind") == "item":
                    return state.context["order_id"]  # "第2件" is an item of the last order
            return None
        if entity == "item":
            if "ordinal" in by_type:
                return {"ordinal": _ordinal(by_type["ordinal"].value)}
            if "product" in by_type:
                mention = by_type["product"]
                return {"product_id": _product_id(mention.value), "text": mention.text}
            return None
        if entity == "product":
            said: dict[str, str] = {}
            for e in entities:
                if e.type == "option":
                    k, v = _option(e.value)
                    if k:
                        said[k] = v
            size = _bare_size(norm, entities)
            if size is not None:
                said[ANY_OPTION] = size  # "M" alone: whichever option has that value
            listed = state.context.get("list") or {}
            if "product" in by_type:
                mention = by_type["product"]
                pid, alternatives = _product_id(mention.value), _alternatives(mention.value)
                if not alternatives:
                    return {"product_id": pid, "options": said}
                fits = (pid, *alternatives)
                if state.context.get("product") in fits:
                    # "那个包" after talking about one bag: that bag
                    return {"product_id": state.context["product"], "options": said}
                # "the boots" in a shop with two kinds: the validator asks which one
                return {
                    "product_id": pid,
                    "options": said,
                    "alternatives": list(fits),
                    "text": mention.text,
                }
            picked: Any = by_type["ordinal"].value if "ordinal" in by_type else None
            if picked is None and _BARE_NUMBER.fullmatch(norm.strip()):
                picked = int(norm.strip())  # "2" answering a numbered list
            if picked is not None and listed.get("kind") == "product":
                # "第二个" after "which one?": the listed product, with the options said before
                pid = _nth(listed.get("values") or [], picked)
                if pid is not None:
                    before = dict(state.context.get("options") or {})
                    return {"product_id": pid, "options": {**before, **said}}
            if state.context.get("product"):
                # "那灰色M呢": the product asked about before, with the options now named
                before = dict(state.context.get("options") or {})
                options = said if ANY_OPTION in said else {**before, **said}
                return {"product_id": state.context["product"], "options": options}
            return None
        if entity in by_type:
            return by_type[entity].value
        return None

    def _prefill(
        self,
        flow: Flow,
        entities: Sequence[EntityLike],
        state: DialogueState,
        norm: str,
        skip: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> list[Command]:
        out: list[Command] = []
        for step in flow.steps:
            if step.kind != "collect" or step.target in skip:
                continue
            entity = step.entity or step.target
            if entity == "item" and not any(e.type in ("ordinal", "product") for e in entities):
                continue
            value = self._value(entity, entities, state, norm)
            if value is not None:
                out.append(SetSlot(step.target, value))
        if flow.identity and state.customer_id is None:
            out += self._identity([e for e in entities if e.type != "order_id"], state)
        return out

    def _correction(
        self,
        entities: Sequence[EntityLike],
        state: DialogueState,
        norm: str,
        *,
        active_only: bool = False,
    ) -> list[Command]:
        frame = state.active
        if frame is not None:
            flow = self.catalog.flows[frame.flow]
            for step in flow.steps:
                if step.kind != "collect":
                    continue
                entity = step.entity or step.target
                if step.target not in frame.slots and not (active_only and step.optional):
                    continue
                if entity == "order_ref":  # an order is corrected by its id, not by an item
                    entity = "order_id"
                # the L3 values read words ("礼品卡", "买错了"), so they see the message
                said = norm if entity in WRITE_ENTITIES else ""
                value = self._value(entity, entities, state, said)
                old = frame.slots.get(step.target)
                if entity == "items" and value is not None and ADDING.search(norm) and old:
                    # "the bookshelf as well": the items already chosen, and these
                    value = [*(old if isinstance(old, list) else [old]), *_as_list(value)]
                if value is not None and value != old:
                    return [CorrectSlot(step.target, value)]
        if active_only:
            return []
        last = state.context.get("last_flow")
        if frame is not None and last == frame.flow:
            return []
        if last and last in self.catalog.flows:
            flow = self.catalog.flows[last]
            fills = self._prefill(flow, entities, state, "")
            if fills:
                return [StartFlow(last, 1.0), *fills]
        return []

    # -- search: FAQ, flows and documents compete --------------------------------------------
    def _allowed(self, option: str) -> bool:
        if not option.startswith(FLOW_PREFIX):
            return True
        flow = self.catalog.flows.get(option[len(FLOW_PREFIX) :])
        return flow is not None and (flow.level == "L2" or self.level == "L3")

    def _flow_by_clause(self, text: str, norm: str, candidates: list[Candidate]) -> list[Candidate]:
        """A flow's own example, or one clause of a longer message ("气死我了！快递到底到哪了")
        that clearly asks for a task, wins over the whole message's best match."""
        examples = _examples(self.catalog)
        exact = examples.get(strip_greeting(norm))
        if exact is not None and self._allowed(FLOW_PREFIX + exact):
            return [_sure(FLOW_PREFIX + exact, norm), *candidates]
        clauses = [c for c in _clauses(text) if len(c) >= 2]
        best = candidates[0].confidence if candidates else 0.0
        answer_at = float(self.settings["answer_threshold"])
        if len(clauses) < 2 or best >= answer_at:
            return candidates
        for clause in clauses[-3:]:  # the ask usually comes last; bounded cost per turn
            name = examples.get(clause)
            if name is not None and self._allowed(FLOW_PREFIX + name):
                return [_sure(FLOW_PREFIX + name, clause), *candidates]
            found = [c for c in self.index.search(clause, k=3) if self._allowed(c.faq_id)]
            top = found[0] if found else None
            if (
                top is not None
                and top.faq_id.startswith(FLOW_PREFIX)
                and top.confidence >= max(answer_at, best)
            ):
                candidates, best = found, top.confidence
        return candidates

    def _search(
        self,
        text: str,
        norm: str,
        lang: str,
        entities: Sequence[EntityLike],
        ents: list[dict[str, Any]],
        state: DialogueState,
    ) -> Understanding:
        query = strip_greeting(norm)
        candidates = [c for c in self.index.search(query, k=5) if self._allowed(c.faq_id)][:3]
        masked = _masked(text, entities, lang)
        if masked is not None:
            # "纯棉T恤黑色XXL有货吗" reads as "这个有货吗": the task, not the product, decides
            alt = [c for c in self.index.search(normalise(masked), k=5) if self._allowed(c.faq_id)]
            if alt and alt[0].faq_id.startswith(FLOW_PREFIX):
                best = candidates[0].confidence if candidates else 0.0
                if alt[0].confidence > best:
                    candidates = alt[:3]
        candidates = self._flow_by_clause(text, norm, candidates)
        top = candidates[0] if candidates else None
        answer_at = float(self.settings["answer_threshold"])
        clarify_at = float(self.settings["clarify_threshold"])
        top_conf = top.confidence if top is not None else 0.0
        doc: DocResult | None = None
        if self.docs is not None and (top is None or not top.faq_id.startswith(FLOW_PREFIX)):
            doc = self.docs(text, lang)
        doc_at = float(self.settings["doc_answer_threshold"])
        doc_wins = doc is not None and doc.answered and doc.confidence >= doc_at
        doc_wins = doc_wins and doc is not None and doc.confidence > top_conf

        frame = state.active
        waiting = frame is not None and frame.awaiting is not None
        if top is not None and top_conf >= answer_at and not doc_wins:
            if waiting and frame is not None and top.faq_id == FLOW_PREFIX + frame.flow:
                # asking for the task in progress again: the frame re-asks its question
                return Understanding([OutOfScope(top_conf)], lang, ents, None, candidates)
            if (
                frame is not None
                and frame.awaiting == "confirm"
                and top.faq_id.startswith(FLOW_PREFIX)
            ):
                # a preview is waiting for a yes or no: another task starts after it, not
                # in the middle of it ("What payment methods can the refund go to?")
                return Understanding([OutOfScope(top_conf)], lang, ents, None, candidates)
            cmds = self._chosen(top.faq_id, top_conf, entities, state, norm)
            return Understanding(cmds, lang, ents, doc, candidates)
        if doc_wins and doc is not None:
            return Understanding([SearchDocs(text)], lang, ents, doc, candidates)
        # an elliptical follow-up ("那 #W123 呢") continues the task just finished
        last = state.context.get("last_flow")
        if not waiting and last in self.catalog.flows and top_conf < answer_at:
            flow = self.catalog.flows[last]
            fills = self._prefill(flow, [e for e in entities if e.type != "ordinal"], state, "")
            if any(isinstance(c, SetSlot) and c.slot in flow.slots for c in fills):
                return Understanding([StartFlow(last, 1.0), *fills], lang, ents, doc, candidates)
        if waiting:
            return Understanding([OutOfScope(top_conf)], lang, ents, doc, candidates)
        if top is not None and top_conf >= clarify_at:
            options = tuple(c.faq_id for c in candidates if c.confidence >= clarify_at / 2)
            return Understanding([Clarify(options, top_conf)], lang, ents, doc, candidates)
        return Understanding([OutOfScope(top_conf)], lang, ents, doc, candidates)


_MASK = {
    "order_id": "这个订单",
    "tracking_number": "这个单号",
    "product": "这个商品",
    "ordinal": "这个",
    "option": "",
    "phone": "",
    "email": "",
    "quantity": "",
    "amount": "",
}
_MASK_EN = {
    **_MASK,
    "order_id": "this order",
    "tracking_number": "this tracking number",
    "product": "this product",
    "ordinal": "this one",
}


_BARE_NUMBER = re.compile(r"[1-9]")
_EN_ID_NOUN = re.compile(
    r"\b(?:order|tracking|parcel|package)(?:\s+(?:number|no\.?|id))?\s*(?:#|:)?\s*$", re.I
)


def _masked(text: str, entities: Sequence[EntityLike], lang: str = "zh") -> str | None:
    """The message with its task-specific entities replaced by placeholders (in the message's
    language), or None when it has none."""
    mask = _MASK_EN if lang == "en" else _MASK
    spans = [e for e in entities if e.type in _MASK]
    if not spans:
        return None
    rest = len(text) - sum(e.end - e.start for e in spans)
    if rest < 3:
        return None  # nothing but the entity: no task words to read
    out, last = [], 0
    for e in sorted(spans, key=lambda e: e.start):
        before = text[last : e.start]
        if lang == "en" and e.type in ("order_id", "tracking_number"):
            # "where is order #W1" -> "where is this order", not "... order this order"
            before = _EN_ID_NOUN.sub(" ", before)
        out.append(before)
        out.append(mask[e.type])
        last = e.end
    out.append(text[last:])
    return "".join(out)


_EXAMPLES: dict[int, tuple[FlowCatalog, dict[str, str]]] = {}


def _examples(catalog: FlowCatalog) -> dict[str, str]:
    """Normalised flow example -> flow name (cached per catalogue object)."""
    cached = _EXAMPLES.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1]
    found = {
        normalise(x): f.name
        for f in catalog.flows.values()
        for xs in f.examples.values()
        for x in xs
    }
    if len(_EXAMPLES) > 64:
        _EXAMPLES.clear()
    _EXAMPLES[id(catalog)] = (catalog, found)
    return found


def _sure(option: str, question: str) -> Candidate:
    """A certain match found by rule (a flow's own example)."""
    return Candidate(option, 1.0, Signals(1.0, 1.0, 1.0, 1.0, 1.0, 0.0), question)


_CLAUSE = re.compile(r"[，,。.！!？?；;、\n~～…]+")


def _clauses(text: str) -> list[str]:
    """Normalised clauses of a message ("气死我了！快递到底到哪了" -> two clauses)."""
    return [c for c in (normalise(part) for part in _CLAUSE.split(text)) if c]


ANY_OPTION = "*"
_SIZE = re.compile(r"(?<![A-Za-z0-9])(XXXL|XXL|XL|XS|S|M|L|[2-4]\d)(?![A-Za-z0-9])", re.IGNORECASE)


def _bare_size(norm: str, entities: Sequence[EntityLike]) -> str | None:
    """A size written alone ("灰色M呢", "size 31") that no entity claimed."""
    rest = norm
    for e in entities:
        rest = rest.replace(normalise(e.text), " ")
    m = _SIZE.search(rest)
    return m.group(1).upper() if m else None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _entity_dict(e: EntityLike) -> dict[str, Any]:
    to_dict = getattr(e, "to_dict", None)
    if callable(to_dict):
        d: dict[str, Any] = to_dict()
        return d
    return {"type": e.type, "value": e.value, "text": e.text, "start": e.start, "end": e.end}


def _ordinal(value: Any) -> int:
    if isinstance(value, dict):
        value = value.get("index", value.get("value", 1))
    return int(value)


def _nth(values: Sequence[Any], ordinal: Any) -> Any:
    i = _ordinal(ordinal)
    index = i - 1 if i > 0 else len(values) + i
    return values[index] if 0 <= index < len(values) else None


def _product_id(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("product_id") or value.get("id"))
    return str(getattr(value, "product_id", value))


def _alternatives(value: Any) -> tuple[str, ...]:
    """The other products a mention fits just as well (``ProductMention.alternatives``)."""
    found = value.get("alternatives") if isinstance(value, dict) else None
    if found is None:
        found = getattr(value, "alternatives", ())
    return tuple(str(x) for x in found or ())


def _option(value: Any) -> tuple[str, str]:
    if isinstance(value, dict):
        return str(value.get("key") or ""), str(value.get("value") or "")
    if isinstance(value, list | tuple) and len(value) == 2:
        return str(value[0]), str(value[1])
    return str(getattr(value, "key", "") or ""), str(getattr(value, "value", "") or "")
