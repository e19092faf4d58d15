"""Extractive answers from documents, with citations and a calibrated confidence.

:class:`DocAnswerer` ranks the candidate chunks of :class:`~kefu.knowledge.doc_index.DocIndex`
by :class:`DocFusion`, a logistic model over their signals: P(the cited section answers the
question). The coefficients were fitted on the demo development set
(``python -m benchmarks.calibrate_docs``, never on the held-out set), so the confidence can be
compared directly with the FAQ's (:mod:`kefu.knowledge.fusion`). Below the threshold the answer
is "I don't know" (``answered=False``). Otherwise the best supporting sentences of the top chunk
are quoted, with the document and section they come from.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, field
from typing import Any

from kefu.knowledge.doc_chunk import SECTION_SEPARATOR
from kefu.knowledge.doc_index import DocCandidate, DocIndex, DocSearch, DocSignals

DEFAULT_THRESHOLD = 0.5  # the doc_answer_threshold setting's default
MAX_SENTENCES = 3
NEIGHBOUR_GAP = 0.01  # a neighbour this close (in cosine) to the best sentence is quoted too
MARGIN_CAP = 10.0  # a lead over the runner-up beyond this says nothing more
_LEAD_IN = ("：", ":")


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    section: str  # heading path, "售后服务政策 > 七天无理由退货"
    quote: str  # the quoted sentences, verbatim
    chunk_seq: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "section": self.section,
            "quote": self.quote,
            "chunk_seq": self.chunk_seq,
        }


@dataclass(frozen=True)
class DocAnswer:
    answered: bool
    text: str  # the extractive answer ("" when not answered)
    confidence: float  # calibrated P(the cited section answers the question)
    citations: list[Citation] = field(default_factory=list)
    language: str = "zh"  # the language of the quoted document

    @property
    def title(self) -> str:
        return self.citations[0].title if self.citations else ""

    @property
    def section(self) -> str:
        """The cited section without the document title (the template names the title)."""
        if not self.citations:
            return ""
        parts = self.citations[0].section.split(SECTION_SEPARATOR)
        return SECTION_SEPARATOR.join(parts[1:] if len(parts) > 1 else parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "answered": self.answered,
            "text": self.text,
            "confidence": round(self.confidence, 4),
            "language": self.language,
            "citations": [c.to_dict() for c in self.citations],
        }


@dataclass(frozen=True)
class DocFusion:
    """Two logistic models. The first scores every candidate chunk (``z``, a logit); the second
    turns the candidate's score and its lead over the best other section into the calibrated
    probability that the candidate's section answers the question."""

    weights: tuple[float, ...]  # one per DocSignals field, in field order
    bias: float = 0.0
    cal_bias: float = 0.0
    cal_score: float = 1.0
    cal_margin: float = 0.0

    def score(self, s: DocSignals) -> float:
        return self.bias + float(sum(w * x for w, x in zip(self.weights, astuple(s), strict=True)))

    def confidence(self, score: float, margin: float) -> float:
        z = self.cal_bias + self.cal_score * score + self.cal_margin * clip_margin(margin)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    @staticmethod
    def features(s: DocSignals) -> tuple[float, ...]:
        return astuple(s)


def clip_margin(margin: float) -> float:
    return max(-MARGIN_CAP, min(MARGIN_CAP, margin))


# Fitted by `python -m benchmarks.calibrate_docs -C 10` on benchmarks/data/docs_dev.jsonl.
# Weights in DocSignals field order: lexical, lexical_sentence, heading, coverage, dense,
# dense_sentence, dense_heading, dense_centered, lexical_margin, dense_margin, same_language.
HYBRID = DocFusion(
    weights=(
        10.9906,
        -11.5,
        -1.5279,
        1.3893,
        28.863,
        15.1749,
        9.1013,
        23.3284,
        2.5645,
        73.2799,
        -8.1513,
    ),
    bias=-51.6646,
    cal_bias=0.2685,
    cal_score=0.649,
    cal_margin=0.0784,
)
# Without an embedder (KEFU_EMBEDDER=none) the dense signals are zero: `--lexical-only`.
LEXICAL_ONLY = DocFusion(
    weights=(-1.8847, -4.5609, 11.6507, 4.795, 0.0, 0.0, 0.0, 0.0, 13.1519, 0.0, 3.506),
    bias=-6.9568,
    cal_bias=-0.1586,
    cal_score=0.3215,
    cal_margin=0.1518,
)


