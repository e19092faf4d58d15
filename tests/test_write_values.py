"""What the offline understanding reads for L3 writes: confirmations in sentences, the slot values
of the write flows (items, kept items, payment methods, reasons, orders), and identity details
said bare when they were asked for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from kefu.connectors.tau_io import read_tau
from kefu.quality.conversation_tests import DEMO_DATA
from kefu.understanding.catalogue import Catalogue
from kefu.understanding.entities import EntityExtractor
from kefu.understanding.nlu_engine import _option, confirmation
from kefu.understanding.normalise import normalise
from kefu.understanding.write_values import cancel_reason, payment_value, write_value


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("确认", "yes"),
        ("Yes, please cancel it.", "yes"),
        ("是的，确认退货", "yes"),
        ("没问题，办吧", "yes"),
        ("yes go ahead", "yes"),
        ("no, don't", "no"),
        ("不，先不退了", "no"),
        ("不要了", "no"),
        ("Yes, but change the address", None),
        ("不对，其实是第一件", "no"),  # a no by itself; the engine tries a correction first
        ("退到礼品卡吧", None),
        ("Thanks.", None),
        ("wait, not that one", None),
    ],
)
def test_a_confirmation_is_read_from_a_sentence(text: str, said: str | None) -> None:
    assert confirmation(normalise(text)) == said


@dataclass
class E:
    type: str
    value: Any
    text: str


def _value(entity: str, text: str, entities: list[E]) -> Any:
    return write_value(entity, entities, normalise(text), _option, None)


def test_items_by_ordinal_keep_the_ones_said_to_be_kept() -> None:
    said = [E("ordinal", 2, "第二件"), E("ordinal", 1, "第一件")]
    assert _value("items", "订单D9344879的第二件我要退，第一件留着", said) == {"ordinal": 2}
    both = [E("ordinal", 1, "第一件"), E("ordinal", 3, "第三件")]
    assert _value("items", "第一件和第三件都退", both) == [{"ordinal": 1}, {"ordinal": 3}]
    kept = [E("ordinal", 2, "the second one"), E("ordinal", 1, "the first")]
    assert _value("items", "return the second one, keep the first", kept) == {"ordinal": 2}


def test_all_items_and_all_orders() -> None:
    assert _value("items", "这个订单我要全部退掉", []) == {"all": True}
    assert _value("items", "return everything", []) == {"all": True}
    assert _value("items", "退货", []) is None
    ids = [E("order_id", "#D1", "#D1"), E("order_id", "#D2", "#D2")]
    assert _value("orders", "把#D1和#D2合并", ids) == ["#D1", "#D2"]
    assert _value("orders", "合并我所有待发货的订单", []) == {"all": True}


def test_payment_methods_by_words_brand_and_digits() -> None:
    assert payment_value([], normalise("原路退回")) == {"original": True}
    assert payment_value([], normalise("退到礼品卡吧")) == {"source": "gift_card"}
    card = [E("card_last4", "1234", "1234")]
    assert payment_value(card, normalise("visa ending 1234")) == {
        "source": "credit_card",
        "brand": "visa",
        "last4": "1234",
    }
    assert payment_value([], normalise("随便")) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("不需要了", "no longer needed"),
        ("I found it cheaper elsewhere, I don't need it anymore", "no longer needed"),
        ("买错了", "ordered by mistake"),
        ("I ordered it by mistake", "ordered by mistake"),
        ("2", "ordered by mistake"),
        ("算了，不取消了", None),
    ],
)
def test_cancellation_reasons(text: str, reason: str | None) -> None:
    assert cancel_reason(normalise(text)) == reason


def test_bare_names_and_zip_codes_count_only_when_identity_was_asked() -> None:
    ex = EntityExtractor(None)
    asked = [(e.type, e.text) for e in ex.extract("Isabella Brown, 80257", hint="identity")]
    assert asked == [("person_name", "Isabella Brown"), ("zip", "80257")]
    assert [(e.type, e.text) for e in ex.extract("I'm Ava Moore, zip 78234", hint="identity")] == [
        ("person_name", "Ava Moore"),
        ("zip", "78234"),
    ]
    assert ex.extract("Isabella Brown, 80257") == []
    assert ex.extract("Hello there", hint="identity") == []


def test_a_colour_is_also_read_with_its_suffix() -> None:
    data = read_tau(DEMO_DATA / "shop")
    ex = EntityExtractor(Catalogue.from_products(data.products))
    options = [(e.type, e.text) for e in ex.extract("换成藕粉色1.5米床的")]
    assert options == [("option", "藕粉色"), ("option", "1.5米床")]
    assert ex.extract("换成藕粉色1.5米床的")[0].value.value == "藕粉"
