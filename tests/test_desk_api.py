"""The desk over HTTP: inbox, take (409 for the second agent), agent messages, release, close,
roles (viewer reads, agent acts, another tenant's agent gets 403 and changes nothing), and the
message API's shape while a human is in charge."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from kefu.service import Service


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _key(svc: Service, tenant: str, role: str, name: str) -> dict[str, str]:
    _key_id, secret = svc.access.create_api_key(tenant, role, name)
    return _auth(secret)


def _start(client: TestClient) -> str:
    r = client.post("/v1/conversations", json={"tenant": "demo", "language": "zh"})
    assert r.status_code == 201
    conv: str = r.json()["id"]
    return conv


def _say(client: TestClient, conv: str, text: str) -> dict[str, Any]:
    r = client.post(f"/v1/conversations/{conv}/messages", json={"text": text})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _events(client: TestClient, conv: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = client.get(f"/v1/conversations/{conv}").json()["events"]
    return events


def test_inbox_take_reply_release_over_http(client: TestClient, demo_service: Service) -> None:
    agent = _key(demo_service, "demo", "agent", "alice")
    viewer = _key(demo_service, "demo", "viewer", "vera")
    conv = _start(client)
    turn = _say(client, conv, "转人工")
    assert turn["decision"] == "handoff"

    r = client.get("/v1/inbox", params={"tenant": "demo"}, headers=viewer)
    assert r.status_code == 200
    (item,) = r.json()["items"]
    assert item["conversation_id"] == conv and item["status"] == "waiting"
    assert item["queue"] == "general" and item["taken_by"] is None
    assert item["handoff"]["reason"] == "customer_request"
    assert len(item["handoff"]["summary"]) == 3
    assert item["waiting_s"] >= 0

    # a viewer may read but not take
    r = client.post(f"/v1/conversations/{conv}/take", headers=viewer)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"

    r = client.post(f"/v1/conversations/{conv}/take", headers=agent)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active" and r.json()["taken_by"] == "key:alice"
    other = _key(demo_service, "demo", "agent", "bob")
    r = client.post(f"/v1/conversations/{conv}/take", headers=other)
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_taken"

    # the customer's message is recorded and not answered by the bot: same TurnOut shape
    held = _say(client, conv, "你好，还在吗")
    assert held["decision"] == "human" and held["replies"] == [] and held["handoff"] is False

    r = client.post(
        f"/v1/conversations/{conv}/agent-messages", json={"text": "在的，请讲"}, headers=agent
    )
    assert r.status_code == 201
    assert r.json()["type"] == "agent_message" and r.json()["payload"] == {"agent": "key:alice"}
    r = client.post(
        f"/v1/conversations/{conv}/agent-messages", json={"text": "插一句"}, headers=other
    )
    assert r.status_code == 409
    r = client.post(f"/v1/conversations/{conv}/agent-messages", json={"text": ""}, headers=agent)
    assert r.status_code == 422
    r = client.post(
        f"/v1/conversations/{conv}/agent-messages",
        json={"text": "x", "extra": 1},
        headers=agent,
    )
    assert r.status_code == 422

    r = client.get("/v1/inbox", params={"tenant": "demo", "status": "active"}, headers=viewer)
    assert [i["conversation_id"] for i in r.json()["items"]] == [conv]

    r = client.post(f"/v1/conversations/{conv}/release", headers=agent)
    assert r.status_code == 200 and r.json()["status"] == "released"
    types = [e["type"] for e in _events(client, conv)]
    assert types[-2:] == ["handoff_released", "bot_reply"]
    back = _say(client, conv, "怎么退货")
    assert back["decision"] in ("answer", "clarify") and back["replies"]
    r = client.get("/v1/inbox", params={"tenant": "demo"}, headers=viewer)
    assert r.json()["items"] == []


def test_close_over_http_and_unknown_things(client: TestClient, demo_service: Service) -> None:
    agent = _key(demo_service, "demo", "agent", "alice")
    conv = _start(client)
    _say(client, conv, "转人工")
    r = client.post(f"/v1/conversations/{conv}/close", json={"reason": "spam"}, headers=agent)
    assert r.status_code == 200
    assert r.json()["type"] == "conversation_closed"
    assert r.json()["payload"] == {"by": "agent:key:alice", "reason": "spam"}
    r = client.get(f"/v1/conversations/{conv}/handoffs", headers=agent)
    assert [h["status"] for h in r.json()["items"]] == ["closed"]
    r = client.post(f"/v1/conversations/{conv}/take", headers=agent)
    assert r.status_code == 404 and r.json()["error"]["code"] == "handoff_not_found"
    r = client.post("/v1/conversations/nope/take", headers=agent)
    assert r.status_code == 404
    r = client.get("/v1/inbox", params={"tenant": "demo", "status": "bogus"}, headers=agent)
    assert r.status_code == 422 and r.json()["error"]["field"] == "status"
    r = client.get("/v1/inbox", params={"tenant": "demo"})
    assert r.status_code == 401


def test_an_agent_of_tenant_a_gets_403_on_tenant_b_and_nothing_changes(
    client: TestClient, demo_service: Service
) -> None:
    demo_service.tenants.create("other", {"level": "L1"})
    stranger = _key(demo_service, "other", "admin", "mallory")
    conv = _start(client)
    _say(client, conv, "转人工")
    before = _events(client, conv)
    for path, body in (
        ("take", None),
        ("agent-messages", {"text": "hi"}),
        ("release", None),
        ("close", {"reason": "x"}),
    ):
        r = client.post(f"/v1/conversations/{conv}/{path}", json=body, headers=stranger)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"]["code"] == "forbidden"
    r = client.get("/v1/inbox", params={"tenant": "demo"}, headers=stranger)
    assert r.status_code == 403
    assert _events(client, conv) == before
    agent = _key(demo_service, "demo", "agent", "alice")
    (item,) = client.get("/v1/inbox", params={"tenant": "demo"}, headers=agent).json()["items"]
    assert item["status"] == "waiting"


def test_kefu_inbox_cli_lists_takes_replies_and_releases(demo_service: Service, kefu: Any) -> None:
    import json

    conv, _ = demo_service.start_conversation("demo", "cli", None, "zh")
    demo_service.handle_message(conv.id, "转人工")
    listed = json.loads(kefu("inbox", "list", "--tenant", "demo", "--json").stdout)
    assert [i["conversation_id"] for i in listed["items"]] == [conv.id]
    assert listed["items"][0]["status"] == "waiting"
    taken = json.loads(kefu("inbox", "take", conv.id, "--agent", "alice").stdout)
    assert taken["status"] == "active" and taken["taken_by"] == "alice"
    again = kefu("inbox", "take", conv.id, "--agent", "bob", ok=False)
    assert again.returncode == 2 and "alice" in again.stderr
    sent = json.loads(kefu("inbox", "reply", conv.id, "您好", "--agent", "alice").stdout)
    assert sent["type"] == "agent_message" and sent["text"] == "您好"
    released = json.loads(kefu("inbox", "release", conv.id, "--agent", "alice").stdout)
    assert released["status"] == "released"
    types = [e.type for e in demo_service.conversations.events(conv.id)]
    assert types[-4:] == ["handoff_taken", "agent_message", "handoff_released", "bot_reply"]
