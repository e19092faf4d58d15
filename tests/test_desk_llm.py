"""After a human hands back, the LLM reads the agent's messages among the recent turns (role
``agent``), over real HTTP to the fake OpenAI-compatible server."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tests.llm_tenants import THREE_FAQS, connect_llm

from kefu.access.roles import Principal
from kefu.service import Service

if TYPE_CHECKING:
    from tests.fake_llm_server import FakeLlmServer

pytest_plugins = ["tests.fake_llm_server"]


def test_the_llm_sees_the_agents_messages_as_recent_turns(
    service: Service, fake_llm: FakeLlmServer
) -> None:
    service.tenants.create("llm", {"level": "L2", "language": "zh"})
    service.faqs.upsert_many("llm", THREE_FAQS)
    connect_llm(service, "llm", fake_llm.base_url)
    agent = Principal("user", "alice", {"llm": "agent"})
    conv, _ = service.start_conversation("llm", "test", None, "zh")
    service.handle_message(conv.id, "转人工")
    service.desk.take(conv.id, agent)
    service.handle_message(conv.id, "我想问问发票的事")
    service.desk.agent_message(conv.id, agent, "发票可以在订单页申请，您还需要别的吗？")
    service.desk.release(conv.id, agent)
    assert fake_llm.requests == []  # no understanding while the human was in charge
    fake_llm.reply_json({"commands": []})
    service.handle_message(conv.id, "那个弄好了寄给我吧，报账要用")
    assert len(fake_llm.requests) == 1
    user = fake_llm.message_texts(0)[1]
    context = json.loads(user.split("Context (JSON):\n", 1)[1].split("\n\n", 1)[0])
    turns = [(t["role"], t["text"]) for t in context["recent_turns"]]
    assert ("agent", "发票可以在订单页申请，您还需要别的吗？") in turns
    assert turns.index(("customer", "我想问问发票的事")) < turns.index(
        ("agent", "发票可以在订单页申请，您还需要别的吗？")
    )
