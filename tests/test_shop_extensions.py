"""Shop extensions on the demo shop: the rules document (freight table, coupon templates), freight
on an address change, partial and combined refunds - rules, refusals, all-or-nothing writes,
concurrency and previews with exact amounts - on a real database (SQLite or PostgreSQL).

Merges, coupons and the operation layer are in ``tests/test_shop_extensions_ops.py``.
"""

from __future__ import annotations

import copy
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from kefu.config import Config
from kefu.connectors.embedded import EmbeddedShop
from kefu.connectors.embedded_extras_rules import ShopRules, freight_of, validate_rules
from kefu.connectors.port import Address, Order, ShopWriter
from kefu.connectors.tau_io import dump_tau, read_tau
from kefu.connectors.tau_schema import ShopData
from kefu.errors import InvalidInputError, OperationRefused, ShopImportError
from kefu.operations.execute import Confirmation, Operations
from kefu.operations.policy import ApprovalPolicy
from kefu.operations.preview import preview
from kefu.operations.requests import (
    ALL_OPERATIONS,
    IssueCoupon,
    MergeOrders,
    ModifyOrderAddress,
    RefundLine,
    RefundOrder,
    RefundOrders,
    request_from_args,
)
from kefu.service import Service, build_service
from kefu.storage.db import session_factory
from kefu.storage.ledger import LedgerRepository
from kefu.storage.shop_tables import ShopProductRow, ShopRulesRow

ROOT = Path(__file__).resolve().parent.parent
DEMO_SHOP = ROOT / "src" / "kefu" / "demo" / "data" / "shop"
TENANT = "demo"
TODAY = date(2026, 11, 10)

# Demo records the tests use (src/kefu/demo/data/shop).
CHEAP_PENDING = (
    "#D8526810"  # zihan_jiang_4301, 山东, one T-shirt 59.00 (0.25 kg), freight 8, alipay
)
GIFT_PENDING = "#D8682266"  # yuxin_zou_6187, 云南, 39.00, freight 8; gift_card_4719766 (200)
FREE_PENDING = "#D9204940"  # lijuan_yan_7825, 新疆, 528.00: free shipping (>= 199)
DELIVERED = "#D7677510"  # zihan_yang_9578, 248.00 by alipay_6060577
DELIVERED_2 = "#D6143613"  # zihan_yang_9578, 79.00 by alipay_6060577
REFUNDER = "zihan_yang_9578"  # alipay_6060577, gift_card_2986934 (balance 0)
OTHER_DELIVERED = "#D3137656"  # lijuan_wang_7028, 956.00 by wechat_pay_1872332

XINJIANG = Address(
    address1="解放北路88号",
    address2="3幢1单元201室",
    city="乌鲁木齐市",
    state="新疆维吾尔自治区",
    country="中国",
    zip="830002",
    district="天山区",
)
SHANGHAI = Address(
    address1="世纪大道100号",
    address2="A座1201室",
    city="上海市",
    state="上海市",
    country="中国",
    zip="200120",
    district="浦东新区",
)


@pytest.fixture(scope="module")
def demo() -> ShopData:
    return read_tau(DEMO_SHOP)


def variant_of(data: ShopData, name: str) -> dict[str, Any]:
    """The first variant of the demo product called ``name``, as an order item."""
    product = next(p for p in data.products.values() if p["name"] == name)
    variant = next(iter(product["variants"].values()))
    return {
        "name": product["name"],
        "product_id": product["product_id"],
        "item_id": variant["item_id"],
        "price": variant["price"],
        "options": dict(variant["options"]),
    }


def make_service(config: Config, data: ShopData, *, rules: bool = True) -> Service:
    service = build_service(config, embedder=None)
    service.tenants.create(TENANT)
    service.shop.load(
        TENANT, data.users, data.orders, data.products, rules=data.rules if rules else None
    )
    service.shop.today = lambda: TODAY  # type: ignore[method-assign]
    return service


@pytest.fixture
def svc(config: Config, demo: ShopData) -> Iterator[Service]:
    service = make_service(config, demo)
    yield service
    service.close()


