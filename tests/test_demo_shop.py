"""The Chinese demo shop (小铺优选): counts, realism, consistency, and that it is reproducible."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kefu.connectors.port import Customer, Order, OrderStatus, Product
from kefu.connectors.tau_io import read_tau
from kefu.connectors.tau_schema import ShopData

ROOT = Path(__file__).resolve().parent.parent
DEMO_SHOP = ROOT / "src" / "kefu" / "demo" / "data" / "shop"
REFERENCE = datetime(2026, 11, 10, 12, 0, tzinfo=timezone(timedelta(hours=8)))
MOBILE = re.compile(r"^1[3-9]\d{9}$")
CJK = re.compile(r"^[\u4e00-\u9fff]+$")
EVENT_ORDER = ["已揽收", "运输中", "派送中", "已签收"]


@pytest.fixture(scope="module")
def demo() -> ShopData:
    return read_tau(DEMO_SHOP)  # also validates the whole shop


def test_generator_reproduces_the_committed_files() -> None:
    script = ROOT / "tools" / "make_demo_shop.py"
    spec = importlib.util.spec_from_file_location("make_demo_shop", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    users, orders, products = module.build()
    for name, data in (("users", users), ("orders", orders), ("products", products)):
        committed = (DEMO_SHOP / f"{name}.json").read_text(encoding="utf-8")
        assert committed == json.dumps(data, ensure_ascii=False, indent=2) + "\n", name


def test_counts_and_statuses(demo: ShopData) -> None:
    assert len(demo.users) >= 60
    assert len(demo.products) >= 55
    assert len(demo.orders) >= 220
    statuses = Counter(o["status"] for o in demo.orders.values())
    assert set(statuses) == {s.value for s in OrderStatus}
    assert all(n >= 5 for n in statuses.values()), statuses


def test_customers_are_chinese_with_valid_contacts(demo: ShopData) -> None:
    phones, emails = set(), set()
    for user_id, doc in demo.users.items():
        c = Customer.from_tau(user_id, doc)
        assert CJK.match(c.first_name) and CJK.match(c.last_name), c
        assert c.phone is not None and MOBILE.match(c.phone), c.phone
        phones.add(c.phone)
        emails.add(c.email.lower())
        a = c.address
        assert a.country == "中国" and re.fullmatch(r"\d{6}", a.zip)
        assert a.state.endswith(("省", "市", "自治区")) and a.city.endswith("市")
        assert a.district and a.address1 and a.address2
        assert c.payment_methods
        for method in c.payment_methods:
            assert method.source in {"alipay", "wechat_pay", "credit_card", "gift_card"}
            assert re.fullmatch(rf"{method.source}_\d+", method.id)
            if method.source == "credit_card":
                assert method.brand and method.last_four and len(method.last_four) == 4
            if method.source == "gift_card":
                assert method.balance is not None and method.balance >= 0
    assert len(phones) == len(emails) == len(demo.users)  # lookups are unambiguous


def test_products_have_chinese_options_and_some_are_not_returnable(demo: ShopData) -> None:
    products = [Product.from_tau(doc) for doc in demo.products.values()]
    for p in products:
        assert re.search(r"[\u4e00-\u9fff]", p.name) and p.name_en
        assert len(p.variants) >= 2 and sum(v.available for v in p.variants) >= 2
        for v in p.variants:
            assert all(re.search(r"[\u4e00-\u9fff]", key) for key in v.options), v.options
            assert v.price > 0
    categories = {doc["category"] for doc in demo.products.values()}
    assert {"服装", "内衣", "鞋靴", "箱包", "家居", "数码配件", "杯具"} <= categories
    not_returnable = {p.name for p in products if not p.returnable}
    assert 3 <= len(not_returnable) <= 12
    assert {"莫代尔内裤三条装", "定制刻字保温杯"} <= not_returnable


def _check_timeline(order: Order) -> None:
    for shipment in order.fulfillments:
        statuses = [e.status for e in shipment.events]
        assert statuses and statuses[0] == "已揽收"
        ranks = [EVENT_ORDER.index(s) for s in statuses]
        assert ranks == sorted(ranks), statuses
        times = [e.time for e in shipment.events]
        assert times == sorted(times) and times[-1] < REFERENCE
        assert shipment.carrier in {"中通快递", "圆通速递", "韵达快递", "顺丰速运"}
        assert shipment.tracking_number and all(e.description for e in shipment.events)


def test_orders_are_consistent(demo: ShopData) -> None:
    seen_items: set[str] = set()
    for order_id, doc in demo.orders.items():
        o = Order.from_tau(doc)
        assert re.fullmatch(r"#D\d{7}", order_id)
        assert order_id in demo.users[o.customer_id]["orders"]
        assert o.created_at is not None and o.created_at < REFERENCE
        status = OrderStatus(o.status)
        if status is OrderStatus.CANCELLED:
            assert o.paid == 0
            assert doc["cancel_reason"] in ("no longer needed", "ordered by mistake")
        else:
            assert o.paid == o.total, order_id  # payments minus refunds = item prices
        shipped = status not in (
            OrderStatus.PENDING,
            OrderStatus.PENDING_ITEM_MODIFIED,
            OrderStatus.CANCELLED,
        )
        assert bool(o.fulfillments) == shipped, order_id
        if shipped:
            _check_timeline(o)
            parcels = [i for s in o.fulfillments for i in s.item_ids]
            assert sorted(parcels) == sorted(i.item_id for i in o.items)
        last = [s.latest.status for s in o.fulfillments if s.latest]
        if status is OrderStatus.PROCESSED:
            assert o.delivered_at is None and "已签收" not in last[-1:]
        elif shipped:
            assert set(last) == {"已签收"}
            assert o.delivered_at == max(s.latest.time for s in o.fulfillments if s.latest)
        seen_items.update(i.item_id for i in o.items)
        for item in o.items:
            variant = demo.products[item.product_id]["variants"][item.item_id]
            assert Decimal(str(variant["price"])) == item.price
            assert variant["options"] == dict(item.options)
    assert len(seen_items) > 100


def test_requests_follow_taus_write_results(demo: ShopData) -> None:
    for doc in demo.orders.values():
        items = {i["item_id"]: i for i in doc["items"]}
        if doc["status"] == "return requested":
            assert doc["return_items"] and set(doc["return_items"]) <= set(items)
            assert doc["return_payment_method_id"] == doc["payment_history"][0]["payment_method_id"]
        if doc["status"] == "exchange requested":
            old, new = doc["exchange_items"], doc["exchange_new_items"]
            assert old and len(old) == len(new) and set(old) <= set(items)
            diff = Decimal(0)
            for item_id in new:
                product = next(
                    p for p in demo.products.values() if item_id in p["variants"]
                )  # the same product as one of the exchanged items, and in stock
                assert product["product_id"] in {items[i]["product_id"] for i in old}
                assert product["variants"][item_id]["available"]
                diff += Decimal(str(product["variants"][item_id]["price"]))
            diff -= sum((Decimal(str(items[i]["price"])) for i in old), Decimal(0))
            assert Decimal(str(doc["exchange_price_difference"])) == diff
        if "requested" in doc["status"]:
            delivered = datetime.fromisoformat(doc["delivered_at"])
            assert REFERENCE - delivered <= timedelta(days=7)  # asked inside the window


def test_every_customer_has_an_order(demo: ShopData) -> None:
    owners: Counter[str] = Counter(o["user_id"] for o in demo.orders.values())
    assert set(owners) == set(demo.users)
    for user_id, doc in demo.users.items():
        assert len(doc["orders"]) == owners[user_id]
        created: list[Any] = [demo.orders[o]["created_at"] for o in doc["orders"]]
        assert created == sorted(created)
