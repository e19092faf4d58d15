"""Detectors for PII with a fixed shape: phone numbers, ID-card numbers, bank cards, e-mails.

Every detector reads *folded* text (see :func:`fold`: one character in, one character out, so
offsets are offsets into the original text) and yields :class:`Hit` objects. A hit's ``key`` is
the value in a canonical form (a phone number in E.164, an ID number in upper case), so the same
value written two ways gets the same placeholder.

The detectors lean towards precision on things that are not PII in a shop chat: prices, dates,
quantities, order ids (``#W1234567``) and tracking numbers are never reported. Long digit runs
are reported only when they validate: an ID number needs a real birth date and the GB 11643
check digit (or a cue such as 身份证), a bank card needs the Luhn check and either a card cue or
a card-issuer prefix.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from kefu.understanding.normalise import to_simplified


@dataclass(frozen=True, slots=True)
class Hit:
    """A detected value: ``text[start:end]``, its kind (a ``PiiKind`` value) and canonical key."""

    start: int
    end: int
    kind: str
    key: str


class _FoldTable(dict[int, str]):
    """Code point -> its NFKC form lower-cased, when that is one character (else itself);
    filled on first sight, so ``str.translate`` folds a long prompt at C speed."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        folded = unicodedata.normalize("NFKC", ch)
        if len(folded) != 1:
            folded = ch
        lower = folded.lower()
        out = lower if len(lower) == 1 else folded
        self[code] = out
        return out


_FOLD_TABLE = _FoldTable()