@pytest.fixture
def shop(svc: Service) -> EmbeddedShop:
    return svc.shop


def snapshot(shop: EmbeddedShop) -> str:
    return json.dumps(shop.dump(TENANT).to_json(), sort_keys=True, ensure_ascii=False)


def refused(action: Callable[[], object]) -> OperationRefused:
    with pytest.raises(OperationRefused) as info:
        action()
    return info.value


def operations(svc: Service, threshold: str = "100000") -> Operations:
    ledger = LedgerRepository(session_factory(svc.engine), svc.tenants)
    return Operations(svc.shop, ledger, ApprovalPolicy(Decimal(threshold)))


# -- the rules document --------------------------------------------------------------------------


def test_demo_rules_are_imported_stored_and_exported(shop: EmbeddedShop, demo: ShopData) -> None:
    assert demo.rules is not None
    rules = shop.rules(TENANT)
    assert rules is not None and rules.freight is not None and rules.currency == "CNY"
    remote = rules.freight.zone("新疆维吾尔自治区")
    assert remote is not None and remote.id == "remote" and remote.first_kg == Decimal(20)
    standard = rules.freight.zone("山东省")
    assert standard is not None and standard.id == "standard"
    assert set(rules.coupons) == {"delay_10", "service_20", "sorry_pct_10"}
    exported = json.loads(dump_tau(shop.dump(TENANT)))
    assert list(exported) == ["users", "orders", "products", "rules"]
    assert exported["rules"] == demo.rules


def test_export_with_rules_imports_again_to_the_same_bytes(
    shop: EmbeddedShop, tmp_path: Path
) -> None:
    first = dump_tau(shop.dump(TENANT))
    (tmp_path / "export.json").write_bytes(first)
    again = read_tau(tmp_path / "export.json")
    assert again.rules is not None
    shop.load(TENANT, again.users, again.orders, again.products, rules=again.rules)
    assert dump_tau(shop.dump(TENANT)) == first


def test_an_import_without_rules_removes_them(shop: EmbeddedShop, demo: ShopData) -> None:
    shop.load(TENANT, demo.users, demo.orders, demo.products)
    assert shop.rules(TENANT) is None
    assert "rules" not in json.loads(dump_tau(shop.dump(TENANT)))


BAD_RULES: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (
        lambda r: r["freight"]["zones"][0].__setitem__("first_kg", "twenty"),
        'freight zone "remote", first_kg: expected a number, got text',
    ),
    (
        lambda r: r["freight"]["default"].__setitem__("additional_kg", -2),
        "freight zone default, additional_kg: expected a non-negative number",
    ),
    (
        lambda r: r["freight"]["zones"][0].__setitem__("regions", []),
        'freight zone "remote", regions: expected at least one region',
    ),
    (
        lambda r: r["coupons"]["delay_10"].__setitem__("value", 11),
        'coupon "delay_10", value: is more than max_value 10',
    ),
    (
        lambda r: r["coupons"]["service_20"]["reasons"].append("birthday"),
        "coupon \"service_20\", reasons[2]: unknown reason 'birthday'",
    ),
    (
        lambda r: r["coupons"]["sorry_pct_10"].__setitem__("value", 100),
        'coupon "sorry_pct_10", value: a percentage coupon takes off less than 100 percent',
    ),
    (
        lambda r: r["coupons"]["delay_10"].__setitem__("per_customer_limit", 0),
        'coupon "delay_10", per_customer_limit: expected a whole number of at least 1',
    ),
    (lambda r: r.__setitem__("discounts", {}), '"discounts": unknown section'),
]


