"""L2 turns with an LLM configured: the fast path makes no call, an unsure reading asks the
model (over real HTTP, masked), and a failing provider still leaves an answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from tests.llm_tenants import THREE_FAQS, connect_llm

from kefu.service import Service

if TYPE_CHECKING:
    from tests.fake_llm_server import FakeLlmServer

pytest_plugins = ["tests.fake_llm_server"]


@pytest.fixture
def llm_tenant(service: Service, fake_llm: FakeLlmServer) -> Service:
    service.tenants.create("llm", {"level": "L2", "language": "zh"})
    service.faqs.upsert_many("llm", THREE_FAQS)
    connect_llm(service, "llm", fake_llm.base_url)
    return service


def say(service: Service, text: str) -> dict[str, Any]:
    conv, _ = service.start_conversation("llm", "test", None, None)
    return service.handle_message(conv.id, text).to_dict()


def test_a_confident_answer_makes_no_llm_call(llm_tenant: Service, fake_llm: FakeLlmServer) -> None:
    out = say(llm_tenant, "多久发货")
    assert out["decision"] == "answer" and out["faq_id"] == "ship-001"
    assert fake_llm.requests == []


def test_an_unsure_reading_asks_the_model_and_its_choice_is_answered(
    llm_tenant: Service, fake_llm: FakeLlmServer
) -> None:
    phone = "13812345678"
    fake_llm.register_pii(phone)
    fake_llm.reply_json({"commands": [{"command": "answer_faq", "faq_id": "inv-001"}]})
    out = say(llm_tenant, f"我公司报账要那个凭证，弄好了寄给我吧，电话{phone}")
    assert len(fake_llm.requests) == 1
    assert out["faq_id"] == "inv-001" and "申请开票" in out["replies"][0]["text"]
    assert phone not in fake_llm.requests[0].raw.decode("utf-8", "replace")
    # the same message without the LLM (0 calls per turn) is not answered with that FAQ
    llm_tenant.tenants.set("llm", "llm_max_calls_per_turn", 0)
    offline = say(llm_tenant, f"我公司报账要那个凭证，弄好了寄给我吧，电话{phone}")
    assert len(fake_llm.requests) == 1
    assert offline["decision"] != "answer"


def test_candidates_below_the_floor_are_not_offered_to_the_model(
    llm_tenant: Service, fake_llm: FakeLlmServer
) -> None:
    import json

    def offered(index: int) -> list[str]:
        user = fake_llm.message_texts(index)[1]
        context = json.loads(user.split("Context (JSON):\n", 1)[1].split("\n\n", 1)[0])
        return [c["id"] for c in context["faq_candidates"]]

    llm_tenant.tenants.set("llm", "llm_candidate_floor", 0.99)
    fake_llm.reply_json({"commands": []})
    say(llm_tenant, "给我讲个笑话吧")  # out of scope: no candidate reaches 0.99
    assert offered(0) == []
    llm_tenant.tenants.set("llm", "llm_candidate_floor", 0.0)
    fake_llm.reply_json({"commands": []})
    say(llm_tenant, "给我讲个笑话吧")
    assert len(offered(1)) == 3


def test_native_tool_calls_carry_the_proposal_when_switched_on(
    llm_tenant: Service, fake_llm: FakeLlmServer
) -> None:
    llm_tenant.tenants.set("llm", "llm_tool_calls", "on")
    unsure = "我公司报销要那个票据，弄好了寄给我吧"
    fake_llm.reply_tool_call(
        "propose_commands", {"commands": [{"command": "answer_faq", "faq_id": "inv-001"}]}
    )
    out = say(llm_tenant, unsure)
    body = fake_llm.requests[0].body
    assert "response_format" not in body
    [tool] = body["tools"]
    assert tool["function"]["name"] == "propose_commands"
    items = tool["function"]["parameters"]["properties"]["commands"]["items"]
    assert "inv-001" in items["properties"]["faq_id"]["enum"]
    assert "call the propose_commands tool" in fake_llm.message_texts(0)[0]
    assert out["faq_id"] == "inv-001" and "申请开票" in out["replies"][0]["text"]
    # a call of any other tool is no proposal: the offline reading stands
    fake_llm.reply_tool_call("refund_everything", {"commands": [{"command": "answer_faq"}]})
    other = say(llm_tenant, unsure)
    assert len(fake_llm.requests) == 2 and other["faq_id"] != "inv-001"


def test_a_proposal_the_code_refuses_leaves_the_offline_answer(
    llm_tenant: Service, fake_llm: FakeLlmServer
) -> None:
    fake_llm.reply_json({"commands": [{"command": "confirm"}]})  # nothing awaits a confirmation
    out = say(llm_tenant, "我公司报销要那个票据，弄好了寄给我吧")
    assert len(fake_llm.requests) == 1
    assert out["replies"] and out["replies"][0]["text"]
    assert "confirm" not in [c["command"] for c in out["commands"]]


def test_a_failing_provider_still_gets_an_offline_answer(
    llm_tenant: Service, fake_llm: FakeLlmServer
) -> None:
    for _ in range(3):  # the call and its two retries
        fake_llm.reply_error(503)
    out = say(llm_tenant, "我公司报销要那个票据，弄好了寄给我吧")
    assert len(fake_llm.requests) == 3
    assert out["replies"] and out["replies"][0]["text"]
    assert out["decision"] in ("clarify", "fallback", "answer")
