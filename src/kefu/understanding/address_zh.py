"""Chinese postal addresses: province / city / district / detail.

The bundled table ``data/regions_zh.json`` lists every province-level division, every
prefecture-level city (with its short name: 杭州 for 杭州市, 延边 for 延边朝鲜族自治州) and the
districts and counties of the larger cities. A district not in the table is still read when it
follows a city ("xx区", "xx县", "xx市", "xx旗"). Missing levels are filled in upward (杭州 ->
浙江省; a district that belongs to one city only -> that city), never guessed downward.

An address is reported when it has at least two levels, or one level and a street detail, or
one level right after a cue such as 地址 / 寄到 / 发到 / 送到 ("能发到新疆吗").
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

from kefu.understanding.entities_numbers import Match


@dataclass(frozen=True, slots=True)
class Address:
    """A Chinese address; official full names (浙江省, 杭州市, 西湖区), ``None`` when absent."""

    province: str | None = None
    city: str | None = None
    district: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "province": self.province,
            "city": self.city,
            "district": self.district,
            "detail": self.detail,
        }

    def __str__(self) -> str:
        parts = [self.province, None if self.city == self.province else self.city]
        return "".join(p for p in (*parts, self.district, self.detail) if p)


@dataclass(frozen=True, slots=True)
class _Region:
    level: int  # 0 province, 1 city, 2 district
    name: str  # official full name
    province: str
    city: str | None


@dataclass(frozen=True, slots=True)
class _Table:
    surfaces: dict[str, tuple[_Region, ...]]  # surface -> regions it may name
    lengths: tuple[int, ...]
    first_chars: frozenset[str]
    cities_of: dict[str, frozenset[str]]  # province -> its cities
    districts_of: dict[str, frozenset[str]]  # city -> its known districts


_CITY_SUFFIXES = ("自治州", "地区", "盟", "市")


def _short_city(name: str) -> list[str]:
    for suffix in _CITY_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2 and suffix != "自治州":
            return [name[: -len(suffix)]]
    return []


@functools.cache
def region_table() -> _Table:
    raw = json.loads(
        resources.files("kefu.understanding").joinpath("data/regions_zh.json").read_text("utf-8")
    )
    surfaces: dict[str, list[_Region]] = {}
    cities_of: dict[str, set[str]] = {}
    districts_of: dict[str, set[str]] = {}

    def add(surface: str, region: _Region) -> None:
        bucket = surfaces.setdefault(surface, [])
        if region not in bucket:
            bucket.append(region)

    for prov in raw["provinces"]:
        pname = prov["name"]
        pregion = _Region(0, pname, pname, None)
        for s in [pname, *prov["short"]]:
            add(s, pregion)
        for city in prov["cities"]:
            cname = pname if city.get("same_as_province") else city["name"]
            cregion = _Region(1, cname, pname, cname)
            cities_of.setdefault(pname, set()).add(cname)
            if not city.get("same_as_province"):
                for s in {city["name"], *city["short"], *_short_city(city["name"])}:
                    add(s, cregion)
            for d in city["districts"]:
                districts_of.setdefault(cname, set()).add(d)
                dregion = _Region(2, d, pname, cname)
                add(d, dregion)
                # Short forms (沙坪坝, 浦东) are read only right after their city.
                if len(d) >= 4 and d[-1] in "区县" and not d.endswith("新区"):
                    add(d[:-1], dregion)
                if d.endswith("新区") and len(d) >= 4:
                    add(d[:-2], dregion)
    frozen = {k: tuple(v) for k, v in surfaces.items()}
    return _Table(
        surfaces=frozen,
        lengths=tuple(sorted({len(k) for k in frozen}, reverse=True)),
        first_chars=frozenset(k[0] for k in frozen),
        cities_of={k: frozenset(v) for k, v in cities_of.items()},
        districts_of={k: frozenset(v) for k, v in districts_of.items()},
    )


# After a short name, these mean the word is a street or a place, not the region (中山路).
_NOT_REGION_AFTER = re.compile(
    r"[路街道巷弄桥站湖山河江门店大学院校园]|大道|大街|公园|广场|机场|火车|银行|医院|"
    r"号|人|菜|话|口音|发货|仓"
)
_GENERIC_DISTRICT = re.compile(r"([\u4e00-\u9fff]{1,6}?(?:新区|开发区|工业园区|园区|区|县|旗|市))")
_NOT_IN_DISTRICT = re.compile(r"[路街道巷弄号楼室栋村镇乡的了吗呢是在到发寄送给和你我他]")
_CUE = re.compile(
    r"(?:地址|收货地址|收件地址|寄到|寄往|发到|发往|送到|送往|运到|邮到|发货到|配送到|快递到|"
    r"到货地|改到|改成|改为|换成|住在|搬到|位于)\s*(?:是|为|:|改成|改为)?\s*$"
)
# After a lone region, these make it a destination too ("西藏能包邮吗", "新疆运费多少").
_CUE_AFTER = re.compile(
    r"\s*(?:能|可以|可不可以)?(?:包邮|运费|邮费|能到|到货|几天到|多久到|发货吗|发吗|配送)"
)
_DETAIL_STOP = re.compile(
    r"收件人|收货人|联系人|电话|手机|邮编|姓名|谢谢|麻烦|可以|能不能|能否|行不行|好吗|"
    r"的订单|这个|那个|怎么|多久|几天|吗|呢|吧|啊|呀|哦|嘛|哈|请|帮我|我要|我想|可不可以|"
    r"包邮|发货|到货|运费|收到|订单|周边|附近|住宿|和|、|是|的|在"
)
_DETAIL_CHARS = re.compile(r"[\u4e00-\u9fffA-Za-z0-9\-#()（）]+(?:\s?\d[\w\-#]*)*")
_DETAIL_WORDS = re.compile(
    r"[路街巷弄村镇乡栋幢室]|(?<!\d)\d+\s?(?:号|楼|层|单元|座|栋|幢|室|弄|组)|小区|大厦|花园|公寓|广场|"
    r"大学|学院|中心|新村|家园|科技园|工业园|开发区|社区|街道|大道|(?<!\d)\d+-\d+"
)
_MAX_DETAIL = 48  # characters; a street address is shorter, and it bounds the work per start
_HOUSE_NUMBER = re.compile(r"(?<!\d)\d+\s?(?:号|弄|栋|幢|室|单元)|(?<!\d)\d+-\d+")
_DETAIL_BAD_START = re.compile(r"[要几多是不没能会还也都就的了吗呢啊吧在从去到给和跟]")


def _match_at(
    text: str, pos: int, table: _Table, level_min: int, city: str | None = None
) -> list[tuple[int, _Region]]:
    """Regions whose surface starts at ``pos``, longest first, at ``level_min`` or deeper."""
    out: list[tuple[int, _Region]] = []
    if pos >= len(text) or text[pos] not in table.first_chars:
        return out
    for length in table.lengths:
        surface = text[pos : pos + length]
        if len(surface) != length or surface not in table.surfaces:
            continue
        end = pos + length
        for region in table.surfaces[surface]:
            if region.level < level_min:
                continue
            short = surface != region.name
            if short and region.level == 2 and city is None:
                continue
            if short and _NOT_REGION_AFTER.match(text, end):
                continue
            # A short name followed by 区/县/市 is something else's full name (河北区, 朝阳区).
            if short and region.level < 2 and end < len(text) and text[end] in "区县旗":
                continue
            out.append((end, region))
    return out


def _parse(text: str, start: int, table: _Table) -> tuple[int, Address, int] | None:
    """An address starting at ``start``: (end, address, number of levels found)."""
    province = city = district = None
    pos = start
    levels = 0
    # province
    for end, region in _match_at(text, pos, table, 0):
        if region.level == 0:
            province, pos, levels = region.name, end, 1
            if text[pos : pos + 1] == "省":
                pos += 1
            break
    # city
    for end, region in _match_at(text, pos, table, 1):
        if region.level == 1 and (province is None or region.province == province):
            city, pos = region.name, end
            province = region.province
            levels += 1
            break
    if city is None and province is not None:
        cities = table.cities_of.get(province, frozenset())
        if province in cities:  # 北京 / 上海: the province is the city
            city = province
            if text[pos : pos + 1] == "市":
                pos += 1
    # district
    matched_district = False
    for end, region in _match_at(text, pos, table, 2, city):
        if region.level == 2 and (city is None or region.city == city):
            if city is None and province is not None and region.province != province:
                continue
            if city is None:
                same = [r for r in table.surfaces[text[pos:end]] if r.level == 2]
                if len({r.city for r in same}) > 1:
                    continue
            district, pos = region.name, end
            city, province = region.city, region.province
            levels += 1
            matched_district = True
            break
    if not matched_district and city is not None:
        m = _GENERIC_DISTRICT.match(text, pos)
        banner = m is not None and m.group(1).endswith("旗") and province != "内蒙古自治区"
        if m and not banner and not _NOT_IN_DISTRICT.search(m.group(1)[:-1]):
            district, pos = m.group(1), m.end()
            levels += 1
    if levels == 0:
        return None
    # detail
    detail = None
    d = _DETAIL_CHARS.match(text[: pos + _MAX_DETAIL], pos)
    if d:
        raw = d.group()
        stop = _DETAIL_STOP.search(raw)
        if stop:
            raw = raw[: stop.start()]
        raw = raw.rstrip("-#(（")
        strong = bool(_DETAIL_WORDS.search(raw))
        cued = bool(_CUE.search(text[max(0, start - 8) : start]))
        if raw and not _DETAIL_BAD_START.match(raw) and (strong or (cued and len(raw) >= 2)):
            detail = raw
            pos += len(raw)
    return pos, Address(province, city, district, detail.lower() if detail else None), levels


def find_zh_addresses(text: str) -> Iterator[Match]:
    """Chinese addresses in folded (simplified, half-width) text."""
    if not any("\u4e00" <= ch <= "\u9fff" for ch in text):
        return
    table = region_table()
    pos = 0
    while pos < len(text):
        if text[pos] not in table.first_chars:
            pos += 1
            continue
        parsed = _parse(text, pos, table)
        if parsed is None:
            pos += 1
            continue
        end, address, levels = parsed
        cued = bool(_CUE.search(text[max(0, pos - 8) : pos]) or _CUE_AFTER.match(text, end))
        # One level and a detail: only with a house number ("北京京仪大酒店", "北京财满街店"
        # are names that start with a city).
        numbered = bool(address.detail and _HOUSE_NUMBER.search(address.detail))
        if levels >= 2 or (levels == 1 and (numbered or cued)):
            yield pos, end, address
            pos = end
        else:
            pos += 1
