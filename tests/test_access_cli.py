"""``kefu user`` and ``kefu apikey`` as real subprocesses on the test's database; what they
write is checked by signing in over HTTP and by the repository."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kefu.api.app import create_app
from kefu.config import Config
from kefu.service import Service, build_service

PASSWORD = "correct horse battery"
ADMIN = ("--role", "admin", "--password-stdin", "--json")


@pytest.fixture
def svc(config: Config, kefu) -> Iterator[Service]:  # type: ignore[no-untyped-def]
    # the same database as the CLI: the test's KEFU_DATABASE_URL
    service = build_service(
        Config.from_env(config.data_dir, env={"KEFU_DATABASE_URL": kefu.env["KEFU_DATABASE_URL"]}),
        embedder=None,
    )
    service.tenants.create("shop")
    yield service
    service.close()


def test_first_admin_then_users_and_keys(kefu, svc: Service) -> None:  # type: ignore[no-untyped-def]
    # the first administrator, password from standard input
    proc = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "user", "create", "Admin", "--tenant", "*", *ADMIN],
        input=PASSWORD + "\n",
        env=kefu.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    created = json.loads(proc.stdout)
    assert created["username"] == "admin" and created["roles"] == {"*": "admin"}
    assert PASSWORD not in proc.stdout + proc.stderr
    with TestClient(create_app(svc)) as c:
        r = c.post("/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200, r.text

    # an agent, password from the environment (scripts)
    kefu.env["KEFU_USER_PASSWORD"] = PASSWORD
    out = kefu(
        "user", "create", "ann", "--tenant", "shop", "--role", "agent", "--skills", "售后,presale"
    ).stdout
    assert "created user ann: shop:agent" in out
    assert svc.access.skills("ann", "shop") == ["售后", "presale"]
    kefu("user", "grant", "ann", "--tenant", "shop", "--role", "supervisor")
    listed = json.loads(kefu("user", "list", "--tenant", "shop", "--json").stdout)
    assert [(u["username"], u["roles"]) for u in listed] == [("ann", {"shop": "supervisor"})]
    kefu.env["KEFU_USER_PASSWORD"] = "another secret"
    kefu("user", "passwd", "ann")
    svc.access.login("ann", "another secret")
    assert "disabled" in kefu("user", "disable", "ann").stdout
    assert svc.access.user("ann").disabled

    # API keys: the secret once, then only the prefix
    made = json.loads(
        kefu(
            "apikey", "create", "--tenant", "shop", "--role", "viewer", "--name", "bi", "--json"
        ).stdout
    )
    secret = made["secret"]
    assert secret.startswith("kf_") and made["key"]["role"] == "viewer"
    assert svc.access.principal_for_key(secret).can("shop", "viewer")
    plain = kefu("apikey", "create", "--tenant", "shop", "--role", "agent").stdout
    assert plain.strip().splitlines()[-1].startswith("kf_")
    table = kefu("apikey", "list", "--tenant", "shop").stdout
    assert "bi" in table and secret not in table
    kefu("apikey", "revoke", str(made["key"]["id"]))
    assert [k.revoked_at is not None for k in svc.access.api_keys()] == [True, False]


def test_cli_errors(kefu, svc: Service) -> None:  # type: ignore[no-untyped-def]
    kefu.env.pop("KEFU_USER_PASSWORD", None)
    # no terminal, no --password-stdin, no environment: a clear refusal, no user
    proc = kefu("user", "create", "bob", "--tenant", "shop", "--role", "agent", ok=False)
    assert proc.returncode == 2 and "--password-stdin" in proc.stderr
    kefu.env["KEFU_USER_PASSWORD"] = "short"
    proc = kefu("user", "create", "bob", "--tenant", "shop", "--role", "agent", ok=False)
    assert proc.returncode == 2 and "at least 8" in proc.stderr
    assert svc.access.users() == []
    proc = kefu("apikey", "revoke", "4242", ok=False)
    assert proc.returncode == 2 and "unknown API key" in proc.stderr
