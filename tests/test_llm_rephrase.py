"""Brand-voice rephrasing over real HTTP (the fake OpenAI-compatible server): a rewrite that
keeps every fact, policy word and negation is used; one that changes an amount, an order id, a
date, adds a number, drops a policy word or flips a negation -- or a failing provider -- leaves
the template verbatim. End to end, only template replies are rephrased (FAQ answers never)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from tests.llm_tenants import THREE_FAQS, connect_llm

from kefu.llm.masking import guarded
from kefu.llm.openai_compat import OpenAICompatConfig, OpenAICompatProvider
from kefu.llm.rephrase import Rephraser, check_rewrite
from kefu.llm.resilience import DEFAULT_RETRY, NO_RETRY, ResilientProvider, RetryPolicy
from kefu.service import Service
from kefu.understanding.pii import Vault

if TYPE_CHECKING:
    from tests.fake_llm_server import FakeLlmServer

pytest_plugins = ["tests.fake_llm_server"]

SHIPPED = "您的订单#W1234567已于2026年3月5日发货，运单号SF1234567890，预计3天内送达。"
REFUND = "退款¥99.00将在1-3个工作日内退回原支付账户。"
NO_RETURN = "该商品不支持7天无理由退货。"
CONTACT = "请发邮件到 help@shop.com 或访问 https://shop.com/help 查看退货说明。"
EN_REFUND = "Your refund of $25.00 will reach your card within 3-5 business days."
VOICE = "亲切活泼，称呼顾客为“亲”"


def rephraser(fake_llm: FakeLlmServer, retry: RetryPolicy = NO_RETRY, **kw: Any) -> Rephraser:
    adapter = OpenAICompatProvider(OpenAICompatConfig(fake_llm.base_url, "qwen-test"))
    provider = guarded(ResilientProvider(adapter, retry=retry, sleep=lambda _s: None), Vault())
    return Rephraser(provider, VOICE, **kw)


@pytest.mark.parametrize(
    ("original", "rewrite", "language"),
    [
        (
            SHIPPED,
            "亲，您的订单#W1234567已经在2026年3月5日发出啦，运单号SF1234567890，预计3天内就能送到哦～",
            "zh",
        ),
        (REFUND, "亲，退款¥99将在1-3个工作日内原路退回您的支付账户哦。", "zh"),
        (NO_RETURN, "亲，不好意思，这件商品不支持七天无理由退货哦。", "zh"),  # 不好意思: courtesy
        (
            CONTACT,
            "亲，退货说明可以发邮件到 help@shop.com，或者看 https://shop.com/help 哦。",
            "zh",
        ),
        (
            EN_REFUND,
            "Good news! Your $25 refund will be back on your card within 3-5 business days.",
            "en",
        ),
    ],
)
def test_a_rewrite_that_keeps_every_invariant_is_used(
    fake_llm: FakeLlmServer, original: str, rewrite: str, language: str
) -> None:
    fake_llm.reply_json({"replies": [rewrite]})
    [out] = rephraser(fake_llm).rephrase([original], language)
    assert (out.path, out.reason, out.text) == ("llm", "ok", rewrite)
    body = fake_llm.requests[0].body
    assert body["response_format"]["json_schema"]["name"] == "rephrased_replies"
    system, user = fake_llm.message_texts(0)
    assert VOICE in system and original.replace("help@shop.com", "[EMAIL_1]") in user  # masked


@pytest.mark.parametrize(
    ("original", "rewrite", "reason", "detail"),
    [
        (REFUND, "亲，退款¥90将在1-3个工作日内退回原支付账户。", "missing_fact", "amount:99"),
        (SHIPPED, SHIPPED.replace("W1234567", "W1234576"), "missing_fact", "id:W1234567"),
        (SHIPPED, SHIPPED.replace("3月5日", "3月6日"), "missing_fact", "date:2026-3-5"),
        (SHIPPED, SHIPPED.replace("3天内", "5天内"), "missing_fact", "number:3/day"),
        (SHIPPED, SHIPPED.replace("SF1234567890", "顺丰单号"), "missing_fact", "id:SF"),
        (REFUND, REFUND.replace("个工作日", "天"), "missing_fact", "number:3/workday"),
        (REFUND, "亲，" + REFUND + "满199元再送10元券。", "added_fact", "amount:10"),
        (SHIPPED, SHIPPED + "客服电话400-820-1234。", "added_fact", "id:4008201234"),
        (CONTACT, CONTACT.replace("https://shop.com/help", "官网"), "missing_fact", "url:"),
        (CONTACT, CONTACT.replace("help@shop.com", "hi@shop.com"), "missing_fact", "email:"),
        (NO_RETURN, "亲，这件商品不支持7天内退换哦。", "missing_keyword", "no_reason"),
        (NO_RETURN, "亲，这件商品支持7天无理由退货哦！", "negation_changed", "2 -> 1"),
        (REFUND, "亲，退款¥99.00不会在1-3个工作日内退回原支付账户。", "negation_changed", ""),
        (EN_REFUND, EN_REFUND.replace("within", "after"), "missing_keyword", "within"),
        (EN_REFUND, EN_REFUND.replace("will", "won't"), "negation_changed", "0 -> 1"),
        (EN_REFUND, EN_REFUND.replace("business ", ""), "missing_fact", "number:5/workday"),
        (REFUND, "Your refund of ¥99.00 will be back in 1-3 business days.", "wrong_language", ""),
        (REFUND, REFUND * 3, "too_long", ""),
        (SHIPPED, "已发货。", "too_short", ""),
        (REFUND, "   ", "empty", ""),
        (REFUND, "亲，" + REFUND + "有问题请联系[PHONE_2]", "placeholder", "[PHONE_2]"),
    ],
)
def test_a_rewrite_that_breaks_an_invariant_leaves_the_template(
    fake_llm: FakeLlmServer, original: str, rewrite: str, reason: str, detail: str
) -> None:
    language = "en" if original.startswith("Your") else "zh"
    fake_llm.reply_json({"replies": [rewrite]})
    [out] = rephraser(fake_llm).rephrase([original], language)
    assert (out.path, out.reason) == ("template", reason), out
    assert detail in out.detail
    assert out.text == original


def test_each_reply_of_a_batch_is_checked_on_its_own(fake_llm: FakeLlmServer) -> None:
    good = "亲，退款¥99.00会在1-3个工作日内退回原支付账户哦。"
    fake_llm.reply_json({"replies": [good, SHIPPED.replace("#W1234567", "")]})
    out = rephraser(fake_llm).rephrase([REFUND, SHIPPED], "zh")
    assert [(o.path, o.text) for o in out] == [("llm", good), ("template", SHIPPED)]
    assert len(fake_llm.requests) == 1


@pytest.mark.parametrize(
    "script",
    [
        lambda f: f.reply_json({"replies": ["亲，" + REFUND, "多出来的一条"]}),  # wrong count
        lambda f: f.reply_json({"text": "亲，" + REFUND}),  # schema broken
        lambda f: f.reply_text("亲，" + REFUND),  # prose, not JSON
        lambda f: f.reply_garbage(),
        lambda f: f.reply_error(400),
    ],
)
def test_bad_output_or_a_failing_provider_leaves_the_template(
    fake_llm: FakeLlmServer, script: Any
) -> None:
    script(fake_llm)
    [out] = rephraser(fake_llm).rephrase([REFUND], "zh")
    assert out.path == "template" and out.reason in ("llm_error", "bad_output")
    assert out.text == REFUND
    assert len(fake_llm.requests) == 1


def test_timeout_and_http_500_leave_the_template(fake_llm: FakeLlmServer) -> None:
    release = fake_llm.reply_hang()
    try:
        [slow] = rephraser(fake_llm, timeout_s=0.2).rephrase([REFUND], "zh")
    finally:
        release.set()
    assert (slow.path, slow.reason, slow.detail, slow.text) == (
        "template",
        "llm_error",
        "llm_timeout",
        REFUND,
    )
    for _ in range(3):
        fake_llm.reply_error(500)
    [down] = rephraser(fake_llm, DEFAULT_RETRY).rephrase([REFUND], "zh")
    assert (down.path, down.detail, down.text) == ("template", "llm_server_error", REFUND)
    assert len(fake_llm.requests) == 4


def test_pii_in_a_template_is_masked_and_comes_back(fake_llm: FakeLlmServer) -> None:
    phone = "13812345678"
    fake_llm.register_pii(phone)
    original = f"已为您登记回访电话{phone}，客服会在24小时内联系您。"
    rewrite = "亲，回访电话[PHONE_1]已经登记好啦，客服会在24小时内联系您哦。"
    fake_llm.reply_json({"replies": [rewrite]})
    [out] = rephraser(fake_llm).rephrase([original], "zh")
    assert "[PHONE_1]" in fake_llm.message_texts(0)[1]
    assert (out.path, out.text) == ("llm", rewrite.replace("[PHONE_1]", phone))


def test_check_rewrite_needs_no_model() -> None:
    assert check_rewrite(REFUND, "亲，" + REFUND, "zh") == ("ok", "")
    assert check_rewrite(REFUND, REFUND.replace("99.00", "99"), "zh") == ("ok", "")
    assert check_rewrite("七天无理由退货", "7 天无理由退货", "zh") == ("ok", "")


# -- end to end ------------------------------------------------------------------------------

FAQ = THREE_FAQS[0]


@pytest.fixture
def voice_tenant(service: Service, fake_llm: FakeLlmServer) -> Service:
    service.tenants.create("voice", {"level": "L2", "language": "zh"})
    service.faqs.upsert_many("voice", THREE_FAQS)
    connect_llm(service, "voice", fake_llm.base_url, llm_brand_voice=VOICE)
    return service


def say(service: Service, text: str) -> dict[str, Any]:
    conv, _ = service.start_conversation("voice", "test", None, None)
    return service.handle_message(conv.id, text).to_dict()


def test_rephrasing_is_off_by_default(voice_tenant: Service, fake_llm: FakeLlmServer) -> None:
    out = say(voice_tenant, "你好")
    assert out["decision"] == "chitchat" and out["replies"][0]["text"]
    assert fake_llm.requests == []


def test_a_template_reply_is_rephrased_in_the_brand_voice(
    voice_tenant: Service, fake_llm: FakeLlmServer
) -> None:
    template = say(voice_tenant, "你好")["replies"][0]["text"]
    voice_tenant.tenants.set("voice", "llm_rephrase", "on")
    rewrite = "亲，您好呀！我是智能客服，有什么可以帮您的吗？"
    fake_llm.reply_json({"replies": [rewrite]})
    out = say(voice_tenant, "你好")
    assert len(fake_llm.requests) == 1
    system, user = fake_llm.message_texts(0)
    assert VOICE in system and template in user
    assert out["replies"][0]["text"] == rewrite
    assert [c.purpose for c in voice_tenant.llm_calls.calls("voice")] == ["rephrase"]
    [note] = [op for op in out["operations"] if op["operation"] == "llm_rephrase"]
    assert (note["ok"], note["path"]) == (True, "llm")
    # a rewrite that adds a number is dropped: the template, byte for byte
    fake_llm.reply_json({"replies": ["亲，您好呀！今天下单满99元包邮哦，有什么可以帮您？"]})
    again = say(voice_tenant, "你好")
    assert again["replies"][0]["text"] == template
    [note] = [op for op in again["operations"] if op["operation"] == "llm_rephrase"]
    assert (note["ok"], note["reason"], note["detail"]) == (False, "added_fact", "amount:99")


def test_faq_answers_are_never_rephrased(voice_tenant: Service, fake_llm: FakeLlmServer) -> None:
    voice_tenant.tenants.set("voice", "llm_rephrase", "on")
    out = say(voice_tenant, "多久发货")
    assert out["faq_id"] == "ship-001" and out["replies"][0]["text"] == FAQ.answer
    assert fake_llm.requests == []


def test_rephrasing_counts_against_the_call_cap(
    voice_tenant: Service, fake_llm: FakeLlmServer
) -> None:
    voice_tenant.tenants.set("voice", "llm_rephrase", "on")
    voice_tenant.tenants.set("voice", "llm_max_calls_per_turn", 1)
    fake_llm.reply_json({"commands": []})  # the unsure reading's second opinion takes the call
    out = say(voice_tenant, "我公司报销要那个票据，弄好了寄给我吧")
    assert len(fake_llm.requests) == 1
    assert fake_llm.requests[0].body["response_format"]["json_schema"]["name"] == "commands"
    assert not [op for op in out["operations"] if op["operation"] == "llm_rephrase"]
    voice_tenant.tenants.set("voice", "llm_max_calls_per_turn", 2)
    fake_llm.reply_json({"commands": []})
    fake_llm.reply_json({"replies": ["(不会被用到)"]})
    out = say(voice_tenant, "我公司报销要那个票据，弄好了寄给我吧")
    assert len(fake_llm.requests) == 3
    assert fake_llm.requests[2].body["response_format"]["json_schema"]["name"] == (
        "rephrased_replies"
    )
