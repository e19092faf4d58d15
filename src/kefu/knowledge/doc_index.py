"""Hybrid retrieval over document chunks (BM25 + dense, Chinese and English).

For a question every chunk gets lexical signals (BM25 over the chunk with its heading path, over
its best sentence and over its headings alone, and the share of the question's words it
contains) and, with an embedder, dense ones (cosine to the chunk and to its best sentence). The
chunks that rank high on any signal become candidates; :mod:`kefu.knowledge.doc_answer` turns
their signals into one calibrated confidence and quotes the best sentences.

Without an embedder (``KEFU_EMBEDDER=none``) the dense signals are zero and retrieval is
lexical. An index is immutable; :class:`DocIndexCache` keeps built ones keyed by content.

Hubness: some sentences (table rows, generic statements) are close to every question. A
sentence's hubness is its cosine to the centroid of all sentences; ``dense_centered`` subtracts
half of it (a cheap form of CSLS), which separates questions the documents answer from
related-sounding ones they do not.
"""

from __future__ import annotations

import functools
import hashlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kefu.knowledge.bm25 import BM25
from kefu.knowledge.doc_answer_type import answer_kinds, asked_kinds, asked_type
from kefu.knowledge.doc_chunk import SECTION_SEPARATOR
from kefu.knowledge.doc_gloss import gloss
from kefu.knowledge.embedder import Embedder
from kefu.storage.documents import StoredChunk
from kefu.understanding.language import detect_language
from kefu.understanding.normalise import normalise
from kefu.understanding.smalltalk import strip_greeting
from kefu.understanding.tokenise import tokens

CANDIDATES_PER_SIGNAL = 8
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DocSignals:
    lexical: float  # BM25 of the chunk (with its headings) / the query's maximum possible score
    lexical_sentence: float  # the same for the chunk's best sentence
    heading: float  # the same for the chunk's heading path alone
    coverage: float  # share of the query's words (not bigrams) found in the chunk
    dense: float  # cosine between the query and the chunk
    dense_sentence: float  # best cosine between the query and one of the chunk's sentences
    dense_heading: float  # cosine between the query and the chunk's own heading (both queries)
    dense_centered: float  # best sentence cosine minus half the sentence's hubness (see below)
    lexical_margin: float  # lexical minus the best lexical of another section
    dense_margin: float  # dense_sentence minus the best dense_sentence of another section
    same_language: float  # 1.0 when the chunk's document is in the query's language
    gloss: float  # BM25 share of the question's bilingual gloss (kefu.knowledge.doc_gloss)
    gloss_sentence: float  # the same for the chunk's best sentence
    coverage_idf: float  # IDF-weighted share of the question's words found in the chunk
    answer_type: float  # +1 the chunk holds the amount or time the question asks for, -1 not


@dataclass(frozen=True)
class DocCandidate:
    chunk: int  # position in DocIndex.chunks
    signals: DocSignals
    # 1.0 when the question asks for a kind of detail (a price, a time, the payment methods, an
    # invoice, opening hours, a phone number) that the chunk does not hold (calibration only)
    missing_detail: float = 0.0


@dataclass(frozen=True)
class DocSearch:
    """Everything retrieval learnt about one query (reused to pick the quoted sentences)."""

    query: str
    language: str
    candidates: list[DocCandidate]
    sentence_lexical: Floats  # per sentence of the index
    sentence_dense: Floats  # per sentence of the index (zeros without an embedder)
    known: float = 0.0  # IDF-weighted share of the question's words the documents or gloss know
    sentence_gloss: Floats | None = None  # per sentence: BM25 share of the question's gloss


