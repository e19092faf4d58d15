"""Person names (zh and en) and English street addresses.

Chinese names are taken after a cue (我叫, 名字是, 收件人, 联系人, 我是 ...), or with no cue as
the first clause of a message whose next clause is another identity detail (杨梓涵，邮编410006),
and must start with a known surname; English names after "my name is", "I'm", "this is" ...
and, unless the cue is explicit ("my name is", "name:"), must be capitalised.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kefu.understanding.entities_numbers import Match
from kefu.understanding.entities_text import word_freq

# The common single-character surnames (百家姓, covering well over 95% of people) and compounds.
SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞"
    "左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕"
    "屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧"
    "闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥"
    "南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支"
    "卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印"
    "逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)
# The hundred most common, enough after a weak cue such as 我是 (我是路痴 is not a name).
COMMON_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 端木 西门 南宫 "
    "独孤 百里 呼延 澹台 公冶 申屠 太史 钟离 闻人 万俟 司空".split()
)
_ZH_NAME_CUE = re.compile(
    r"(?:我叫|我的名字是|我的名字叫|名字是|名字叫|名字:|名字|姓名是|姓名:|姓名|本人|"
    r"(?:收件人|收货人|联系人|签收人|寄件人|收件人姓名|收货人姓名)"
    r"(?:姓名)?(?:是|叫|为|改成|改为|换成|写成|写|:)?)\s*"
)
_ZH_WEAK_CUE = re.compile(r"(?:我是|我姓名是)\s*")
_NAME_STOP = set("电话手机地址的吧呢啊呀了吗哈嘛哦噢，,。.！!？?;；:和跟及或在是要")
_ZH_BOUNDARY = re.compile(r"$|[\s，,。.！!？?;；:、)）]|电话|手机|地址|邮编|之前|，")


def _zh_name_at(text: str, pos: int, weak: bool) -> tuple[int, str] | None:
    """A Chinese name starting at ``pos``: surname + one or two characters."""
    surname_len = 2 if text[pos : pos + 2] in COMPOUND_SURNAMES else 1
    if surname_len == 1 and text[pos : pos + 1] not in (COMMON_SURNAMES if weak else SURNAMES):
        return None
    end = pos + surname_len
    for _ in range(2):
        if end < len(text) and "\u4e00" <= text[end] <= "\u9fff" and text[end] not in _NAME_STOP:
            end += 1
        else:
            break
    if end - pos == surname_len:
        return None
    if weak and not _ZH_BOUNDARY.match(text, end):
        return None
    return end, text[pos:end]


# A name with no cue word: the whole message, or its first clause when the next one gives
# another identity detail ("杨梓涵，邮编410006", "王芳 13700001111").
_ZH_BARE_NAME = re.compile(r"\s*([\u4e00-\u9fff]{2,4})(?=[,、;/|\s.。!?~]|$)")
_IDENTITY_AFTER = re.compile(
    r"[,、;/|\s。]\s*(?:我的|的)?(?:邮编|邮政编码|电话|手机|手机号|联系电话|联系方式|座机|邮箱|"
    r"电子邮箱|e-?mail|邮件|tel|phone|mobile|zip|"
    r"(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)|"  # a mobile number
    r"[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+\.|"  # an e-mail address
    r"\d{6}(?!\d))",  # a postcode
    re.IGNORECASE,
)
# A dictionary word this frequent (jieba's counts) is a word, not a name: 黄色 2115, 方便 3718,
# 王牌 194, 金额 1292, 高档 705; most names are not in the dictionary at all (张伟, 杨梓涵).
_WORD_FREQ_LIMIT = 20
# Characters that end words, hardly ever given names (常用, 金额, 黄色, 高档, 王牌 ...).
_NOT_GIVEN = set(
    "色牌档用便额码号款式样种类件个双只条些么样的了吗呢吧啊哦嗯好行对是不没有在要买卖退换"
    "货单钱价费包邮快递到发收寄送查看问说想能会可以得过来去上下里外前后中内边"
)


def _is_bare_zh_name(word: str) -> bool:
    """A 2-4 character Chinese name said without a cue: surname + given name, not a word."""
    if word[:2] in COMPOUND_SURNAMES:
        if not 3 <= len(word) <= 4:
            return False
    elif word[0] not in SURNAMES or not 2 <= len(word) <= 3:
        return False
    if any(c in _NOT_GIVEN for c in word[1:]):
        return False
    return int(word_freq().get(word, 0) or 0) < _WORD_FREQ_LIMIT


def _bare_zh_name(text: str, identity: bool) -> Match | None:
    m = _ZH_BARE_NAME.match(text)
    if not m or not _is_bare_zh_name(m.group(1)):
        return None
    rest = text[m.end(1) :]
    whole = not re.sub(r"[\s,.!?。~]", "", rest)
    if _IDENTITY_AFTER.match(rest) or (identity and (whole or rest.lstrip()[:1] in ",、;")):
        return m.start(1), m.end(1), m.group(1)
    return None


_EN_STRONG_CUE = re.compile(
    r"\b(?:my name is|my name's|my full name is|name is|name:|the name is|named|"
    r"under the name(?: of)?|recipient is|recipient:)\s+",
    re.IGNORECASE,
)
_EN_WEAK_CUE = re.compile(r"\b(?:i'm|i’m|i am|im|this is|it's|it is)\s+", re.IGNORECASE)
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_EN_NOT_NAME = frozenset(
    """a an the and but or so not no very really just still also here there this that it
    i me my you your we our they he she his her is am are was be been being have has had do
    does did will would can could should may might must sorry happy glad sure fine good ok okay
    afraid calling writing trying looking wondering waiting going asking contacting reaching
    upset angry disappointed confused interested new back done ready from with about for
    to in on at of by order email phone number please thanks thank hi hello hey customer
    user buyer member returning regarding re yes yeah""".split()
)


_EN_BARE_NAME = re.compile(r"^\s*([A-Z][a-z'-]+(?: [A-Z][a-z'-]+){1,2})\s*(?:$|[,;]|\band\b|\d)")


def _bare_en_name(text: str) -> Match | None:
    """ "Isabella Brown, 80257": two or three capitalised words opening the message, when the
    customer was just asked who they are."""
    m = _EN_BARE_NAME.match(text)
    words = [w.lower().replace("’", "'") for w in m.group(1).split()] if m else []
    if not m or any(w in _EN_NOT_NAME or "'" in w for w in words):
        return None
    return m.start(1), m.end(1), m.group(1)


def find_person_names(text: str, hint: str | None = None) -> Iterator[Match]:
    """Names after a cue word; a bare leading Chinese name before another identity detail;
    with ``hint="identity"`` (the customer was just asked who they are) also a bare Chinese
    name that is the whole message or its first clause."""
    if bare := _bare_zh_name(text, hint == "identity"):
        yield bare
    if hint == "identity" and (en := _bare_en_name(text)):
        yield en
    for cue, weak in ((_ZH_NAME_CUE, False), (_ZH_WEAK_CUE, True)):
        for m in cue.finditer(text):
            found = _zh_name_at(text, m.end(), weak)
            if found:
                yield m.end(), found[0], found[1]
    for cue, weak in ((_EN_STRONG_CUE, False), (_EN_WEAK_CUE, True)):
        for m in cue.finditer(text):
            words: list[re.Match[str]] = []
            pos = m.end()
            while len(words) < 3:
                w = _EN_WORD.match(text, pos)
                if not w or w.group().lower() in _EN_NOT_NAME:
                    break
                if weak and not w.group()[0].isupper():
                    break
                words.append(w)
                nxt = re.match(r" (?=[A-Za-z])", text[w.end() :])
                if not nxt:
                    break
                pos = w.end() + 1
            if weak and len(words) < 2:
                continue
            if not words:
                continue
            name = " ".join(w.group()[0].upper() + w.group()[1:].lower() for w in words)
            yield words[0].start(), words[-1].end(), name


@dataclass(frozen=True, slots=True)
class StreetAddress:
    """An English (US style) street address, in the field names of tau-bench."""

    address1: str
    address2: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "address1": self.address1,
            "address2": self.address2,
            "city": self.city,
            "state": self.state,
            "zip": self.zip,
            "country": self.country,
        }


US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
    "NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR".split()
)
_STREET_SUFFIX = (
    "street|st|avenue|ave|road|rd|drive|dr|lane|ln|boulevard|blvd|court|ct|way|place|pl|"
    "terrace|ter|circle|cir|parkway|pkwy|highway|hwy|square|sq|trail|trl|loop|alley|plaza|"
    "crescent|close|row|walk"
)
_STREET = re.compile(
    r"(?<![\w#-])(\d{1,6})\s+((?:[A-Za-z][A-Za-z.'-]*\s+){0,3}?[A-Za-z][A-Za-z.'-]*\s+"
    rf"(?:{_STREET_SUFFIX}))\b\.?",
    re.IGNORECASE,
)
_UNIT = re.compile(
    r",?\s*((?:suite|ste|apt|apartment|unit|room|rm|floor|fl|#)\.?\s*#?\s*[A-Za-z0-9-]+)\b",
    re.IGNORECASE,
)
_CITY_STATE = re.compile(
    r",?\s*([A-Za-z][A-Za-z.' -]{1,30}?),\s*([A-Za-z]{2})\b(?:,?\s+(\d{5})(?:-\d{4})?)?",
)
_STATE_ZIP = re.compile(r",?\s*([A-Za-z]{2})\s+(\d{5})(?:-\d{4})?\b")
_COUNTRY = re.compile(r",?\s*(usa|u\.s\.a\.?|us|united states(?: of america)?)\b", re.IGNORECASE)
_ADDRESS_CUE = re.compile(
    r"(?:address|ship|send|deliver|live|living|located|move|moved|moving|to)\b[^.!?]{0,20}$",
    re.IGNORECASE,
)
_STREET_STOP = frozenset(
    "the a an on in at of for to my this that it and or but is are was with from by".split()
)


def _title(words: str) -> str:
    return " ".join(
        w[:1].upper() + w[1:].lower() if not w.isupper() or len(w) > 3 else w for w in words.split()
    )


def find_street_addresses(text: str) -> Iterator[Match]:
    for m in _STREET.finditer(text):
        name_words = m.group(2).split()
        if any(w.lower() in _STREET_STOP for w in name_words[:-1]):
            continue
        capitalised = all(w[0].isupper() for w in name_words)
        cued = bool(_ADDRESS_CUE.search(text[max(0, m.start() - 30) : m.start()]))
        end = m.end()
        unit = city = state = zipcode = country = None
        if u := _UNIT.match(text, end):
            unit, end = u.group(1), u.end()
        if cs := _CITY_STATE.match(text, end):
            if (
                cs.group(2).upper() in US_STATES
                and cs.group(1).split()[0].lower() not in _STREET_STOP
            ):
                city, state, zipcode, end = cs.group(1), cs.group(2).upper(), cs.group(3), cs.end()
        elif (sz := _STATE_ZIP.match(text, end)) and sz.group(1).upper() in US_STATES:
            state, zipcode, end = sz.group(1).upper(), sz.group(2), sz.end()
        if (state or zipcode) and (c := _COUNTRY.match(text, end)):
            country, end = "USA", c.end()
        if not (capitalised or cued or state):
            continue
        street = m.group(1) + " " + _title(m.group(2).rstrip("."))
        if unit:
            parts = unit.replace("#", " # ").split()
            unit = " ".join(
                p[:1].upper() + p[1:].lower() if p.isalpha() else p.upper() for p in parts
            )
            unit = unit.replace(" # ", " #").replace("# ", "#")
        value = StreetAddress(street, unit, _title(city) if city else None, state, zipcode, country)
        yield m.start(), end, value
