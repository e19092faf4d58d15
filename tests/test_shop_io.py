"""tau-bench import and export: exact round trips, and malformed files that load nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.datasets import DATASETS

from kefu.config import Config
from kefu.connectors.embedded import EmbeddedShop
from kefu.connectors.tau_io import dump_tau, read_tau
from kefu.connectors.tau_schema import ShopData, validate_shop
from kefu.errors import ShopImportError
from kefu.service import Service, build_service
from kefu.storage.db import session_factory

ROOT = Path(__file__).resolve().parent.parent
TAU = DATASETS / "tau_bench_retail"
TAU2_DB = DATASETS / "tau2_bench_retail" / "db.json"
SECTIONS = ("users", "orders", "products")


def original(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tau() -> ShopData:
    return read_tau(TAU)


@pytest.fixture
def svc(config: Config) -> Iterator[Service]:
    service = build_service(config, embedder=None)
    service.tenants.create("shop")
    yield service
    service.close()


@pytest.fixture
def shop(svc: Service) -> EmbeddedShop:
    return EmbeddedShop(session_factory(svc.engine), svc.tenants)


def through_database(shop: EmbeddedShop, data: ShopData) -> dict[str, Any]:
    shop.load("shop", data.users, data.orders, data.products)
    exported: dict[str, Any] = json.loads(dump_tau(shop.dump("shop")))
    return exported


def test_tau_folder_round_trips_unchanged(shop: EmbeddedShop, tau: ShopData) -> None:
    exported = through_database(shop, tau)
    assert list(exported) == list(SECTIONS)
    for name in SECTIONS:
        # Same documents, same key order, same numbers: the serialisations are identical.
        assert json.dumps(exported[name]) == json.dumps(original(TAU / f"{name}.json")), name


def test_tau2_db_json_round_trips_unchanged(shop: EmbeddedShop, tmp_path: Path) -> None:
    db = original(TAU2_DB)
    data = read_tau(TAU2_DB)
    exported = through_database(shop, data)
    for name in SECTIONS:
        assert json.dumps(exported[name]) == json.dumps(db[name]), name
    assert next(iter(exported["users"].values()))["user_id"] == next(iter(db["users"]))
    # An export is importable again and exports to the very same bytes.
    first = dump_tau(shop.dump("shop"))
    (tmp_path / "export.json").write_bytes(first)
    again = read_tau(tmp_path / "export.json")
    shop.load("shop", again.users, again.orders, again.products)
    assert dump_tau(shop.dump("shop")) == first


def test_a_folder_holding_only_db_json_is_read(tmp_path: Path) -> None:
    (tmp_path / "db.json").write_bytes(TAU2_DB.read_bytes())
    data = read_tau(tmp_path)
    assert (len(data.users), len(data.orders), len(data.products)) == (500, 1000, 50)
    assert data.files.orders == str(tmp_path / "db.json")


def write_folder(folder: Path, users: Any, orders: Any, products: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, doc in zip(SECTIONS, (users, orders, products), strict=True):
        (folder / f"{name}.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return folder


Mutation = Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], None]


def _drop_price(users: dict[str, Any], orders: dict[str, Any], products: dict[str, Any]) -> None:
    del orders["#W2611340"]["items"][1]["price"]


def _text_price(users: dict[str, Any], orders: dict[str, Any], products: dict[str, Any]) -> None:
    orders["#W2611340"]["items"][1]["price"] = "488.81"


def _unknown_user(users: dict[str, Any], orders: dict[str, Any], products: dict[str, Any]) -> None:
    orders["#W2611340"]["user_id"] = "ghost_0000"


def _unknown_product(
    users: dict[str, Any], orders: dict[str, Any], products: dict[str, Any]
) -> None:
    orders["#W2611340"]["items"][0]["product_id"] = "0000000000"


def _unknown_variant(
    users: dict[str, Any], orders: dict[str, Any], products: dict[str, Any]
) -> None:
    orders["#W2611340"]["items"][0]["item_id"] = "0000000000"


def _unknown_order(users: dict[str, Any], orders: dict[str, Any], products: dict[str, Any]) -> None:
    users["noah_brown_6181"]["orders"].append("#W0000000")


def _missing_zip(users: dict[str, Any], orders: dict[str, Any], products: dict[str, Any]) -> None:
    del users["noah_brown_6181"]["address"]["zip"]


def _bad_variant(users: dict[str, Any], orders: dict[str, Any], products: dict[str, Any]) -> None:
    products["9523456873"]["variants"]["9612497925"]["available"] = "yes"


def _bad_event(users: dict[str, Any], orders: dict[str, Any], products: dict[str, Any]) -> None:
    orders["#W2611340"]["fulfillments"][0]["events"] = [
        {"time": "yesterday", "location": "杭州", "status": "已揽收", "description": "-"}
    ]


def _long_id(users: dict[str, Any], orders: dict[str, Any], products: dict[str, Any]) -> None:
    products["9" * 40] = {"name": "Long", "product_id": "9" * 40, "variants": {}}


@pytest.mark.parametrize(
    ("mutate", "file", "message"),
    [
        (
            _drop_price,
            "orders.json",
            'orders.json, order "#W2611340", items[1].price: missing required field',
        ),
        (
            _text_price,
            "orders.json",
            'orders.json, order "#W2611340", items[1].price: expected a number, got text',
        ),
        (
            _unknown_user,
            "orders.json",
            "order \"#W2611340\", user_id: unknown user 'ghost_0000' (not in",
        ),
        (
            _unknown_product,
            "orders.json",
            "order \"#W2611340\", items[0].product_id: unknown product '0000000000'",
        ),
        (
            _unknown_variant,
            "orders.json",
            "order \"#W2611340\", items[0].item_id: product '8310926033' has no variant",
        ),
        (
            _unknown_order,
            "users.json",
            "user \"noah_brown_6181\", orders[1]: unknown order '#W0000000'",
        ),
        (_missing_zip, "users.json", 'user "noah_brown_6181", address.zip: missing required'),
        (
            _bad_variant,
            "products.json",
            'product "9523456873", variants["9612497925"].available: expected true or false',
        ),
        (
            _bad_event,
            "orders.json",
            "fulfillments[0].events[0].time: expected an ISO date-time, got 'yesterday'",
        ),
    ],
)
def test_a_malformed_shop_is_rejected_naming_file_and_place(
    tmp_path: Path, tau: ShopData, mutate: Mutation, file: str, message: str
) -> None:
    users, orders, products = (copy.deepcopy(x) for x in (tau.users, tau.orders, tau.products))
    mutate(users, orders, products)
    folder = write_folder(tmp_path / "bad", users, orders, products)
    with pytest.raises(ShopImportError) as err:
        read_tau(folder)
    assert err.value.file == str(folder / file)
    assert message in err.value.message
    assert err.value.code == "shop_import_error" and err.value.status == 422


def test_broken_json_names_line_and_column(tmp_path: Path, tau: ShopData) -> None:
    folder = write_folder(tmp_path / "bad", tau.users, tau.orders, tau.products)
    (folder / "products.json").write_text('{\n  "a": 1,\n  "b": tru\n}', encoding="utf-8")
    with pytest.raises(ShopImportError) as err:
        read_tau(folder)
    assert err.value.file == str(folder / "products.json")
    assert err.value.place == "line 3, column 8"
    assert "invalid JSON: Expecting value" in err.value.message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"users": {}, "orders": {}}', 'missing section "products"'),
        ('{"users": {}, "orders": {}, "products": {}, "extra": 1}', "unknown section"),
        ('{"users": {}, "orders": {}, "products": [], "users": {}}', "duplicate key 'users'"),
        ('{"users": {}, "orders": {}, "products": []}', "expected a JSON object of products"),
        ('{"users": {}, "orders": {}, "products": {"p": {"price": NaN}}}', "NaN"),
        ("[1, 2]", "expected an object with users, orders, products, got a list"),
    ],
)
def test_malformed_db_json(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "db.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ShopImportError) as err:
        read_tau(path)
    assert err.value.file == str(path)
    assert problem in err.value.message


def test_a_folder_missing_a_file(tmp_path: Path) -> None:
    (tmp_path / "users.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ShopImportError) as err:
        read_tau(tmp_path)
    assert "missing orders.json, products.json" in err.value.message
    with pytest.raises(ShopImportError, match="no such file or folder"):
        read_tau(tmp_path / "nothing.json")


def test_a_rejected_import_leaves_the_loaded_shop_untouched(
    shop: EmbeddedShop, tau: ShopData
) -> None:
    shop.load("shop", tau.users, tau.orders, tau.products)
    before = dump_tau(shop.dump("shop"))
    orders = copy.deepcopy(tau.orders)
    orders["#W2611340"]["user_id"] = "ghost_0000"
    with pytest.raises(ShopImportError, match="unknown user"):
        shop.load("shop", tau.users, orders, tau.products)
    products = dict(tau.products)
    _long_id(tau.users, {}, products)
    with pytest.raises(ShopImportError, match="the limit is 32"):
        shop.load("shop", tau.users, tau.orders, products)
    assert dump_tau(shop.dump("shop")) == before


def test_a_failure_half_way_through_the_writes_rolls_everything_back(
    shop: EmbeddedShop, tau: ShopData
) -> None:
    shop.load("shop", tau.users, tau.orders, tau.products)
    before = dump_tau(shop.dump("shop"))
    seen: list[int] = []

    class Interrupted(Exception):
        pass

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done == total:  # every row deleted and written again, not yet committed
            raise Interrupted

    orders = copy.deepcopy(tau.orders)
    orders["#W2611340"]["status"] = "cancelled"
    with pytest.raises(Interrupted):
        shop.load("shop", tau.users, orders, tau.products, progress=progress)
    assert seen == [0, 500, 550, 1550]
    assert dump_tau(shop.dump("shop")) == before


def test_validation_accepts_demo_extras_and_checks_their_types() -> None:
    users = {
        "u1": {
            "name": {"first_name": "小明", "last_name": "王"},
            "address": {
                "address1": "文三路1号",
                "address2": "1幢101室",
                "district": "西湖区",
                "city": "杭州市",
                "country": "中国",
                "state": "浙江省",
                "zip": "310012",
            },
            "email": "x@example.com",
            "phone": "13800138000",
            "payment_methods": {"alipay_1": {"source": "alipay", "id": "alipay_1"}},
            "orders": [],
            "vip": True,  # unknown keys are kept
        }
    }
    data = validate_shop(users, {}, {})
    assert data.users["u1"]["vip"] is True
    users["u1"]["phone"] = 13800138000
    with pytest.raises(ShopImportError, match=r'user "u1", phone: expected text, got a number'):
        validate_shop(users, {}, {})
