"""Okapi BM25 over pre-tokenised documents, as a sparse matrix (fast single-query scoring)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse


class BM25:
    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.n_docs = len(docs)
        vocab: dict[str, int] = {}
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(set(doc))
        for term in df:
            vocab[term] = len(vocab)
        self.vocab = vocab
        lengths = np.array([len(d) for d in docs], dtype=np.float64)
        avgdl = float(lengths.mean()) if len(docs) else 1.0
        self.avgdl = avgdl or 1.0
        n = max(self.n_docs, 1)
        self.idf = np.zeros(len(vocab), dtype=np.float64)
        for term, i in vocab.items():
            self.idf[i] = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
        self.oov_idf = math.log(1 + (n + 0.5) / 0.5)
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for d, doc in enumerate(docs):
            norm = k1 * (1 - b + b * lengths[d] / self.avgdl)
            for term, tf in Counter(doc).items():
                j = vocab[term]
                rows.append(d)
                cols.append(j)
                vals.append(self.idf[j] * tf * (k1 + 1) / (tf + norm))
        self.matrix = sparse.csr_matrix(
            (vals, (rows, cols)), shape=(self.n_docs, len(vocab)), dtype=np.float64
        )
        self._matrix_csc = self.matrix.tocsc()

    def scores(self, query: Sequence[str]) -> npt.NDArray[np.float64]:
        """BM25 score of every document for the query."""
        cols = [self.vocab[t] for t in set(query) if t in self.vocab]
        if not cols:
            return np.zeros(self.n_docs, dtype=np.float64)
        sub = self._matrix_csc[:, cols]
        return np.asarray(sub.sum(axis=1)).ravel()

    def max_score(self, query: Sequence[str]) -> float:
        """An upper bound of a document's score for this query, unknown terms included, so
        ``scores / max_score`` says how much of the query a document explains."""
        total = 0.0
        for t in set(query):
            j = self.vocab.get(t)
            total += self.idf[j] if j is not None else self.oov_idf
        return total * (self.k1 + 1) / (1 + self.k1 * (1 - self.b))