def default_doc_fusion(has_embedder: bool) -> DocFusion:
    return HYBRID if has_embedder else LEXICAL_ONLY


@dataclass(frozen=True)
class Ranked:
    candidate: DocCandidate
    confidence: float
    score: float  # the ranking logit


class DocAnswerer:
    """Answers questions from one :class:`DocIndex`."""

    def __init__(
        self,
        index: DocIndex,
        fusion: DocFusion | None = None,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self.index = index
        self.fusion = fusion or default_doc_fusion(index.embedder is not None)
        self.threshold = threshold

    def rank(self, search: DocSearch) -> list[Ranked]:
        """Candidates best first, each with its calibrated confidence."""
        scores = [self.fusion.score(c.signals) for c in search.candidates]
        keys = [self._section_key(c) for c in search.candidates]
        best: dict[tuple[str, str], float] = {}
        for key, z in zip(keys, scores, strict=True):
            best[key] = max(best.get(key, -math.inf), z)
        top = sorted(best.items(), key=lambda kv: -kv[1])[:2]
        ranked: list[Ranked] = []
        for c, key, z in zip(search.candidates, keys, scores, strict=True):
            other = next((v for k, v in top if k != key), z - MARGIN_CAP)
            ranked.append(Ranked(c, self.fusion.confidence(z, z - other), z))
        ranked.sort(key=lambda r: (-r.score, r.candidate.chunk))
        return ranked

    def _section_key(self, c: DocCandidate) -> tuple[str, str]:
        chunk = self.index.chunks[c.chunk]
        return chunk.doc_id, chunk.section

    def answer(
        self, question: str, language: str | None = None, threshold: float | None = None
    ) -> DocAnswer:
        """The extractive answer with its citation, or "I don't know" (``answered=False``)."""
        search = self.index.search(question, language)
        return self.decide(search, self.rank(search), threshold)

    def decide(
        self, search: DocSearch, ranked: list[Ranked], threshold: float | None = None
    ) -> DocAnswer:
        """The answer for a search already ranked (see :meth:`answer`)."""
        if not ranked:
            return DocAnswer(False, "", 0.0, [], search.language)
        best = ranked[0]
        limit = self.threshold if threshold is None else threshold
        if best.confidence < limit:
            return DocAnswer(False, "", best.confidence, [], search.language)
        chunk = self.index.chunks[best.candidate.chunk]
        quote = self.quote(search, best.candidate.chunk)
        citation = Citation(chunk.doc_id, chunk.title, chunk.section, quote, chunk.seq)
        return DocAnswer(True, quote, best.confidence, [citation], chunk.language)

    def quote(self, search: DocSearch, chunk: int) -> str:
        """The sentences of a chunk that best support an answer, in document order.

        With an embedder a sentence scores by its hubness-corrected cosine to the question plus
        a little of its lexical share; without one by the lexical share alone. A neighbour of
        the best sentence joins it when it scores almost as well, and a sentence ending in a
        colon brings the items it introduces."""
        positions = list(self.index.sentences_of(chunk))
        sentences = [self.index.sentences[p] for p in positions]
        dense = self.index.embedder is not None
        scores = [
            float(
                search.sentence_dense[p]
                - 0.5 * self.index.hubness[p]
                + 0.1 * search.sentence_lexical[p]
                if dense
                else search.sentence_lexical[p]
            )
            for p in positions
        ]
        best = max(range(len(positions)), key=lambda k: (scores[k], -k))
        picked = [best]
        if sentences[best].endswith(_LEAD_IN):  # "以下商品不支持…：" introduces a list
            picked.extend(range(best + 1, min(len(sentences), best + MAX_SENTENCES)))
        else:
            top = scores[best]
            close = NEIGHBOUR_GAP if dense else 0.1 * top
            for k in (best + 1, best - 1):
                if 0 <= k < len(sentences) and top > 0 and top - scores[k] <= close:
                    picked.append(k)
                    break
        picked.sort()
        joiner = " " if self.index.chunks[chunk].language == "en" else ""
        return joiner.join(sentences[k] for k in picked)
