"""Numbers in Chinese and English text, quantities with measure words, and amounts of money.

``parse_number`` reads Arabic digits (with thousands separators and 万/千 multipliers: 1.5万,
3千) and, through :mod:`kefu.understanding.numerals`, Chinese numerals (两, 二十三, 一百零五,
一百五 = 150, 两万三 = 23000) and English number words (seventy, eighty-five, one hundred and
twenty).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kefu.understanding.numerals import (
    EN_NUMERAL,
    ZH_DIGITS,
    ZH_NUMERAL,
    ZH_NUMERAL_CHARS,
    parse_numeral,
)

EN_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}

ARABIC = r"\d+(?:,\d{3})*(?:\.\d+)?"
# A number as written in Chinese text: digits (with an optional 万/千 multiplier) or numerals.
NUM = rf"(?:{ARABIC}[万千]?|{ZH_NUMERAL})"
EN_NUM = rf"(?:\d+|{EN_NUMERAL})"


def parse_number(text: str) -> float | None:
    """Digits (1,299.00; 1.5万; 3千), Chinese numerals or an English number word."""
    text = text.strip().lower()
    if not text:
        return None
    mult = 1
    if text[-1] in "万千" and text[0].isdigit():
        mult = 10_000 if text[-1] == "万" else 1000
        text = text[:-1]
    if re.fullmatch(ARABIC, text):
        return float(text.replace(",", "")) * mult
    value = parse_numeral(text)
    return None if value is None else float(value)


def as_number(value: float) -> int | float:
    """An int when the value is whole (3.0 -> 3), else the float."""
    return int(value) if value == int(value) else round(value, 6)


@dataclass(frozen=True, slots=True)
class Quantity:
    """How many of something: ``value`` and the measure word (件, 个, 双) or English unit."""

    value: int | float
    unit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit}


@dataclass(frozen=True, slots=True)
class Amount:
    """An amount of money, ``currency`` ``"CNY"`` or ``"USD"``."""

    value: float
    currency: str

    def to_dict(self) -> dict[str, Any]:
        return {"value": as_number(self.value), "currency": self.currency}


Match = tuple[int, int, Any]  # start, end, value (folded-text offsets)

MEASURE_WORDS = "件个双条箱盒瓶套台只包袋支张本份把顶副对桶罐片枚单笔"
_NOT_GOODS = (
    "月|星期|礼拜|小时|钟头|工作日|问题|事|人|字|消息|信息|评论|短信|差评|好评|语音|留言|"
    "电话|客服|理由|原因|办法|意思|地方|时候|机会|多月|多星期|多小时|半月|"
    "订单号|快递员|朋友|孩子|人工|邮|套|样"
)
_QTY_ZH = re.compile(
    rf"(?<![第\d.零〇一二两三四五六七八九十百千万另同每哪任唯中单统逐])({NUM})\s?([{MEASURE_WORDS}])"
    rf"(?!{_NOT_GOODS})"
)
_EN_UNITS = {
    "piece": "piece",
    "pieces": "piece",
    "pcs": "piece",
    "pc": "piece",
    "pair": "pair",
    "pairs": "pair",
    "item": "item",
    "items": "item",
    "unit": "unit",
    "units": "unit",
    "box": "box",
    "boxes": "box",
    "bottle": "bottle",
    "bottles": "bottle",
    "set": "set",
    "sets": "set",
    "pack": "pack",
    "packs": "pack",
    "case": "case",
    "cases": "case",
}
_EN_UNIT_RE = "|".join(sorted(_EN_UNITS, key=len, reverse=True))
_ARTICLE = set("找荐是有问换选像成去绍挑排给帮")
_QTY_EN = re.compile(
    rf"\b({EN_NUM})\s+({_EN_UNIT_RE})\b(?!\s+(?:ago|of\s+(?:the\s+)?(?:week|month)))"
)
_QTY_EN_OF = re.compile(rf"\b({EN_NUM}) of (?:them|these|those|it|the same)\b")
_QTY_EN_LABEL = re.compile(r"\b(?:qty|quantity)\.?\s*(?:of|is|:|=)?\s*(\d+)\b")
_QTY_TIMES = re.compile(r"(?<![a-z0-9])[x×*]\s?(\d{1,3})(?![\d.%a-z])")


def find_quantities(text: str, lower: str) -> Iterator[Match]:
    for m in _QTY_ZH.finditer(text):
        n = parse_number(m.group(1))
        if n is None or n <= 0 or n != int(n) or n > 100_000:
            continue
        if n == 1 and m.group(2) in "个家" and m.start() > 0 and text[m.start() - 1] in _ARTICLE:
            continue  # 找一个 / 推荐一个 / 是一个: "a", not a count
        yield m.start(), m.end(), Quantity(int(n), m.group(2))
    for m in _QTY_EN.finditer(lower):
        n = parse_number(m.group(1))
        if n is not None and 0 < n < 100_000:
            yield m.start(), m.end(), Quantity(as_number(n), _EN_UNITS[m.group(2)])
    for pattern in (_QTY_EN_OF, _QTY_EN_LABEL, _QTY_TIMES):
        for m in pattern.finditer(lower):
            n = parse_number(m.group(1))
            if n is not None and 0 < n < 100_000:
                yield m.start(), m.end(), Quantity(as_number(n))


_CNY_SUFFIX = r"元|块钱|块|圆|人民币|rmb|cny|yuan|rmb元"
_USD_SUFFIX = r"美元|美金|刀|dollars?|bucks?|usd|us\$"
_AMOUNT_PREFIX = re.compile(
    rf"(?<![a-z])(¥|rmb|cny|usd|us\$|\$)\s?({ARABIC}[万千]?)(?![\d])", re.IGNORECASE
)
_AMOUNT_SUFFIX = re.compile(
    rf"(?<![\d.,a-z#{ZH_NUMERAL_CHARS}])({NUM})\s?({_CNY_SUFFIX}|{_USD_SUFFIX})"
    rf"(?:([0-9一二两三四五六七八九])(?![\d{MEASURE_WORDS}])([毛角])?)?(钱)?(?![a-z])",
    re.IGNORECASE,
)
_RANGE_LOW = re.compile(
    rf"(?<![\d.,{ZH_NUMERAL_CHARS}])({ARABIC}[万千]?|{ZH_NUMERAL})\s?(?:-|~|～|到|至)\s?$"
)
_JIAO = re.compile(rf"(?<![\d.块元{ZH_NUMERAL_CHARS}])({NUM})\s?(毛|角)(钱)?")


def _currency(word: str) -> str:
    return "USD" if re.fullmatch(_USD_SUFFIX + "|\\$", word, re.IGNORECASE) else "CNY"


def find_amounts(text: str, lower: str) -> Iterator[Match]:
    for m in _AMOUNT_PREFIX.finditer(lower):
        n = parse_number(m.group(2))
        if n is not None:
            yield m.start(), m.end(), Amount(n, _currency(m.group(1)))
    for m in _AMOUNT_SUFFIX.finditer(lower):
        n = parse_number(m.group(1))
        if n is None:
            continue
        # 12块5 / 两块五毛 / 12元5角: a digit after 块/元 is tenths
        tenth = m.group(3)
        if tenth and m.group(2) in ("块", "元"):
            d = ZH_DIGITS.get(tenth)
            n += (int(tenth) if tenth.isdigit() else (d or 0)) / 10
        elif tenth:
            continue
        currency = _currency(m.group(2))
        yield m.start(), m.end(), Amount(n, currency)
        low = _RANGE_LOW.search(lower, max(0, m.start() - 24), m.start())
        n_low = parse_number(low.group(1)) if low else None
        if low and n_low is not None and n_low < n:  # 100-150元: both ends
            yield low.start(1), low.end(1), Amount(n_low, currency)
    for m in _JIAO.finditer(text):
        n = parse_number(m.group(1))
        if n is not None and n < 10:
            yield m.start(), m.end(), Amount(n / 10, "CNY")


ORDINAL_WORDS = "件个单款双条样项笔只台张份盒瓶套把本支包箱种位副对顶"
_NOT_ITEM = "月|星期|礼拜|小时|钟头|工作日|季度|年|周|天|次|回|遍|时间|名"
_ORDINAL_ZH = re.compile(rf"(倒数)?第\s?({NUM})\s?([{ORDINAL_WORDS}])(?!{_NOT_ITEM})")
_LAST_ZH = re.compile(rf"最后(?:一|那|这)?(?:一)?([{ORDINAL_WORDS}])(?!{_NOT_ITEM})")
_ORDINAL_EN = re.compile(
    r"\b(?:the\s+)?(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|last"
    r"|\d{1,2}(?:st|nd|rd|th))((?:[\s-]+(?:to|from)[\s-]+(?:the[\s-]+)?last))?\s+"
    r"(ones?|items?|orders?|products?|things?|pairs?|packages?|pieces?|shirts?|entry|entries"
    r"|purchases?|boxes|box|bottles?|units?)\b"
)


def find_ordinals(text: str, lower: str) -> Iterator[Match]:
    """Positions in a list: 第2件 -> 2, 最后一个 -> -1, 倒数第二个 -> -2, the second one -> 2."""
    for m in _ORDINAL_ZH.finditer(text):
        n = parse_number(m.group(2))
        if n is None or n != int(n) or not 0 < n <= 1000:
            continue
        yield m.start(), m.end(), -int(n) if m.group(1) else int(n)
    for m in _LAST_ZH.finditer(text):
        yield m.start(), m.end(), -1
    for m in _ORDINAL_EN.finditer(lower):
        word = m.group(1)
        if word == "last":
            n = 1
        elif word in EN_ORDINALS:
            n = EN_ORDINALS[word]
        else:
            n = int(word[:-2])
        if word == "last" or m.group(2):
            if word == "last" and m.group(2):
                continue
            n = -n
        if n == 0:
            continue
        noun = m.group(3)
        if noun.startswith(("order", "purchase")) and not m.group().startswith("the"):
            continue  # "first order discount" is a first-time purchase, not a position
        yield m.start(), m.end(), n
