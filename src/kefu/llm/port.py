"""The LLM provider port: one small interface every adapter and wrapper implements.

A :class:`ChatProvider` takes a :class:`ChatRequest` (messages, and optionally a JSON schema for
constrained output or tools for native tool calls) and returns a :class:`ChatResult` (text,
parsed JSON or tool calls, token usage, latency, model name). ``stream`` yields
:class:`TextDelta` pieces and ends with the complete :class:`ChatResult`.

Adapters raise only :class:`kefu.errors.LlmError` subclasses; wrappers (masking, resilience,
cost) implement the same port, so they stack in any order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

from kefu.errors import LlmBadOutput
from kefu.llm.schema import schema_problems

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asks for: ``arguments`` parsed from its JSON."""

    id: str
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()  # on an assistant message that called tools
    tool_call_id: str | None = None  # on a tool message: which call it answers


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call; ``parameters`` is a JSON schema object."""

    name: str
    description: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class JsonSchema:
    """Constrained output: the reply must be JSON matching ``schema``."""

    name: str
    schema: Mapping[str, Any]
    strict: bool = True


@dataclass(frozen=True, slots=True)
class ChatRequest:
    messages: tuple[Message, ...]
    schema: JsonSchema | None = None
    tools: tuple[Tool, ...] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    timeout: float | None = None  # seconds for this call; None: the adapter's default

    def with_messages(self, messages: Sequence[Message]) -> ChatRequest:
        return replace(self, messages=tuple(messages))


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True, slots=True)
class ChatResult:
    text: str
    model: str
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    parsed: Any = None  # the JSON value when the request had a schema
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of streamed text."""

    text: str


StreamEvent = TextDelta | ChatResult


@runtime_checkable
class ChatProvider(Protocol):
    """Anything that answers chat requests: an adapter or a wrapper around one."""

    @property
    def model(self) -> str: ...

    def complete(self, request: ChatRequest) -> ChatResult: ...

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]: ...


def parse_json_reply(text: str, model: str) -> Any:
    """The JSON value in a reply to a schema request; tolerates a Markdown code fence (small
    models add one). Raises :class:`LlmBadOutput`."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    try:
        return json.loads(body)
    except ValueError:
        raise LlmBadOutput("the model's reply is not valid JSON", model=model) from None


def parse_arguments(raw: str | None, model: str, tool: str) -> Mapping[str, Any]:
    """Tool-call arguments (a JSON object) or :class:`LlmBadOutput`."""
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        raise LlmBadOutput(
            f"arguments of tool call {tool!r} are not valid JSON", model=model
        ) from None
    if not isinstance(value, dict):
        raise LlmBadOutput(f"arguments of tool call {tool!r} are not an object", model=model)
    return value


def check_schema_reply(
    request: ChatRequest, text: str, calls: Sequence[ToolCall], model: str
) -> Any:
    """The parsed JSON of a reply to a schema request (``None`` without a schema, or when the
    model called tools instead); :class:`LlmBadOutput` when it is not JSON or breaks the
    schema."""
    if request.schema is None or calls:
        return None
    parsed = parse_json_reply(text, model)
    problems = schema_problems(parsed, request.schema.schema)
    if problems:
        raise LlmBadOutput(
            "the model's JSON does not match the schema", model=model, problems=problems[:10]
        )
    return parsed


def final_result(events: Iterator[StreamEvent]) -> ChatResult:
    """Drain a stream and return its closing result."""
    result: ChatResult | None = None
    for event in events:
        if isinstance(event, ChatResult):
            result = event
    if result is None:
        raise LlmBadOutput("the stream ended without a result")
    return result
