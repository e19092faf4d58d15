"""A persistent embedding cache (a SQLite file in the data directory).

Embedding a 10k-entry knowledge base takes minutes on two cores; with this cache a restart or a
knowledge-base edit only embeds texts it has not seen. Keyed by embedder name, query/passage and a
hash of the text, so switching models never mixes vectors.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kefu.knowledge.embedder import Embedder, Vectors


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

    def _embed(self, texts: Sequence[str], is_query: bool) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys = [self._key(t, is_query) for t in texts]
        found: dict[bytes, Vectors] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                marks = ",".join("?" * len(chunk))
                for key, blob in self._db.execute(
                    f"SELECT key, vec FROM vectors WHERE key IN ({marks})", chunk
                ):
                    found[bytes(key)] = np.frombuffer(blob, dtype=np.float32)
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            todo = [texts[i] for i in missing]
            fresh = self.inner.embed_queries(todo) if is_query else self.inner.embed_passages(todo)
            with self._lock, self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)",
                    [
                        (keys[i], fresh[j].astype(np.float32).tobytes())
                        for j, i in enumerate(missing)
                    ],
                )
            for j, i in enumerate(missing):
                found[keys[i]] = fresh[j]
        return np.stack([found[k] for k in keys]).astype(np.float32)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        if len(texts) == 1:  # the per-message hot path: the inner cache is faster than disk
            return self.inner.embed_queries(texts)
        return self._embed(texts, True)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._embed(texts, False)

    def close(self) -> None:
        self._db.close()
