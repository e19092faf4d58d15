"""Intent classification for the L1 FAQ engine and for public intent benchmarks.

:class:`IntentModel` maps a raw text to one of the labels it was trained on (FAQ ids, or
benchmark intents), with calibrated probabilities and an out-of-scope (novelty) score.

Design (two modes, picked in :meth:`IntentModel.fit` from the label count):

* **linear** (up to ``max_linear_labels`` labels): two multinomial logistic regressions,
  one on lexical TF-IDF features (word uni/bigrams -- jieba words and character bigrams for
  Chinese -- plus ``char_wb`` 2-5-grams, on :func:`normalise`\\ d text) and one on the
  embedder's unit vectors. Their probabilities are combined by a weighted geometric mean and
  renormalised; the two views make different mistakes, so the ensemble beats either alone.
  With few texts and many more features (up to ``max_kernel_samples`` texts, e.g. the FAQ
  engine: 3,143 questions, 80k n-grams, 163 labels) the lexical LR is solved over the
  Cholesky factor of the Gram matrix instead of the n-gram columns -- the same problem rotated,
  so the same solution, in ~3 s instead of ~40 s (see :meth:`IntentModel._fit_lexical`).
* **prototype** (more labels, e.g. 10,000 FAQ ids x 4 questions): no learned weights at all.
  A label's score is the mean of the best cosine between the query and that label's examples
  and the cosine to the label's centroid (embedding and TF-IDF cosines averaged);
  probabilities are a temperature softmax over label scores. Memory is the training rows
  alone: float32 TF-IDF rows (a compact vectoriser, see :class:`_CompactTfidf`) and the
  caller's embedding matrix itself (not copied: the FAQ index shares it), the centroid cosines
  being derived from the example cosines; time is two matrix products per query (one when the
  caller passes the embedding cosines). It needs no scikit-learn at prediction time.

Out of scope: three novelty features -- log of the best in-scope probability, the probability of
the ``oos_label`` class (when there are out-of-scope training examples) and the mean cosine to
the ``n_neighbours`` nearest in-scope training examples. With out-of-scope training examples,
``fit`` computes the features out-of-fold (``cv_folds`` folds over the training set), fits a
class-balanced logistic regression on them (the ``oos_score``) and picks the decision
threshold on those folds: the highest one (fewest in-scope texts handed off) whose out-of-scope
recall is at least ``target_oos_recall`` (0.88, chosen on CLINC150 val: out-of-fold recall
over-estimates recall on unseen out-of-scope texts, 0.88 out-of-fold gave 0.87 on val with
in-scope accuracy 0.955), or, with ``target_oos_recall=None``, the one maximising in-scope
accuracy + ``oos_weight`` x out-of-scope recall. Without them,
``oos_score = max(1 - p_best, novelty)`` where ``novelty`` rises from 0 to 1 as the neighbour
cosine falls below the 5th percentile of what in-scope training texts get from each other,
and the threshold is ``default_threshold``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import math
import re
import warnings
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from kefu.errors import InvalidInputError
from kefu.knowledge.embedder import Embedder
from kefu.understanding import tfidf
from kefu.understanding.normalise import normalise
from kefu.understanding.synonyms import synonym_tokens
from kefu.understanding.tokenise import tokens

# scikit-learn and scipy.linalg are imported where linear mode and the out-of-scope detector use
# them: a prototype-mode model (large knowledge bases) predicts with numpy and scipy.sparse
# alone, so a server that only loads one never pays for scikit-learn (~70 MB resident).
if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

FloatArray = npt.NDArray[np.float64]
Vectors = npt.NDArray[np.float32]

_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[^\s\u3400-\u4dbf\u4e00-\u9fff]+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_EPS = 1e-12
_CHUNK = 128
_SMALL_BATCH = 16
_JITTER = 1e-6  # added to the Gram diagonal (rows are unit vectors)
_FEATURE_CHUNK = 1 << 18  # feature occurrences per step of the compact TF-IDF fit


@functools.lru_cache(maxsize=1)
def _blas() -> Any:
    """The BLAS thread pools (threadpoolctl, a scikit-learn dependency), looked up once."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


def _single_thread_blas() -> contextlib.AbstractContextManager[Any]:
    try:
        return _blas().limit(limits=1)  # type: ignore[no-any-return]
    except Exception:  # pragma: no cover - threadpoolctl missing or unusable
        return contextlib.nullcontext()


def _vectorise(vectorizer: TfidfVectorizer | _CompactTfidf, texts: Sequence[str]) -> sp.spmatrix:
    """A fitted vectorizer's rows for ``texts`` (scikit-learn's through the direct path)."""
    if isinstance(vectorizer, _CompactTfidf):
        return vectorizer.transform(texts)
    return tfidf.transform(vectorizer, texts)


def _few_texts_context(n: int) -> contextlib.AbstractContextManager[Any]:
    """Single-threaded BLAS for small batches: waking BLAS threads for a 1 x 384 x n product
    costs milliseconds on a busy 2-core machine, the product itself ~0.1 ms."""
    if n > _SMALL_BATCH:
        return contextlib.nullcontext()
    return _single_thread_blas()


