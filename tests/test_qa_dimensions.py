"""The QA scorers as pure functions of hand-written events (times chosen freely)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from kefu.errors import SettingError
from kefu.quality.inspection import evaluate
from kefu.quality.qa_dimensions import KbEntry, Knowledge, score_all
from kefu.quality.qa_settings import DIMENSIONS, QaConfig, Rubric
from kefu.settings import SETTINGS, TenantSettings, get_setting

T0 = datetime(2026, 11, 18, 2, 0, 0)
WELCOME = "您好，欢迎光临小铺优选！我是智能客服，请问有什么可以帮您？"
RETURN_ANSWER = "签收后7天内可申请无理由退货，请在订单详情页提交申请。"


class Chat:
    """Builds a conversation's events; ``at`` seconds after T0."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def add(self, type_: str, actor: str, text: str | None, at: float, **payload: Any) -> Chat:
        from kefu.domain.conversation import Event

        seq = len(self.events) + 1
        self.events.append(Event(seq, type_, actor, text, payload, T0 + timedelta(seconds=at)))
        return self

    def welcome(self) -> Chat:
        return self.add("conversation_started", "system", None, 0).bot(
            WELCOME, 0, decision="chitchat", intent="welcome"
        )

    def customer(self, text: str, at: float) -> Chat:
        return self.add("customer_message", "customer", text, at)

    def bot(self, text: str, at: float, **payload: Any) -> Chat:
        payload.setdefault("decision", "chitchat")
        return self.add("bot_reply", "bot", text, at, **payload)

    def agent(self, text: str, at: float, name: str = "小王") -> Chat:
        return self.add("agent_message", "agent", text, at, agent=name)

    def handoff(self, at: float, in_hours: bool = True, ticket: int | None = None) -> Chat:
        return self.add(
            "handoff_requested",
            "system",
            None,
            at,
            handoff_id=1,
            handoff={},
            queue="general",
            in_hours=in_hours,
            ticket_id=ticket,
        )

    def take(self, at: float, name: str = "小王") -> Chat:
        return self.add("handoff_taken", "system", None, at, handoff_id=1, agent=name)

    def close(self, at: float) -> Chat:
        return self.add("conversation_closed", "system", None, at, by="agent:小王", reason="ok")


def cfg(**stored: Any) -> QaConfig:
    return QaConfig.of(TenantSettings(stored))


KB = Knowledge({"ret-001": KbEntry(("".join(RETURN_ANSWER.split()),), True)})


def scores(chat: Chat, config: QaConfig | None = None, kb: Knowledge = KB) -> dict[str, Any]:
    return score_all(chat.events, config or cfg(), kb)


def codes(result: Any) -> list[str]:
    return [r.code for r in result.reasons if r.penalty]


def agent_chat(first_reply: str, first_at: float = 20) -> Chat:
    return (
        Chat()
        .welcome()
        .customer("转人工", 5)
        .bot("好的，正在为您转接人工客服，请稍候。", 5, decision="handoff", handoff=True)
        .handoff(5)
        .take(10)
        .agent(first_reply, first_at)
        .customer("好的谢谢", first_at + 5)
        .agent("不客气，祝您购物愉快！", first_at + 10)
        .close(first_at + 20)
    )


def test_a_good_agent_conversation_passes_every_dimension() -> None:
    result = scores(agent_chat("您好，我是小王，很高兴为您服务。"))
    assert {d: r.score for d, r in result.items()} == dict.fromkeys(DIMENSIONS, 100)
    assert not result["emotion"].applicable  # nobody was upset
    assert not result["correctness"].applicable  # no FAQ answer or fallback
    assert result["response_time"].applicable and result["transfer"].applicable


def test_greeting_fails_without_a_welcome_and_when_the_agent_does_not_greet() -> None:
    chat = agent_chat("单号发我。")
    chat.events[1] = chat.events[1].__class__(2, "bot_reply", "bot", "请问有什么事？", {}, T0)
    result = scores(chat)["greeting"]
    assert codes(result) == ["no_greeting", "agent_no_greeting"]
    assert result.score == 0
    assert scores(agent_chat("Hello, this is Wang here to help."))["greeting"].score == 100