@functools.lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Width, case and script folded character by character; ``len(fold(t)) == len(t)``."""
    joined = text.translate(_FOLD_TABLE)
    simplified = to_simplified(joined)
    return simplified if len(simplified) == len(joined) else joined


# Characters that glue a digit run to a word, an id or a decimal: a match must not touch them.
_B = r"(?<![0-9a-z#@_])"
_A = r"(?![0-9a-z@_])"

_MOBILE = re.compile(
    _B + r"(?:(?:\+|00)\s?86[\s-]?|\(\+?86\)\s?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})" + _A
)
_LANDLINE = re.compile(
    _B + r"(?P<cc>(?:\+|00)\s?86[\s-]?\(?0?|\(0?|0)"
    r"(?P<area>10|2\d|[3-9]\d{2})(?P<sep>\)?[\s-]?)"
    r"(?P<a>\d{3,4})[\s-]?(?P<b>\d{4})" + _A
)
_PHONE_CUE = re.compile(
    r"(?:电话|座机|手机|联系方式|号码|致电|打|phone|tel|call|fax|mobile)\D{0,6}$"
)
_US = re.compile(
    r"(?<![0-9a-z#@_\-.])(?:\+?1[\s.-]?)?(?:\((\d{3})\)\s?|(\d{3})[.-])(\d{3})[\s.-](\d{4})(?![0-9a-z@_\-])"
)
_HOTLINE_AREA = ("400", "800")
_INTERNATIONAL = re.compile(r"(?:[+＋]|(?<![0-9０-９])[0０]{2})\s?\(?[1-9１-９]")

_ID18 = re.compile(
    _B
    + r"([1-9]\d{5})\s?((?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))\s?(\d{3}[0-9x])"
    + _A
)
_ID15 = re.compile(_B + r"([1-9]\d{5})(\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(\d{3})" + _A)
_ID_CUE = re.compile(
    r"(?:身份证|证件|公民身份|id\s?card|id\s?(?:no\.?|number|#)|identity|national\s?id)\D{0,8}$"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

_CARD = re.compile(
    r"(?<![0-9a-z#@_.\-])"
    r"(\d{4}[\s-]\d{6}[\s-]\d{5}|\d{4}(?:[\s-]\d{4}){2,3}(?:[\s-]\d{1,4})?|\d{13,19})"
    r"(?![0-9a-z@_]|[.\-]\d)"
)
_CARD_CUE = re.compile(
    r"(?:银行卡|卡号|信用卡|储蓄卡|借记卡|银联|账号|账户|帐号|帐户|card|account|acct|visa|"
    r"mastercard|amex)\D{0,10}$"
)
_CARD_PREFIX = re.compile(r"(?:4|5[1-5]|2[2-7]|3[47]|35|30|36|38|6[025]|9)")

_EMAIL = re.compile(
    r"(?<![a-z0-9._%+\-])[a-z0-9][a-z0-9._%+\-]*@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}"
)


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


def find_phones(folded: str) -> Iterator[Hit]:
    for m in _MOBILE.finditer(folded):
        yield Hit(m.start(), m.end(), "PHONE", "+86" + m.group(1) + m.group(2) + m.group(3))
    for m in _LANDLINE.finditer(folded):
        area = m.group("area")
        if area in ("400", "800"):
            continue
        marked = m.group("cc") != "0" or bool(m.group("sep"))
        cue = _PHONE_CUE.search(folded[max(0, m.start() - 12) : m.start()])
        if not (marked or cue):
            continue
        yield Hit(m.start(), m.end(), "PHONE", "+86" + area + m.group("a") + m.group("b"))
    for m in _US.finditer(folded):
        area = m.group(1) or m.group(2)
        if area in _HOTLINE_AREA and not m.group().startswith(("+", "1", "(")):
            continue  # a mainland 400/800 hotline: a business number
        yield Hit(m.start(), m.end(), "PHONE", "+1" + area + m.group(3) + m.group(4))


def find_international_phones(text: str) -> Iterator[Hit]:
    """Numbers written with a country code (+44 20 7946 0958, 0049 30 123456), validated by
    ``phonenumbers`` (offline metadata). National forms are left to :func:`find_phones`."""
    if not _INTERNATIONAL.search(text):
        return
    import phonenumbers

    matcher = phonenumbers.PhoneNumberMatcher(text, "CN", leniency=phonenumbers.Leniency.VALID)
    for match in matcher:
        raw = fold(match.raw_string).lstrip("(")
        if not raw.startswith(("+", "00")):
            continue
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        yield Hit(match.start, match.end, "PHONE", e164)


def id_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of an ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def _valid_date(yyyymmdd: str) -> bool:
    try:
        born = date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return born <= date.today()


def is_valid_id18(number: str) -> bool:
    number = number.upper()
    if not re.fullmatch(r"[1-9]\d{16}[\dX]", number) or not _valid_date(number[6:14]):
        return False
    return id_check_digit(number[:17]) == number[17]


def find_id_cards(folded: str) -> Iterator[Hit]:
    for m in _ID18.finditer(folded):
        number = (m.group(1) + m.group(2) + m.group(3)).upper()
        if not _valid_date(m.group(2)):
            continue
        cued = bool(_ID_CUE.search(folded[max(0, m.start() - 16) : m.start()]))
        if is_valid_id18(number) or cued:
            yield Hit(m.start(), m.end(), "ID", number)
    for m in _ID15.finditer(folded):
        # Legacy 15-digit numbers have no check digit: only read after a cue.
        if not _ID_CUE.search(folded[max(0, m.start() - 16) : m.start()]):
            continue
        if not _valid_date("19" + m.group(2)):
            continue
        yield Hit(m.start(), m.end(), "ID", m.group())


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def find_bank_cards(folded: str) -> Iterator[Hit]:
    for m in _CARD.finditer(folded):
        number = _digits(m.group(1))
        if not 13 <= len(number) <= 19 or not luhn_ok(number) or len(set(number)) == 1:
            continue
        cued = bool(_CARD_CUE.search(folded[max(0, m.start() - 16) : m.start()]))
        if cued or _CARD_PREFIX.match(number):
            yield Hit(m.start(), m.end(), "CARD", number)


def find_emails(folded: str) -> Iterator[Hit]:
    for m in _EMAIL.finditer(folded):
        yield Hit(m.start(), m.end(), "EMAIL", m.group())
