"""Writes of the embedded shop (L3): refusals, effects, exact money and concurrency.

Every case runs on the embedded shop and on tau's own code (``tests/tau_reference.py``) and the
two must agree: same refusal text, same database afterwards. The shop is a slice of tau's
retail data (five customers, all their orders, every product) plus three made-up orders for
cases tau's data does not have.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from tests.test_tau_conformance import TAU, TENANT, compact, on_oracle, on_shop

from kefu.config import Config
from kefu.connectors.embedded import EmbeddedShop
from kefu.connectors.port import Address, OrderStatus, ShopConnector, ShopWriter
from kefu.connectors.tau_io import read_tau
from kefu.errors import CustomerNotFound, OperationRefused, OrderNotFound
from kefu.service import Service, build_service
from kefu.storage.db import session_factory

PENDING = "#W6779827"  # ethan_lopez_6291, paid 4079.45 by gift card (balance 49)
DELIVERED = "#W3113816"  # emma_santos_9753, paid by credit card; also has a gift card (36)
PROCESSED = "#W2611340"
LAPTOP = "#W8327915"  # ava_lopez_2676, pending, paid by a gift card with balance 6
ODD_PRICES = "#W7147989"  # ethan_sanchez_7289, pending, gift card balance 73
TWICE = "#W0000001"  # made up: PENDING with its first item twice
UNPAID = "#W0000002"  # made up: PENDING without payments
LOST_CARD = "#W0000003"  # made up: PENDING paid by a gift card the customer no longer has
CUSTOMERS = (
    "ethan_lopez_6291",
    "emma_santos_9753",
    "james_li_5688",
    "ava_lopez_2676",
    "ethan_sanchez_7289",
)


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    tau = read_tau(TAU)
    users = {c: copy.deepcopy(tau.users[c]) for c in CUSTOMERS}
    orders = {o: copy.deepcopy(tau.orders[o]) for u in users.values() for o in u["orders"]}
    pending = orders[PENDING]
    twice = copy.deepcopy(pending) | {"order_id": TWICE}
    twice["items"][1] = copy.deepcopy(twice["items"][0])
    unpaid = copy.deepcopy(pending) | {"order_id": UNPAID, "payment_history": []}
    lost = copy.deepcopy(pending) | {"order_id": LOST_CARD}
    lost["payment_history"][0]["payment_method_id"] = "gift_card_0000000"
    for made_up in (twice, unpaid, lost):
        orders[made_up["order_id"]] = made_up
        users[pending["user_id"]]["orders"].append(made_up["order_id"])
    return {"users": users, "orders": orders, "products": tau.products}


@pytest.fixture
def svc(config: Config) -> Iterator[Service]:
    service = build_service(config, embedder=None)
    yield service
    service.close()


@pytest.fixture
def shop(svc: Service, data: dict[str, Any]) -> EmbeddedShop:
    svc.tenants.create(TENANT)
    shop = EmbeddedShop(session_factory(svc.engine), svc.tenants)
    shop.load(TENANT, data["users"], data["orders"], data["products"])
    return shop


@pytest.fixture
def oracle(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)


def stored(shop: EmbeddedShop) -> str:
    return compact(shop.dump(TENANT).to_json())


def both(shop: EmbeddedShop, oracle: dict[str, Any], name: str, **kwargs: Any) -> str:
    """Run one tau action on both sides; they must agree on the outcome and the database."""
    expected = on_oracle(oracle, name, kwargs)
    assert on_shop(shop, name, kwargs) == expected
    assert stored(shop) == compact(oracle)
    return expected


def test_embedded_shop_implements_the_write_port(shop: EmbeddedShop) -> None:
    assert isinstance(shop, ShopWriter)
    assert isinstance(shop, ShopConnector)


ADDRESS = {
    "address1": "9 Elm St",
    "address2": "",
    "city": "Austin",
    "state": "TX",
    "country": "USA",
    "zip": "78701",
}

REFUSALS: list[tuple[str, str, dict[str, Any], str]] = [
    # (case, tool, arguments, tau's observation)
    (
        "cancel a delivered order",
        "cancel_pending_order",
        {"order_id": DELIVERED, "reason": "no longer needed"},
        "Error: non-pending order cannot be cancelled",
    ),
    (
        "state is checked before the reason",
        "cancel_pending_order",
        {"order_id": PROCESSED, "reason": "changed my mind"},
        "Error: non-pending order cannot be cancelled",
    ),
    (
        "cancel with a reason tau does not know",
        "cancel_pending_order",
        {"order_id": PENDING, "reason": "changed my mind"},
        "Error: invalid reason",
    ),
    (
        "cancel an unknown order (ids are exact: no '#')",
        "cancel_pending_order",
        {"order_id": PENDING.lstrip("#"), "reason": "no longer needed"},
        "Error: order not found",
    ),
    (
        "cancel a refund to a gift card the customer no longer has",
        "cancel_pending_order",
        {"order_id": LOST_CARD, "reason": "no longer needed"},
        "Error: 'gift_card_0000000'",
    ),
    (
        "re-address a processed order",
        "modify_pending_order_address",
        {"order_id": PROCESSED, **ADDRESS},
        "Error: non-pending order cannot be modified",
    ),
    (
        "modify an item not in the order",
        "modify_pending_order_items",
        {
            "order_id": PENDING,
            "item_ids": ["6130713659"],
            "new_item_ids": ["6130713659"],
            "payment_method_id": "credit_card_9789590",
        },
        "Error: 6130713659 not found",
    ),
    (
        "modify an item more times than the order has it",
        "modify_pending_order_items",
        {
            "order_id": PENDING,
            "item_ids": ["7896397433", "7896397433"],
            "new_item_ids": ["6130713659", "6130713659"],
            "payment_method_id": "credit_card_9789590",
        },
        "Error: 7896397433 not found",
    ),
    (
        "modify with lists of different lengths",
        "modify_pending_order_items",
        {
            "order_id": PENDING,
            "item_ids": ["7896397433"],
            "new_item_ids": ["6130713659", "8068777068"],
            "payment_method_id": "credit_card_9789590",
        },
        "Error: the number of items to be exchanged should match",
    ),
    (
        "modify to an unavailable variant",
        "modify_pending_order_items",
        {
            "order_id": PENDING,
            "item_ids": ["7896397433"],
            "new_item_ids": ["8140269513"],
            "payment_method_id": "credit_card_9789590",
        },
        "Error: new item 8140269513 not found or available",
    ),
    (
        "modify to a variant of another product",
        "modify_pending_order_items",
        {
            "order_id": PENDING,
            "item_ids": ["7896397433"],
            "new_item_ids": ["3379843752"],
            "payment_method_id": "credit_card_9789590",
        },
        "Error: new item 3379843752 not found or available",
    ),
    (
        "modify paying with another customer's card",
        "modify_pending_order_items",
        {
            "order_id": PENDING,
            "item_ids": ["7896397433"],
            "new_item_ids": ["6130713659"],
            "payment_method_id": "credit_card_5869505",
        },
        "Error: payment method not found",
    ),
    (
        "gift card too low for an items modification",
        "modify_pending_order_items",
        {
            "order_id": LAPTOP,
            "item_ids": ["1684786391"],
            "new_item_ids": ["2216662955"],
            "payment_method_id": "gift_card_4855547",
        },
        "Error: insufficient gift card balance to pay for the new item",
    ),
    (
        "pay with the same method",
        "modify_pending_order_payment",
        {"order_id": PENDING, "payment_method_id": "gift_card_7219486"},
        "Error: the new payment method should be different from the current one",
    ),
    (
        "pay with an unknown method",
        "modify_pending_order_payment",
        {"order_id": PENDING, "payment_method_id": "paypal_0000000"},
        "Error: payment method not found",
    ),
    (
        "pay a big order with a small gift card",
        "modify_pending_order_payment",
        {"order_id": "#W5911003", "payment_method_id": "gift_card_4855547"},
        "Error: insufficient gift card balance to pay for the order",
    ),
    (
        "change the payment of an order without payments",
        "modify_pending_order_payment",
        {"order_id": UNPAID, "payment_method_id": "credit_card_9789590"},
        "Error: list index out of range",
    ),
    (
        "return a pending order",
        "return_delivered_order_items",
        {"order_id": PENDING, "item_ids": ["7896397433"], "payment_method_id": "gift_card_7219486"},
        "Error: non-delivered order cannot be returned",
    ),
    (
        "refund a return to neither the original method nor a gift card",
        "return_delivered_order_items",
        {
            "order_id": "#W8632528",  # delivered, paid by gift card
            "item_ids": [],
            "payment_method_id": "credit_card_9789590",
        },
        "Error: payment method should be either the original payment method or a gift card",
    ),
    (
        "return an item not in the order",
        "return_delivered_order_items",
        {
            "order_id": DELIVERED,
            "item_ids": ["2206116040", "7896397433"],
            "payment_method_id": "credit_card_5869505",
        },
        "Error: some item not found",
    ),
    (
        "refund a return to another customer's gift card",
        "return_delivered_order_items",
        {
            "order_id": DELIVERED,
            "item_ids": ["2206116040"],
            "payment_method_id": "gift_card_7219486",
        },
        "Error: payment method not found",
    ),
    (
        "exchange a pending order",
        "exchange_delivered_order_items",
        {
            "order_id": PENDING,
            "item_ids": ["7896397433"],
            "new_item_ids": ["6130713659"],
            "payment_method_id": "gift_card_7219486",
        },
        "Error: non-delivered order cannot be exchanged",
    ),
    (
        "exchange for another product",
        "exchange_delivered_order_items",
        {
            "order_id": DELIVERED,
            "item_ids": ["4422467033"],
            "new_item_ids": ["3379843752"],
            "payment_method_id": "credit_card_5869505",
        },
        "Error: new item 3379843752 not found or available",
    ),
    (
        "items are checked before the counts",
        "exchange_delivered_order_items",
        {
            "order_id": DELIVERED,
            "item_ids": ["7896397433"],
            "new_item_ids": [],
            "payment_method_id": "credit_card_5869505",
        },
        "Error: 7896397433 not found",
    ),
    (
        "gift card too low for an exchange's price difference",
        "exchange_delivered_order_items",
        {
            "order_id": DELIVERED,
            "item_ids": ["4422467033"],
            "new_item_ids": ["3877338112"],
            "payment_method_id": "gift_card_6023546",
        },
        "Error: insufficient gift card balance to pay for the price difference",
    ),
    (
        "re-address an unknown customer",
        "modify_user_address",
        {"user_id": "nobody_0000", **ADDRESS},
        "Error: user not found",
    ),
]


@pytest.mark.parametrize(
    ("tool", "kwargs", "observation"),
    [pytest.param(tool, kwargs, obs, id=case) for case, tool, kwargs, obs in REFUSALS],
)
def test_refusal_matches_tau_and_changes_nothing(
    shop: EmbeddedShop,
    oracle: dict[str, Any],
    data: dict[str, Any],
    tool: str,
    kwargs: dict[str, Any],
    observation: str,
) -> None:
    before = stored(shop)
    assert on_oracle(oracle, tool, kwargs) == observation
    assert on_shop(shop, tool, kwargs) == observation
    assert stored(shop) == before == compact(oracle) == compact(data)


def test_refusal_is_an_operation_refused_with_a_stable_reason(shop: EmbeddedShop) -> None:
    with pytest.raises(OperationRefused) as err:
        shop.cancel_order(TENANT, DELIVERED, "no longer needed")
    assert (err.value.code, err.value.status, err.value.reason) == (
        "operation_refused",
        409,
        "order_not_pending",
    )
    assert err.value.to_dict() == {
        "code": "operation_refused",
        "message": "non-pending order cannot be cancelled",
        "details": {"reason": "order_not_pending", "order_id": DELIVERED, "status": "delivered"},
    }
    with pytest.raises(OrderNotFound):
        shop.return_order_items(TENANT, "#W0000404", [], "gift_card_7219486")
    with pytest.raises(CustomerNotFound):
        shop.modify_customer_address(TENANT, "nobody_0000", Address(**ADDRESS))


def test_cancel_refunds_a_gift_card_at_once(shop: EmbeddedShop, oracle: dict[str, Any]) -> None:
    order = shop.cancel_order(TENANT, PENDING, "ordered by mistake")
    assert order.status == OrderStatus.CANCELLED
    assert order.extras["cancel_reason"] == "ordered by mistake"
    assert [(p.transaction_type, p.amount) for p in order.payment_history] == [
        ("payment", Decimal("4079.45")),
        ("refund", Decimal("4079.45")),
    ]
    card = shop.customer(TENANT, "ethan_lopez_6291").payment_method("gift_card_7219486")
    assert card is not None and card.balance == Decimal("4128.45")  # 49 + 4079.45
    on_oracle(oracle, "cancel_pending_order", {"order_id": PENDING, "reason": "ordered by mistake"})
    assert stored(shop) == compact(oracle)
    # Cancelled now: a second cancel is refused.
    refused = both(
        shop, oracle, "cancel_pending_order", order_id=PENDING, reason="no longer needed"
    )
    assert refused == "Error: non-pending order cannot be cancelled"


def test_new_payment_then_cancel_refunds_every_history_entry(
    shop: EmbeddedShop, oracle: dict[str, Any]
) -> None:
    """tau's cancel refunds each payment_history entry, refunds included: after a payment change
    (gift card -> credit card) the old gift card gets the order's amount back twice more."""
    assert (
        both(
            shop,
            oracle,
            "modify_pending_order_payment",
            order_id=PENDING,
            payment_method_id="credit_card_9789590",
        )
        == "done"
    )
    card = shop.customer(TENANT, "ethan_lopez_6291").payment_method("gift_card_7219486")
    assert card is not None and card.balance == Decimal("4128.45")
    # Three entries now: a second payment change is refused.
    assert (
        both(
            shop,
            oracle,
            "modify_pending_order_payment",
            order_id=PENDING,
            payment_method_id="gift_card_7219486",
        )
        == "Error: there should be exactly one payment for a pending order"
    )
    # Still "pending", so it can be cancelled.
    done = both(shop, oracle, "cancel_pending_order", order_id=PENDING, reason="no longer needed")
    assert done == "done"
    order = shop.order(TENANT, PENDING)
    assert len(order.payment_history) == 6
    card = shop.customer(TENANT, "ethan_lopez_6291").payment_method("gift_card_7219486")
    assert card is not None and card.balance == Decimal("12287.35")  # 49 + 3 x 4079.45


