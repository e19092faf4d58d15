"""Tickets opened and settled from the operation ledger (the Operations listener hook): a write
queued for approval opens an approval ticket that is resolved when the approval is decided; a
failed write opens an operation_failed ticket; a write whose outcome is unknown (a real
merchant server answering 500 after writing) opens a P1 ticket; one ticket per operation; a
listener that raises never breaks the write."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from tests.fake_merchant import (
    FakeMerchant,
    merchant_config,
    merchant_fixture,  # noqa: F401 - the fixture "merchant"
)
from tests.test_operations import CASES, PENDING, TENANT, VanishingShop, confirm, shop_slice

from kefu.config import Config
from kefu.connectors.http import HttpShop
from kefu.humans.tickets import Ticket
from kefu.operations.execute import Operations
from kefu.operations.policy import ApprovalPolicy
from kefu.service import Service, build_service
from kefu.storage.ledger import LedgerEntry

CANCEL = CASES["cancel_order"]  # refunds 4079.45: over the default approval threshold (2000)


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return shop_slice()


@pytest.fixture
def svc(config: Config, data: dict[str, Any]) -> Iterator[Service]:
    service = build_service(config, embedder=None)
    service.tenants.create(
        TENANT, {"level": "L3", "tickets.routing": {"order_change": "orders", "*": "general"}}
    )
    service.shop.load(TENANT, data["users"], data["orders"], data["products"])
    yield service
    service.close()


def tickets(svc: Service, **filters: Any) -> list[Ticket]:
    return svc.tickets.list(TENANT, **filters)[0]


def history(svc: Service, ticket_id: int) -> list[tuple[str, str, str | None]]:
    return [(e.kind, e.actor, e.body) for e in svc.tickets.get(ticket_id).events or []]


def test_approval_opens_a_ticket_that_the_decision_resolves(svc: Service) -> None:
    shown = svc.operations.preview(TENANT, CANCEL, conversation_id="c-1")
    queued = svc.operations.execute(shown, confirm(shown))
    assert queued.status == "awaiting_approval"
    [t] = tickets(svc)
    assert (t.source, t.category, t.queue, t.status) == (
        "approval",
        "order_change",
        "orders",
        "open",
    )
    # approval is P2; the refund (4079.45) is over tickets.high_value_amount (1000): P1
    assert t.priority == "P1" and t.data["order_value"] == pytest.approx(4079.45)
    assert t.ledger_id == queued.ledger_id and t.conversation_id == "c-1"
    assert t.customer == "ethan_lopez_6291" and PENDING in t.subject
    assert t.dedupe_key == f"approval:{queued.idempotency_key}"
    # the customer confirms again: still one ticket
    assert svc.operations.execute(shown, confirm(shown)).status == "awaiting_approval"
    assert len(tickets(svc)) == 1

    done = svc.operations.approve(queued.ledger_id, "alice", note="checked")
    assert done.executed
    after = svc.tickets.get(t.id)
    assert after.status == "resolved" and after.resolved_at is not None
    kinds = history(svc, t.id)
    assert kinds[0][0] == "created"
    assert kinds[1] == ("comment", "system", "已批准 / Approved by alice: checked")
    assert kinds[2][0] == "status" and "Executed" in (kinds[2][2] or "")
    assert after.first_responded_at is None  # the system's comment is no human response
    assert len(tickets(svc)) == 1  # an executed write opens nothing


def test_a_rejection_resolves_the_approval_ticket(svc: Service) -> None:
    shown = svc.operations.preview(TENANT, CANCEL)
    queued = svc.operations.execute(shown, confirm(shown))
    svc.operations.reject(queued.ledger_id, "bob", "looks like fraud")
    [t] = tickets(svc)
    assert t.status == "resolved"
    assert "Rejected by bob: looks like fraud" in (history(svc, t.id)[-1][2] or "")


def test_a_failed_write_opens_one_operation_failed_ticket(svc: Service) -> None:
    policy = ApprovalPolicy(Decimal("100000"))
    shown = svc.operations.preview(TENANT, CASES["modify_order_address"])
    layer = Operations(
        VanishingShop(svc.shop), svc.operations.ledger, policy, listeners=svc.operations.listeners
    )
    assert layer.execute(shown, confirm(shown)).status == "failed"
    assert layer.execute(shown, confirm(shown)).replayed
    [t] = tickets(svc)
    assert (t.source, t.priority, t.category) == ("operation_failed", "P2", "order_change")
    assert "order_not_found" in t.description


def test_an_unknown_outcome_opens_a_p1_ticket(
    svc: Service, merchant: FakeMerchant, data: dict[str, Any]
) -> None:
    merchant.load(TENANT, data["users"], data["orders"], data["products"])
    shop = HttpShop(merchant_config(merchant.base_url), svc.tenants)
    try:
        layer = Operations(
            shop,
            svc.operations.ledger,
            ApprovalPolicy(Decimal("100000")),
            listeners=svc.operations.listeners,
        )
        merchant.misbehave("error_after", 1)
        shown = layer.preview(TENANT, CANCEL, conversation_id="c-2")
        first = layer.execute(shown, confirm(shown))
        assert first.status == "unknown_outcome"
    finally:
        shop.close()
    [t] = tickets(svc)
    assert (t.source, t.priority) == ("operation_unknown", "P1")
    assert t.dedupe_key == f"operation_unknown:{first.idempotency_key}"
    assert (t.first_response_due_at - t.created_at).total_seconds() == 30 * 60
    assert "write_outcome_unknown" in t.description and t.conversation_id == "c-2"


def test_a_listener_that_raises_never_breaks_the_write(svc: Service) -> None:
    seen: list[str] = []

    def broken(entry: LedgerEntry) -> None:
        seen.append(entry.status)
        raise RuntimeError("listener bug")

    svc.operations.listeners.insert(0, broken)
    shown = svc.operations.preview(TENANT, CANCEL)
    queued = svc.operations.execute(shown, confirm(shown))
    assert queued.status == "awaiting_approval"
    assert svc.operations.approve(queued.ledger_id, "alice").executed
    assert seen == ["previewed", "confirmed", "awaiting_approval", "approved", "executed"]
    [t] = tickets(svc)  # the tickets listener after it still ran
    assert t.status == "resolved"
