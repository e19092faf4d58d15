"""What kind of answer a question asks for, and which kinds a passage can give.

"充电宝多少钱" asks for an amount of money; a passage about power banks that names no price
cannot answer it however close it is in topic. :func:`asked_type` recognises questions asking
for money ("多少钱", "how much does … cost") or a time span or moment ("多久", "几天",
"how long", "what time"); :func:`answer_kinds` the kinds a passage holds (a sum in 元/yuan, a
number of days, hours, working days…). The ``answer_type`` signal of
:mod:`kefu.knowledge.doc_index` compares the two.

:func:`asked_kinds` adds the details customers ask for that a same-topic passage often lacks:
which payment methods are accepted ("支持微信支付吗", "do you accept Apple Pay"), an invoice,
opening or service hours ("客服几点下班") and a phone number. A question asking for a kind the
candidate passage does not hold is a strong sign that the passage is about the topic but does
not answer the question (the ``missing_detail`` calibration feature of
:mod:`kefu.knowledge.doc_answer`).
"""

from __future__ import annotations

import re

MONEY = "money"
TIME = "time"
PAYMENT = "payment"  # which payment methods are accepted
INVOICE = "invoice"
CLOCK = "clock"  # opening or service hours, a time of day
PHONE = "phone"  # a phone number to call

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
# Details asked for (question side) and held (passage side). A question about a refund to the
# card it was paid with asks about the refund, not about payment methods.
_ASKS_DETAIL = {
    PAYMENT: re.compile(
        r"^(?!.*(?:退款|退到|退回|refund)).*(?:"
        r"(?:支持|能|可以|可不可以|能不能).{0,8}(?:支付|付款|付钱)|分期|信用卡付|(?:支付|付款)方式"
        r"|\bpay (?:with|by|half|later|using)\b|\baccept\b.*\bpay|payment methods?"
        r"|\binstal(?:l)?ments?\b)"
    ),
    INVOICE: re.compile(r"发票|invoice|receipt|fapiao"),
    CLOCK: re.compile(
        r"几点|营业时间|上班|下班|开门|关门|\bopening hours\b"
        r"|\b(?:service|business|office|working) hours\b"
        r"|\bwhat time (?:do|does|is)\b.*\b(?:open|close)"
    ),
    PHONE: re.compile(
        r"电话号码|客服电话|联系电话|热线|phone number|hotline|\bcall you\b|telephone"
    ),
}
_HAS_DETAIL = {
    PAYMENT: re.compile(
        r"支付方式|付款方式|payment methods?|\bwe accept\b"
        r"|可以使用.{0,8}(?:支付|付款)|支持.{0,8}(?:支付|付款)"
    ),
    INVOICE: re.compile(r"发票|invoice"),
    CLOCK: re.compile(r"\d{1,2}\s*点|\d{1,2}[:：]\d{2}|\d\s*(?:am|pm)\b|营业时间|opening hours"),
    PHONE: re.compile(r"\d{3,4}-?\d{7,8}|400-?\d|客服电话|热线|hotline|phone number"),
}


# "退货退多少钱": the amount refunded follows a rule (what was paid, less …), not a price.
_ABOUT_REFUND = re.compile(r"退|refund")


def asked_type(question: str) -> str | None:
    """``MONEY``, ``TIME`` or None for a normalised question."""
    if _ASKS_MONEY.search(question):
        return MONEY
    if _ASKS_TIME.search(question):
        return TIME
    return None


def asked_kinds(question: str) -> frozenset[str]:
    """Every kind of detail a normalised question asks for: :func:`asked_type` (but not the
    amount of a refund) and the payment method, invoice, opening hours or phone number."""
    kinds = {k for k, pattern in _ASKS_DETAIL.items() if pattern.search(question)}
    asked = asked_type(question)
    if asked is not None and not (asked == MONEY and _ABOUT_REFUND.search(question)):
        kinds.add(asked)
    return frozenset(kinds)


def answer_kinds(text: str) -> frozenset[str]:
    """The kinds of answer a normalised passage holds."""
    kinds = {k for k, pattern in _HAS_DETAIL.items() if pattern.search(text)}
    if _HAS_MONEY.search(text):
        kinds.add(MONEY)
    if _HAS_TIME.search(text):
        kinds.add(TIME)
    return frozenset(kinds)