@pytest.mark.parametrize(("spoil", "problem"), BAD_RULES)
def test_bad_rules_name_the_record_and_field_and_load_nothing(
    shop: EmbeddedShop,
    demo: ShopData,
    tmp_path: Path,
    spoil: Callable[[dict[str, Any]], None],
    problem: str,
) -> None:
    folder = tmp_path / "shop"
    shutil.copytree(DEMO_SHOP, folder)
    rules = copy.deepcopy(demo.rules)
    assert rules is not None
    spoil(rules)
    (folder / "shop_rules.json").write_text(json.dumps(rules, ensure_ascii=False))
    with pytest.raises(ShopImportError) as info:
        read_tau(folder)
    assert str(info.value).startswith(f"{folder / 'shop_rules.json'}, {problem}")
    before = snapshot(shop)
    with pytest.raises(ShopImportError):
        shop.load(TENANT, demo.users, demo.orders, demo.products, rules=rules)
    assert snapshot(shop) == before  # the previous shop, rules included, is untouched


def test_extension_keys_of_the_shop_are_type_checked(demo: ShopData) -> None:
    products = copy.deepcopy(demo.products)
    product = next(iter(products.values()))
    product["weight_kg"] = "heavy"
    with pytest.raises(ShopImportError, match=r'product "\d+", weight_kg: expected a number'):
        validate_shop_again(demo, products=products)
    orders = copy.deepcopy(demo.orders)
    orders[CHEAP_PENDING]["freight"] = -1
    with pytest.raises(ShopImportError, match='order "#D8526810", freight: expected a non-neg'):
        validate_shop_again(demo, orders=orders)


def validate_shop_again(demo: ShopData, **parts: Any) -> None:
    from kefu.connectors.tau_schema import validate_shop

    data = {"users": demo.users, "orders": demo.orders, "products": demo.products, **parts}
    validate_shop(data["users"], data["orders"], data["products"], rules=demo.rules)


# -- the freight table ---------------------------------------------------------------------------


def test_freight_by_zone_weight_and_free_shipping(demo: ShopData) -> None:
    rules = ShopRules.from_doc(validate_rules(demo.rules))
    assert rules is not None and rules.freight is not None
    table = rules.freight
    shirt = variant_of(demo, "纯棉圆领T恤")  # 0.25 kg, 59.00
    suitcase = variant_of(demo, "铝框拉杆箱")  # a 24寸 variant: 4.5 kg

    def fee(state: str, *items: dict[str, Any]) -> Decimal:
        found = freight_of(table, state, list(items), demo.products)
        assert found is not None
        return found.amount

    assert fee("山东省", shirt) == Decimal("8.00")  # first kilogram
    assert fee("新疆维吾尔自治区", shirt) == Decimal("20.00")  # remote: 新疆 matches the prefix
    assert fee("西藏自治区", shirt) == Decimal("20.00")
    cheap_heavy = {**suitcase, "price": 50.0}
    assert suitcase["options"]["尺寸"] == "24寸"
    assert fee("山东省", cheap_heavy) == Decimal("16.00")  # 8 + 4 started kg x 2
    assert fee("新疆维吾尔自治区", cheap_heavy) == Decimal("52.00")  # 20 + 4 x 8
    assert fee("山东省", {**shirt, "price": 99.0}) == Decimal("0.00")  # 满99包邮
    assert fee("新疆维吾尔自治区", {**shirt, "price": 198.99}) == Decimal("20.00")
    assert fee("新疆维吾尔自治区", {**shirt, "price": 199.0}) == Decimal("0.00")  # 满199
    unknown = {**shirt, "item_id": "0", "product_id": "0"}
    assert table.weight_of(unknown, demo.products) == Decimal("0.5")  # the default weight


def test_every_demo_order_carries_the_freight_of_the_table(demo: ShopData) -> None:
    rules = ShopRules.from_doc(demo.rules)
    assert rules is not None and rules.freight is not None
    charged = 0
    for order_id, order in demo.orders.items():
        found = freight_of(rules.freight, order["address"]["state"], order["items"], demo.products)
        assert found is not None
        assert Decimal(str(order["freight"])) == found.amount, order_id
        charged += found.amount > 0
    assert charged >= 20  # orders under the thresholds pay freight
    assert all("weight_kg" in p for p in demo.products.values())


# -- freight on an address change ----------------------------------------------------------------


