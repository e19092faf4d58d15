"""Tenants, settings and FAQ CRUD over HTTP; the bot sees knowledge-base edits at once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.kb_small import small_kb

from kefu.api.app import create_app
from kefu.service import Service


@pytest.fixture
def api(service: Service) -> TestClient:
    service.tenants.create("shop")
    service.faqs.upsert_many("shop", small_kb())
    _, secret = service.access.create_api_key("*", "admin", "root")
    return TestClient(create_app(service), headers={"Authorization": f"Bearer {secret}"})


FAQ = {
    "id": "gift-wrap",
    "question": "可以礼品包装吗",
    "similar_questions": ["能包装成礼物吗", "有礼盒吗", "送人能包一下吗"],
    "answer": "下单时勾选“礼品包装”，加收5元。",
    "category": "promotions",
    "language": "zh",
    "tags": ["礼品"],
}


def ask(api: TestClient, text: str) -> dict[str, object]:
    conv = api.post("/v1/conversations", json={"tenant": "shop"}).json()["id"]
    body: dict[str, object] = api.post(
        f"/v1/conversations/{conv}/messages", json={"text": text}
    ).json()
    return body


def test_tenant_create_is_idempotent_and_settings_are_listed(api: TestClient) -> None:
    r = api.post("/v1/tenants", json={"name": "shop-b", "level": "L2", "language": "en"})
    assert r.status_code == 201 and r.json()["settings"]["level"] == "L2"
    again = api.post("/v1/tenants", json={"name": "shop-b", "level": "L2", "language": "en"})
    assert again.status_code == 200
    assert [t["name"] for t in api.get("/v1/tenants").json()] == ["shop", "shop-b"]
    names = {s["name"] for s in api.get("/v1/settings").json()}
    assert {"level", "answer_threshold", "template.welcome", "business_hours"} <= names


def test_setting_change_over_http(api: TestClient) -> None:
    r = api.put(
        "/v1/tenants/shop/settings/template.greeting",
        json={"value": {"zh": "亲，欢迎！", "en": "Welcome!"}},
    )
    assert r.status_code == 200
    assert ask(api, "你好")["replies"] == [{"text": "亲，欢迎！", "language": "zh", "type": "text"}]
    bad = api.put("/v1/tenants/shop/settings/answer_threshold", json={"value": "high"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "answer_threshold"


def test_faq_crud_and_the_bot_follows(api: TestClient) -> None:
    assert ask(api, "可以帮我礼品包装吗")["faq_id"] is None
    created = api.post("/v1/tenants/shop/faqs", json=FAQ)
    assert created.status_code == 201
    assert api.post("/v1/tenants/shop/faqs", json=FAQ).status_code == 409
    got = api.get("/v1/tenants/shop/faqs/gift-wrap").json()
    assert [(f["id"], f["language"], f["similar_questions"]) for f in got] == [
        ("gift-wrap", "zh", FAQ["similar_questions"])
    ]
    answer = ask(api, "可以帮我礼品包装吗")
    assert answer["faq_id"] == "gift-wrap" and answer["decision"] == "answer"

    changed = {**FAQ, "answer": "礼品包装免费。"}
    assert api.put("/v1/tenants/shop/faqs/gift-wrap", json=changed).status_code == 200
    assert ask(api, "可以帮我礼品包装吗")["replies"][0]["text"] == "礼品包装免费。"  # type: ignore[index]

    mismatch = api.put("/v1/tenants/shop/faqs/other", json=changed)
    assert mismatch.status_code == 422 and mismatch.json()["error"]["field"] == "id"
    assert api.delete("/v1/tenants/shop/faqs/gift-wrap").status_code == 204
    assert api.get("/v1/tenants/shop/faqs/gift-wrap").status_code == 404
    assert ask(api, "可以帮我礼品包装吗")["faq_id"] != "gift-wrap"


def test_faq_validation_names_the_field(api: TestClient) -> None:
    for body, field in (
        ({**FAQ, "question": ""}, "question"),
        ({**FAQ, "language": "fr"}, "language"),
        ({**FAQ, "answer": "x" * 5001}, "answer"),
        ({**FAQ, "valid_from": "2026-02-01", "valid_until": "2026-01-01"}, "valid_until"),
        ({k: v for k, v in FAQ.items() if k != "answer"}, "answer"),
    ):
        r = api.post("/v1/tenants/shop/faqs", json=body)
        assert r.status_code == 422, body
        assert r.json()["error"]["field"] == field
    assert api.get("/v1/tenants/ghost/faqs").status_code == 404
    listed = api.get("/v1/tenants/shop/faqs", params={"language": "en"}).json()
    assert {f["id"] for f in listed} == {"ship-fee", "return-policy"}


def test_api_docs_are_served_without_a_cdn(api: TestClient) -> None:
    html = api.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert api.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert api.get("/docs-assets/swagger-ui.css").status_code == 200
    assert api.get("/openapi.json").json()["info"]["title"] == "kefu"
