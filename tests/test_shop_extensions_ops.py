"""Shop extensions, continued: merging orders and issuing coupons (rules, refusals, all-or-nothing
writes, concurrency, previews), and the operation layer over them (preview -> confirm ->
ledger ``executed`` with before/after; the approval threshold sees coupon values).

The shop is the demo shop with, for merges, a second pending order of ``zihan_jiang_4301`` and
payments that include the freight (so paid = items + freight holds before and after).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from tests.test_operations import shop_slice
from tests.test_shop_extensions import (
    CHEAP_PENDING,
    DEMO_SHOP,
    FREE_PENDING,
    SHANGHAI,
    TENANT,
    XINJIANG,
    make_service,
    operations,
    refused,
    snapshot,
    variant_of,
)

from kefu.config import Config
from kefu.connectors.embedded import EmbeddedShop
from kefu.connectors.port import Order
from kefu.connectors.tau_io import read_tau
from kefu.connectors.tau_schema import ShopData
from kefu.errors import CustomerNotFound, OperationRefused, OrderNotFound
from kefu.operations.execute import Confirmation, Operations
from kefu.operations.policy import ApprovalPolicy
from kefu.operations.preview import preview
from kefu.operations.requests import IssueCoupon, MergeOrders
from kefu.service import Service, build_service
from kefu.storage.db import session_factory
from kefu.storage.ledger import LedgerRepository

CUSTOMER = "zihan_jiang_4301"  # alipay_5067750, credit_card_5775723
CABLE = "#D0000001"  # added: pending, one cable 39.00 (0.1 kg), freight 8, paid 47 by credit card
MUG = "#D0000002"  # added: pending, one thermos 129.00, free shipping, paid 129 by alipay
PROCESSED = "#D5484500"  # zihan_jiang_4301's processed order
DELIVERED_OF_CUSTOMER = "#D7842773"  # zihan_jiang_4301, delivered


def paid_items_freight(order: Order) -> tuple[Decimal, Decimal]:
    return order.paid, order.total + Decimal(str(order.extras.get("freight", 0)))


@pytest.fixture(scope="module")
def merge_data(demo: ShopData) -> ShopData:
    data = copy.deepcopy(demo)
    target = data.orders[CHEAP_PENDING]
    target["payment_history"][0]["amount"] = 67.0  # 59 + freight 8

    def pending(
        order_id: str, item: dict[str, Any], amount: float, method: str, fee: float
    ) -> None:
        doc = copy.deepcopy(target)
        doc.update(order_id=order_id, items=[item], freight=fee)
        doc["payment_history"] = [
            {"transaction_type": "payment", "amount": amount, "payment_method_id": method}
        ]
        data.orders[order_id] = doc
        data.users[CUSTOMER]["orders"].append(order_id)

    pending(CABLE, variant_of(data, "编织快充数据线"), 47.0, "credit_card_5775723", 8.0)
    pending(MUG, variant_of(data, "316不锈钢保温杯"), 129.0, "alipay_5067750", 0.0)
    return data


@pytest.fixture(scope="module")
def demo() -> ShopData:
    return read_tau(DEMO_SHOP)


@pytest.fixture
def svc(config: Config, merge_data: ShopData) -> Iterator[Service]:
    service = make_service(config, merge_data)
    yield service
    service.close()


@pytest.fixture
def shop(svc: Service) -> EmbeddedShop:
    return svc.shop


# -- merging orders ------------------------------------------------------------------------------


def test_merge_moves_items_and_payments_and_refunds_the_freight_saved(
    shop: EmbeddedShop,
) -> None:
    merged = shop.merge_orders(TENANT, [CHEAP_PENDING, CABLE])
    # 59 + 39 = 98 < 99, 0.35 kg: one freight of 8 instead of two; 8 back to the credit card
    # that paid the cancelled order's freight.
    assert [i.name for i in merged.items] == ["纯棉圆领T恤", "编织快充数据线"]
    assert merged.status == "pending" and merged.extras["freight"] == 8.0
    assert merged.extras["merged_from"] == [CABLE]
    assert [
        (p.transaction_type, p.amount, p.payment_method_id) for p in merged.payment_history
    ] == [
        ("payment", Decimal("67.0"), "alipay_5067750"),
        ("payment", Decimal("47.0"), "credit_card_5775723"),
        ("refund", Decimal("8.0"), "credit_card_5775723"),
    ]
    assert paid_items_freight(merged) == (Decimal("106.0"), Decimal("106.0"))
    cancelled = shop.order(TENANT, CABLE)
    assert cancelled.status == "cancelled" and cancelled.items == ()
    assert cancelled.extras["cancel_reason"] == "merged"
    assert cancelled.extras["merged_into"] == CHEAP_PENDING
    assert cancelled.paid == 0 and cancelled.extras["freight"] == 0.0


def test_merge_reaching_free_shipping_refunds_every_freight(shop: EmbeddedShop) -> None:
    merged = shop.merge_orders(TENANT, [CHEAP_PENDING, CABLE, MUG])
    assert merged.extras["freight"] == 0.0
    refunds = [(p.amount, p.payment_method_id) for p in merged.payment_history[-2:]]
    assert refunds == [(Decimal("8.0"), "credit_card_5775723"), (Decimal("8.0"), "alipay_5067750")]
    assert paid_items_freight(merged) == (Decimal("227.0"), Decimal("227.0"))
    assert {shop.order(TENANT, o).status for o in (CABLE, MUG)} == {"cancelled"}


def test_merge_to_a_dearer_address_charges_the_difference(shop: EmbeddedShop) -> None:
    merged = shop.merge_orders(TENANT, [CHEAP_PENDING, CABLE], XINJIANG)
    assert merged.address == XINJIANG and merged.extras["freight"] == 20.0
    assert merged.payment_history[-1].transaction_type == "payment"
    assert merged.payment_history[-1].amount == Decimal("4.0")  # 20 - (8 + 8)
    assert merged.payment_history[-1].payment_method_id == "alipay_5067750"
    assert paid_items_freight(merged) == (Decimal("118.0"), Decimal("118.0"))


MERGE_REFUSALS = [
    ([CHEAP_PENDING], "too_few_orders"),
    ([CHEAP_PENDING, CHEAP_PENDING], "duplicate_order"),
    ([CHEAP_PENDING, FREE_PENDING], "different_customers"),
    ([CHEAP_PENDING, PROCESSED], "order_not_pending"),
]


@pytest.mark.parametrize(("order_ids", "reason"), MERGE_REFUSALS)
def test_merge_refusals_write_nothing(
    shop: EmbeddedShop, order_ids: list[str], reason: str
) -> None:
    before = snapshot(shop)
    assert refused(lambda: shop.merge_orders(TENANT, order_ids)).reason == reason
    assert snapshot(shop) == before


def test_an_item_modified_order_cannot_be_merged(shop: EmbeddedShop) -> None:
    order = shop.order(TENANT, CABLE)
    product = shop.product(TENANT, order.items[0].product_id)
    other = next(v for v in product.variants if v.available and v.item_id != order.items[0].item_id)
    shop.modify_order_items(
        TENANT, CABLE, [order.items[0].item_id], [other.item_id], "credit_card_5775723"
    )
    before = snapshot(shop)
    exc = refused(lambda: shop.merge_orders(TENANT, [CHEAP_PENDING, CABLE]))
    assert exc.reason == "order_not_pending" and exc.details["status"] == "pending (item modified)"
    assert snapshot(shop) == before
    with pytest.raises(OrderNotFound):
        shop.merge_orders(TENANT, [CHEAP_PENDING, "#D9999999"])


def test_merge_without_a_freight_table_moves_items_and_payments_only(config: Config) -> None:
    data = shop_slice()
    service = build_service(config, embedder=None)
    try:
        service.tenants.create("tau")
        service.shop.load("tau", data["users"], data["orders"], data["products"])
        first, second = "#W6779827", "#W6426438"  # ethan_lopez_6291, both pending
        items = len(data["orders"][first]["items"]) + len(data["orders"][second]["items"])
        merged = service.shop.merge_orders("tau", [first, second])
        assert len(merged.items) == items and "freight" not in merged.extras
        other = data["orders"][second]
        moved = other["payment_history"][0]
        assert merged.payment_history[-1].amount == Decimal(str(moved["amount"]))
        assert service.shop.order("tau", second).status == "cancelled"
    finally:
        service.close()


def test_merges_in_opposite_orders_at_once_do_not_deadlock(shop: EmbeddedShop) -> None:
    """[A, B] and [B, A] at once: the orders are locked in sorted order, so one merge waits
    for the other, then finds its first order cancelled."""
    barrier = threading.Barrier(2)
    results: list[str] = []

    def run(order_ids: list[str]) -> None:
        barrier.wait(30)
        try:
            shop.merge_orders(TENANT, order_ids)
            results.append("done")
        except OperationRefused as exc:
            results.append(exc.reason)
        except Exception as exc:  # a deadlock or lock error must fail the test
            results.append(repr(exc))

    threads = [
        threading.Thread(target=run, args=(ids,))
        for ids in ([CHEAP_PENDING, CABLE], [CABLE, CHEAP_PENDING])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["done", "order_not_pending"], results
    statuses = sorted(shop.order(TENANT, o).status for o in (CHEAP_PENDING, CABLE))
    assert statuses == ["cancelled", "pending"]


def test_merge_preview_lists_everything(svc: Service) -> None:
    shown = preview(svc.shop, TENANT, MergeOrders((CHEAP_PENDING, CABLE, MUG)))
    assert shown.ok and shown.freight == (Decimal("16.00"), Decimal("0.00"))
    assert [(i.name, i.price) for i in shown.items] == [
        ("编织快充数据线", Decimal("39.0")),
        ("316不锈钢保温杯", Decimal("129.0")),
    ]
    assert [(o.order_id, o.status) for o in shown.orders] == [
        (CABLE, ("pending", "cancelled")),
        (MUG, ("pending", "cancelled")),
    ]
    assert [(t.from_order_id, t.amount, t.payment_method_id) for t in shown.transfers] == [
        (CABLE, Decimal("47.00"), "credit_card_5775723"),
        (MUG, Decimal("129.00"), "alipay_5067750"),
    ]
    assert [(m.kind, m.amount, m.payment_method_id) for m in shown.money] == [
        ("refund", Decimal("8.00"), "credit_card_5775723"),
        ("refund", Decimal("8.00"), "alipay_5067750"),
    ]
    assert shown.amount == Decimal("16.00")  # transfers move no money
    assert shown.total == (Decimal("59.0"), Decimal("227.0"))
    zh = shown.summary("zh", "¥")
    for line in (
        "合并订单到 #D8526810：",
        f"- 订单 {CABLE}: 待发货 -> 已取消",
        "- 并入商品: 316不锈钢保温杯",
        "- 运费: 原运费 ¥16.00，新运费 ¥0.00，差价 ¥16.00（退还）",
        f"- 原订单 {CABLE} 的付款 ¥47.00 (credit_card_5775723) 转入 {CHEAP_PENDING}",
        "- 退运费 ¥8.00 到 信用卡 mastercard 尾号 3685 (credit_card_5775723)",
        "- 订单商品合计: ¥59.00 -> ¥227.00",
    ):
        assert line in zh, (line, zh)
    en = shown.summary("en", "¥")
    assert "Refund freight ¥8.00 to credit card mastercard ending 3685" in en
    data = shown.to_dict()
    assert data["transfers"][0] == {
        "from_order_id": CABLE,
        "to_order_id": CHEAP_PENDING,
        "amount": "47.00",
        "payment_method_id": "credit_card_5775723",
    }
    assert svc.shop.order(TENANT, CABLE).status == "pending"  # the preview wrote nothing


def test_merge_fingerprint_covers_every_order(svc: Service) -> None:
    request = MergeOrders((CHEAP_PENDING, CABLE))
    first = preview(svc.shop, TENANT, request).fingerprint
    svc.shop.modify_order_address(TENANT, FREE_PENDING, SHANGHAI)  # another customer's order
    assert preview(svc.shop, TENANT, request).fingerprint == first
    svc.shop.modify_order_payment(TENANT, CABLE, "alipay_5067750")  # the second order
    assert preview(svc.shop, TENANT, request).fingerprint != first


def test_merge_through_the_operation_layer(svc: Service) -> None:
    ops = operations(svc)
    shown = ops.preview(TENANT, MergeOrders((CHEAP_PENDING, CABLE)), conversation_id="c-merge")
    outcome = ops.execute(shown, Confirmation(shown.fingerprint, text="确认"))
    assert outcome.status == "executed"
    assert outcome.result == {"order_id": CHEAP_PENDING, "status": "pending"}
    row = ops.ledger.get(outcome.ledger_id)
    assert row.before is not None and row.after is not None
    assert row.before["orders"][CABLE]["status"] == "pending"
    assert row.after["orders"][CABLE]["status"] == "cancelled"
    assert len(row.after["order"]["items"]) == 2
    assert row.after == {
        "order": svc.shop.dump(TENANT).orders[CHEAP_PENDING],
        "customer": svc.shop.dump(TENANT).users[CUSTOMER],
        "orders": {CABLE: svc.shop.dump(TENANT).orders[CABLE]},
    }


# -- coupons -------------------------------------------------------------------------------------


def test_issue_a_coupon_stores_it_on_the_customer(shop: EmbeddedShop) -> None:
    customer = shop.issue_coupon(
        TENANT, CUSTOMER, "delay_10", "delay_compensation", order_id=CHEAP_PENDING
    )
    assert customer.extras["coupons"] == [
        {
            "coupon_id": "delay_10-1",
            "template_id": "delay_10",
            "name": "发货延迟补偿券",
            "kind": "amount",
            "value": 10.0,
            "max_value": 10.0,
            "min_spend": 59.0,
            "reason": "delay_compensation",
            "issued_on": "2026-11-10",
            "valid_until": "2026-12-10",
            "status": "unused",
            "order_id": CHEAP_PENDING,
        }
    ]
    assert shop.customer(TENANT, CUSTOMER) == customer
    again = shop.issue_coupon(TENANT, CUSTOMER, "delay_10", "out_of_stock_compensation")
    assert [c["coupon_id"] for c in again.extras["coupons"]] == ["delay_10-1", "delay_10-2"]
    before = snapshot(shop)
    exc = refused(lambda: shop.issue_coupon(TENANT, CUSTOMER, "delay_10", "delay_compensation"))
    assert exc.reason == "coupon_limit_reached" and exc.details["limit"] == 2
    assert snapshot(shop) == before


COUPON_REFUSALS = [
    ("service_20", "delay_compensation", None, "reason_not_allowed"),
    ("free_lunch", "delay_compensation", None, "unknown_coupon"),
    ("delay_10", "delay_compensation", FREE_PENDING, "order_not_of_customer"),
    ("delay_10", "birthday", None, "reason_not_allowed"),
]


@pytest.mark.parametrize(("template", "reason", "order_id", "refusal"), COUPON_REFUSALS)
def test_coupon_refusals_write_nothing(
    shop: EmbeddedShop, template: str, reason: str, order_id: str | None, refusal: str
) -> None:
    before = snapshot(shop)
    exc = refused(lambda: shop.issue_coupon(TENANT, CUSTOMER, template, reason, order_id))
    assert exc.reason == refusal
    assert snapshot(shop) == before
    with pytest.raises(CustomerNotFound):
        shop.issue_coupon(TENANT, "nobody_0000", "delay_10", "delay_compensation")


def test_a_shop_without_coupon_rules_refuses(config: Config, demo: ShopData) -> None:
    service = make_service(config, demo, rules=False)
    try:
        exc = refused(
            lambda: service.shop.issue_coupon(TENANT, CUSTOMER, "delay_10", "delay_compensation")
        )
        assert exc.reason == "coupons_not_configured"
    finally:
        service.close()


def test_concurrent_coupons_respect_the_per_customer_limit(shop: EmbeddedShop) -> None:
    barrier = threading.Barrier(2)
    results: list[str] = []

    def run() -> None:
        barrier.wait(30)
        try:
            shop.issue_coupon(TENANT, CUSTOMER, "service_20", "service_compensation")
            results.append("done")
        except OperationRefused as exc:
            results.append(exc.reason)
        except Exception as exc:
            results.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["coupon_limit_reached", "done"], results
    assert len(shop.customer(TENANT, CUSTOMER).extras["coupons"]) == 1


def test_coupon_preview_and_the_approval_threshold(svc: Service) -> None:
    request = IssueCoupon(CUSTOMER, "sorry_pct_10", "quality_compensation", DELIVERED_OF_CUSTOMER)
    shown = preview(svc.shop, TENANT, request)
    assert shown.ok and shown.coupon is not None
    assert shown.coupon.face_value == Decimal("50.00") and shown.amount == Decimal("50.00")
    assert shown.money == () and shown.coupon.valid_until == "2026-11-25"
    zh = shown.summary("zh", "¥")
    assert "发放优惠券给 zihan_jiang_4301：" in zh
    assert "- 优惠券: 致歉九折券（满 ¥199.00 减 10%，最多减 ¥50.00），有效期至 2026-11-25" in zh
    assert "- 原因: 质量问题补偿" in zh
    en = shown.summary("en", "¥")
    assert "10% off orders of ¥199.00 or more, at most ¥50.00" in en
    assert ApprovalPolicy(Decimal("40")).review(shown) == ("amount_over_threshold",)
    assert ApprovalPolicy(Decimal("50")).review(shown) == ()


def test_coupon_over_the_threshold_waits_for_approval_then_is_issued(svc: Service) -> None:
    ledger = LedgerRepository(session_factory(svc.engine), svc.tenants)
    ops = Operations(svc.shop, ledger, ApprovalPolicy(Decimal("40")))
    request = IssueCoupon(CUSTOMER, "sorry_pct_10", "quality_compensation")
    shown = ops.preview(TENANT, request, conversation_id="c-coupon")
    assert shown.needs_approval == ("amount_over_threshold",)
    queued = ops.execute(shown, Confirmation(shown.fingerprint, text="确认"))
    assert queued.status == "awaiting_approval"
    assert "coupons" not in svc.shop.customer(TENANT, CUSTOMER).extras  # nothing issued yet
    done = ops.approve(queued.ledger_id, "店长")
    assert done.status == "executed" and done.result == {"customer_id": CUSTOMER}
    row = ops.ledger.get(done.ledger_id)
    assert row.before is not None and row.after is not None
    assert "coupons" not in row.before["customer"]
    assert [c["coupon_id"] for c in row.after["customer"]["coupons"]] == ["sorry_pct_10-1"]


def test_coupon_fingerprint_covers_the_customer_and_the_template(svc: Service) -> None:
    request = IssueCoupon(CUSTOMER, "delay_10", "delay_compensation")
    first = preview(svc.shop, TENANT, request).fingerprint
    svc.shop.issue_coupon(TENANT, CUSTOMER, "service_20", "service_compensation")
    second = preview(svc.shop, TENANT, request)
    assert second.fingerprint != first  # the customer's coupons changed
    assert second.coupon is not None and second.coupon.coupon_id == "delay_10-2"
    ops = operations(svc)
    stale = ops.preview(TENANT, request)
    svc.shop.issue_coupon(TENANT, CUSTOMER, "delay_10", "delay_compensation")
    outcome = ops.execute(stale, Confirmation(stale.fingerprint, text="确认"))
    assert outcome.refusal is not None and outcome.refusal.reason == "stale_preview"
    assert len(svc.shop.customer(TENANT, CUSTOMER).extras["coupons"]) == 2