def test_items_modification_keeps_tau_float_amount_and_rounds_the_balance(
    shop: EmbeddedShop, oracle: dict[str, Any]
) -> None:
    order = shop.modify_order_items(
        TENANT, ODD_PRICES, ["1120917161"], ["5745575001"], "gift_card_5917510"
    )
    # 5745575001 costs 33.26 more; tau's float sum is 33.25999999999999 and it is stored as is.
    assert order.payment_history[-1].amount == Decimal("33.25999999999999")
    assert order.payment_history[-1].transaction_type == "payment"
    assert order.status == OrderStatus.PENDING_ITEM_MODIFIED
    stored_order = shop.dump(TENANT).orders[ODD_PRICES]
    assert stored_order["payment_history"][-1]["amount"] == 33.25999999999999
    balance = shop.dump(TENANT).users["ethan_sanchez_7289"]["payment_methods"]["gift_card_5917510"]
    assert balance["balance"] == 39.74  # round(73 - 33.25999999999999, 2)
    on_oracle(
        oracle,
        "modify_pending_order_items",
        {
            "order_id": ODD_PRICES,
            "item_ids": ["1120917161"],
            "new_item_ids": ["5745575001"],
            "payment_method_id": "gift_card_5917510",
        },
    )
    assert stored(shop) == compact(oracle)
    # Items can be modified once.
    assert (
        both(
            shop,
            oracle,
            "modify_pending_order_items",
            order_id=ODD_PRICES,
            item_ids=["5745575001"],
            new_item_ids=["1120917161"],
            payment_method_id="gift_card_5917510",
        )
        == "Error: non-pending order cannot be modified"
    )
    assert (
        both(shop, oracle, "cancel_pending_order", order_id=ODD_PRICES, reason="x")
        == "Error: non-pending order cannot be cancelled"
    )


