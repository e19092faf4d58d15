"""The L1 FAQ index: lexical BM25 + dense embeddings + an intent model, fused into one
calibrated confidence per FAQ.

Each FAQ (all its language versions) is one label; every question and similar question of every
version is a training example for the intent model and a document for BM25 and dense retrieval.
For a query the three signals are computed per FAQ (the best-matching question of that FAQ), and
:mod:`kefu.knowledge.fusion` turns them into a probability that the FAQ answers the query.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import hashlib
import pickle
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt

from kefu.domain.faq import FaqEntry
from kefu.knowledge import faq_rerank
from kefu.knowledge.bm25 import BM25
from kefu.knowledge.embedder import Embedder
from kefu.knowledge.fusion import Fusion, Signals, default_fusion
from kefu.logs import get_logger
from kefu.understanding.normalise import normalise
from kefu.understanding.synonyms import synonym_tokens, synonyms_data
from kefu.understanding.tokenise import tokens

if TYPE_CHECKING:
    from kefu.understanding.intent_model import IntentModel

CANDIDATES_PER_SIGNAL = 8
# Knowledge bases up to this many FAQs build every FAQ's re-ranker vocabulary with the index;
# larger ones build an FAQ's on its first search (most are never a top candidate).
PREBUILT_TERMS = 2000
# Bumped when what an index holds changes (2: one float32 query embedding per question, shared
# with the intent model; float32 BM25 and prototype matrices), so old cache files go unused.
INDEX_FORMAT = 2


@functools.lru_cache(maxsize=1)
def _libc_malloc_trim() -> Any:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_memory() -> None:
    """Return freed heap pages to the operating system.

    Building an index allocates several times its final size in temporaries (token lists,
    TF-IDF and embedding intermediates); glibc keeps freed pages mapped, so without this the
    server's resident memory stays at the build's peak.
    """
    gc.collect()
    trim = _libc_malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the code that shapes an index: any change makes old cache files unused."""
    import kefu.knowledge.bm25
    import kefu.knowledge.faq_rerank
    import kefu.knowledge.faq_rerank_model
    import kefu.knowledge.fusion
    import kefu.understanding.intent_model
    import kefu.understanding.normalise
    import kefu.understanding.synonyms
    import kefu.understanding.tokenise

    h = hashlib.blake2b(digest_size=12)
    h.update(f"format {INDEX_FORMAT}".encode())
    for module in (
        sys.modules[__name__],
        kefu.knowledge.bm25,
        kefu.knowledge.faq_rerank,
        kefu.knowledge.faq_rerank_model,
        kefu.knowledge.fusion,
        kefu.understanding.intent_model,
        kefu.understanding.normalise,
        kefu.understanding.synonyms,
        kefu.understanding.tokenise,
    ):
        h.update(Path(str(module.__file__)).read_bytes())
    h.update(synonyms_data().encode())
    return h.hexdigest()