def test_a_forbidden_word_from_an_agent_flags_politeness() -> None:
    result = scores(agent_chat("您好，这个你自己看吧，我也不知道。"))["politeness"]
    assert codes(result) == ["forbidden_word", "forbidden_word"]
    assert {r.detail for r in result.reasons} == {"你自己看", "不知道"}
    assert result.score == 0
    assert all(r.seq == 7 for r in result.reasons)
    # an impolite phrase costs less; an English forbidden word needs its own word boundaries
    assert codes(scores(agent_chat("您好，我都说了几遍了。"))["politeness"]) == ["impolite"]
    assert scores(agent_chat("Hi! The dumbbell set ships today."))["politeness"].score == 100
    assert codes(scores(agent_chat("Hi, that's a stupid question."))["politeness"]) == [
        "forbidden_word"
    ]


def test_the_forbidden_word_list_is_the_tenants_setting() -> None:
    config = cfg(**{"qa.forbidden_words": ["亲爱的"]})
    assert scores(agent_chat("您好，你自己看吧。"), config)["politeness"].score == 100
    assert codes(scores(agent_chat("您好亲爱的。"), config)["politeness"]) == ["forbidden_word"]


def test_a_promise_beyond_policy_fails_compliance() -> None:
    chat = agent_chat("您好，我保证给您全额退款，还双倍补偿。")
    result = scores(chat)["compliance"]
    assert codes(result) == ["promise"] and result.score == 40
    assert "我保证给您全额退款" in result.reasons[0].zh
    for fine in ("您好，退款一般1-3个工作日到账。", "您好，改派不保证成功，退款按规则处理。"):
        assert scores(agent_chat(fine))["compliance"].score == 100, fine
    assert codes(scores(agent_chat("Hi, I guarantee a full refund today."))["compliance"]) == [
        "promise"
    ]
    assert scores(agent_chat("Hi, a refund isn't guaranteed here."))["compliance"].score == 100
    assert codes(scores(agent_chat("您好，假一赔十。"))["compliance"]) == ["promise"]


def test_the_knowledge_bases_own_answer_is_policy_not_a_promise() -> None:
    answer = "保证100%正品，如经鉴定为假货，全额退款并赔偿。"
    kb = Knowledge({"as-008": KbEntry(("".join(answer.split()),), True)})
    chat = Chat().welcome().customer("是正品吗", 5)
    chat.bot(answer, 5, decision="answer", faq_id="as-008", confidence=0.9)
    assert scores(chat, kb=kb)["compliance"].score == 100
    chat = Chat().welcome().customer("是正品吗", 5)
    chat.bot(answer, 5, decision="answer", faq_id="other", confidence=0.9)
    assert codes(scores(chat, kb=kb)["compliance"]) == ["promise"]


def test_a_write_without_a_confirmed_preview_fails_compliance() -> None:
    op = {"name": "cancel_pending_order", "operation": "cancel_pending_order", "ledger_id": 7}
    confirmed = (
        Chat()
        .welcome()
        .customer("取消订单 #W1234567", 5)
        .bot("确认取消吗？", 6, decision="flow", operations=[{**op, "status": "previewed"}])
        .customer("确认", 10)
        .bot("已取消。", 11, decision="flow", operations=[{**op, "status": "executed"}])
    )
    assert scores(confirmed)["compliance"].score == 100
    unconfirmed = (
        Chat()
        .welcome()
        .customer("取消订单 #W1234567", 5)
        .bot("已取消。", 6, decision="flow", operations=[{**op, "status": "executed"}])
    )
    result = scores(unconfirmed)["compliance"]
    assert codes(result) == ["write_without_confirmation"] and result.score == 0


def test_a_pii_leak_fails_and_echoing_the_customers_own_data_does_not() -> None:
    leak = agent_chat("您好，收件人电话是 13912345678，邮箱 li.lei@example.com。")
    result = scores(leak)["pii"]
    assert codes(result) == ["pii_exposed", "pii_exposed"]
    assert {r.detail for r in result.reasons} == {"PHONE", "EMAIL"}
    echo = (
        Chat()
        .welcome()
        .customer("我的手机号是 139 1234 5678", 5)
        .bot("好的，已记录您的手机号 13912345678。", 6)
    )
    assert scores(echo)["pii"].score == 100
    card = agent_chat("您好，退款到银行卡 6222 0200 0000 0000 000 了。")  # Luhn-valid
    assert codes(scores(card)["pii"]) == ["pii_exposed"]
    hotline = agent_chat("您好，客服热线 400-123-4567，订单 #W1234567。")
    assert scores(hotline)["pii"].score == 100