def test_items_modification_of_a_repeated_item_follows_tau(
    shop: EmbeddedShop, oracle: dict[str, Any]
) -> None:
    """Item [A, A] -> [A, B]: tau looks up "the first item A" each time, so the first item is
    set to A and then to B, and the second A stays."""
    first = oracle["orders"][TWICE]["items"][0]["item_id"]
    assert first == "7896397433"
    assert (
        both(
            shop,
            oracle,
            "modify_pending_order_items",
            order_id=TWICE,
            item_ids=[first, first],
            new_item_ids=[first, "6130713659"],
            payment_method_id="credit_card_9789590",
        )
        == "done"
    )
    items = shop.order(TENANT, TWICE).items
    assert [i.item_id for i in items[:2]] == ["6130713659", first]


def test_refund_of_an_items_modification_goes_to_the_gift_card(
    shop: EmbeddedShop, oracle: dict[str, Any]
) -> None:
    assert (
        both(
            shop,
            oracle,
            "modify_pending_order_items",
            order_id=PENDING,
            item_ids=["7896397433", "3379843752"],
            new_item_ids=["6585768447", "3714494375"],
            payment_method_id="gift_card_7219486",
        )
        == "done"
    )
    order = shop.order(TENANT, PENDING)
    last = order.payment_history[-1]
    assert (last.transaction_type, last.amount) == ("refund", Decimal("484.0500000000003"))
    assert order.item("3714494375") is not None and order.item("3379843752") is None
    card = shop.customer(TENANT, "ethan_lopez_6291").payment_method("gift_card_7219486")
    assert card is not None and card.balance == Decimal("533.05")  # round(49 + 484.05..., 2)


