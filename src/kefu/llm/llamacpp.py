"""In-process adapter for a local GGUF model through ``xllamacpp`` (llama.cpp's own server code,
called without HTTP). Optional: ``pip install 'kefu[llm-local]'``; the package is imported only
when a provider is built.

llama.cpp's server speaks the OpenAI chat-completions format, so requests and replies are the
same JSON as over HTTP: ``response_format`` JSON schemas become a grammar (what small local
models need), tools work with the model's Jinja chat template.

One generation runs at a time (a single worker thread: a 2-core server has no room for more).
The model is loaded on that worker too, so a call's timeout also bounds the wait for a model
that is still loading; :meth:`LlamaCppProvider.load` starts loading ahead of the first call. A
timeout stops *waiting*: llama.cpp cannot be interrupted, so the generation runs on (bounded by
``max_tokens``) and the next call waits behind it. llama.cpp keeps the previous prompt in its
cache (``cache_prompt``), so a call whose prompt starts like the last one (the same system
prompt and catalogue) evaluates only the new tokens. Streaming yields the whole text as one
piece.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kefu.errors import (
    ConfigurationError,
    LlmBadOutput,
    LlmError,
    LlmRequestRejected,
    LlmServerError,
    LlmTimeout,
    LlmUnavailable,
)
from kefu.llm.openai_compat import DEFAULT_TIMEOUT_S, request_body
from kefu.llm.port import (
    ChatRequest,
    ChatResult,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
    check_schema_reply,
    parse_arguments,
)


def default_threads() -> int:
    """One core less than the machine has (at least one): llama.cpp's threads wait for each
    other at every step, so one of them descheduled by kefu's own work (the NLU of other
    conversations, the web server) stalls them all -- measured on 2 busy cores: 0.35 tokens/s
    with 2 threads, 6 with 1."""
    return max(1, (os.cpu_count() or 2) - 1)


class ChatServer(Protocol):
    """What the adapter needs of ``xllamacpp.Server``."""

    def handle_chat_completions(self, prompt: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class LlamaCppConfig:
    gguf: Path
    n_ctx: int = 4096
    threads: int = field(default_factory=default_threads)
    max_tokens: int = 512
    timeout_s: float = DEFAULT_TIMEOUT_S
    quiet: bool = True  # no llama.cpp log lines on stderr (it logs every call)

    @property
    def model(self) -> str:
        return self.gguf.stem

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LlamaCppConfig | None:
        """From ``KEFU_LLM_GGUF`` (a path to a .gguf file); ``None`` when unset."""
        env = os.environ if env is None else env
        raw = env.get("KEFU_LLM_GGUF", "").strip()
        if not raw:
            return None
        path = Path(raw).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"KEFU_LLM_GGUF: no such file: {path}", field="KEFU_LLM_GGUF")
        return cls(gguf=path)


def load_server(config: LlamaCppConfig) -> ChatServer:
    """Load the GGUF file into an ``xllamacpp.Server`` (slow: seconds, and the model's size in
    memory)."""
    try:
        import xllamacpp
    except ImportError:
        raise ConfigurationError(
            "a local GGUF model needs the optional package: pip install 'kefu[llm-local]'"
        ) from None
    params = xllamacpp.CommonParams()
    params.model.path = str(config.gguf)
    params.n_ctx = config.n_ctx
    params.n_predict = config.max_tokens
    params.n_parallel = 1
    params.use_jinja = True  # the model's own chat template: needed for tools
    params.cpuparams.n_threads = config.threads
    params.cpuparams_batch.n_threads = config.threads
    if config.quiet:
        params.verbosity = -1
    server: ChatServer = xllamacpp.Server(params)
    return server


class LlamaCppProvider:
    """:class:`kefu.llm.port.ChatProvider` over an in-process llama.cpp server."""

    def __init__(
        self,
        config: LlamaCppConfig,
        *,
        server: ChatServer | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._config = config
        self._server = server
        self._clock = clock
        self._load_lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kefu-llamacpp")

    @property
    def model(self) -> str:
        return self._config.model

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)

    def load(self) -> Future[ChatServer]:
        """Start loading the model on the worker (at once if it is loaded); the future is done
        when it is ready. Calls queue behind the load."""
        return self._worker.submit(self._loaded)

    def _loaded(self) -> ChatServer:
        with self._load_lock:
            if self._server is None:
                try:
                    self._server = load_server(self._config)
                except (LlmError, ConfigurationError):
                    raise
                except Exception:
                    raise LlmUnavailable(
                        "the local model could not be loaded", model=self.model
                    ) from None
            return self._server

    def _generate(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._loaded().handle_chat_completions(body)

    def complete(self, request: ChatRequest) -> ChatResult:
        body = request_body(request, self.model)
        body.setdefault("max_tokens", self._config.max_tokens)
        body["cache_prompt"] = True  # reuse the evaluated prefix of the previous prompt
        timeout = request.timeout if request.timeout is not None else self._config.timeout_s
        started = self._clock()
        future: Future[dict[str, Any]] = self._worker.submit(self._generate, body)
        try:
            data = future.result(timeout=timeout)
        except FutureTimeout:
            raise LlmTimeout("the local model did not answer in time", model=self.model) from None
        except LlmError:
            raise
        except ConfigurationError as exc:  # no xllamacpp: the turn is answered offline
            raise LlmUnavailable(exc.message, model=self.model) from None
        except Exception:
            raise LlmServerError("the local model failed", model=self.model) from None
        return self._result(request, data, self._clock() - started)

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        result = self.complete(request)
        if result.text:
            yield TextDelta(result.text)
        yield result

    def _result(self, request: ChatRequest, data: Any, latency: float) -> ChatResult:
        if not isinstance(data, dict):
            raise LlmBadOutput("the local model's reply is not an object", model=self.model)
        error = data.get("error", data if "choices" not in data and "code" in data else None)
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            if code in (400, 401, 403, 404, 422):
                raise LlmRequestRejected(
                    f"the local model refused the request ({code})", model=self.model
                )
            raise LlmServerError("the local model failed", model=self.model)
        try:
            choice = data["choices"][0]
            message = choice["message"]
            text = message.get("content") or ""
            calls = tuple(
                ToolCall(
                    id=str(c.get("id") or f"call_{i + 1}"),
                    name=str(c["function"]["name"]),
                    arguments=parse_arguments(
                        c["function"].get("arguments"), self.model, str(c["function"]["name"])
                    ),
                )
                for i, c in enumerate(message.get("tool_calls") or ())
            )
            raw_usage = data.get("usage") or {}
            usage = Usage(
                int(raw_usage.get("prompt_tokens") or 0),
                int(raw_usage.get("completion_tokens") or 0),
            )
            finish = choice.get("finish_reason")
        except LlmError:
            raise
        except (KeyError, IndexError, TypeError, AttributeError, ValueError):
            raise LlmBadOutput(
                "the local model's reply is not a chat completion", model=self.model
            ) from None
        parsed = check_schema_reply(request, text, calls, self.model)
        return ChatResult(
            text=text,
            model=self.model,
            usage=usage,
            latency_s=latency,
            parsed=parsed,
            tool_calls=calls,
            finish_reason=finish,
        )
