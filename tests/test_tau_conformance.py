"""The embedded shop's writes against tau-bench's own code (``tests/tau_reference.py``).

The gold ``actions`` of tau-bench retail's train and dev tasks (their write actions; the read
tools change nothing) are replayed on a copy of tau's JSON by the transcribed tau tools and on
the embedded shop through the typed port, and the two must agree on every outcome (done, or
refused with the same text) and on the whole database, byte for byte as exported.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests import tau_reference as tau_tools
from tests.datasets import DATASETS

from kefu.config import Config
from kefu.connectors.embedded import EmbeddedShop
from kefu.connectors.port import Address, Customer, Order
from kefu.connectors.tau_io import dump_tau, read_tau
from kefu.connectors.tau_schema import ShopData
from kefu.errors import CustomerNotFound, OperationRefused, OrderNotFound
from kefu.service import Service, build_service
from kefu.storage.db import session_factory

TAU = DATASETS / "tau_bench_retail"
TENANT = "tau"
DONE = "done"


@pytest.fixture(scope="module")
def tau() -> ShopData:
    return read_tau(TAU)


@pytest.fixture(scope="module")
def tasks() -> list[tuple[str, dict[str, Any]]]:
    """(name, task) of every train and dev task, in order (never the test split)."""
    found = []
    for split in ("train", "dev"):
        for i, task in enumerate(json.loads((TAU / f"tasks_{split}.json").read_text("utf-8"))):
            found.append((f"{split}[{i}]", task))
    return found


@pytest.fixture
def svc(config: Config) -> Iterator[Service]:
    service = build_service(config, embedder=None)
    yield service
    service.close()


@pytest.fixture
def shop(svc: Service, tau: ShopData) -> EmbeddedShop:
    svc.tenants.create(TENANT)
    shop = EmbeddedShop(session_factory(svc.engine), svc.tenants)
    shop.load(TENANT, tau.users, tau.orders, tau.products)
    return shop


def fresh(tau: ShopData) -> dict[str, Any]:
    """tau's database as its environment loads it: a private copy of the JSON."""
    copied: dict[str, Any] = json.loads(json.dumps(tau.to_json()))
    return copied


def compact(data: dict[str, Any]) -> str:
    """The whole database as JSON text: equal texts mean the same documents with the same keys
    in the same order and the same numbers (``51`` is not ``51.0``)."""
    return json.dumps(data, ensure_ascii=False)


def writes(task: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in task["actions"] if a["name"] in tau_tools.TOOLS]


def _address(kwargs: dict[str, Any]) -> Address:
    keys = ("address1", "address2", "city", "state", "country", "zip")
    return Address(**{k: kwargs[k] for k in keys})


def on_shop(shop: EmbeddedShop, name: str, kwargs: dict[str, Any]) -> str:
    """One tau tool action through the typed port: DONE, or tau's ``Error: ...`` text."""
    k = kwargs
    try:
        if name == "cancel_pending_order":
            shop.cancel_order(TENANT, k["order_id"], k["reason"])
        elif name == "modify_pending_order_address":
            shop.modify_order_address(TENANT, k["order_id"], _address(k))
        elif name == "modify_pending_order_items":
            shop.modify_order_items(
                TENANT, k["order_id"], k["item_ids"], k["new_item_ids"], k["payment_method_id"]
            )
        elif name == "modify_pending_order_payment":
            shop.modify_order_payment(TENANT, k["order_id"], k["payment_method_id"])
        elif name == "modify_user_address":
            shop.modify_customer_address(TENANT, k["user_id"], _address(k))
        elif name == "return_delivered_order_items":
            shop.return_order_items(TENANT, k["order_id"], k["item_ids"], k["payment_method_id"])
        elif name == "exchange_delivered_order_items":
            shop.exchange_order_items(
                TENANT, k["order_id"], k["item_ids"], k["new_item_ids"], k["payment_method_id"]
            )
        else:
            raise AssertionError(f"not a write tool: {name}")
    except OperationRefused as exc:
        return f"Error: {exc.message}"
    except OrderNotFound:
        return "Error: order not found"
    except CustomerNotFound:
        return "Error: user not found"
    return DONE


def on_oracle(data: dict[str, Any], name: str, kwargs: dict[str, Any]) -> str:
    observation = tau_tools.invoke(data, name, copy.deepcopy(kwargs))
    return observation if observation.startswith("Error") else DONE


def exported(shop: EmbeddedShop) -> bytes:
    return dump_tau(shop.dump(TENANT))


def expected_export(data: dict[str, Any]) -> bytes:
    return dump_tau(ShopData(data["users"], data["orders"], data["products"]))


def assert_touched_rows_agree(
    shop: EmbeddedShop, data: dict[str, Any], kwargs: dict[str, Any], where: str
) -> None:
    """The order and customer an action names read back as tau's documents say."""
    order_id = kwargs.get("order_id")
    user_id = kwargs.get("user_id")
    if order_id in data["orders"]:
        doc = data["orders"][order_id]
        assert shop.order(TENANT, order_id) == Order.from_tau(doc), where
        user_id = doc["user_id"]
    if user_id in data["users"]:
        expected = Customer.from_tau(user_id, data["users"][user_id])
        assert shop.customer(TENANT, user_id) == expected, where