def _words(toks: Sequence[str]) -> set[str]:
    """Word tokens only: character bigrams (``_xx``) and pinyin bigrams (``~xx``) left out."""
    return {t for t in toks if t[:1] not in ("_", "~")}


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the code that shapes a document index: a change makes cached indexes unused."""
    import kefu.knowledge.bm25
    import kefu.knowledge.doc_answer_type
    import kefu.knowledge.doc_chunk
    import kefu.knowledge.doc_gloss
    import kefu.understanding.normalise
    import kefu.understanding.tokenise

    h = hashlib.blake2b(digest_size=12)
    for module in (
        sys.modules[__name__],
        kefu.knowledge.bm25,
        kefu.knowledge.doc_answer_type,
        kefu.knowledge.doc_chunk,
        kefu.knowledge.doc_gloss,
        kefu.understanding.normalise,
        kefu.understanding.tokenise,
    ):
        h.update(Path(str(module.__file__)).read_bytes())
    return h.hexdigest()


class DocIndex:
    """Chunks of one tenant's documents, ready for hybrid search."""

    def __init__(self, chunks: Sequence[StoredChunk], embedder: Embedder | None) -> None:
        self.chunks: list[StoredChunk] = list(chunks)
        self.embedder = embedder
        self.sentences: list[str] = []
        starts: list[int] = []
        owner: list[int] = []
        chunk_docs: list[tuple[str, ...]] = []
        heading_docs: list[tuple[str, ...]] = []
        sentence_docs: list[tuple[str, ...]] = []
        dense_chunks: list[str] = []
        dense_sentences: list[str] = []
        for i, c in enumerate(self.chunks):
            sentences = [s for s in c.text.split("\n") if s.strip()] or [c.text]
            heading = c.section.replace(SECTION_SEPARATOR, " ")
            leaf = c.section.split(SECTION_SEPARATOR)[-1]
            starts.append(len(self.sentences))
            for s in sentences:
                self.sentences.append(s)
                owner.append(i)
                sentence_docs.append(tokens(normalise(s)))
                dense_sentences.append(normalise(f"{leaf} {s}"))
            body = normalise(f"{heading} {' '.join(sentences)}")
            chunk_docs.append(tokens(body))
            heading_docs.append(tokens(normalise(heading)))
            dense_chunks.append(body)
        self._starts = np.array(starts, dtype=np.int64)
        self._owner = np.array(owner, dtype=np.int64)
        self._chunk_words = [_words(t) for t in chunk_docs]
        self._answer_kinds = [answer_kinds(normalise(c.text)) for c in self.chunks]
        self._languages = [c.language for c in self.chunks]
        self._section_keys = [(c.doc_id, c.section) for c in self.chunks]
        self.bm25 = BM25(chunk_docs)
        self.bm25_headings = BM25(heading_docs)
        self.bm25_sentences = BM25(sentence_docs)
        self._dense: npt.NDArray[np.float32] | None = None
        self._dense_sentences: npt.NDArray[np.float32] | None = None
        self._dense_headings: npt.NDArray[np.float32] | None = None
        self.hubness: Floats = np.zeros(len(self.sentences))  # cosine to the sentence centroid
        if embedder is not None and self.chunks:
            self._dense = embedder.embed_passages(dense_chunks)
            self._dense_sentences = embedder.embed_passages(dense_sentences)
            leaves = [normalise(c.section.split(SECTION_SEPARATOR)[-1]) for c in self.chunks]
            self._dense_headings = embedder.embed_queries(leaves)
            centroid = self._dense_sentences.mean(axis=0)
            self.hubness = (self._dense_sentences @ centroid).astype(np.float64)

    def __len__(self) -> int:
        return len(self.chunks)

    def sentences_of(self, chunk: int) -> range:
        """Positions (in ``sentences``) of one chunk's sentences."""
        end = self._starts[chunk + 1] if chunk + 1 < len(self._starts) else len(self.sentences)
        return range(int(self._starts[chunk]), int(end))

    @staticmethod
    def _share(bm25: BM25, query: Sequence[str]) -> Floats:
        top = bm25.max_score(query) or 1.0
        return np.clip(bm25.scores(query) / top, 0.0, 1.0)

    def _coverage_idf(self, qwords: set[str]) -> Floats:
        """Per chunk: the IDF-weighted share of the question's words that the chunk contains
        (a word unknown to every document weighs as much as the rarest)."""
        if not qwords:
            return np.zeros(len(self.chunks))
        weights = {w: self._idf(w) for w in qwords}
        total = sum(weights.values()) or 1.0
        return np.array(
            [sum(weights[w] for w in qwords & words) / total for words in self._chunk_words]
        )

    def _idf(self, word: str) -> float:
        j = self.bm25.vocab.get(word)
        return float(self.bm25.idf[j]) if j is not None else self.bm25.oov_idf

    def _known(self, qwords: set[str], glossed: frozenset[str]) -> float:
        """IDF-weighted share of the question's words found in some document or in the gloss
        lexicon: a question about something no document names ("PayPal", "羽绒服") scores low."""
        qwords = {w for w in qwords if len(w) > 1}  # single characters: particles, 由, 谁
        if not qwords:
            return 0.0
        total = sum(self._idf(w) for w in qwords) or 1.0
        hits = [
            w
            for w in qwords
            if w in self.bm25.vocab or w in glossed or any(w in g for g in glossed)
        ]
        return sum(self._idf(w) for w in hits) / total

    def _margin(self, values: Floats) -> Floats:
        """Each chunk's value minus the best value of a chunk from another section."""
        best_key: tuple[str, str] | None = None
        best = second = -np.inf
        for i in np.argsort(-values, kind="stable")[: len(values)]:
            key = self._section_keys[i]
            if best_key is None:
                best_key, best = key, float(values[i])
            elif key != best_key:
                second = float(values[i])
                break
        if best_key is None:
            return np.zeros(len(values))
        others = np.array([second if k == best_key else best for k in self._section_keys])
        others[~np.isfinite(others)] = 0.0
        out: Floats = values - others
        return out

    def search(self, query: str, language: str | None = None) -> DocSearch:
        """Candidate chunks for the query with their signals (unordered)."""
        norm = normalise(query)
        lang = language or detect_language(query, "zh") or "zh"
        n_sent = len(self.sentences)
        empty = DocSearch(query, lang, [], np.zeros(n_sent), np.zeros(n_sent))
        if not self.chunks or not norm:
            return empty
        qtok = tokens(norm)
        if not qtok:
            return empty
        lexical = self._share(self.bm25, qtok)
        heading = self._share(self.bm25_headings, qtok)
        sent_lex = self._share(self.bm25_sentences, qtok)
        best_sent_lex = np.maximum.reduceat(sent_lex, self._starts)
        qwords = _words(qtok)
        coverage = np.array(
            [len(qwords & w) / len(qwords) if qwords else 0.0 for w in self._chunk_words]
        )
        coverage_idf = self._coverage_idf(qwords)
        asked = asked_type(norm)
        details = asked_kinds(norm)
        answer_types = [
            0.0 if asked is None else (1.0 if asked in kinds else -1.0)
            for kinds in self._answer_kinds
        ]
        glossed = gloss(norm)
        gtok = tokens(normalise(glossed.text))
        known = self._known(qwords, glossed.known)
        gloss_share = self._share(self.bm25, gtok) if gtok else np.zeros(len(self.chunks))
        gloss_sent = self._share(self.bm25_sentences, gtok) if gtok else np.zeros(n_sent)
        best_gloss_sent = np.maximum.reduceat(gloss_sent, self._starts)
        n = len(self.chunks)
        dense = np.zeros(n)
        sent_dense = np.zeros(n_sent)
        best_sent_dense = np.zeros(n)
        dense_heading = np.zeros(n)
        centered = np.zeros(n)
        if self.embedder is not None and self._dense is not None:
            assert self._dense_sentences is not None and self._dense_headings is not None
            # the text the FAQ search embeds too (greetings off): one embedding per message
            qvec = self.embedder.embed_queries([normalise(strip_greeting(norm))])[0]
            dense = (self._dense @ qvec).astype(np.float64)
            sent_dense = (self._dense_sentences @ qvec).astype(np.float64)
            best_sent_dense = np.maximum.reduceat(sent_dense, self._starts)
            dense_heading = (self._dense_headings @ qvec).astype(np.float64)
            centered = np.maximum.reduceat(sent_dense - 0.5 * self.hubness, self._starts)
        lexical_margin = self._margin(lexical)
        dense_margin = self._margin(best_sent_dense)
        pool: set[int] = set()
        for arr in (lexical, best_sent_lex, dense, best_sent_dense, gloss_share):
            pool.update(np.argsort(-arr, kind="stable")[:CANDIDATES_PER_SIGNAL].tolist())
        candidates = [
            DocCandidate(
                i,
                DocSignals(
                    lexical=float(lexical[i]),
                    lexical_sentence=float(best_sent_lex[i]),
                    heading=float(heading[i]),
                    coverage=float(coverage[i]),
                    dense=float(dense[i]),
                    dense_sentence=float(best_sent_dense[i]),
                    dense_heading=float(dense_heading[i]),
                    dense_centered=float(centered[i]),
                    lexical_margin=float(lexical_margin[i]),
                    dense_margin=float(dense_margin[i]),
                    same_language=1.0 if self._languages[i] == lang else 0.0,
                    gloss=float(gloss_share[i]),
                    gloss_sentence=float(best_gloss_sent[i]),
                    coverage_idf=float(coverage_idf[i]),
                    answer_type=answer_types[i],
                ),
                1.0 if details - self._answer_kinds[i] else 0.0,
            )
            for i in sorted(pool)
        ]
        return DocSearch(query, lang, candidates, sent_lex, sent_dense, known, gloss_sent)


class DocIndexCache:
    """Built indexes keyed by the exact chunks and embedder (in memory, least recently used
    dropped first); the embeddings themselves persist in the embedder's own cache."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._items: OrderedDict[str, DocIndex] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0

    @staticmethod
    def key(chunks: Sequence[StoredChunk], embedder: Embedder | None) -> str:
        h = hashlib.blake2b(digest_size=20)
        h.update(f"{code_fingerprint()}:{embedder.name if embedder is not None else '-'}".encode())
        for c in chunks:
            h.update(repr(c).encode())
        return h.hexdigest()

    def get(self, chunks: Sequence[StoredChunk], embedder: Embedder | None) -> DocIndex:
        key = self.key(chunks, embedder)
        with self._lock:
            index = self._items.get(key)
            if index is not None:
                self._items.move_to_end(key)
                return index
        index = DocIndex(chunks, embedder)
        with self._lock:
            self.builds += 1
            self._items[key] = index
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return index
