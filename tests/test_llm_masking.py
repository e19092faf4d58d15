"""Masking at the port boundary: no registered PII reaches the fake provider, and replies come
back unmasked for trusted code."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from kefu.llm.masking import MaskingProvider, StreamUnmasker, guarded
from kefu.llm.openai_compat import OpenAICompatConfig, OpenAICompatProvider
from kefu.llm.port import ChatRequest, ChatResult, JsonSchema, Message, TextDelta, Tool, ToolCall
from kefu.llm.resilience import NO_RETRY, FallbackChain, ResilientProvider
from kefu.understanding.pii import PiiKind, Vault

if TYPE_CHECKING:
    from tests.fake_llm_server import FakeLlmServer

# The fake LLM server fixtures (fake_llm, llm_pii_ledger).
pytest_plugins = ["tests.fake_llm_server"]

CUSTOMER = {
    "name": "张小明",
    "pinyin": "Zhang Xiaoming",
    "phone": "138 0013 8000",
    "email": "xiaoming.zhang@qq.com",
    "id": "11010519491231002X",
    "card": "6222021234567890128",
    "street": "文三路478号华星科技大厦5楼",
}
MESSAGE = (
    f"我是{CUSTOMER['name']}，手机{CUSTOMER['phone']}，邮箱{CUSTOMER['email']}，"
    f"身份证{CUSTOMER['id']}，退款到卡号{CUSTOMER['card']}，"
    f"寄到浙江省杭州市西湖区{CUSTOMER['street']}，订单#W1234567"
)


def register(fake_llm: FakeLlmServer) -> None:
    fake_llm.register_pii(
        *CUSTOMER.values(), "13800138000", "xiaoming", "zhangxiaoming", "文三路478号"
    )


def provider_for(fake_llm: FakeLlmServer, vault: Vault) -> MaskingProvider:
    adapter = OpenAICompatProvider(OpenAICompatConfig(fake_llm.base_url, "m", timeout_s=2))
    return MaskingProvider(adapter, vault, [CUSTOMER["name"]])


def test_outgoing_messages_are_masked_and_the_reply_unmasked(fake_llm: FakeLlmServer) -> None:
    register(fake_llm)
    vault = Vault()
    provider = provider_for(fake_llm, vault)
    fake_llm.reply_text("好的[NAME_1]，我们会联系 [PHONE_1]，订单#W1234567 已登记")
    result = provider.complete(
        ChatRequest(
            (
                Message("system", f"Customer profile: {CUSTOMER['pinyin']}, {CUSTOMER['email']}"),
                Message("user", MESSAGE),
            )
        )
    )
    # A placeholder maps back to the form first seen (here the pinyin of the system message).
    assert (
        result.text
        == f"好的{CUSTOMER['pinyin']}，我们会联系 {CUSTOMER['phone']}，订单#W1234567 已登记"
    )
    sent = fake_llm.message_texts()
    assert sent[0] == "Customer profile: [NAME_1], [EMAIL_1]"
    assert sent[1] == (
        "我是[NAME_1]，手机[PHONE_1]，邮箱[EMAIL_1]，身份证[ID_1]，退款到卡号[CARD_1]，"
        "寄到浙江省杭州市西湖区[ADDRESS_1]，订单#W1234567"
    )
    fake_llm.assert_no_pii()


def test_tool_call_arguments_are_masked_out_and_unmasked_back(fake_llm: FakeLlmServer) -> None:
    register(fake_llm)
    vault = Vault()
    provider = provider_for(fake_llm, vault)
    tool = Tool("update_phone", "Change the phone", {"type": "object"})
    fake_llm.reply_tool_call("update_phone", {"phone": "[PHONE_1]", "order": "#W1234567"})
    history = (
        Message("user", f"把手机改成 {CUSTOMER['phone']}"),
        Message(
            "assistant",
            "",
            tool_calls=(ToolCall("c0", "lookup", {"email": CUSTOMER["email"], "n": 2}),),
        ),
        Message(
            "tool", json.dumps({"name": CUSTOMER["name"]}, ensure_ascii=False), tool_call_id="c0"
        ),
    )
    result = provider.complete(ChatRequest(history, tools=(tool,)))
    assert result.tool_calls[0].arguments == {"phone": CUSTOMER["phone"], "order": "#W1234567"}
    body = fake_llm.requests[-1].body
    args = json.loads(body["messages"][1]["tool_calls"][0]["function"]["arguments"])
    assert args == {"email": "[EMAIL_1]", "n": 2}
    fake_llm.assert_no_pii()


def test_json_output_is_unmasked(fake_llm: FakeLlmServer) -> None:
    register(fake_llm)
    vault = Vault()
    provider = provider_for(fake_llm, vault)
    schema = JsonSchema("slots", {"type": "object", "properties": {"email": {"type": "string"}}})
    fake_llm.reply_json({"email": "[EMAIL_1]"})
    result = provider.complete(
        ChatRequest((Message("user", f"邮箱 {CUSTOMER['email']}"),), schema=schema)
    )
    assert result.parsed == {"email": CUSTOMER["email"]}


def test_streamed_placeholders_split_across_chunks_are_unmasked(fake_llm: FakeLlmServer) -> None:
    register(fake_llm)
    vault = Vault()
    provider = provider_for(fake_llm, vault)
    fake_llm.reply_text(
        "已记录 [PHONE_1] 和 [EMAIL_1]。",
        chunks=["已记录 [PH", "ONE_", "1] 和 ", "[EMAIL_1", "]。"],
    )
    events = list(provider.stream(ChatRequest((Message("user", MESSAGE),))))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    expected = f"已记录 {CUSTOMER['phone']} 和 {CUSTOMER['email']}。"
    assert text == expected
    last = events[-1]
    assert isinstance(last, ChatResult) and last.text == expected
    fake_llm.assert_no_pii()


@pytest.mark.parametrize(
    "pieces",
    [
        ["[PHONE_1]"],
        ["[", "PHONE_1", "]"],
        ["abc [", "x] [PHONE_1"],
        ["【PHONE_1】 ok"],
        ["[not a placeholder at all, just a long bracket"],
        ["price [", "¥12]"],
    ],
)
def test_stream_unmasker_matches_whole_text_unmasking(pieces: list[str]) -> None:
    vault = Vault()
    vault.placeholder(PiiKind.PHONE, "+8613800138000", "13800138000")
    unmasker = StreamUnmasker(vault)
    out = "".join(unmasker.feed(p) for p in pieces) + unmasker.flush()
    assert out == vault.unmask("".join(pieces))


def test_same_vault_across_turns_and_providers(fake_llm: FakeLlmServer) -> None:
    """A fallback chain of masked providers: each model sees the same placeholders."""
    register(fake_llm)
    vault = Vault()
    a = OpenAICompatProvider(OpenAICompatConfig(fake_llm.base_url, "a", timeout_s=2))
    b = OpenAICompatProvider(OpenAICompatConfig(fake_llm.base_url, "b", timeout_s=2))
    names = [CUSTOMER["name"]]
    chain = FallbackChain(
        [guarded(ResilientProvider(a, retry=NO_RETRY), vault, names), guarded(b, vault, names)]
    )
    fake_llm.reply_error(500)
    fake_llm.reply_text("[PHONE_1] ok")
    result = chain.try_complete(ChatRequest((Message("user", MESSAGE),)))
    assert result is not None and result.text == f"{CUSTOMER['phone']} ok"
    first, second = fake_llm.requests[-2:]
    assert first.body["messages"] == second.body["messages"]
    assert [first.body["model"], second.body["model"]] == ["a", "b"]
    fake_llm.assert_no_pii()


def test_the_leak_check_catches_raw_pii() -> None:
    """The checker itself must be able to fail: an unmasked adapter leaks."""
    from tests.fake_llm_server import FakeLlmServer

    server = FakeLlmServer().start()
    try:
        register(server)
        adapter = OpenAICompatProvider(OpenAICompatConfig(server.base_url, "m", timeout_s=2))
        adapter.complete(ChatRequest((Message("user", "手机13800138000"),)))
        leaks = server.leaks()
        assert leaks and all(leak.startswith("request 0") for leak in leaks)
        with pytest.raises(AssertionError):
            server.assert_no_pii()
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("body", "value", "found"),
    [
        (b'{"c": "138-0013-8000"}', "13800138000", True),
        (b'{"c": "\\u5f20\\u5c0f\\u660e"}', "张小明", True),
        (b'{"c": "+86 138 0013 8000"}', "+8613800138000", True),
        (b'{"c": "XIAOMING.ZHANG@QQ.COM"}', "xiaoming.zhang@qq.com", True),
        (b'{"c": "[PHONE_1]"}', "13800138000", False),
        (b'{"c": "1380013"}', "13800138000", False),
    ],
)
def test_contains_value(body: bytes, value: str, found: bool) -> None:
    from tests.fake_llm_server import contains_value

    assert contains_value(body, value) is found
