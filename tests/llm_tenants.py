"""A small shop FAQ and the tenant settings that point a tenant at the fake LLM server, shared
by the tests that drive real turns with an LLM configured."""

from __future__ import annotations

from typing import Any

from kefu.domain.faq import FaqEntry
from kefu.service import Service

THREE_FAQS = [
    FaqEntry(
        id="ship-001",
        question="多久发货",
        similar_questions=("什么时候发货", "下单后几天发货"),
        answer="付款后48小时内发货。",
        category="shipping",
        language="zh",
    ),
    FaqEntry(
        id="inv-001",
        question="怎么开发票",
        similar_questions=("可以开发票吗", "发票怎么申请"),
        answer="在订单详情页点“申请开票”即可。",
        category="invoice",
        language="zh",
    ),
    FaqEntry(
        id="pay-001",
        question="支持哪些付款方式",
        similar_questions=("能用花呗吗", "可以货到付款吗"),
        answer="支持微信、支付宝和银行卡。",
        category="payment",
        language="zh",
    ),
]


def connect_llm(service: Service, tenant: str, base_url: str, **settings: Any) -> None:
    """Point ``tenant`` at the fake server (model ``qwen-test``, 5 s timeout) plus ``settings``."""
    values: dict[str, Any] = {
        "llm_base_url": base_url,
        "llm_model": "qwen-test",
        "llm_timeout_s": 5.0,
        **settings,
    }
    for name, value in values.items():
        service.tenants.set(tenant, name, value)
