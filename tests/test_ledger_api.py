"""The operation ledger over HTTP (``/v1/operations``) and the CLI (``kefu ledger``), on the
database of a real service; the shop and cases are those of ``tests/test_operations.py``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.test_error_shape import assert_error
from tests.test_operations import CASES, PENDING, TENANT, confirm, shop_slice

from kefu.api.app import create_app
from kefu.config import Config
from kefu.operations.execute import Operations, operations_of
from kefu.service import Service, build_service


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return shop_slice()


@pytest.fixture
def svc(config: Config, data: dict[str, Any]) -> Iterator[Service]:
    service = build_service(config, embedder=None)
    service.tenants.create(TENANT)
    service.tenants.create("other")
    service.shop.load(TENANT, data["users"], data["orders"], data["products"])
    yield service
    service.close()


@pytest.fixture
def ops(svc: Service) -> Operations:
    return operations_of(svc)  # the default policy: refunds over 2000 wait for approval


@pytest.fixture
def api(svc: Service) -> Iterator[TestClient]:
    """A client holding a supervisor key for every tenant, named "alice"."""
    _, secret = svc.access.create_api_key("*", "supervisor", "alice")
    with TestClient(create_app(svc), headers={"Authorization": f"Bearer {secret}"}) as c:
        yield c


def queue_cancel(ops: Operations, conversation_id: str = "c-1") -> int:
    """A cancel of PENDING (4079.45) confirmed and queued for approval: its ledger id."""
    shown = ops.preview(TENANT, CASES["cancel_order"], conversation_id=conversation_id)
    outcome = ops.execute(shown, confirm(shown))
    assert outcome.status == "awaiting_approval"
    return outcome.ledger_id


# -- HTTP ---------------------------------------------------------------------------------------


def test_list_filters_and_orders_newest_first(api: TestClient, ops: Operations) -> None:
    queue_cancel(ops, "c-1")
    ops.preview(TENANT, CASES["modify_order_address"], conversation_id="c-2")
    r = api.get("/v1/operations", params={"tenant": TENANT})
    assert r.status_code == 200, r.text
    rows = r.json()
    assert [e["status"] for e in rows] == [
        "previewed",
        "awaiting_approval",
        "confirmed",
        "previewed",
    ]
    first = rows[-1]
    assert first["operation"] == "cancel_order" and first["conversation_id"] == "c-1"
    assert first["customer_id"] == "ethan_lopez_6291" and first["tenant"] == TENANT
    assert first["arguments"] == {"order_id": PENDING, "reason": "ordered by mistake"}
    assert first["preview"]["amount"] == "4079.45" and len(first["fingerprint"]) == 64
    assert set(first) >= {"confirmation", "idempotency_key", "result", "before", "after"}
    assert first["actor"] == "bot" and first["created_at"]
    by_conv = api.get("/v1/operations", params={"tenant": TENANT, "conversation": "c-2"}).json()
    assert [e["operation"] for e in by_conv] == ["modify_order_address"]
    queued = api.get("/v1/operations", params={"tenant": TENANT, "status": "awaiting_approval"})
    assert [e["status"] for e in queued.json()] == ["awaiting_approval"]
    assert len(api.get("/v1/operations", params={"tenant": TENANT, "limit": 1}).json()) == 1
    assert api.get("/v1/operations", params={"tenant": "other"}).json() == []
    one = api.get(f"/v1/operations/{first['id']}")
    assert one.status_code == 200 and one.json() == first


def test_list_errors(api: TestClient) -> None:
    assert_error(api.get("/v1/operations", params={"tenant": "nope"}), 404, "tenant_not_found")
    assert_error(api.get("/v1/operations"), 422, "invalid_input", "tenant")
    assert_error(
        api.get("/v1/operations", params={"tenant": TENANT, "status": "done"}),
        422,
        "invalid_input",
        "status",
    )
    assert_error(
        api.get("/v1/operations", params={"tenant": TENANT, "limit": 0}),
        422,
        "invalid_input",
        "limit",
    )
    assert_error(api.get("/v1/operations/999999"), 404, "operation_not_found")


def test_approve_over_http_runs_it_once(api: TestClient, ops: Operations, svc: Service) -> None:
    ledger_id = queue_cancel(ops)
    r = api.post(f"/v1/operations/{ledger_id}/approve", json={})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "executed" and body["operation"] == "cancel_order"
    assert body["result"] == {"order_id": PENDING, "status": "cancelled"}
    assert svc.shop.dump(TENANT).orders[PENDING]["status"] == "cancelled"
    err = assert_error(
        api.post(f"/v1/operations/{ledger_id}/approve", json={}),
        409,
        "not_awaiting_approval",
    )
    assert err["details"]["status"] == "approved"
    assert_error(
        api.post(f"/v1/operations/{body['ledger_id']}/reject"),
        409,
        "not_awaiting_approval",
    )
    history = svc.shop.dump(TENANT).orders[PENDING]["payment_history"]
    assert [p["transaction_type"] for p in history] == ["payment", "refund"]
    # the approver recorded is the authenticated caller, not a name the request supplies
    [approved] = svc.operations.ledger.list(TENANT, status="approved")
    assert approved.actor == "key:alice"


def test_reject_over_http(api: TestClient, ops: Operations, svc: Service) -> None:
    ledger_id = queue_cancel(ops)
    r = api.post(f"/v1/operations/{ledger_id}/reject", json={"note": "fraud check"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "rejected" and r.json()["note"] == "fraud check"
    assert r.json()["actor"] == "key:alice"
    assert svc.shop.dump(TENANT).orders[PENDING]["status"] == "pending"


def test_decision_errors(api: TestClient, ops: Operations) -> None:
    ledger_id = queue_cancel(ops)
    assert_error(
        api.post("/v1/operations/999999/approve", json={}),
        404,
        "operation_not_found",
    )
    # the approver is whoever is authenticated: a body naming one is refused, not believed
    assert_error(
        api.post(f"/v1/operations/{ledger_id}/approve", json={"approver": "mallory"}),
        422,
        "invalid_input",
        "approver",
    )
    assert_error(
        api.post(f"/v1/operations/{ledger_id}/approve", json={"note": "x" * 2001}),
        422,
        "invalid_input",
        "note",
    )
    assert_error(api.post("/v1/operations/abc/approve", json={}), 422, "invalid_input")
    assert api.get(f"/v1/operations/{ledger_id}").json()["status"] == "awaiting_approval"


def test_reconcile_over_http_settles_a_crashed_write_once(api: TestClient, svc: Service) -> None:
    """A process died after its embedded write but before recording it: reconcile finds the
    write in the records and records it; a second reconcile only returns that outcome."""
    from decimal import Decimal

    from tests.test_operations_unknown import CrashingShop, crash

    from kefu.operations.policy import ApprovalPolicy

    free = ApprovalPolicy(amount_threshold=Decimal(10**9))  # nothing waits for approval
    crash(Operations(CrashingShop(svc.connector, after=True), svc.operations.ledger, free))
    svc.operations = Operations(svc.connector, svc.operations.ledger, free, wait_s=0)
    [hanging] = svc.operations.ledger.list(TENANT, status="confirmed")
    r = api.post(f"/v1/operations/{hanging.id}/reconcile")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "executed" and not r.json()["replayed"]
    again = api.post(f"/v1/operations/{hanging.id}/reconcile").json()
    assert again["status"] == "executed" and again["replayed"]
    history = svc.shop.dump(TENANT).orders[PENDING]["payment_history"]
    assert [p["transaction_type"] for p in history] == ["payment", "refund"]  # refunded once
    previewed = svc.operations.ledger.list(TENANT, status="previewed")[0]
    err = assert_error(api.post(f"/v1/operations/{previewed.id}/reconcile"), 422, "invalid_input")
    assert "never confirmed" in err["message"]


# -- CLI ----------------------------------------------------------------------------------------


def test_cli_lists_approves_and_rejects(kefu, ops: Operations, svc: Service) -> None:  # type: ignore[no-untyped-def]
    queued = queue_cancel(ops, "c-1")
    listed = json.loads(kefu("ledger", "list", "--tenant", TENANT, "--json").stdout)
    assert [e["status"] for e in listed] == ["awaiting_approval", "confirmed", "previewed"]
    assert listed[0]["id"] == queued
    table = kefu("ledger", "list", "--tenant", TENANT).stdout
    assert "awaiting_approval" in table and "cancel_order" in table
    done = kefu("ledger", "approve", str(queued), "--approver", "alice").stdout
    assert f"operation {queued}: executed" in done
    assert svc.shop.dump(TENANT).orders[PENDING]["status"] == "cancelled"
    again = kefu("ledger", "approve", str(queued), "--approver", "bob", ok=False)
    assert again.returncode == 2 and "not awaiting approval" in again.stderr
    executed = json.loads(
        kefu("ledger", "list", "--tenant", TENANT, "--status", "executed", "--json").stdout
    )
    assert len(executed) == 1 and executed[0]["actor"] == "alice"
    # a second queued operation, rejected
    other = queue_other(ops)
    rejected = json.loads(
        kefu("ledger", "reject", str(other), "--approver", "bob", "--note", "no", "--json").stdout
    )
    assert rejected["status"] == "rejected" and rejected["note"] == "no"
    settled = json.loads(kefu("ledger", "reconcile", str(queued), "--json").stdout)
    assert settled["status"] == "executed" and settled["replayed"]  # nothing to settle


def queue_other(ops: Operations) -> int:
    """A return of a delivered order refunding more than 2000, queued for approval."""
    from kefu.operations.requests import ReturnOrderItems

    order = "#W2941275"  # ava_lopez_2676, delivered, paid 2925.75 by credit card
    items = tuple(i["item_id"] for i in shop_slice()["orders"][order]["items"])
    shown = ops.preview(TENANT, ReturnOrderItems(order, items, "credit_card_7772870"))
    assert shown.needs_approval == ("amount_over_threshold",), shown.to_dict()
    outcome = ops.execute(shown, confirm(shown))
    assert outcome.status == "awaiting_approval"
    return outcome.ledger_id


def test_cli_errors(kefu, ops: Operations) -> None:  # type: ignore[no-untyped-def]
    proc = kefu("ledger", "list", "--tenant", "nope", ok=False)
    assert proc.returncode == 2 and "unknown tenant" in proc.stderr
    proc = kefu("ledger", "approve", "424242", "--approver", "a", ok=False)
    assert proc.returncode == 2 and "unknown operation: 424242" in proc.stderr
    proc = kefu("ledger", "list", "--tenant", TENANT, "--status", "done", ok=False)
    assert proc.returncode == 2 and "status must be one of" in proc.stderr
    proc = kefu("ledger", "reject", "1", ok=False)
    assert proc.returncode != 0 and "--approver" in proc.stderr