def test_address_change_charges_a_higher_freight_to_the_original_method(
    shop: EmbeddedShop,
) -> None:
    order = shop.modify_order_address(TENANT, CHEAP_PENDING, XINJIANG)
    assert order.address == XINJIANG and order.extras["freight"] == 20.0
    assert [(p.transaction_type, p.amount, p.payment_method_id) for p in order.payment_history] == [
        ("payment", Decimal("59.0"), "alipay_5067750"),
        ("payment", Decimal("12.0"), "alipay_5067750"),
    ]
    assert shop.order(TENANT, CHEAP_PENDING) == order  # stored as returned


def test_address_change_refunds_a_lower_freight_to_a_gift_card(
    config: Config, demo: ShopData
) -> None:
    data = copy.deepcopy(demo)
    data.orders[GIFT_PENDING]["payment_history"][0]["payment_method_id"] = "gift_card_4719766"
    service = make_service(config, data)
    try:
        shop = service.shop

        def balance() -> Decimal | None:
            card = shop.customer(TENANT, "yuxin_zou_6187").payment_method("gift_card_4719766")
            return None if card is None else card.balance

        shop.modify_order_address(TENANT, GIFT_PENDING, XINJIANG)  # 8 -> 20: pay 12
        assert balance() == Decimal("188.0")
        order = shop.modify_order_address(TENANT, GIFT_PENDING, SHANGHAI)  # 20 -> 8: refund 12
        assert balance() == Decimal("200.0") and order.extras["freight"] == 8.0
        assert [(p.transaction_type, str(p.amount)) for p in order.payment_history] == [
            ("payment", "39.0"),
            ("payment", "12.0"),
            ("refund", "12.0"),
        ]
        # A gift card that cannot pay the difference: refused, nothing written.
        with service.engine.begin() as conn:
            from kefu.storage.shop_tables import ShopCustomerRow

            row = conn.execute(
                ShopCustomerRow.__table__.select().where(
                    ShopCustomerRow.customer_id == "yuxin_zou_6187"
                )
            ).one()
            doc = dict(row.doc)
            doc["payment_methods"]["gift_card_4719766"]["balance"] = 5.0
            conn.execute(
                update(ShopCustomerRow).where(ShopCustomerRow.pk == row.pk).values(doc=doc)
            )
        before = json.dumps(shop.dump(TENANT).to_json(), sort_keys=True)
        exc = refused(lambda: shop.modify_order_address(TENANT, GIFT_PENDING, XINJIANG))
        assert exc.reason == "insufficient_gift_card_balance"
        assert json.dumps(shop.dump(TENANT).to_json(), sort_keys=True) == before
    finally:
        service.close()


def test_free_shipping_stays_free_and_books_nothing(shop: EmbeddedShop) -> None:
    order = shop.modify_order_address(TENANT, FREE_PENDING, SHANGHAI)
    assert order.extras["freight"] == 0.0 and len(order.payment_history) == 1


def test_address_change_without_a_freight_table_is_taus(config: Config, demo: ShopData) -> None:
    service = make_service(config, demo, rules=False)
    try:
        before = service.shop.dump(TENANT).orders[CHEAP_PENDING]
        service.shop.modify_order_address(TENANT, CHEAP_PENDING, XINJIANG)
        after = service.shop.dump(TENANT).orders[CHEAP_PENDING]
        # tau's effect only: the address (tau's six keys, then district); freight untouched.
        assert {k: v for k, v in after.items() if k != "address"} == {
            k: v for k, v in before.items() if k != "address"
        }
        assert list(after["address"]) == [
            "address1",
            "address2",
            "city",
            "state",
            "country",
            "zip",
            "district",
        ]
        run = service.shop.dry_run(
            TENANT, "modify_order_address", {"order_id": CHEAP_PENDING, "address": SHANGHAI}
        )
        assert type(run).__name__ == "DryRun"  # tau's dry run, tau's fingerprint
    finally:
        service.close()


