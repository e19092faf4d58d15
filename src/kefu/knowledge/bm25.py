"""Okapi BM25 over pre-tokenised documents, as a sparse matrix (fast single-query scoring)."""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import sparse


class BM25:
    """Term weights of every (document, term) pair, stored once: a float32 CSC matrix (a
    query reads a handful of term columns). 10,000 FAQ x 4 questions: ~1M weights, 8 MB."""

    def __init__(self, docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.n_docs = len(docs)
        vocab: dict[str, int] = {}
        df: list[int] = []
        # (document, term, term frequency) triples in compact arrays: Python lists of ints and
        # floats cost ~30 bytes an item, which at a million pairs is the build's memory peak.
        rows = array("i")
        cols = array("i")
        tfs = array("f")
        lengths = np.zeros(self.n_docs, dtype=np.float64)
        for d, doc in enumerate(docs):
            lengths[d] = len(doc)
            for term, tf in Counter(doc).items():
                j = vocab.get(term)
                if j is None:
                    j = vocab[term] = len(vocab)
                    df.append(0)
                df[j] += 1
                rows.append(d)
                cols.append(j)
                tfs.append(tf)
        self.vocab = vocab
        avgdl = float(lengths.mean()) if self.n_docs else 1.0
        self.avgdl = avgdl or 1.0
        n = max(self.n_docs, 1)
        dfs = np.asarray(df, dtype=np.float64)
        self.idf = np.log(1 + (n - dfs + 0.5) / (dfs + 0.5))
        self.oov_idf = math.log(1 + (n + 0.5) / 0.5)
        r = np.frombuffer(rows, dtype=np.int32)
        c = np.frombuffer(cols, dtype=np.int32)
        tf_arr = np.frombuffer(tfs, dtype=np.float32).astype(np.float64)
        norm = k1 * (1 - b + b * lengths / self.avgdl)
        vals = self.idf[c] * tf_arr * (k1 + 1) / (tf_arr + norm[r])
        self._matrix_csc = sparse.csc_matrix(
            (vals.astype(np.float32), (r, c)), shape=(self.n_docs, len(vocab)), dtype=np.float32
        )

    @property
    def matrix(self) -> sparse.csr_matrix:
        """The document x term weight matrix (CSR, built on demand: not kept in memory)."""
        return sparse.csr_matrix(self._matrix_csc)

    def scores(self, query: Sequence[str]) -> npt.NDArray[np.float64]:
        """BM25 score of every document for the query."""
        cols = [self.vocab[t] for t in set(query) if t in self.vocab]
        if not cols:
            return np.zeros(self.n_docs, dtype=np.float64)
        sub = self._matrix_csc[:, cols]
        return np.asarray(sub.sum(axis=1), dtype=np.float64).ravel()

    def max_score(self, query: Sequence[str]) -> float:
        """An upper bound of a document's score for this query, unknown terms included, so
        ``scores / max_score`` says how much of the query a document explains."""
        total = 0.0
        for t in set(query):
            j = self.vocab.get(t)
            total += self.idf[j] if j is not None else self.oov_idf
        return total * (self.k1 + 1) / (1 + self.k1 * (1 - self.b))
