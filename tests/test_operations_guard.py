"""The fingerprint is checked inside the write's own transaction: a change landing after the
operation layer's re-read and before the write is refused with ``stale_preview``, and nothing is
written. The change is injected deterministically between the two: the shop below runs it right
after the re-read (the operation layer's second dry run; the first is the preview's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.test_operations import (
    ADDRESS,
    CASES,
    PENDING,
    PROCESSED,
    TENANT,
    CountingShop,
    confirm,
    dump,
    operations,
    shop_slice,
)

from kefu.config import Config
from kefu.connectors.embedded import EmbeddedShop
from kefu.connectors.embedded_writes import DryRun
from kefu.connectors.port import Address
from kefu.errors import InvalidInputError, OperationRefused
from kefu.operations.preview import preview
from kefu.operations.requests import Request
from kefu.service import Service, build_service


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


OTHER = Address(
    address1="1 Oak Ave", address2="Apt 2", city="Denver", state="CO", country="USA", zip="80202"
)


class RacingShop(CountingShop):
    """Runs ``change`` (another writer's write, committed) right after the ``at``-th dry run,
    and keeps the shop as that change left it (``snapshot``)."""

    def __init__(self, shop: EmbeddedShop, change: Callable[[], object], at: int) -> None:
        super().__init__(shop)
        self.change = change
        self.at = at
        self.dry_runs = 0
        self.snapshot: Any = None

    @property
    def fired(self) -> bool:
        return self.snapshot is not None

    def dry_run(self, tenant: str, operation: str, arguments: Any) -> DryRun:
        run = self.shop.dry_run(tenant, operation, arguments)
        self.dry_runs += 1
        if self.dry_runs == self.at:
            self.change()
            self.snapshot = self.shop.dump(tenant)
        return run

    def __getattr__(self, name: str) -> Any:
        # anything else (a ShopWriter method a layer might call directly) reaches the shop
        return getattr(self.shop, name)


ITEMS_ORDER = CASES["modify_order_items"].target
# a request, and a change of a record its fingerprint covers
RACES: dict[str, tuple[Request, Callable[[Service], object]]] = {
    "order re-addressed": (
        CASES["cancel_order"],
        lambda svc: svc.shop.modify_order_address(TENANT, PENDING, ADDRESS),
    ),
    "gift card refunded by another order": (
        CASES["cancel_order"],
        lambda svc: svc.shop.cancel_order(TENANT, "#W8073920", "no longer needed"),
    ),
    "customer re-addressed": (
        CASES["modify_customer_address"],
        lambda svc: svc.shop.modify_customer_address(TENANT, "james_li_5688", OTHER),
    ),
    "items order re-addressed": (
        CASES["modify_order_items"],
        lambda svc: svc.shop.modify_order_address(TENANT, ITEMS_ORDER, OTHER),
    ),
}


@pytest.mark.parametrize("race", sorted(RACES))
def test_a_change_after_the_recheck_is_refused_inside_the_write(race: str, svc: Service) -> None:
    request, change = RACES[race]
    racing = RacingShop(svc.shop, lambda: change(svc), at=2)
    layer = operations(svc, racing)
    shown = layer.preview(TENANT, request, conversation_id="c-1")
    assert shown.ok
    outcome = layer.execute(shown, confirm(shown))
    assert racing.fired, "the change must land between the re-read and the write"
    assert racing.writes == [request.name], "the write was attempted"
    assert outcome.status == "refused" and outcome.refusal is not None, outcome
    assert outcome.refusal.reason == "stale_preview"
    # nothing of the write is stored: the shop is as the other writer's change left it
    alone = dump(svc)
    assert alone == racing.snapshot
    current = preview(svc.shop, TENANT, request)
    assert current.fingerprint != shown.fingerprint
    rows = list(reversed(layer.ledger.list(TENANT)))
    assert [r.status for r in rows] == ["previewed", "confirmed", "refused"]
    previewed, confirmed, refused = rows
    assert refused.id == outcome.ledger_id and refused.ref == confirmed.id
    assert confirmed.ref == previewed.id
    assert {r.fingerprint for r in rows} == {shown.fingerprint}
    assert refused.result is not None
    assert refused.result["refusal"]["reason"] == "stale_preview"
    # the fingerprint of the records as the write found them under its locks
    assert refused.result["fingerprint"] == current.fingerprint
    assert refused.before == current.before and refused.after is None
    assert layer.ledger.list(TENANT, status="executed") == []
    # a retry of the confirmation replays the refusal and writes nothing
    again = layer.execute(shown, confirm(shown))
    assert again.replayed and again.ledger_id == refused.id and racing.writes == [request.name]
    assert dump(svc) == alone
    # a new preview of the changed records goes through
    fresh = layer.preview(TENANT, request, conversation_id="c-1")
    assert fresh.fingerprint == current.fingerprint
    done = layer.execute(fresh, confirm(fresh))
    assert done.executed
    assert layer.ledger.get(done.ledger_id).after == fresh.after


def test_an_approved_write_is_checked_inside_the_write_too(svc: Service) -> None:
    # dry runs: 1 the preview, 2 the confirmation's re-read (queued), 3 the approval's re-read
    racing = RacingShop(
        svc.shop, lambda: svc.shop.modify_order_address(TENANT, PENDING, ADDRESS), at=3
    )
    layer = operations(svc, racing, "2000")
    shown = layer.preview(TENANT, CASES["cancel_order"], conversation_id="c-1")
    queued = layer.execute(shown, confirm(shown))
    assert queued.status == "awaiting_approval" and not racing.fired
    outcome = layer.approve(queued.ledger_id, "alice")
    assert racing.fired and racing.writes == ["cancel_order"]
    assert outcome.status == "refused" and outcome.refusal is not None
    assert outcome.refusal.reason == "stale_preview"
    assert dump(svc).orders[PENDING]["status"] == "pending"
    rows = list(reversed(layer.ledger.list(TENANT)))
    assert [(r.status, r.actor) for r in rows] == [
        ("previewed", "bot"),
        ("confirmed", "customer"),
        ("awaiting_approval", "customer"),
        ("approved", "alice"),
        ("refused", "alice"),
    ]
    assert [r.ref for r in rows] == [None] + [r.id for r in rows[:-1]]


# -- the shop's guarded write -------------------------------------------------------------------


class Stop(OperationRefused):
    def __init__(self) -> None:
        super().__init__("stopped", "stopped by the guard")


def test_expect_sees_the_locked_records_as_a_dry_run_and_can_stop_the_write(
    svc: Service,
) -> None:
    args = CASES["cancel_order"].dry_run_args()
    before = dump(svc)
    dry = svc.shop.dry_run(TENANT, "cancel_order", args)
    seen: list[DryRun] = []

    def stop(run: DryRun) -> None:
        seen.append(run)
        raise Stop

    with pytest.raises(Stop):
        svc.shop.write(TENANT, "cancel_order", args, expect=stop)
    assert seen == [dry], "the guard is given what a dry run gives, read under the locks"
    assert dump(svc) == before
    written = svc.shop.write(TENANT, "cancel_order", args, expect=seen.append)
    assert seen[-1] == written == dry
    assert dump(svc).orders[PENDING] == dry.order_after
    assert dump(svc).users[dry.customer_id] == dry.customer_after


def test_expect_runs_before_the_rules_refusal_and_the_plain_methods_need_none(
    svc: Service,
) -> None:
    seen: list[DryRun] = []
    args = {"order_id": PROCESSED, "reason": "no longer needed"}
    with pytest.raises(OperationRefused) as err:
        svc.shop.write(TENANT, "cancel_order", args, expect=seen.append)
    assert err.value.reason == "order_not_pending"
    [run] = seen
    assert run.refusal is not None and run.refusal.reason == "order_not_pending"

    def stop(_run: DryRun) -> None:
        raise Stop

    with pytest.raises(Stop):  # the guard's refusal wins over the rule's
        svc.shop.write(TENANT, "cancel_order", args, expect=stop)
    customer = svc.shop.write(
        TENANT, "modify_customer_address", CASES["modify_customer_address"].dry_run_args()
    )
    assert customer.order_before is None and customer.customer_after["address"]["zip"] == "78701"
    assert dump(svc).users["james_li_5688"]["address"]["zip"] == "78701"
    with pytest.raises(InvalidInputError) as bad:
        svc.shop.write(TENANT, "refund_everything", {"order_id": PENDING})
    assert bad.value.field == "operation"