def test_address_changes(shop: EmbeddedShop, oracle: dict[str, Any]) -> None:
    assert both(shop, oracle, "modify_pending_order_address", order_id=PENDING, **ADDRESS) == "done"
    # tau writes its six keys in its own order (state before country).
    assert list(shop.dump(TENANT).orders[PENDING]["address"]) == list(ADDRESS)
    customer = shop.modify_customer_address(TENANT, "james_li_5688", Address(**ADDRESS))
    assert customer.address.one_line() == "9 Elm St, Austin, TX 78701, USA"
    on_oracle(oracle, "modify_user_address", {"user_id": "james_li_5688", **ADDRESS})
    assert stored(shop) == compact(oracle)
    # The lookup by name and zip code follows the new address.
    assert shop.find_customer_by_name_zip(TENANT, "James", "Li", "78701").id == "james_li_5688"
    with pytest.raises(CustomerNotFound):
        shop.find_customer_by_name_zip(TENANT, "James", "Li", "10083")
    # The customer's orders keep their own addresses.
    assert shop.order(TENANT, PROCESSED).address.zip == "10083"


def test_return_then_exchange(shop: EmbeddedShop, oracle: dict[str, Any]) -> None:
    assert (
        both(
            shop,
            oracle,
            "return_delivered_order_items",
            order_id=DELIVERED,
            item_ids=["4843487907", "2206116040"],
            payment_method_id="gift_card_6023546",
        )
        == "done"
    )
    order = shop.order(TENANT, DELIVERED)
    assert order.status == OrderStatus.RETURN_REQUESTED
    assert order.extras["return_items"] == ["2206116040", "4843487907"]  # sorted, as in tau
    assert order.extras["return_payment_method_id"] == "gift_card_6023546"
    assert (
        both(
            shop,
            oracle,
            "exchange_delivered_order_items",
            order_id=DELIVERED,
            item_ids=["4422467033"],
            new_item_ids=["6130713659"],
            payment_method_id="credit_card_5869505",
        )
        == "Error: non-delivered order cannot be exchanged"
    )


