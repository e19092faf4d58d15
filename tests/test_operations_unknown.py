"""Unknown outcomes and crashed claims: a write the shop may or may not have applied is recorded
``unknown_outcome`` and reconciled before its key is used again; a confirmed run left without an
outcome is reconciled the same way. The merchant is a real local server
(tests/fake_merchant.py) failing in each of its modes; nothing is ever applied twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from tests.fake_merchant import (
    FakeMerchant,
    merchant_config,
    merchant_fixture,  # noqa: F401 - the fixture "merchant"
)
from tests.test_operations import CASES, PENDING, TENANT, confirm, shop_slice

from kefu.config import Config
from kefu.connectors.embedded_writes import DryRun, Expect
from kefu.connectors.http import HttpShop
from kefu.errors import InvalidInputError
from kefu.operations.execute import Operations, Outcome
from kefu.operations.policy import ApprovalPolicy
from kefu.operations.preview import Preview
from kefu.service import Service, build_service
from kefu.storage.db import session_factory
from kefu.storage.ledger import LedgerEntry, LedgerRepository

CANCEL = CASES["cancel_order"]


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return shop_slice()


@pytest.fixture
def svc(config: Config, data: dict[str, Any]) -> Iterator[Service]:
    service = build_service(config, embedder=None)
    service.tenants.create(TENANT)
    service.shop.load(TENANT, data["users"], data["orders"], data["products"])
    yield service
    service.close()


@pytest.fixture
def loaded(merchant: FakeMerchant, data: dict[str, Any]) -> FakeMerchant:
    merchant.load(TENANT, data["users"], data["orders"], data["products"])
    return merchant


def http_shop(merchant: FakeMerchant, svc: Service, **options: Any) -> HttpShop:
    return HttpShop(merchant_config(merchant.base_url, **options), svc.tenants)


def layer(svc: Service, shop: Any, wait_s: float = 10.0) -> Operations:
    """An operation layer as one process has it (no approvals: threshold 100000)."""
    ledger = LedgerRepository(session_factory(svc.engine), svc.tenants)
    return Operations(shop, ledger, ApprovalPolicy(Decimal("100000")), wait_s=wait_s)


def statuses(ops: Operations, key: str) -> list[str]:
    return [r.status for r in ops.ledger.by_key(TENANT, key)]


def rows(ops: Operations, key: str) -> list[LedgerEntry]:
    return ops.ledger.by_key(TENANT, key)


def posts(merchant: FakeMerchant) -> list[str | None]:
    return [key for method, _, key in merchant.requests if method != "GET"]


def refunds(merchant: FakeMerchant) -> int:
    history = merchant.shop.order(TENANT, PENDING).payment_history
    return sum(1 for p in history if p.transaction_type == "refund")


def cancel_once(ops: Operations) -> tuple[Preview, Outcome]:
    shown = ops.preview(TENANT, CANCEL, conversation_id="c-1")
    return shown, ops.execute(shown, confirm(shown))


# -- a write that may or may not have happened ------------------------------------------------


@pytest.mark.parametrize("lookup", [True, False], ids=["key-record", "records"])
def test_500_after_the_write_is_unknown_then_reconciled_not_repeated(
    lookup: bool, loaded: FakeMerchant, svc: Service
) -> None:
    ops = layer(svc, http_shop(loaded, svc, lookup=lookup))
    loaded.misbehave("error_after", 1)
    shown, first = cancel_once(ops)
    assert first.status == "unknown_outcome" and not first.executed
    key = first.idempotency_key
    [unknown] = ops.ledger.list(TENANT, status="unknown_outcome")
    assert unknown.idempotency_key == key and unknown.id == first.ledger_id
    assert unknown.result is not None and unknown.result == {
        "error": {"code": "write_outcome_unknown", "message": unknown.result["error"]["message"]}
    }
    assert loaded.applied == [("cancel_order", key)]  # it did happen

    again = ops.execute(shown, confirm(shown))  # the customer says 确认 once more
    assert again.executed and again.result == {"order_id": PENDING, "status": "cancelled"}
    assert statuses(ops, key) == ["confirmed", "unknown_outcome", "confirmed", "executed"]
    executed = rows(ops, key)[-1]
    assert executed.ref == rows(ops, key)[2].id and executed.actor == "reconcile"
    assert executed.result is not None
    assert executed.result["reconciled"] == ("idempotency_record" if lookup else "records")
    assert executed.after is not None and executed.after["order"]["status"] == "cancelled"
    assert posts(loaded) == [key]  # never sent again
    assert loaded.applied == [("cancel_order", key)] and refunds(loaded) == 1

    third = ops.execute(shown, confirm(shown))
    assert third.replayed and third.ledger_id == again.ledger_id
    assert len(statuses(ops, key)) == 4


@pytest.mark.parametrize("lookup", [True, False], ids=["key-record", "records"])
def test_503_on_every_try_is_unknown_then_run_once_with_the_same_key(
    lookup: bool, loaded: FakeMerchant, svc: Service
) -> None:
    ops = layer(svc, http_shop(loaded, svc, lookup=lookup))
    loaded.misbehave("unavailable", 3)
    _, first = cancel_once(ops)
    assert first.status == "unknown_outcome" and loaded.applied == []
    key = first.idempotency_key
    assert posts(loaded) == [key] * 3  # retried, always with the same key

    done = ops.reconcile(first.ledger_id)
    assert done.executed and not done.replayed
    assert loaded.applied == [("cancel_order", key)] and posts(loaded) == [key] * 4
    assert statuses(ops, key) == ["confirmed", "unknown_outcome", "confirmed", "executed"]
    executed = rows(ops, key)[-1]
    assert executed.result is not None and "reconciled" not in executed.result  # it ran now
    assert ops.reconcile(key, tenant=TENANT).ledger_id == done.ledger_id  # settled: a replay
    assert refunds(loaded) == 1


def test_a_dropped_connection_after_the_write_is_reconciled_as_executed(
    loaded: FakeMerchant, svc: Service
) -> None:
    ops = layer(svc, http_shop(loaded, svc))
    loaded.misbehave("drop_after", 3)
    _, first = cancel_once(ops)
    assert first.status == "unknown_outcome"
    key = first.idempotency_key
    assert posts(loaded) == [key] * 3 and loaded.applied == [("cancel_order", key)]
    done = ops.reconcile(key, tenant=TENANT)
    assert done.executed and posts(loaded) == [key] * 3
    assert refunds(loaded) == 1


def test_a_write_held_past_the_timeout_stays_unknown_until_the_merchant_finishes(
    loaded: FakeMerchant, svc: Service
) -> None:
    ops = layer(svc, http_shop(loaded, svc, read_timeout=0.5))
    loaded.misbehave("delay", 1)
    _, first = cancel_once(ops)
    assert first.status == "unknown_outcome"
    key = first.idempotency_key
    assert loaded.holding.wait(5)  # the merchant is still working on it
    pending = ops.reconcile(first.ledger_id)
    assert pending.status == "unknown_outcome" and pending.ledger_id != first.ledger_id
    last = rows(ops, key)[-1]
    assert last.result is not None and last.result["error"]["code"] == "outcome_unknown"
    assert loaded.applied == [] and posts(loaded) == [key]  # nothing re-sent while pending

    loaded.release.set()
    assert loaded.wait_applied(1) and loaded.wait_idle()
    done = ops.reconcile(first.ledger_id)
    assert done.executed
    assert statuses(ops, key) == [
        "confirmed",
        "unknown_outcome",
        "confirmed",
        "unknown_outcome",
        "confirmed",
        "executed",
    ]
    assert loaded.applied == [("cancel_order", key)] and refunds(loaded) == 1


def test_without_a_key_record_an_in_flight_write_and_its_retry_count_once(
    loaded: FakeMerchant, svc: Service
) -> None:
    """The records still look untouched while the merchant holds the first request, so the
    reconciliation sends the write again - with the same key: the merchant applies it once."""
    ops = layer(svc, http_shop(loaded, svc, read_timeout=0.5, lookup=False))
    loaded.misbehave("delay", 1)
    _, first = cancel_once(ops)
    key = first.idempotency_key
    assert first.status == "unknown_outcome" and loaded.holding.wait(5)
    retried = ops.reconcile(first.ledger_id)  # queued behind the held request: times out too
    assert retried.status == "unknown_outcome" and posts(loaded) == [key, key]
    loaded.release.set()
    assert loaded.wait_idle()
    assert loaded.applied == [("cancel_order", key)]
    done = ops.reconcile(first.ledger_id)
    assert done.executed and refunds(loaded) == 1
    assert rows(ops, key)[-1].result == {
        "record": {"order_id": PENDING, "status": "cancelled"},
        "reconciled": "records",
    }


# -- crashed processes ------------------------------------------------------------------------


class Crash(BaseException):
    """The process dies here (not an Exception: nothing catches it, nothing is recorded)."""


class CrashingShop:
    """A shop whose process dies just before (``after=False``) or after its write."""

    def __init__(self, shop: Any, *, after: bool) -> None:
        self.shop = shop
        self.after = after

    def dry_run(self, tenant: str, operation: str, arguments: Any) -> DryRun:
        run: DryRun = self.shop.dry_run(tenant, operation, arguments)
        return run

    def write(
        self, tenant: str, operation: str, arguments: Any, *, expect: Expect | None = None
    ) -> DryRun:
        if not self.after:
            raise Crash
        self.shop.write(tenant, operation, arguments, expect=expect)
        raise Crash


class CrashingHttpShop(CrashingShop):
    def write(
        self,
        tenant: str,
        operation: str,
        arguments: Any,
        *,
        expect: Expect | None = None,
        idempotency_key: str | None = None,
    ) -> DryRun:
        if not self.after:
            raise Crash
        self.shop.write(
            tenant, operation, arguments, expect=expect, idempotency_key=idempotency_key
        )
        raise Crash

    def recorded_write(self, *args: Any) -> Any:
        return self.shop.recorded_write(*args)


def crash(ops: Operations) -> Preview:
    shown = ops.preview(TENANT, CANCEL, conversation_id="c-1")
    with pytest.raises(Crash):
        ops.execute(shown, confirm(shown))
    return shown


@pytest.mark.parametrize("after", [False, True], ids=["before-write", "after-write"])
def test_a_crashed_confirmation_is_reconciled_by_the_next_one(
    after: bool, loaded: FakeMerchant, svc: Service
) -> None:
    http = http_shop(loaded, svc)
    shown = crash(layer(svc, CrashingHttpShop(http, after=after)))
    key = layer(svc, http).ledger.list(TENANT, status="confirmed")[0].idempotency_key
    assert key is not None and statuses(layer(svc, http), key) == ["confirmed"]  # hanging
    assert len(loaded.applied) == (1 if after else 0)

    other = layer(svc, http, wait_s=0)  # another process, after the wait
    outcome = other.execute(shown, confirm(shown))
    assert outcome.executed
    assert statuses(other, key) == ["confirmed", "unknown_outcome", "confirmed", "executed"]
    hung = rows(other, key)[1]
    assert hung.result is not None and hung.result["error"]["code"] == "no_outcome_recorded"
    assert loaded.applied == [("cancel_order", key)] and refunds(loaded) == 1
    assert posts(loaded) == [key]


def test_a_crash_after_an_embedded_write_is_reconciled_from_the_records(svc: Service) -> None:
    shown = crash(layer(svc, CrashingShop(svc.shop, after=True)))
    assert svc.shop.order(TENANT, PENDING).status == "cancelled"  # written, never recorded
    ops = layer(svc, svc.shop, wait_s=0)
    [hanging] = ops.ledger.list(TENANT, status="confirmed")
    assert hanging.idempotency_key is not None
    outcome = ops.reconcile(hanging.id)
    assert outcome.executed
    executed = rows(ops, hanging.idempotency_key)[-1]
    assert executed.result is not None and executed.result["reconciled"] == "records"
    history = svc.shop.order(TENANT, PENDING).payment_history
    assert [p.transaction_type for p in history] == ["payment", "refund"]  # refunded once
    assert ops.execute(shown, confirm(shown)).ledger_id == outcome.ledger_id


def test_a_crash_before_an_embedded_write_runs_it_once(svc: Service) -> None:
    shown = crash(layer(svc, CrashingShop(svc.shop, after=False)))
    assert svc.shop.order(TENANT, PENDING).status == "pending"
    outcome = layer(svc, svc.shop, wait_s=0).execute(shown, confirm(shown))
    assert outcome.executed and svc.shop.order(TENANT, PENDING).status == "cancelled"


def test_a_young_run_without_an_outcome_is_left_to_its_process(
    loaded: FakeMerchant, svc: Service
) -> None:
    http = http_shop(loaded, svc)
    crash(layer(svc, CrashingHttpShop(http, after=False)))
    ops = layer(svc, http, wait_s=600)
    [hanging] = ops.ledger.list(TENANT, status="confirmed")
    outcome = ops.reconcile(hanging.id)
    assert outcome.status == "confirmed" and outcome.replayed  # in progress, untouched
    assert len(ops.ledger.list(TENANT)) == 2 and loaded.applied == []


def test_reconcile_needs_a_confirmed_operation(svc: Service) -> None:
    ops = layer(svc, svc.shop)
    shown = ops.preview(TENANT, CANCEL, conversation_id="c-1")
    assert shown.ledger_id is not None
    with pytest.raises(InvalidInputError) as err:
        ops.reconcile(shown.ledger_id)
    assert err.value.field == "id"
    with pytest.raises(InvalidInputError):
        ops.reconcile("no-such-key", tenant=TENANT)
    with pytest.raises(InvalidInputError) as err:
        ops.reconcile("no-such-key")
    assert err.value.field == "tenant"


# -- concurrency --------------------------------------------------------------------------------


def _together(count: int, work: Any) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_confirmations_while_the_merchant_fails_apply_once(
    config: Config, loaded: FakeMerchant, svc: Service
) -> None:
    """Four workers (own engines, as processes) confirm at once; the first write gets a 500
    after it was applied. The claimer reports the unknown outcome; the others reconcile it."""
    services = [build_service(config, embedder=None) for _ in range(4)]
    try:
        layers = [layer(s, http_shop(loaded, s)) for s in services]
        shown = layers[0].preview(TENANT, CANCEL, conversation_id="c-7")
        loaded.misbehave("error_after", 1)
        outcomes = _together(4, lambda i: layers[i].execute(shown, confirm(shown)))
        assert sorted(o.status for o in outcomes) == ["executed"] * 3 + ["unknown_outcome"]
        key = outcomes[0].idempotency_key
        assert loaded.applied == [("cancel_order", key)] and posts(loaded) == [key]
        assert statuses(layers[0], key).count("executed") == 1
        assert refunds(loaded) == 1
    finally:
        for s in services:
            s.close()


def test_concurrent_reconciliations_run_the_write_once(
    config: Config, loaded: FakeMerchant, svc: Service
) -> None:
    services = [build_service(config, embedder=None) for _ in range(4)]
    try:
        layers = [layer(s, http_shop(loaded, s)) for s in services]
        loaded.misbehave("unavailable", 3)
        _, first = cancel_once(layers[0])
        assert first.status == "unknown_outcome" and loaded.applied == []
        outcomes = _together(4, lambda i: layers[i].reconcile(first.ledger_id))
        assert all(o.executed for o in outcomes), [o.status for o in outcomes]
        assert len({o.ledger_id for o in outcomes}) == 1
        key = first.idempotency_key
        assert loaded.applied == [("cancel_order", key)] and posts(loaded) == [key] * 4
        assert statuses(layers[0], key) == [
            "confirmed",
            "unknown_outcome",
            "confirmed",
            "executed",
        ]
        assert refunds(loaded) == 1
    finally:
        for s in services:
            s.close()


def test_an_approved_write_with_an_unknown_outcome_is_not_queued_again(
    loaded: FakeMerchant, svc: Service
) -> None:
    ledger = LedgerRepository(session_factory(svc.engine), svc.tenants)
    ops = Operations(http_shop(loaded, svc), ledger, ApprovalPolicy(Decimal("0")), wait_s=10)
    shown, queued = cancel_once(ops)
    assert queued.status == "awaiting_approval"
    loaded.misbehave("unavailable", 3)
    unknown = ops.approve(queued.ledger_id, "alice")
    assert unknown.status == "unknown_outcome" and loaded.applied == []
    done = ops.execute(shown, confirm(shown))  # the customer asks again: reconciled, run once
    assert done.executed and loaded.applied == [("cancel_order", unknown.idempotency_key)]
    assert statuses(ops, unknown.idempotency_key) == [
        "confirmed",
        "awaiting_approval",
        "approved",
        "unknown_outcome",
        "confirmed",
        "executed",
    ]
