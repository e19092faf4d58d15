"""The FAQ drafts over HTTP: roles, the tenant boundary, the one error shape."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import Clock
from tests.drafts_scenario import EN_FAMILY, TENANT, ZH_FAMILY, converse, play, setup_tenant

from kefu.api.app import create_app
from kefu.config import Config
from kefu.knowledge.faq_index import FaqIndexCache
from kefu.service import Service, build_service


@pytest.fixture
def svc(config: Config, clock: Clock, index_cache: FaqIndexCache) -> Iterator[Service]:
    service = build_service(config, embedder=None, clock=clock, index_cache=index_cache)
    setup_tenant(service)
    setup_tenant(service, "other")
    play(service)
    play(service, "other")
    yield service
    service.close()


@pytest.fixture
def api(svc: Service) -> Iterator[TestClient]:
    with TestClient(create_app(svc)) as c:
        yield c


def auth(svc: Service, tenant: str, role: str, name: str) -> dict[str, str]:
    _, secret = svc.access.create_api_key(tenant, role, name)
    return {"Authorization": f"Bearer {secret}"}


def drafts_of(api: TestClient, headers: dict[str, str], tenant: str = TENANT) -> dict[str, Any]:
    r = api.get("/v1/drafts", params={"tenant": tenant}, headers=headers)
    assert r.status_code == 200, r.text
    return {d["language"]: d for d in r.json()["items"]}


def test_supervisor_mines_edits_and_approves(api: TestClient, svc: Service) -> None:
    sup = auth(svc, TENANT, "supervisor", "lead")
    r = api.post("/v1/drafts/mine", params={"tenant": TENANT}, headers=sup)
    assert (r.status_code, r.json()) == (200, {"new": 2, "updated": 0})
    en = drafts_of(api, sup)["en"]
    assert {en["question"], *en["similar_questions"]} == set(EN_FAMILY)

    r = api.get(f"/v1/drafts/{en['id']}", headers=sup)
    assert r.status_code == 200 and r.json() == en

    # approving without an answer: 422 naming the field, nothing written
    r = api.post(f"/v1/drafts/{en['id']}/approve", json={}, headers=sup)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "answer"
    assert api.get(f"/v1/drafts/{en['id']}", headers=sup).json()["status"] == "suggested"

    answer = "Yes, we ship to Canada in 7-14 days."
    r = api.patch(
        f"/v1/drafts/{en['id']}",
        json={"answer": answer, "question": "Do you ship to Canada?"},
        headers=sup,
    )
    assert r.status_code == 200
    edited = r.json()
    assert (edited["answer"], edited["question"], edited["edited"]) == (
        answer,
        "Do you ship to Canada?",
        True,
    )
    assert edited["answer_source"] == "supervisor"
    assert set(edited["similar_questions"]) == set(en["similar_questions"])  # untouched
    r = api.post(f"/v1/drafts/{en['id']}/approve", json={"faq_id": "ship-canada"}, headers=sup)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["faq_id"], body["decided_by"]) == (
        "approved",
        "ship-canada",
        "key:lead",
    )
    assert body["decided_at"] is not None
    [entry] = svc.faqs.get(TENANT, "ship-canada")
    assert (entry.question, entry.answer) == ("Do you ship to Canada?", answer)
    # the bot now answers it
    reply = svc.handle_message(converse(svc, []), EN_FAMILY[2]).result.to_dict()
    assert (reply["decision"], reply["faq_id"]) == ("answer", "ship-canada")
    # decided: a second approval conflicts
    r = api.post(f"/v1/drafts/{en['id']}/approve", json={}, headers=sup)
    assert r.status_code == 409


def test_merge_and_reject(api: TestClient, svc: Service) -> None:
    sup = auth(svc, TENANT, "supervisor", "lead")
    api.post("/v1/drafts/mine", params={"tenant": TENANT}, headers=sup)
    drafts = drafts_of(api, sup)
    r = api.post(f"/v1/drafts/{drafts['zh']['id']}/merge", json={"faq_id": "invoice"}, headers=sup)
    assert r.status_code == 200 and r.json()["status"] == "merged"
    zh = {e.language: e for e in svc.faqs.get(TENANT, "invoice")}["zh"]
    assert {ZH_FAMILY[1], ZH_FAMILY[2]} <= set(zh.similar_questions)

    r = api.post(f"/v1/drafts/{drafts['en']['id']}/reject", json={"note": "not now"}, headers=sup)
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["note"]) == ("rejected", "not now")
    r = api.get("/v1/drafts", params={"tenant": TENANT, "status": "rejected"}, headers=sup)
    assert [d["id"] for d in r.json()["items"]] == [drafts["en"]["id"]]
    # mining again brings neither back
    r = api.post("/v1/drafts/mine", params={"tenant": TENANT}, headers=sup)
    assert r.json() == {"new": 0, "updated": 0}


def test_viewers_read_supervisors_decide(api: TestClient, svc: Service) -> None:
    svc.drafts.mine(TENANT)
    viewer = auth(svc, TENANT, "viewer", "v")
    agent = auth(svc, TENANT, "agent", "a")
    zh = drafts_of(api, viewer)["zh"]
    assert api.get(f"/v1/drafts/{zh['id']}", headers=viewer).status_code == 200
    for headers in (viewer, agent):
        assert (
            api.post("/v1/drafts/mine", params={"tenant": TENANT}, headers=headers).status_code
            == 403
        )
        assert (
            api.patch(f"/v1/drafts/{zh['id']}", json={"answer": "x"}, headers=headers).status_code
            == 403
        )
        r = api.post(f"/v1/drafts/{zh['id']}/approve", json={}, headers=headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert api.post(f"/v1/drafts/{zh['id']}/reject", headers=headers).status_code == 403
    assert svc.drafts.get(zh["id"]).to_dict() == zh
    assert api.get("/v1/drafts", params={"tenant": TENANT}).status_code == 401


def test_another_tenants_supervisor_changes_nothing(api: TestClient, svc: Service) -> None:
    svc.drafts.mine(TENANT)
    before = {d.id: d for d in svc.drafts.list(TENANT)}
    faqs, revision = svc.faqs.all(TENANT), svc.tenants.get(TENANT).kb_revision
    outsider = auth(svc, "other", "supervisor", "their-lead")
    zh = next(d for d in before.values() if d.language == "zh")
    en = next(d for d in before.values() if d.language == "en")
    calls = [
        api.get("/v1/drafts", params={"tenant": TENANT}, headers=outsider),
        api.get(f"/v1/drafts/{zh.id}", headers=outsider),
        api.post("/v1/drafts/mine", params={"tenant": TENANT}, headers=outsider),
        api.patch(f"/v1/drafts/{zh.id}", json={"answer": "x"}, headers=outsider),
        api.post(f"/v1/drafts/{en.id}/approve", json={"answer": "Yes."}, headers=outsider),
        api.post(f"/v1/drafts/{zh.id}/merge", json={"faq_id": "invoice"}, headers=outsider),
        api.post(f"/v1/drafts/{zh.id}/reject", json={}, headers=outsider),
    ]
    assert [r.status_code for r in calls] == [403] * len(calls)
    assert {d.id: d for d in svc.drafts.list(TENANT)} == before
    assert svc.faqs.all(TENANT) == faqs
    assert svc.tenants.get(TENANT).kb_revision == revision
    # their own tenant works
    r = api.post("/v1/drafts/mine", params={"tenant": "other"}, headers=outsider)
    assert r.json() == {"new": 2, "updated": 0}


def test_bad_requests(api: TestClient, svc: Service) -> None:
    svc.drafts.mine(TENANT)
    sup = auth(svc, TENANT, "supervisor", "lead")
    zh = drafts_of(api, sup)["zh"]
    r = api.get("/v1/drafts/999999", headers=sup)
    assert r.status_code == 404 and r.json()["error"]["code"] == "draft_not_found"
    r = api.patch(f"/v1/drafts/{zh['id']}", json={"answer": "x", "extra": 1}, headers=sup)
    assert r.status_code == 422
    r = api.patch(f"/v1/drafts/{zh['id']}", json={"answer": "x" * 5001}, headers=sup)
    assert r.status_code == 422
    r = api.post(f"/v1/drafts/{zh['id']}/merge", json={}, headers=sup)
    assert r.status_code == 422
    r = api.post(f"/v1/drafts/{zh['id']}/merge", json={"faq_id": "nope"}, headers=sup)
    assert r.status_code == 404 and r.json()["error"]["code"] == "faq_not_found"
    r = api.get("/v1/drafts", params={"tenant": TENANT, "status": "maybe"}, headers=sup)
    assert r.status_code == 422 and r.json()["error"]["field"] == "status"
    assert svc.drafts.get(zh["id"]).to_dict() == zh


def test_mine_only_conversations_since(api: TestClient, svc: Service) -> None:
    sup = auth(svc, TENANT, "supervisor", "lead")
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    r = api.post("/v1/drafts/mine", params={"tenant": TENANT, "since": later}, headers=sup)
    assert (r.status_code, r.json()) == (200, {"new": 0, "updated": 0})
    assert svc.drafts.list(TENANT) == []
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    r = api.post("/v1/drafts/mine", params={"tenant": TENANT, "since": earlier}, headers=sup)
    assert r.json() == {"new": 2, "updated": 0}
