"""The HTTP connector against a real local merchant server (tests/fake_merchant.py) whose state
is a real embedded shop: the merchant file's schema and errors, reads through the field
mapping, local dry runs with the embedded shop's rules, writes with idempotency keys, safe
retries and the mapping of the merchant's errors to ours."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.fake_merchant import (
    MERCHANT_YAML,
    TOKEN,
    FakeMerchant,
    merchant_config,
    merchant_fixture,  # noqa: F401 - the fixture "merchant"
)
from tests.test_operations import (
    ADDRESS,
    CASES,
    DELIVERED,
    PENDING,
    TENANT,
    confirm,
    operations,
    shop_slice,
)

from kefu.config import Config
from kefu.connectors.embedded_writes import DryRun
from kefu.connectors.http import HttpShop, load_merchant_config, make_shop
from kefu.connectors.http_config import parse_merchant_config
from kefu.connectors.port import ShopReader
from kefu.errors import (
    ConfigurationError,
    CustomerNotFound,
    MerchantConfigError,
    MerchantError,
    OperationRefused,
    OrderNotFound,
    ProductNotFound,
    TenantNotFound,
    WriteOutcomeUnknown,
)
from kefu.operations.execute import KeyedShop
from kefu.operations.preview import preview
from kefu.service import Service, build_service

WRITES = (
    "cancel_order",
    "modify_order_address",
    "modify_customer_address",
    "modify_order_items",
    "modify_order_payment",
    "return_order_items",
    "exchange_order_items",
)


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return shop_slice()


def _service(config: Config, data: dict[str, Any]) -> Service:
    service = build_service(config, embedder=None)
    service.tenants.create(TENANT)
    service.shop.load(TENANT, data["users"], data["orders"], data["products"])
    return service


@pytest.fixture(scope="module")
def ref(tmp_path_factory: pytest.TempPathFactory, data: dict[str, Any]) -> Iterator[Service]:
    """kefu with the same shop embedded, never written: the reference reads and dry runs are
    compared with (one per module)."""
    directory = tmp_path_factory.mktemp("ref")
    config = Config.from_env(directory, env={"KEFU_DATABASE_URL": f"sqlite:///{directory}/k.db"})
    service = _service(config, data)
    yield service
    service.close()


@pytest.fixture
def svc(config: Config, data: dict[str, Any]) -> Iterator[Service]:
    """kefu with its own ledger (a fresh database per test)."""
    service = _service(config, data)
    yield service
    service.close()


@pytest.fixture
def loaded(merchant: FakeMerchant, data: dict[str, Any]) -> FakeMerchant:
    merchant.load(TENANT, data["users"], data["orders"], data["products"])
    return merchant


@pytest.fixture
def http(loaded: FakeMerchant, ref: Service) -> Iterator[HttpShop]:
    shop = HttpShop(merchant_config(loaded.base_url), ref.tenants)
    yield shop
    shop.close()


def _raw() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(MERCHANT_YAML.read_text(encoding="utf-8"))
    return raw


# -- the merchant file ----------------------------------------------------------------------


def test_the_example_file_loads_with_the_token_from_the_environment() -> None:
    config = load_merchant_config(MERCHANT_YAML, env={"MERCHANT_TOKEN": "s3cret"})
    assert config.auth_header == "Authorization" and config.auth_value == "Bearer s3cret"
    assert config.writes["cancel_order"].method == "POST"
    assert config.writes["modify_customer_address"].method == "PUT"
    assert config.lookup is not None and config.lookup.placeholders == {"tenant", "key"}
    # the shop extensions (tests/test_http_extensions.py): the rules read and four writes
    assert config.reads["shop_rules"].path == "/{tenant}/rules"
    assert config.writes["refund_orders"].placeholders == {"tenant", "customer_id"}
    assert sorted(config.writes) == sorted(
        (*WRITES, "refund_order", "refund_orders", "merge_orders", "issue_coupon")
    )
    assert "s3cret" not in MERCHANT_YAML.read_text(encoding="utf-8")


def _without(path: str) -> dict[str, Any]:
    raw = _raw()
    *parents, last = path.split(".")
    node = raw
    for part in parents:
        node = node[part]
    del node[last]
    return raw


def _with(path: str, value: Any) -> dict[str, Any]:
    raw = _raw()
    *parents, last = path.split(".")
    node = raw
    for part in parents:
        node = node[part]
    node[last] = value
    return raw


BAD_FILES: dict[str, tuple[Any, str | None, str]] = {
    "missing write": (_without("writes.cancel_order"), "writes.cancel_order", "Field required"),
    "typo": (_with("retries.attempt", 3), "retries.attempt", "unknown key"),
    "secret in the file": (_with("auth.value", "Bearer abc123"), "auth.value", "environment"),
    "bad template": (_with("reads.order", "FETCH /orders/{order_id}"), "reads.order", "METHOD"),
    "unknown placeholder": (
        _with("writes.cancel_order", "POST /orders/{order}/cancel"),
        "writes.cancel_order",
        "unknown placeholder {order}",
    ),
    "read not a GET": (_with("reads.order", "POST /orders/{order_id}"), "reads.order", "GET"),
    "bad base url": (_with("base_url", "ftp://shop"), "base_url", "http"),
    "bad timeout": (_with("timeouts.read", -1), "timeouts.read", "greater than 0"),
    "unknown document": (_with("fields.invoice", {"a": "b"}), "fields", "unknown document"),
    "two fields to one": (
        _with("fields.order", {"id": "order_id", "number": "order_id"}),
        "fields",
        "several merchant fields map to order_id",
    ),
    "not a mapping": (["a", "b"], None, "YAML mapping"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_merchant_file_names_the_file_the_key_and_the_problem(case: str) -> None:
    raw, key, problem = BAD_FILES[case]
    with pytest.raises(MerchantConfigError) as err:
        parse_merchant_config(raw, "merchant.yaml", env={"MERCHANT_TOKEN": "x"})
    assert err.value.file == "merchant.yaml" and err.value.key == key
    assert problem in err.value.problem
    assert str(err.value).startswith("merchant.yaml" + ("" if key is None else f", key {key!r}"))
    assert isinstance(err.value, ConfigurationError)


def test_an_unset_token_variable_and_broken_yaml_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(MerchantConfigError) as err:
        load_merchant_config(MERCHANT_YAML, env={})
    assert err.value.key == "auth.value" and "MERCHANT_TOKEN is not set" in str(err.value)
    broken = tmp_path / "broken.yaml"
    broken.write_text("base_url: [unclosed\n", encoding="utf-8")
    with pytest.raises(MerchantConfigError) as err:
        load_merchant_config(broken, env={})
    assert str(broken) in str(err.value) and "line 2" in str(err.value)
    with pytest.raises(MerchantConfigError, match="cannot read"):
        load_merchant_config(tmp_path / "missing.yaml", env={})


def test_the_connector_is_chosen_by_kefu_shop_connector(tmp_path: Path, ref: Service) -> None:
    base = {"KEFU_DATABASE_URL": "sqlite://"}
    assert Config.from_env(tmp_path, env=base).shop_connector == "embedded"
    chosen = Config.from_env(tmp_path, env={**base, "KEFU_SHOP_CONNECTOR": str(MERCHANT_YAML)})
    assert chosen.shop_connector == str(MERCHANT_YAML)
    for bad in ("http", str(tmp_path / "nope.yaml"), str(Path(__file__))):
        with pytest.raises(ConfigurationError, match="KEFU_SHOP_CONNECTOR"):
            Config.from_env(tmp_path, env={**base, "KEFU_SHOP_CONNECTOR": bad})
    from kefu.storage.db import session_factory

    sessions = session_factory(ref.engine)
    embedded = make_shop(Config.from_env(tmp_path, env=base), sessions, ref.tenants)
    assert type(embedded).__name__ == "EmbeddedShop"
    shop = make_shop(chosen, sessions, ref.tenants, env={"MERCHANT_TOKEN": "t"})
    assert isinstance(shop, HttpShop) and shop.config.auth_value == "Bearer t"
    shop.close()
    with pytest.raises(MerchantConfigError, match="MERCHANT_TOKEN"):
        make_shop(chosen, sessions, ref.tenants, env={})


# -- reads ----------------------------------------------------------------------------------


def test_reads_through_the_mapping_equal_the_embedded_shops(http: HttpShop, ref: Service) -> None:
    """The merchant renames almost every field; mapped back, every object is the same."""
    assert isinstance(http, ShopReader) and isinstance(http, KeyedShop)
    assert not isinstance(ref.shop, KeyedShop)  # the embedded shop gets no key
    embedded = ref.shop
    assert http.order(TENANT, PENDING) == embedded.order(TENANT, PENDING)
    assert http.order(TENANT, PENDING.lstrip("#")) == embedded.order(TENANT, PENDING)
    assert http.tracking(TENANT, DELIVERED) == embedded.tracking(TENANT, DELIVERED)
    customer = embedded.customer(TENANT, "ethan_lopez_6291")
    assert http.customer(TENANT, "ethan_lopez_6291") == customer
    assert http.find_customer_by_email(TENANT, customer.email.upper()) == customer
    assert (
        http.find_customer_by_name_zip(
            TENANT, customer.first_name, customer.last_name, customer.address.zip
        )
        == customer
    )
    assert http.orders_of_customer(TENANT, "ethan_lopez_6291") == embedded.orders_of_customer(
        TENANT, "ethan_lopez_6291"
    )
    product_id = embedded.order(TENANT, PENDING).items[0].product_id
    assert http.product(TENANT, product_id) == embedded.product(TENANT, product_id)
    assert http.list_products(TENANT) == embedded.list_products(TENANT)
    assert http.list_products(TENANT, name="shirt", in_stock=True) == embedded.list_products(
        TENANT, name="shirt", in_stock=True
    )
    item_id = embedded.order(TENANT, PENDING).items[0].item_id
    assert http.variant(TENANT, item_id) == embedded.variant(TENANT, item_id)


def test_missing_records_and_unknown_tenants_raise_ours(http: HttpShop) -> None:
    with pytest.raises(OrderNotFound):
        http.order(TENANT, "#W0000000")
    with pytest.raises(CustomerNotFound):
        http.customer(TENANT, "nobody_1")
    with pytest.raises(CustomerNotFound):
        http.find_customer_by_email(TENANT, "nobody@example.com")
    with pytest.raises(CustomerNotFound):
        http.find_customer_by_phone(TENANT, "13800138000")
    with pytest.raises(ProductNotFound):
        http.product(TENANT, "0")
    with pytest.raises(ProductNotFound):
        http.variant(TENANT, "0")
    with pytest.raises(TenantNotFound):
        http.order("elsewhere", PENDING)


def test_every_request_carries_the_token_and_a_wrong_one_is_a_merchant_error(
    loaded: FakeMerchant, ref: Service
) -> None:
    raw = _raw()
    raw["base_url"] = loaded.base_url
    wrong = HttpShop(parse_merchant_config(raw, "m.yaml", env={"MERCHANT_TOKEN": "wrong"}))
    with pytest.raises(MerchantError) as err:
        wrong.order(TENANT, PENDING)
    assert err.value.http_status == 401 and "wrong" not in str(err.value)
    wrong.close()


def test_reads_are_retried_after_503_and_dropped_connections(
    loaded: FakeMerchant, http: HttpShop
) -> None:
    loaded.misbehave("unavailable", 1, writes_only=False)
    loaded.misbehave("drop_before", 1, writes_only=False)
    assert http.order(TENANT, PENDING).id == PENDING
    assert [m for m, _, _ in loaded.requests] == ["GET"] * 3
    loaded.misbehave("unavailable", 3, writes_only=False)
    with pytest.raises(MerchantError, match="after 3 tries"):
        http.order(TENANT, PENDING)


def test_a_reply_that_breaks_the_mapping_is_a_merchant_error(
    loaded: FakeMerchant, ref: Service
) -> None:
    raw = _raw()
    raw["base_url"] = loaded.base_url
    del raw["fields"]["order"]["state"]  # "state" stays "state": no "status"
    shop = HttpShop(parse_merchant_config(raw, "m.yaml", env={"MERCHANT_TOKEN": TOKEN}))
    with pytest.raises(MerchantError, match=r"does not match the field mapping.*'status'"):
        shop.order(TENANT, PENDING)
    shop.close()


# -- dry runs and writes --------------------------------------------------------------------


def _same_run(a: DryRun, b: DryRun) -> None:
    assert (a.operation, a.customer_id) == (b.operation, b.customer_id)
    assert a.order_before == b.order_before and a.order_after == b.order_after
    assert a.customer_before == b.customer_before and a.customer_after == b.customer_after
    assert (a.refusal and a.refusal.reason) == (b.refusal and b.refusal.reason)


@pytest.mark.parametrize("operation", WRITES)
def test_dry_runs_are_the_embedded_shops_rules_on_the_merchants_records(
    operation: str, http: HttpShop, ref: Service
) -> None:
    request = CASES[operation]
    _same_run(
        http.dry_run(TENANT, operation, request.dry_run_args()),
        ref.shop.dry_run(TENANT, operation, request.dry_run_args()),
    )
    assert preview(http, TENANT, request) == preview(ref.shop, TENANT, request)


def test_a_refused_dry_run_is_refused_locally_and_never_sent(
    loaded: FakeMerchant, http: HttpShop
) -> None:
    args = {"order_id": DELIVERED, "reason": "no longer needed"}
    assert http.dry_run(TENANT, "cancel_order", args).refusal is not None
    with pytest.raises(OperationRefused) as err:
        http.cancel_order(TENANT, DELIVERED, "no longer needed")
    assert err.value.reason == "order_not_pending"
    assert [m for m, _, _ in loaded.requests if m != "GET"] == []


@pytest.mark.parametrize("operation", WRITES)
def test_confirmed_writes_reach_the_merchant_once_with_the_ledgers_key(
    operation: str, loaded: FakeMerchant, http: HttpShop, svc: Service
) -> None:
    layer = operations(svc, http)
    shown = layer.preview(TENANT, CASES[operation], conversation_id="c-1")
    expected = preview(svc.shop, TENANT, CASES[operation])
    outcome = layer.execute(shown, confirm(shown))
    assert outcome.executed, outcome
    assert loaded.applied == [(operation, outcome.idempotency_key)]
    method = "PUT" if operation == "modify_customer_address" else "POST"
    writes = [(m, key) for m, _, key in loaded.requests if m != "GET"]
    assert writes == [(method, outcome.idempotency_key)]
    # the ledger's after is the merchant's record, mapped: what the embedded rule predicted
    [executed] = layer.ledger.list(TENANT, status="executed")
    assert executed.after is not None
    target = "customer" if operation == "modify_customer_address" else "order"
    assert executed.after[target] == expected.after[target]
    assert layer.execute(shown, confirm(shown)).replayed
    assert len(loaded.applied) == 1


def test_plain_shop_writer_calls_carry_a_fresh_key(loaded: FakeMerchant, http: HttpShop) -> None:
    order = http.modify_order_address(TENANT, PENDING, ADDRESS)
    assert order.address == ADDRESS
    customer = http.modify_customer_address(TENANT, "james_li_5688", ADDRESS)
    assert customer.address == ADDRESS
    keys = [key for m, _, key in loaded.requests if m != "GET"]
    assert len(keys) == 2 and all(k and k.startswith("kefu-") for k in keys)
    assert len(set(keys)) == 2


def test_a_merchant_refusal_maps_to_operation_refused(
    loaded: FakeMerchant, http: HttpShop, svc: Service
) -> None:
    """Over HTTP the guard is best-effort: a change the merchant accepts between our read and
    its write is caught by the merchant's own rules (409), recorded as a refusal."""
    layer = operations(svc, http)
    shown = layer.preview(TENANT, CASES["cancel_order"], conversation_id="c-1")
    loaded.before_write = lambda: loaded.shop.cancel_order(TENANT, PENDING, "no longer needed")
    outcome = layer.execute(shown, confirm(shown))
    assert outcome.status == "refused" and outcome.refusal is not None
    assert outcome.refusal.reason == "order_not_pending"
    assert loaded.applied == []


