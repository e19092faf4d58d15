"""The approval threshold is a tenant setting (``approval_amount_threshold``): the operation
layer reads it at every preview and confirmation, per tenant."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.test_error_shape import assert_error
from tests.test_operations import CASES, PENDING, TENANT, confirm, dump, shop_slice

from kefu.api.app import create_app
from kefu.config import Config
from kefu.errors import SettingError
from kefu.operations.execute import Operations, operations_of
from kefu.operations.policy import DEFAULT_AMOUNT_THRESHOLD, ApprovalPolicy
from kefu.service import Service, build_service
from kefu.settings import SETTINGS, parse_cli_value

SETTING = "approval_amount_threshold"
CANCEL = CASES["cancel_order"]  # refunds 4079.45


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return shop_slice()


@pytest.fixture
def svc(config: Config, data: dict[str, Any]) -> Iterator[Service]:
    service = build_service(config, embedder=None)
    for tenant in (TENANT, "other"):
        service.tenants.create(tenant)
        service.shop.load(tenant, data["users"], data["orders"], data["products"])
    yield service
    service.close()


@pytest.fixture
def ops(svc: Service) -> Operations:
    return operations_of(svc)  # no policy given: each tenant's own


def test_the_default_is_2000_in_the_setting_and_the_policy(ops: Operations) -> None:
    assert SETTINGS[SETTING].default == 2000 and Decimal(2000) == DEFAULT_AMOUNT_THRESHOLD
    assert ApprovalPolicy().amount_threshold == DEFAULT_AMOUNT_THRESHOLD
    assert ops.policy(TENANT) == ApprovalPolicy(Decimal(2000))
    assert ops.preview(TENANT, CANCEL).needs_approval == ("amount_over_threshold",)


@pytest.mark.parametrize(
    ("value", "queued"),
    [
        ("5000", False),
        (4079.45, False),  # not more than the threshold
        ("4079.44", True),
        (0, True),
    ],
)
def test_the_setting_decides_what_is_queued(
    value: Any, queued: bool, svc: Service, ops: Operations
) -> None:
    svc.tenants.set(TENANT, SETTING, value)
    assert ops.policy(TENANT).amount_threshold == Decimal(str(value))
    shown = ops.preview(TENANT, CANCEL, conversation_id="c-1")
    assert bool(shown.needs_approval) is queued
    outcome = ops.execute(shown, confirm(shown))
    assert outcome.status == ("awaiting_approval" if queued else "executed")
    assert dump(svc).orders[PENDING]["status"] == ("pending" if queued else "cancelled")


def test_zero_queues_every_write_that_moves_money_and_no_other(
    svc: Service, ops: Operations
) -> None:
    svc.tenants.set(TENANT, SETTING, 0)
    address = ops.preview(TENANT, CASES["modify_order_address"])
    assert address.amount == 0 and address.needs_approval == ()
    assert ops.execute(address, confirm(address)).executed
    items = ops.preview(TENANT, CASES["modify_order_items"])  # pays 33.26
    assert items.needs_approval == ("amount_over_threshold",)
    assert ops.execute(items, confirm(items)).status == "awaiting_approval"


def test_the_setting_is_read_again_at_confirmation(svc: Service, ops: Operations) -> None:
    svc.tenants.set(TENANT, SETTING, 5000)
    shown = ops.preview(TENANT, CANCEL)
    assert shown.needs_approval == ()
    svc.tenants.set(TENANT, SETTING, "1000")  # lowered before the customer confirms
    queued = ops.execute(shown, confirm(shown))
    assert queued.status == "awaiting_approval"
    assert ops.ledger.get(queued.ledger_id).result == {"reasons": ["amount_over_threshold"]}
    assert dump(svc).orders[PENDING]["status"] == "pending"
    # an approval runs it whatever the threshold is by then
    svc.tenants.set(TENANT, SETTING, 0)
    assert ops.approve(queued.ledger_id, "alice").executed


def test_each_tenant_has_its_own_threshold(svc: Service, ops: Operations) -> None:
    svc.tenants.set("other", SETTING, 10000)
    assert ops.preview(TENANT, CANCEL).needs_approval == ("amount_over_threshold",)
    assert ops.preview("other", CANCEL).needs_approval == ()
    assert ops.policy("other") == ApprovalPolicy(Decimal(10000))


def test_a_policy_given_to_the_layer_overrides_the_setting(svc: Service) -> None:
    svc.tenants.set(TENANT, SETTING, 0)
    fixed = operations_of(svc, ApprovalPolicy(Decimal(100000)))
    assert fixed.policy(TENANT) == ApprovalPolicy(Decimal(100000))
    assert fixed.preview(TENANT, CANCEL).needs_approval == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "must be >= 0"),
        ("-0.01", "must be >= 0"),
        ("abc", "could not convert"),
        ("nan", "finite"),
        ("inf", "finite"),
        (True, "must be a number"),
        (1e13, "must be <= "),
        (None, "invalid value"),
    ],
)
def test_a_bad_value_is_a_setting_error_and_changes_nothing(
    value: Any, message: str, svc: Service, ops: Operations
) -> None:
    svc.tenants.set(TENANT, SETTING, "3000")
    with pytest.raises(SettingError, match=message) as err:
        svc.tenants.set(TENANT, SETTING, value)
    assert err.value.field == SETTING and err.value.code == "invalid_setting"
    assert svc.tenants.settings(TENANT)[SETTING] == 3000
    assert ops.policy(TENANT) == ApprovalPolicy(Decimal(3000))


def test_the_cli_parser_and_the_api_use_the_same_setting(svc: Service) -> None:
    assert parse_cli_value(SETTING, "2500.5") == 2500.5
    with pytest.raises(SettingError):
        parse_cli_value(SETTING, "lots")
    _, secret = svc.access.create_api_key(TENANT, "admin", "settings")
    with TestClient(create_app(svc), headers={"Authorization": f"Bearer {secret}"}) as api:
        r = api.put(f"/v1/tenants/{TENANT}/settings/{SETTING}", json={"value": 9000})
        assert r.status_code == 200, r.text
        assert_error(
            api.put(f"/v1/tenants/{TENANT}/settings/{SETTING}", json={"value": -5}),
            422,
            "invalid_setting",
            SETTING,
        )
    assert svc.tenants.settings(TENANT)[SETTING] == 9000
    assert operations_of(svc).preview(TENANT, CANCEL).needs_approval == ()
