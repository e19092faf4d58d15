"""Extractive answers from documents, with citations and a calibrated confidence.

:class:`DocAnswerer` orders the candidate chunks of :class:`~kefu.knowledge.doc_index.DocIndex`
by :class:`DocFusion` and gives the first a calibrated confidence: P(the cited section answers
the question). Two linear models over the same signals do this. The *order* model is listwise
(a softmax over one question's candidates, fitted to put an acceptable section first): it only
compares candidates of the same question, which is what choosing the passage needs. The
*relevance* model is pointwise (a logistic regression per candidate): its logit has an absolute
level, so it, with its lead over the best other section, feeds the calibration. A question whose
best passage is only "less bad than the others" gets a high order score but a low relevance.

The coefficients were fitted on the demo development set (``python -m benchmarks.calibrate_docs``,
never on the held-out set), so the confidence can be compared directly with the FAQ's
(:mod:`kefu.knowledge.fusion`). Below the threshold the answer is "I don't know"
(``answered=False``). Otherwise the best supporting sentences of the top chunk are quoted, with
the document and section they come from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from kefu.knowledge.doc_chunk import SECTION_SEPARATOR
from kefu.knowledge.doc_index import DocCandidate, DocIndex, DocSearch, DocSignals

DEFAULT_THRESHOLD = 0.5  # the doc_answer_threshold setting's default
MAX_SENTENCES = 3
NEIGHBOUR_GAP = 0.01  # a neighbour this close (in cosine) to the best sentence is quoted too
MARGIN_CAP = 10.0  # a lead over the runner-up beyond this says nothing more
_LEAD_IN = ("：", ":")


_SIGNAL_FIELDS = tuple(f.name for f in fields(DocSignals))


def _signal_values(s: DocSignals) -> tuple[float, ...]:
    """The signals in field order (what ``astuple`` gives, without its deep copy: ~1 ms a turn)."""
    return tuple(getattr(s, name) for name in _SIGNAL_FIELDS)


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


# The calibration's inputs for one candidate, in order (see :func:`calibration_features`).
CALIBRATION_FEATURES = (
    "score",  # the ranking logit
    "margin",  # its lead over the best candidate of another section (clipped)
    "coverage_idf",  # IDF-weighted share of the question's words in the candidate
    "known",  # IDF-weighted share of the question's words any document or the gloss knows
    "lexical_agrees",  # 1.0 when the candidate's section is also the best by BM25 (or gloss)
    "dense_agrees",  # 1.0 when the candidate's section is also the best by sentence cosine
    "same_language",  # 1.0 when the candidate's document is in the question's language
    "answer_type",  # +1 the candidate holds the amount or time asked for, -1 not, 0 not asked
    "missing_detail",  # 1.0 the question asks for a kind of detail the candidate does not hold
)


@dataclass(frozen=True)
class DocFusion:
    """Three linear models. The relevance model scores every candidate chunk (``z``, a
    pointwise logit); the order model (listwise, optional) decides which candidate comes first;
    the calibration turns the first candidate's relevance, its lead over the best other section
    and a few answerability cues (:data:`CALIBRATION_FEATURES`) into the calibrated probability
    that the candidate's section answers the question."""

    weights: tuple[float, ...]  # relevance: one per DocSignals field, in field order
    bias: float = 0.0
    cal_bias: float = 0.0
    cal_weights: tuple[float, ...] = (1.0,)  # one per CALIBRATION_FEATURES (missing = 0)
    order_weights: tuple[float, ...] | None = None  # listwise, per DocSignals field; None: by z

    def score(self, s: DocSignals) -> float:
        """The relevance logit (pointwise: comparable across questions)."""
        values = _signal_values(s)
        return self.bias + float(sum(w * x for w, x in zip(self.weights, values, strict=True)))

    def order(self, s: DocSignals) -> float:
        """The ordering score (listwise: comparable only among one question's candidates)."""
        if self.order_weights is None:
            return self.score(s)
        values = _signal_values(s)
        return float(sum(w * x for w, x in zip(self.order_weights, values, strict=True)))

    def confidence(self, features: tuple[float, ...]) -> float:
        z = self.cal_bias + sum(w * x for w, x in zip(self.cal_weights, features, strict=False))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    @staticmethod
    def features(s: DocSignals) -> tuple[float, ...]:
        return _signal_values(s)


def clip_margin(margin: float) -> float:
    return max(-MARGIN_CAP, min(MARGIN_CAP, margin))


