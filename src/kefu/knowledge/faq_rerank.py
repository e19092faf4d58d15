"""Re-ranking the best fused FAQ candidates with query-candidate match features.

The fusion (:mod:`kefu.knowledge.fusion`) scores each candidate alone, from retrieval signals.
The re-ranker looks at the best ``TOP`` candidates together and at what the query shares with
each one's texts: how much of the query's words and character bigrams the candidate's best
question (all its questions, its answer) covers, how many of the query's synonym groups
(:mod:`kefu.understanding.synonyms`) it knows, how much of the query only this candidate's
texts contain among the ``TOP`` (the key terms that tell 发票 from 退款), each against the best
other candidate, beside the fused logit and raw signals. A small gradient-boosted model
(:data:`MODEL`, depth-2 trees) scores each candidate; the candidates are re-ordered by it.

Only the order changes: each candidate keeps its own fused confidence, a calibrated P(this
FAQ answers the query), so the answer and clarify thresholds mean what they meant. A candidate
moved up is answered only when its own confidence clears the threshold.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from kefu.knowledge.faq_rerank_model import BASELINE, TREES
from kefu.knowledge.fusion import Signals
from kefu.understanding.synonyms import synonym_tokens
from kefu.understanding.tokenise import tokens

TOP = 5  # candidates re-ranked (by fused confidence); the rest keep their order after them

# A tree is a tuple of nodes (feature, threshold, left, right, value); feature -1 is a leaf.
Tree = tuple[tuple[int, float, int, int, float], ...]


@dataclass(frozen=True)
class FaqTerms:
    """The match vocabulary of one FAQ (all its language versions)."""

    questions: tuple[frozenset[str], ...]  # each question's words and character bigrams
    question_union: frozenset[str]
    answer: frozenset[str]
    groups: frozenset[str]  # synonym groups of the questions
    answer_groups: frozenset[str]
    text: frozenset[str]  # the questions' and the answer's terms


def _words(norm: str, cached: bool = True) -> frozenset[str]:
    """Words and character bigrams (no pinyin bigrams: those match homophones)."""
    toks = tokens(norm) if cached else tokens.__wrapped__(norm)
    return frozenset(t for t in toks if not t.startswith("~"))


def faq_terms(questions: Sequence[str], answers: Sequence[str]) -> FaqTerms:
    """Terms of an FAQ from its normalised questions and answers."""
    qsets = tuple(_words(q, cached=False) for q in questions)
    answer = frozenset().union(*(_words(a, cached=False) for a in answers))
    groups = frozenset(g for q in questions for g in synonym_tokens(q))
    answer_groups = frozenset(g for a in answers for g in synonym_tokens(a))
    union = frozenset().union(*qsets)
    return FaqTerms(qsets, union, answer, groups, answer_groups, union | answer)


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _match(query: frozenset[str], qgroups: frozenset[str], terms: FaqTerms) -> list[float]:
    best_cover = best_jaccard = 0.0
    for q in terms.questions:
        shared = len(query & q)
        best_cover = max(best_cover, _ratio(shared, len(query)))
        best_jaccard = max(best_jaccard, _ratio(shared, len(query | q)))
    known = terms.groups | terms.answer_groups
    return [
        best_cover,
        best_jaccard,
        _ratio(len(query & terms.question_union), len(query)),
        _ratio(len(query & terms.answer), len(query)),
        _ratio(len(qgroups & terms.groups), len(qgroups)),
        _ratio(len(qgroups & known), len(qgroups)),
        float(len(qgroups - known)),
    ]


def _ahead(values: Sequence[float], i: int, alone: float = 0.0) -> float:
    """``values[i]`` minus the best other value (``alone`` without another)."""
    others = [v for j, v in enumerate(values) if j != i]
    return values[i] - max(others) if others else alone


def features(
    norm: str, confidences: Sequence[float], signals: Sequence[Signals], terms: Sequence[FaqTerms]
) -> list[list[float]]:
    """One feature row per candidate (best fused confidence first)."""
    query = _words(norm)
    qgroups = frozenset(synonym_tokens(norm))
    z = [_logit(c) for c in confidences]
    match = [_match(query, qgroups, t) for t in terms]
    raw = [[s.intent, s.dense, s.dense_answer, s.lexical] for s in signals]
    # the share of the query's terms found in this candidate's texts and no other's
    found = [query & t.text for t in terms]
    holders = Counter(w for f in found for w in f)
    only = [_ratio(sum(holders[w] == 1 for w in f), len(query)) for f in found]
    rows: list[list[float]] = []
    for i in range(len(terms)):
        row = [z[i], _ahead(z, i, alone=5.0), float(i == 0), *match[i]]
        row += [_ahead([m[k] for m in match], i) for k in range(len(match[i]))]
        row += raw[i] + [_ahead([r[k] for r in raw], i) for k in range(len(raw[i]))]
        row += [only[i], _ahead(only, i), sum(only) - only[i]]
        rows.append(row)
    return rows


def _tree_value(tree: Tree, row: Sequence[float]) -> float:
    node = tree[0]
    while node[0] >= 0:
        node = tree[node[2] if row[node[0]] <= node[1] else node[3]]
    return node[4]


def score(row: Sequence[float], trees: Sequence[Tree] = TREES, baseline: float = BASELINE) -> float:
    """The re-ranker's log-odds for one feature row."""
    return baseline + sum(_tree_value(t, row) for t in trees)


def order(
    norm: str, confidences: Sequence[float], signals: Sequence[Signals], terms: Sequence[FaqTerms]
) -> list[int]:
    """Positions of the candidates, best first by the re-ranker (ties keep fused order)."""
    if len(terms) < 2:
        return list(range(len(terms)))
    scores = [score(r) for r in features(norm, confidences, signals, terms)]
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))