def _gram_factor(x: sp.csr_matrix) -> npt.NDArray[np.float64] | None:
    """Lower-triangular ``L`` with ``L @ L.T = x @ x.T + jitter``, or None if not positive."""
    import scipy.linalg

    gram = np.asarray((x @ x.T).toarray(), dtype=np.float64)
    gram[np.diag_indices_from(gram)] += _JITTER
    try:
        factor = scipy.linalg.cholesky(gram, lower=True, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:  # pragma: no cover - needs a numerically singular Gram matrix
        return None
    return np.asarray(factor, dtype=np.float64)


_WHITE_SPACES = re.compile(r"\s\s+")


def char_wb_features(text: str, min_n: int = 2, max_n: int = 5) -> list[str]:
    """scikit-learn's ``char_wb`` analyzer (lower-cased): character n-grams inside words, each
    word padded with one space either side; a word shorter than n counts once, whole."""
    out: list[str] = []
    append = out.append
    for w in _WHITE_SPACES.sub(" ", text.lower()).split():
        w = " " + w + " "
        w_len = len(w)
        for n in range(min_n, max_n + 1):
            offset = 0
            append(w[offset : offset + n])
            while offset + n < w_len:
                offset += 1
                append(w[offset : offset + n])
            if offset == 0:
                break
    return out


def _feature_hashes(features: Sequence[str]) -> npt.NDArray[np.uint64]:
    """Stable 64-bit hashes (the same in every process, unlike ``hash``)."""
    blake = hashlib.blake2b
    raw = b"".join([blake(f.encode(), digest_size=8).digest() for f in features])
    return np.frombuffer(raw, dtype=np.uint64)


class _CompactTfidf:
    """TF-IDF as ``TfidfVectorizer(analyzer, sublinear_tf=True)`` computes it (tf = 1 + log
    count, idf = ln((1 + n) / (1 + df)) + 1, L2-normalised rows; unseen features ignored), for
    prototype mode.

    The vocabulary is the sorted 64-bit hashes of the training features (8 bytes a feature
    instead of a ~100-byte dictionary entry; a collision needs billions of features) and
    nothing here needs scikit-learn. Rows are float32.
    """

    def __init__(self, analyzer: Callable[[str], list[str]]) -> None:
        self.analyzer = analyzer
        self.hashes: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)
        self.idf: Vectors = np.zeros(0, dtype=np.float32)

    def _features(
        self, texts: Sequence[str]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64], npt.NDArray[np.float32]]:
        """Per text, its distinct features: how many (per text), their hashes and their counts
        (flat arrays, text after text). Building the matrix from these needs one sort."""
        raw = bytearray()
        counts = array("f")
        lengths = np.zeros(len(texts), dtype=np.int64)
        blake = hashlib.blake2b
        for i, text in enumerate(texts):
            features = Counter(self.analyzer(text))
            lengths[i] = len(features)
            raw += b"".join([blake(f.encode(), digest_size=8).digest() for f in features])
            counts.extend(features.values())
        return lengths, np.frombuffer(raw, dtype=np.uint64), np.frombuffer(counts, np.float32)

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        lengths, hashes, counts = self._features(texts)
        if not len(hashes):
            raise ValueError("empty vocabulary")
        # Chunk by chunk, so the temporaries are a chunk's, not every occurrence's (a 10k-FAQ
        # index has ~2M character n-gram occurrences).
        vocab = np.zeros(0, dtype=np.uint64)
        for i in range(0, len(hashes), _FEATURE_CHUNK):
            vocab = np.union1d(vocab, hashes[i : i + _FEATURE_CHUNK])
        self.hashes = vocab
        cols = np.empty(len(hashes), dtype=np.int32)
        for i in range(0, len(hashes), _FEATURE_CHUNK):
            cols[i : i + _FEATURE_CHUNK] = np.searchsorted(vocab, hashes[i : i + _FEATURE_CHUNK])
        del hashes
        tf = self._matrix(lengths, cols, counts)
        df = np.bincount(tf.indices, minlength=len(vocab))
        self.idf = (np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0).astype(np.float32)
        return self._weigh(tf)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        lengths, hashes, counts = self._features(texts)
        pos = np.minimum(np.searchsorted(self.hashes, hashes), max(len(self.hashes) - 1, 0))
        known = self.hashes[pos] == hashes if len(self.hashes) else np.zeros(len(hashes), bool)
        if not known.all():  # unseen features are dropped
            rows = np.repeat(np.arange(len(texts)), lengths)
            lengths = np.bincount(rows[known], minlength=len(texts))
            pos, counts = pos[known], counts[known]
        return self._weigh(self._matrix(lengths, pos.astype(np.int32), counts))

    def _matrix(
        self,
        lengths: npt.NDArray[np.integer[Any]],
        cols: npt.NDArray[np.int32],
        counts: npt.NDArray[np.float32],
    ) -> sp.csr_matrix:
        """Counts as a float32 CSR matrix (no copies of ``cols`` and ``counts``)."""
        index = np.int32 if len(cols) < 2**31 else np.int64
        indptr = np.zeros(len(lengths) + 1, dtype=index)
        np.cumsum(lengths, out=indptr[1:])
        tf = sp.csr_matrix(
            (counts, cols.astype(index, copy=False), indptr),
            shape=(len(lengths), len(self.hashes)),
            copy=False,
        )
        tf.sort_indices()
        return tf

    def _weigh(self, tf: sp.csr_matrix) -> sp.csr_matrix:
        """Counts -> L2-normalised (1 + log tf) x idf, in place."""
        data = tf.data
        np.log(data, out=data)
        data += 1.0
        data *= self.idf[tf.indices]
        lengths = np.diff(tf.indptr)
        norms = np.zeros(tf.shape[0], dtype=np.float32)
        filled = lengths > 0
        if filled.any():
            norms[filled] = np.sqrt(np.add.reduceat(data * data, tf.indptr[:-1][filled]))
        norms[norms == 0] = 1.0
        data /= np.repeat(norms, lengths)
        return tf


