"""The operation layer of L3: previews, confirmation bound to the preview, idempotency, the
approval queue and the append-only ledger, on a real database (SQLite or PostgreSQL).

The shop is a slice of tau's retail data (the customers of ``tests/test_shop_writes.py``).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from tests.test_tau_conformance import TAU

from kefu.config import Config
from kefu.connectors.embedded import EmbeddedShop
from kefu.connectors.embedded_writes import DryRun, Expect
from kefu.connectors.port import Address
from kefu.connectors.tau_io import read_tau
from kefu.errors import (
    ConflictError,
    InvalidInputError,
    NotAwaitingApproval,
    OperationNotFound,
    OperationRefused,
    OrderNotFound,
)
from kefu.operations.execute import Confirmation, Operations, idempotency_key
from kefu.operations.policy import ApprovalPolicy
from kefu.operations.preview import Preview, cents, preview
from kefu.operations.requests import (
    OPERATIONS,
    CancelOrder,
    ExchangeOrderItems,
    ModifyCustomerAddress,
    ModifyOrderAddress,
    ModifyOrderItems,
    ModifyOrderPayment,
    Request,
    ReturnOrderItems,
    request_from_args,
)
from kefu.service import Service, build_service
from kefu.storage.db import session_factory
from kefu.storage.ledger import LedgerRepository

TENANT = "tau"
PENDING = "#W6779827"  # ethan_lopez_6291, pending, paid 4079.45 by gift_card_7219486 (49)
DELIVERED = "#W3113816"  # emma_santos_9753, credit card; gift_card_6023546 (36)
PROCESSED = "#W2611340"  # james_li_5688
ODD_PRICES = "#W7147989"  # ethan_sanchez_7289, pending, gift_card_5917510 (73)
CUSTOMERS = (
    "ethan_lopez_6291",
    "emma_santos_9753",
    "james_li_5688",
    "ava_lopez_2676",
    "ethan_sanchez_7289",
)
ADDRESS = Address(
    address1="9 Elm St", address2="", city="Austin", state="TX", country="USA", zip="78701"
)


def shop_slice() -> dict[str, Any]:
    tau = read_tau(TAU)
    users = {c: copy.deepcopy(tau.users[c]) for c in CUSTOMERS}
    orders = {o: copy.deepcopy(tau.orders[o]) for u in users.values() for o in u["orders"]}
    return {"users": users, "orders": orders, "products": tau.products}


class CountingShop:
    """The embedded shop, counting the writes that reach it (by operation name)."""

    def __init__(self, shop: EmbeddedShop) -> None:
        self.shop = shop
        self.writes: list[str] = []

    def dry_run(self, tenant: str, operation: str, arguments: Any) -> DryRun:
        return self.shop.dry_run(tenant, operation, arguments)

    def write(
        self, tenant: str, operation: str, arguments: Any, *, expect: Expect | None = None
    ) -> DryRun:
        self.writes.append(operation)
        return self.shop.write(tenant, operation, arguments, expect=expect)


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
def counting(svc: Service) -> CountingShop:
    return CountingShop(svc.shop)


def operations(svc: Service, shop: Any, threshold: str = "100000") -> Operations:
    ledger = LedgerRepository(session_factory(svc.engine), svc.tenants)
    return Operations(shop, ledger, ApprovalPolicy(Decimal(threshold)))


@pytest.fixture
def ops(svc: Service, counting: CountingShop) -> Operations:
    """No approvals needed (threshold 100000)."""
    return operations(svc, counting)


@pytest.fixture
def guarded(svc: Service, counting: CountingShop) -> Operations:
    """The default approval threshold (2000)."""
    ledger = LedgerRepository(session_factory(svc.engine), svc.tenants)
    return Operations(counting, ledger)


def dump(svc: Service) -> Any:
    return svc.shop.dump(TENANT)


def confirm(p: Preview, **kw: Any) -> Confirmation:
    return Confirmation(p.fingerprint, text="确认", **kw)


# -- previews match what executing writes -------------------------------------------------------

CASES: dict[str, Request] = {
    "cancel_order": CancelOrder(PENDING, "ordered by mistake"),
    "modify_order_address": ModifyOrderAddress(PENDING, ADDRESS),
    "modify_customer_address": ModifyCustomerAddress("james_li_5688", ADDRESS),
    "modify_order_items": ModifyOrderItems(
        ODD_PRICES, ("1120917161",), ("5745575001",), "gift_card_5917510"
    ),
    "modify_order_payment": ModifyOrderPayment(PENDING, "credit_card_9789590"),
    "return_order_items": ReturnOrderItems(
        DELIVERED, ("4843487907", "2206116040"), "gift_card_6023546"
    ),
    "exchange_order_items": ExchangeOrderItems(
        DELIVERED, ("4422467033", "6243148452"), ("6130713659", "6243148452"), "gift_card_6023546"
    ),
}


def test_every_write_operation_has_a_case() -> None:
    assert sorted(CASES) == sorted(OPERATIONS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_preview_matches_what_executing_writes(
    name: str, svc: Service, ops: Operations, counting: CountingShop
) -> None:
    request = CASES[name]
    before = dump(svc)
    shown = ops.preview(TENANT, request, conversation_id="c-1")
    assert shown.ok and shown.ledger_id is not None
    assert dump(svc) == before, "a preview writes nothing"
    assert counting.writes == []
    outcome = ops.execute(shown, confirm(shown))
    assert outcome.executed and not outcome.replayed
    assert counting.writes == [name]
    after = dump(svc)
    # the records after the write are exactly the preview's "after"
    if "order" in shown.after:
        order_id = shown.after["order"]["order_id"]
        assert after.orders[order_id] == shown.after["order"]
        old = before.orders[order_id]["payment_history"]
        new = after.orders[order_id]["payment_history"][len(old) :]
        booked = [m for m in shown.money if m.when == "now"]
        assert [(p["transaction_type"], p["payment_method_id"]) for p in new] == [
            (m.kind, m.payment_method_id) for m in booked
        ]
        assert [Decimal(repr(p["amount"])) for p in new] == [m.amount for m in booked]
    assert after.users[shown.customer_id] == shown.after["customer"]
    for card in shown.gift_cards:
        balance = after.users[shown.customer_id]["payment_methods"][card.payment_method_id]
        assert Decimal(repr(balance["balance"])) == card.after
    # the ledger: executed, bound to the confirmation of this preview, before/after recorded
    [executed] = ops.ledger.list(TENANT, status="executed")
    assert executed.id == outcome.ledger_id
    assert executed.fingerprint == shown.fingerprint
    assert executed.result is not None and set(executed.result) == {"record"}
    # before/after are the records the write read and stored under its locks
    assert executed.before == shown.before and executed.after == shown.after
    [confirmed] = ops.ledger.list(TENANT, status="confirmed")
    assert confirmed.confirmation is not None
    assert confirmed.confirmation["fingerprint"] == shown.fingerprint
    assert confirmed.ref == shown.ledger_id and executed.ref == confirmed.id
    assert confirmed.idempotency_key == executed.idempotency_key == outcome.idempotency_key


def test_cancel_preview_lists_the_refund_and_the_gift_card(ops: Operations) -> None:
    shown = ops.preview(TENANT, CASES["cancel_order"])
    assert shown.status == ("pending", "cancelled")
    [refund] = shown.money
    assert (refund.kind, refund.amount, refund.payment_method_id, refund.source) == (
        "refund",
        Decimal("4079.45"),
        "gift_card_7219486",
        "gift_card",
    )
    [card] = shown.gift_cards
    assert (card.before, card.after) == (Decimal(49), Decimal("4128.45"))
    assert shown.fields["cancel_reason"] == (None, "ordered by mistake")
    assert shown.amount == Decimal("4079.45")
    zh, en = shown.summary("zh", "$"), shown.summary("en", "$")
    assert "取消订单 #W6779827" in zh and "待发货 -> 已取消" in zh
    assert "退款 $4079.45 到 礼品卡" in zh and "$49.00 -> $4128.45" in zh and "误下单" in zh
    assert "Cancel order #W6779827" in en and "pending -> cancelled" in en
    assert "Refund $4079.45 to gift card" in en and "$49.00 -> $4128.45" in en
    assert "确认" in zh and "confirm" in en


def test_items_preview_shows_old_and_new_prices_with_two_decimals(ops: Operations) -> None:
    shown = ops.preview(TENANT, CASES["modify_order_items"])
    [change] = shown.items
    assert change.item_id == "1120917161" and change.new_item_id == "5745575001"
    assert change.new_price is not None and change.new_price - change.price == Decimal("33.26")
    [payment] = shown.money
    # tau's unrounded float is kept exactly; the text shows cents
    assert payment.amount == Decimal("33.25999999999999") and cents(payment.amount) == "33.26"
    assert "33.26" in shown.summary("en") and "33.25999" not in shown.summary("en")
    [card] = shown.gift_cards
    assert (card.before, card.after) == (Decimal(73), Decimal("39.74"))
    assert shown.status == ("pending", "pending (item modified)")
    assert shown.total is not None and shown.total[1] - shown.total[0] == Decimal("33.26")


def test_return_and_exchange_previews_show_money_due_on_completion(ops: Operations) -> None:
    returned = ops.preview(TENANT, CASES["return_order_items"])
    [refund] = returned.money
    assert refund.when == "on_completion" and refund.kind == "refund"
    assert refund.amount == sum((i.price for i in returned.items), Decimal(0))
    assert {i.item_id for i in returned.items} == {"4843487907", "2206116040"}
    assert all(i.new_item_id is None for i in returned.items)
    assert "退回" in returned.summary("zh") and "退换货完成后" in returned.summary("zh")
    exchanged = ops.preview(TENANT, CASES["exchange_order_items"])
    [difference] = exchanged.money
    assert (difference.kind, difference.amount) == ("payment", Decimal("0.19"))
    assert exchanged.fields["exchange_price_difference"] == (None, 0.19)


def test_address_previews_show_old_and_new_address(ops: Operations) -> None:
    shown = ops.preview(TENANT, CASES["modify_customer_address"])
    assert shown.address is not None and shown.address[1] == ADDRESS
    assert "9 Elm St, Austin, TX 78701, USA" in shown.summary("en")
    order = ops.preview(TENANT, CASES["modify_order_address"])
    assert order.address is not None and order.address[1].one_line() == ADDRESS.one_line()
    assert order.status is None and order.money == ()


def test_the_pure_preview_records_nothing(svc: Service, ops: Operations) -> None:
    shown = preview(svc.shop, TENANT, CASES["cancel_order"])
    assert shown.ok and shown.ledger_id is None
    assert ops.ledger.list(TENANT) == []
    again = preview(svc.shop, TENANT, CASES["cancel_order"])
    assert again.fingerprint == shown.fingerprint, "same records, same request: same fingerprint"
    other = preview(svc.shop, TENANT, CancelOrder(PENDING, "no longer needed"))
    assert other.fingerprint != shown.fingerprint


# -- refusals -----------------------------------------------------------------------------------


def test_a_refused_preview_is_recorded_and_cannot_be_executed(
    svc: Service, ops: Operations, counting: CountingShop
) -> None:
    before = dump(svc)
    shown = ops.preview(TENANT, CancelOrder(PROCESSED, "no longer needed"))
    assert not shown.ok and shown.refusal is not None
    assert shown.refusal.reason == "order_not_pending"
    assert "non-pending order cannot be cancelled" in shown.summary("en")
    assert "无法办理" in shown.summary("zh")
    [entry] = ops.ledger.list(TENANT)
    assert entry.status == "refused" and entry.result is not None
    assert entry.result["refusal"]["reason"] == "order_not_pending"
    with pytest.raises(OperationRefused):
        ops.execute(shown, confirm(shown))
    assert counting.writes == [] and dump(svc) == before


def test_unknown_order_and_bad_arguments_raise(ops: Operations) -> None:
    with pytest.raises(OrderNotFound):
        ops.preview(TENANT, CancelOrder("#W0000000", "no longer needed"))
    with pytest.raises(InvalidInputError) as err:
        request_from_args("refund_everything", {"order_id": PENDING})
    assert err.value.field == "operation" and "cancel_order" in err.value.message
    with pytest.raises(InvalidInputError) as err:
        request_from_args("return_order_items", {"order_id": PENDING, "item_ids": []})
    assert err.value.field == "item_ids"
    with pytest.raises(InvalidInputError) as err:
        request_from_args("modify_order_address", {"order_id": PENDING, "address": {"zip": "1"}})
    assert err.value.field == "address.address1"
    parsed = request_from_args(
        "modify_order_address",
        {"order_id": PENDING, "address": CASES["modify_order_address"].to_args()["address"]},
    )
    assert parsed == CASES["modify_order_address"]


def test_a_confirmation_of_another_preview_is_rejected(
    ops: Operations, counting: CountingShop
) -> None:
    shown = ops.preview(TENANT, CASES["modify_order_address"])
    with pytest.raises(InvalidInputError) as err:
        ops.execute(shown, Confirmation("0" * 64))
    assert err.value.field == "fingerprint"
    assert counting.writes == []


# -- stale previews -----------------------------------------------------------------------------


def test_a_stale_preview_is_refused_after_a_concurrent_change(
    svc: Service, ops: Operations, counting: CountingShop
) -> None:
    shown = ops.preview(TENANT, CASES["cancel_order"], conversation_id="c-1")
    # meanwhile, the order changes (a staff member re-addresses it)
    svc.shop.modify_order_address(TENANT, PENDING, ADDRESS)
    changed = dump(svc)
    outcome = ops.execute(shown, confirm(shown))
    assert outcome.status == "refused" and outcome.refusal is not None
    assert outcome.refusal.reason == "stale_preview"
    assert "重新确认" in outcome.summary("zh")
    assert counting.writes == [] and dump(svc) == changed
    # a retry of the same confirmation gives the same answer, still without writing
    again = ops.execute(shown, confirm(shown))
    assert again.replayed and again.ledger_id == outcome.ledger_id and counting.writes == []
    # a new preview (new fingerprint, new key) goes through
    fresh = ops.preview(TENANT, CASES["cancel_order"], conversation_id="c-1")
    assert fresh.fingerprint != shown.fingerprint
    assert ops.execute(fresh, confirm(fresh)).executed
    assert counting.writes == ["cancel_order"]


def test_the_fingerprint_covers_what_the_write_reads_and_nothing_else(
    svc: Service, ops: Operations, counting: CountingShop
) -> None:
    shown = ops.preview(TENANT, CASES["cancel_order"])
    # the customer's default address is not read by a cancel: the preview stays valid
    svc.shop.modify_customer_address(TENANT, "ethan_lopez_6291", ADDRESS)
    assert preview(svc.shop, TENANT, CASES["cancel_order"]).fingerprint == shown.fingerprint
    # the gift card the refund goes to is: another order refunded to it makes the preview stale
    svc.shop.cancel_order(TENANT, "#W8073920", "no longer needed")
    outcome = ops.execute(shown, confirm(shown))
    assert outcome.refusal is not None and outcome.refusal.reason == "stale_preview"
    assert counting.writes == []
    fresh = ops.preview(TENANT, CASES["cancel_order"])
    [card] = fresh.gift_cards
    assert card.before == Decimal("4911.24")  # 49 + 4862.24
    assert ops.execute(fresh, confirm(fresh)).executed


class VanishingShop(CountingShop):
    """The shop after the order was deleted: its re-read finds nothing."""

    def dry_run(self, tenant: str, operation: str, arguments: Any) -> DryRun:
        raise OrderNotFound(arguments["order_id"])


def test_a_vanished_order_is_a_recorded_failure_and_its_retry_too(
    svc: Service, ops: Operations
) -> None:
    shown = ops.preview(TENANT, CASES["modify_order_address"])
    gone = VanishingShop(svc.shop)
    layer = operations(svc, gone)
    outcome = layer.execute(shown, confirm(shown))
    assert outcome.status == "failed" and gone.writes == []
    [failed] = ops.ledger.list(TENANT, status="failed")
    assert failed.result is not None and failed.result["error"]["code"] == "order_not_found"
    retry = layer.execute(shown, confirm(shown))
    assert retry.replayed and retry.status == "failed" and retry.ledger_id == failed.id
    assert "客服会跟进" in retry.summary("zh")


# -- idempotency --------------------------------------------------------------------------------


def test_the_same_confirmation_twice_executes_once(
    svc: Service, ops: Operations, counting: CountingShop
) -> None:
    shown = ops.preview(TENANT, CASES["modify_order_payment"], conversation_id="c-1")
    first = ops.execute(shown, confirm(shown))
    second = ops.execute(shown, confirm(shown))
    assert first.executed and not first.replayed
    assert second.executed and second.replayed and second.ledger_id == first.ledger_id
    assert (
        second.idempotency_key == first.idempotency_key == idempotency_key("c-1", shown.fingerprint)
    )
    assert counting.writes == ["modify_order_payment"]
    assert len(dump(svc).orders[PENDING]["payment_history"]) == 3  # payment + payment + refund
    assert len(ops.ledger.list(TENANT, status="executed")) == 1
    assert len(ops.ledger.list(TENANT, status="confirmed")) == 1


def test_an_explicit_key_used_for_another_preview_is_a_conflict(
    ops: Operations, counting: CountingShop
) -> None:
    a = ops.preview(TENANT, CASES["modify_order_address"])
    b = ops.preview(TENANT, CASES["modify_customer_address"])
    assert ops.execute(a, confirm(a, idempotency_key="client-key-1")).executed
    with pytest.raises(ConflictError) as err:
        ops.execute(b, confirm(b, idempotency_key="client-key-1"))
    assert err.value.field == "idempotency_key"
    assert counting.writes == ["modify_order_address"]


def test_the_same_preview_in_two_conversations_has_two_keys(ops: Operations) -> None:
    shown = ops.preview(TENANT, CASES["modify_order_address"])
    assert idempotency_key("c-1", shown.fingerprint) != idempotency_key("c-2", shown.fingerprint)


@pytest.mark.parametrize("workers", [2, 4])
def test_concurrent_confirmations_execute_once(
    workers: int, config: Config, svc: Service, counting: CountingShop
) -> None:
    """Each worker has its own engine and connection pool, as separate processes would: only
    the database's unique constraint can make them agree."""
    services = [build_service(config, embedder=None) for _ in range(workers)]
    try:
        shared = CountingShop(svc.shop)
        layers = [operations(s, CountingShop(s.shop)) for s in services]
        # an address change is repeatable: without the claim every worker would write it
        shown = layers[0].preview(TENANT, CASES["modify_order_address"], conversation_id="c-9")
        barrier = threading.Barrier(workers)
        outcomes: list[Any] = [None] * workers

        def run(i: int) -> None:
            barrier.wait()
            outcomes[i] = layers[i].execute(shown, confirm(shown))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        writes = [w for layer in layers for w in layer._shop.writes]  # type: ignore[attr-defined]
        assert writes == ["modify_order_address"]
        assert all(o is not None and o.executed for o in outcomes)
        assert len({o.ledger_id for o in outcomes}) == 1
        assert sorted(o.replayed for o in outcomes) == [False] + [True] * (workers - 1)
        ledger = layers[0].ledger
        assert len(ledger.list(TENANT, status="executed")) == 1
        assert len(ledger.list(TENANT, status="confirmed")) == 1
        assert shared.writes == []
    finally:
        for s in services:
            s.close()