@pytest.mark.parametrize("mode", ["unavailable", "drop_before", "drop_after"])
def test_a_write_is_retried_with_the_same_key_and_applied_once(
    mode: str, loaded: FakeMerchant, http: HttpShop
) -> None:
    loaded.misbehave(mode, 1)
    order = http.cancel_order(TENANT, PENDING, "no longer needed")
    assert order.status == "cancelled"
    writes = [key for m, _, key in loaded.requests if m != "GET"]
    assert len(writes) == 2 and writes[0] == writes[1]
    assert len(loaded.applied) == 1
    assert len(loaded.shop.order(TENANT, PENDING).payment_history) == 2  # one refund


def test_a_write_without_any_answer_is_an_unknown_outcome(
    loaded: FakeMerchant, http: HttpShop
) -> None:
    loaded.misbehave("error_after", 1)
    with pytest.raises(WriteOutcomeUnknown) as err:
        http.write(
            TENANT, "cancel_order", CASES["cancel_order"].dry_run_args(), idempotency_key="k-1"
        )
    assert err.value.details["idempotency_key"] == "k-1" and err.value.http_status == 500
    assert loaded.applied == [("cancel_order", "k-1")]
    lookup = http.recorded_write(TENANT, "cancel_order", {}, "k-1")
    assert lookup is not None and lookup.state == "applied" and lookup.record is not None
    assert lookup.record["status"] == "cancelled"
    absent = http.recorded_write(TENANT, "cancel_order", {}, "k-2")
    assert absent is not None and absent.state == "absent"


def test_a_write_that_never_connects_is_a_known_failure(ref: Service) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    shop = HttpShop(merchant_config(f"http://127.0.0.1:{port}/api"), ref.tenants)
    with pytest.raises(MerchantError) as err:
        shop._client.write(
            shop.config.writes["cancel_order"],
            {"tenant": TENANT, "order_id": PENDING},
            {},
            "k",
            "a write",
        )
    assert not isinstance(err.value, WriteOutcomeUnknown) and "nothing was sent" in str(err.value)
    shop.close()


def test_the_embedded_shop_data_is_not_shared_with_the_merchant(
    loaded: FakeMerchant, http: HttpShop, ref: Service
) -> None:
    """Sanity: the two shops are separate databases, so the tests above compare two stores."""
    http.cancel_order(TENANT, PENDING, "no longer needed")
    assert ref.shop.order(TENANT, PENDING).status == "pending"
    assert loaded.shop.order(TENANT, PENDING).status == "cancelled"
    assert copy.deepcopy(http.order(TENANT, PENDING)) == loaded.shop.order(TENANT, PENDING)
