"""Chinese and English numerals: the one reader used by entity extraction and the fact check.

``parse_zh_numeral`` reads Chinese numerals (两, 十五, 三十, 二十三, 一百零五, 两万三千), the
colloquial short forms (一百五 = 150, 一千二 = 1200, 两万三 = 23000) and digit strings
(二〇二六 = 2026). ``parse_en_numeral`` reads English number words (seven, seventy, eighty-five,
one hundred and twenty, two thousand five hundred). ``ZH_NUMERAL`` and ``EN_NUMERAL`` are the
regular expressions (without groups) that find them; :mod:`kefu.understanding.entities_numbers`
and :mod:`kefu.llm.facts` build their patterns on these.
"""

from __future__ import annotations

import re

ZH_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
ZH_UNITS = {"十": 10, "百": 100, "千": 1000}
ZH_BIG = {"万": 10_000, "亿": 100_000_000}
# The characters a Chinese numeral is written with (幺 only reads digit by digit, in phone
# numbers, so patterns leave it out).
ZH_NUMERAL_CHARS = "零〇一二两俩三四五六七八九十百千万亿"
ZH_NUMERAL = f"[{ZH_NUMERAL_CHARS}]{{1,12}}"

EN_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
EN_TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
EN_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
EN_SCALES = {"hundred": 100, "thousand": 1000}
EN_WORDS = EN_UNITS | EN_TEENS | EN_TENS | EN_SCALES


def _alt(words: dict[str, int]) -> str:
    return "(?:" + "|".join(sorted(words, key=len, reverse=True)) + r")\b"


_SEP = r"[\s-]+"
_ONE_TO_NINE = _alt({k: v for k, v in EN_UNITS.items() if v})
_BELOW_100 = rf"(?:{_alt(EN_TENS)}(?:{_SEP}{_ONE_TO_NINE})?|{_alt(EN_TEENS)}|{_alt(EN_UNITS)})"
_BELOW_1000 = (
    rf"(?:(?:(?:{_ONE_TO_NINE}|a){_SEP})?hundred\b(?:{_SEP}(?:and{_SEP})?{_BELOW_100})?"
    rf"|{_BELOW_100})"
)
# English number words, 0 to 999,999 (grammatical sequences only: "two three" is two numbers).
EN_NUMERAL = (
    rf"(?:(?:(?:{_BELOW_1000}|a){_SEP})?thousand\b(?:{_SEP}(?:and{_SEP})?{_BELOW_1000})?"
    rf"|{_BELOW_1000})"
)
_EN_NUMERAL_RE = re.compile(EN_NUMERAL)


def _zh_section(text: str) -> int | None:
    """A Chinese numeral below 10,000 (十二, 一百零五, 三千二百, 一百五 = 150)."""
    total = 0
    digit: int | None = None
    last_unit = 10_000
    for ch in text:
        if ch in ZH_DIGITS:
            digit = ZH_DIGITS[ch]
        elif ch in ZH_UNITS:
            unit = ZH_UNITS[ch]
            if unit >= last_unit:
                return None
            total += (1 if digit is None else digit) * unit
            digit = None
            last_unit = unit
        else:
            return None
    if digit is not None:
        # 一百五 = 150, 一千二 = 1200: a trailing digit right after a unit scales down one place
        prev = text[-2] if len(text) >= 2 else ""
        total += digit * (last_unit // 10) if prev in ZH_UNITS and last_unit > 10 else digit
    return total


def parse_zh_numeral(text: str) -> int | None:
    """A Chinese numeral as an int, None if ``text`` is not one.

    两 = 2, 十五 = 15, 三十 = 30, 一百零五 = 105, 一百五 = 150, 一千二 = 1200, 两万三 = 23000,
    and digit strings read digit by digit: 一二三 = 123, 二〇二六 = 2026.
    """
    if not text:
        return None
    if all(ch in ZH_DIGITS for ch in text) and len(text) > 1:
        return int("".join(str(ZH_DIGITS[ch]) for ch in text))
    for big_char, big in sorted(ZH_BIG.items(), key=lambda kv: -kv[1]):
        if big_char in text:
            head, _, tail = text.partition(big_char)
            high = parse_zh_numeral(head) if head else 1
            if high is None:
                return None
            if not tail:
                return high * big
            low = parse_zh_numeral(tail)
            if low is None:
                return None
            if len(tail) == 1 and tail in ZH_DIGITS:  # 两万三 = 23000
                low *= big // 10
            return high * big + low
    return _zh_section(text)


def parse_en_numeral(text: str) -> int | None:
    """English number words as an int, None if ``text`` is not one.

    seven = 7, seventy = 70, eighty-five = 85, one hundred and twenty = 120, a thousand = 1000,
    two thousand five hundred = 2500 (case-insensitive; hyphens and spaces alike).
    """
    low = text.strip().lower()
    if not _EN_NUMERAL_RE.fullmatch(low):
        return None
    total = current = 0
    for word in re.split(_SEP, low):
        if word == "a":
            current = 1
        elif word == "hundred":
            current = (current or 1) * 100
        elif word == "thousand":
            total += (current or 1) * 1000
            current = 0
        elif word != "and":
            current += EN_WORDS[word]
    return total + current


def parse_numeral(text: str) -> int | None:
    """A Chinese numeral or English number words (not Arabic digits) as an int, else None."""
    text = text.strip()
    if text and all(ch in ZH_DIGITS or ch in ZH_UNITS or ch in ZH_BIG for ch in text):
        return parse_zh_numeral(text)
    return parse_en_numeral(text)
