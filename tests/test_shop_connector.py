"""The embedded shop behind the connector port, over a real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.datasets import DATASETS

from kefu.config import Config
from kefu.connectors.embedded import EmbeddedShop, ShopCounts
from kefu.connectors.port import ShopConnector, ShopReader, normalise_phone
from kefu.connectors.tau_io import read_tau
from kefu.connectors.tau_schema import ShopData
from kefu.errors import CustomerNotFound, OrderNotFound, ProductNotFound, TenantNotFound
from kefu.service import Service, build_service
from kefu.storage.db import session_factory

ROOT = Path(__file__).resolve().parent.parent
TAU = DATASETS / "tau_bench_retail"
DEMO_SHOP = ROOT / "src" / "kefu" / "demo" / "data" / "shop"


@pytest.fixture(scope="module")
def tau() -> ShopData:
    return read_tau(TAU)


@pytest.fixture(scope="module")
def demo() -> ShopData:
    return read_tau(DEMO_SHOP)


@pytest.fixture
def svc(config: Config) -> Iterator[Service]:
    service = build_service(config, embedder=None)
    yield service
    service.close()


@pytest.fixture
def shop(svc: Service, tau: ShopData, demo: ShopData) -> EmbeddedShop:
    svc.tenants.create("tau")
    svc.tenants.create("demo")
    shop = EmbeddedShop(session_factory(svc.engine), svc.tenants)
    shop.load("tau", tau.users, tau.orders, tau.products)
    shop.load("demo", demo.users, demo.orders, demo.products)
    return shop


def test_embedded_shop_implements_the_port(shop: EmbeddedShop) -> None:
    assert isinstance(shop, ShopConnector)
    assert isinstance(shop, ShopReader)


def test_find_customer_by_email_ignores_case(shop: EmbeddedShop) -> None:
    c = shop.find_customer_by_email("tau", "  Noah.Brown7922@EXAMPLE.com ")
    assert c.id == "noah_brown_6181"
    assert (c.first_name, c.last_name, c.name) == ("Noah", "Brown", "Noah Brown")
    assert c.address.zip == "80279" and c.address.city == "Denver"
    assert [p.id for p in c.payment_methods] == ["paypal_5727330", "credit_card_7815826"]
    card = c.payment_method("credit_card_7815826")
    assert card is not None and (card.brand, card.last_four) == ("mastercard", "9212")
    assert c.order_ids == ("#W7678072",)
    assert c.phone is None


def test_find_customer_by_name_zip(shop: EmbeddedShop, tau: ShopData) -> None:
    assert shop.find_customer_by_name_zip("tau", "noah", "BROWN", "80279").id == "noah_brown_6181"
    with pytest.raises(CustomerNotFound) as err:
        shop.find_customer_by_name_zip("tau", "Noah", "Brown", "80280")
    assert err.value.details == {"by": "name_zip"}
    # Chinese names: first_name is 名, last_name 姓.
    user_id, doc = next(iter(json_items(DEMO_SHOP / "users.json")))
    found = shop.find_customer_by_name_zip(
        "demo", doc["name"]["first_name"], doc["name"]["last_name"], doc["address"]["zip"]
    )
    assert found.id == user_id
    assert found.name == doc["name"]["last_name"] + doc["name"]["first_name"]


def json_items(path: Path) -> list[tuple[str, dict[str, Any]]]:
    return list(json.loads(path.read_text(encoding="utf-8")).items())


def test_find_customer_by_phone_normalises_the_number(shop: EmbeddedShop) -> None:
    user_id, doc = json_items(DEMO_SHOP / "users.json")[3]
    phone = doc["phone"]
    spaced = f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}"
    assert normalise_phone(spaced) == phone
    assert shop.find_customer_by_phone("demo", spaced).id == user_id
    assert shop.find_customer_by_phone("demo", "0086" + phone).phone == phone
    with pytest.raises(CustomerNotFound):
        shop.find_customer_by_phone("demo", "13000000000")
    with pytest.raises(CustomerNotFound):
        shop.find_customer_by_phone("tau", phone)  # another tenant's customer
    with pytest.raises(CustomerNotFound):
        shop.find_customer_by_phone("demo", "no digits")


def test_customer_details_and_orders(shop: EmbeddedShop, demo: ShopData) -> None:
    user_id, doc = json_items(DEMO_SHOP / "users.json")[0]
    c = shop.customer("demo", user_id)
    assert c.address.country == "中国" and c.address.district == doc["address"]["district"]
    assert c.address.one_line().startswith(doc["address"]["state"])
    orders = shop.orders_of_customer("demo", user_id)
    assert [o.id for o in orders] == doc["orders"] and len(orders) >= 1
    assert all(o.customer_id == user_id for o in orders)
    with pytest.raises(CustomerNotFound) as err:
        shop.customer("demo", "nobody_1")
    assert err.value.details == {"by": "id", "customer_id": "nobody_1"}
    with pytest.raises(CustomerNotFound):
        shop.orders_of_customer("demo", "nobody_1")


def test_order_details_with_exact_money(shop: EmbeddedShop) -> None:
    o = shop.order("tau", "#W2611340")
    assert shop.order("tau", "W2611340") == o  # the leading '#' may be left out
    assert (o.customer_id, o.status) == ("james_li_5688", "processed")
    assert [i.item_id for i in o.items] == ["6469567736", "8426249116"]
    assert o.items[0].price == Decimal("47.84") and o.items[0].options["capacity"] == "1000ml"
    assert o.total == Decimal("536.65") == o.paid
    assert o.payment_history[0].payment_method_id == "gift_card_1725971"
    assert o.item("8426249116") is not None and o.item("0") is None
    with pytest.raises(OrderNotFound) as err:
        shop.order("tau", "#W0000000")
    assert err.value.code == "order_not_found" and err.value.status == 404
    with pytest.raises(OrderNotFound):
        shop.order("demo", "#W2611340")  # tenants do not see each other's orders


def test_cancelled_order_is_refunded(shop: EmbeddedShop, tau: ShopData) -> None:
    order_id = next(k for k, v in tau.orders.items() if v["status"] == "cancelled")
    o = shop.order("tau", order_id)
    assert o.paid == 0 and o.total > 0
    assert [p.transaction_type for p in o.payment_history] == ["payment", "refund"]


def test_tracking_of_a_delivered_demo_order(shop: EmbeddedShop, demo: ShopData) -> None:
    order_id, doc = next((k, v) for k, v in demo.orders.items() if v["status"] == "delivered")
    shipments = shop.tracking("demo", order_id.removeprefix("#"))
    assert len(shipments) == len(doc["fulfillments"]) >= 1
    first = shipments[0]
    assert first.carrier == doc["fulfillments"][0]["carrier"]
    assert first.tracking_number == doc["fulfillments"][0]["tracking_id"][0]
    assert first.events[0].status == "已揽收"
    assert first.latest is not None and first.latest.status == "已签收"
    times = [e.time for e in first.events]
    assert times == sorted(times)
    order = shop.order("demo", order_id)
    assert order.delivered_at == max(s.latest.time for s in shipments if s.latest)
    assert order.created_at is not None and order.created_at < times[0]
    pending = next(k for k, v in demo.orders.items() if v["status"] == "pending")
    assert shop.tracking("demo", pending) == ()
    with pytest.raises(OrderNotFound):
        shop.tracking("demo", "#D0000000")


def test_product_details_and_variants(shop: EmbeddedShop, tau: ShopData) -> None:
    p = shop.product("tau", "9523456873")
    assert p.name == "T-Shirt" and p.returnable and p.name_en is None
    assert len(p.variants) == len(tau.products["9523456873"]["variants"])
    v = p.variant("9612497925")
    assert v is not None and v.price == Decimal("50.88") and v.options["size"] == "M"
    product, variant = shop.variant("tau", "9612497925")
    assert product.id == "9523456873" and variant == v
    with pytest.raises(ProductNotFound) as err:
        shop.product("tau", "0")
    assert err.value.field == "product_id"
    with pytest.raises(ProductNotFound) as err:
        shop.variant("tau", "0")
    assert err.value.field == "item_id"


def test_list_products_filters(shop: EmbeddedShop, tau: ShopData, demo: ShopData) -> None:
    everything = shop.list_products("tau")
    assert [p.id for p in everything] == list(tau.products)  # catalogue order
    assert [p.name for p in shop.list_products("tau", name="shirt")] == ["T-Shirt"]
    cups = shop.list_products("demo", name="保温杯")
    assert {p.name for p in cups} == {"316不锈钢保温杯", "定制刻字保温杯"}
    assert [p.id for p in shop.list_products("demo", name="THERMOS")] == [p.id for p in cups]
    in_stock = shop.list_products("tau", in_stock=True)
    sold_out = shop.list_products("tau", in_stock=False)
    assert len(in_stock) + len(sold_out) == len(tau.products)
    assert all(p.in_stock for p in in_stock)
    assert all(not v.available for p in sold_out for v in p.variants)
    assert shop.list_products("tau", name="no such thing") == []
    kept = [p for p in shop.list_products("demo") if not p.returnable]
    assert kept and all(demo.products[p.id].get("returnable") is False for p in kept)


def test_unknown_tenant(shop: EmbeddedShop) -> None:
    with pytest.raises(TenantNotFound):
        shop.order("ghost", "#W2611340")
    with pytest.raises(TenantNotFound):
        shop.load("ghost", {}, {}, {})


def test_load_replaces_the_whole_shop_and_dump_keeps_order(
    shop: EmbeddedShop, tau: ShopData, demo: ShopData
) -> None:
    assert shop.counts("tau") == ShopCounts(500, 1000, 50)
    assert shop.counts("demo") == ShopCounts(len(demo.users), len(demo.orders), len(demo.products))
    counts = shop.load("tau", demo.users, demo.orders, demo.products)
    assert counts == shop.counts("tau") == shop.counts("demo")
    dumped = shop.dump("tau")
    assert list(dumped.orders) == list(demo.orders)
    assert json.dumps(dumped.to_json()) == json.dumps(demo.to_json())
    with pytest.raises(OrderNotFound):
        shop.order("tau", "#W2611340")  # the tau orders are gone
    shop.load("tau", {}, {}, {})
    assert shop.counts("tau") == ShopCounts(0, 0, 0)
    assert shop.dump("tau").to_json() == {"users": {}, "orders": {}, "products": {}}
    assert shop.counts("demo").orders == len(demo.orders)  # other tenants untouched


def test_chinese_names_match_their_pinyin(shop: EmbeddedShop) -> None:
    for first, last in (("Wanting", "Du"), ("wanting", "du"), ("Du", "Wanting"), ("婉婷", "杜")):
        found = shop.find_customer_by_name_zip("demo", first, last, "100080")
        assert found.id == "wanting_du_8837"
    with pytest.raises(CustomerNotFound):
        shop.find_customer_by_name_zip("demo", "Wanting", "Dong", "100080")
