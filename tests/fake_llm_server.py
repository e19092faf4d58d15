"""A fake OpenAI-compatible LLM server for tests: real HTTP on 127.0.0.1, scripted replies.

    def test_something(fake_llm: FakeLlmServer) -> None:
        fake_llm.reply_json({"intent": "refund"})          # JSON-schema form
        fake_llm.reply_tool_call("start_flow", {"flow": "return_items"})
        fake_llm.reply_error(429, retry_after=1)
        hang = fake_llm.reply_hang()                         # answers only when hang.set()
        provider = OpenAICompatProvider(OpenAICompatConfig(fake_llm.base_url, "m"))

Replies are served in order, each once; with none left the server answers ``default_text``.
A reply is sent as SSE when the request asks for ``"stream": true``. Every request body is
recorded (``requests``); values registered with :meth:`FakeLlmServer.register_pii` must never
appear in any of them: the ``fake_llm`` fixture checks that after each test, and the session
ledger once more at the end of the session.

A test module gets the fixtures with ``pytest_plugins = ["tests.fake_llm_server"]``.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

# How long a hanging reply waits at most for its event (a safety net, never reached in a
# passing test: teardown releases every hang).
_HANG_LIMIT_S = 30.0


@dataclass
class Reply:
    kind: str  # text, json, tool, error, garbage, hang, stream_garbage, stream_cut
    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    usage: tuple[int, int] = (12, 5)
    chunks: list[str] | None = None  # how streamed text is split; default: per 4 characters
    model: str | None = None
    release: threading.Event | None = None
    then: Reply | None = None  # what a hang answers once released


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names in lower case
    raw: bytes
    body: Any  # parsed JSON, or None when the body was not JSON


class FakeLlmServer:
    def __init__(self, default_text: str = "ok") -> None:
        self.default_text = default_text
        self.requests: list[Received] = []
        self._script: deque[Reply] = deque()
        self._responder: Callable[[Any], str] | None = None
        self._pii: set[str] = set()
        self._hangs: list[threading.Event] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeLlmServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        for event in self._hangs:
            event.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    # -- scripting -------------------------------------------------------------------------

    def _push(self, reply: Reply) -> Reply:
        with self._lock:
            self._script.append(reply)
        return reply

    def reply_text(
        self, text: str, *, usage: tuple[int, int] = (12, 5), chunks: list[str] | None = None
    ) -> None:
        self._push(Reply("text", text=text, usage=usage, chunks=chunks))

    def reply_json(self, value: Any, *, usage: tuple[int, int] = (12, 5)) -> None:
        self._push(Reply("text", text=json.dumps(value, ensure_ascii=False), usage=usage))

    def reply_tool_call(
        self, name: str, arguments: dict[str, Any], *, usage: tuple[int, int] = (12, 5)
    ) -> None:
        self._push(Reply("tool", tool_calls=[(name, arguments)], usage=usage))

    def reply_error(
        self, status: int, *, retry_after: float | None = None, message: str = "scripted"
    ) -> None:
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        body = json.dumps({"error": {"message": message, "type": "scripted", "code": status}})
        self._push(Reply("error", status=status, body=body.encode(), headers=headers))

    def reply_garbage(
        self, body: bytes = b"<html>not json", *, content_type: str = "application/json"
    ) -> None:
        self._push(Reply("garbage", body=body, headers={"Content-Type": content_type}))

    def reply_stream_garbage(self) -> None:
        """An SSE stream whose second event is not JSON."""
        self._push(Reply("stream_garbage"))

    def reply_stream_cut(self, text: str) -> None:
        """An SSE stream that sends part of ``text`` and then drops the connection."""
        self._push(Reply("stream_cut", text=text))

    def reply_hang(self, then: Reply | None = None) -> threading.Event:
        """A reply held back until the returned event is set (after the client gave up)."""
        event = threading.Event()
        self._hangs.append(event)
        self._push(Reply("hang", release=event, then=then or Reply("text", text="late")))
        return event

    def respond_with(self, responder: Callable[[Any], str] | None) -> None:
        """Once the script is used up, answer each request with ``responder(request body)``
        (a model that reacts to what it is sent, e.g. an adversarial one); ``None`` goes back
        to ``default_text``."""
        with self._lock:
            self._responder = responder

    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def _next(self, body: Any = None) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
            responder = self._responder
        if responder is not None:
            return Reply("text", text=responder(body))
        return Reply("text", text=self.default_text)

    # -- PII checks ------------------------------------------------------------------------

    def register_pii(self, *values: str) -> None:
        """Values that must never reach the provider (phones, e-mails, ids, names ...)."""
        self._pii.update(v for v in values if v)

    def leaks(self) -> list[str]:
        """``"request N: value"`` for every registered value found in a request body."""
        found: list[str] = []
        for i, received in enumerate(self.requests):
            for value in sorted(self._pii):
                if contains_value(received.raw, value):
                    found.append(f"request {i}: {value}")
        return found

    def assert_no_pii(self) -> None:
        leaks = self.leaks()
        assert not leaks, f"unmasked PII reached the fake LLM: {leaks}"

    def message_texts(self, index: int = -1) -> list[str]:
        """The ``content`` of every message of one recorded request."""
        body = self.requests[index].body
        return [str(m.get("content") or "") for m in body["messages"]]


_DIGIT_RUN = re.compile(r"\d[\d\s\-().+]*\d")


def contains_value(raw: bytes, value: str) -> bool:
    """Whether ``value`` appears in a request body: literally (case-insensitive, JSON escapes
    undone), or for digit values, as the same digits with any separators."""
    text = raw.decode("utf-8", errors="replace")
    try:
        decoded = json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        decoded = text
    haystacks = (text.lower(), decoded.lower())
    if any(value.lower() in h for h in haystacks):
        return True
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return False
    cores = {digits}
    if digits.startswith("86") and len(digits) > 11:
        cores.add(digits[2:])
    for run in _DIGIT_RUN.findall(decoded):
        run_digits = re.sub(r"\D", "", run)
        if any(core in run_digits for core in cores):
            return True
    return False


# -- HTTP ------------------------------------------------------------------------------------


def _completion(reply: Reply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    finish = "stop"
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i + 1}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)},
            }
            for i, (name, args) in enumerate(reply.tool_calls)
        ]
        finish = "tool_calls"
    prompt, completion = reply.usage
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": reply.model or model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def _chunk(model: str, delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": choices,
    }


def _stream_events(reply: Reply, model: str, include_usage: bool) -> Iterator[dict[str, Any]]:
    model = reply.model or model
    yield _chunk(model, {"role": "assistant", "content": ""})
    pieces = reply.chunks or [reply.text[i : i + 4] for i in range(0, len(reply.text), 4)]
    for piece in pieces:
        yield _chunk(model, {"content": piece})
    for i, (name, args) in enumerate(reply.tool_calls):
        arguments = json.dumps(args, ensure_ascii=False)
        half = len(arguments) // 2
        yield _chunk(
            model,
            {
                "tool_calls": [
                    {
                        "index": i,
                        "id": f"call_{i + 1}",
                        "type": "function",
                        "function": {"name": name, "arguments": arguments[:half]},
                    }
                ]
            },
        )
        yield _chunk(
            model, {"tool_calls": [{"index": i, "function": {"arguments": arguments[half:]}}]}
        )
    yield _chunk(model, {}, "tool_calls" if reply.tool_calls else "stop")
    if include_usage:
        prompt, completion = reply.usage
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        yield {**_chunk(model, None), "usage": usage}


def _handler_for(server: FakeLlmServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            with server._lock:
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append(Received(self.path, headers, raw, body))
            if not self.path.rstrip("/").endswith("/chat/completions") or not isinstance(
                body, dict
            ):
                self._send(404, b'{"error": {"message": "not found"}}')
                return
            reply = server._next(body)
            if reply.kind == "hang":
                assert reply.release is not None and reply.then is not None
                reply.release.wait(_HANG_LIMIT_S)
                reply = reply.then
            # A client that gave up (a timeout test) has closed the connection.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(reply, body)

        def _answer(self, reply: Reply, body: dict[str, Any]) -> None:
            model = str(body.get("model") or "fake-model")
            if reply.kind == "error":
                self._send(reply.status, reply.body, reply.headers)
                return
            if reply.kind == "garbage":
                self._send(200, reply.body, reply.headers)
                return
            if body.get("stream"):
                include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
                self._stream(reply, model, include_usage)
                return
            self._send(200, json.dumps(_completion(reply, model), ensure_ascii=False).encode())

        def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            headers = {"Content-Type": "application/json", **(headers or {})}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _stream(self, reply: Reply, model: str, include_usage: bool) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()

            def event(data: str) -> None:
                self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()

            if reply.kind == "stream_garbage":
                event(json.dumps(_chunk(model, {"role": "assistant", "content": "he"})))
                event("{this is not json")
                event("[DONE]")
                return
            if reply.kind == "stream_cut":
                event(json.dumps(_chunk(model, {"content": reply.text[: len(reply.text) // 2]})))
                self.wfile.write(b'data: {"id": "chatcmpl-fa')
                self.wfile.flush()
                self.close_connection = True
                return
            for data in _stream_events(reply, model, include_usage):
                event(json.dumps(data, ensure_ascii=False))
            event("[DONE]")

    return Handler


# -- fixtures --------------------------------------------------------------------------------


class PiiLedger:
    """Every fake server of the session, checked once more when the session ends."""

    def __init__(self) -> None:
        self.servers: list[FakeLlmServer] = []

    def leaks(self) -> list[str]:
        return [leak for server in self.servers for leak in server.leaks()]

    def request_count(self) -> int:
        return sum(len(s.requests) for s in self.servers)


@pytest.fixture(scope="session")
def llm_pii_ledger() -> Iterator[PiiLedger]:
    ledger = PiiLedger()
    yield ledger
    leaks = ledger.leaks()
    assert not leaks, f"unmasked PII reached a fake LLM during the session: {leaks}"


@pytest.fixture
def fake_llm(llm_pii_ledger: PiiLedger) -> Iterator[FakeLlmServer]:
    server = FakeLlmServer().start()
    llm_pii_ledger.servers.append(server)
    try:
        yield server
    finally:
        server.stop()
    server.assert_no_pii()
