"""The shop extensions over the HTTP connector: freight on an address change, partial and
combined refunds, merges and coupons on a real local merchant server (tests/fake_merchant.py)
holding the demo shop with its rules document.

For each write: the preview over HTTP equals the embedded shop's for the same data (amounts and
fingerprint); a confirmed write reaches the merchant once with the ledger's idempotency key (a
retry with that key applies nothing twice) and leaves the merchant's records as the embedded
shop's write leaves its own; a merchant refusal maps to OperationRefused with its reason;
unknown outcomes are reconciled by key. Then L3 conversations (price protection, delay
compensation) over the HTTP connector change the merchant's state once."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import Clock
from tests.fake_merchant import (
    MERCHANT_YAML,
    TOKEN,
    FakeMerchant,
    merchant_config,
    merchant_fixture,  # noqa: F401 - the fixture "merchant"
)
from tests.test_operations import confirm, operations
from tests.test_shop_extensions import (
    CHEAP_PENDING,
    DELIVERED,
    DELIVERED_2,
    DEMO_SHOP,
    REFUNDER,
    TENANT,
    TODAY,
    XINJIANG,
    make_service,
    variant_of,
)

from kefu.config import Config
from kefu.connectors.http import HttpShop
from kefu.connectors.http_config import parse_merchant_config
from kefu.connectors.tau_io import read_tau
from kefu.connectors.tau_schema import ShopData
from kefu.errors import MerchantConfigError, MerchantError, OperationRefused
from kefu.knowledge.embedding_cache import PersistentEmbedder
from kefu.knowledge.faq_index import FaqIndexCache
from kefu.knowledge.kb_io import read_faq_file
from kefu.operations.preview import preview
from kefu.operations.requests import (
    IssueCoupon,
    MergeOrders,
    ModifyOrderAddress,
    RefundLine,
    RefundOrder,
    RefundOrders,
    Request,
)
from kefu.quality.conversation_tests import DEMO_DATA
from kefu.service import Service, build_service

CUSTOMER = "zihan_jiang_4301"  # CHEAP_PENDING's customer: alipay_5067750, credit_card_5775723
CABLE = "#D0000001"  # added: pending, one cable 39.00, freight 8, paid 47 by credit card

CASES: dict[str, Request] = {
    # 山东 -> 新疆: freight 8.00 -> 20.00, 12.00 more from alipay
    "modify_order_address": ModifyOrderAddress(CHEAP_PENDING, XINJIANG),
    "refund_order": RefundOrder(DELIVERED, Decimal("30.50"), "alipay_6060577", "price_protection"),
    "refund_orders": RefundOrders(
        (
            RefundLine(DELIVERED, Decimal("20"), "alipay_6060577"),
            RefundLine(DELIVERED_2, Decimal("9.90"), "gift_card_2986934"),
        ),
        "late_delivery",
    ),
    # 59 + 39 < 99: one freight of 8.00 instead of two, 8.00 back to the cable's credit card
    "merge_orders": MergeOrders((CHEAP_PENDING, CABLE)),
    "issue_coupon": IssueCoupon(REFUNDER, "delay_10", "delay_compensation", DELIVERED),
}
# What each preview must show: (kind, amount, method) of its money, and the operation's own part.
MONEY = {
    "modify_order_address": [("payment", "12.00", "alipay_5067750")],
    "refund_order": [("refund", "30.50", "alipay_6060577")],
    "refund_orders": [
        ("refund", "20.00", "alipay_6060577"),
        ("refund", "9.90", "gift_card_2986934"),
    ],
    "merge_orders": [("refund", "8.00", "credit_card_5775723")],
    "issue_coupon": [],
}
AMOUNT = {
    "modify_order_address": "12.00",
    "refund_order": "30.50",
    "refund_orders": "29.90",
    "merge_orders": "8.00",
    "issue_coupon": "10.00",
}
# The records each write changes at the merchant (orders by id; "customer": the customer).
TOUCHED = {
    "modify_order_address": [CHEAP_PENDING],
    "refund_order": [DELIVERED],
    "refund_orders": [DELIVERED, DELIVERED_2, "customer"],
    "merge_orders": [CHEAP_PENDING, CABLE],
    "issue_coupon": ["customer"],
}


def _data() -> ShopData:
    """The demo shop with a second pending order of CUSTOMER, payments including the freight."""
    data = copy.deepcopy(read_tau(DEMO_SHOP))
    target = data.orders[CHEAP_PENDING]
    target["payment_history"][0]["amount"] = 67.0  # 59 + freight 8
    cable = copy.deepcopy(target)
    cable.update(order_id=CABLE, items=[variant_of(data, "编织快充数据线")], freight=8.0)
    cable["payment_history"] = [
        {"transaction_type": "payment", "amount": 47.0, "payment_method_id": "credit_card_5775723"}
    ]
    data.orders[CABLE] = cable
    data.users[CUSTOMER]["orders"].append(CABLE)
    return data


@pytest.fixture(scope="module")
def data() -> ShopData:
    return _data()


@pytest.fixture(scope="module")
def ref(tmp_path_factory: pytest.TempPathFactory, data: ShopData) -> Iterator[Service]:
    """kefu with the same shop embedded, never written: the reference previews (one per
    module)."""
    directory = tmp_path_factory.mktemp("ref")
    config = Config.from_env(directory, env={"KEFU_DATABASE_URL": f"sqlite:///{directory}/k.db"})
    service = make_service(config, data)
    yield service
    service.close()


@pytest.fixture
def loaded(merchant: FakeMerchant, data: ShopData) -> FakeMerchant:
    merchant.load(TENANT, data.users, data.orders, data.products, rules=data.rules)
    merchant.shop.today = lambda: TODAY  # type: ignore[method-assign]
    return merchant


def _http(merchant: FakeMerchant, ref: Service, **options: Any) -> HttpShop:
    shop = HttpShop(merchant_config(merchant.base_url, **options), ref.tenants)
    shop.today = lambda: TODAY  # type: ignore[method-assign]
    return shop


@pytest.fixture
def http(loaded: FakeMerchant, ref: Service) -> Iterator[HttpShop]:
    shop = _http(loaded, ref)
    yield shop
    shop.close()


@pytest.fixture
def svc(config: Config, data: ShopData) -> Iterator[Service]:
    """kefu with its own ledger and an embedded copy of the shop to write the same requests to
    (a fresh database per test)."""
    service = make_service(config, data)
    yield service
    service.close()


def _merchant_records(merchant: FakeMerchant, customer_id: str) -> dict[str, Any]:
    dump = merchant.shop.dump(TENANT)
    return {"orders": dump.orders, "customer": dump.users[customer_id]}


def _touched(records: dict[str, Any], operation: str) -> list[Any]:
    return [
        records["customer"] if name == "customer" else records["orders"][name]
        for name in TOUCHED[operation]
    ]


def _writes(merchant: FakeMerchant) -> list[tuple[str, str | None]]:
    return [(path, key) for method, path, key in merchant.requests if method != "GET"]


# -- previews ----------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", CASES)
def test_previews_over_http_equal_the_embedded_shops(
    operation: str, loaded: FakeMerchant, http: HttpShop, ref: Service
) -> None:
    request = CASES[operation]
    shown = preview(http, TENANT, request)
    expected = preview(ref.shop, TENANT, request)
    assert shown.refusal is None, shown.refusal
    assert shown.to_dict() == expected.to_dict()  # every amount, and the fingerprint
    assert shown.before == expected.before and shown.after == expected.after
    assert [(m.kind, str(m.amount), m.payment_method_id) for m in shown.money] == MONEY[operation]
    assert str(shown.amount) == AMOUNT[operation]
    assert _writes(loaded) == []  # a preview sends nothing


def test_the_extensions_own_parts_of_the_previews(loaded: FakeMerchant, http: HttpShop) -> None:
    readdress = preview(http, TENANT, CASES["modify_order_address"])
    assert readdress.freight == (Decimal("8.00"), Decimal("20.00"))
    assert "原运费 ¥8.00，新运费 ¥20.00，差价 ¥12.00" in readdress.summary("zh", "¥")
    merge = preview(http, TENANT, CASES["merge_orders"])
    assert merge.freight == (Decimal("16.00"), Decimal("8.00"))
    assert [(t.from_order_id, str(t.amount)) for t in merge.transfers] == [(CABLE, "47.00")]
    assert [(o.order_id, o.status) for o in merge.orders] == [(CABLE, ("pending", "cancelled"))]
    coupon = preview(http, TENANT, CASES["issue_coupon"]).coupon
    assert coupon is not None and coupon.face_value == Decimal("10.00")
    assert coupon.coupon_id == "delay_10-1" and coupon.valid_until == "2026-12-10"


def test_the_rules_document_is_read_through_the_mapping(
    loaded: FakeMerchant, http: HttpShop, ref: Service, data: ShopData
) -> None:
    assert http.rules_doc(TENANT) == data.rules
    assert http.rules(TENANT) == ref.shop.rules(TENANT)


def test_refused_previews_are_the_embedded_shops_and_never_sent(
    loaded: FakeMerchant, http: HttpShop, ref: Service
) -> None:
    requests: list[tuple[Request, str]] = [
        (
            RefundOrder(DELIVERED, Decimal("248.01"), "alipay_6060577", "price_protection"),
            "amount_exceeds_refundable",
        ),
        (
            RefundOrder(CHEAP_PENDING, Decimal("1"), "alipay_5067750", "price_protection"),
            "order_not_refundable",
        ),
        (
            RefundOrders(
                (
                    RefundLine(DELIVERED, Decimal("1"), "alipay_6060577"),
                    RefundLine(CHEAP_PENDING, Decimal("1"), "alipay_5067750"),
                ),
                "late_delivery",
            ),
            "different_customers",
        ),
        (MergeOrders((CHEAP_PENDING, DELIVERED)), "different_customers"),
        (IssueCoupon(REFUNDER, "delay_10", "quality_compensation"), "reason_not_allowed"),
        (IssueCoupon(REFUNDER, "no_such_coupon", "delay_compensation"), "unknown_coupon"),
    ]
    for request, reason in requests:
        shown = preview(http, TENANT, request)
        assert shown.refusal is not None and shown.refusal.reason == reason
        assert shown.to_dict() == preview(ref.shop, TENANT, request).to_dict()
    with pytest.raises(OperationRefused) as info:
        http.refund_order(TENANT, DELIVERED, Decimal("0"), "alipay_6060577", "price_protection")
    assert info.value.reason == "invalid_amount"
    assert _writes(loaded) == []


# -- confirmed writes ----------------------------------------------------------------------------


@pytest.mark.parametrize("operation", CASES)
def test_a_confirmed_write_reaches_the_merchant_once_as_the_embedded_shop_writes_it(
    operation: str, loaded: FakeMerchant, http: HttpShop, svc: Service
) -> None:
    request = CASES[operation]
    customer_id = preview(http, TENANT, request).customer_id
    layer = operations(svc, http)
    shown = layer.preview(TENANT, request, conversation_id="c-1")
    loaded.misbehave("drop_after")  # applied, the answer lost: retried with the same key
    outcome = layer.execute(shown, confirm(shown))
    assert outcome.executed, outcome
    assert loaded.applied == [(operation, outcome.idempotency_key)]
    writes = _writes(loaded)
    assert len(writes) == 2 and {key for _, key in writes} == {outcome.idempotency_key}
    # the merchant's records are what the embedded shop's own write of the request leaves
    request.apply(svc.shop, TENANT)
    embedded = svc.shop.dump(TENANT)
    expected = {"orders": embedded.orders, "customer": embedded.users[customer_id]}
    merchant_now = _merchant_records(loaded, customer_id)
    assert _touched(merchant_now, operation) == _touched(expected, operation)
    # the ledger's after is the merchant's answer: what the preview predicted
    [executed] = layer.ledger.list(TENANT, status="executed")
    assert executed.after == shown.after
    # the customer confirms again: replayed, nothing sent
    assert layer.execute(shown, confirm(shown)).replayed
    assert len(loaded.applied) == 1 and len(_writes(loaded)) == 2


def test_the_plain_shop_writer_methods_write_over_http(
    loaded: FakeMerchant, http: HttpShop
) -> None:
    order = http.refund_order(TENANT, DELIVERED, Decimal("30.50"), "alipay_6060577", "minor_defect")
    assert order.extras["partial_refunds"] == [
        {"amount": 30.5, "reason": "minor_defect", "payment_method_id": "alipay_6060577"}
    ]
    orders = http.refund_orders(
        TENANT,
        [
            (DELIVERED_2, Decimal("5"), "alipay_6060577"),
            (DELIVERED, Decimal("5"), "alipay_6060577"),
        ],
        "late_delivery",
    )
    assert [o.id for o in orders] == [DELIVERED_2, DELIVERED]
    assert orders[1].paid == Decimal("248") - Decimal("35.5")
    merged = http.merge_orders(TENANT, [CHEAP_PENDING, CABLE])
    assert merged.extras["merged_from"] == [CABLE] and merged.extras["freight"] == 8.0
    customer = http.issue_coupon(TENANT, REFUNDER, "delay_10", "delay_compensation")
    assert [c["coupon_id"] for c in customer.extras["coupons"]] == ["delay_10-1"]
    assert [op for op, _ in loaded.applied] == [
        "refund_order",
        "refund_orders",
        "merge_orders",
        "issue_coupon",
    ]
    assert len({key for _, key in loaded.applied}) == 4  # a fresh key per call


def test_a_retry_of_the_same_key_is_answered_from_the_merchants_record(
    loaded: FakeMerchant, http: HttpShop
) -> None:
    """The operation layer re-sends a key after an unknown outcome: the merchant answers it
    with its stored first answer, whatever our rules would allow again."""
    args = {"customer_id": REFUNDER, "template_id": "delay_10", "reason": "delay_compensation"}
    first = http.write(TENANT, "issue_coupon", args, idempotency_key="k-coupon")
    again = http.write(TENANT, "issue_coupon", args, idempotency_key="k-coupon")
    assert again.customer_after["coupons"] == first.customer_after["coupons"]
    assert len(loaded.shop.dump(TENANT).users[REFUNDER]["coupons"]) == 1
    assert loaded.applied == [("issue_coupon", "k-coupon")]


# -- merchant refusals ----------------------------------------------------------------------------

# A change the merchant accepts between our read and its write (no lock spans its API), and the
# refusal its own rules then give.
RACES: dict[str, tuple[Callable[[FakeMerchant], object], str]] = {
    "modify_order_address": (
        lambda m: m.shop.cancel_order(TENANT, CHEAP_PENDING, "no longer needed"),
        "order_not_pending",
    ),
    "refund_order": (
        lambda m: m.shop.refund_order(
            TENANT, DELIVERED, Decimal("240"), "alipay_6060577", "minor_defect"
        ),
        "amount_exceeds_refundable",
    ),
    "refund_orders": (
        lambda m: m.shop.refund_order(
            TENANT, DELIVERED_2, Decimal("79"), "alipay_6060577", "minor_defect"
        ),
        "amount_exceeds_refundable",
    ),
    "merge_orders": (
        lambda m: m.shop.cancel_order(TENANT, CABLE, "no longer needed"),
        "order_not_pending",
    ),
    "issue_coupon": (
        lambda m: [
            m.shop.issue_coupon(TENANT, REFUNDER, "delay_10", "delay_compensation")
            for _ in range(2)
        ],
        "coupon_limit_reached",
    ),
}


@pytest.mark.parametrize("operation", CASES)
def test_a_merchant_refusal_is_recorded_with_the_merchants_reason(
    operation: str, loaded: FakeMerchant, http: HttpShop, svc: Service
) -> None:
    layer = operations(svc, http)
    shown = layer.preview(TENANT, CASES[operation], conversation_id="c-1")
    change, reason = RACES[operation]
    loaded.before_write = lambda: change(loaded)
    outcome = layer.execute(shown, confirm(shown))
    assert outcome.status == "refused" and outcome.refusal is not None
    assert outcome.refusal.reason == reason
    assert loaded.applied == []
    stored = loaded.stored(outcome.idempotency_key)
    assert stored is not None and stored[0] == 409
    assert outcome.refusal.message == stored[1]["error"]["message"]  # the merchant's words


# -- unknown outcomes ----------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["refund_order", "merge_orders", "issue_coupon"])
def test_an_unknown_outcome_is_reconciled_by_key_and_never_applied_twice(
    operation: str, loaded: FakeMerchant, http: HttpShop, svc: Service
) -> None:
    layer = operations(svc, http)
    shown = layer.preview(TENANT, CASES[operation], conversation_id="c-1")
    loaded.misbehave("error_after")  # applied, then 500
    outcome = layer.execute(shown, confirm(shown))
    assert outcome.status == "unknown_outcome"
    reconciled = layer.reconcile(outcome.ledger_id)
    assert reconciled.status == "executed"
    assert [op for op, _ in loaded.applied] == [operation]
    assert len(_writes(loaded)) == 1  # the merchant's record said so: not sent again
    shown_record = reconciled.to_dict()["result"]
    if operation == "issue_coupon":  # a coupon is on the customer, not on an order
        assert shown_record == {"customer_id": CASES[operation].target}
    else:
        assert shown_record["order_id"] == CASES[operation].target


def test_without_a_key_lookup_the_records_tell_a_coupon_was_issued(
    loaded: FakeMerchant, ref: Service, svc: Service
) -> None:
    http = _http(loaded, ref, lookup=False)
    try:
        layer = operations(svc, http)
        shown = layer.preview(TENANT, CASES["issue_coupon"], conversation_id="c-1")
        loaded.misbehave("drop_after", 3)
        outcome = layer.execute(shown, confirm(shown))
        assert outcome.status == "unknown_outcome"
        reconciled = layer.reconcile(outcome.ledger_id)
        assert reconciled.status == "executed"
        assert [op for op, _ in loaded.applied] == ["issue_coupon"]
        assert reconciled.to_dict()["result"] == {"customer_id": CASES["issue_coupon"].target}
    finally:
        http.close()


def test_a_write_that_never_applied_is_sent_again_with_the_same_key(
    loaded: FakeMerchant, http: HttpShop, svc: Service
) -> None:
    layer = operations(svc, http)
    shown = layer.preview(TENANT, CASES["refund_orders"], conversation_id="c-1")
    loaded.misbehave("unavailable", 3)  # 503 every try: maybe sent, nothing applied
    outcome = layer.execute(shown, confirm(shown))
    assert outcome.status == "unknown_outcome"
    assert layer.reconcile(outcome.ledger_id).status == "executed"
    assert loaded.applied == [("refund_orders", outcome.idempotency_key)]
    assert {key for _, key in _writes(loaded)} == {outcome.idempotency_key}


def test_without_a_key_lookup_the_records_tell_a_refund_was_applied(
    loaded: FakeMerchant, ref: Service, svc: Service
) -> None:
    http = _http(loaded, ref, lookup=False)
    try:
        layer = operations(svc, http)
        shown = layer.preview(TENANT, CASES["refund_order"], conversation_id="c-1")
        loaded.misbehave("drop_after", 3)
        outcome = layer.execute(shown, confirm(shown))
        assert outcome.status == "unknown_outcome"
        assert layer.reconcile(outcome.ledger_id).status == "executed"
        assert len(loaded.applied) == 1
    finally:
        http.close()


# -- the merchant file ---------------------------------------------------------------------------


def _raw() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(MERCHANT_YAML.read_text(encoding="utf-8"))
    return raw


def test_the_extension_templates_are_checked() -> None:
    raw = _raw()
    raw["writes"]["issue_coupon"] = "POST /{tenant}/coupons/{order_id}"
    with pytest.raises(MerchantConfigError) as info:
        parse_merchant_config(raw, "m.yaml", env={"MERCHANT_TOKEN": "x"})
    assert "writes.issue_coupon" in info.value.message and "{order_id}" in info.value.message
    raw = _raw()
    raw["reads"]["shop_rules"] = "POST /{tenant}/rules"
    with pytest.raises(MerchantConfigError, match=r"'reads\.shop_rules': a read must be a GET"):
        parse_merchant_config(raw, "m.yaml", env={"MERCHANT_TOKEN": "x"})
    raw = _raw()
    raw["fields"]["coupon_templates"] = {"title": "name"}
    with pytest.raises(MerchantConfigError, match="unknown document 'coupon_templates'"):
        parse_merchant_config(raw, "m.yaml", env={"MERCHANT_TOKEN": "x"})


def _shop_from(raw: dict[str, Any], merchant: FakeMerchant, ref: Service) -> HttpShop:
    raw["base_url"] = merchant.base_url
    raw["retries"]["backoff_s"] = 0
    shop = HttpShop(
        parse_merchant_config(raw, "m.yaml", env={"MERCHANT_TOKEN": TOKEN}), ref.tenants
    )
    shop.today = lambda: TODAY  # type: ignore[method-assign]
    return shop


def test_a_merchant_without_the_extensions_is_tau_and_says_what_is_missing(
    loaded: FakeMerchant, ref: Service
) -> None:
    raw = _raw()
    del raw["reads"]["shop_rules"]
    for name in ("refund_order", "refund_orders", "merge_orders", "issue_coupon"):
        del raw["writes"][name]
    shop = _shop_from(raw, loaded, ref)
    try:
        with pytest.raises(MerchantError, match=r"declares no writes\.refund_order"):
            preview(shop, TENANT, CASES["refund_order"])
        readdress = preview(shop, TENANT, CASES["modify_order_address"])  # tau's: no freight
        assert readdress.freight is None and readdress.money == ()
        assert shop.rules(TENANT) is None
    finally:
        shop.close()
    raw = _raw()
    del raw["reads"]["shop_rules"]
    shop = _shop_from(raw, loaded, ref)
    try:
        refused = preview(shop, TENANT, CASES["issue_coupon"]).refusal
        assert refused is not None and refused.reason == "coupons_not_configured"
    finally:
        shop.close()
    assert _writes(loaded) == []


def test_rules_that_do_not_fit_the_mapping_are_a_merchant_error(
    loaded: FakeMerchant, ref: Service
) -> None:
    raw = _raw()
    del raw["fields"]["freight_zone"]["base_fee"]  # zones then lack first_kg
    shop = _shop_from(raw, loaded, ref)
    try:
        with pytest.raises(MerchantError, match="shop rules do not match the field mapping"):
            preview(shop, TENANT, CASES["modify_order_address"])
    finally:
        shop.close()


# -- conversations over the HTTP connector -------------------------------------------------------

OWNER = "lijuan_wang_7028"
PROTECTED = "#D3137656"  # delivered, paid with wechat_pay_1872332; item 2: 缓震跑步鞋 389.00
SHOES = ("3828182895", "8860340335")
LATE = "#D6441548"  # processed, placed 2026-11-07, not delivered


@pytest.fixture
def l3(
    merchant: FakeMerchant,
    tmp_path: Path,
    database_url: str,
    embedder: PersistentEmbedder,
    index_cache: FaqIndexCache,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Service]:
    """kefu at L3 with KEFU_SHOP_CONNECTOR pointing at the merchant, which holds the demo shop
    with its rules and the running shoes 30.00 cheaper than when they were bought."""
    data = read_tau(DEMO_DATA / "shop")
    products = copy.deepcopy(data.products)
    products[SHOES[0]]["variants"][SHOES[1]]["price"] = 359.0
    merchant.load("demo", data.users, data.orders, products, rules=data.rules)
    raw = _raw()
    raw["base_url"] = merchant.base_url
    raw["retries"]["backoff_s"] = 0
    path = tmp_path / "merchant.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("MERCHANT_TOKEN", TOKEN)
    env = {"KEFU_DATABASE_URL": database_url, "KEFU_SHOP_CONNECTOR": str(path)}
    service = build_service(
        Config.from_env(tmp_path / "kefu", env=env), embedder=embedder, clock=clock
    )
    service.index_cache = index_cache
    service.tenants.create("demo", {"level": "L3", "language": "zh", "return_window_days": 0})
    service.faqs.upsert_many("demo", read_faq_file(DEMO_DATA / "faq.jsonl"))
    service.shop.load("demo", {}, {}, data.products)  # the catalogue the extractor reads
    assert isinstance(service.connector, HttpShop)
    yield service
    service.close()


def _talk(svc: Service, customer: str, *texts: str) -> tuple[str, list[dict[str, Any]]]:
    conv, _ = svc.start_conversation("demo", "web", customer, "zh")
    return conv.id, [svc.handle_message(conv.id, t).to_dict() for t in texts]


def _text(turn: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in turn["replies"])


def test_price_protection_over_http_refunds_the_difference_once(
    l3: Service, merchant: FakeMerchant, clock: Clock
) -> None:
    clock.now = datetime(2026, 8, 3, 2, 0, 0)  # within the 7 days of price protection
    paid = merchant.shop.dump("demo").orders[PROTECTED]["payment_history"]
    conv, turns = _talk(l3, OWNER, "买了就降价了能退差价吗", PROTECTED, "跑步鞋", "确认", "确认")
    shown = next(t for t in turns if t["replies"][-1]["type"] == "preview")
    assert "30.00" in _text(shown)
    assert [op for op, _ in merchant.applied] == ["refund_order"]
    after = merchant.shop.dump("demo").orders[PROTECTED]
    assert after["payment_history"][: len(paid)] == paid
    assert after["payment_history"][len(paid) :] == [
        {"transaction_type": "refund", "amount": 30.0, "payment_method_id": "wechat_pay_1872332"}
    ]
    assert after["partial_refunds"][0]["reason"] == "price_protection"
    rows = l3.operations.ledger.list("demo", conversation_id=conv, limit=100)
    assert [r.operation for r in rows if r.status == "executed"] == ["refund_order"]


def test_delay_compensation_over_http_issues_the_merchants_coupon_once(
    l3: Service, merchant: FakeMerchant
) -> None:
    customer = merchant.shop.dump("demo").orders[LATE]["user_id"]
    conv, turns = _talk(l3, customer, f"订单{LATE}快递太慢了有补偿吗", "确认", "确认")
    assert turns[0]["replies"][-1]["type"] == "preview"
    assert "10.00" in _text(turns[0])
    assert [op for op, _ in merchant.applied] == ["issue_coupon"]
    coupons = merchant.shop.dump("demo").users[customer]["coupons"]
    assert [(c["template_id"], c["order_id"], c["reason"]) for c in coupons] == [
        ("delay_10", LATE, "delay_compensation")
    ]
    rows = l3.operations.ledger.list("demo", conversation_id=conv, limit=100)
    assert [r.operation for r in rows if r.status == "executed"] == ["issue_coupon"]
