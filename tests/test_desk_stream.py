"""Live delivery over SSE against a real uvicorn server: the customer's stream receives an
agent's message as it is posted, replays from ``after``, and learns of appends made by another
process (a second service on the same database) through the poll fallback; the agents' desk
stream shows inbox changes and the held conversation's customer messages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kefu.domain.conversation import AGENT_MESSAGE
from kefu.service import Service, build_service

TIMEOUT = httpx.Timeout(20.0)


class Sse:
    """Reads one SSE response event by event (each read waits at most the client timeout)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()

    def next(self) -> tuple[str, Any]:
        """The next event (name, decoded data); comments are skipped."""
        name, data = "message", []
        for line in self.lines:
            if line.startswith(":"):
                if line.strip() == ": connected":
                    return "connected", None
                continue
            if not line:
                if data:
                    return name, json.loads("\n".join(data))
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        raise AssertionError("the stream ended")

    def until(self, name: str, want: Any = lambda d: True) -> Any:
        for _ in range(200):
            got, data = self.next()
            if got == name and want(data):
                return data
        raise AssertionError(f"no {name} event came")


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=TIMEOUT) as client:
        yield client


def _auth(svc: Service, role: str = "agent", name: str = "alice") -> dict[str, str]:
    _id, secret = svc.access.create_api_key("demo", role, name)
    return {"Authorization": f"Bearer {secret}"}


def _handed_off(http: httpx.Client) -> tuple[str, int]:
    conv = http.post("/v1/conversations", json={"tenant": "demo", "language": "zh"}).json()["id"]
    turn = http.post(f"/v1/conversations/{conv}/messages", json={"text": "转人工"}).json()
    assert turn["decision"] == "handoff"
    return conv, int(turn["seq"])


def test_an_agent_message_reaches_a_waiting_stream(
    http: httpx.Client, demo_service: Service
) -> None:
    agent = _auth(demo_service)
    conv, seq = _handed_off(http)
    assert http.post(f"/v1/conversations/{conv}/take", headers=agent).status_code == 200
    with http.stream("GET", f"/v1/conversations/{conv}/stream", params={"after": seq}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        sse = Sse(r)
        assert sse.next() == ("connected", None)
        # what happened after `after` comes first: the request's event and the take
        requested = sse.until("message")
        assert requested["type"] == "handoff_requested" and requested["seq"] == seq + 1
        taken = sse.until("message", lambda d: d["type"] == "handoff_taken")
        assert taken["text"] == "人工客服 key:alice 为您服务。"
        # then live: the stream is waiting when the agent posts
        posted = http.post(
            f"/v1/conversations/{conv}/agent-messages", json={"text": "您好，在的"}, headers=agent
        )
        assert posted.status_code == 201
        got = sse.until("message", lambda d: d["type"] == AGENT_MESSAGE)
        assert got["text"] == "您好，在的" and got["payload"] == {"agent": "key:alice"}
        assert got["seq"] == posted.json()["seq"]


def test_the_stream_replays_from_after_and_sees_other_processes_appends(
    http: httpx.Client, demo_service: Service
) -> None:
    conv = http.post("/v1/conversations", json={"tenant": "demo"}).json()["id"]
    # another worker process: its own service (and live hub) on the same database
    other = build_service(demo_service.config, embedder=None)
    try:
        with http.stream("GET", f"/v1/conversations/{conv}/stream", params={"after": 0}) as r:
            sse = Sse(r)
            assert sse.next() == ("connected", None)
            started = sse.until("message")
            welcome = sse.until("message")
            assert (started["seq"], started["type"]) == (1, "conversation_started")
            assert (welcome["seq"], welcome["type"]) == (2, "bot_reply")
            other.conversations.append(conv, [(AGENT_MESSAGE, "agent", "另一个进程", {})])
            got = sse.until("message")
            assert (got["seq"], got["text"]) == (3, "另一个进程")
    finally:
        other.close()
    assert http.get("/v1/conversations/nope/stream").status_code == 404


def test_the_desk_stream_shows_the_inbox_and_held_conversations(
    http: httpx.Client, demo_service: Service
) -> None:
    agent = _auth(demo_service)
    demo_service.tenants.create("other", {"level": "L1"})
    _sid, stranger = demo_service.access.create_api_key("other", "admin", "mallory")
    r = http.get(
        "/v1/desk/stream",
        params={"tenant": "demo"},
        headers={"Authorization": f"Bearer {stranger}"},
    )
    assert r.status_code == 403
    with http.stream("GET", "/v1/desk/stream", params={"tenant": "demo"}, headers=agent) as r:
        assert r.status_code == 200
        sse = Sse(r)
        assert sse.next() == ("connected", None)
        assert sse.until("inbox") == {"items": []}
        conv, _ = _handed_off(http)
        inbox = sse.until("inbox", lambda d: len(d["items"]) == 1)
        assert inbox["items"][0]["conversation_id"] == conv
        assert inbox["items"][0]["status"] == "waiting"
        http.post(f"/v1/conversations/{conv}/take", headers=agent)
        inbox = sse.until("inbox", lambda d: d["items"][0]["status"] == "active")
        assert inbox["items"][0]["taken_by"] == "key:alice"
        http.post(f"/v1/conversations/{conv}/messages", json={"text": "我的快递到哪了"})
        message = sse.until("message")
        assert message["conversation_id"] == conv
        assert message["event"]["type"] == "customer_message"
        assert message["event"]["text"] == "我的快递到哪了"
