"""A small bilingual knowledge base for engine tests (independent of the demo data)."""

from __future__ import annotations

from datetime import datetime

from kefu.domain.faq import FaqEntry


def small_kb() -> list[FaqEntry]:
    return [
        FaqEntry(
            id="ship-fee",
            question="运费怎么算",
            similar_questions=("邮费多少钱", "包邮吗", "满多少包邮", "快递费谁出"),
            answer="全场满99元包邮，不满99元收取运费8元。",
            category="shipping",
        ),
        FaqEntry(
            id="ship-fee",
            language="en",
            question="How much is shipping?",
            similar_questions=(
                "Is shipping free?",
                "What are the delivery fees?",
                "Do you offer free shipping?",
            ),
            answer="Shipping is free over ¥99; otherwise it costs ¥8.",
            category="shipping",
        ),
        FaqEntry(
            id="ship-time",
            question="多久发货",
            similar_questions=(
                "什么时候发货",
                "下单后几天发出",
                "发货要多长时间",
                "今天下单今天发吗",
            ),
            answer="付款后48小时内发货。",
            category="shipping",
        ),
        FaqEntry(
            id="return-policy",
            question="怎么申请退货",
            similar_questions=(
                "我想退货",
                "退货流程是什么",
                "可以七天无理由退货吗",
                "东西不想要了怎么退",
            ),
            answer="签收后7天内可在订单页申请无理由退货。",
            category="returns",
        ),
        FaqEntry(
            id="return-policy",
            language="en",
            question="How do I return an item?",
            similar_questions=(
                "I want to return my order",
                "What is your return policy?",
                "Can I send it back within 7 days?",
            ),
            answer="You can request a return within 7 days of delivery on the order page.",
            category="returns",
        ),
        FaqEntry(
            id="refund-time",
            question="退款多久到账",
            similar_questions=("钱什么时候退回来", "退款几天到", "退款到账时间"),
            answer="退款审核通过后1-3个工作日原路退回。",
            category="refunds",
        ),
        FaqEntry(
            id="invoice",
            question="怎么开发票",
            similar_questions=("可以开发票吗", "发票在哪里申请", "需要增值税发票"),
            answer="在订单详情页点击“申请发票”即可开具电子发票。",
            category="invoices",
        ),
        FaqEntry(
            id="points",
            question="积分怎么用",
            similar_questions=("积分可以抵现吗", "积分有什么用", "会员积分怎么兑换"),
            answer="100积分可抵1元，下单时勾选使用积分。",
            category="membership",
        ),
        FaqEntry(
            id="old-promo",
            question="双十一活动规则",
            similar_questions=("双十一有什么优惠", "双11满减规则"),
            answer="双十一满300减50。",
            category="promotions",
            valid_until=datetime(2025, 11, 12),
        ),
        FaqEntry(
            id="disabled",
            question="怎么联系店长",
            similar_questions=("店长电话",),
            answer="请联系客服。",
            enabled=False,
        ),
    ]