def test_answer_correctness_against_the_current_knowledge_base() -> None:
    def answered(faq_id: str, text: str, confidence: float) -> Chat:
        chat = Chat().welcome().customer("怎么退货", 5)
        return chat.bot(text, 5, decision="answer", faq_id=faq_id, confidence=confidence)

    assert scores(answered("ret-001", RETURN_ANSWER, 0.4))["correctness"].score == 100
    assert scores(answered("ret-001", "换个说法的答案", 0.9))["correctness"].score == 100
    assert codes(scores(answered("ret-001", "换个说法的答案", 0.5))["correctness"]) == [
        "unsure_answer"
    ]
    assert codes(scores(answered("gone-001", RETURN_ANSWER, 0.9))["correctness"]) == ["faq_removed"]
    off = Knowledge({"ret-001": KbEntry(KB.entries["ret-001"].answers, False)})
    assert codes(scores(answered("ret-001", RETURN_ANSWER, 0.9), kb=off)["correctness"]) == [
        "faq_inactive"
    ]
    fallback = (
        Chat().welcome().customer("退货运费谁出", 5).bot("抱歉，答不了。", 5, decision="fallback")
    )
    now_known = Knowledge(KB.entries, match=lambda q: "ret-001" if "退货" in q else None)
    result = scores(fallback, kb=now_known)["correctness"]
    assert codes(result) == ["missed_answer"] and result.reasons[0].detail == "ret-001"
    assert (
        scores(fallback, kb=Knowledge(KB.entries, match=lambda q: None))["correctness"].score == 100
    )


def test_resolution() -> None:
    ok = Chat().welcome().customer("怎么退货", 5)
    ok.bot(RETURN_ANSWER, 5, decision="answer", faq_id="ret-001", confidence=0.9)
    assert scores(ok)["resolution"].score == 100
    fallback = (
        Chat().welcome().customer("火星仓库", 5).bot("抱歉，答不了。", 5, decision="fallback")
    )
    assert codes(scores(fallback)["resolution"]) == ["ended_on_fallback"]
    abandoned = (
        Chat()
        .welcome()
        .customer("转人工", 5)
        .bot("正在转接", 5, decision="handoff", handoff=True)
        .handoff(5)
    )
    assert codes(scores(abandoned)["resolution"]) == ["handoff_unanswered"]
    ticketed = (
        Chat()
        .welcome()
        .customer("转人工", 5)
        .bot("正在转接", 5, decision="handoff", handoff=True)
        .handoff(5, in_hours=False, ticket=3)
    )
    assert codes(scores(ticketed)["resolution"]) == ["handoff_to_ticket"]
    assert scores(ticketed)["transfer"].score == 100  # after hours, a ticket: done right
    rated = agent_chat("您好！").add("csat", "customer", "一般", 60, score=2, comment="一般")
    assert codes(scores(rated)["resolution"]) == ["low_csat"]
    complaining = agent_chat("您好！").customer("你们太垃圾了，我要投诉到12315！", 70)
    assert "ended_complaining" in codes(scores(complaining)["resolution"])


def test_an_apology_after_anger_passes_and_ignoring_it_fails() -> None:
    def upset(reply: str) -> Chat:
        chat = Chat().welcome().customer("你们太差劲了，气死我了！！", 5)
        return chat.bot(reply, 5, decision="chitchat").customer("算了", 9).bot("好的", 9)

    assert scores(upset("非常抱歉给您带来不好的体验。"))["emotion"].score == 100
    ignored = scores(upset("请问还有什么可以帮您？"))["emotion"]
    assert codes(ignored) == ["emotion_ignored"] and ignored.score == 50
    # the estimate the bot recorded is used when present
    calm = Chat().welcome().customer("你们太差劲了", 5)
    calm.bot("好的", 5, emotion={"label": "neutral", "score": 0.0, "anger": 0.0, "cues": []})
    assert not scores(calm)["emotion"].applicable
    handed = Chat().welcome().customer("气死我了！！你们太差劲", 5)
    handed.bot("正在转接", 5, decision="handoff", handoff=True).handoff(5)
    assert scores(handed)["emotion"].score == 100