def test_exchange_rounds_the_price_difference(shop: EmbeddedShop, oracle: dict[str, Any]) -> None:
    order = shop.exchange_order_items(
        TENANT,
        DELIVERED,
        ["4422467033", "6243148452"],
        ["6130713659", "6243148452"],
        "gift_card_6023546",
    )
    assert order.status == OrderStatus.EXCHANGE_REQUESTED
    # 483.66 - 483.47 in floats is 0.18999999999999773; tau rounds it.
    assert order.extras["exchange_price_difference"] == 0.19
    assert order.extras["exchange_items"] == ["4422467033", "6243148452"]
    assert order.extras["exchange_new_items"] == ["6130713659", "6243148452"]
    # The gift card is only checked, not charged, until the exchange is carried out.
    card = shop.customer(TENANT, "emma_santos_9753").payment_method("gift_card_6023546")
    assert card is not None and card.balance == Decimal(36)
    on_oracle(
        oracle,
        "exchange_delivered_order_items",
        {
            "order_id": DELIVERED,
            "item_ids": ["4422467033", "6243148452"],
            "new_item_ids": ["6130713659", "6243148452"],
            "payment_method_id": "gift_card_6023546",
        },
    )
    assert stored(shop) == compact(oracle)
    assert list(shop.dump(TENANT).orders[DELIVERED])[-4:] == [
        "exchange_items",
        "exchange_new_items",
        "exchange_payment_method_id",
        "exchange_price_difference",
    ]


