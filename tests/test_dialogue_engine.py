"""The L2 dialogue engine through the service: flows from a tenant file, repair patterns, the step
cap, re-asking with a reason, state kept on events, and levels."""

from __future__ import annotations

import json

import pytest
from tests.conftest import DEMO_FAQ

from kefu.dialogue.catalog import parse_tenant_flows
from kefu.dialogue.engine import DialogueEngine
from kefu.dialogue.state import DialogueState, Frame
from kefu.domain.commands import Confirm, SetSlot, StartFlow
from kefu.service import Service

FLOWS = """
version: 1
templates:
  ask_email: {zh: "请留下您的邮箱。", en: "Please leave your email."}
  newsletter_done: {zh: "已为 {email} 订阅新品通知。", en: "Subscribed {email} to news."}
  confirm_newsletter: {zh: "确认用 {email} 订阅吗？", en: "Subscribe {email}?"}
  loop_say: {zh: "循环", en: "loop"}
flows:
  newsletter:
    title: {zh: 订阅新品通知, en: newsletter sign-up}
    examples:
      zh: [我想订阅新品通知, 订阅上新提醒, 有新品了通知我, 帮我订阅新品消息,
           上新了告诉我, 订阅店铺新品]
      en: [subscribe me to the newsletter, sign me up for new arrivals, notify me of new products]
    steps:
      - collect: email
        ask: ask_email
      - confirm: confirm_newsletter
      - say: newsletter_done
  forever:
    title: {zh: 无限循环, en: a loop}
    examples:
      zh: [测试一下死循环流程, 运行死循环测试, 死循环测试流程, 开始死循环, 循环测试启动]
      en: [run the infinite loop test]
    steps:
      - id: a
        set: {x: 1}
        next: b
      - id: b
        set: {x: 2}
        next: a
"""


@pytest.fixture
def l2(service: Service) -> Service:
    service.tenants.create("s", {"level": "L2", "language": "zh"})
    from kefu.knowledge.kb_io import read_faq_file

    service.faqs.upsert_many("s", read_faq_file(DEMO_FAQ))
    service.flows.put("s", "flows.yaml", FLOWS)
    return service


def say(svc: Service, conv: str, text: str) -> dict[str, object]:
    return svc.handle_message(conv, text).to_dict()


def replies(turn: dict[str, object]) -> str:
    return "\n".join(r["text"] for r in turn["replies"])  # type: ignore[attr-defined, index]


def test_flow_collects_confirms_and_finishes(l2: Service) -> None:
    conv, _ = l2.start_conversation("s")
    t = say(l2, conv.id, "我想订阅新品通知")
    assert t["decision"] == "flow" and t["flow"] == "newsletter"
    assert "请留下您的邮箱" in replies(t)
    t = say(l2, conv.id, "a.b@example.com")
    assert t["slots"] == {"email": "a.b@example.com"}
    assert "确认用 a.b@example.com 订阅吗" in replies(t)
    t = say(l2, conv.id, "好的")
    assert t["commands"][0]["command"] == "confirm"
    assert "已为 a.b@example.com 订阅新品通知" in replies(t)
    assert t["flow"] is None


def test_deny_stops_the_flow(l2: Service) -> None:
    conv, _ = l2.start_conversation("s")
    say(l2, conv.id, "我想订阅新品通知")
    say(l2, conv.id, "a.b@example.com")
    t = say(l2, conv.id, "不要")
    assert t["commands"][0]["command"] == "deny"
    assert "不做改动" in replies(t) and t["flow"] is None


def test_rejected_value_is_asked_again_with_reason_then_handoff(l2: Service) -> None:
    conv, _ = l2.start_conversation("s")
    say(l2, conv.id, "我想订阅新品通知")
    t = say(l2, conv.id, "嗯嗯这个嘛")
    assert "没有识别到" in replies(t) and "请留下您的邮箱" in replies(t)
    assert t["flow"] == "newsletter" and not t["handoff"]
    t = say(l2, conv.id, "不知道呢")
    assert not t["handoff"]
    t = say(l2, conv.id, "还是不知道呢")  # max_slot_retries = 2: the third miss hands off
    assert t["handoff"] is True and t["handoff_reason"] == "validation_failed"


