"""What kind of answer a question asks for, and which kinds a passage can give.

"充电宝多少钱" asks for an amount of money; a passage about power banks that names no price
cannot answer it however close it is in topic. :func:`asked_type` recognises questions asking
for money ("多少钱", "how much does … cost") or a time span or moment ("多久", "几天",
"how long", "what time"); :func:`answer_kinds` the kinds a passage holds (a sum in 元/yuan, a
number of days, hours, working days…). The ``answer_type`` signal of
:mod:`kefu.knowledge.doc_index` compares the two.
"""

from __future__ import annotations

import re

MONEY = "money"
TIME = "time"

_ASKS_MONEY = re.compile(
    r"多少钱|几块钱|几元|多少元|价格是|价钱|什么价|收费多少|费用多少|运费多少|补多少|赔多少"
    r"|how much (?:is|are|does|do|will|would)\b(?! it take)|\bcosts?\b|\bprice of\b"
    r"|\bhow much money\b"
)
_ASKS_TIME = re.compile(
    r"多久|多长时间|几天|多少天|几个工作日|几小时|多少小时|什么时候|何时|几点|哪天|几号"
    r"|\bhow long\b|\bhow many (?:days|hours|weeks)\b|\bwhat time\b"
    r"|\bwhen (?:will|do|does|is|can)\b"
)
_HAS_MONEY = re.compile(r"\d+(?:\.\d+)?\s*(?:元|块|yuan|rmb)|[¥￥]\s*\d")
_HAS_TIME = re.compile(
    r"\d+\s*(?:个)?(?:天|日|小时|个工作日|工作日|个月|月|年|周|分钟|秒|点)"
    r"|\d+\s*(?:days?|hours?|working days|weeks?|months?|years?|pm|am)\b"
    r"|次日|当天|即时|一年|一周|每周|每月|next day|same day|one-year|one year|first year"
    r"|[一二三四五六七八九十两]+\s*(?:天|个工作日|小时|个月|年)"
    r"|\b(?:one|two|three|four|five|six|seven|ten|fifteen|thirty)\s+(?:days?|hours?|weeks?|months?)\b"
)


def asked_type(question: str) -> str | None:
    """``MONEY``, ``TIME`` or None for a normalised question."""
    if _ASKS_MONEY.search(question):
        return MONEY
    if _ASKS_TIME.search(question):
        return TIME
    return None


def answer_kinds(text: str) -> frozenset[str]:
    """The kinds of answer a normalised passage holds."""
    kinds = set()
    if _HAS_MONEY.search(text):
        kinds.add(MONEY)
    if _HAS_TIME.search(text):
        kinds.add(TIME)
    return frozenset(kinds)