def test_concurrent_cancels_refund_once(config: Config, svc: Service) -> None:
    other = build_service(config, embedder=None)
    try:
        layers = [operations(svc, svc.shop), operations(other, other.shop)]
        shown = layers[0].preview(TENANT, CASES["cancel_order"], conversation_id="c-1")
        barrier = threading.Barrier(2)
        outcomes: list[Any] = [None, None]

        def run(i: int) -> None:
            barrier.wait()
            outcomes[i] = layers[i].execute(shown, confirm(shown))

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [o.status for o in outcomes] == ["executed", "executed"]
        history = dump(svc).orders[PENDING]["payment_history"]
        assert [p["transaction_type"] for p in history] == ["payment", "refund"]
        card = dump(svc).users["ethan_lopez_6291"]["payment_methods"]["gift_card_7219486"]
        assert card["balance"] == 4128.45
    finally:
        other.close()


# -- the approval queue -------------------------------------------------------------------------


def test_a_large_refund_waits_for_approval_then_runs_once(
    svc: Service, guarded: Operations, counting: CountingShop
) -> None:
    before = dump(svc)
    shown = guarded.preview(TENANT, CASES["cancel_order"], conversation_id="c-1")
    assert shown.needs_approval == ("amount_over_threshold",)
    assert "人工审核" in shown.summary("zh") and "approval" in shown.summary("en")
    queued = guarded.execute(shown, confirm(shown))
    assert queued.status == "awaiting_approval"
    assert "人工审核" in queued.summary("zh") and "approval" in queued.summary("en")
    assert counting.writes == [] and dump(svc) == before
    assert guarded.execute(shown, confirm(shown)).status == "awaiting_approval"
    assert counting.writes == []
    done = guarded.approve(queued.ledger_id, "alice", note="checked")
    assert done.executed and counting.writes == ["cancel_order"]
    assert dump(svc).orders[PENDING]["status"] == "cancelled"
    # the customer's retry now sees the executed outcome
    retry = guarded.execute(shown, confirm(shown))
    assert retry.executed and retry.replayed and retry.ledger_id == done.ledger_id
    with pytest.raises(NotAwaitingApproval) as err:
        guarded.approve(queued.ledger_id, "bob")
    assert err.value.details["status"] == "approved"
    with pytest.raises(NotAwaitingApproval):
        guarded.reject(queued.ledger_id, "bob", "too late")
    with pytest.raises(NotAwaitingApproval):
        guarded.approve(done.ledger_id, "bob")  # an executed entry is not queued
    assert counting.writes == ["cancel_order"]