log = get_logger(__name__)


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
        self.fusion = fusion or default_fusion(embedder is not None)
        self.groups: dict[str, FaqGroup] = {}
        for e in entries:
            if not e.enabled:
                continue
            self.groups.setdefault(e.id, FaqGroup(e.id, {})).versions[e.language] = e
        self.labels: list[str] = list(self.groups)
        label_index = {label: i for i, label in enumerate(self.labels)}
        self._label_index = label_index
        doc_label: list[int] = []
        self._doc_text: list[str] = []
        docs_norm: list[str] = []
        for group in self.groups.values():
            for version in group.versions.values():
                for q in version.all_questions():
                    n = normalise(q)
                    if not n:
                        continue
                    doc_label.append(label_index[group.faq_id])
                    self._doc_text.append(q)
                    docs_norm.append(n)
        self._doc_label_arr = np.array(doc_label, dtype=np.int32)
        self.bm25 = BM25(_Tokenised(docs_norm))
        release_memory()  # each build step's temporaries, before the next step allocates
        # Matching a message to an FAQ question is symmetric (question vs question), which e5
        # handles with the "query: " prefix on both sides: each question is embedded once, as a
        # query, and the same float32 matrix serves dense retrieval and the intent model. Each
        # version's question with its answer is a passage (catches paraphrases the questions
        # miss).
        self._dense: npt.NDArray[np.float32] | None = None
        self._dense_qa: npt.NDArray[np.float32] | None = None
        self._qa_label: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        if embedder is not None and docs_norm:
            self._dense = _float32_rows(embedder.embed_queries(docs_norm))
            qa_texts: list[str] = []
            qa_labels: list[int] = []
            for group in self.groups.values():
                for version in group.versions.values():
                    qa_texts.append(normalise(f"{version.question} {version.answer}"))
                    qa_labels.append(label_index[group.faq_id])
            self._dense_qa = _float32_rows(embedder.embed_passages(qa_texts))
            self._qa_label = np.array(qa_labels, dtype=np.int32)
            release_memory()
        self._doc_runs = _label_runs(self._doc_label_arr)
        self._qa_runs = _label_runs(self._qa_label)
        self._terms: dict[str, faq_rerank.FaqTerms] = {}  # see terms(), PREBUILT_TERMS
        self.intents: IntentModel | None = None
        if len(self.labels) >= 2:
            from kefu.understanding.intent_model import IntentModel  # sklearn: import on use

            self.intents = IntentModel(embedder, synonyms=True).fit(
                docs_norm, [self.labels[i] for i in doc_label], embeddings=self._dense
            )
        del docs_norm, doc_label
        if len(self.labels) <= PREBUILT_TERMS:  # ~2 ms an FAQ, off the hot path
            for label in self.labels:
                self.terms(label)
        release_memory()

    def __len__(self) -> int:
        return len(self.groups)

    def _per_label_max(
        self,
        doc_scores: npt.NDArray[np.floating[Any]],
        doc_labels: npt.NDArray[np.int32] | None = None,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Best score per label (0 for a label without documents) and the document that gave
        it (the last one on a tie)."""
        if doc_labels is None:
            labels, starts = self._doc_label_arr, self._doc_runs
        elif doc_labels is self._qa_label:
            labels, starts = doc_labels, self._qa_runs
        else:
            labels, starts = doc_labels, _label_runs(doc_labels)
        best = np.zeros(len(self.labels))
        best_doc = np.zeros(len(self.labels), dtype=np.int64)
        if not len(labels):
            return best, best_doc
        if starts is None:  # a label's documents are not contiguous: sort instead
            order = np.argsort(doc_scores)  # ascending: later (higher) writes win
            best[labels[order]] = doc_scores[order]
            best_doc[labels[order]] = order
            return best, best_doc
        # Each label is one run of documents: a segmented max, linear time (a sort of 40,000
        # scores costs ~2 ms a signal at 10,000 FAQs).
        seg_best = np.maximum.reduceat(doc_scores, starts)
        hit = doc_scores == np.repeat(seg_best, np.diff(np.r_[starts, len(labels)]))
        positions = np.where(hit, np.arange(len(labels)), -1)
        present = labels[starts]
        best[present] = seg_best
        best_doc[present] = np.maximum.reduceat(positions, starts)
        return best, best_doc

    def signals(self, query: str, now: datetime | None = None) -> list[tuple[str, Signals, str]]:
        """Every plausible active FAQ for the query with its raw signals and best question."""
        if not self.labels:
            return []
        norm = _normalised(query)
        if not norm:
            return []
        qtokens = lexical_tokens(norm)
        lexical, lexical_doc = self._per_label_max(self.bm25.scores(qtokens))
        max_lex = self.bm25.max_score(qtokens) or 1.0
        lexical = np.clip(lexical / max_lex, 0.0, 1.0)

        qvec: npt.NDArray[np.float32] | None = None
        cosines: npt.NDArray[np.float32] | None = None
        dense = np.zeros(len(self.labels))
        dense_qa = np.zeros(len(self.labels))
        dense_doc = lexical_doc
        if self.embedder is not None and self._dense is not None and self._dense_qa is not None:
            qvec = self.embedder.embed_queries([norm])[0]
            cosines = self._dense @ qvec
            dense, dense_doc = self._per_label_max(cosines)
            dense_qa, _ = self._per_label_max(self._dense_qa @ qvec, self._qa_label)

        intent = np.zeros(len(self.labels))
        oos = 0.5
        if self.intents is not None:
            pred = self.intents.predict(
                [norm],
                top_k=CANDIDATES_PER_SIGNAL,
                embeddings=None if qvec is None else qvec[None, :],
                # the intent model was trained on these same vectors: no second product
                example_cosines=None if cosines is None else cosines[None, :],
            )[0]
            oos = pred.oos_score
            for label, p in zip(pred.labels, pred.scores, strict=True):
                if label in self._label_index:
                    intent[self._label_index[label]] = p
        elif len(self.labels) == 1:
            intent[0] = 1.0

        pool: set[int] = set()
        for arr in (lexical, dense, dense_qa, intent):
            pool.update(np.argsort(-arr)[:CANDIDATES_PER_SIGNAL].tolist())
        dense_margin, answer_margin, lexical_margin = (
            _margins(arr) for arr in (dense, dense_qa, lexical)
        )
        when = now or datetime.now(UTC).replace(tzinfo=None)
        out: list[tuple[str, Signals, str]] = []
        ranked = sorted(pool, key=lambda j: -intent[j])
        first = ranked[0] if ranked else -1
        second = float(intent[ranked[1]]) if len(ranked) > 1 else 0.0
        for i in pool:
            group = self.groups[self.labels[i]]
            if not group.is_active(when):
                continue
            best_other = second if i == first else float(intent[first])
            signals = Signals(
                intent=float(intent[i]),
                dense=float(dense[i]),
                dense_answer=float(dense_qa[i]),
                lexical=float(lexical[i]),
                intent_margin=float(intent[i] - best_other),
                oos=float(oos),
                dense_margin=float(dense_margin[i]),
                answer_margin=float(answer_margin[i]),
                lexical_margin=float(lexical_margin[i]),
            )
            doc = int(dense_doc[i] if qvec is not None else lexical_doc[i])
            out.append((group.faq_id, signals, self._doc_text[doc]))
        return out

    def terms(self, faq_id: str) -> faq_rerank.FaqTerms:
        """The re-ranker's vocabulary of one FAQ (built with the index, or on first use)."""
        found = self._terms.get(faq_id)
        if found is None:
            versions = self.groups[faq_id].versions.values()
            questions = [n for v in versions for q in v.all_questions() if (n := normalise(q))]
            answers = [n for v in versions if (n := normalise(v.answer))]
            found = self._terms[faq_id] = faq_rerank.faq_terms(questions, answers)
        return found

    def search(
        self, query: str, k: int = 3, now: datetime | None = None, *, rerank: bool = True
    ) -> list[Candidate]:
        """Top-``k`` active FAQs: the best ``faq_rerank.TOP`` by calibrated confidence,
        re-ordered by :mod:`kefu.knowledge.faq_rerank` (each keeps its own confidence), then
        the rest by confidence. Without an embedder the fused order stands: the re-ranker was
        fitted on the hybrid signals."""
        scored = [
            Candidate(faq_id, self.fusion.confidence(signals), signals, question)
            for faq_id, signals, question in self.signals(query, now)
        ]
        scored.sort(key=lambda c: -c.confidence)
        if rerank and self.embedder is not None and len(scored) > 1:
            top = scored[: faq_rerank.TOP]
            ranks = faq_rerank.order(
                _normalised(query),
                [c.confidence for c in top],
                [c.signals for c in top],
                [self.terms(c.faq_id) for c in top],
            )
            scored[: len(top)] = [top[i] for i in ranks]
        return scored[:k]


# A search normalises its message twice (signals, the re-ranker): once is enough.
_normalised = functools.lru_cache(maxsize=1024)(normalise)


def _margins(scores: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    """Each label's score minus the best score of any other label."""
    if len(scores) < 2:
        return np.zeros(len(scores))
    top = int(np.argmax(scores))
    first = float(scores[top])
    second = float(np.max(np.delete(scores, top)))
    out = np.asarray(scores, dtype=np.float64) - first
    out[top] = first - second
    return out


def _label_runs(labels: npt.NDArray[np.int32]) -> npt.NDArray[np.intp] | None:
    """Where each label's run of documents starts, or None unless every label is one run."""
    if not len(labels):
        return np.zeros(0, dtype=np.intp)
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    return starts if len(starts) == len(np.unique(labels)) else None


class _Tokenised(Sequence[tuple[str, ...]]):
    """Documents tokenised when read (BM25 reads each once), so no list of every document's
    tokens exists during a build (~90 MB at 10,000 FAQs); and past the ``tokens`` cache, which
    is for the messages of the hot path."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._texts = texts

    def __len__(self) -> int:
        return len(self._texts)

    @overload
    def __getitem__(self, i: int) -> tuple[str, ...]: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[tuple[str, ...]]: ...

    def __getitem__(self, i: int | slice) -> tuple[str, ...] | Sequence[tuple[str, ...]]:
        if isinstance(i, slice):
            return [_lexical_tokens(t, tokens.__wrapped__) for t in self._texts[i]]
        return _lexical_tokens(self._texts[i], tokens.__wrapped__)


def _lexical_tokens(norm: str, tokenise: Any) -> tuple[str, ...]:
    return (*tokenise(norm), *synonym_tokens(norm))


def lexical_tokens(norm: str) -> tuple[str, ...]:
    """BM25 tokens of a normalised text: its words (``tokens``) and synonym groups."""
    return _lexical_tokens(norm, tokens)


def _float32_rows(vectors: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """Embeddings as C-contiguous float32 (no copy when they already are)."""
    return np.ascontiguousarray(vectors, dtype=np.float32)


class _IndexPickler(pickle.Pickler):
    """Pickles an index without its embedder (a live model or HTTP client)."""

    def __init__(self, file: Any, embedder: Embedder | None) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._embedder = embedder

    def persistent_id(self, obj: Any) -> str | None:
        return "embedder" if obj is not None and obj is self._embedder else None


class _IndexUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, embedder: Embedder | None) -> None:
        super().__init__(file)
        self._embedder = embedder

    def persistent_load(self, pid: Any) -> Any:
        if pid != "embedder":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return self._embedder


class FaqIndexCache:
    """Built indexes keyed by the exact knowledge-base content and embedder, shared by every
    tenant (and every service in a process) whose knowledge base is identical.

    With a ``directory`` (the data directory's ``index/``) built indexes are also kept on disk,
    so a restart loads them in a moment instead of re-training. The files are written by kefu
    itself and trusted like the database next to them.
    """

    def __init__(self, size: int = 16, directory: Path | None = None) -> None:
        self._size = size
        self._items: OrderedDict[str, FaqIndex] = OrderedDict()
        self._lock = threading.Lock()
        self._directory = directory
        self.builds = 0  # indexes trained here (not loaded), for stats and tests

    def _load(self, key: str, embedder: Embedder | None) -> FaqIndex | None:
        if self._directory is None:
            return None
        path = self._directory / f"{key}.pkl"
        try:
            with path.open("rb") as f:
                index = _IndexUnpickler(f, embedder).load()
        except FileNotFoundError:
            return None
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            log.warning("ignoring unreadable index cache %s", path)
            return None
        return index if isinstance(index, FaqIndex) else None

    def _store(self, key: str, index: FaqIndex) -> None:
        if self._directory is None:
            return
        try:
            self._directory.mkdir(parents=True, exist_ok=True)
            tmp = self._directory / f".{key}.{threading.get_ident()}.tmp"
            with tmp.open("wb") as f:
                _IndexPickler(f, index.embedder).dump(index)
            tmp.replace(self._directory / f"{key}.pkl")
            keep = sorted(self._directory.glob("*.pkl"), key=lambda p: p.stat().st_mtime)
            for old in keep[: -self._size]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not write index cache: %s", exc)

    @staticmethod
    def key(entries: Sequence[FaqEntry], embedder: Embedder | None) -> str:
        h = hashlib.blake2b(digest_size=20)
        h.update(f"{code_fingerprint()}:{embedder.name if embedder is not None else '-'}".encode())
        for e in sorted(entries, key=lambda e: (e.id, e.language)):
            h.update(repr(e).encode())
        return h.hexdigest()

    def get(self, entries: Sequence[FaqEntry], embedder: Embedder | None) -> FaqIndex:
        key = self.key(entries, embedder)
        with self._lock:
            index = self._items.get(key)
            if index is not None:
                self._items.move_to_end(key)
                return index
        index = self._load(key, embedder)
        if index is None:
            index = FaqIndex(entries, embedder)
            self.builds += 1
            self._store(key, index)
        release_memory()
        with self._lock:
            self._items[key] = index
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return index
