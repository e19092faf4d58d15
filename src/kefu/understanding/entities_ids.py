"""Identifiers and contact details: order ids, tracking numbers, phone numbers, e-mail
addresses, card last four digits and postcodes.

Phone numbers are matched by pattern rather than with ``phonenumbers``: mainland mobiles
(1[3-9] + 9 digits, with spaces, dashes or +86), mainland landlines (0 + area code + number,
with a dash or a phone cue) and North American numbers ((202) 555-0143). That covers what
customers type in a chat and keeps the dependency list short.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kefu.understanding.entities_numbers import Match

# Courier prefixes that make "SF1234567890" a tracking number rather than an order id.
COURIER_PREFIXES = frozenset({"SF", "YT", "ZT", "JT", "YD", "ST", "JD", "EMS", "DPK", "BS"})
COURIER_NAMES = (
    "顺丰|中通|圆通|申通|韵达|极兔|百世|德邦|邮政|ems|京东快递|京东物流|天天快递|快递|物流|"
    "ups|fedex|usps|dhl"
)
_TRACKING_CUE = re.compile(
    r"(?:快递单号|快递单|运单号|运单|物流单号|物流号|快递号|包裹号|"
    rf"(?:{COURIER_NAMES})\s?(?:单号)?|tracking\s?(?:number|no\.?|id|#|code)?|waybill(?:\s?number)?)"
    r"\s*(?:是|为|:|#|号|number|is)?\s*$"
)
# Cues that name the tracking number itself: only these make "D8453078" a tracking number;
# a courier word alone ("帮我查下快递 D8453078 到哪了") leaves an order-shaped id an order id.
_EXPLICIT_TRACKING_CUE = re.compile(
    r"(?:快递单号|快递单|运单号|运单|物流单号|物流单|物流号|快递号|包裹号|"
    rf"(?:{COURIER_NAMES})\s?单号|tracking\s?(?:number|no\.?|id|#|code)|waybill(?:\s?number)?)"
    r"\s*(?:是|为|:|#|号|number|is)?\s*$"
)
_ORDER_CUE = re.compile(
    r"(?:订单号|订单编号|订单|单号|order\s?(?:number|no\.?|id|#)|order)\s*(?:是|为|:|#|is)?\s*$"
)
_CODE = re.compile(r"(?<![a-z0-9@._-])(#\s?)?([a-z]{1,3})(\d{6,15})(?![a-z0-9@]|\.\d)")
_DIGITS = re.compile(r"(?<![\d.+\-a-z@])#?(\d{8,20})(?![\d@]|\.\d)")
_MOBILE = re.compile(r"1[3-9]\d{9}")

_PHONE_MOBILE = re.compile(
    r"(?<![\d#a-z])(?:(?:\+|00)?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?![\d])"
)
_PHONE_LANDLINE = re.compile(r"(?<![\d#a-z])(0\d{2,3})[\s-]?(\d{7,8})(?![\d])")
_PHONE_LOCAL = re.compile(
    r"(?:电话|座机|联系电话|固话|tel|phone)\s*(?:号码)?\s*(?:是|为|:)?\s*([2-8]\d{6,7})(?!\d)"
)
_PHONE_CUE = re.compile(r"(?:电话|座机|手机|联系方式|号码|phone|tel|call|number|fax)\D{0,6}$")
_PHONE_HOTLINE = re.compile(r"(?<![\d#a-z-])([48]00)[\s-]?(\d{3})[\s-]?(\d{4})(?![\d-])")
_PHONE_US = re.compile(
    r"(?<![\d#a-z])(?:\+?1[\s.-]?)?\((\d{3})\)\s?(\d{3})[\s.-](\d{4})(?!\d)"
    r"|(?<![\d#a-z-])(?:\+?1[\s.-])?(\d{3})-(\d{3})-(\d{4})(?![\d-])"
)
_EMAIL = re.compile(
    r"(?<![a-z0-9._%+-])[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}"
)
_CARD = re.compile(
    r"(?:尾号|后四位|后4位|末四位|末4位|最后四位|最后4位)\s*(?:是|为|:)?\s*(\d{4})(?!\d)"
    r"|(?:ending|ends|ending|end)\s+(?:in|with)\s*:?\s*(\d{4})(?!\d)"
    r"|last\s+(?:four|4)(?:\s+digits?)?(?:\s+(?:are|is|of\s+(?:the|my)\s+card\s+(?:are|is)))?"
    r"\s*:?\s*(\d{4})(?!\d)"
    r"|\bending\s*:?\s*(\d{4})(?!\d)"
)
_NOT_CARD = re.compile(r"(?:手机|电话|手机号|号码|phone|mobile)\s*(?:号)?\s*$")
_ZIP = re.compile(
    r"(?:邮编|邮政编码|邮码)\s*(?:是|为|:)?\s*(\d{6})(?!\d)"
    r"|\b(?:zip|zipcode|zip code|postal code|postcode|post code)\s*(?:is|:|#)?\s*"
    r"(\d{6}|\d{5})(?:-\d{4})?(?!\d)"
)


def find_codes(lower: str) -> Iterator[tuple[int, int, str, str]]:
    """Order ids and tracking numbers: (start, end, type, value)."""
    for m in _CODE.finditer(lower):
        letters, digits = m.group(2).upper(), m.group(3)
        before = lower[max(0, m.start() - 16) : m.start()]
        order_shaped = len(letters) <= 2 and len(digits) <= 10
        courier = letters in COURIER_PREFIXES and len(digits) >= 9
        if order_shaped and not courier:
            # An order-shaped id is an order id unless it is introduced as the tracking number.
            tracking = not m.group(1) and bool(_EXPLICIT_TRACKING_CUE.search(before))
        else:
            tracking = courier or bool(_TRACKING_CUE.search(before))
        if tracking:
            yield m.start(), m.end(), "tracking_number", letters + digits
        elif order_shaped:
            yield m.start(), m.end(), "order_id", "#" + letters + digits
    for m in _DIGITS.finditer(lower):
        digits = m.group(1)
        before = lower[max(0, m.start() - 16) : m.start()]
        tracking_cue = _TRACKING_CUE.search(before)
        order_cue = _ORDER_CUE.search(before)
        if tracking_cue and len(digits) >= 10 and not (order_cue and "订单" in order_cue.group()):
            if _MOBILE.fullmatch(digits) and "单" not in tracking_cue.group():
                continue
            yield m.start(), m.end(), "tracking_number", digits
        elif order_cue and not _MOBILE.fullmatch(digits):
            yield m.start(), m.end(), "order_id", "#" + digits


def find_phones(lower: str) -> Iterator[Match]:
    for m in _PHONE_MOBILE.finditer(lower):
        yield m.start(), m.end(), m.group(1) + m.group(2) + m.group(3)
    for m in _PHONE_LANDLINE.finditer(lower):
        sep = lower[m.end(1) : m.start(2)]
        cue = _PHONE_CUE.search(lower[max(0, m.start() - 12) : m.start()])
        if not sep and not cue:
            continue
        yield m.start(), m.end(), m.group(1) + "-" + m.group(2)
    for m in _PHONE_LOCAL.finditer(lower):
        yield m.start(1), m.end(1), m.group(1)
    for m in _PHONE_HOTLINE.finditer(lower):
        yield m.start(), m.end(), f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
    for m in _PHONE_US.finditer(lower):
        groups = [g for g in m.groups() if g]
        if groups[0] in ("400", "800") and not m.group().startswith(("+", "1", "(")):
            continue  # a mainland 400/800 hotline, read above
        yield m.start(), m.end(), "+1" + "".join(groups)


def find_emails(lower: str) -> Iterator[Match]:
    for m in _EMAIL.finditer(lower):
        yield m.start(), m.end(), m.group()


def find_card_last4(lower: str) -> Iterator[Match]:
    for m in _CARD.finditer(lower):
        if _NOT_CARD.search(lower[max(0, m.start() - 8) : m.start()]):
            continue
        group = next(i for i in range(1, 5) if m.group(i))
        yield m.start(group), m.end(group), m.group(group)


_BARE_ZIP = re.compile(r"(?<![\d#\w-])(\d{5}|\d{6})(?![\d\w-])")


def find_bare_zips(lower: str) -> Iterator[Match]:
    """A five- or six-digit number standing alone, read as a zip code when the customer was
    just asked to identify themselves ("Isabella Brown, 80257")."""
    for m in _BARE_ZIP.finditer(lower):
        yield m.start(1), m.end(1), m.group(1)


def find_zips(lower: str) -> Iterator[Match]:
    for m in _ZIP.finditer(lower):
        group = 1 if m.group(1) else 2
        # ZIP+4 keeps the five-digit zip as the value but covers the whole code.
        yield m.start(group), m.end(), m.group(group)