def test_a_rejected_operation_is_closed(
    svc: Service, guarded: Operations, counting: CountingShop
) -> None:
    before = dump(svc)
    shown = guarded.preview(TENANT, CASES["cancel_order"])
    queued = guarded.execute(shown, confirm(shown))
    rejected = guarded.reject(queued.ledger_id, "alice", "suspicious")
    assert rejected.status == "rejected" and rejected.actor == "alice"
    assert rejected.note == "suspicious" and rejected.ref == queued.ledger_id
    with pytest.raises(NotAwaitingApproval):
        guarded.approve(queued.ledger_id, "bob")
    retry = guarded.execute(shown, confirm(shown))
    assert retry.status == "rejected" and "未通过" in retry.summary("zh")
    assert counting.writes == [] and dump(svc) == before


def test_an_approval_is_checked_against_the_preview_again(
    svc: Service, guarded: Operations, counting: CountingShop
) -> None:
    shown = guarded.preview(TENANT, CASES["cancel_order"])
    queued = guarded.execute(shown, confirm(shown))
    svc.shop.modify_order_address(TENANT, PENDING, ADDRESS)
    outcome = guarded.approve(queued.ledger_id, "alice")
    assert outcome.status == "refused" and outcome.refusal is not None
    assert outcome.refusal.reason == "stale_preview"
    assert counting.writes == []