def test_a_non_pending_order_keeps_taus_refusal(shop: EmbeddedShop) -> None:
    before = snapshot(shop)
    exc = refused(lambda: shop.modify_order_address(TENANT, DELIVERED, XINJIANG))
    assert (exc.reason, exc.message) == (
        "order_not_pending",
        "non-pending order cannot be modified",
    )
    assert snapshot(shop) == before


def test_address_change_preview_shows_old_and_new_freight(svc: Service) -> None:
    shown = preview(svc.shop, TENANT, ModifyOrderAddress(CHEAP_PENDING, XINJIANG))
    assert shown.ok and shown.freight == (Decimal("8.00"), Decimal("20.00"))
    assert [(m.kind, m.amount, m.payment_method_id, m.what) for m in shown.money] == [
        ("payment", Decimal("12.00"), "alipay_5067750", "freight")
    ]
    assert shown.amount == Decimal("12.00")
    zh = shown.summary("zh", "¥")
    assert "运费: 原运费 ¥8.00，新运费 ¥20.00，差价 ¥12.00（需补）" in zh
    assert "补运费 ¥12.00 用 支付宝 (alipay_5067750)" in zh
    en = shown.summary("en", "¥")
    assert "Freight: was ¥8.00, now ¥20.00, difference ¥12.00 (to pay)" in en
    assert shown.to_dict()["freight"] == ["8.00", "20.00"]
    # Nothing was written by the preview.
    assert svc.shop.order(TENANT, CHEAP_PENDING).extras["freight"] == 8.0


def _set_doc(
    svc: Service, model: Any, where: Any, change: Callable[[dict[str, Any]], None]
) -> None:
    with svc.engine.begin() as conn:
        row = conn.execute(model.__table__.select().where(where)).one()
        doc = copy.deepcopy(dict(row.doc))
        change(doc)
        conn.execute(update(model).where(model.pk == row.pk).values(doc=doc))


def test_address_change_fingerprint_covers_weights_and_the_freight_table(
    svc: Service, demo: ShopData
) -> None:
    request = ModifyOrderAddress(CHEAP_PENDING, XINJIANG)
    first = preview(svc.shop, TENANT, request).fingerprint
    shirt = variant_of(demo, "纯棉圆领T恤")
    jeans = variant_of(demo, "直筒牛仔裤")
    # Another product's weight: not read, same fingerprint.
    _set_doc(
        svc,
        ShopProductRow,
        ShopProductRow.product_id == jeans["product_id"],
        lambda d: d.__setitem__("weight_kg", 2.0),
    )
    assert preview(svc.shop, TENANT, request).fingerprint == first
    # The weight of the item shipped: a new fingerprint (and a new freight).
    _set_doc(
        svc,
        ShopProductRow,
        ShopProductRow.product_id == shirt["product_id"],
        lambda d: d.__setitem__("weight_kg", 2.5),
    )
    heavier = preview(svc.shop, TENANT, request)
    assert heavier.fingerprint != first and heavier.freight == (Decimal("8.00"), Decimal("36.00"))
    # The freight table: a new fingerprint.
    _set_doc(
        svc,
        ShopRulesRow,
        ShopRulesRow.pk.isnot(None),
        lambda d: d["freight"]["zones"][0].__setitem__("first_kg", 25),
    )
    dearer = preview(svc.shop, TENANT, request)
    assert dearer.fingerprint not in (first, heavier.fingerprint)
    assert dearer.freight == (Decimal("8.00"), Decimal("41.00"))


def test_a_stale_address_preview_is_refused_and_writes_nothing(svc: Service) -> None:
    ops = operations(svc)
    shown = ops.preview(TENANT, ModifyOrderAddress(CHEAP_PENDING, XINJIANG))
    _set_doc(
        svc,
        ShopRulesRow,
        ShopRulesRow.pk.isnot(None),
        lambda d: d["freight"]["zones"][0].__setitem__("first_kg", 30),
    )
    before = snapshot(svc.shop)
    outcome = ops.execute(shown, Confirmation(shown.fingerprint, text="确认"))
    assert outcome.status == "refused" and outcome.refusal is not None
    assert outcome.refusal.reason == "stale_preview"
    assert snapshot(svc.shop) == before