def test_digression_answers_the_faq_then_asks_again(l2: Service) -> None:
    conv, _ = l2.start_conversation("s")
    say(l2, conv.id, "我想订阅新品通知")
    t = say(l2, conv.id, "运费怎么算")
    assert t["decision"] == "answer" and t["faq_id"]
    text = replies(t)
    assert "包邮" in text  # the FAQ answer
    assert text.index("包邮") < text.index("我们继续刚才的订阅新品通知") < text.index("邮箱")
    t = say(l2, conv.id, "x@y.cn")
    assert t["slots"] == {"email": "x@y.cn"}


def test_cancel_mid_flow(l2: Service) -> None:
    conv, _ = l2.start_conversation("s")
    say(l2, conv.id, "我想订阅新品通知")
    t = say(l2, conv.id, "算了")
    assert t["commands"][0]["command"] == "cancel"
    assert "订阅新品通知先不办了" in replies(t) and t["flow"] is None


def test_correction_replaces_the_slot_and_reruns(l2: Service) -> None:
    conv, _ = l2.start_conversation("s")
    say(l2, conv.id, "我想订阅新品通知")
    say(l2, conv.id, "old@example.com")
    t = say(l2, conv.id, "不对，邮箱是 new@example.com")
    assert t["commands"][0] == {
        "command": "correct_slot",
        "slot": "email",
        "value": "new@example.com",
    }
    assert "确认用 new@example.com 订阅吗" in replies(t)


def test_a_looping_flow_ends_at_the_step_cap_with_a_handoff(l2: Service) -> None:
    conv, _ = l2.start_conversation("s")
    t = say(l2, conv.id, "测试一下死循环流程")
    assert t["handoff"] is True and t["handoff_reason"] == "step_cap"
    assert t["flow"] is None


def test_state_lives_on_the_bot_event_and_survives_a_new_service(l2: Service) -> None:
    conv, _ = l2.start_conversation("s")
    say(l2, conv.id, "我想订阅新品通知")
    _, events = l2.transcript(conv.id)
    state = events[-1].payload["state"]
    assert state["frames"][0]["flow"] == "newsletter"
    assert state["frames"][0]["awaiting"] == "collect"
    json.dumps(state)  # plain JSON
    restored = DialogueState.from_dict(json.loads(json.dumps(state)))
    assert restored.active is not None and restored.active.flow == "newsletter"


def test_l1_tenant_never_runs_flows(l2: Service) -> None:
    l2.tenants.set("s", "level", "L1")
    conv, _ = l2.start_conversation("s")
    t = say(l2, conv.id, "我想订阅新品通知")
    assert t["decision"] != "flow" and t["flow"] is None
    _, events = l2.transcript(conv.id)
    assert "state" not in events[-1].payload


def test_invalid_commands_become_noops(l2: Service) -> None:
    catalog = parse_tenant_flows(FLOWS, "f.yaml")
    settings = l2.tenants.settings("s")

    class NoTasks:
        def operation_names(self) -> set[str]:
            return set()

        def validator_names(self) -> set[str]:
            return set()

    engine = DialogueEngine(catalog, settings, NoTasks(), None, l2.clock())  # type: ignore[arg-type]
    state = DialogueState()
    out = engine.run(state, [SetSlot("email", "a@b.c"), Confirm(), StartFlow("no_such")], "zh")
    assert [c["command"] for c in out.commands] == ["noop", "noop", "noop"]
    assert "no flow is active" in out.commands[0]["problem"]
    assert state.frames == []
    state = DialogueState(frames=[Frame(flow="newsletter")])
    out = engine.run(state, [SetSlot("phone", "1")], "zh")
    assert out.commands[0]["command"] == "noop"
    assert "has no slot 'phone'" in out.commands[0]["problem"]