def test_two_approvers_at_once_run_it_once(
    config: Config, svc: Service, guarded: Operations, counting: CountingShop
) -> None:
    shown = guarded.preview(TENANT, CASES["cancel_order"])
    queued = guarded.execute(shown, confirm(shown))
    other = build_service(config, embedder=None)
    try:
        second = CountingShop(other.shop)
        layers = [guarded, operations(other, second, "2000")]
        barrier = threading.Barrier(2)
        results: list[Any] = [None, None]

        def run(i: int) -> None:
            barrier.wait()
            try:
                results[i] = layers[i].approve(queued.ledger_id, f"approver-{i}")
            except NotAwaitingApproval as exc:
                results[i] = exc

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(type(r).__name__ for r in results) == ["NotAwaitingApproval", "Outcome"]
        assert counting.writes + second.writes == ["cancel_order"]
    finally:
        other.close()


def test_policy_threshold_and_address_after_shipping(ops: Operations) -> None:
    shown = ops.preview(TENANT, CASES["cancel_order"])
    assert ApprovalPolicy(Decimal("4079.45")).review(shown) == ()
    assert ApprovalPolicy(Decimal("4079.44")).review(shown) == ("amount_over_threshold",)
    address = ops.preview(TENANT, CASES["modify_order_address"])
    assert ApprovalPolicy().review(address) == ()
    shipped = copy.deepcopy(address.before)
    shipped["order"]["status"] = "processed"
    assert ApprovalPolicy().review(address.with_(before=shipped)) == ("address_after_shipping",)
    refused = ops.preview(TENANT, CancelOrder(PROCESSED, "no longer needed"))
    assert ApprovalPolicy(Decimal(0)).review(refused) == ()


