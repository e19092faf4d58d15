"""Adapter for any OpenAI-compatible chat-completions endpoint (OpenAI, DeepSeek, Qwen/DashScope,
GLM, Kimi, vLLM, Ollama, Xinference, llama.cpp server ...) through the official ``openai`` SDK.

The SDK's own retries are off (``max_retries=0``): retries, the circuit breaker and fallbacks
are declared in :mod:`kefu.llm.resilience`. Every SDK exception is converted here into a
:class:`kefu.errors.LlmError` subclass; provider response text is never copied into messages.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kefu.errors import (
    ConfigurationError,
    LlmBadOutput,
    LlmError,
    LlmRateLimited,
    LlmRequestRejected,
    LlmServerError,
    LlmTimeout,
    LlmUnavailable,
)
from kefu.llm.port import (
    ChatRequest,
    ChatResult,
    Message,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
    check_schema_reply,
    parse_arguments,
)

DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class OpenAICompatConfig:
    base_url: str
    model: str
    api_key: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OpenAICompatConfig | None:
        """From ``KEFU_LLM_BASE_URL``, ``KEFU_LLM_MODEL`` and ``KEFU_LLM_API_KEY``; ``None``
        when no base URL is set. A base URL without a model is a configuration error."""
        env = os.environ if env is None else env
        base_url = env.get("KEFU_LLM_BASE_URL", "").strip()
        if not base_url:
            return None
        model = env.get("KEFU_LLM_MODEL", "").strip()
        if not model:
            raise ConfigurationError(
                "KEFU_LLM_BASE_URL is set but KEFU_LLM_MODEL is not", field="KEFU_LLM_MODEL"
            )
        return cls(base_url=base_url, model=model, api_key=env.get("KEFU_LLM_API_KEY", ""))


class OpenAICompatProvider:
    """:class:`kefu.llm.port.ChatProvider` over HTTP with the ``openai`` SDK."""

    def __init__(
        self,
        config: OpenAICompatConfig,
        *,
        clock: Callable[[], float] = time.perf_counter,
        http_client: Any = None,
    ) -> None:
        import openai

        self._config = config
        self._clock = clock
        # The SDK refuses an empty key; local servers (Ollama, vLLM) need none.
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=config.api_key or "unused",
            max_retries=0,
            timeout=config.timeout_s,
            http_client=http_client,
        )

    @property
    def model(self) -> str:
        return self._config.model

    def close(self) -> None:
        self._client.close()

    # -- requests --------------------------------------------------------------------------

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params = request_body(request, self._config.model)
        params["timeout"] = (
            request.timeout if request.timeout is not None else self._config.timeout_s
        )
        return params

    def complete(self, request: ChatRequest) -> ChatResult:
        started = self._clock()
        try:
            response = self._client.chat.completions.create(**self._params(request))
        except Exception as exc:
            raise self._convert(exc) from None
        latency = self._clock() - started
        try:
            choice = response.choices[0]
            message = choice.message
            text = message.content or ""
            calls = tuple(
                ToolCall(
                    id=c.id,
                    name=c.function.name,
                    arguments=parse_arguments(c.function.arguments, self.model, c.function.name),
                )
                for c in (message.tool_calls or ())
                if getattr(c, "function", None) is not None
            )
            usage = _usage(response.usage)
            model = str(response.model or self.model)
            finish = choice.finish_reason
        except LlmError:
            raise
        except Exception:
            raise LlmBadOutput(
                "the provider's reply is not a chat completion", model=self.model
            ) from None
        return self._result(request, text, calls, usage, latency, model, finish)

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        started = self._clock()
        params = self._params(request)
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
        try:
            chunks = self._client.chat.completions.create(**params)
        except Exception as exc:
            raise self._convert(exc) from None
        pieces: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage = Usage()
        model = self.model
        finish: str | None = None
        try:
            for chunk in chunks:
                if getattr(chunk, "usage", None) is not None:
                    usage = _usage(chunk.usage)
                model = str(chunk.model or model)
                for choice in chunk.choices or ():
                    delta = choice.delta
                    if choice.finish_reason:
                        finish = choice.finish_reason
                    if delta is None:
                        continue
                    if delta.content:
                        pieces.append(delta.content)
                        yield TextDelta(delta.content)
                    for tc in delta.tool_calls or ():
                        slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                        if tc.id:
                            slot["id"] = tc.id
                        if tc.function is not None:
                            slot["name"] += tc.function.name or ""
                            slot["arguments"] += tc.function.arguments or ""
        except Exception as exc:
            raise self._convert(exc) from None
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if finish is None:
            # The connection dropped mid-stream: what arrived is not the whole answer.
            raise LlmBadOutput("the stream ended before the model finished", model=model)
        tool_calls = tuple(
            ToolCall(
                id=c["id"],
                name=c["name"],
                arguments=parse_arguments(c["arguments"], model, c["name"]),
            )
            for _, c in sorted(calls.items())
        )
        latency = self._clock() - started
        yield self._result(request, "".join(pieces), tool_calls, usage, latency, model, finish)

    def _result(
        self,
        request: ChatRequest,
        text: str,
        calls: tuple[ToolCall, ...],
        usage: Usage,
        latency: float,
        model: str,
        finish: str | None,
    ) -> ChatResult:
        parsed = check_schema_reply(request, text, calls, model)
        return ChatResult(
            text=text,
            model=model,
            usage=usage,
            latency_s=latency,
            parsed=parsed,
            tool_calls=calls,
            finish_reason=finish,
        )

    def _convert(self, exc: Exception) -> LlmError:
        """An SDK / transport exception -> the one error hierarchy."""
        import openai

        model = self.model
        if isinstance(exc, LlmError):
            return exc
        if isinstance(exc, openai.APITimeoutError):
            return LlmTimeout("the LLM provider did not answer in time", model=model)
        if isinstance(exc, openai.APIConnectionError):
            return LlmUnavailable("could not connect to the LLM provider", model=model)
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status == 429:
                return LlmRateLimited(
                    "the LLM provider is rate limiting (429)",
                    model=model,
                    retry_after=_retry_after(exc.response.headers.get("retry-after")),
                )
            if status == 408:
                return LlmTimeout("the LLM provider timed out (408)", model=model)
            if status >= 500:
                return LlmServerError(
                    f"the LLM provider failed (HTTP {status})", model=model, http_status=status
                )
            return LlmRequestRejected(
                f"the LLM provider refused the request (HTTP {status})",
                model=model,
                http_status=status,
            )
        return LlmBadOutput("the provider's reply could not be read", model=model)


def request_body(request: ChatRequest, model: str) -> dict[str, Any]:
    """The chat-completions JSON body for a request (shared with the llama.cpp adapter)."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [_message(m) for m in request.messages],
    }
    if request.schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": request.schema.name,
                "schema": dict(request.schema.schema),
                "strict": request.schema.strict,
            },
        }
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": dict(t.parameters),
                },
            }
            for t in request.tools
        ]
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    return body


def _message(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(dict(c.arguments))},
            }
            for c in m.tool_calls
        ]
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
    return out


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    return Usage(int(raw.prompt_tokens or 0), int(raw.completion_tokens or 0))


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
