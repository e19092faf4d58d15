"""The one numeral reader (:mod:`kefu.understanding.numerals`) and its two users: entity
extraction (``parse_number``) and the fact check of LLM rewrites (``facts``) read Chinese and
English numerals the same way."""

from __future__ import annotations

import pytest

from kefu.llm.facts import Fact, facts, unsupported
from kefu.understanding.entities import EntityExtractor
from kefu.understanding.entities_numbers import parse_number
from kefu.understanding.numerals import parse_en_numeral, parse_numeral, parse_zh_numeral

ZH = [
    ("两", 2),
    ("十五", 15),
    ("三十", 30),
    ("二十三", 23),
    ("一百零五", 105),
    ("一百五", 150),
    ("一百五十", 150),
    ("两百五", 250),
    ("一千二", 1200),
    ("一千零二十", 1020),
    ("两万三", 23000),
    ("两万三千", 23000),
    ("二〇二六", 2026),
]
EN = [
    ("seven", 7),
    ("seventy", 70),
    ("eighty", 80),
    ("eighty-five", 85),
    ("Ninety Nine", 99),
    ("sixty", 60),
    ("one hundred and twenty", 120),
    ("a hundred", 100),
    ("two thousand five hundred", 2500),
]


@pytest.mark.parametrize(("text", "value"), ZH)
def test_chinese_numerals(text: str, value: int) -> None:
    assert parse_zh_numeral(text) == value
    assert parse_numeral(text) == value
    assert parse_number(text) == value


@pytest.mark.parametrize(("text", "value"), EN)
def test_english_numerals(text: str, value: int) -> None:
    assert parse_en_numeral(text) == value
    assert parse_numeral(text) == value
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["", "a", "and", "two three", "twenty twenty", "十百"])
def test_not_numerals(text: str) -> None:
    assert parse_numeral(text) is None


@pytest.mark.parametrize(("text", "value"), ZH)
def test_facts_read_chinese_amounts_like_digits(text: str, value: int) -> None:
    assert facts(f"{text}元") == facts(f"¥{value}") == {Fact("amount", str(value))}


def test_facts_see_one_amount_in_every_spelling_of_150() -> None:
    spellings = ["¥150", "150元", "一百五十元", "一百五元", "150.00 元"]
    assert {frozenset(facts(s)) for s in spellings} == {frozenset({Fact("amount", "150")})}
    assert unsupported(facts("运费一百五元"), facts("运费 ¥150")) == []
    assert unsupported(facts("¥105"), facts("一百五元")) == [Fact("amount", "105")]


@pytest.mark.parametrize(
    ("text", "fact"),
    [
        ("within seventy days", Fact("number", "70", "day")),
        ("eighty-five items", Fact("number", "85", "item")),
        ("one hundred and twenty days", Fact("number", "120", "day")),
        ("一百二十天", Fact("number", "120", "day")),
        ("1.5万元", Fact("amount", "15000")),
    ],
)
def test_facts_read_numbers_with_units(text: str, fact: Fact) -> None:
    assert facts(text) == {fact}


@pytest.mark.parametrize("text", ["千万别担心", "万一不合适可以退"])
def test_facts_do_not_read_chinese_words_that_contain_numerals(text: str) -> None:
    assert facts(text) == frozenset()


@pytest.mark.parametrize(
    ("text", "value"),
    [("I need seventy pieces", 70), ("eighty-five items please", 85), ("买一百五件", 150)],
)
def test_entity_quantities_read_the_same_numerals(text: str, value: int) -> None:
    found = [e for e in EntityExtractor().extract(text) if e.type == "quantity"]
    assert [e.value.value for e in found] == [value]  # type: ignore[union-attr]
