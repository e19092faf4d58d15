"""The desk through the service: the structured handoff object, the queue and its holding
replies, the customer's cancel, take (one winner of a race), the agent's messages, release back
to the bot (its dialogue state resumed), close, and the ticket outside business hours.

Real service, real database (SQLite or PostgreSQL), the demo shop and FAQ; turns go through
``Service.handle_message`` as the API sends them."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest

from kefu.access.roles import Principal
from kefu.connectors.tau_io import read_tau
from kefu.domain.conversation import (
    AGENT_MESSAGE,
    BOT_REPLY,
    CONVERSATION_CLOSED,
    CUSTOMER_MESSAGE,
    HANDOFF_RELEASED,
    HANDOFF_REQUESTED,
    HANDOFF_TAKEN,
    TICKET_OPENED,
)
from kefu.errors import AlreadyTaken, ConflictError, HandoffNotFound, PermissionDenied
from kefu.humans.handoff import choose_queue, is_cancel
from kefu.quality.conversation_tests import DEMO_DATA
from kefu.service import Service

ORDER = "#D3137656"  # delivered, four items, of OWNER
OWNER = "lijuan_wang_7028"
CLOSED_HOURS = datetime(2026, 11, 18, 16, 0, 0)  # Thursday 00:00 in Shanghai
ALICE = Principal("user", "alice", {"demo": "agent"})
BOB = Principal("user", "bob", {"demo": "agent"})


@pytest.fixture
def l3(demo_service: Service) -> Service:
    svc = demo_service
    svc.tenants.set("demo", "level", "L3")
    svc.tenants.set("demo", "return_window_days", 0)
    data = read_tau(DEMO_DATA / "shop")
    svc.shop.load("demo", data.users, data.orders, data.products, rules=data.rules)
    return svc


def _start(svc: Service, customer: str | None = None) -> str:
    conv, _ = svc.start_conversation("demo", "web", customer, "zh")
    return conv.id


def _say(svc: Service, conv: str, *texts: str) -> list[dict[str, Any]]:
    return [svc.handle_message(conv, t).to_dict() for t in texts]


def _types(svc: Service, conv: str) -> list[str]:
    return [e.type for e in svc.conversations.events(conv)]


def _text(turn: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in turn["replies"])


def test_a_mid_flow_handoff_carries_intent_slots_and_a_three_line_summary(l3: Service) -> None:
    conv = _start(l3, OWNER)
    _first, second, handoff_turn = _say(l3, conv, "我想退货", f"订单{ORDER}", "转人工")
    assert second["flow"] == "return_items" and second["slots"].get("order_id") == ORDER
    assert handoff_turn["decision"] == "handoff" and handoff_turn["handoff"] is True

    handoff = l3.desk.open_for(conv)
    assert handoff is not None and handoff.status == "waiting" and handoff.queue == "general"
    obj = handoff.handoff
    assert obj["reason"] == "customer_request"
    assert obj["intent"] == "flow:return_items"
    assert obj["flow"] == "return_items"
    assert obj["slots"]["order_id"] == ORDER
    assert obj["customer"] == OWNER
    assert obj["language"] == "zh"
    assert obj["order_value"] is not None and obj["order_value"] > 0
    assert set(obj["operations"]) >= {"done", "pending"}
    summary = obj["summary"]
    assert len(summary) == 3
    assert summary[0].startswith("客户诉求") and "退" in summary[0] and ORDER in summary[0]
    assert summary[1].startswith("机器人已做")
    assert summary[2].startswith("待处理") and "客户要求转人工" in summary[2]
    tail = obj["transcript_tail"]
    assert tail[-1]["actor"] == "bot" and tail[-2] == {"actor": "customer", "text": "转人工"}
    # the event carries the same object, queued in business hours
    requested = [e for e in l3.conversations.events(conv) if e.type == HANDOFF_REQUESTED]
    assert len(requested) == 1
    assert requested[0].payload["handoff_id"] == handoff.id
    assert requested[0].payload["in_hours"] is True
    assert requested[0].payload["ticket_id"] is None
    assert requested[0].payload["handoff"] == obj


def test_skill_groups_route_the_handoff_to_a_queue(l3: Service) -> None:
    l3.tenants.set("demo", "desk.skill_groups", {"after_sales": ["return_items"]})
    conv = _start(l3, OWNER)
    _say(l3, conv, "我想退货", "转人工")
    handoff = l3.desk.open_for(conv)
    assert handoff is not None and handoff.queue == "after_sales"
    assert handoff.handoff["queue"] == "after_sales"
    assert choose_queue({"a": ["x"], "b": ["flow:y"]}, ["flow:y", "y"]) == "b"
    assert choose_queue({"a": ["x"]}, ["z"]) == "general"


def test_waiting_customers_get_a_holding_reply_with_their_position(demo_service: Service) -> None:
    svc = demo_service
    first, second = _start(svc), _start(svc)
    _say(svc, first, "转人工")
    _say(svc, second, "转人工")
    (held,) = _say(svc, second, "还要等多久？")
    assert held["decision"] == "queued" and held["handoff"] is False
    assert "前面还有 1 位" in _text(held)
    (held_first,) = _say(svc, first, "在吗")
    assert "前面还有 0 位" in _text(held_first)
    # the bot did not try to understand it: no FAQ answer, and the message is recorded
    events = svc.conversations.events(second)
    assert [e.type for e in events[-2:]] == [CUSTOMER_MESSAGE, BOT_REPLY]
    assert events[-2].text == "还要等多久？"
    assert events[-1].payload["decision"] == "queued"
    assert "handoff_queued" not in _text(held)


def test_an_explicit_cancel_calls_the_handoff_off_and_the_bot_answers_again(
    demo_service: Service,
) -> None:
    svc = demo_service
    conv = _start(svc)
    _say(svc, conv, "转人工")
    (cancelled,) = _say(svc, conv, "不用了")
    assert cancelled["decision"] == "chitchat" and cancelled["intent"] == "handoff_cancelled"
    assert svc.desk.open_for(conv) is None
    assert [h.status for h in svc.desk.of_conversation(conv)] == ["cancelled"]
    (answered,) = _say(svc, conv, "怎么退货")
    assert answered["decision"] in ("answer", "clarify")
    assert is_cancel("Never mind.") and is_cancel("算了") and not is_cancel("我要取消订单")


def test_two_agents_taking_at_once_exactly_one_wins(demo_service: Service) -> None:
    svc = demo_service
    conv = _start(svc)
    _say(svc, conv, "转人工")
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def take(agent: Principal) -> None:
        barrier.wait(timeout=10)
        try:
            svc.desk.take(conv, agent)
            outcomes[agent.name] = "took"
        except AlreadyTaken:
            outcomes[agent.name] = "already_taken"

    threads = [threading.Thread(target=take, args=(a,)) for a in (ALICE, BOB)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(outcomes.values()) == ["already_taken", "took"]
    winner = next(name for name, o in outcomes.items() if o == "took")
    handoff = svc.desk.open_for(conv)
    assert handoff is not None and handoff.status == "active" and handoff.taken_by == winner
    taken = [e for e in svc.conversations.events(conv) if e.type == HANDOFF_TAKEN]
    assert len(taken) == 1 and taken[0].payload["agent"] == winner
    assert taken[0].text == f"人工客服 {winner} 为您服务。"


def test_while_an_agent_holds_it_the_bot_is_silent_and_only_the_holder_replies(
    demo_service: Service,
) -> None:
    svc = demo_service
    conv = _start(svc)
    _say(svc, conv, "转人工")
    with pytest.raises(ConflictError):  # not taken yet: nobody replies
        svc.desk.agent_message(conv, ALICE, "您好")
    svc.desk.take(conv, ALICE)
    assert svc.desk.take(conv, ALICE).taken_by == "alice"  # a double click changes nothing
    assert _types(svc, conv).count(HANDOFF_TAKEN) == 1
    (turn,) = _say(svc, conv, "怎么退货")
    assert turn["decision"] == "human" and turn["replies"] == []
    assert _types(svc, conv)[-1] == CUSTOMER_MESSAGE  # no bot reply recorded
    event = svc.desk.agent_message(conv, ALICE, "您好，我是 alice，我来帮您看退货。")
    assert event.type == AGENT_MESSAGE and event.actor == "agent"
    assert event.payload == {"agent": "alice"}
    with pytest.raises(ConflictError):
        svc.desk.agent_message(conv, BOB, "我也来")
    with pytest.raises(AlreadyTaken):
        svc.desk.take(conv, BOB)
    assert _types(svc, conv)[-1] == AGENT_MESSAGE


def test_release_hands_back_to_the_bot_with_its_flow_and_slots(l3: Service) -> None:
    conv = _start(l3, OWNER)
    _say(l3, conv, "我想退货", f"订单{ORDER}", "转人工")
    l3.desk.take(conv, ALICE)
    l3.desk.agent_message(conv, ALICE, "您好，请问要退哪一件？")
    _say(l3, conv, "稍等我想想")
    released = l3.desk.release(conv, ALICE)
    assert released.status == "released" and released.released_at is not None
    events = l3.conversations.events(conv)
    assert [e.type for e in events[-2:]] == [HANDOFF_RELEASED, BOT_REPLY]
    assert events[-1].text == "我是智能助手，有其他问题随时问我。"
    state = events[-1].payload["state"]
    assert state["frames"][-1]["flow"] == "return_items"
    assert state["frames"][-1]["slots"]["order_id"] == ORDER
    # the bot answers again, inside the resumed flow: the order is not asked for again
    (turn,) = _say(l3, conv, "第2件")
    assert turn["decision"] not in ("human", "queued")
    assert turn["flow"] == "return_items" and turn["slots"]["order_id"] == ORDER
    assert "缓震跑步鞋" in _text(turn)
    with pytest.raises(HandoffNotFound):
        l3.desk.release(conv, ALICE)


def test_close_ends_the_handoff_and_the_conversation(demo_service: Service) -> None:
    svc = demo_service
    conv = _start(svc)
    _say(svc, conv, "转人工")
    svc.desk.take(conv, ALICE)
    with pytest.raises(ConflictError):
        svc.desk.close(conv, BOB, "done")  # another agent (not a supervisor)
    closed = svc.desk.close(conv, ALICE, "已解决")
    assert closed.type == CONVERSATION_CLOSED
    assert closed.payload == {"by": "agent:alice", "reason": "已解决"}
    assert [h.status for h in svc.desk.of_conversation(conv)] == ["closed"]
    assert svc.desk.open_for(conv) is None
    with pytest.raises(ConflictError):
        svc.desk.close(conv, ALICE, "again")


def test_an_agent_of_another_tenant_changes_nothing(demo_service: Service) -> None:
    svc = demo_service
    svc.tenants.create("other", {"level": "L1"})
    stranger = Principal("user", "mallory", {"other": "admin"})
    viewer = Principal("user", "vera", {"demo": "viewer"})
    conv = _start(svc)
    _say(svc, conv, "转人工")
    before = _types(svc, conv)
    for who in (stranger, viewer):
        with pytest.raises(PermissionDenied):
            svc.desk.take(conv, who)
        with pytest.raises(PermissionDenied):
            svc.desk.close(conv, who, "x")
    assert _types(svc, conv) == before
    handoff = svc.desk.open_for(conv)
    assert handoff is not None and handoff.status == "waiting"


def test_outside_business_hours_the_handoff_opens_a_ticket_named_in_the_reply(
    demo_service: Service, clock: Any
) -> None:
    svc = demo_service
    clock.now = CLOSED_HOURS
    conv = _start(svc)
    (turn,) = _say(svc, conv, "转人工")
    assert turn["decision"] == "handoff"
    (handoff,) = svc.desk.of_conversation(conv)
    assert handoff.status == "ticketed" and handoff.ticket_id is not None
    assert f"#{handoff.ticket_id}" in _text(turn)
    events = svc.conversations.events(conv)
    requested = next(e for e in events if e.type == HANDOFF_REQUESTED)
    assert requested.payload["in_hours"] is False
    assert requested.payload["ticket_id"] == handoff.ticket_id
    opened = [e for e in events if e.type == TICKET_OPENED]
    assert [e.payload for e in opened] == [
        {"ticket_id": handoff.ticket_id, "source": "handoff_after_hours"}
    ]
    ticket = svc.tickets.get(handoff.ticket_id)
    assert ticket.conversation_id == conv and ticket.source == "handoff_after_hours"
    # not queued: the bot keeps answering
    assert svc.desk.open_for(conv) is None
    (after,) = _say(svc, conv, "怎么退货")
    assert after["decision"] in ("answer", "clarify")
    # asking again the same night names the same ticket (one ticket, announced once)
    (again,) = _say(svc, conv, "转人工")
    assert f"#{handoff.ticket_id}" in _text(again)
    assert [h.ticket_id for h in svc.desk.of_conversation(conv)] == [handoff.ticket_id] * 2
    assert _types(svc, conv).count(TICKET_OPENED) == 1


def test_a_handoff_for_emotion_also_opens_a_complaint_ticket(l3: Service) -> None:
    l3.tenants.set("demo", "emotion_escalation", "handoff")
    conv = _start(l3)
    turns = _say(l3, conv, "你们这什么垃圾服务！！！气死我了，我要投诉到12315！")
    assert turns[-1]["handoff"] is True
    reason = turns[-1]["handoff_reason"]
    assert reason in ("emotion", "complaint")
    opened = [e for e in l3.conversations.events(conv) if e.type == TICKET_OPENED]
    assert [e.payload["source"] for e in opened] == ["complaint"]
    ticket = l3.tickets.get(opened[0].payload["ticket_id"])
    assert ticket.source == "complaint" and ticket.conversation_id == conv
    handoff = l3.desk.open_for(conv)
    assert handoff is not None and handoff.status == "waiting"
    assert handoff.handoff["emotion"]["label"] == "negative"
