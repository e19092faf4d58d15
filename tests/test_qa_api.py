"""The QA API (authorisation, errors, override) and the `kefu qa` commands."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import Clock
from tests.kb_small import small_kb

from kefu.api.app import create_app
from kefu.config import Config
from kefu.knowledge.faq_index import FaqIndexCache
from kefu.service import Service, build_service, utcnow


@pytest.fixture
def svc(config: Config, clock: Clock, index_cache: FaqIndexCache) -> Iterator[Service]:
    service = build_service(config, embedder=None, clock=clock, index_cache=index_cache)
    service.tenants.create("demo", {"level": "L1", "language": "zh"})
    service.tenants.create("other", {"level": "L1"})
    service.faqs.upsert_many("demo", small_kb())
    yield service
    service.close()


@pytest.fixture
def api(svc: Service) -> Iterator[TestClient]:
    with TestClient(create_app(svc)) as c:
        yield c


def bearer(svc: Service, tenant: str, role: str) -> dict[str, str]:
    _key, secret = svc.access.create_api_key(tenant, role, f"{tenant}-{role}")
    return {"Authorization": f"Bearer {secret}"}


def rude_conversation(svc: Service) -> str:
    conv, _ = svc.start_conversation("demo", channel="test")
    svc.handle_message(conv.id, "运费怎么算")
    svc.conversations.append(
        conv.id,
        [
            ("agent_message", "agent", "爱买不买，我保证给你双倍赔偿。", {"agent": "小王"}),
            ("conversation_closed", "system", None, {"by": "agent:小王", "reason": "x"}),
        ],
    )
    return conv.id


def test_viewers_read_supervisors_run_and_override(
    svc: Service, api: TestClient, clock: Clock
) -> None:
    cid = rude_conversation(svc)
    viewer, supervisor = bearer(svc, "demo", "viewer"), bearer(svc, "demo", "supervisor")
    assert api.get("/v1/qa", params={"tenant": "demo"}).status_code == 401
    r = api.post("/v1/qa/run", params={"tenant": "demo"}, headers=viewer)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert svc.qa.get(cid) is None  # nothing was scored
    r = api.post("/v1/qa/run", params={"tenant": "demo"}, headers=supervisor)
    assert r.status_code == 200 and r.json() == {"scored": 1}

    listed = api.get("/v1/qa", params={"tenant": "demo", "flagged": "true"}, headers=viewer)
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 1 and [i["conversation_id"] for i in body["items"]] == [cid]
    item = body["items"][0]
    assert item["flagged"] and set(item["failed"]) >= {"politeness", "compliance"}
    assert item["dimensions"]["politeness"]["score"] < 60
    unflagged = api.get("/v1/qa", params={"tenant": "demo", "flagged": "false"}, headers=viewer)
    assert unflagged.json() == {"items": [], "total": 0}

    detail = api.get(f"/v1/qa/{cid}", headers=viewer).json()
    politeness = detail["dimensions"]["politeness"]
    assert [r["code"] for r in politeness["reasons"]] == ["forbidden_word"]
    assert politeness["reasons"][0]["zh"] and politeness["reasons"][0]["en"]
    assert [e["type"] for e in detail["events"]][-2:] == ["agent_message", "conversation_closed"]
    assert detail["overrides"] == []

    r = api.post(
        f"/v1/qa/{cid}/override",
        json={"dimension": "compliance", "score": 100, "note": "活动规则允许"},
        headers=viewer,
    )
    assert r.status_code == 403
    r = api.post(
        f"/v1/qa/{cid}/override",
        json={"dimension": "compliance", "score": 100, "note": "活动规则允许"},
        headers=supervisor,
    )
    assert r.status_code == 200
    after = r.json()
    assert after["dimensions"]["compliance"]["score"] == 100
    assert after["dimensions"]["compliance"]["override"]["by"] == "key:demo-supervisor"
    assert "compliance" not in after["failed"] and after["total"] > item["total"]
    history = api.get(f"/v1/qa/{cid}", headers=viewer).json()["overrides"]
    assert [(h["dimension"], h["after"], h["note"]) for h in history] == [
        ("compliance", 100, "活动规则允许")
    ]


def test_errors_and_other_tenants(svc: Service, api: TestClient) -> None:
    cid = rude_conversation(svc)
    stranger = bearer(svc, "other", "supervisor")
    supervisor = bearer(svc, "demo", "supervisor")
    assert api.get(f"/v1/qa/{cid}", headers=stranger).status_code == 403
    r = api.post(f"/v1/qa/{cid}/override", json={"dimension": "pii", "score": 0}, headers=stranger)
    assert r.status_code == 403
    assert api.get("/v1/qa", params={"tenant": "demo"}, headers=stranger).status_code == 403
    assert api.post("/v1/qa/run", params={"tenant": "demo"}, headers=stranger).status_code == 403
    assert svc.qa.get(cid) is None and svc.qa.overrides(cid) == []

    r = api.post(
        f"/v1/qa/{cid}/override", json={"dimension": "speed", "score": 50}, headers=supervisor
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["field"] == "dimension" and "speed" in error["message"]
    assert svc.qa.overrides(cid) == []
    r = api.post(
        f"/v1/qa/{cid}/override", json={"dimension": "pii", "score": 101}, headers=supervisor
    )
    assert r.status_code == 422
    r = api.post(
        f"/v1/qa/{cid}/override",
        json={"dimension": "pii", "score": 1, "extra": 1},
        headers=supervisor,
    )
    assert r.status_code == 422
    assert api.get("/v1/qa/no-such-id", headers=supervisor).status_code == 404
    r = api.post(
        "/v1/qa/no-such-id/override", json={"dimension": "pii", "score": 1}, headers=supervisor
    )
    assert r.status_code == 404
    r = api.get("/v1/qa", params={"tenant": "demo", "dimension": "speed"}, headers=supervisor)
    assert r.status_code == 422 and r.json()["error"]["field"] == "dimension"


def test_the_cli(svc: Service, clock: Clock, kefu: Callable[..., Any]) -> None:
    cid = rude_conversation(svc)
    ok, _ = svc.start_conversation("demo", channel="test")
    svc.handle_message(ok.id, "运费怎么算")
    # the subprocess reads the real clock: its idle conversation must be an hour old
    from sqlalchemy import update

    from kefu.storage.models import EventRow

    with svc.sessions.begin() as s:
        s.execute(
            update(EventRow)
            .where(EventRow.conversation_id == ok.id)
            .values(created_at=utcnow() - timedelta(hours=1))
        )
    assert kefu("qa", "run", "--tenant", "demo").stdout.strip() == "scored 2 conversation(s)"
    listed = json.loads(kefu("qa", "list", "--tenant", "demo", "--flagged", "--json").stdout)
    assert listed["total"] == 1 and listed["items"][0]["conversation_id"] == cid
    shown = kefu("qa", "show", cid).stdout
    assert "FLAGGED" in shown and "Politeness scored 40" in shown
    out = kefu(
        "qa",
        "override",
        cid,
        "--dimension",
        "politeness",
        "--score",
        "80",
        "--by",
        "老张",
        "--note",
        "客户是熟客",
    ).stdout
    assert out.startswith("politeness = 80")
    result = svc.qa.get(cid)
    assert result is not None and result.score_of("politeness") == 80
    assert svc.qa.overrides(cid)[0]["by"] == "老张"
    bad = kefu("qa", "override", cid, "--dimension", "speed", "--score", "1", "--by", "x", ok=False)
    assert bad.returncode == 2 and "unknown dimension 'speed'" in bad.stderr


def test_a_conversation_served_through_the_desk(svc: Service, api: TestClient) -> None:
    """The real turn path and desk routes: handoff, take, agent replies, close, then QA."""
    agent = bearer(svc, "demo", "agent")
    conv, _ = svc.start_conversation("demo", channel="test")
    svc.handle_message(conv.id, "转人工")
    assert api.post(f"/v1/conversations/{conv.id}/take", headers=agent).status_code == 200
    for text in ("您好，我是客服小王，很高兴为您服务。", "这个你自己看吧。"):
        r = api.post(
            f"/v1/conversations/{conv.id}/agent-messages", json={"text": text}, headers=agent
        )
        assert r.status_code == 201, r.text
    assert api.post(f"/v1/conversations/{conv.id}/close", json={}, headers=agent).status_code == 200
    assert svc.qa.is_finished(conv.id)
    assert svc.qa.score_finished("demo") == 1
    result = svc.qa.get(conv.id)
    assert result is not None
    assert result.agents == ["key:demo-agent"]
    assert result.score_of("transfer") == 100 and result.scores["transfer"]["applicable"]
    assert result.score_of("greeting") == 100 and result.score_of("response_time") == 100
    assert [r["code"] for r in result.scores["politeness"]["reasons"]] == ["forbidden_word"]
    assert result.flagged and result.failed == ["politeness"]
