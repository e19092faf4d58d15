"""The facts a customer-service text must not get wrong, as comparable tokens.

Text written by a model is checked by code before a customer sees it (:mod:`kefu.llm.grounded`,
:mod:`kefu.llm.rephrase`). This module reads the checkable parts of a text: URLs, e-mails,
placeholders, ids (order ids such as ``#W1234567``, tracking numbers, long digit runs), dates,
times, percentages, amounts and numbers with their unit -- each normalised so that spellings of
the same value compare equal (full-width / half-width, ``7天`` / ``7 天`` / ``七天`` / ``7
days``, ``¥99`` / ``99元`` / ``99.00 元``, ``18:00`` / ``下午6点`` / ``6pm``, ``2026-03-05`` /
``2026年3月5日``) -- plus the policy words that change what a reply promises (refund, within,
at least, ...) and the negations.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from kefu.understanding.numerals import (
    EN_NUMERAL,
    ZH_BIG,
    ZH_NUMERAL_CHARS,
    parse_en_numeral,
    parse_zh_numeral,
)


@dataclass(frozen=True, slots=True, order=True)
class Fact:
    """One checkable token: ``kind`` (url, email, placeholder, id, date, time, percent, amount,
    number), its normalised ``value`` and, for numbers, a canonical ``unit`` ("" for none)."""

    kind: str
    value: str
    unit: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}{'/' + self.unit if self.unit else ''}"


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

# Canonical units: every spelling on the left means the unit on the right.
_UNITS: tuple[tuple[str, str], ...] = (
    (r"个?工作日|business\s+days?|working\s+days?|workdays?", "workday"),
    (r"个?小时|hours?|hrs?\b|h\b", "hour"),
    (r"分钟|minutes?|mins?\b", "minute"),
    (r"天|日|days?", "day"),
    (r"周|星期|个?礼拜|weeks?", "week"),
    (r"个月|months?", "month"),
    (r"年|years?", "year"),
    (r"件|items?|pieces?|pcs\b", "item"),
    (r"次|times\b", "times"),
    (r"倍", "x"),
    (r"公斤|千克|kg\b", "kg"),
    (r"克|g\b", "g"),
    (r"厘米|cm\b", "cm"),
    (r"米|m\b", "m"),
)
_UNIT_RE = "|".join(f"(?P<u{i}>{pattern})" for i, (pattern, _) in enumerate(_UNITS))
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?:\s*[万亿])?"
# A Chinese numeral starts with a digit or 十, so 万一 / 千万别 are not read as numbers.
_CN_NUM = "[零〇一二两俩三四五六七八九十][" + ZH_NUMERAL_CHARS + "]*"
_EN_NUM = r"\b" + EN_NUMERAL

_URL = re.compile(r"https?://[^\s<>\"'，。；！？、）)]+", re.I)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PLACEHOLDER = re.compile(r"\[[A-Z]+_\d+\]")
_ID = re.compile(
    r"#[A-Za-z0-9][A-Za-z0-9-]{2,}"  # #W1234567, #D20240001
    r"|(?<![A-Za-z0-9])(?=[A-Za-z0-9-]*[A-Za-z])(?=(?:[A-Za-z-]*\d){4})[A-Za-z0-9][A-Za-z0-9-]{4,}"
    r"|(?<![\d.])\d{3,}(?:[- ]\d{3,})+(?![\d.])"  # 400-820-1234, 6222 0200 1234
    r"|(?<![\d.])\d{7,}(?![\d.])"  # long digit runs: order numbers, tracking numbers, phones
)
_DATE_YMD = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_DATE_MD = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]")
_DATE_EN = re.compile(
    r"\b(" + "|".join(_MONTHS) + r")[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b"
    r"|\b(\d{1,2})(?:st|nd|rd|th)?\s+(" + "|".join(_MONTHS) + r")[a-z]*\b",
    re.I,
)
_TIME_COLON = re.compile(r"(?<!\d)(\d{1,2})\s*:\s*(\d{2})(?!\d)(?:\s*(am|pm)\b)?", re.I)
_TIME_AMPM = re.compile(r"(?<!\d)(\d{1,2})\s*(am|pm)\b", re.I)
_TIME_ZH = re.compile(
    r"(上午|早上|凌晨|中午|下午|晚上)?\s*(\d{1,2}|"
    + _CN_NUM
    + r")\s*[点點时]\s*(半|(\d{1,2})\s*分)?"
)
_PERCENT = re.compile(r"(" + _NUM + r")\s*(?:%|percent\b)|百分之\s*(" + _NUM + "|" + _CN_NUM + ")")
_AMOUNT = re.compile(
    r"[¥$€£]\s*(" + _NUM + r")"
    r"|\b(?:RMB|CNY|USD)\s*(" + _NUM + r")"
    r"|(" + _NUM + "|" + _CN_NUM + r")\s*(?:元|块钱|块|塊|yuan\b|RMB\b|CNY\b|USD\b|dollars?\b)",
    re.I,
)
_WITH_UNIT = re.compile(
    r"(" + _NUM + "|" + _CN_NUM + "|" + _EN_NUM + r")[\s-]*(?:个\s*)?(?:" + _UNIT_RE + ")", re.I
)
_BARE = re.compile(_NUM)


def normalise(text: str) -> str:
    """Full-width forms to half-width (NFKC), so ``７天`` and ``７％`` read as ``7天``, ``7%``."""
    return unicodedata.normalize("NFKC", text)


def _decimal(raw: str) -> str:
    """``1,299.00`` -> 1299, ``1.5万`` -> 15000."""
    raw = raw.replace(",", "").replace(" ", "")
    scale = 1
    if raw and raw[-1] in ZH_BIG:
        raw, scale = raw[:-1], ZH_BIG[raw[-1]]
    try:
        value = Decimal(raw) * scale
    except InvalidOperation:
        return raw
    return format(value.normalize(), "f")


def _number(raw: str) -> str | None:
    """Digits, a Chinese numeral (一百五 -> 150) or English words (eighty-five -> 85)."""
    if re.fullmatch(_CN_NUM, raw):
        value = parse_zh_numeral(raw)
    elif raw[:1].isdigit():
        return _decimal(raw)
    else:
        value = parse_en_numeral(raw)
    return None if value is None else str(value)


def _unit(match: re.Match[str]) -> str:
    for i, (_, unit) in enumerate(_UNITS):
        if match.group(f"u{i}"):
            return unit
    return ""


class _Reader:
    """Finds facts and blanks them out, so a number inside an id or a date is not read again."""

    def __init__(self, text: str) -> None:
        self.text = normalise(text)
        self.facts: set[Fact] = set()

    def take(
        self, pattern: re.Pattern[str], make: Callable[[re.Match[str]], Iterable[Fact]]
    ) -> None:
        def sub(m: re.Match[str]) -> str:
            found = list(make(m))
            if not found:
                return m.group(0)
            self.facts.update(found)
            return " " * len(m.group(0))

        self.text = pattern.sub(sub, self.text)


def _time(hour: int, minute: int, half: str | None) -> list[Fact]:
    if half:
        if half.lower() == "pm" and hour < 12:
            hour += 12
        elif half.lower() == "am" and hour == 12:
            hour = 0
    if hour > 24 or minute > 59:
        return []
    return [Fact("time", f"{hour}:{minute:02d}")]


def _zh_time(m: re.Match[str]) -> list[Fact]:
    if m.group(1) is None and not m.group(2).isdigit():
        return []  # 快一点, 便宜一点: "a bit", not one o'clock
    hour_text = _number(m.group(2))
    if hour_text is None or not hour_text.isdigit():
        return []
    hour = int(hour_text)
    if m.group(1) in ("下午", "晚上") and hour < 12:
        hour += 12
    minute = 30 if m.group(3) == "半" else int(m.group(4) or 0)
    return _time(hour, minute, None)


def _en_date(m: re.Match[str]) -> list[Fact]:
    month = (m.group(1) or m.group(4)).lower()[:3]
    day = int(m.group(2) or m.group(3))
    return [Fact("date", f"{_MONTHS.index(month) + 1}-{day}")] if 1 <= day <= 31 else []


def _amount(m: re.Match[str]) -> list[Fact]:
    value = _number(m.group(1) or m.group(2) or m.group(3))
    return [Fact("amount", value)] if value is not None else []


def _with_unit(m: re.Match[str]) -> list[Fact]:
    value = _number(m.group(1))
    return [Fact("number", value, _unit(m))] if value is not None else []


def _percent(m: re.Match[str]) -> list[Fact]:
    value = _number(m.group(1) or m.group(2))
    return [Fact("percent", value)] if value is not None else []


def facts(text: str) -> frozenset[Fact]:
    """Every checkable fact of ``text``."""
    r = _Reader(text)
    r.take(_URL, lambda m: [Fact("url", m.group(0).rstrip(".,;:!?").lower())])
    r.take(_EMAIL, lambda m: [Fact("email", m.group(0).lower())])
    r.take(_PLACEHOLDER, lambda m: [Fact("placeholder", m.group(0))])
    r.take(
        _DATE_YMD,
        lambda m: [
            Fact("date", f"{int(m.group(1))}-{int(m.group(2))}-{int(m.group(3))}"),
            Fact("date", f"{int(m.group(2))}-{int(m.group(3))}"),
        ],
    )
    r.take(_ID, lambda m: [Fact("id", re.sub(r"[#\s-]", "", m.group(0)).upper())])
    r.take(_DATE_MD, lambda m: [Fact("date", f"{int(m.group(1))}-{int(m.group(2))}")])
    r.take(_DATE_EN, _en_date)
    r.take(_TIME_COLON, lambda m: _time(int(m.group(1)), int(m.group(2)), m.group(3)))
    r.take(_TIME_AMPM, lambda m: _time(int(m.group(1)), 0, m.group(2)))
    r.take(_TIME_ZH, _zh_time)
    r.take(_PERCENT, _percent)
    r.take(_AMOUNT, _amount)
    r.take(_WITH_UNIT, _with_unit)
    r.take(_BARE, lambda m: [Fact("number", _decimal(m.group(0)))])
    return frozenset(r.facts)


def supported(fact: Fact, source: Iterable[Fact]) -> bool:
    """Whether ``fact`` is stated by ``source``: the same fact, or -- for a bare number -- any
    fact of ``source`` with that value (``7`` is supported by ``7天``)."""
    pool = set(source)
    if fact in pool:
        return True
    if fact.kind == "number" and not fact.unit:
        return any(f.value == fact.value for f in pool)
    return False


def unsupported(claimed: Iterable[Fact], source: Iterable[Fact]) -> list[Fact]:
    """The facts of ``claimed`` that ``source`` does not state, sorted."""
    pool = frozenset(source)
    return sorted(f for f in set(claimed) if not supported(f, pool))


# -- policy words and negations --------------------------------------------------------------

_UNIT_ZH = r"(?:天|日|号|点|时|小时|分钟|周|月|年|工作日)"
_CONCEPTS: dict[str, tuple[tuple[str, str], ...]] = {
    # (name, pattern): a concept present in the original must be present in the rewrite.
    "zh": (
        ("refund", r"退款|退钱|退费"),
        ("return", r"退货|退回|寄回|退换"),
        ("exchange", r"换货|退换|更换"),
        ("no_reason", r"无理由"),
        ("shipping_fee", r"运费|邮费"),
        ("free_shipping", r"包邮|免运费|免邮"),
        ("invoice", r"发票|开票"),
        ("warranty", r"保修|质保"),
        ("human", r"人工|真人|专员"),
        ("cancel", r"取消"),
        ("confirm", r"确认"),
        ("signed", r"签收"),
        ("refused", r"拒收"),
        ("compensation", r"赔|补偿"),
        ("coupon", r"优惠券|券"),
        ("points", r"积分"),
        ("within", _UNIT_ZH + r"\s*[之以]?内"),
        ("before", _UNIT_ZH + r"\s*[之以]?前|之前|以前"),
        ("after", _UNIT_ZH + r"\s*[之以]?后|之后|以后|(?:签收|付款|下单|发货|收货)后"),
        ("at_least", r"至少|不少于|以上"),
        ("at_most", r"最多|不超过|以下|以内"),
        ("more_than", r"超过|超出"),
        ("only", r"仅|只能|只可|只支持"),
        ("must", r"必须|务必"),
    ),
    "en": (
        ("refund", r"\brefund"),
        ("return", r"\breturn"),
        ("exchange", r"\bexchang"),
        ("no_reason", r"\bno[- ]reason|\bany reason|\bwithout (?:giving )?a reason"),
        ("shipping_fee", r"\bshipping (?:fee|cost)|\bpostage|\bdelivery (?:fee|charge)"),
        ("free_shipping", r"\bfree (?:shipping|delivery)"),
        ("invoice", r"\binvoice|\breceipt"),
        ("warranty", r"\bwarrant|\bguarantee"),
        ("human", r"\bhuman|\bagent|\bcolleague|\bstaff|\bperson\b"),
        ("cancel", r"\bcancel"),
        ("confirm", r"\bconfirm"),
        ("signed", r"\bsigned for|\bdelivered"),
        ("refused", r"\brefuse|\breject"),
        ("compensation", r"\bcompensat"),
        ("coupon", r"\bcoupon|\bvoucher"),
        ("points", r"\bpoints\b"),
        ("within", r"\bwithin\b"),
        ("before", r"\bbefore\b|\bby\b|\bno later than\b"),
        ("after", r"\bafter\b"),
        ("at_least", r"\bat least\b|\bminimum\b"),
        ("at_most", r"\bat most\b|\bup to\b|\bmaximum\b"),
        ("more_than", r"\bmore than\b|\bover\b|\bexceed"),
        ("only", r"\bonly\b"),
        ("must", r"\bmust\b|\brequired?\b"),
    ),
}
_NEGATION = {
    "zh": re.compile(r"不|没|无|未|非|别|勿|莫"),
    "en": re.compile(r"\b(?:not|no|never|none|nothing|cannot|unable|without)\b|n't\b", re.I),
}
# Courtesies that contain a negation word but negate nothing.
_COURTESY = {
    "zh": re.compile(
        r"不好意思|不客气|别客气|不用谢|不用担心|别担心|请勿担心|不必担心|没问题|毫无疑问"
    ),
    "en": re.compile(
        r"\bno problem\b|\bno worries\b|\bdon't worry\b|\bnot at all\b|\bnever mind\b", re.I
    ),
}


def policy_concepts(text: str, language: str) -> frozenset[str]:
    """The policy words of :data:`_CONCEPTS` that ``text`` uses."""
    norm = normalise(text)
    table = _CONCEPTS["en" if language == "en" else "zh"]
    return frozenset(name for name, pattern in table if re.search(pattern, norm, re.I))


def negations(text: str, language: str) -> int:
    """How many negation words ``text`` has (courtesies such as 不好意思 / no problem aside)."""
    lang = "en" if language == "en" else "zh"
    norm = _COURTESY[lang].sub(" ", normalise(text))
    return len(_NEGATION[lang].findall(norm))


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def in_language(text: str, language: str) -> bool:
    """A rough check that ``text`` is written in ``language`` (zh: mostly Chinese characters;
    en: mostly Latin letters)."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if language == "zh":
        return cjk > 0 and cjk >= latin / 4
    return latin > 0 and cjk <= latin / 4


PLACEHOLDER_LIKE = re.compile(r"[\[［【]\s*[A-Za-z]+_\d+\s*[\]］】]")