def word_features(normalised: str) -> list[str]:
    """Word unigrams and bigrams of a normalised text.

    Chinese runs become jieba words plus character bigrams (``tokens``); other runs stay whole
    words (no stopword removal: "what"/"how"/"when" separate intents).
    """
    words: list[str] = []
    for run in _RUNS.findall(normalised):
        if _HAN.match(run):
            words.extend(tokens(run))
        else:
            words.append(run)
    plain = [w for w in words if not w.startswith("_")]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(plain)]


def word_features_with_synonyms(normalised: str) -> list[str]:
    """:func:`word_features` plus the customer-service synonym groups of the text
    (:mod:`kefu.understanding.synonyms`), for the FAQ engine."""
    return word_features(normalised) + synonym_tokens(normalised)


class _KernelLogistic:
    """A multinomial LR fitted in the kernel space, kept in that form for prediction.

    ``decision(x) = x @ X.T @ R + b`` costs one sparse product with the n training rows and an
    ``n x classes`` matrix, instead of a dense ``features x classes`` weight matrix (80,000 x 163
    float64 = 104 MB for the demo FAQ, and ~7 ms per query to multiply).
    """

    def __init__(
        self,
        train_t: sp.csr_matrix,
        rotated: npt.NDArray[np.float64],
        intercept: npt.NDArray[np.float64],
        classes: npt.NDArray[Any],
    ) -> None:
        self.train_t = train_t  # d x n
        self.rotated = rotated  # n x k (k = 1 for two classes)
        self.intercept = intercept
        self.classes_ = classes

    def predict_proba(self, x: sp.csr_matrix) -> FloatArray:
        z = np.asarray((x @ self.train_t) @ self.rotated, dtype=np.float64) + self.intercept
        if z.shape[1] == 1:  # binary: sklearn keeps one row of weights
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1.0 - p1, p1])
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


@dataclass(frozen=True)
class IntentPrediction:
    """Top-k labels (best first), their probabilities, and a 0..1 out-of-scope score."""

    labels: tuple[str, ...]
    scores: tuple[float, ...]
    oos_score: float


@dataclass
class _Heads:
    """Everything one fitted classifier needs at prediction time (one per CV fold + final)."""

    classes: npt.NDArray[np.str_]
    word: TfidfVectorizer | _CompactTfidf
    char: TfidfVectorizer | _CompactTfidf
    lexical: LogisticRegression | _KernelLogistic | None  # linear mode
    dense: LogisticRegression | MLPClassifier | None  # linear mode with an embedder
    dense_mean: FloatArray | None  # standardisation of the embeddings for ``dense``
    dense_scale: FloatArray | None
    classes_list: tuple[str, ...]
    # Prototype mode keeps the training rows in their original order (so the embeddings can be
    # the caller's array, shared rather than copied) plus the permutation that sorts them by
    # label; a class centroid's cosine is the sum of the cosines to its rows over the norm of
    # their sum, so no centroid matrix is stored.
    train_lexical: sp.csr_matrix | None  # prototype mode: training rows, float32, TRANSPOSED
    train_dense: Vectors | None  # prototype mode with an embedder (float32 unit rows)
    order: npt.NDArray[np.intp] | None  # prototype mode: rows sorted by label (None: sorted)
    starts: npt.NDArray[np.intp] | None  # prototype mode: first sorted row of each class
    centroid_norm_lexical: Vectors | None  # prototype mode: norm of each class's row sum
    centroid_norm_dense: Vectors | None
    in_scope_mask: npt.NDArray[np.bool_] | None  # prototype mode: in-scope rows (None: all)
    in_scope_dense: Vectors | None  # linear mode: in-scope training vectors (neighbours)
    in_scope_lexical: sp.csr_matrix | None  # linear mode: the same without an embedder, TRANSPOSED
    # (sparse matrices are stored transposed as CSR so that query @ matrix needs no conversion
    # of the whole training matrix on every call)


