"""Automated QA throughput: how many finished conversations `QaService.score_finished` scores
per second.

Generates N realistic conversations (10-20 events each: FAQ answers from the demo knowledge
base, fallbacks, small talk, upset customers; about a third handed off to an agent, with the
take, agent replies, some slow or rude, and a close) straight into a temporary SQLite
database, all finished (closed, or idle for hours), then times one scoring run over them.
Target: >= 50 conversations per second on the 2-core reference machine.

    .venv/bin/python -m benchmarks.qa_throughput [--conversations 2000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, update

from benchmarks._common import demo_service, machine, stamp
from kefu.storage.models import ConversationRow, EventRow, FaqRow
from kefu.storage.qa_tables import QaScoreRow

WELCOME = "您好，欢迎光临小铺优选！我是智能客服，请问有什么可以帮您？"
FALLBACK = "抱歉，这个问题我暂时回答不了。您可以换个说法，或者回复“转人工”联系人工客服。"
OFF_TOPIC = ["火星上有仓库吗", "你们老板是谁", "能帮我写作业吗", "明天天气怎么样", "股票能买吗"]
UPSET = [
    "等了一个星期还没到，太差劲了！",
    "你们客服是机器人吗？气死我了",
    "再不处理我就投诉到12315",
]
SMALL_TALK = [("你好", "您好！请问有什么可以帮您？"), ("谢谢", "不客气，很高兴能帮到您！")]
AGENT_GOOD = [
    "您好，我是小王，很高兴为您服务。",
    "非常抱歉让您久等了，我马上帮您查一下。",
    "已经为您催促快递，预计明天送达。",
    "还有其他可以帮您的吗？",
]
AGENT_BAD = ["单号发我。", "这个你自己看吧。", "我保证给您全额退款。", "您的电话是13912345678吧？"]


def generate(
    rng: random.Random, faqs: list[tuple[str, str, str]], tenant_id: int, now: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One conversation row and its events."""
    cid = str(uuid.uuid4())
    start = now - timedelta(hours=rng.uniform(1, 72))
    events: list[dict[str, Any]] = []
    clock = start

    def add(type_: str, actor: str, text: str | None, payload: dict[str, Any], gap: float) -> None:
        nonlocal clock
        clock += timedelta(seconds=gap)
        events.append(
            {
                "conversation_id": cid,
                "seq": len(events) + 1,
                "type": type_,
                "actor": actor,
                "text": text,
                "payload": payload,
                "created_at": clock,
            }
        )

    def bot(text: str, decision: str, gap: float = 0.3, **extra: Any) -> None:
        payload = {
            "replies": [{"text": text, "language": "zh", "type": "text"}],
            "decision": decision,
            "language": "zh",
            "intent": extra.pop("intent", None),
            "confidence": extra.pop("confidence", 1.0),
            "faq_id": extra.pop("faq_id", None),
            "suggestions": [],
            "handoff": extra.pop("handoff", False),
            "handoff_reason": extra.pop("handoff_reason", None),
            "citations": [],
            "operations": [],
            "emotion": None,
        }
        add("bot_reply", "bot", text, payload, gap)

    add("conversation_started", "system", None, {"channel": "web", "customer": None}, 0)
    bot(WELCOME, "chitchat", 0, intent="welcome")
    target = rng.randint(10, 20)
    handoff = rng.random() < 0.33
    while len(events) < target - (6 if handoff else 0):
        roll = rng.random()
        if roll < 0.55:
            faq_id, question, answer = rng.choice(faqs)
            add("customer_message", "customer", question, {}, rng.uniform(5, 40))
            bot(answer, "answer", faq_id=faq_id, confidence=rng.uniform(0.6, 0.99), intent=faq_id)
        elif roll < 0.7:
            # distinct questions: the fallback check searches each one
            question = f"{rng.choice(OFF_TOPIC)}？订单{rng.randint(1, 10**6)}"
            add("customer_message", "customer", question, {}, rng.uniform(5, 40))
            bot(FALLBACK, "fallback", intent="out_of_scope", confidence=0.1)
        elif roll < 0.85:
            text, reply = rng.choice(SMALL_TALK)
            add("customer_message", "customer", text, {}, rng.uniform(5, 40))
            bot(reply, "chitchat", intent="greeting")
        else:
            add("customer_message", "customer", rng.choice(UPSET), {}, rng.uniform(5, 40))
            bot(FALLBACK, "fallback", intent="out_of_scope", confidence=0.1)
    if handoff:
        add("customer_message", "customer", "转人工", {}, rng.uniform(5, 30))
        bot("好的，正在为您转接人工客服，请稍候。", "handoff", handoff=True, intent="handoff")
        hid = rng.randint(1, 10**9)
        add(
            "handoff_requested",
            "system",
            None,
            {"handoff_id": hid, "handoff": {}, "queue": "general", "in_hours": True},
            0,
        )
        add(
            "handoff_taken",
            "system",
            None,
            {"handoff_id": hid, "agent": "小王"},
            rng.uniform(5, 200),
        )
        lines = AGENT_GOOD if rng.random() < 0.8 else AGENT_BAD
        add("agent_message", "agent", lines[0], {"agent": "小王"}, rng.uniform(3, 60))
        add("customer_message", "customer", "快递到哪了？", {}, rng.uniform(5, 30))
        add("agent_message", "agent", rng.choice(lines[1:]), {"agent": "小王"}, rng.uniform(3, 60))
        add("conversation_closed", "system", None, {"by": "agent:小王", "reason": "resolved"}, 30)
    conversation = {
        "id": cid,
        "tenant_id": tenant_id,
        "channel": "web",
        "customer": None,
        "language": "zh",
        "created_at": start,
    }
    return conversation, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    svc = demo_service(Path(tempfile.mkdtemp(prefix="kefu-qa-bench-")), embedder=None)
    tenant = svc.tenants.get("demo")
    faqs = [(e.id, e.question, e.answer) for e in svc.faqs.all("demo", "zh")]
    rng = random.Random(args.seed)
    now = svc.clock()
    conversations, events = [], []
    for _ in range(args.conversations):
        c, evs = generate(rng, faqs, tenant.id, now)
        conversations.append(c)
        events.extend(evs)
    with svc.sessions.begin() as s:
        s.execute(insert(ConversationRow), conversations)
        for i in range(0, len(events), 5000):
            s.execute(insert(EventRow), events[i : i + 5000])
    started = time.perf_counter()
    svc.index("demo")  # the FAQ index the fallback check searches: built once, not timed
    built = time.perf_counter() - started

    fallbacks = sum(1 for e in events if e["payload"].get("decision") == "fallback")
    print(f"# QA throughput ({stamp()}; {machine()})")
    print(
        f"{args.conversations} conversations, {len(events)} events "
        f"({len(events) / args.conversations:.1f} per conversation, {fallbacks} fallbacks); "
        f"FAQ index ({len(faqs)} FAQs) built in {built:.1f} s (not timed)"
    )
    # 1. steady state: the knowledge base is older than the conversations, so no fallback
    #    needs a search (the bot already answered with the current knowledge base)
    # 2. worst case: the knowledge base changed after every conversation: every fallback
    #    question is searched in the FAQ index
    for label, kb_time in (
        ("knowledge base unchanged since the conversations", now - timedelta(days=30)),
        ("knowledge base changed after them (every fallback searched)", now),
    ):
        with svc.sessions.begin() as s:
            s.execute(update(FaqRow).values(updated_at=kb_time))
            s.execute(delete(QaScoreRow))
        started = time.perf_counter()
        scored = svc.qa.score_finished("demo", limit=10**9)
        seconds = time.perf_counter() - started
        flagged = svc.qa.list("demo", flagged=True, limit=1)[1]
        print(
            f"{label}: scored {scored} in {seconds:.2f} s = {scored / seconds:.0f} "
            f"conversations/s (target >= 50); {flagged} flagged"
        )
    started = time.perf_counter()
    again = svc.qa.score_finished("demo", limit=10**9)
    idle = time.perf_counter() - started
    print(f"a further run with nothing to score: {again} scored in {idle * 1000:.0f} ms")
    svc.close()


if __name__ == "__main__":
    main()
