"""The conversation API end to end over a real database."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import DEMO_FAQ, Clock
from tests.kb_small import small_kb

from kefu.api.app import create_app
from kefu.service import Service

TURN_KEYS = {
    "replies",
    "decision",
    "intent",
    "confidence",
    "faq_id",
    "suggestions",
    "handoff",
    "citations",
    "operations",
    "language",
}


def demo_entries() -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in DEMO_FAQ.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


@pytest.fixture
def small(service: Service) -> TestClient:
    service.tenants.create("shop", {"level": "L1"})
    service.faqs.upsert_many("shop", small_kb())
    return TestClient(create_app(service))


def start(c: TestClient, tenant: str = "shop", **extra: Any) -> str:
    r = c.post("/v1/conversations", json={"tenant": tenant, **extra})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["tenant"] == tenant and body["welcome"]["text"]
    return str(body["id"])


def say(c: TestClient, conv: str, text: str) -> dict[str, Any]:
    r = c.post(f"/v1/conversations/{conv}/messages", json={"text": text})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert set(body) >= TURN_KEYS
    return body


def test_answers_a_faq_with_its_answer(small: TestClient) -> None:
    conv = start(small)
    body = say(small, conv, "请问邮费是多少钱呀")
    assert body["decision"] == "answer"
    assert body["faq_id"] == "ship-fee" and body["intent"] == "ship-fee"
    assert body["replies"][0]["text"] == "全场满99元包邮，不满99元收取运费8元。"
    assert body["confidence"] >= 0.6
    assert body["handoff"] is False and body["citations"] == [] and body["operations"] == []
    assert body["language"] == "zh"


def test_traditional_fullwidth_and_emoji_are_normalised(small: TestClient) -> None:
    conv = start(small)
    body = say(small, conv, "請問ＦＡＱ：退款幾天到帳？？😭")
    assert body["decision"] == "answer" and body["faq_id"] == "refund-time"


def test_replies_in_the_customers_language_when_the_kb_has_it(small: TestClient) -> None:
    conv = start(small)
    en = say(small, conv, "is shipping free?")
    assert en["faq_id"] == "ship-fee" and en["language"] == "en"
    assert en["replies"][0]["text"].startswith("Shipping is free")
    # No English version: answered in Chinese rather than not at all.
    zh_only = say(small, conv, "how long until my refund arrives, 退款多久到账")
    assert zh_only["faq_id"] == "refund-time" and zh_only["replies"][0]["language"] == "zh"


def test_greetings_thanks_goodbye(small: TestClient) -> None:
    conv = start(small)
    assert say(small, conv, "你好")["decision"] == "chitchat"
    thanks = say(small, conv, "好的谢谢！")
    assert thanks["intent"] == "thanks" and thanks["decision"] == "chitchat"
    bye = say(small, conv, "bye")
    assert bye["intent"] == "goodbye" and bye["language"] == "en"
    # A greeting in front of a question is not small talk.
    assert say(small, conv, "你好，多久发货")["faq_id"] == "ship-time"


def test_out_of_scope_is_declined_then_handed_off(small: TestClient) -> None:
    conv = start(small)
    first = say(small, conv, "明天上海会下雨吗")
    assert first["decision"] == "fallback" and first["faq_id"] is None
    assert "转人工" in first["replies"][0]["text"]
    second = say(small, conv, "推荐一只股票给我")
    assert second["decision"] == "handoff" and second["handoff"] is True
    assert second["handoff_reason"] == "repeated_failure"


def test_handoff_on_request_in_and_out_of_hours(
    service: Service, small: TestClient, clock: Clock
) -> None:
    conv = start(small)
    body = say(small, conv, "转人工")
    assert body["decision"] == "handoff" and body["handoff_reason"] == "customer_request"
    assert "正在为您转接" in body["replies"][0]["text"]
    clock.now = datetime(2026, 11, 18, 16, 0)  # 00:00 in Shanghai
    night = say(small, start(small), "I want to talk to a human")  # the first one is queued
    assert night["handoff"] is True and "09:00-21:00" in night["replies"][0]["text"]
    assert night["language"] == "en"


def test_clarify_offers_suggestions_and_a_number_picks_one(
    service: Service, small: TestClient
) -> None:
    service.tenants.set("shop", "answer_threshold", 1.0)
    service.tenants.set("shop", "clarify_threshold", 0.01)
    conv = start(small)
    body = say(small, conv, "退货")
    assert body["decision"] == "clarify"
    ids = [s["faq_id"] for s in body["suggestions"]]
    assert 1 <= len(ids) <= 3 and ids[0] == "return-policy"
    assert body["suggestions"][0]["text"] == "怎么申请退货"
    picked = say(small, conv, "1")
    assert picked["decision"] == "answer" and picked["faq_id"] == "return-policy"


def test_expired_and_disabled_entries_are_not_answered(small: TestClient) -> None:
    conv = start(small)
    assert say(small, conv, "双十一活动规则")["faq_id"] != "old-promo"
    assert say(small, conv, "怎么联系店长")["faq_id"] != "disabled"


@pytest.mark.parametrize("text", ["😀😀😀", "？？？", "\x00\x01\x02", "🙏"])
def test_messages_without_words_get_a_sensible_reply(small: TestClient, text: str) -> None:
    conv = start(small)
    body = say(small, conv, text)
    assert body["decision"] == "fallback" and body["intent"] == "unreadable"
    assert "没看懂" in body["replies"][0]["text"]


def test_transcript_is_the_append_only_event_log(small: TestClient) -> None:
    conv = start(small, channel="web", customer="c-42", language="zh")
    say(small, conv, "多久发货")
    say(small, conv, "谢谢")
    t = small.get(f"/v1/conversations/{conv}").json()
    assert t["channel"] == "web" and t["customer"] == "c-42"
    kinds = [(e["seq"], e["type"], e["actor"]) for e in t["events"]]
    assert kinds == [
        (1, "conversation_started", "system"),
        (2, "bot_reply", "bot"),
        (3, "customer_message", "customer"),
        (4, "bot_reply", "bot"),
        (5, "customer_message", "customer"),
        (6, "bot_reply", "bot"),
    ]
    assert t["events"][2]["text"] == "多久发货"
    assert t["events"][3]["payload"]["faq_id"] == "ship-time"


def test_two_messages_at_once_are_both_recorded_in_order(small: TestClient) -> None:
    conv = start(small)
    texts = ["运费怎么算", "怎么开发票", "积分怎么用", "多久发货"]
    results: dict[str, dict[str, Any]] = {}
    barrier = threading.Barrier(len(texts))

    def send(text: str) -> None:
        barrier.wait()
        results[text] = say(small, conv, text)

    threads = [threading.Thread(target=send, args=(t,)) for t in texts]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert {r["faq_id"] for r in results.values()} == {"ship-fee", "invoice", "points", "ship-time"}
    events = small.get(f"/v1/conversations/{conv}").json()["events"][2:]
    assert len(events) == 2 * len(texts)
    # Strictly alternating: each customer message is followed by its own answer.
    for customer, bot in zip(events[::2], events[1::2], strict=True):
        assert customer["type"] == "customer_message" and bot["type"] == "bot_reply"
        assert results[customer["text"]]["seq"] == bot["seq"]


def test_streaming_variant_sends_meta_deltas_and_done(small: TestClient) -> None:
    conv = start(small)
    with small.stream(
        "POST", f"/v1/conversations/{conv}/messages/stream", json={"text": "怎么开发票"}
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = "".join(r.iter_text())
    events = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    assert events[0][0] == "meta" and events[0][1]["faq_id"] == "invoice"
    assert events[-1][0] == "done"
    deltas = "".join(d["text"] for kind, d in events if kind == "delta")
    assert (
        deltas
        == events[-1][1]["replies"][0]["text"]
        == "在订单详情页点击“申请发票”即可开具电子发票。"
    )
    assert len([k for k, _ in events if k == "delta"]) >= 2


def test_demo_faq_canonical_questions_are_answered(client: TestClient) -> None:
    conv = start(client, "demo")
    entries = [e for e in demo_entries() if e["language"] == "zh"][::15]
    assert len(entries) >= 10
    for e in entries:
        body = say(client, conv, e["question"])
        assert (body["decision"], body["faq_id"]) == ("answer", e["id"]), e["question"]


def test_healthz(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] in ("sqlite", "postgresql")