def calibration_features(
    search: DocSearch,
    scores: Sequence[float],
    sections: Sequence[tuple[str, str]],
) -> list[tuple[float, ...]]:
    """Per candidate of ``search`` (with its ranking ``scores`` and section keys), the inputs
    of the calibration in :data:`CALIBRATION_FEATURES` order."""
    cands = search.candidates
    if not cands:
        return []
    best: dict[tuple[str, str], float] = {}
    for key, z in zip(sections, scores, strict=True):
        best[key] = max(best.get(key, -math.inf), z)
    top = sorted(best.items(), key=lambda kv: -kv[1])[:2]
    lex = [max(c.signals.lexical, c.signals.gloss) for c in cands]
    lex_key = sections[max(range(len(cands)), key=lambda k: (lex[k], -k))]
    dense_key = sections[
        max(range(len(cands)), key=lambda k: (cands[k].signals.dense_sentence, -k))
    ]
    out: list[tuple[float, ...]] = []
    for c, key, z in zip(cands, sections, scores, strict=True):
        other = next((v for k, v in top if k != key), z - MARGIN_CAP)
        out.append(
            (
                z,
                clip_margin(z - other),
                c.signals.coverage_idf,
                search.known,
                1.0 if key == lex_key else 0.0,
                1.0 if key == dense_key else 0.0,
                c.signals.same_language,
                c.signals.answer_type,
                c.missing_detail,
            )
        )
    return out


# Fitted by `python -m benchmarks.calibrate_docs -C 10` (listwise order model at the default
# --order-C 0.3) on benchmarks/data/docs_dev.jsonl. Relevance and order weights in DocSignals
# field order: lexical, lexical_sentence, heading, coverage, dense, dense_sentence,
# dense_heading, dense_centered, lexical_margin, dense_margin, same_language, gloss,
# gloss_sentence, coverage_idf, answer_type. The calibration uses the relevance score, the
# margin and missing_detail (a question asking for a price, time, payment method, invoice,
# opening hours or phone number the passage does not give: close to a veto); the other
# CALIBRATION_FEATURES did not help out of fold on dev (weights 0).
HYBRID = DocFusion(
    weights=(
        3.5404,
        -3.3187,
        -1.0404,
        -1.251,
        14.9511,
        15.0356,
        15.4559,
        19.3979,
        -1.32,
        40.5322,
        -5.9547,
        5.8821,
        -0.4669,
        5.6166,
        0.5229,
    ),
    bias=-46.3985,
    cal_bias=0.7362,
    cal_weights=(
        0.7579,
        0.1839,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        -7.9671,
    ),
    order_weights=(
        -2.3383,
        -2.2732,
        -1.883,
        1.9348,
        13.2035,
        14.2035,
        19.1098,
        14.513,
        0.2086,
        23.2012,
        -3.9955,
        6.8443,
        -0.0539,
        3.5208,
        1.168,
    ),
)
# Without an embedder (KEFU_EMBEDDER=none) the dense signals are zero: `--lexical-only`.
LEXICAL_ONLY = DocFusion(
    weights=(
        -3.2076,
        -1.3944,
        9.0476,
        2.5464,
        0.0,
        0.0,
        0.0,
        0.0,
        2.4656,
        0.0,
        -0.7222,
        8.6107,
        -3.0413,
        4.9499,
        0.9042,
    ),
    bias=-4.142,
    cal_bias=-0.1809,
    cal_weights=(0.2781, 0.6251, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -6.3323),
)


def default_doc_fusion(has_embedder: bool) -> DocFusion:
    return HYBRID if has_embedder else LEXICAL_ONLY


@dataclass(frozen=True)
class Ranked:
    candidate: DocCandidate
    confidence: float
    score: float  # the relevance logit
    order: float  # the ordering score (candidates are sorted by it)


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
        """Candidates best first (by the order model), each with its calibrated confidence."""
        scores = [self.fusion.score(c.signals) for c in search.candidates]
        keys = [self._section_key(c) for c in search.candidates]
        features = calibration_features(search, scores, keys)
        ranked = [
            Ranked(c, self.fusion.confidence(f), z, self.fusion.order(c.signals))
            for c, f, z in zip(search.candidates, features, scores, strict=True)
        ]
        ranked.sort(key=lambda r: (-r.order, r.candidate.chunk))
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
        a little of its lexical share (of the question or of its bilingual gloss, whichever is
        higher); without one by the lexical share alone. A neighbour of
        the best sentence joins it when it scores almost as well, and a sentence ending in a
        colon brings the items it introduces."""
        positions = list(self.index.sentences_of(chunk))
        sentences = [self.index.sentences[p] for p in positions]
        dense = self.index.embedder is not None
        lexical = search.sentence_lexical
        if search.sentence_gloss is not None:  # an English question quoting a Chinese policy
            lexical = np.maximum(lexical, search.sentence_gloss)
        scores = [
            float(
                search.sentence_dense[p] - 0.5 * self.index.hubness[p] + 0.1 * lexical[p]
                if dense
                else lexical[p]
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


def chunk_text(index: DocIndex, doc_id: str, seq: int) -> str | None:
    """The whole text of the cited chunk (a section, or part of a long one), one sentence per
    line: the passage a grounded answer is written from. None when the index no longer has
    it."""
    for chunk in index.chunks:
        if chunk.doc_id == doc_id and chunk.seq == seq:
            return str(chunk.text)
    return None
