"""Access control over real HTTP: sign-in with the session cookie and CSRF, users and API keys
scoped per tenant, and the protected admin API and operation ledger (401 without credentials,
403 with the wrong role or tenant, and nothing changed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.conftest import Clock
from tests.test_error_shape import assert_error

from kefu.access import throttle
from kefu.api.app import create_app
from kefu.config import Config
from kefu.domain.faq import FaqEntry
from kefu.errors import AuthenticationError
from kefu.service import Service, build_service
from kefu.storage.access_tables import MembershipRow, UserRow

PASSWORD = "correct horse battery"
FAQ = {
    "id": "gift-wrap",
    "question": "可以礼品包装吗",
    "similar_questions": ["能包装成礼物吗"],
    "answer": "下单时勾选“礼品包装”，加收5元。",
    "category": "promotions",
    "language": "zh",
    "tags": [],
}


@pytest.fixture
def svc(config: Config, clock: Clock) -> Iterator[Service]:
    service = build_service(config, embedder=None, clock=clock)
    for name in ("shop-a", "shop-b"):
        service.tenants.create(name)
        service.faqs.upsert_many(
            name, [FaqEntry(id=f"{name}-faq", question=f"{name} 运费", answer="包邮")]
        )
    yield service
    service.close()


@pytest.fixture
def app_client(svc: Service) -> Iterator[TestClient]:
    with TestClient(create_app(svc)) as c:
        yield c


def bearer(svc: Service, tenant: str, role: str, name: str = "") -> dict[str, str]:
    _, secret = svc.access.create_api_key(tenant, role, name or f"{tenant}-{role}")
    return {"Authorization": f"Bearer {secret}"}


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    r = client.post("/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    csrf: str = r.json()["csrf_token"]
    return csrf


def faq_answers(svc: Service, tenant: str) -> dict[str, str]:
    return {e.id: e.answer for e in svc.faqs.all(tenant)}


# -- the admin API and the ledger are protected ------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/tenants"),
        ("post", "/v1/tenants"),
        ("get", "/v1/tenants/shop-a"),
        ("put", "/v1/tenants/shop-a/settings/level"),
        ("get", "/v1/tenants/shop-a/faqs"),
        ("post", "/v1/tenants/shop-a/faqs"),
        ("delete", "/v1/tenants/shop-a/faqs/shop-a-faq"),
        ("get", "/v1/tenants/shop-a/reports/cost"),
        ("get", "/v1/operations?tenant=shop-a"),
        ("get", "/v1/operations/1"),
        ("post", "/v1/operations/1/approve"),
        ("get", "/v1/users?tenant=shop-a"),
        ("get", "/v1/apikeys?tenant=shop-a"),
        ("post", "/v1/apikeys"),
        ("get", "/v1/auth/me"),
    ],
)
def test_401_without_credentials(app_client: TestClient, method: str, path: str) -> None:
    body = {"json": {}} if method in ("post", "put") else {}
    err = assert_error(getattr(app_client, method)(path, **body), 401, "unauthorized")
    assert "API key" in err["message"]


def test_public_routes_stay_public(app_client: TestClient) -> None:
    assert app_client.get("/v1/settings").status_code == 200
    conv = app_client.post("/v1/conversations", json={"tenant": "shop-a"})
    assert conv.status_code == 201, conv.text
    said = app_client.post(f"/v1/conversations/{conv.json()['id']}/messages", json={"text": "你好"})
    assert said.status_code == 200, said.text


def test_bad_and_revoked_keys_are_refused(app_client: TestClient, svc: Service) -> None:
    key, secret = svc.access.create_api_key("shop-a", "admin", "ops")
    auth = {"Authorization": f"Bearer {secret}"}
    assert app_client.get("/v1/tenants/shop-a/faqs", headers=auth).status_code == 200
    svc.access.revoke_api_key(key.id)
    assert_error(app_client.get("/v1/tenants/shop-a/faqs", headers=auth), 401, "unauthorized")
    assert_error(
        app_client.post("/v1/tenants/shop-a/faqs", json=FAQ, headers=auth), 401, "unauthorized"
    )
    assert "gift-wrap" not in faq_answers(svc, "shop-a")
    for header in ("Bearer kf_nonsense", "Basic dXNlcjpwYXNz", "Bearer "):
        assert_error(
            app_client.get("/v1/tenants/shop-a", headers={"Authorization": header}),
            401,
            "unauthorized",
        )


def test_a_viewer_reads_but_cannot_change_faqs(app_client: TestClient, svc: Service) -> None:
    viewer = bearer(svc, "shop-a", "viewer")
    listed = app_client.get("/v1/tenants/shop-a/faqs", headers=viewer)
    assert listed.status_code == 200 and [f["id"] for f in listed.json()] == ["shop-a-faq"]
    err = assert_error(
        app_client.post("/v1/tenants/shop-a/faqs", json=FAQ, headers=viewer), 403, "forbidden"
    )
    assert err["details"] == {"tenant": "shop-a", "needed": "admin"}
    changed = {**FAQ, "id": "shop-a-faq", "answer": "不包邮"}
    assert_error(
        app_client.put("/v1/tenants/shop-a/faqs/shop-a-faq", json=changed, headers=viewer),
        403,
        "forbidden",
    )
    assert_error(
        app_client.delete("/v1/tenants/shop-a/faqs/shop-a-faq", headers=viewer), 403, "forbidden"
    )
    assert_error(
        app_client.put("/v1/tenants/shop-a/settings/level", json={"value": "L2"}, headers=viewer),
        403,
        "forbidden",
    )
    assert faq_answers(svc, "shop-a") == {"shop-a-faq": "包邮"}
    assert svc.tenants.settings("shop-a")["level"] == "L1"


def test_an_admin_of_one_tenant_cannot_touch_another(app_client: TestClient, svc: Service) -> None:
    admin_a = bearer(svc, "shop-a", "admin")
    created = app_client.post("/v1/tenants/shop-a/faqs", json=FAQ, headers=admin_a)
    assert created.status_code == 201, created.text
    r = app_client.put("/v1/tenants/shop-a/settings/level", json={"value": "L2"}, headers=admin_a)
    assert r.status_code == 200 and svc.tenants.settings("shop-a")["level"] == "L2"
    for method, path, body in (
        ("get", "/v1/tenants/shop-b", None),
        ("get", "/v1/tenants/shop-b/faqs", None),
        ("get", "/v1/tenants/shop-b/faqs/shop-b-faq", None),
        ("post", "/v1/tenants/shop-b/faqs", FAQ),
        ("put", "/v1/tenants/shop-b/faqs/shop-b-faq", {**FAQ, "id": "shop-b-faq"}),
        ("delete", "/v1/tenants/shop-b/faqs/shop-b-faq", None),
        ("put", "/v1/tenants/shop-b/settings/level", {"value": "L2"}),
        ("get", "/v1/tenants/shop-b/reports/cost", None),
        ("get", "/v1/tenants/ghost/faqs", None),  # no telling which tenants exist
        ("post", "/v1/tenants", {"name": "shop-c"}),
        ("get", "/v1/operations?tenant=shop-b", None),
    ):
        kwargs: dict[str, Any] = {"headers": admin_a}
        if body is not None:
            kwargs["json"] = body
        assert_error(getattr(app_client, method)(path, **kwargs), 403, "forbidden")
    assert faq_answers(svc, "shop-b") == {"shop-b-faq": "包邮"}
    assert svc.tenants.settings("shop-b")["level"] == "L1"
    assert [t.name for t in svc.tenants.all()] == ["shop-a", "shop-b"]
    listed = app_client.get("/v1/tenants", headers=admin_a).json()
    assert [t["name"] for t in listed] == ["shop-a"]


def test_an_admin_of_every_tenant(app_client: TestClient, svc: Service) -> None:
    root = bearer(svc, "*", "admin")
    assert [t["name"] for t in app_client.get("/v1/tenants", headers=root).json()] == [
        "shop-a",
        "shop-b",
    ]
    r = app_client.post("/v1/tenants", json={"name": "shop-c"}, headers=root)
    assert r.status_code == 201
    assert_error(app_client.get("/v1/tenants/ghost/faqs", headers=root), 404, "tenant_not_found")


def test_the_ledger_is_tenant_scoped(app_client: TestClient, svc: Service) -> None:
    from tests.test_ledger_api import queue_cancel
    from tests.test_operations import TENANT, shop_slice

    from kefu.operations.execute import operations_of

    svc.tenants.create(TENANT)
    data = shop_slice()
    svc.shop.load(TENANT, data["users"], data["orders"], data["products"])
    ledger_id = queue_cancel(operations_of(svc))
    outsider = bearer(svc, "shop-a", "admin")
    viewer = bearer(svc, TENANT, "viewer")
    supervisor = bearer(svc, TENANT, "supervisor", "sam")
    assert_error(
        app_client.get("/v1/operations", params={"tenant": TENANT}, headers=outsider),
        403,
        "forbidden",
    )
    assert_error(app_client.get(f"/v1/operations/{ledger_id}", headers=outsider), 403, "forbidden")
    for action in ("approve", "reject", "reconcile"):
        for who in (outsider, viewer):
            assert_error(
                app_client.post(f"/v1/operations/{ledger_id}/{action}", headers=who),
                403,
                "forbidden",
            )
    entry = app_client.get(f"/v1/operations/{ledger_id}", headers=viewer)
    assert entry.status_code == 200 and entry.json()["status"] == "awaiting_approval"
    assert svc.shop.dump(TENANT).orders[entry.json()["arguments"]["order_id"]]["status"] == (
        "pending"
    )
    r = app_client.post(
        f"/v1/operations/{ledger_id}/reject", json={"note": "fraud check"}, headers=supervisor
    )
    assert r.status_code == 200, r.text
    assert r.json()["actor"] == "key:sam" and r.json()["note"] == "fraud check"


# -- sessions ----------------------------------------------------------------------------------


def test_login_me_and_logout(app_client: TestClient, svc: Service) -> None:
    svc.access.create_user("ann", PASSWORD, "安娜", tenant="shop-a", role="agent", skills=["售后"])
    r = app_client.post("/v1/auth/login", json={"username": "Ann", "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["username"] == "ann" and body["user"]["roles"] == {"shop-a": "agent"}
    assert "password" not in str(body["user"])
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("kefu_session=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Path=/" in cookie and "Secure" not in cookie
    me = app_client.get("/v1/auth/me").json()
    assert me == {
        "kind": "user",
        "name": "ann",
        "display_name": "安娜",
        "language": "zh",
        "roles": {"shop-a": "agent"},
        "skills": {"shop-a": ["售后"]},
        "csrf_token": body["csrf_token"],
    }
    assert app_client.get("/v1/tenants/shop-a/faqs").status_code == 200  # by cookie
    assert_error(app_client.get("/v1/tenants/shop-b/faqs"), 403, "forbidden")
    out = app_client.post("/v1/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert out.status_code == 204 and 'kefu_session=""' in out.headers["set-cookie"]
    assert_error(app_client.get("/v1/auth/me"), 401, "unauthorized")


def test_login_over_https_sets_a_secure_cookie(svc: Service) -> None:
    svc.access.create_user("bea", PASSWORD)
    with TestClient(create_app(svc), base_url="https://kefu.example") as c:
        r = c.post("/v1/auth/login", json={"username": "bea", "password": PASSWORD})
        assert r.status_code == 200 and "Secure" in r.headers["set-cookie"]


def test_csrf_is_required_for_cookie_changes(app_client: TestClient, svc: Service) -> None:
    svc.access.create_user("cat", PASSWORD, tenant="shop-a", role="admin")
    csrf = login(app_client, "cat")
    err = assert_error(app_client.post("/v1/tenants/shop-a/faqs", json=FAQ), 403, "forbidden")
    assert err["details"] == {"reason": "csrf"} and "X-CSRF-Token" in err["message"]
    assert_error(
        app_client.post("/v1/tenants/shop-a/faqs", json=FAQ, headers={"X-CSRF-Token": "guess"}),
        403,
        "forbidden",
    )
    assert "gift-wrap" not in faq_answers(svc, "shop-a")
    ok = app_client.post("/v1/tenants/shop-a/faqs", json=FAQ, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text
    assert "gift-wrap" in faq_answers(svc, "shop-a")
    # logging out needs the token too: a forged request does not end the session
    assert_error(app_client.post("/v1/auth/logout"), 403, "forbidden")
    assert app_client.get("/v1/auth/me").status_code == 200


def test_wrong_password_lockout_and_disabled_user(
    app_client: TestClient, svc: Service, clock: Clock
) -> None:
    svc.access.create_user("dan", PASSWORD, tenant="shop-a", role="agent")
    wrong = {"username": "dan", "password": "not the password"}
    err = assert_error(app_client.post("/v1/auth/login", json=wrong), 401, "unauthorized")
    assert err["message"] == "wrong username or password"
    assert "set-cookie" not in app_client.post("/v1/auth/login", json=wrong).headers
    for _ in range(throttle.MAX_FAILURES - 3):
        app_client.post("/v1/auth/login", json=wrong)
    locked = assert_error(app_client.post("/v1/auth/login", json=wrong), 401, "unauthorized")
    assert locked["details"] == {"reason": "locked", "retry_after": 900}
    right = {"username": "dan", "password": PASSWORD}
    assert_error(app_client.post("/v1/auth/login", json=right), 401, "unauthorized")
    clock.now += throttle.LOCK
    login(app_client, "dan")
    assert app_client.get("/v1/auth/me").status_code == 200
    svc.access.disable("dan")
    assert_error(app_client.get("/v1/auth/me"), 401, "unauthorized")  # the session ended
    disabled = assert_error(app_client.post("/v1/auth/login", json=right), 401, "unauthorized")
    assert disabled["details"] == {"reason": "disabled"}
    assert_error(app_client.post("/v1/auth/login", json={"username": "dan"}), 422, "invalid_input")


# -- users and API keys ------------------------------------------------------------------------


def test_users_are_managed_per_tenant(app_client: TestClient, svc: Service) -> None:
    svc.access.create_user("root", PASSWORD, tenant="*", role="admin")
    svc.access.create_user("bo", PASSWORD, tenant="shop-b", role="supervisor")
    admin_a = bearer(svc, "shop-a", "admin", "a-admin")
    new = {"username": "eli", "password": PASSWORD, "role": "agent", "skills": ["售前"]}
    r = app_client.post("/v1/users", params={"tenant": "shop-a"}, json=new, headers=admin_a)
    assert r.status_code == 201, r.text
    assert r.json()["roles"] == {"shop-a": "agent"} and r.json()["skills"] == {"shop-a": ["售前"]}
    again = app_client.post("/v1/users", params={"tenant": "shop-a"}, json=new, headers=admin_a)
    assert_error(again, 409, "conflict", "username")
    # grant in shop-a an existing user from shop-b: shop-b's role stays hidden from admin A
    r = app_client.put("/v1/users/bo/roles/shop-a", json={"role": "viewer"}, headers=admin_a)
    assert r.status_code == 200 and r.json()["roles"] == {"shop-a": "viewer"}
    listed = app_client.get("/v1/users", params={"tenant": "shop-a"}, headers=admin_a).json()
    assert [(u["username"], u["roles"]) for u in listed["items"]] == [
        ("bo", {"shop-a": "viewer"}),
        ("eli", {"shop-a": "agent"}),
    ]
    with svc.sessions() as s:
        before = s.scalar(select(func.count()).select_from(MembershipRow))
        users_before = s.scalar(select(func.count()).select_from(UserRow))
    for method, path, kwargs in (
        ("get", "/v1/users", {"params": {"tenant": "shop-b"}}),
        ("get", "/v1/users", {}),
        ("post", "/v1/users", {"params": {"tenant": "shop-b"}, "json": {**new, "username": "x1"}}),
        ("post", "/v1/users", {"params": {"tenant": "*"}, "json": {**new, "username": "x2"}}),
        ("put", "/v1/users/bo/roles/shop-b", {"json": {"role": "admin"}}),
        ("put", "/v1/users/eli/roles/*", {"json": {"role": "viewer"}}),
        ("delete", "/v1/users/bo/roles/shop-b", {}),
        ("delete", "/v1/users/root/roles/*", {}),
    ):
        assert_error(getattr(app_client, method)(path, headers=admin_a, **kwargs), 403, "forbidden")
    with svc.sessions() as s:
        assert s.scalar(select(func.count()).select_from(MembershipRow)) == before
        assert s.scalar(select(func.count()).select_from(UserRow)) == users_before
    assert svc.access.user("bo").roles == {"shop-a": "viewer", "shop-b": "supervisor"}
    assert app_client.delete("/v1/users/bo/roles/shop-a", headers=admin_a).status_code == 204
    assert_error(app_client.delete("/v1/users/bo/roles/shop-a", headers=admin_a), 404, "not_found")
    assert svc.access.user("bo").roles == {"shop-b": "supervisor"}
    bad = {**new, "username": "fox", "password": "short"}
    r = app_client.post("/v1/users", params={"tenant": "shop-a"}, json=bad, headers=admin_a)
    assert_error(r, 422, "invalid_input", "password")
    # the administrator of every tenant sees everything and may grant "*"
    root = bearer(svc, "*", "admin")
    everyone = app_client.get("/v1/users", headers=root).json()["items"]
    assert [u["username"] for u in everyone] == ["bo", "eli", "root"]
    assert everyone[2]["roles"] == {"*": "admin"}
    r = app_client.put("/v1/users/eli/roles/*", json={"role": "viewer"}, headers=root)
    assert r.status_code == 200 and r.json()["roles"] == {"*": "viewer", "shop-a": "agent"}


def test_a_lower_role_cannot_manage_users_or_keys(app_client: TestClient, svc: Service) -> None:
    sup = bearer(svc, "shop-a", "supervisor")
    new = {"username": "gil", "password": PASSWORD, "role": "viewer"}
    assert_error(
        app_client.post("/v1/users", params={"tenant": "shop-a"}, json=new, headers=sup),
        403,
        "forbidden",
    )
    key = {"tenant": "shop-a", "role": "viewer"}
    assert_error(app_client.post("/v1/apikeys", json=key, headers=sup), 403, "forbidden")
    assert svc.access.users() == [] and len(svc.access.api_keys()) == 1


def test_api_keys_over_http(app_client: TestClient, svc: Service) -> None:
    svc.access.create_user("hana", PASSWORD, tenant="shop-a", role="admin")
    csrf = login(app_client, "hana")
    h = {"X-CSRF-Token": csrf}
    r = app_client.post(
        "/v1/apikeys", json={"tenant": "shop-a", "role": "agent", "name": "widget"}, headers=h
    )
    assert r.status_code == 201, r.text
    key, secret = r.json()["key"], r.json()["secret"]
    assert secret.startswith("kf_") and key["prefix"] == secret[:11] and key["name"] == "widget"
    listed = app_client.get("/v1/apikeys", params={"tenant": "shop-a"}).json()["items"]
    assert [k["id"] for k in listed] == [key["id"]] and secret not in str(listed)
    other = svc.access.create_api_key("shop-b", "agent", "b-bot")[0]
    for bad in (
        {"tenant": "shop-b", "role": "agent"},
        {"tenant": "*", "role": "viewer"},
    ):
        assert_error(app_client.post("/v1/apikeys", json=bad, headers=h), 403, "forbidden")
    assert_error(app_client.get("/v1/apikeys", params={"tenant": "shop-b"}), 403, "forbidden")
    assert_error(app_client.delete(f"/v1/apikeys/{other.id}", headers=h), 403, "forbidden")
    assert svc.access.api_key(other.id).revoked_at is None
    assert_error(
        app_client.post("/v1/apikeys", json={"tenant": "shop-a", "role": "owner"}, headers=h),
        422,
        "invalid_input",
        "role",
    )
    gone = app_client.delete(f"/v1/apikeys/{key['id']}", headers=h)
    assert gone.status_code == 200 and gone.json()["revoked_at"]
    assert_error(
        app_client.get("/v1/tenants/shop-a", headers={"Authorization": f"Bearer {secret}"}),
        401,
        "unauthorized",
    )
    assert_error(app_client.delete("/v1/apikeys/99999", headers=h), 404, "not_found")
    me = app_client.get("/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 401


def test_a_user_changes_its_own_password(app_client: TestClient, svc: Service) -> None:
    svc.access.create_user("ivo", PASSWORD, tenant="shop-a", role="agent")
    old_token, _, _ = svc.access.login("ivo", PASSWORD)  # another browser, signed in
    csrf = login(app_client, "ivo")
    h = {"X-CSRF-Token": csrf}
    wrong = {"current_password": "not it at all", "new_password": "a brand new one"}
    assert_error(
        app_client.post("/v1/auth/password", json=wrong, headers=h),
        422,
        "invalid_input",
        "current_password",
    )
    short = {"current_password": PASSWORD, "new_password": "short"}
    assert_error(
        app_client.post("/v1/auth/password", json=short, headers=h),
        422,
        "invalid_input",
        "new_password",
    )
    ok = {"current_password": PASSWORD, "new_password": "a brand new one"}
    assert_error(app_client.post("/v1/auth/password", json=ok), 403, "forbidden")  # no CSRF
    svc.access.login("ivo", PASSWORD)  # nothing changed yet
    r = app_client.post("/v1/auth/password", json=ok, headers=h)
    assert r.status_code == 200, r.text
    new_csrf = r.json()["csrf_token"]
    assert new_csrf != csrf and "kefu_session=" in r.headers["set-cookie"]
    me = app_client.get("/v1/auth/me").json()  # this browser stays signed in
    assert me["name"] == "ivo" and me["csrf_token"] == new_csrf
    with pytest.raises(AuthenticationError):
        svc.access.principal_for_session(old_token, csrf=None)  # the others are signed out
    with pytest.raises(AuthenticationError):
        svc.access.login("ivo", PASSWORD)
    svc.access.login("ivo", "a brand new one")
    key = bearer(svc, "shop-a", "admin")
    assert_error(app_client.post("/v1/auth/password", json=ok, headers=key), 403, "forbidden")
