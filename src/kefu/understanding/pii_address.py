"""Street addresses as PII: the street-level part of Chinese and English addresses.

Only the part that points at a door is masked. "浙江省杭州市西湖区文三路478号5楼" becomes
"浙江省杭州市西湖区[ADDRESS_1]": province, city and district stay readable because the model
needs them for shipping questions and they identify no one. A region alone ("能发到新疆吗") is
never masked.

Chinese addresses come from :mod:`kefu.understanding.address_zh`; a street with a house number
and no region ("中山路100号3栋") and a residential compound with a building ("阳光花园3栋2单元
501") are read here. English addresses need a house number, a street name and a street type
("221B Baker Street", "1600 Pennsylvania Ave NW, Apt 2"), or a PO box.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from kefu.understanding.address_zh import Address, find_zh_addresses
from kefu.understanding.pii_detect import Hit

_HAN = r"\u4e00-\u9fff"
_ZH_STREET = re.compile(
    rf"[{_HAN}]{{1,10}}?(?:大道|大街|路|街|巷|弄|胡同)\s?\d+\s?(?:号|弄)"
    rf"(?:[{_HAN}A-Za-z0-9\-#]{{0,16}}?(?:\d+\s?(?:号楼|号|栋|幢|座|单元|层|楼|室)|[A-Za-z]座))*"
    r"(?:(?<=[楼栋幢座元层])\d{1,5}(?:室|号)?)?"
)
_ZH_COMPOUND = re.compile(
    rf"[{_HAN}]{{2,10}}?(?:小区|花园|公寓|新村|家园|苑|大厦|广场|公馆|宿舍)"
    r"\s?(?:\d+\s?(?:号楼|栋|幢|座|单元|层|楼|室|号)|[A-Za-z]座|\d+-\d+(?:-\d+)?)+"
    r"(?:(?<=[楼栋幢座元层])\d{1,5}(?:室|号)?)?"
)
# Words that end the lead-in of a street ("我家住在" + "中山路100号"): the match starts after.
_ZH_LEAD = re.compile(
    r"^.*(?:住在|住|在|到|是|为|寄|发|送|址|:|：|改成|改为|换成|我家|家|的|去|从)"
)

_EN_TYPES = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"terrace|ter|parkway|pkwy|highway|hwy|circle|cir|square|sq|trail|trl|crescent|cres|close|"
    r"row|alley|plaza|loop"
)
_EN_STOP = frozenset(
    "of the a an by and or in on at to for with from my your our his her their this that these "
    "those it them is are was were be been items item pairs pair pcs pieces units more other all "
    "any some days day weeks hours minutes times orders dollars usd yuan rmb".split()
)
_EN_STREET = re.compile(
    r"(?<![0-9a-z#@_\-])(\d{1,6}[a-z]?(?:-\d{1,4})?)\s+"
    r"((?:[a-z][a-z'.\-]*\s+){1,4}?)"
    rf"(?:{_EN_TYPES})\b\.?"
    r"(?:\s+(?:n|s|e|w|ne|nw|se|sw)\b\.?)?"
    r"(?:,?\s*(?:apt|apartment|suite|ste|unit|flat|room|rm|fl|floor|#)\.?\s*#?\s*[0-9a-z\-]+)?"
)
_EN_POBOX = re.compile(r"\bp\.?\s?o\.?\s?box\s+\d+\b")


def find_addresses(folded: str) -> Iterator[Hit]:
    regions: list[tuple[int, int]] = []  # province / city / district parts: never masked
    for start, end, found in find_zh_addresses(folded):
        address: Address = found
        detail = address.detail or ""
        begin = end - len(detail)
        regions.append((start, begin))
        if detail and begin >= start and folded[begin:end].lower() == detail:
            yield Hit(begin, end, "ADDRESS", "zh:" + str(address))
    yield from _zh_streets(folded, regions)
    yield from _en(folded)


def _zh_streets(folded: str, regions: list[tuple[int, int]]) -> Iterator[Hit]:
    for pattern in (_ZH_STREET, _ZH_COMPOUND):
        for m in pattern.finditer(folded):
            start = m.start()
            lead = _ZH_LEAD.match(m.group())
            if lead is not None:
                start += lead.end()
            for r_start, r_end in regions:
                if r_start < m.end() and start < r_end:
                    start = max(start, r_end)
            if m.end() - start < 4:
                continue
            value = re.sub(r"\s+", "", folded[start : m.end()])
            yield Hit(start, m.end(), "ADDRESS", "zh:" + value)


def _en(folded: str) -> Iterator[Hit]:
    for m in _EN_STREET.finditer(folded):
        words = m.group(2).split()
        if any(w.strip(".'-") in _EN_STOP for w in words):
            continue
        value = " ".join(m.group().split())
        yield Hit(m.start(), m.end(), "ADDRESS", "en:" + value)
    for m in _EN_POBOX.finditer(folded):
        yield Hit(m.start(), m.end(), "ADDRESS", "en:" + re.sub(r"[\s.]", "", m.group()))
