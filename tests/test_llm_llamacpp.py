"""The in-process llama.cpp adapter. The conversion of requests and replies is tested against a
stub of ``xllamacpp.Server``; a real GGUF model is used only when ``KEFU_LLM_GGUF`` names one
(and the optional ``xllamacpp`` package is installed)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from kefu.errors import (
    ConfigurationError,
    LlmBadOutput,
    LlmRequestRejected,
    LlmServerError,
    LlmTimeout,
)
from kefu.llm.llamacpp import LlamaCppConfig, LlamaCppProvider
from kefu.llm.port import (
    ChatProvider,
    ChatRequest,
    ChatResult,
    JsonSchema,
    Message,
    TextDelta,
    Tool,
    ToolCall,
)

REQ = ChatRequest((Message("system", "You are kefu."), Message("user", "你好")))
SCHEMA = JsonSchema("intent", {"type": "object", "required": ["intent"]})


class StubServer:
    def __init__(self, *replies: dict[str, Any]) -> None:
        self.replies = list(replies)
        self.prompts: list[dict[str, Any]] = []
        self.release: threading.Event | None = None

    def handle_chat_completions(self, prompt: dict[str, Any]) -> dict[str, Any]:
        self.prompts.append(prompt)
        if self.release is not None:
            self.release.wait(10)
        return self.replies.pop(0)


def completion(
    content: str | None, tool_calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 21, "completion_tokens": 4},
        "model": "whatever",
    }


def provider(server: StubServer, **config: Any) -> LlamaCppProvider:
    return LlamaCppProvider(LlamaCppConfig(Path("/models/qwen-1.5b.gguf"), **config), server=server)


def test_text_reply_and_request_body() -> None:
    server = StubServer(completion("您好"))
    p = provider(server)
    assert isinstance(p, ChatProvider) and p.model == "qwen-1.5b"
    result = p.complete(REQ)
    assert result.text == "您好" and result.model == "qwen-1.5b"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (21, 4)
    assert server.prompts[0]["messages"][1] == {"role": "user", "content": "你好"}
    assert server.prompts[0]["max_tokens"] == 512


def test_schema_and_tools_are_passed_and_parsed() -> None:
    server = StubServer(
        completion('{"intent": "refund"}'),
        completion(
            None,
            [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}],
        ),
    )
    p = provider(server)
    assert p.complete(ChatRequest(REQ.messages, schema=SCHEMA)).parsed == {"intent": "refund"}
    assert server.prompts[0]["response_format"]["json_schema"]["schema"] == SCHEMA.schema
    tool = Tool("f", "d", {"type": "object"})
    result = p.complete(ChatRequest(REQ.messages, tools=(tool,)))
    assert result.tool_calls == (ToolCall("c1", "f", {"a": 1}),)
    assert server.prompts[1]["tools"][0]["function"]["name"] == "f"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ({"code": 400, "message": "bad", "type": "invalid_request_error"}, LlmRequestRejected),
        ({"error": {"code": 500, "message": "boom"}}, LlmServerError),
        ({"choices": []}, LlmBadOutput),
        ({"nothing": True}, LlmBadOutput),
        (completion("not json"), LlmBadOutput),
    ],
)
def test_errors_are_typed(reply: dict[str, Any], error: type[Exception]) -> None:
    p = provider(StubServer(reply))
    request = ChatRequest(REQ.messages, schema=SCHEMA)
    with pytest.raises(error):
        p.complete(request)


def test_timeout_stops_waiting() -> None:
    server = StubServer(completion("late"), completion("next"))
    server.release = threading.Event()
    p = provider(server)
    try:
        with pytest.raises(LlmTimeout):
            p.complete(ChatRequest(REQ.messages, timeout=0.05))
    finally:
        server.release.set()
    assert p.complete(REQ).text == "next"
    p.close()


def test_stream_yields_the_whole_text() -> None:
    events = list(provider(StubServer(completion("整段回答"))).stream(REQ))
    assert events[0] == TextDelta("整段回答") and isinstance(events[1], ChatResult)


def test_config_from_env(tmp_path: Path) -> None:
    assert LlamaCppConfig.from_env({}) is None
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    config = LlamaCppConfig.from_env({"KEFU_LLM_GGUF": str(gguf)})
    assert config is not None and config.gguf == gguf and config.model == "m"
    with pytest.raises(ConfigurationError):
        LlamaCppConfig.from_env({"KEFU_LLM_GGUF": str(tmp_path / "missing.gguf")})