def test_two_cancels_of_one_pending_order_at_once_one_wins(
    svc: Service, shop: EmbeddedShop
) -> None:
    """The first cancel holds the order's lock after reading it as pending; the second asks for
    the lock only then, so it must wait and read the committed cancel (refused), never decide on
    the stale pending state."""
    first_read = threading.Event()
    second_asks = threading.Event()
    go_on = threading.Event()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name == "second" and statement.startswith(
            "UPDATE shop_orders"
        ):
            second_asks.set()

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name == "first" and statement.startswith(
            "SELECT shop_orders.doc"
        ):
            first_read.set()
            assert go_on.wait(30)

    results: dict[str, str] = {}

    def cancel() -> None:
        name = threading.current_thread().name
        try:
            shop.cancel_order(TENANT, PENDING, "no longer needed")
            results[name] = "done"
        except OperationRefused as exc:
            results[name] = exc.reason
        except Exception as exc:  # reported below: a lock error must fail the test
            results[name] = repr(exc)

    event.listen(svc.engine, "before_cursor_execute", before)
    event.listen(svc.engine, "after_cursor_execute", after)
    try:
        first = threading.Thread(target=cancel, name="first")
        second = threading.Thread(target=cancel, name="second")
        first.start()
        assert first_read.wait(30)
        second.start()
        assert second_asks.wait(30)
        go_on.set()
        first.join(60)
        second.join(60)
    finally:
        go_on.set()
        event.remove(svc.engine, "before_cursor_execute", before)
        event.remove(svc.engine, "after_cursor_execute", after)
    assert results == {"first": "done", "second": "order_not_pending"}
    order = shop.order(TENANT, PENDING)
    assert [p.transaction_type for p in order.payment_history] == ["payment", "refund"]
    card = shop.customer(TENANT, "ethan_lopez_6291").payment_method("gift_card_7219486")
    assert card is not None and card.balance == Decimal("4128.45")  # refunded once


def test_racing_writes_of_one_order_serialise(shop: EmbeddedShop) -> None:
    """Several threads modify, re-pay and cancel one pending order at once: exactly one of the
    state-changing writes that need "pending" wins; nothing fails with a database error."""
    barrier = threading.Barrier(4)
    results: list[str] = []

    def run(write: Any) -> None:
        barrier.wait(30)
        try:
            write()
            results.append("done")
        except OperationRefused as exc:
            results.append(exc.reason)
        except Exception as exc:
            results.append(repr(exc))

    writes = [
        lambda: shop.cancel_order(TENANT, PENDING, "no longer needed"),
        lambda: shop.cancel_order(TENANT, PENDING, "ordered by mistake"),
        lambda: shop.modify_order_items(
            TENANT, PENDING, ["7896397433"], ["6130713659"], "credit_card_9789590"
        ),
        lambda: shop.cancel_order(TENANT, PENDING, "no longer needed"),
    ]
    threads = [threading.Thread(target=run, args=(w,)) for w in writes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["done"] + ["order_not_pending"] * 3, results
    order = shop.order(TENANT, PENDING)
    assert len(order.payment_history) == 2
