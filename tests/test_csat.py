"""CSAT: POST /v1/conversations/{id}/csat, once per conversation, and what analytics makes of
ratings given through the real turn path."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from tests.kb_small import small_kb

from kefu.analytics.csat import AlreadyRated, record_csat
from kefu.api.app import create_app
from kefu.config import Config
from kefu.domain.conversation import CSAT
from kefu.service import Service, build_service, utcnow


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def demo_service(config: Config) -> Iterator[Service]:
    """A small FAQ without an embedder (lexical retrieval is enough here, and fast)."""
    service = build_service(config, embedder=None, clock=Clock())
    service.tenants.create("demo", {"level": "L1", "language": "zh"})
    service.faqs.upsert_many("demo", small_kb())
    yield service
    service.close()


@pytest.fixture
def client(demo_service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(demo_service)) as c:
        yield c


def _start(client: TestClient) -> str:
    r = client.post("/v1/conversations", json={"tenant": "demo", "channel": "web"})
    assert r.status_code == 201
    return str(r.json()["id"])


def test_rating_once(client: TestClient, demo_service: Service) -> None:
    cid = _start(client)
    r = client.post(f"/v1/conversations/{cid}/csat", json={"score": 4, "comment": "挺好"})
    assert r.status_code == 201, r.text
    assert r.json()["type"] == CSAT and r.json()["payload"] == {"score": 4, "comment": "挺好"}
    again = client.post(f"/v1/conversations/{cid}/csat", json={"score": 1})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    ratings = [e for e in demo_service.conversations.events(cid) if e.type == CSAT]
    assert len(ratings) == 1 and ratings[0].payload["score"] == 4


def test_bad_ratings(client: TestClient, demo_service: Service) -> None:
    cid = _start(client)
    for body, field in (
        ({"score": 6}, "score"),
        ({"score": 0}, "score"),
        ({"score": "5"}, "score"),
        ({"score": 3, "comment": "x" * 501}, "comment"),
        ({"score": 3, "extra": 1}, "extra"),
    ):
        r = client.post(f"/v1/conversations/{cid}/csat", json=body)
        assert r.status_code == 422, body
        assert r.json()["error"]["field"] == field
    assert not [e for e in demo_service.conversations.events(cid) if e.type == CSAT]
    r = client.post("/v1/conversations/no-such-conversation/csat", json={"score": 5})
    assert r.status_code == 404 and r.json()["error"]["code"] == "conversation_not_found"


def test_concurrent_ratings_store_one(demo_service: Service) -> None:
    conv, _welcome = demo_service.start_conversation("demo", "web", None, "zh")
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def rate(score: int) -> None:
        barrier.wait(timeout=10)
        try:
            record_csat(demo_service.conversations, demo_service.turn_locks, conv.id, score)
            outcomes.append("stored")
        except AlreadyRated:
            outcomes.append("conflict")

    threads = [threading.Thread(target=rate, args=(s,)) for s in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "stored"]
    assert len([e for e in demo_service.conversations.events(conv.id) if e.type == CSAT]) == 1


def test_real_turns_and_rating_in_the_summary(client: TestClient, demo_service: Service) -> None:
    """Two conversations through the real turn path; one rated 2 (so not self-resolved)."""
    first, second = _start(client), _start(client)
    for cid in (first, second):
        r = client.post(f"/v1/conversations/{cid}/messages", json={"text": "运费怎么算"})
        assert r.status_code == 200 and r.json()["decision"] == "answer"
    client.post(f"/v1/conversations/{second}/csat", json={"score": 2})
    # events carry the real time: move the service clock past the idle window
    demo_service.clock.now = utcnow() + timedelta(hours=1)  # type: ignore[attr-defined]
    _key, secret = demo_service.access.create_api_key("demo", "viewer", "dash")
    r = client.get(
        "/v1/analytics/summary",
        params={"tenant": "demo"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    s = r.json()
    assert s["conversations"] == 2 and s["automation_rate"] == 1.0
    assert s["self_resolution_rate"] == 0.5  # the one rated 2 is not resolved
    assert s["csat"] == 2.0 and s["csat_detail"]["share_satisfied"] == 0.0
    assert s["first_response_time_s"] is not None and s["first_response_time_s"] < 60
    intents = client.get(
        "/v1/analytics/intents",
        params={"tenant": "demo"},
        headers={"Authorization": f"Bearer {secret}"},
    ).json()["items"]
    assert intents[0]["turns"] == 2 and intents[0]["conversations"] == 2
