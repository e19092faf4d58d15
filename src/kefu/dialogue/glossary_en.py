"""English renderings of the shop vocabulary a Chinese catalogue and carrier feed contain.

An English reply about a Chinese shop would otherwise quote 顺丰速运, 黑色 / XXL or
快件已到达【杭州转运中心】 verbatim. :func:`to_english` translates what it knows -- carriers,
option values (colours, sizes, materials, editions), Chinese place names and the standard
tracking-event sentences -- and leaves anything else as it is: a value the glossary does not know
is still the shop's real value, which the customer can quote back.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from kefu.understanding.catalogue import glossary

CARRIERS: dict[str, str] = {
    "顺丰速运": "SF Express",
    "顺丰": "SF Express",
    "中通快递": "ZTO Express",
    "中通": "ZTO Express",
    "圆通速递": "YTO Express",
    "圆通": "YTO Express",
    "韵达快递": "Yunda Express",
    "韵达": "Yunda Express",
    "申通快递": "STO Express",
    "申通": "STO Express",
    "极兔速递": "J&T Express",
    "京东物流": "JD Logistics",
    "邮政EMS": "China Post EMS",
    "中国邮政": "China Post",
    "德邦快递": "Deppon Express",
    "菜鸟": "Cainiao",
}

# Option values where the display name must be more precise than the catalogue glossary's
# matching concept (雾粉 is "misty pink" to a reader, "pink" to the matcher) or the glossary has
# none; every other value falls back to the catalogue glossary (黑色 -> black).
OPTION_VALUES: dict[str, str] = {
    "橙色": "orange",
    "彩色": "multicolour",
    "混色": "mixed colours",
    "灰蓝": "grey blue",
    "碎花蓝": "blue floral",
    "碎花黄": "yellow floral",
    "奶白": "cream",
    "雾蓝": "misty blue",
    "雾粉": "misty pink",
    "雾绿": "misty green",
    "黑白": "black and white",
    "白黑": "white and black",
    "黑白灰": "black, white and grey",
    "白绿": "white and green",
    "纯白": "pure white",
    "全黑": "all black",
    "墨黑": "ink black",
    "哑光黑": "matte black",
    "月白": "moon white",
    "豆绿": "pea green",
    "藕粉": "lotus pink",
    "樱粉": "sakura pink",
    "原木色": "natural wood",
    "茶色": "tea brown",
    "格纹": "check",
    "小熊黄": "bear yellow",
    "恐龙绿": "dinosaur green",
    "兔子粉": "bunny pink",
    "黑框": "black frame",
    "玳瑁框": "tortoiseshell frame",
    "透明": "clear",
    "均码": "one size",
    "标准版": "standard edition",
    "NFC版": "NFC edition",
    "蓝牙": "Bluetooth",
    "蓝牙+2.4G": "Bluetooth + 2.4G",
    "单人套装": "single set",
    "双人套装": "double set",
    "充电款": "rechargeable",
    "红轴": "red switches",
    "茶轴": "brown switches",
    "青轴": "blue switches",
    "低枕": "low pillow",
    "中枕": "medium pillow",
    "高枕": "high pillow",
    "波浪型": "contoured",
    "平面型": "flat",
    "白茶": "white tea",
    "无花果": "fig",
    "雪松": "cedar",
    "橙花": "neroli",
}

_UNIT_PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"^([\d.]+)米床$"), lambda m: f"{m[1]} m bed"),
    (re.compile(r"^([\d.]+)米$"), lambda m: f"{m[1]} m"),
    (re.compile(r"^([\d.]+)寸$"), lambda m: f'{m[1]}"'),
    (re.compile(r"^(\d+)键$"), lambda m: f"{m[1]} keys"),
    (re.compile(r"^(\d+)%羊毛$"), lambda m: f"{m[1]}% wool"),
)

_PROVINCES: dict[str, str] = {
    "北京": "Beijing",
    "天津": "Tianjin",
    "上海": "Shanghai",
    "重庆": "Chongqing",
    "河北": "Hebei",
    "山西": "Shanxi",
    "辽宁": "Liaoning",
    "吉林": "Jilin",
    "黑龙江": "Heilongjiang",
    "江苏": "Jiangsu",
    "浙江": "Zhejiang",
    "安徽": "Anhui",
    "福建": "Fujian",
    "江西": "Jiangxi",
    "山东": "Shandong",
    "河南": "Henan",
    "湖北": "Hubei",
    "湖南": "Hunan",
    "广东": "Guangdong",
    "海南": "Hainan",
    "四川": "Sichuan",
    "贵州": "Guizhou",
    "云南": "Yunnan",
    "陕西": "Shaanxi",
    "甘肃": "Gansu",
    "青海": "Qinghai",
    "内蒙古": "Inner Mongolia",
    "广西": "Guangxi",
    "西藏": "Tibet",
    "宁夏": "Ningxia",
    "新疆": "Xinjiang",
    "香港": "Hong Kong",
    "澳门": "Macao",
    "台湾": "Taiwan",
}
_PLACES: dict[str, str] = {
    **_PROVINCES,
    "杭州": "Hangzhou",
    "广州": "Guangzhou",
    "深圳": "Shenzhen",
    "东莞": "Dongguan",
    "苏州": "Suzhou",
    "南京": "Nanjing",
    "宁波": "Ningbo",
    "合肥": "Hefei",
    "厦门": "Xiamen",
    "福州": "Fuzhou",
    "成都": "Chengdu",
    "武汉": "Wuhan",
    "长沙": "Changsha",
    "郑州": "Zhengzhou",
    "西安": "Xi'an",
    "沈阳": "Shenyang",
    "大连": "Dalian",
    "青岛": "Qingdao",
    "济南": "Jinan",
    "昆明": "Kunming",
    "南宁": "Nanning",
    "贵阳": "Guiyang",
    "哈尔滨": "Harbin",
    "长春": "Changchun",
    "石家庄": "Shijiazhuang",
    "太原": "Taiyuan",
    "南昌": "Nanchang",
    "兰州": "Lanzhou",
    "乌鲁木齐": "Urumqi",
    "无锡": "Wuxi",
    "佛山": "Foshan",
    "温州": "Wenzhou",
    "余杭": "Yuhang",
    "白云": "Baiyun",
    "姑苏": "Gusu",
    "南山": "Nanshan",
    "武侯": "Wuhou",
    "金水": "Jinshui",
    "南城": "Nancheng",
    "海淀": "Haidian",
    "朝阳": "Chaoyang",
    "洪山": "Hongshan",
    "思明": "Siming",
    "浦东新": "Pudong New",
    "浦东": "Pudong",
    "徐汇": "Xuhui",
    "天河": "Tianhe",
    "南开": "Nankai",
    "蜀山": "Shushan",
    "市南": "Shinan",
    "和平": "Heping",
    "鄞州": "Yinzhou",
    "渝中": "Yuzhong",
    "雁塔": "Yanta",
    "岳麓": "Yuelu",
    "鼓楼": "Gulou",
    "天山": "Tianshan",
}
_PLACE_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("维吾尔自治区", ""),
    ("壮族自治区", ""),
    ("回族自治区", ""),
    ("自治区", ""),
    ("特别行政区", ""),
    ("省", ""),
    ("市", ""),
    ("区", " District"),
    ("县", " County"),
    ("街道", " Subdistrict"),
)
_HANDOVER: dict[str, str] = {
    "菜鸟驿站": "Cainiao station",
    "家门口": "at the door",
    "丰巢快递柜": "Hive Box locker",
    "公司前台": "company reception",
    "小区门卫": "estate gatehouse",
    "本人签收": "signed by the recipient",
    "代收点": "pickup point",
}
_FACILITIES = (("转运中心", "transit centre"), ("营业部", "depot"), ("仓", "warehouse"))
_PLACE_RE = "|".join(sorted(map(re.escape, _PLACES), key=len, reverse=True))
_CARRIER_RE = "|".join(sorted(map(re.escape, CARRIERS), key=len, reverse=True))
_SUFFIX_RE = "|".join(re.escape(s) for s, _ in _PLACE_SUFFIXES)
_PLACE_PART = re.compile(rf"({_PLACE_RE})({_SUFFIX_RE})?")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def place(text: str) -> str:
    """浙江省杭州市余杭区 -> "Yuhang District, Hangzhou, Zhejiang"; text with an unknown
    place name is returned unchanged."""
    parts: list[str] = []
    pos = 0
    suffixes = dict(_PLACE_SUFFIXES)
    while pos < len(text):
        m = _PLACE_PART.match(text, pos)
        if m is None:
            return text
        parts.append(_PLACES[m[1]] + suffixes.get(m[2] or "", ""))
        pos = m.end()
    # 北京市 / 北京市海淀区: a municipality is both province and city, said once
    unique = [p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1]]
    return ", ".join(reversed(unique)) if unique else text


def _facility(name: str) -> str:
    """杭州转运中心 -> "Hangzhou transit centre"; 杭州余杭仓 -> "Hangzhou Yuhang warehouse";
    天津南开区营业部 -> "Tianjin Nankai District depot"."""
    for suffix, english in _FACILITIES:
        if name.endswith(suffix):
            head = name[: -len(suffix)]
            parts = list(_PLACE_PART.finditer(head))
            if parts and "".join(m[0] for m in parts) == head:
                words = [_PLACES[m[1]] + (" District" if m[2] == "区" else "") for m in parts]
                return " ".join(words) + " " + english
    return name


_EVENTS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"^快件已到达【(?P<at>[^】]+)】$"),
        lambda m: f"Arrived at {_facility(m['at'])}",
    ),
    (
        re.compile(r"^快件已从【(?P<a>[^】]+)】发出，下一站【(?P<b>[^】]+)】$"),
        lambda m: f"Left {_facility(m['a'])}, next stop {_facility(m['b'])}",
    ),
    (
        re.compile(rf"^【(?P<at>[^】]+)】\s*(?P<carrier>{_CARRIER_RE})\s*(?P<site>\S+)\s*已揽收$"),
        lambda m: f"Picked up by {CARRIERS[m['carrier']]} at {_facility(m['site'])}",
    ),
    (
        re.compile(r"^【(?P<at>[^】]+)】快递员(?P<who>\S+?)（(?P<phone>[^）]+)）正在为您派送.*$"),
        lambda m: f"Out for delivery from {_facility(m['at'])}: courier {m['who']} ({m['phone']})",
    ),
    (
        re.compile(r"^您的快件已签收，签收方式：(?P<how>[^。]+)。.*$"),
        lambda m: f"Delivered: {_HANDOVER.get(m['how'], m['how'])}",
    ),
)

_STATUSES: dict[str, str] = {
    "已揽收": "picked up",
    "运输中": "in transit",
    "派送中": "out for delivery",
    "已签收": "delivered",
    "已退回": "returned",
    "疑难件": "problem parcel",
}


@functools.cache
def _catalogue_values() -> dict[str, str]:
    """Chinese option value -> its English concept in the catalogue glossary."""
    out: dict[str, str] = {}
    for concept, langs in glossary()["values"].items():
        for zh in langs.get("zh", []):
            out.setdefault(zh, concept)
    return out


def option_value(value: str) -> str:
    """One option value: 黑色 -> black, 24寸 -> 24", XXL -> XXL."""
    if value in OPTION_VALUES:
        return OPTION_VALUES[value]
    for pattern, render in _UNIT_PATTERNS:
        m = pattern.match(value)
        if m:
            return render(m)
    return _catalogue_values().get(value, value)


def to_english(text: str) -> str:
    """The English rendering of one shop value (a carrier, an option value, a place, a tracking
    event or status); anything not recognised is returned unchanged."""
    value = text.strip()
    if not value or not _CJK.search(value):
        return text
    if value in CARRIERS:
        return CARRIERS[value]
    if value in _STATUSES:
        return _STATUSES[value]
    for pattern, render in _EVENTS:
        m = pattern.match(value)
        if m:
            return render(m)
    translated = option_value(value)
    if translated != value:
        return translated
    return place(value)