# -- partial refunds -----------------------------------------------------------------------------


def test_partial_refund_to_the_original_method(shop: EmbeddedShop) -> None:
    order = shop.refund_order(
        TENANT, DELIVERED, Decimal("30.50"), "alipay_6060577", "price_protection"
    )
    assert order.status == "delivered"
    assert order.payment_history[-1].transaction_type == "refund"
    assert order.payment_history[-1].amount == Decimal("30.5")
    assert order.paid == Decimal("217.5")
    assert order.extras["partial_refunds"] == [
        {"amount": 30.5, "reason": "price_protection", "payment_method_id": "alipay_6060577"}
    ]


def test_partial_refund_to_a_gift_card_goes_on_its_balance(shop: EmbeddedShop) -> None:
    shop.refund_order(TENANT, DELIVERED, Decimal("10"), "gift_card_2986934", "missing_accessory")
    card = shop.customer(TENANT, REFUNDER).payment_method("gift_card_2986934")
    assert card is not None and card.balance == Decimal("10.0")


def test_refunds_never_exceed_what_was_paid(shop: EmbeddedShop) -> None:
    shop.refund_order(TENANT, DELIVERED, Decimal("200"), "alipay_6060577", "minor_defect")
    exc = refused(
        lambda: shop.refund_order(
            TENANT, DELIVERED, Decimal("48.01"), "alipay_6060577", "minor_defect"
        )
    )
    assert exc.reason == "amount_exceeds_refundable" and exc.details["refundable"] == "48.00"
    order = shop.refund_order(TENANT, DELIVERED, Decimal("48"), "alipay_6060577", "minor_defect")
    assert order.paid == 0


REFUND_REFUSALS = [
    (DELIVERED, "0", "alipay_6060577", "price_protection", "invalid_amount"),
    (DELIVERED, "-5", "alipay_6060577", "price_protection", "invalid_amount"),
    (DELIVERED, "10.001", "alipay_6060577", "price_protection", "invalid_amount"),
    (DELIVERED, "248.01", "alipay_6060577", "price_protection", "amount_exceeds_refundable"),
    (DELIVERED, "10", "alipay_6060577", "changed my mind", "invalid_reason"),
    (DELIVERED, "10", "wechat_pay_1872332", "price_protection", "payment_method_not_found"),
    (CHEAP_PENDING, "10", "alipay_5067750", "price_protection", "order_not_refundable"),
    # the first failing check wins: status, then reason, then amount
    (CHEAP_PENDING, "0", "alipay_5067750", "nope", "order_not_refundable"),
    (DELIVERED, "0", "alipay_6060577", "nope", "invalid_reason"),
    (DELIVERED, "0", "nobody_pay_1", "price_protection", "invalid_amount"),
]


@pytest.mark.parametrize(("order_id", "amount", "method", "reason", "refusal"), REFUND_REFUSALS)
def test_partial_refund_refusals_write_nothing(
    shop: EmbeddedShop, order_id: str, amount: str, method: str, reason: str, refusal: str
) -> None:
    before = snapshot(shop)
    exc = refused(lambda: shop.refund_order(TENANT, order_id, Decimal(amount), method, reason))
    assert exc.reason == refusal
    assert snapshot(shop) == before


def test_refund_only_to_the_original_method_or_a_gift_card(config: Config, demo: ShopData) -> None:
    data = copy.deepcopy(demo)
    data.users[REFUNDER]["payment_methods"]["wechat_pay_1"] = {
        "source": "wechat_pay",
        "id": "wechat_pay_1",
    }
    service = make_service(config, data)
    try:
        exc = refused(
            lambda: service.shop.refund_order(
                TENANT, DELIVERED, Decimal("10"), "wechat_pay_1", "price_protection"
            )
        )
        assert exc.reason == "refund_method_not_allowed"
    finally:
        service.close()


