"""The OpenAI-compatible adapter over real HTTP (the official SDK) against the fake server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from kefu.errors import (
    ConfigurationError,
    LlmBadOutput,
    LlmError,
    LlmRateLimited,
    LlmRequestRejected,
    LlmServerError,
    LlmTimeout,
    LlmUnavailable,
    ProviderError,
)
from kefu.llm.openai_compat import OpenAICompatConfig, OpenAICompatProvider
from kefu.llm.port import (
    ChatProvider,
    ChatRequest,
    ChatResult,
    JsonSchema,
    Message,
    TextDelta,
    Tool,
    ToolCall,
    final_result,
)

if TYPE_CHECKING:
    from tests.fake_llm_server import FakeLlmServer

# The fake LLM server fixtures (fake_llm, llm_pii_ledger).
pytest_plugins = ["tests.fake_llm_server"]

INTENT = JsonSchema(
    "intent",
    {
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": ["refund", "track", "other"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["intent"],
        "additionalProperties": False,
    },
)
START_FLOW = Tool(
    "start_flow",
    "Start a business flow",
    {"type": "object", "properties": {"flow": {"type": "string"}}, "required": ["flow"]},
)


def ask(text: str = "hi", **kwargs: object) -> ChatRequest:
    return ChatRequest((Message("system", "You are kefu."), Message("user", text)), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def provider(fake_llm: FakeLlmServer) -> Iterator[OpenAICompatProvider]:
    p = OpenAICompatProvider(
        OpenAICompatConfig(fake_llm.base_url, "qwen-test", "sk-test", timeout_s=2.0)
    )
    yield p
    p.close()


def test_adapter_implements_the_port(provider: OpenAICompatProvider) -> None:
    assert isinstance(provider, ChatProvider)
    assert provider.model == "qwen-test"


def test_plain_completion(fake_llm: FakeLlmServer, provider: OpenAICompatProvider) -> None:
    fake_llm.reply_text("您好，请问有什么可以帮您？", usage=(31, 9))
    result = provider.complete(ask("你好", temperature=0.2, max_tokens=64))
    assert result.text == "您好，请问有什么可以帮您？"
    assert result.model == "qwen-test"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (31, 9)
    assert result.usage.total_tokens == 40
    assert result.latency_s > 0
    assert result.finish_reason == "stop"
    sent = fake_llm.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["model"] == "qwen-test"
    assert sent.body["messages"] == [
        {"role": "system", "content": "You are kefu."},
        {"role": "user", "content": "你好"},
    ]
    assert sent.body["temperature"] == 0.2 and sent.body["max_tokens"] == 64
    assert "response_format" not in sent.body and "tools" not in sent.body


def test_json_schema_output(fake_llm: FakeLlmServer, provider: OpenAICompatProvider) -> None:
    fake_llm.reply_json({"intent": "refund", "confidence": 0.9})
    result = provider.complete(ask("我要退款", schema=INTENT))
    assert result.parsed == {"intent": "refund", "confidence": 0.9}
    fmt = fake_llm.requests[-1].body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "intent"
    assert fmt["json_schema"]["schema"] == INTENT.schema
    assert fmt["json_schema"]["strict"] is True


def test_json_in_a_code_fence_is_accepted(
    fake_llm: FakeLlmServer, provider: OpenAICompatProvider
) -> None:
    fake_llm.reply_text('```json\n{"intent": "track"}\n```')
    assert provider.complete(ask(schema=INTENT)).parsed == {"intent": "track"}


@pytest.mark.parametrize(
    "reply",
    [
        "not json at all",
        '{"intent": "refund"',  # cut short
        '{"intent": "fly"}',  # not in the enum
        '{"confidence": 0.5}',  # required key missing
        '{"intent": "track", "extra": 1}',  # additionalProperties false
        '["intent", "track"]',  # wrong type
        '{"intent": "track", "confidence": 7}',  # above maximum
    ],
)
def test_json_that_breaks_the_schema_is_bad_output(
    fake_llm: FakeLlmServer, provider: OpenAICompatProvider, reply: str
) -> None:
    fake_llm.reply_text(reply)
    with pytest.raises(LlmBadOutput) as caught:
        provider.complete(ask(schema=INTENT))
    assert reply not in caught.value.message  # provider text is never echoed


def test_native_tool_call(fake_llm: FakeLlmServer, provider: OpenAICompatProvider) -> None:
    fake_llm.reply_tool_call("start_flow", {"flow": "return_items"}, usage=(50, 12))
    result = provider.complete(ask("我要退货", tools=(START_FLOW,)))
    assert result.tool_calls == (ToolCall("call_1", "start_flow", {"flow": "return_items"}),)
    assert result.finish_reason == "tool_calls"
    assert result.parsed is None
    tools = fake_llm.requests[-1].body["tools"]
    assert tools == [
        {
            "type": "function",
            "function": {
                "name": "start_flow",
                "description": "Start a business flow",
                "parameters": dict(START_FLOW.parameters),
            },
        }
    ]


def test_tool_call_round_trip_messages(
    fake_llm: FakeLlmServer, provider: OpenAICompatProvider
) -> None:
    fake_llm.reply_text("已为您开始退货")
    call = ToolCall("call_1", "start_flow", {"flow": "return_items"})
    provider.complete(
        ChatRequest(
            (
                Message("user", "退货"),
                Message("assistant", "", tool_calls=(call,)),
                Message("tool", '{"ok": true}', tool_call_id="call_1"),
            ),
            tools=(START_FLOW,),
        )
    )
    messages = fake_llm.requests[-1].body["messages"]
    assert messages[1]["tool_calls"][0]["function"] == {
        "name": "start_flow",
        "arguments": '{"flow": "return_items"}',
    }
    assert messages[2] == {"role": "tool", "content": '{"ok": true}', "tool_call_id": "call_1"}


def test_streaming_text(fake_llm: FakeLlmServer, provider: OpenAICompatProvider) -> None:
    fake_llm.reply_text("您的订单已发货", usage=(20, 7), chunks=["您的", "订单", "已发货"])
    events = list(provider.stream(ask("发货了吗")))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas == ["您的", "订单", "已发货"]
    result = events[-1]
    assert isinstance(result, ChatResult)
    assert result.text == "您的订单已发货"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (20, 7)
    body = fake_llm.requests[-1].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_streaming_tool_call_and_json(
    fake_llm: FakeLlmServer, provider: OpenAICompatProvider
) -> None:
    fake_llm.reply_tool_call("start_flow", {"flow": "换货"})
    result = final_result(provider.stream(ask(tools=(START_FLOW,))))
    assert result.tool_calls == (ToolCall("call_1", "start_flow", {"flow": "换货"}),)
    fake_llm.reply_json({"intent": "track"})
    assert final_result(provider.stream(ask(schema=INTENT))).parsed == {"intent": "track"}


@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [
        (429, LlmRateLimited, True),
        (500, LlmServerError, True),
        (503, LlmServerError, True),
        (400, LlmRequestRejected, False),
        (401, LlmRequestRejected, False),
        (404, LlmRequestRejected, False),
        (422, LlmRequestRejected, False),
        (408, LlmTimeout, True),
    ],
)
def test_http_errors_become_typed_errors(
    fake_llm: FakeLlmServer,
    provider: OpenAICompatProvider,
    status: int,
    error: type[LlmError],
    retryable: bool,
) -> None:
    fake_llm.reply_error(status, message="secret upstream text 13800138000")
    with pytest.raises(error) as caught:
        provider.complete(ask())
    assert type(caught.value) is error
    assert isinstance(caught.value, ProviderError)
    assert caught.value.retryable is retryable
    assert "secret upstream" not in caught.value.message
    assert caught.value.to_dict()["details"]["model"] == "qwen-test"
    assert len(fake_llm.requests) == 1  # the SDK's own retries are off


def test_rate_limit_carries_retry_after(
    fake_llm: FakeLlmServer, provider: OpenAICompatProvider
) -> None:
    fake_llm.reply_error(429, retry_after=3)
    with pytest.raises(LlmRateLimited) as caught:
        provider.complete(ask())
    assert caught.value.retry_after == 3.0
    assert caught.value.status == 503


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502 Bad Gateway</html>",
        b"",
        b'{"foo": 1}',
        b'{"choices": []}',
        b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "x", '
        b'"tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", '
        b'"arguments": "{not json"}}]}}]}',
    ],
)
def test_garbage_bodies_become_bad_output(
    fake_llm: FakeLlmServer, provider: OpenAICompatProvider, body: bytes
) -> None:
    fake_llm.reply_garbage(body)
    with pytest.raises(LlmBadOutput):
        provider.complete(ask())


def test_garbage_in_a_stream(fake_llm: FakeLlmServer, provider: OpenAICompatProvider) -> None:
    fake_llm.reply_stream_garbage()
    with pytest.raises(LlmBadOutput):
        list(provider.stream(ask()))


def test_a_stream_cut_short_is_an_error_not_a_short_answer(
    fake_llm: FakeLlmServer, provider: OpenAICompatProvider
) -> None:
    fake_llm.reply_stream_cut("您的订单已经发货了")
    seen: list[str] = []
    with pytest.raises(LlmError):
        for event in provider.stream(ask()):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    assert "".join(seen) == "您的订单"


def test_timeout(fake_llm: FakeLlmServer, provider: OpenAICompatProvider) -> None:
    release = fake_llm.reply_hang()
    try:
        with pytest.raises(LlmTimeout) as caught:
            provider.complete(ask(timeout=0.2))
    finally:
        release.set()
    assert caught.value.retryable and caught.value.status == 504
    assert fake_llm.requests[-1].body["messages"][-1]["content"] == "hi"


def test_stream_timeout(fake_llm: FakeLlmServer, provider: OpenAICompatProvider) -> None:
    release = fake_llm.reply_hang()
    try:
        with pytest.raises(LlmTimeout):
            list(provider.stream(ask(timeout=0.2)))
    finally:
        release.set()


def test_nothing_listening_is_unavailable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = OpenAICompatProvider(OpenAICompatConfig(f"http://127.0.0.1:{port}/v1", "m", timeout_s=1))
    with pytest.raises(LlmUnavailable):
        p.complete(ask())


def test_config_from_env() -> None:
    assert OpenAICompatConfig.from_env({}) is None
    config = OpenAICompatConfig.from_env(
        {
            "KEFU_LLM_BASE_URL": "http://127.0.0.1:8000/v1",
            "KEFU_LLM_MODEL": "deepseek-chat",
            "KEFU_LLM_API_KEY": "sk-x",
        }
    )
    assert config == OpenAICompatConfig("http://127.0.0.1:8000/v1", "deepseek-chat", "sk-x")
    with pytest.raises(ConfigurationError):
        OpenAICompatConfig.from_env({"KEFU_LLM_BASE_URL": "http://127.0.0.1:8000/v1"})


def test_no_key_is_fine_for_local_servers(fake_llm: FakeLlmServer) -> None:
    p = OpenAICompatProvider(OpenAICompatConfig(fake_llm.base_url, "llama"))
    fake_llm.reply_text("ok")
    assert p.complete(ask()).text == "ok"
