"""A persistent embedding cache (a SQLite file in the data directory).

Embedding a 10k-entry knowledge base takes minutes on two cores; with this cache a restart or a
knowledge-base edit only embeds texts it has not seen. Keyed by embedder name, query/passage and a
hash of the text, so switching models never mixes vectors. New vectors are written in chunks as
they are computed, so an interrupted build keeps its progress.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kefu.knowledge.embedder import Embedder, Vectors, _CachingEmbedder

_CHUNK = 512  # texts per embedding call and per transaction


class PersistentEmbedder:
    """Wraps an :class:`Embedder`; same port, vectors remembered on disk."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL)"
        )
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self.inner.dim

    def _key(self, text: str, is_query: bool) -> bytes:
        h = hashlib.blake2b(digest_size=20)
        h.update(f"{self.name}\x00{int(is_query)}\x00{text}".encode())
        return h.digest()

    def _inner_embed(self, texts: list[str], is_query: bool) -> Vectors:
        if isinstance(self.inner, _CachingEmbedder):  # on disk already: not in memory too
            return self.inner.embed(texts, is_query, remember=False)
        return self.inner.embed_queries(texts) if is_query else self.inner.embed_passages(texts)

    def _embed(self, texts: Sequence[str], is_query: bool) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # One output array filled in place: no per-text arrays, no stacked copy.
        rows: dict[bytes, list[int]] = {}
        for i, t in enumerate(texts):
            rows.setdefault(self._key(t, is_query), []).append(i)
        keys = list(rows)
        out: Vectors | None = None
        found: set[bytes] = set()
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for key, blob in self._db.execute(
                    f"SELECT key, vec FROM vectors WHERE key IN ({marks})", chunk
                ):
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if out is None:
                        out = np.empty((len(texts), len(vec)), dtype=np.float32)
                    out[rows[bytes(key)]] = vec
                    found.add(bytes(key))
        missing = [k for k in keys if k not in found]
        for i in range(0, len(missing), _CHUNK):
            chunk = missing[i : i + _CHUNK]
            fresh = self._inner_embed([texts[rows[k][0]] for k in chunk], is_query)
            fresh = np.asarray(fresh, dtype=np.float32)
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)",
                    [(k, fresh[j].tobytes()) for j, k in enumerate(chunk)],
                )
            if out is None:
                out = np.empty((len(texts), fresh.shape[1]), dtype=np.float32)
            for j, k in enumerate(chunk):
                out[rows[k]] = fresh[j]
        assert out is not None
        return out

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        if len(texts) == 1:  # the per-message hot path: the inner cache is faster than disk
            return self.inner.embed_queries(texts)
        return self._embed(texts, True)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts, False)

    def close(self) -> None:
        self._db.close()