# -- the ledger ---------------------------------------------------------------------------------


def test_the_ledger_is_append_only(
    svc: Service, guarded: Operations, counting: CountingShop
) -> None:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.upper())

    event.listen(svc.engine, "before_cursor_execute", seen)
    ledger = LedgerRepository(session_factory(svc.engine), svc.tenants)
    layer = Operations(counting, ledger)
    try:
        shown = layer.preview(TENANT, CASES["cancel_order"], conversation_id="c-1", actor="bot")
        queued = layer.execute(shown, confirm(shown, actor="customer"))
        snapshot = [e.to_dict() for e in reversed(ledger.list(TENANT))]
        layer.approve(queued.ledger_id, "alice")
    finally:
        event.remove(svc.engine, "before_cursor_execute", seen)
    touching = [s for s in statements if "OPERATION_LEDGER" in s]
    assert touching and not [s for s in touching if s.startswith(("UPDATE", "DELETE"))]
    rows = list(reversed(ledger.list(TENANT)))
    assert [e.to_dict() for e in rows[: len(snapshot)]] == snapshot, "old rows never change"
    assert [(e.status, e.actor) for e in rows] == [
        ("previewed", "bot"),
        ("confirmed", "customer"),
        ("awaiting_approval", "customer"),
        ("approved", "alice"),
        ("executed", "alice"),
    ]
    assert [e.ref for e in rows] == [None] + [e.id for e in rows[:-1]]
    assert {e.conversation_id for e in rows} == {"c-1"}
    assert {e.customer_id for e in rows} == {"ethan_lopez_6291"}
    assert {e.operation for e in rows} == {"cancel_order"}
    assert all(e.arguments == CASES["cancel_order"].to_args() for e in rows)
    assert {e.fingerprint for e in rows} == {shown.fingerprint}
    executed = rows[-1]
    assert executed.before is not None and executed.after is not None
    assert executed.before["order"]["status"] == "pending"
    assert executed.after["order"]["status"] == "cancelled"
    assert rows[0].preview is not None and rows[0].preview["amount"] == "4079.45"
    assert ledger.list(TENANT, conversation_id="c-2") == []
    assert [e.status for e in ledger.list(TENANT, limit=2)] == ["executed", "approved"]
    with pytest.raises(OperationNotFound):
        ledger.get(10**9)
    with pytest.raises(InvalidInputError):
        ledger.list(TENANT, status="done")


def test_the_migration_goes_down_and_up_again(svc: Service) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import inspect

    from kefu.storage.db import MIGRATIONS, migrate

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with svc.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0006")
    assert "operation_ledger" not in inspect(svc.engine).get_table_names()
    migrate(svc.engine)
    assert "operation_ledger" in inspect(svc.engine).get_table_names()