def test_cumulative_replay_of_train_and_dev_matches_tau(
    shop: EmbeddedShop,
    tau: ShopData,
    tasks: list[tuple[str, dict[str, Any]]],
    kefu,  # type: ignore[no-untyped-def]
) -> None:
    """Every write action of every train and dev task, in task order, on one database: later
    actions meet what earlier ones did (often a refusal), and both sides must agree."""
    data = fresh(tau)
    outcomes: dict[str, int] = {}
    tools: dict[str, int] = {}
    for where, task in tasks:
        for action in writes(task):
            name, kwargs = action["name"], action["kwargs"]
            expected = on_oracle(data, name, kwargs)
            got = on_shop(shop, name, kwargs)
            assert got == expected, f"{where} {name} {kwargs}"
            assert_touched_rows_agree(shop, data, kwargs, f"{where} {name}")
            outcomes[expected] = outcomes.get(expected, 0) + 1
            tools[name] = tools.get(name, 0) + 1
    assert exported(shop) == expected_export(data)
    # What `kefu shop export` prints is the same document.
    assert kefu("shop", "export", "--tenant", TENANT).stdout == expected_export(data).decode()
    # The replay covers what it claims (figures from tau's code on tau's data).
    assert sum(tools.values()) == 793
    assert set(tools) == set(tau_tools.TOOLS) - {"modify_user_address"}  # no task has it
    refused = {k: v for k, v in outcomes.items() if k != DONE}
    assert sum(refused.values()) == 290
    assert len(refused) == 7, refused
    assert data != tau.to_json()  # the replay did change the database


def sample(tasks: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Every dev task, the first two train tasks using each write tool, three train tasks
    whose gold actions tau itself refuses on a fresh database (a gift card too low for a new
    payment, an items modification, an exchange), and made-up tasks for
    ``modify_user_address`` (no tau task uses it)."""
    chosen: dict[str, dict[str, Any]] = {}
    for tool in tau_tools.TOOLS:
        using = [
            (w, t)
            for w, t in tasks
            if w.startswith("train") and any(a["name"] == tool for a in writes(t))
        ]
        chosen.update(using[:2])
    chosen.update((w, t) for w, t in tasks if w in ("train[24]", "train[81]", "train[214]"))
    chosen.update((w, t) for w, t in tasks if w.startswith("dev"))
    user_address = {
        "address1": "1 Infinite Loop",
        "address2": "Suite 2",
        "city": "Cupertino",
        "state": "CA",
        "country": "USA",
        "zip": "95014",
    }
    other = user_address | {"address1": "2 Other Road", "address2": ""}
    made_up = {
        "made-up[0]": [
            {"name": "modify_user_address", "kwargs": {"user_id": "noah_brown_6181"} | user_address}
        ],
        "made-up[1]": [  # the default address and an order's are separate
            {
                "name": "modify_user_address",
                "kwargs": {"user_id": "yusuf_rossi_9620"} | user_address,
            },
            {"name": "modify_pending_order_address", "kwargs": {"order_id": "#W4776164"} | other},
            {"name": "cancel_pending_order", "kwargs": {"order_id": "#W6247578", "reason": "x"}},
        ],
        "made-up[2]": [
            {"name": "modify_user_address", "kwargs": {"user_id": "nobody_0000"} | user_address}
        ],
    }
    for where, actions in made_up.items():
        chosen[where] = {"actions": actions}
    return list(chosen.items())


def test_each_sampled_task_on_a_fresh_database_matches_tau(
    shop: EmbeddedShop, tau: ShopData, tasks: list[tuple[str, dict[str, Any]]]
) -> None:
    """As tau grades a task: its gold actions on a fresh database."""
    sampled = sample(tasks)
    covered: set[str] = set()
    refused: set[str] = set()
    actions = 0
    for where, task in sampled:
        data = fresh(tau)
        shop.load(TENANT, tau.users, tau.orders, tau.products)
        for action in writes(task):
            name, kwargs = action["name"], action["kwargs"]
            expected = on_oracle(data, name, kwargs)
            assert on_shop(shop, name, kwargs) == expected, f"{where} {name} {kwargs}"
            covered.add(name)
            if expected != DONE:
                refused.add(expected)
            actions += 1
        assert compact(shop.dump(TENANT).to_json()) == compact(data), where
    assert len(sampled) >= 25
    assert covered == set(tau_tools.TOOLS)
    assert actions >= 40
    assert refused == {
        "Error: insufficient gift card balance to pay for the order",
        "Error: insufficient gift card balance to pay for the new item",
        "Error: insufficient gift card balance to pay for the price difference",
        "Error: invalid reason",
        "Error: user not found",
    }