def test_a_slow_agent_fails_response_time() -> None:
    config = cfg(**{"qa.agent_response_s": 30})
    assert scores(agent_chat("您好！", first_at=35), config)["response_time"].score == 100
    slow = scores(agent_chat("您好！", first_at=200), config)["response_time"]
    assert codes(slow) == ["slow_first_response"] and slow.score == 40
    assert slow.reasons[0].detail == "190"
    later = (
        Chat()
        .welcome()
        .handoff(5)
        .take(10)
        .agent("您好！", 15)
        .customer("在吗", 20)
        .agent("在的", 500)
        .customer("谢谢", 510)
    )
    assert codes(scores(later, config)["response_time"]) == ["slow_reply", "customer_unanswered"]
    mute = Chat().welcome().handoff(5).take(10).close(100)
    assert codes(scores(mute, config)["response_time"]) == ["no_agent_response"]
    assert not scores(Chat().welcome().customer("你好", 3).bot("您好", 3))[
        "response_time"
    ].applicable


def test_transfer_is_judged_against_the_sla() -> None:
    config = cfg(**{"qa.transfer_sla_s": 60})
    quick = Chat().welcome().handoff(5).take(30).agent("您好", 35)
    assert scores(quick, config)["transfer"].score == 100
    slow = Chat().welcome().handoff(5).take(300).agent("您好", 305)
    assert codes(scores(slow, config)["transfer"]) == ["slow_take"]
    cancelled = Chat().welcome().handoff(5).bot("已取消", 8, intent="handoff_cancelled")
    result = scores(cancelled, config)
    assert result["transfer"].score == 100 and result["resolution"].score == 100


def test_the_weighted_total_and_flags_follow_the_rubric() -> None:
    auto = {d: {"score": 100, "applicable": True} for d in DIMENSIONS}
    auto["pii"] = {"score": 0, "applicable": True}
    auto["emotion"] = {"score": 0, "applicable": False}  # not applicable: left out
    rubric = Rubric.parse({})
    verdict = evaluate(auto, {}, rubric)
    assert verdict.total == 88.9  # 80 of the 90 weight that applies at 100, pii (10) at 0
    assert verdict.failed == ["pii"] and verdict.flagged
    fixed = evaluate(auto, {"pii": {"score": 100}}, rubric)
    assert fixed.total == 100.0 and not fixed.flagged
    low = evaluate(
        {**auto, "pii": {"score": 100, "applicable": True}},
        {"greeting": {"score": 0}},
        Rubric.parse({"weights": {"greeting": 90}, "flag_below": 50}),
    )
    assert low.total < 50 and low.flagged and low.failed == []
    assert [r["code"] for r in low.reasons] == ["total_below"]


def test_settings_are_validated_when_set() -> None:
    with pytest.raises(SettingError, match="unknown dimension 'speed'"):
        get_setting("qa.rubric").parse({"weights": {"speed": 3}})
    with pytest.raises(SettingError, match=r"minimums\.pii must be between 0 and 100"):
        get_setting("qa.rubric").parse('{"minimums": {"pii": 120}}')
    with pytest.raises(SettingError, match="list of strings"):
        get_setting("qa.forbidden_words").parse('{"a": 1}')
    with pytest.raises(SettingError, match="unknown key 'words'"):
        get_setting("qa.promise_phrases").parse({"words": []})
    assert get_setting("qa.forbidden_words").parse('[" 滚 ", ""]') == ["滚"]
    assert cfg(**{"qa.rubric": {"flag_below": 70}}).rubric.flag_below == 70
    assert cfg().hash != cfg(**{"qa.rubric": {"flag_below": 70}}).hash


def test_the_bots_own_templates_pass_politeness_and_compliance() -> None:
    """Every default template, as a bot reply, is polite and promises nothing."""
    texts = [
        v
        for s in SETTINGS.values()
        if s.kind == "i18n" and s.name.startswith("template.")
        for v in s.default.values()
    ]
    chat = Chat().welcome().customer("你好", 1)
    for i, text in enumerate(texts):
        chat.bot(text, 2 + i)
    result = scores(chat)
    assert result["politeness"].reasons == (), [r.en for r in result["politeness"].reasons]
    assert result["compliance"].reasons == (), [r.en for r in result["compliance"].reasons]
