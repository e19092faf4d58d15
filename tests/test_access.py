"""Access control below HTTP: password hashes, users and memberships, sessions with CSRF, the
sign-in lock, API keys (the AccessRepository over a real database)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.conftest import Clock

from kefu.access import throttle
from kefu.access.passwords import hash_password, verify_password
from kefu.access.repository import SESSION_LIFETIME, AccessRepository, digest
from kefu.config import Config
from kefu.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDenied,
    TenantNotFound,
    UserNotFound,
)
from kefu.service import Service, build_service
from kefu.storage.access_tables import UserRow, UserSessionRow

PASSWORD = "correct horse battery"


@pytest.fixture
def svc(config: Config, clock: Clock) -> Iterator[Service]:
    service = build_service(config, embedder=None, clock=clock)
    service.tenants.create("shop-a")
    service.tenants.create("shop-b")
    yield service
    service.close()


@pytest.fixture
def access(svc: Service) -> AccessRepository:
    return svc.access


def test_password_hash_is_salted_scrypt_never_the_plain_text(
    svc: Service, access: AccessRepository
) -> None:
    access.create_user("Alice", PASSWORD)
    access.create_user("bob", PASSWORD)
    with svc.sessions() as s:
        stored = {r.username: r.password_hash for r in s.scalars(select(UserRow))}
    assert set(stored) == {"alice", "bob"}  # usernames are kept in lower case
    for value in stored.values():
        scheme, n, r, p, salt, hashed = value.split("$")
        assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
        assert PASSWORD not in value and len(salt) >= 20 and len(hashed) >= 40
    assert stored["alice"] != stored["bob"]  # a random salt per hash
    assert verify_password(PASSWORD, stored["alice"])
    assert not verify_password(PASSWORD + "!", stored["alice"])
    assert not verify_password(PASSWORD, "md5$abc")  # a foreign or broken hash never matches
    assert not verify_password(PASSWORD, stored["alice"].replace("scrypt$16384", "scrypt$x"))


def test_password_policy(access: AccessRepository) -> None:
    with pytest.raises(InvalidInputError) as short:
        access.create_user("carol", "1234567")
    assert short.value.field == "password" and "at least 8" in short.value.message
    with pytest.raises(InvalidInputError):
        hash_password(" " * 12)
    assert access.users() == []  # nothing half-written


def test_users_and_memberships(access: AccessRepository) -> None:
    user = access.create_user(
        "ann", PASSWORD, "安娜", "zh", tenant="shop-a", role="agent", skills=["售后", "presale"]
    )
    assert user.roles == {"shop-a": "agent"} and user.display_name == "安娜"
    access.grant("ANN", "shop-b", "supervisor")
    access.grant("ann", "shop-a", "agent", ["presale", "presale", " vip "])  # replaces
    assert access.user("ann").roles == {"shop-a": "agent", "shop-b": "supervisor"}
    assert access.skills("ann", "shop-a") == ["presale", "vip"]
    assert access.skills(user.id, "shop-b") == []
    access.create_user("root", PASSWORD, tenant="*", role="admin", skills=["all"])
    assert access.skills("root", "shop-b") == ["all"]  # from the all-tenants membership
    assert [u.username for u in access.users("shop-b")] == ["ann"]
    assert [u.username for u in access.users("*")] == ["root"]
    assert [u.username for u in access.users()] == ["ann", "root"]
    assert [m.tenant for m in access.memberships("ann")] == ["shop-a", "shop-b"]
    assert access.revoke("ann", "shop-b").roles == {"shop-a": "agent"}
    with pytest.raises(NotFoundError):
        access.revoke("ann", "shop-b")
    d = access.user("ann").to_dict(lambda t: t == "shop-a")
    assert d["roles"] == {"shop-a": "agent"} and "password_hash" not in d


def test_user_input_errors_name_the_field_and_write_nothing(access: AccessRepository) -> None:
    for kwargs, field in (
        ({"username": "a b"}, "username"),
        ({"username": ""}, "username"),
        ({"username": "x" * 65}, "username"),
        ({"language": "fr"}, "language"),
        ({"tenant": "shop-a", "role": "owner"}, "role"),
        ({"tenant": "shop-a", "role": "agent", "skills": ["a,b"]}, "skills"),
        ({"tenant": "shop-a"}, "role"),
    ):
        args = {"username": "dora", "password": PASSWORD, **kwargs}
        with pytest.raises(InvalidInputError) as err:
            access.create_user(**args)  # type: ignore[arg-type]
        assert err.value.field == field, kwargs
    with pytest.raises(TenantNotFound):
        access.create_user("dora", PASSWORD, tenant="ghost", role="agent")
    assert access.users() == []
    access.create_user("dora", PASSWORD)
    with pytest.raises(ConflictError):
        access.create_user("DORA", PASSWORD)
    with pytest.raises(UserNotFound):
        access.grant("nobody", "shop-a", "agent")
    with pytest.raises(InvalidInputError):
        access.grant("dora", "shop-a", "root")
    assert access.user("dora").roles == {}


def test_session_login_principal_and_logout(
    svc: Service, access: AccessRepository, clock: Clock
) -> None:
    access.create_user("eve", PASSWORD, tenant="shop-a", role="supervisor")
    token, csrf, principal = access.login("EVE", PASSWORD)
    assert principal.kind == "user" and principal.name == "eve" and principal.user_id
    assert principal.can("shop-a", "supervisor") and not principal.can("shop-b", "viewer")
    with svc.sessions() as s:
        [row] = s.scalars(select(UserSessionRow))
    assert row.token_hash == digest(token) and token not in row.token_hash  # digest only
    found = access.principal_for_session(token, csrf=csrf)
    assert found == principal
    assert access.principal_for_session(token, csrf=None) == principal  # a safe method
    with pytest.raises(PermissionDenied) as bad:
        access.principal_for_session(token, csrf="")
    assert bad.value.details["reason"] == "csrf"
    with pytest.raises(PermissionDenied):
        access.principal_for_session(token, csrf=csrf[:-1] + "x")
    with pytest.raises(AuthenticationError):
        access.principal_for_session("not-a-session", csrf=None)
    # a role granted later shows in the next request of the same session
    access.grant("eve", "shop-b", "viewer")
    assert access.principal_for_session(token, csrf=None).can("shop-b", "viewer")
    assert access.logout(token) and not access.logout(token)
    with pytest.raises(AuthenticationError):
        access.principal_for_session(token, csrf=None)


def test_sessions_expire(access: AccessRepository, clock: Clock) -> None:
    access.create_user("fay", PASSWORD, tenant="shop-a", role="agent")
    token, _, _ = access.login("fay", PASSWORD)
    clock.now += SESSION_LIFETIME - timedelta(seconds=1)
    access.principal_for_session(token, csrf=None)
    clock.now += timedelta(seconds=1)
    with pytest.raises(AuthenticationError):
        access.principal_for_session(token, csrf=None)


def test_wrong_password_and_unknown_user_get_the_same_answer(access: AccessRepository) -> None:
    access.create_user("gus", PASSWORD)
    with pytest.raises(AuthenticationError) as wrong:
        access.login("gus", PASSWORD + "x")
    with pytest.raises(AuthenticationError) as unknown:
        access.login("nobody", PASSWORD)
    assert wrong.value.message == unknown.value.message == "wrong username or password"


def test_lockout_after_ten_failures_then_open_again(access: AccessRepository, clock: Clock) -> None:
    access.create_user("hal", PASSWORD)
    access.create_user("ivy", PASSWORD)
    for _ in range(throttle.MAX_FAILURES - 1):
        with pytest.raises(AuthenticationError) as err:
            access.login("hal", "wrong password")
        assert "reason" not in err.value.details
        clock.now += timedelta(seconds=30)
    with pytest.raises(AuthenticationError) as tenth:
        access.login("hal", "wrong password")
    assert tenth.value.details == {"reason": "locked", "retry_after": 900}
    clock.now += timedelta(minutes=5)
    with pytest.raises(AuthenticationError) as locked:
        access.login("HAL", PASSWORD)  # even the right password, during the lock
    assert locked.value.details == {"reason": "locked", "retry_after": 600}
    assert "too many failed sign-ins" in locked.value.message
    access.login("ivy", PASSWORD)  # other users are not affected
    clock.now += timedelta(minutes=10)
    access.login("hal", PASSWORD)


def test_failures_outside_the_window_do_not_count(access: AccessRepository, clock: Clock) -> None:
    access.create_user("jon", PASSWORD)
    for _ in range(throttle.MAX_FAILURES - 1):
        with pytest.raises(AuthenticationError):
            access.login("jon", "wrong password")
    clock.now += throttle.WINDOW + timedelta(seconds=1)
    with pytest.raises(AuthenticationError) as err:
        access.login("jon", "wrong password")
    assert "reason" not in err.value.details  # one recent failure, not ten
    access.login("jon", PASSWORD)


def test_a_success_resets_the_count(access: AccessRepository) -> None:
    access.create_user("kim", PASSWORD)
    for _ in range(throttle.MAX_FAILURES - 1):
        with pytest.raises(AuthenticationError):
            access.login("kim", "wrong password")
    access.login("kim", PASSWORD)
    for _ in range(throttle.MAX_FAILURES - 1):
        with pytest.raises(AuthenticationError) as err:
            access.login("kim", "wrong password")
        assert "reason" not in err.value.details


def test_unknown_usernames_lock_like_known_ones(access: AccessRepository) -> None:
    for _ in range(throttle.MAX_FAILURES - 1):
        with pytest.raises(AuthenticationError):
            access.login("ghost", "wrong password")
    with pytest.raises(AuthenticationError) as err:
        access.login("ghost", "wrong password")
    assert err.value.details["reason"] == "locked"


def test_disabled_users_cannot_sign_in_or_use_sessions(access: AccessRepository) -> None:
    access.create_user("lee", PASSWORD, tenant="shop-a", role="agent")
    token, _, _ = access.login("lee", PASSWORD)
    access.disable("lee")
    with pytest.raises(AuthenticationError):
        access.principal_for_session(token, csrf=None)
    with pytest.raises(AuthenticationError) as err:
        access.login("lee", PASSWORD)
    assert err.value.details["reason"] == "disabled"
    with pytest.raises(AuthenticationError) as wrong:
        access.login("lee", "wrong password")  # a wrong password says nothing more
    assert "reason" not in wrong.value.details
    access.enable("lee")
    access.login("lee", PASSWORD)


def test_a_new_password_ends_sessions_and_lifts_the_lock(access: AccessRepository) -> None:
    access.create_user("max", PASSWORD)
    token, _, _ = access.login("max", PASSWORD)
    for _ in range(throttle.MAX_FAILURES):
        with pytest.raises(AuthenticationError):
            access.login("max", "wrong password")
    access.set_password("max", "a new secret!")
    with pytest.raises(AuthenticationError):
        access.principal_for_session(token, csrf=None)
    with pytest.raises(AuthenticationError):
        access.login("max", PASSWORD)
    access.login("max", "a new secret!")


def test_api_keys(access: AccessRepository) -> None:
    key, secret = access.create_api_key("shop-a", "agent", "bot")
    assert secret.startswith("kf_") and key.prefix == secret[:11]
    principal = access.principal_for_key(secret)
    assert principal.kind == "apikey" and principal.display == "key:bot"
    assert principal.roles == {"shop-a": "agent"}
    assert access.api_key(key.id).last_used_at is not None
    access.revoke_api_key(key.id)
    with pytest.raises(AuthenticationError):
        access.principal_for_key(secret)
    with pytest.raises(AuthenticationError):
        access.principal_for_key("kf_" + "x" * 40)
    with pytest.raises(TenantNotFound):
        access.create_api_key("ghost", "agent")
    with pytest.raises(InvalidInputError):
        access.create_api_key("shop-a", "root")
