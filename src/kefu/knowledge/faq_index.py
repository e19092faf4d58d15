"""The L1 FAQ index: lexical BM25 + dense embeddings + an intent model, fused into one
calibrated confidence per FAQ.

Each FAQ (all its language versions) is one label; every question and similar question of every
version is a training example for the intent model and a document for BM25 and dense retrieval.
For a query the three signals are computed per FAQ (the best-matching question of that FAQ), and
:mod:`kefu.knowledge.fusion` turns them into a probability that the FAQ answers the query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from kefu.domain.faq import FaqEntry
from kefu.knowledge.bm25 import BM25
from kefu.knowledge.embedder import Embedder
from kefu.knowledge.fusion import Fusion, Signals
from kefu.understanding.intent_model import IntentModel
from kefu.understanding.normalise import normalise
from kefu.understanding.tokenise import tokens

CANDIDATES_PER_SIGNAL = 8


@dataclass(frozen=True)
class Candidate:
    faq_id: str
    confidence: float
    signals: Signals
    matched_question: str


@dataclass
class FaqGroup:
    """All language versions of one FAQ id."""

    faq_id: str
    versions: dict[str, FaqEntry]

    def version(self, language: str) -> FaqEntry:
        return self.versions.get(language) or next(iter(self.versions.values()))

    def is_active(self, now: datetime) -> bool:
        return any(v.is_active(now) for v in self.versions.values())


class FaqIndex:
    """Immutable once built; rebuild when the tenant's knowledge base changes."""

    def __init__(
        self,
        entries: Sequence[FaqEntry],
        embedder: Embedder | None,
        fusion: Fusion | None = None,
    ) -> None:
        self.embedder = embedder
        self.fusion = fusion or Fusion()
        self.groups: dict[str, FaqGroup] = {}
        for e in entries:
            if not e.enabled:
                continue
            self.groups.setdefault(e.id, FaqGroup(e.id, {})).versions[e.language] = e
        self.labels: list[str] = list(self.groups)
        label_index = {label: i for i, label in enumerate(self.labels)}
        self._doc_label: list[int] = []
        self._doc_text: list[str] = []
        docs_norm: list[str] = []
        for group in self.groups.values():
            for version in group.versions.values():
                for q in version.all_questions():
                    n = normalise(q)
                    if not n:
                        continue
                    self._doc_label.append(label_index[group.faq_id])
                    self._doc_text.append(q)
                    docs_norm.append(n)
        self._doc_label_arr = np.array(self._doc_label, dtype=np.int64)
        self.bm25 = BM25([tokens(d) for d in docs_norm])
        self._dense: npt.NDArray[np.float32] | None = None
        if embedder is not None and docs_norm:
            self._dense = embedder.embed_queries(docs_norm)
        self.intents: IntentModel | None = None
        if len(self.labels) >= 2:
            self.intents = IntentModel(embedder).fit(
                docs_norm, [self.labels[i] for i in self._doc_label]
            )

    def __len__(self) -> int:
        return len(self.groups)

    def _per_label_max(
        self, doc_scores: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Best score per label and the document that gave it."""
        best = np.full(len(self.labels), -np.inf)
        best_doc = np.zeros(len(self.labels), dtype=np.int64)
        order = np.argsort(doc_scores)  # ascending: later (higher) writes win
        best[self._doc_label_arr[order]] = doc_scores[order]
        best_doc[self._doc_label_arr[order]] = order
        return best, best_doc

    def search(
        self, query: str, k: int = 3, now: datetime | None = None
    ) -> list[Candidate]:
        """Top-``k`` active FAQs by calibrated confidence (best first)."""
        if not self.labels:
            return []
        norm = normalise(query)
        if not norm:
            return []
        qtokens = tokens(norm)
        lexical, lexical_doc = self._per_label_max(self.bm25.scores(qtokens))
        max_lex = self.bm25.max_score(qtokens) or 1.0
        lexical = np.clip(lexical / max_lex, 0.0, 1.0)

        qvec: npt.NDArray[np.float32] | None = None
        dense = np.zeros(len(self.labels))
        dense_doc = lexical_doc
        if self.embedder is not None and self._dense is not None:
            qvec = self.embedder.embed_queries([norm])[0]
            dense, dense_doc = self._per_label_max(self._dense @ qvec)

        intent = np.zeros(len(self.labels))
        oos = 0.5
        if self.intents is not None:
            pred = self.intents.predict(
                [norm], top_k=CANDIDATES_PER_SIGNAL,
                embeddings=None if qvec is None else qvec[None, :],
            )[0]
            oos = pred.oos_score
            for label, p in zip(pred.labels, pred.scores, strict=True):
                intent[self.labels.index(label)] = p
        elif len(self.labels) == 1:
            intent[0] = 1.0

        pool: set[int] = set()
        for arr in (lexical, dense, intent):
            pool.update(np.argsort(-arr)[:CANDIDATES_PER_SIGNAL].tolist())
        when = now or datetime.utcnow()
        scored: list[Candidate] = []
        for i in pool:
            group = self.groups[self.labels[i]]
            if not group.is_active(when):
                continue
            others = [intent[j] for j in pool if j != i]
            signals = Signals(
                intent=float(intent[i]),
                dense=float(dense[i]),
                lexical=float(lexical[i]),
                intent_margin=float(intent[i] - max(others, default=0.0)),
                oos=float(oos),
            )
            doc = int(dense_doc[i] if qvec is not None else lexical_doc[i])
            scored.append(
                Candidate(group.faq_id, self.fusion.confidence(signals), signals,
                          self._doc_text[doc])
            )
        scored.sort(key=lambda c: -c.confidence)
        return scored[:k]
