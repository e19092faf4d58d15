"""Every error of the API has one JSON shape: {"error": {"code", "message", "field"?,
"details"?}}. This file pins it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


def assert_error(resp: Any, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) <= {"code", "message", "field", "details"}
    assert err["code"] == code
    assert isinstance(err["message"], str) and err["message"]
    if field is not None:
        assert err.get("field") == field, err
    return dict(err)


@pytest.fixture
def conv(client: TestClient) -> str:
    r = client.post("/v1/conversations", json={"tenant": "demo"})
    assert r.status_code == 201
    return str(r.json()["id"])


def test_unknown_tenant_is_404(client: TestClient) -> None:
    err = assert_error(
        client.post("/v1/conversations", json={"tenant": "nope"}), 404, "tenant_not_found", "tenant"
    )
    assert "nope" in err["message"]


def test_unknown_conversation_is_404(client: TestClient) -> None:
    for resp in (
        client.post("/v1/conversations/does-not-exist/messages", json={"text": "hi"}),
        client.post("/v1/conversations/does-not-exist/messages/stream", json={"text": "hi"}),
        client.get("/v1/conversations/does-not-exist"),
    ):
        assert_error(resp, 404, "conversation_not_found")


def test_unknown_route_and_method(client: TestClient) -> None:
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(client.delete("/v1/conversations"), 405, "method_not_allowed")


def test_missing_field_is_named(client: TestClient, conv: str) -> None:
    err = assert_error(
        client.post(f"/v1/conversations/{conv}/messages", json={}), 422, "invalid_input", "text"
    )
    assert "text" in err["message"]
    assert_error(client.post("/v1/conversations", json={}), 422, "invalid_input", "tenant")


def test_wrong_type_and_unknown_field_are_named(client: TestClient, conv: str) -> None:
    assert_error(
        client.post(f"/v1/conversations/{conv}/messages", json={"text": 5}),
        422,
        "invalid_input",
        "text",
    )
    assert_error(
        client.post("/v1/conversations", json={"tenant": "demo", "colour": "red"}),
        422,
        "invalid_input",
        "colour",
    )
    assert_error(
        client.post("/v1/conversations", json={"tenant": "demo", "language": "fr"}),
        422,
        "invalid_input",
        "language",
    )
    assert_error(
        client.post("/v1/conversations", json={"tenant": "demo", "channel": "fax"}),
        422,
        "invalid_input",
        "channel",
    )


def test_invalid_json_and_binary_body(client: TestClient, conv: str) -> None:
    url = f"/v1/conversations/{conv}/messages"
    headers = {"content-type": "application/json"}
    assert_error(client.post(url, content=b"{not json", headers=headers), 422, "invalid_input")
    assert_error(client.post(url, content=bytes(range(256)), headers=headers), 422, "invalid_input")


def test_body_too_large_is_413(client: TestClient, conv: str) -> None:
    big = "x" * (300 * 1024)
    err = assert_error(
        client.post(f"/v1/conversations/{conv}/messages", json={"text": big}),
        413,
        "payload_too_large",
    )
    assert err["details"]["limit_bytes"] == 256 * 1024


def test_message_limits_name_the_field(client: TestClient, conv: str) -> None:
    url = f"/v1/conversations/{conv}/messages"
    err = assert_error(client.post(url, json={"text": "退" * 10_000}), 422, "invalid_input", "text")
    assert "10000" in err["message"] and "2000" in err["message"]
    assert_error(client.post(url, json={"text": "   \n\t "}), 422, "invalid_input", "text")
    assert_error(client.post(url, json={"text": ""}), 422, "invalid_input", "text")


def test_internal_errors_do_not_leak(client: TestClient, conv: str) -> None:
    svc = client.app.state.service  # type: ignore[attr-defined]

    def boom(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("secret database password in traceback")

    original = svc.decide
    svc.decide = boom
    try:
        with TestClient(client.app, raise_server_exceptions=False) as c:
            err = assert_error(
                c.post(f"/v1/conversations/{conv}/messages", json={"text": "怎么退货"}),
                500,
                "internal_error",
            )
    finally:
        svc.decide = original
    assert "secret" not in err["message"]


def test_error_shape_is_documented_in_openapi(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert '{"error": {"code", "message", "field"?, "details"?}}' in spec["info"]["description"]