def test_combined_refund_is_all_or_nothing(shop: EmbeddedShop) -> None:
    before = snapshot(shop)
    exc = refused(
        lambda: shop.refund_orders(
            TENANT,
            [
                (DELIVERED, Decimal("20"), "alipay_6060577"),
                (DELIVERED_2, Decimal("79.01"), "alipay_6060577"),
            ],
            "late_delivery",
        )
    )
    assert exc.reason == "amount_exceeds_refundable" and exc.details["order_id"] == DELIVERED_2
    assert snapshot(shop) == before  # the first order's refund was not written either
    first, second = shop.refund_orders(
        TENANT,
        [
            (DELIVERED, Decimal("20"), "alipay_6060577"),
            (DELIVERED_2, Decimal("5.50"), "gift_card_2986934"),
        ],
        "late_delivery",
    )
    assert (first.id, first.paid) == (DELIVERED, Decimal("228.0"))
    assert (second.id, second.paid) == (DELIVERED_2, Decimal("73.5"))
    card = shop.customer(TENANT, REFUNDER).payment_method("gift_card_2986934")
    assert card is not None and card.balance == Decimal("5.5")


def test_combined_refund_refusals(shop: EmbeddedShop) -> None:
    before = snapshot(shop)
    other = refused(
        lambda: shop.refund_orders(
            TENANT,
            [
                (DELIVERED, Decimal("1"), "alipay_6060577"),
                (OTHER_DELIVERED, Decimal("1"), "wechat_pay_1872332"),
            ],
            "late_delivery",
        )
    )
    assert other.reason == "different_customers"
    twice = refused(
        lambda: shop.refund_orders(
            TENANT,
            [
                (DELIVERED, Decimal("1"), "alipay_6060577"),
                (DELIVERED, Decimal("2"), "alipay_6060577"),
            ],
            "late_delivery",
        )
    )
    assert twice.reason == "duplicate_order"
    assert snapshot(shop) == before


def test_concurrent_refunds_of_one_order_never_exceed_what_was_paid(shop: EmbeddedShop) -> None:
    """Two refunds of 150.00 of a 248.00 order at once: the second waits for the first's lock
    and reads what it committed, so exactly one is written."""
    barrier = threading.Barrier(2)
    results: list[str] = []

    def run() -> None:
        barrier.wait(30)
        try:
            shop.refund_order(TENANT, DELIVERED, Decimal("150"), "alipay_6060577", "minor_defect")
            results.append("done")
        except OperationRefused as exc:
            results.append(exc.reason)
        except Exception as exc:  # a database error must fail the test
            results.append(repr(exc))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["amount_exceeds_refundable", "done"], results
    assert shop.order(TENANT, DELIVERED).paid == Decimal("98.0")


def test_combined_refund_preview_lists_each_order_and_goes_stale(svc: Service) -> None:
    request = RefundOrders(
        (
            RefundLine(DELIVERED, Decimal("20.00"), "alipay_6060577"),
            RefundLine(DELIVERED_2, Decimal("5.50"), "gift_card_2986934"),
        ),
        "late_delivery",
    )
    ops = operations(svc)
    shown = ops.preview(TENANT, request)
    assert shown.ok and shown.amount == Decimal("25.50")
    assert [(m.order_id, m.kind, m.amount, m.payment_method_id) for m in shown.money] == [
        (DELIVERED, "refund", Decimal("20.00"), "alipay_6060577"),
        (DELIVERED_2, "refund", Decimal("5.50"), "gift_card_2986934"),
    ]
    assert [(g.before, g.after) for g in shown.gift_cards] == [(Decimal("0.0"), Decimal("5.5"))]
    assert [o.order_id for o in shown.orders] == [DELIVERED_2]
    zh = shown.summary("zh", "¥")
    assert "原因: 发货或物流延迟" in zh
    assert f"退款 [{DELIVERED_2}] ¥5.50 到 礼品卡 (gift_card_2986934)" in zh
    # The second order changes after the preview: the fingerprint no longer matches.
    svc.shop.refund_order(TENANT, DELIVERED_2, Decimal("1"), "alipay_6060577", "minor_defect")
    assert preview(svc.shop, TENANT, request).fingerprint != shown.fingerprint
    before = snapshot(svc.shop)
    outcome = ops.execute(shown, Confirmation(shown.fingerprint, text="确认"))
    assert outcome.refusal is not None and outcome.refusal.reason == "stale_preview"
    assert snapshot(svc.shop) == before


