"""Dates in Chinese and English, resolved against "today" (a ``date`` in Asia/Shanghai).

Rules (documented in docs/entities.md):
- 上周X / last X: that weekday of the previous Monday-to-Sunday week; 这周X / this X / a bare
  周X or weekday name: that weekday of the current week; 下周X / next X: of the next week.
- 上周 / last week, 下周, 本周: the Monday of that week; 上个月 / last month: its first day.
- N天前 / N days ago, N天后 / in N days; months move by calendar month (clamped to month end).
- A month and day without a year (11月5号, Nov 5, 11.5号, 10/30) take the year that puts the
  date closest to today; a bare day (25号) takes the closest month.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from datetime import date, timedelta

from kefu.understanding.entities_numbers import EN_NUM, NUM, Match, parse_number

_ZH_DAY = {
    "大前天": -3,
    "前天": -2,
    "前日": -2,
    "昨天": -1,
    "昨日": -1,
    "昨晚": -1,
    "昨儿": -1,
    "昨天晚上": -1,
    "今天": 0,
    "今日": 0,
    "今晚": 0,
    "今早": 0,
    "今儿": 0,
    "明天": 1,
    "明日": 1,
    "明晚": 1,
    "明儿": 1,
    "后天": 2,
    "大后天": 3,
}
_ZH_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_ZH_WEEKDAY.update({str(i + 1): i for i in range(7)})
_WEEK_SHIFT = {"上上": -2, "上": -1, "这": 0, "本": 0, "这个": 0, "下": 1, "下下": 2}
_EN_WEEKDAYS = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
_EN_WEEKDAY_ABBR = {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3}
_EN_WEEKDAY_ABBR.update({"fri": 4, "sat": 5, "sun": 6})
_EN_MONTHS = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}

_DAY_WORDS = re.compile("|".join(sorted(_ZH_DAY, key=len, reverse=True)))
_ZH_WEEK = re.compile(r"(上上|下下|上|这个|这|本|下)个?(?:周|星期|礼拜)([一二三四五六日天末1-7])?")
_ZH_BARE_WEEKDAY = re.compile(r"(?<![每一上下这本个到至])(?:周|星期|礼拜)([一二三四五六日天1-7])")
_ZH_RANGE_AFTER = re.compile(r"\s*(?:到|至|-|~|～)\s*(?:周|星期|礼拜)")
_HOURS_AFTER = re.compile(r"\s*\d{1,2}[:：]\d{2}\s*[-~～至到]")  # 周日 11:00-14:00
_ZH_MONTH_REL = re.compile(r"(上上|上|这|本|下)个?月(?![份底初中\d])")
_ZH_AGO = re.compile(
    rf"(?<![\d.,零〇一二两三四五六七八九十百千万亿])({NUM}|半)\s?(天|日|周|星期|个星期|礼拜|个礼拜|个月|月|年)(?:前|以前|之前|后|以后|之后)"
)
_ZH_YEAR_WORD = {"去年": -1, "今年": 0, "前年": -2, "明年": 1}
_ZH_YMD = re.compile(
    r"(?:(\d{4}|[零〇一二三四五六七八九]{4})年|(去年|今年|前年|明年))?"
    r"(\d{1,2}|[一二三四五六七八九十]{1,3})月份?"
    r"(\d{1,2}|[一二三四五六七八九十]{1,3})(?:日|号|號)?(?![\d月])"
)
_ZH_MD_DOT = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\s?(?:号|日)")
_ZH_DAY_ONLY = re.compile(
    r"(?<![\d.月第/大小加换码尺型路街道巷弄村里楼区院栋层同])(\d{1,2}|[一二三四五六七八九十]{1,3})号(?![楼线店门窗口仓码位柜床房院\d])"
)
_ISO = re.compile(r"(?<!\d)(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?!\d)")
_DOUBLE = re.compile(r"(去年|今年)?的?双(十一|11|十二|12)")
_EN_DAY = re.compile(
    r"\b(the day before yesterday|the day after tomorrow|yesterday|today|tonight|tomorrow"
    r"|this morning|this afternoon|this evening|last night)\b"
)
_EN_AGO = re.compile(
    rf"\b({EN_NUM}|a|an|a couple of|couple of)\s+(day|week|month|year)s?\s+"
    r"(ago|before|back|later)\b"
)
_EN_IN = re.compile(rf"\bin\s+({EN_NUM}|a|an)\s+(day|week)s?\b")
_EN_WEEKDAY = re.compile(
    r"\b(?:(last|this|next|past|coming|on)\s+)?"
    r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues|tue|wed|thurs|thur|thu"
    r"|fri|sat|sun)\b\.?"
)
_EN_PERIOD = re.compile(r"\b(last|this|next)\s+(week|month)\b")
_MONTH_NAMES = "|".join(sorted(_EN_MONTHS, key=len, reverse=True))
_EN_MD = re.compile(rf"\b({_MONTH_NAMES})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?")
_EN_DM = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_NAMES})\b\.?(?:,?\s+(\d{{4}}))?"
)
_EN_SLASH = re.compile(r"(?<![\d/.])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\d/%])")


def _num(text: str) -> int | None:
    if text in ("a", "an"):
        return 1
    if text in ("a couple of", "couple of"):
        return 2
    n = parse_number(text)
    return None if n is None or n != int(n) else int(n)


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def closest_year(today: date, month: int, day: int) -> date | None:
    """The date with this month and day closest to today (ties go to the past)."""
    options = [
        d for y in (today.year - 1, today.year, today.year + 1) if (d := _valid(y, month, day))
    ]
    if not options:
        return None
    return min(options, key=lambda d: (abs((d - today).days), d > today))


def closest_month(today: date, day: int) -> date | None:
    options = [
        d for k in (-1, 0, 1) if (d := _valid(*_ym(add_months(today.replace(day=1), k)), day))
    ]
    if not options:
        return None
    return min(options, key=lambda d: (abs((d - today).days), d > today))


def _ym(d: date) -> tuple[int, int]:
    return d.year, d.month


def week_day(today: date, weeks: int, weekday: int) -> date:
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(weeks=weeks, days=weekday)


def _shift(today: date, n: int, unit: str, sign: int) -> date | None:
    if unit in ("天", "日", "day"):
        return today + timedelta(days=sign * n)
    if unit in ("周", "星期", "个星期", "礼拜", "个礼拜", "week"):
        return today + timedelta(weeks=sign * n)
    if unit in ("个月", "月", "month"):
        return add_months(today, sign * n)
    if unit in ("年", "year"):
        return add_months(today, sign * 12 * n)
    return None


def _zh_int(text: str) -> int | None:
    n = parse_number(text)
    return None if n is None or n != int(n) else int(n)


def find_dates(text: str, lower: str, today: date) -> Iterator[Match]:
    """Dates in folded text (``text`` simplified, ``lower`` also lower-cased)."""
    yield from _find_zh(text, today)
    yield from _find_en(lower, today)


def _find_zh(text: str, today: date) -> Iterator[Match]:
    for m in _DAY_WORDS.finditer(text):
        yield m.start(), m.end(), today + timedelta(days=_ZH_DAY[m.group()])
    for m in _ZH_WEEK.finditer(text):
        weeks = _WEEK_SHIFT[m.group(1)]
        weekday = _ZH_WEEKDAY[m.group(2)] if m.group(2) else 0
        yield m.start(), m.end(), week_day(today, weeks, weekday)
    for m in _ZH_BARE_WEEKDAY.finditer(text):
        if (
            _ZH_RANGE_AFTER.match(text, m.end())
            or text[m.end() : m.end() + 1] in ("日", "天")
            or _HOURS_AFTER.match(text, m.end())
        ):
            continue
        if m.start() > 0 and text[m.start() - 1] in "到至~～-":
            continue
        yield m.start(), m.end(), week_day(today, 0, _ZH_WEEKDAY[m.group(1)])
    for m in _ZH_MONTH_REL.finditer(text):
        shift = {"上上": -2, "上": -1, "这": 0, "本": 0, "下": 1}[m.group(1)]
        yield m.start(), m.end(), add_months(today.replace(day=1), shift)
    for m in _ZH_AGO.finditer(text):
        sign = -1 if "前" in m.group()[-2:] else 1
        if m.group(1) == "半":
            if m.group(2) not in ("个月", "月"):
                continue
            day: date | None = today + timedelta(days=sign * 15)
        else:
            n = _zh_int(m.group(1))
            day = None if n is None or n > 3650 else _shift(today, n, m.group(2), sign)
        if day is not None:
            yield m.start(), m.end(), day
    for m in _ISO.finditer(text):
        if d := _valid(int(m.group(1)), int(m.group(2)), int(m.group(3))):
            yield m.start(), m.end(), d
    for m in _ZH_YMD.finditer(text):
        month, dd = _zh_int(m.group(3)), _zh_int(m.group(4))
        if month is None or dd is None:
            continue
        if m.group(1):
            year = _zh_int(m.group(1)) if not m.group(1).isdigit() else int(m.group(1))
            d = _valid(year, month, dd) if year else None
        elif m.group(2):
            d = _valid(today.year + _ZH_YEAR_WORD[m.group(2)], month, dd)
        else:
            d = closest_year(today, month, dd)
        if d is not None:
            yield m.start(), m.end(), d
    for m in _ZH_MD_DOT.finditer(text):
        if d := closest_year(today, int(m.group(1)), int(m.group(2))):
            yield m.start(), m.end(), d
    for m in _ZH_DAY_ONLY.finditer(text):
        n = _zh_int(m.group(1))
        if n is not None and (d := closest_month(today, n)):
            yield m.start(), m.end(), d
    for m in _DOUBLE.finditer(text):
        month = 11 if m.group(2) in ("十一", "11") else 12
        if m.group(1):
            d = _valid(today.year + _ZH_YEAR_WORD[m.group(1)], month, month)
        else:
            d = closest_year(today, month, month)
        if d is not None:
            yield m.start(), m.end(), d


def _find_en(lower: str, today: date) -> Iterator[Match]:
    offsets = {
        "the day before yesterday": -2,
        "the day after tomorrow": 2,
        "yesterday": -1,
        "last night": -1,
        "tomorrow": 1,
    }
    for m in _EN_DAY.finditer(lower):
        yield m.start(), m.end(), today + timedelta(days=offsets.get(m.group(1), 0))
    for m in _EN_AGO.finditer(lower):
        n = _num(m.group(1))
        sign = 1 if m.group(3) == "later" else -1
        if n is not None and n <= 3650 and (d := _shift(today, n, m.group(2), sign)):
            yield m.start(), m.end(), d
    for m in _EN_IN.finditer(lower):
        n = _num(m.group(1))
        if n is not None and n <= 3650 and (d := _shift(today, n, m.group(2), 1)):
            yield m.start(), m.end(), d
    for m in _EN_WEEKDAY.finditer(lower):
        word, name = m.group(1), m.group(2)
        if name in _EN_WEEKDAY_ABBR and word is None:
            continue  # "sat", "sun", "wed" alone are too often other words
        weekday = _EN_WEEKDAYS.get(name, _EN_WEEKDAY_ABBR.get(name, 0))
        weeks = {"last": -1, "past": -1, "next": 1}.get(word or "", 0)
        end = m.end() - (1 if m.group().endswith(".") else 0)
        yield m.start(), end, week_day(today, weeks, weekday)
    for m in _EN_PERIOD.finditer(lower):
        shift = {"last": -1, "this": 0, "next": 1}[m.group(1)]
        if m.group(2) == "week":
            yield m.start(), m.end(), week_day(today, shift, 0)
        else:
            yield m.start(), m.end(), add_months(today.replace(day=1), shift)
    for pattern, month_group, day_group in ((_EN_MD, 1, 2), (_EN_DM, 2, 1)):
        for m in pattern.finditer(lower):
            if m.group(month_group) in ("may", "march") and not m.group(3):
                before = lower[max(0, m.start() - 6) : m.start()]
                if pattern is _EN_DM or re.search(
                    r"\b(?:i|we|you|they|it|he|she|that)\s+$", before
                ):
                    continue  # "I may 2 ..." is a verb
            month, dd = _EN_MONTHS[m.group(month_group)], int(m.group(day_group))
            d = _valid(int(m.group(3)), month, dd) if m.group(3) else closest_year(today, month, dd)
            if d is not None:
                yield m.start(), m.end(), d
    for m in _EN_SLASH.finditer(lower):
        month, dd = int(m.group(1)), int(m.group(2))
        if m.group(3):
            year = int(m.group(3))
            d = _valid(year + 2000 if year < 100 else year, month, dd)
        elif len(m.group(1)) == 1 and len(m.group(2)) == 1:
            continue  # 1/2 is more often a fraction than a date
        else:
            d = closest_year(today, month, dd)
        if d is not None:
            yield m.start(), m.end(), d
