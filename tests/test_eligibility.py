"""Return and exchange eligibility: pure rules, machine reasons with their parameters."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from kefu.connectors.port import Order, Product
from kefu.operations.eligibility import (
    DEMO_POLICY,
    TAU_POLICY,
    Action,
    AfterSalesPolicy,
    Reason,
    exchange_eligibility,
    return_eligibility,
)

ROOT = Path(__file__).resolve().parent.parent
DEMO_SHOP = ROOT / "src" / "kefu" / "demo" / "data" / "shop"
CST = timezone(timedelta(hours=8))
DELIVERED = datetime(2026, 11, 3, 15, 0, tzinfo=CST)
ADDRESS = {
    "address1": "文三路1号",
    "address2": "1幢101室",
    "city": "杭州市",
    "country": "中国",
    "state": "浙江省",
    "zip": "310012",
}


def make_order(status: str = "delivered", *, delivered: datetime | None = DELIVERED) -> Order:
    doc: dict[str, Any] = {
        "order_id": "#D1234567",
        "user_id": "xiaoming_wang_1234",
        "address": ADDRESS,
        "items": [
            {"name": "纯棉圆领T恤", "product_id": "p-shirt", "item_id": "i-shirt", "price": 59.0,
             "options": {"颜色": "黑色"}},
            {"name": "莫代尔内裤三条装", "product_id": "p-briefs", "item_id": "i-briefs",
             "price": 79.0, "options": {"尺码": "L"}},
        ],
        "fulfillments": [],
        "status": status,
        "payment_history": [
            {"transaction_type": "payment", "amount": 138.0, "payment_method_id": "alipay_1"}
        ],
    }  # fmt: skip
    if delivered is not None:
        doc["delivered_at"] = delivered.isoformat()
    return Order.from_tau(doc)


def make_product(product_id: str, returnable: bool) -> Product:
    doc: dict[str, Any] = {"name": product_id, "product_id": product_id, "variants": {}}
    if not returnable:
        doc["returnable"] = False
    return Product.from_tau(doc)


PRODUCTS = {"p-shirt": make_product("p-shirt", True), "p-briefs": make_product("p-briefs", False)}


def test_tau_rule_only_delivered_orders() -> None:
    decision = return_eligibility(make_order(), DELIVERED + timedelta(days=300))
    assert decision.eligible and bool(decision)
    assert decision.reason is None and decision.deadline is None  # tau: no window
    assert decision.item_ids == ("i-shirt", "i-briefs") and decision.action is Action.RETURN
    for status in ("pending", "processed", "cancelled", "pending (item modified)"):
        for check in (return_eligibility, exchange_eligibility):
            refused = check(make_order(status), DELIVERED)
            assert not refused
            assert refused.reason is Reason.NOT_DELIVERED
            assert refused.params == {"status": status}


@pytest.mark.parametrize("status", ["return requested", "exchange requested"])
def test_a_second_request_is_refused(status: str) -> None:
    refused = exchange_eligibility(make_order(status), DELIVERED)
    assert refused.reason is Reason.ALREADY_REQUESTED
    assert refused.params == {"status": status}


def test_demo_window_of_seven_days_from_delivery() -> None:
    order = make_order()
    deadline = DELIVERED + timedelta(days=7)
    ok = return_eligibility(order, deadline, item_ids=["i-shirt"], policy=DEMO_POLICY)
    assert ok.eligible and ok.deadline == deadline and ok.item_ids == ("i-shirt",)
    late = return_eligibility(
        order, deadline + timedelta(seconds=1), item_ids=["i-shirt"], policy=DEMO_POLICY
    )
    assert late.reason is Reason.WINDOW_EXPIRED
    assert late.params == {
        "delivered_at": "2026-11-03T15:00:00+08:00",
        "days": 7,
        "deadline": "2026-11-10T15:00:00+08:00",
    }


def test_naive_now_is_utc() -> None:
    # 2026-11-10 07:00 UTC == 15:00 in Shanghai: the last allowed moment.
    at_deadline = datetime(2026, 11, 10, 7, 0)
    assert return_eligibility(make_order(), at_deadline, item_ids=["i-shirt"], policy=DEMO_POLICY)
    later = at_deadline + timedelta(minutes=1)
    assert not return_eligibility(make_order(), later, item_ids=["i-shirt"], policy=DEMO_POLICY)


def test_exchange_uses_its_own_window() -> None:
    policy = AfterSalesPolicy(return_window_days=7, exchange_window_days=15)
    day_ten = DELIVERED + timedelta(days=10)
    assert not return_eligibility(make_order(), day_ten, policy=policy)
    decision = exchange_eligibility(make_order(), day_ten, policy=policy)
    assert decision.eligible and decision.action is Action.EXCHANGE
    assert decision.deadline == DELIVERED + timedelta(days=15)


def test_non_returnable_products() -> None:
    now = DELIVERED + timedelta(days=1)
    refused = return_eligibility(make_order(), now, policy=DEMO_POLICY, products=PRODUCTS)
    assert refused.reason is Reason.NOT_RETURNABLE_CATEGORY
    assert refused.params == {"item_ids": ["i-briefs"], "names": ["莫代尔内裤三条装"]}
    assert not exchange_eligibility(make_order(), now, policy=DEMO_POLICY, products=PRODUCTS)
    # The returnable item alone is fine; tau's policy ignores the mark.
    shirt = return_eligibility(
        make_order(), now, item_ids=["i-shirt"], policy=DEMO_POLICY, products=PRODUCTS
    )
    assert shirt.eligible
    assert return_eligibility(make_order(), now, policy=TAU_POLICY, products=PRODUCTS)


def test_quality_problems_skip_the_mark_and_get_fifteen_days() -> None:
    day_twelve = DELIVERED + timedelta(days=12)
    decision = return_eligibility(
        make_order(), day_twelve, policy=DEMO_POLICY, products=PRODUCTS, quality_issue=True
    )
    assert decision.eligible and decision.deadline == DELIVERED + timedelta(days=15)
    late = return_eligibility(
        make_order(),
        DELIVERED + timedelta(days=16),
        policy=DEMO_POLICY,
        products=PRODUCTS,
        quality_issue=True,
    )
    assert late.reason is Reason.WINDOW_EXPIRED and late.params["days"] == 15


def test_item_selection_problems_come_first() -> None:
    order = make_order("pending")
    assert return_eligibility(order, DELIVERED, item_ids=[]).reason is Reason.NO_ITEMS
    missing = return_eligibility(order, DELIVERED, item_ids=["i-shirt", "i-ghost"])
    assert missing.reason is Reason.ITEM_NOT_IN_ORDER
    assert missing.params == {"item_ids": ["i-ghost"]}


def test_a_window_needs_a_delivery_date() -> None:
    order = make_order(delivered=None)
    assert return_eligibility(order, DELIVERED).eligible  # tau: no window, no date needed
    refused = return_eligibility(order, DELIVERED, policy=DEMO_POLICY)
    assert refused.reason is Reason.DELIVERY_DATE_UNKNOWN and refused.params == {"days": 7}


def test_demo_shop_orders_at_its_reference_time() -> None:
    orders = json.loads((DEMO_SHOP / "orders.json").read_text(encoding="utf-8"))
    products = {
        k: Product.from_tau(v)
        for k, v in json.loads((DEMO_SHOP / "products.json").read_text(encoding="utf-8")).items()
    }
    now = datetime(2026, 11, 10, 12, 0, tzinfo=CST)
    reasons: dict[str | None, int] = {}
    for doc in orders.values():
        order = Order.from_tau(doc)
        decision = return_eligibility(order, now, policy=DEMO_POLICY, products=products)
        key = decision.reason.value if decision.reason else None
        reasons[key] = reasons.get(key, 0) + 1
        if doc["status"] == "delivered":
            within = now - order.delivered_at <= timedelta(days=7)  # type: ignore[operator]
            assert (decision.reason is not Reason.WINDOW_EXPIRED) == within
    assert reasons[None] > 0  # some delivered orders can still be returned
    for reason in ("not_delivered", "already_requested", "window_expired"):
        assert reasons[reason] > 0, reason