class IntentModel:
    """Text -> intent label with calibrated probabilities and an out-of-scope score."""

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        oos_label: str | None = None,
        seed: int = 0,
        lexical_c: float = 10.0,
        dense_c: float = 0.3,
        dense_weight: float = 0.5,
        max_linear_labels: int = 400,
        temperature: float = 0.05,
        n_neighbours: int = 5,
        cv_folds: int = 3,
        default_threshold: float = 0.7,
        oos_weight: float = 0.15,
        target_oos_recall: float | None = 0.88,
        max_iter: int = 1000,
        tol: float = 1e-4,
        max_kernel_samples: int = 5000,
        dense_head: str = "lr",
        mlp_hidden: int = 1024,
        mlp_alpha: float = 0.01,
        mlp_epochs: int = 30,
        synonyms: bool = False,
    ) -> None:
        if dense_head not in ("lr", "mlp"):
            raise InvalidInputError("dense_head must be 'lr' or 'mlp'", field="dense_head")
        if not 0.0 <= dense_weight <= 1.0:
            raise InvalidInputError("dense_weight must be within 0..1", field="dense_weight")
        if target_oos_recall is not None and not 0.0 < target_oos_recall <= 1.0:
            raise InvalidInputError(
                "target_oos_recall must be within (0, 1]", field="target_oos_recall"
            )
        if cv_folds < 2:
            raise InvalidInputError("cv_folds must be at least 2", field="cv_folds")
        self.embedder = embedder
        self.oos_label = oos_label
        self.seed = seed
        self.lexical_c = lexical_c
        self.dense_c = dense_c
        self.dense_weight = dense_weight if embedder is not None else 0.0
        self.max_linear_labels = max_linear_labels
        self.temperature = temperature
        self.n_neighbours = n_neighbours
        self.cv_folds = cv_folds
        self.default_threshold = default_threshold
        self.oos_weight = oos_weight
        self.target_oos_recall = target_oos_recall
        self.max_iter = max_iter
        self.tol = tol
        self.max_kernel_samples = max_kernel_samples
        self.dense_head = dense_head
        self.mlp_hidden = mlp_hidden
        self.mlp_alpha = mlp_alpha
        self.mlp_epochs = mlp_epochs
        self.synonyms = synonyms
        self.threshold = default_threshold
        self.mode = "linear"
        self._heads: _Heads | None = None
        self._oos_model: LogisticRegression | None = None
        self._oos_mean = np.zeros(3)
        self._oos_scale = np.ones(3)
        self._novelty_cdf = np.zeros(1)

    # ------------------------------------------------------------------ public API

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label the model can predict (sorted), the out-of-scope label included."""
        heads = self._fitted()
        out = tuple(str(c) for c in heads.classes)
        if self.oos_label is not None and self.oos_label not in out:
            out = (*out, self.oos_label)
        return out

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        embeddings: npt.NDArray[Any] | None = None,
    ) -> IntentModel:
        """Train on raw texts; ``embeddings`` (``embed_queries`` of ``texts``) skips embedding."""
        if len(texts) != len(labels):
            raise InvalidInputError(f"{len(texts)} texts but {len(labels)} labels", field="labels")
        if not texts:
            raise InvalidInputError("no training texts", field="texts")
        y = np.array([str(label) for label in labels])
        classes = np.unique(y)
        in_scope = classes[classes != self.oos_label] if self.oos_label is not None else classes
        if len(classes) < 2 or len(in_scope) < 1:
            raise InvalidInputError("at least two distinct labels are needed", field="labels")
        norm = [normalise(str(t)) for t in texts]
        dense = self._embed(texts, embeddings)
        self.mode = "linear" if len(classes) <= self.max_linear_labels else "prototype"

        is_oos = y == self.oos_label if self.oos_label is not None else np.zeros(len(y), bool)
        self._oos_model = None
        self.threshold = self.default_threshold
        # One BLAS thread: the fit is many mid-sized products, and on a shared 2-core machine
        # waking a second thread costs more than it saves (dense LR: 0.6 s vs 7 s measured).
        with _single_thread_blas():
            if int(is_oos.sum()) >= self.cv_folds and len(in_scope) >= 1:
                self._fit_oos(norm, y, dense, is_oos)
            self._heads = self._train(norm, y, dense)
            if self._oos_model is None:
                self._fit_novelty_cdf(self._heads, norm, y, dense)
        return self

    def predict(
        self,
        texts: Sequence[str],
        top_k: int = 3,
        embeddings: npt.NDArray[Any] | None = None,
        *,
        example_cosines: npt.NDArray[Any] | None = None,
    ) -> list[IntentPrediction]:
        """Top-k labels, probabilities and out-of-scope score per raw text.

        When the model decides a text is out of scope and an ``oos_label`` was given, that label
        comes first (its score is its probability, or the ``oos_score`` when no out-of-scope
        examples were trained on), followed by the best in-scope labels.

        ``example_cosines`` (with ``embeddings``): the cosines between the texts' embeddings and
        the training texts' embeddings, in training order, when the caller has them already
        (the FAQ index computes them for dense retrieval); prototype mode then skips that
        product. Linear mode ignores them.
        """
        heads = self._fitted()
        if top_k < 1:
            raise InvalidInputError("top_k must be at least 1", field="top_k")
        if not texts:
            return []
        norm = [normalise(str(t)) for t in texts]
        dense = self._embed(texts, embeddings) if self.dense_weight > 0 else None
        cosines = None
        if example_cosines is not None and dense is not None and heads.train_dense is not None:
            cosines = np.asarray(example_cosines, dtype=np.float32)
            if cosines.shape != (len(texts), len(heads.train_dense)):
                raise InvalidInputError(
                    f"example_cosines must have shape ({len(texts)}, "
                    f"{len(heads.train_dense)}), got {cosines.shape}",
                    field="example_cosines",
                )
        out: list[IntentPrediction] = []
        with _few_texts_context(len(norm)):
            for start in range(0, len(norm), _CHUNK):
                chunk = norm[start : start + _CHUNK]
                dchunk = dense[start : start + _CHUNK] if dense is not None else None
                cchunk = cosines[start : start + _CHUNK] if cosines is not None else None
                probs, feats = self._score(heads, chunk, dchunk, cchunk)
                oos = self._oos_scores(feats)
                out.extend(self._package(heads, probs, oos, top_k))
        return out

    def decide(self, pred: IntentPrediction) -> str | None:
        """The top label, or None when the text is out of scope."""
        if not pred.labels:
            return None
        if self.oos_label is not None and pred.labels[0] == self.oos_label:
            return None
        if pred.oos_score >= self.threshold:
            return None
        return pred.labels[0]

    # ------------------------------------------------------------------ training

    def _fitted(self) -> _Heads:
        if self._heads is None:
            raise InvalidInputError("the intent model is not fitted yet")
        return self._heads

    def _embed(self, texts: Sequence[str], embeddings: npt.NDArray[Any] | None) -> Vectors | None:
        """Unit float32 rows; the given array itself when it already is one (no copy: the FAQ
        index and the intent model then share one embedding matrix)."""
        if self.embedder is None:
            return None
        if embeddings is None:
            vecs = np.asarray(self.embedder.embed_queries(list(texts)))
        else:
            vecs = np.asarray(embeddings)
            if vecs.ndim != 2 or vecs.shape[0] != len(texts):
                raise InvalidInputError(
                    f"embeddings must have shape ({len(texts)}, dim), got {vecs.shape}",
                    field="embeddings",
                )
        if vecs.dtype == np.float32:
            norms32 = np.linalg.norm(vecs, axis=1)
            if bool(np.all((np.abs(norms32 - 1.0) < 1e-4) | (norms32 == 0))):
                return vecs
        wide = vecs.astype(np.float64)
        norms = np.linalg.norm(wide, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return np.asarray(wide / norms, dtype=np.float32)

    def _vectorisers(
        self,
    ) -> tuple[TfidfVectorizer | _CompactTfidf, TfidfVectorizer | _CompactTfidf]:
        words = word_features_with_synonyms if self.synonyms else word_features
        if self.mode == "prototype":  # the same features, compact and float32 (cosines only)
            return _CompactTfidf(words), _CompactTfidf(char_wb_features)
        from sklearn.feature_extraction.text import TfidfVectorizer

        word = TfidfVectorizer(analyzer=words, sublinear_tf=True, dtype=np.float64)
        char = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1, dtype=np.float64
        )
        return word, char

    def _train(self, norm: Sequence[str], y: npt.NDArray[np.str_], dense: Vectors | None) -> _Heads:
        word, char = self._vectorisers()
        try:
            lex = self._lexical(word.fit_transform(norm), char.fit_transform(norm))
        except ValueError as exc:  # empty vocabulary: nothing but punctuation/emoji
            raise InvalidInputError(
                "the training texts have no words to learn from", field="texts"
            ) from exc
        classes = np.unique(y)
        in_scope = y != self.oos_label if self.oos_label is not None else np.ones(len(y), bool)
        if self.mode == "prototype":
            return self._train_prototype(word, char, lex, y, classes, in_scope, dense)
        from sklearn.exceptions import ConvergenceWarning

        lexical = dense_lr = None
        d_mean = d_scale = None
        with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=1) as pool:
            warnings.simplefilter("ignore", ConvergenceWarning)
            pending = None
            if dense is not None and self.dense_weight > 0:
                # Standardised: raw e5 vectors are anisotropic and converge slowly.
                wide = dense.astype(np.float64)
                d_mean = wide.mean(axis=0)
                d_scale = wide.std(axis=0)
                d_scale[d_scale == 0] = 1.0
                # In a second thread (BLAS releases the GIL): overlaps the lexical fit.
                pending = pool.submit(
                    self._dense_classifier(len(y)).fit,
                    ((wide - d_mean) / d_scale).astype(np.float32),
                    y,
                )
                del wide
            if self.dense_weight < 1.0 or dense is None:
                lexical = self._fit_lexical(lex, y)
            if pending is not None:
                dense_lr = pending.result()
        return _Heads(
            classes=classes,
            classes_list=tuple(str(c) for c in classes),
            word=word,
            char=char,
            lexical=lexical,
            dense=dense_lr,
            dense_mean=d_mean,
            dense_scale=d_scale,
            train_lexical=None,
            train_dense=None,
            order=None,
            starts=None,
            centroid_norm_lexical=None,
            centroid_norm_dense=None,
            in_scope_mask=None,
            in_scope_dense=(
                None if dense is None else dense if bool(in_scope.all()) else dense[in_scope]
            ),
            in_scope_lexical=sp.csr_matrix(lex[in_scope].T),
        )

    def _dense_classifier(self, n_samples: int) -> LogisticRegression | MLPClassifier:
        """The embedding-view classifier: a multinomial LR, or (``dense_head="mlp"``) one hidden
        ReLU layer trained with Adam for a fixed number of epochs (seeded, so refits agree)."""
        if self.dense_head == "mlp":
            from sklearn.neural_network import MLPClassifier

            return MLPClassifier(
                hidden_layer_sizes=(self.mlp_hidden,),
                alpha=self.mlp_alpha,
                max_iter=self.mlp_epochs,
                batch_size=min(128, n_samples),
                random_state=self.seed,
            )
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.dense_c, max_iter=self.max_iter, tol=self.tol)

    @staticmethod
    def _train_prototype(
        word: TfidfVectorizer | _CompactTfidf,
        char: TfidfVectorizer | _CompactTfidf,
        lex: sp.csr_matrix,
        y: npt.NDArray[np.str_],
        classes: npt.NDArray[np.str_],
        in_scope: npt.NDArray[np.bool_],
        dense: Vectors | None,
    ) -> _Heads:
        """Prototype heads: the training rows as they are (float32; ``dense`` not copied), the
        label permutation, and the norm of each class's row sum (for centroid cosines)."""
        order = np.argsort(y, kind="stable").astype(np.intp)
        starts = np.searchsorted(y[order], classes).astype(np.intp)
        member = sp.csr_matrix(
            (
                np.ones(len(y), dtype=np.float32),
                (np.searchsorted(classes, y), np.arange(len(y))),
            ),
            shape=(len(classes), len(y)),
        )
        lex = sp.csr_matrix(lex, dtype=np.float32)
        sums = sp.csr_matrix(member @ lex)
        c_lex = np.sqrt(np.asarray(sums.multiply(sums).sum(axis=1), dtype=np.float64).ravel())
        del sums
        c_dense = None
        if dense is not None:
            c_dense = np.linalg.norm(np.asarray(member @ dense, dtype=np.float64), axis=1)
            c_dense[c_dense == 0] = 1.0  # an all-zero class sum: every cosine is 0 anyway
        c_lex[c_lex == 0] = 1.0
        return _Heads(
            classes=classes,
            classes_list=tuple(str(c) for c in classes),
            word=word,
            char=char,
            lexical=None,
            dense=None,
            dense_mean=None,
            dense_scale=None,
            train_lexical=sp.csr_matrix(lex.T),
            train_dense=dense,
            order=None if bool(np.all(order == np.arange(len(y)))) else order,
            starts=starts,
            centroid_norm_lexical=c_lex.astype(np.float32),
            centroid_norm_dense=None if c_dense is None else c_dense.astype(np.float32),
            in_scope_mask=None if bool(in_scope.all()) else in_scope,
            in_scope_dense=None,
            in_scope_lexical=None,
        )

    def _fit_lexical(
        self, lex: sp.csr_matrix, y: npt.NDArray[np.str_]
    ) -> LogisticRegression | _KernelLogistic:
        """Multinomial LR on the TF-IDF rows, in the primal or (few texts) the kernel space.

        With n texts and d >> n features, the L2-optimal weights lie in the row space of X, so
        with ``X @ X.T = L @ L.T`` (Cholesky) the same problem written over the n x n features
        ``L`` is an orthogonal rotation of it: L-BFGS from zero takes the same steps, reaches the
        same solution, and maps back as ``W = X.T @ L^-T @ B``. It optimises n x classes
        instead of d x classes numbers (FAQ demo: 0.5M instead of 13M, ~10x faster).
        """
        import scipy.linalg
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=self.lexical_c, max_iter=self.max_iter, tol=self.tol)
        n, d = lex.shape
        factor = _gram_factor(lex) if n <= self.max_kernel_samples and d > 2 * n else None
        if factor is None:
            return model.fit(lex, y)
        model.fit(factor.astype(np.float32), y)
        rotated = scipy.linalg.solve_triangular(
            factor, np.asarray(model.coef_, dtype=np.float64).T, lower=True, trans="T"
        )
        return _KernelLogistic(
            sp.csr_matrix(lex.T),
            np.ascontiguousarray(rotated, dtype=np.float64),
            np.asarray(model.intercept_, dtype=np.float64),
            model.classes_,
        )

    @staticmethod
    def _lexical(word: sp.spmatrix, char: sp.spmatrix) -> sp.csr_matrix:
        """``[word | char] / sqrt(2)``: each block is L2-normalised per row, so the row stays
        a unit vector. Concatenated row by row in place of ``sp.hstack``, which goes through
        COO copies (~100 MB of temporaries for a 10k-FAQ training set)."""
        a, b = sp.csr_matrix(word), sp.csr_matrix(char)
        a_len, b_len = np.diff(a.indptr), np.diff(b.indptr)
        dtype = np.result_type(a.dtype, b.dtype)
        data = np.empty(a.nnz + b.nnz, dtype=dtype)
        indices = np.empty(a.nnz + b.nnz, dtype=np.int32)
        # An element of row r moves past the other block's elements of rows < r (word) or <= r
        # (char).
        pos = np.arange(a.nnz, dtype=np.int64) + np.repeat(b.indptr[:-1], a_len)
        data[pos], indices[pos] = a.data, a.indices
        pos = np.arange(b.nnz, dtype=np.int64) + np.repeat(a.indptr[1:], b_len)
        data[pos], indices[pos] = b.data, b.indices + a.shape[1]
        del pos
        data *= 1.0 / math.sqrt(2.0)
        return sp.csr_matrix(
            (data, indices, a.indptr + b.indptr), shape=(a.shape[0], a.shape[1] + b.shape[1])
        )

    def _fit_oos(
        self,
        norm: Sequence[str],
        y: npt.NDArray[np.str_],
        dense: Vectors | None,
        is_oos: npt.NDArray[np.bool_],
    ) -> None:
        """Out-of-fold novelty features -> balanced LR (the oos_score) -> decision threshold."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        feats = np.zeros((len(y), 3))
        pred = np.empty(len(y), dtype=object)
        folds = StratifiedKFold(self.cv_folds, shuffle=True, random_state=self.seed)
        norm_arr = np.array(norm, dtype=object)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # classes smaller than cv_folds
            splits = list(folds.split(norm_arr, y))
        for train_idx, test_idx in splits:
            if len(np.unique(y[train_idx])) < 2:
                continue
            heads = self._train(
                list(norm_arr[train_idx]),
                y[train_idx],
                dense[train_idx] if dense is not None else None,
            )
            probs, f = self._score(
                heads, list(norm_arr[test_idx]), dense[test_idx] if dense is not None else None
            )
            feats[test_idx] = f
            pred[test_idx] = heads.classes[probs.argmax(axis=1)]
        self._oos_mean = feats.mean(axis=0)
        self._oos_scale = feats.std(axis=0)
        self._oos_scale[self._oos_scale == 0] = 1.0
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000)
        model.fit((feats - self._oos_mean) / self._oos_scale, is_oos)
        self._oos_model = model
        scores = model.predict_proba((feats - self._oos_mean) / self._oos_scale)[:, 1]
        self.threshold = self._best_threshold(scores, pred, y, is_oos)

    def _best_threshold(
        self,
        scores: FloatArray,
        pred: npt.NDArray[Any],
        y: npt.NDArray[np.str_],
        is_oos: npt.NDArray[np.bool_],
    ) -> float:
        """The operating point, measured out-of-fold.

        With ``target_oos_recall``: the highest threshold (so the most in-scope texts answered,
        i.e. the best in-scope accuracy) whose out-of-scope recall is still at least the
        target. Otherwise: the threshold maximising in-scope accuracy + ``oos_weight`` x
        out-of-scope recall (a rejected in-scope text costs a hand-off, an accepted
        out-of-scope one a wrong answer).
        """
        correct = (pred == y) & ~is_oos
        pred_oos = pred == self.oos_label
        n_in, n_oos = max(int((~is_oos).sum()), 1), max(int(is_oos.sum()), 1)
        if self.target_oos_recall is not None:
            # Out-of-scope texts not already predicted as the oos class, by score, descending:
            # a threshold at the k-th highest score rejects exactly k of them.
            caught = int((is_oos & pred_oos).sum())
            need = math.ceil(self.target_oos_recall * n_oos - 1e-9) - caught
            rest = np.sort(scores[is_oos & ~pred_oos])[::-1]
            if need <= 0:
                return float(np.nextafter(1.0, 2.0))  # the oos class alone reaches the target
            return float(rest[min(need, len(rest)) - 1])
        best, best_value = self.default_threshold, -1.0
        for th in np.unique(np.quantile(scores, np.linspace(0.0, 1.0, 401))):
            rejected = (scores >= th) | pred_oos
            value = (correct & ~rejected).sum() / n_in + self.oos_weight * (
                (is_oos & rejected).sum() / n_oos
            )
            if value > best_value:
                best, best_value = float(th), float(value)
        return best

    def _fit_novelty_cdf(
        self, heads: _Heads, norm: Sequence[str], y: npt.NDArray[np.str_], dense: Vectors | None
    ) -> None:
        """Neighbour cosines of (a sample of) in-scope training texts, leaving themselves out."""
        rng = np.random.default_rng(self.seed)
        in_scope = np.flatnonzero(y != self.oos_label) if self.oos_label else np.arange(len(y))
        sample = rng.choice(in_scope, size=min(len(in_scope), 1000), replace=False)
        parts = []
        # Chunks of ~1M cosines (a 10k-FAQ index has 40,000 training rows: 26 texts a chunk),
        # so the sorting copies stay a few MB.
        step = max(8, min(_CHUNK, 2**20 // max(len(y), 1)))
        for start in range(0, len(sample), step):
            rows = sample[start : start + step]
            sims: npt.NDArray[Any]
            if dense is not None:
                ref = heads.in_scope_dense
                sims = dense[rows] @ np.asarray(ref if ref is not None else heads.train_dense).T
            else:
                lex = self._lexical(
                    _vectorise(heads.word, [norm[i] for i in rows]),
                    _vectorise(heads.char, [norm[i] for i in rows]),
                )
                ref_lex = (
                    heads.in_scope_lexical
                    if heads.in_scope_lexical is not None
                    else heads.train_lexical
                )
                sims = (lex @ ref_lex).toarray()
            if heads.in_scope_mask is not None:  # prototype mode: every training row above
                sims = sims[:, heads.in_scope_mask]
            parts.append(self._neighbour_cos(sims, leave_one_out=True))
        self._novelty_cdf = np.sort(np.concatenate(parts))

    # ------------------------------------------------------------------ scoring

    def _neighbour_cos(self, sims: npt.NDArray[Any], leave_one_out: bool = False) -> FloatArray:
        k = min(self.n_neighbours + int(leave_one_out), sims.shape[1])
        top = -np.partition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else sims
        top = np.sort(top, axis=1)[:, ::-1]
        if leave_one_out and top.shape[1] > 1:
            top = top[:, 1:]
        return np.asarray(top.mean(axis=1), dtype=np.float64)

    def _score(
        self,
        heads: _Heads,
        norm: Sequence[str],
        dense: Vectors | None,
        cosines: Vectors | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Class probabilities and the three novelty features for normalised texts."""
        lex = self._lexical(_vectorise(heads.word, norm), _vectorise(heads.char, norm))
        if self.mode == "linear":
            log_p = np.zeros((len(norm), len(heads.classes)))
            if heads.lexical is not None:
                w = 1.0 - self.dense_weight if heads.dense is not None else 1.0
                log_p += w * np.log(heads.lexical.predict_proba(lex) + _EPS)
            if heads.dense is not None and dense is not None:
                w = self.dense_weight if heads.lexical is not None else 1.0
                assert heads.dense_mean is not None and heads.dense_scale is not None
                z = (dense - heads.dense_mean) / heads.dense_scale
                log_p += w * np.log(heads.dense.predict_proba(z) + _EPS)
            sims = None
        else:
            scores, sims = self._prototype_scores(heads, lex, dense, cosines)
            log_p = scores / self.temperature
        log_p -= log_p.max(axis=1, keepdims=True)
        probs = np.exp(log_p)
        probs /= probs.sum(axis=1, keepdims=True)

        oos_col = np.flatnonzero(heads.classes == self.oos_label)
        p_oos = probs[:, oos_col[0]] if len(oos_col) else np.zeros(len(norm))
        p_in = np.delete(probs, oos_col, axis=1) if len(oos_col) else probs
        best_in = p_in.max(axis=1) / np.maximum(1.0 - p_oos, _EPS)
        if sims is not None:
            pass  # prototype mode: the example cosines are computed already
        elif dense is not None and heads.in_scope_dense is not None:
            sims = dense @ heads.in_scope_dense.T
        else:
            assert heads.in_scope_lexical is not None
            sims = (lex @ heads.in_scope_lexical).toarray()
        neighbour = self._neighbour_cos(sims)
        feats = np.column_stack([np.log(np.clip(best_in, _EPS, 1.0)), p_oos, neighbour])
        return probs, feats

    def _prototype_scores(
        self,
        heads: _Heads,
        lex: sp.csr_matrix,
        dense: Vectors | None,
        cosines: Vectors | None = None,
    ) -> tuple[FloatArray, npt.NDArray[Any]]:
        """Per label: mean of the best example cosine and the centroid cosine; plus the
        neighbour cosines to in-scope examples (embedding, else TF-IDF) for the novelty score.

        The centroid of a class is its rows' sum over that sum's norm, so its cosine with the
        query is the sum of the query's cosines with the rows over the same norm."""
        assert heads.train_lexical is not None and heads.starts is not None
        assert heads.centroid_norm_lexical is not None
        order, starts = heads.order, heads.starts
        lex_sims = np.asarray((lex.astype(np.float32) @ heads.train_lexical).toarray())
        by_label = lex_sims if order is None else lex_sims[:, order]
        cent = np.add.reduceat(by_label, starts, axis=1) / heads.centroid_norm_lexical
        neighbour = lex_sims
        if dense is not None and heads.train_dense is not None:
            assert heads.centroid_norm_dense is not None
            neighbour = cosines if cosines is not None else dense @ heads.train_dense.T
            dense_by_label = neighbour if order is None else neighbour[:, order]
            dense_cent = np.add.reduceat(dense_by_label, starts, axis=1)
            cent = 0.5 * cent + 0.5 * (dense_cent / heads.centroid_norm_dense)
            by_label = 0.5 * by_label + 0.5 * dense_by_label
        best = np.maximum.reduceat(by_label, starts, axis=1)
        if heads.in_scope_mask is not None:
            neighbour = neighbour[:, heads.in_scope_mask]
        return np.asarray(0.5 * best + 0.5 * cent, dtype=np.float64), neighbour

    def _oos_scores(self, feats: FloatArray) -> FloatArray:
        if self._oos_model is not None:
            z = (feats - self._oos_mean) / self._oos_scale
            return np.asarray(self._oos_model.predict_proba(z)[:, 1], dtype=np.float64)
        best_in = np.exp(feats[:, 0])
        cdf = np.searchsorted(self._novelty_cdf, feats[:, 2]) / max(len(self._novelty_cdf), 1)
        novelty = 1.0 - np.minimum(1.0, cdf / 0.05)
        return np.asarray(np.maximum(1.0 - best_in, novelty), dtype=np.float64)

    def _package(
        self, heads: _Heads, probs: FloatArray, oos: FloatArray, top_k: int
    ) -> list[IntentPrediction]:
        k = min(top_k, probs.shape[1])
        kk = min(k + 1, probs.shape[1])  # one spare in case the oos label moves to the front
        if kk < probs.shape[1]:
            part = np.argpartition(-probs, kk - 1, axis=1)[:, :kk]
        else:
            part = np.tile(np.arange(probs.shape[1]), (len(probs), 1))
        vals = np.take_along_axis(probs, part, axis=1)
        order = np.take_along_axis(part, np.argsort(-vals, axis=1, kind="stable"), axis=1)
        classes = heads.classes_list
        oos_index = classes.index(self.oos_label) if self.oos_label in classes else None
        out = []
        for row, score in zip(range(len(probs)), oos, strict=True):
            idx = [int(i) for i in order[row]]  # the kk best, best first
            top = [(classes[i], float(probs[row, i])) for i in idx[:k]]
            if (
                self.oos_label is not None
                and score >= self.threshold
                and top[0][0] != self.oos_label
            ):
                oos_p = float(probs[row, oos_index]) if oos_index is not None else float(score)
                rest = [(c, p) for c, p in top if c != self.oos_label][: k - 1]
                top = [(self.oos_label, oos_p), *rest]
            out.append(
                IntentPrediction(
                    labels=tuple(c for c, _ in top),
                    scores=tuple(p for _, p in top),
                    oos_score=float(score),
                )
            )
        return out