def test_partial_refund_through_the_operation_layer(svc: Service) -> None:
    ops = operations(svc)
    request = RefundOrder(DELIVERED, Decimal("30.50"), "alipay_6060577", "price_protection")
    shown = ops.preview(TENANT, request, conversation_id="c-refund")
    assert shown.amount == Decimal("30.50")
    assert "部分退款 #D7677510" in shown.summary("zh", "¥")
    assert "退款 ¥30.50 到 支付宝 (alipay_6060577)" in shown.summary("zh", "¥")
    outcome = ops.execute(shown, Confirmation(shown.fingerprint, text="确认"))
    assert outcome.status == "executed"
    assert outcome.result == {"order_id": DELIVERED, "status": "delivered"}
    row = ops.ledger.get(outcome.ledger_id)
    assert row.status == "executed" and row.before is not None and row.after is not None
    assert len(row.after["order"]["payment_history"]) == 2
    assert len(row.before["order"]["payment_history"]) == 1
    again = ops.execute(shown, Confirmation(shown.fingerprint, text="确认"))
    assert again.replayed and again.ledger_id == outcome.ledger_id  # written once
    assert svc.shop.order(TENANT, DELIVERED).paid == Decimal("217.5")


def test_refusals_read_in_chinese(svc: Service) -> None:
    request = RefundOrder(DELIVERED, Decimal("999"), "alipay_6060577", "price_protection")
    shown = preview(svc.shop, TENANT, request)
    assert shown.refusal is not None and shown.refusal.reason == "amount_exceeds_refundable"
    assert "无法办理：退款金额超过了该订单可退的金额" in shown.summary("zh", "¥")
    assert "Not possible: the amount is more than" in shown.summary("en", "¥")


# -- requests ------------------------------------------------------------------------------------


REQUESTS = [
    RefundOrder(DELIVERED, Decimal("30.50"), "alipay_6060577", "price_protection"),
    RefundOrders((RefundLine(DELIVERED, Decimal("1.10"), "alipay_6060577"),), "late_delivery"),
    MergeOrders(("#D1", "#D2")),
    MergeOrders(("#D1", "#D2"), SHANGHAI),
    IssueCoupon("zihan_yang_9578", "delay_10", "delay_compensation"),
    IssueCoupon("zihan_yang_9578", "delay_10", "delay_compensation", DELIVERED),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: r.name)
def test_requests_round_trip_through_json(request_: Any) -> None:
    args = json.loads(json.dumps(request_.to_args()))
    assert request_from_args(request_.name, args) == request_
    assert request_.name in ALL_OPERATIONS
    assert callable(getattr(ShopWriter, request_.name))


def test_bad_arguments_name_the_field() -> None:
    with pytest.raises(InvalidInputError) as info:
        request_from_args(
            "refund_orders",
            {
                "refunds": [
                    {"order_id": "#D1", "amount": "1", "payment_method_id": "x"},
                    {"order_id": "#D2", "amount": "ten", "payment_method_id": "x"},
                ],
                "reason": "late_delivery",
            },
        )
    assert info.value.field == "refunds[1].amount"
    with pytest.raises(InvalidInputError) as info:
        request_from_args("merge_orders", {"order_ids": []})
    assert info.value.field == "order_ids"
    with pytest.raises(InvalidInputError, match="issue_coupon"):
        request_from_args("grant_points", {})


def test_the_port_returns_typed_orders(shop: EmbeddedShop) -> None:
    assert isinstance(shop, ShopWriter)
    order = shop.refund_order(TENANT, DELIVERED, Decimal("1"), "alipay_6060577", "minor_defect")
    assert isinstance(order, Order)
