"""The provider stack a tenant's settings and the environment describe.

:class:`LlmConfig` resolves what to call: the tenant's ``llm_base_url`` / ``llm_model`` over
``KEFU_LLM_BASE_URL`` / ``KEFU_LLM_MODEL``, or an in-process GGUF from ``KEFU_LLM_GGUF`` (a file
path is a server-side choice, never a tenant setting; neither is the API key). ``None`` means
no LLM: the offline engine does everything.

:class:`ProviderRegistry` builds, per model, ``MeteredProvider(ResilientProvider(adapter))`` and
keeps it -- with its circuit breaker -- for as long as the configuration is unchanged, so a
provider that keeps failing stays shut across turns and conversations. :meth:`chain` returns the
model and its fallbacks as one :class:`FallbackChain`; callers wrap it per conversation with
:func:`kefu.llm.masking.guarded` so that nothing leaves unmasked.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kefu.errors import ConfigurationError
from kefu.llm.cost import CostLedger, MeteredProvider, PriceTable
from kefu.llm.port import ChatProvider
from kefu.llm.resilience import CircuitBreaker, FallbackChain, ResilientProvider
from kefu.settings import parse_prices

AdapterFactory = Callable[["LlmConfig", str], ChatProvider]


@dataclass(frozen=True, slots=True)
class LlmConfig:
    """What to call and how patiently. ``models`` is the model, then its fallbacks."""

    base_url: str
    models: tuple[str, ...]
    api_key: str = ""
    gguf: str = ""
    timeout_s: float = 8.0
    breaker_failures: int = 5
    breaker_cool_down_s: float = 30.0
    max_calls_per_turn: int = 2
    prices: tuple[tuple[str, str, str], ...] = ()  # (model pattern, input, output) per 1M
    currency: str = "CNY"

    @classmethod
    def resolve(
        cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> LlmConfig | None:
        """The tenant's settings over the environment; ``None`` when no LLM is configured or
        ``llm_max_calls_per_turn`` is 0."""
        env = os.environ if env is None else env
        calls = int(settings.get("llm_max_calls_per_turn", 2))
        if calls <= 0:
            return None
        base_url = str(settings.get("llm_base_url") or env.get("KEFU_LLM_BASE_URL", "")).strip()
        gguf = "" if base_url else env.get("KEFU_LLM_GGUF", "").strip()
        if not base_url and not gguf:
            return None
        model = str(settings.get("llm_model") or env.get("KEFU_LLM_MODEL", "")).strip()
        if base_url and not model:
            raise ConfigurationError(
                "an LLM endpoint is set but no model: set llm_model or KEFU_LLM_MODEL",
                field="llm_model",
            )
        if gguf:
            if not os.path.isfile(gguf):
                raise ConfigurationError(
                    f"KEFU_LLM_GGUF: no such file: {gguf}", field="KEFU_LLM_GGUF"
                )
            model = os.path.splitext(os.path.basename(gguf))[0]  # the file names the model
        fallbacks = [
            m.strip()
            for m in str(settings.get("llm_fallback_models") or "").split(",")
            if m.strip() and m.strip() != model
        ]
        prices = parse_prices(str(settings.get("llm_prices") or ""))
        return cls(
            base_url=base_url,
            models=(model, *([] if gguf else fallbacks)),
            api_key=env.get("KEFU_LLM_API_KEY", ""),
            gguf=gguf,
            timeout_s=float(settings.get("llm_timeout_s", 8.0)),
            breaker_failures=int(settings.get("llm_breaker_failures", 5)),
            breaker_cool_down_s=float(settings.get("llm_breaker_cool_down_s", 30.0)),
            max_calls_per_turn=calls,
            prices=tuple((k, v["input"], v["output"]) for k, v in prices.items()),
            currency=str(settings.get("llm_currency") or "CNY"),
        )

    def price_table(self) -> PriceTable:
        return PriceTable.from_mapping(
            {name: {"input": i, "output": o} for name, i, o in self.prices}, self.currency
        )


def default_adapter(config: LlmConfig, model: str) -> ChatProvider:
    """The real adapter: OpenAI-compatible HTTP, or llama.cpp in process for a GGUF file."""
    if config.gguf:
        from pathlib import Path

        from kefu.llm.llamacpp import LlamaCppConfig, LlamaCppProvider

        return LlamaCppProvider(LlamaCppConfig(Path(config.gguf), timeout_s=config.timeout_s))
    from kefu.llm.openai_compat import OpenAICompatConfig, OpenAICompatProvider

    return OpenAICompatProvider(
        OpenAICompatConfig(config.base_url, model, config.api_key, timeout_s=config.timeout_s)
    )


class ProviderRegistry:
    """One resilient provider (adapter, retries, circuit breaker) per endpoint, model and
    patience, kept across turns; each :meth:`chain` meters its calls into the ledger with the
    caller's tags (tenant, conversation)."""

    def __init__(
        self,
        ledger: CostLedger | None = None,
        *,
        adapter: AdapterFactory = default_adapter,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ledger = ledger if ledger is not None else CostLedger()
        self._adapter = adapter
        self._clock = clock
        self._sleep = sleep
        self._providers: dict[tuple[Any, ...], ResilientProvider] = {}
        self._lock = threading.Lock()

    def _provider(self, config: LlmConfig, model: str) -> ResilientProvider:
        one = replace(config, models=(model,))
        key = (one.base_url, one.gguf, model, one.timeout_s, one.breaker_failures,
               one.breaker_cool_down_s)  # fmt: skip
        with self._lock:
            found = self._providers.get(key)
            if found is None:
                breaker = CircuitBreaker(
                    config.breaker_failures, config.breaker_cool_down_s, clock=self._clock
                )
                found = ResilientProvider(
                    self._adapter(one, model),
                    breaker=breaker,
                    deadline_s=config.timeout_s,
                    clock=self._clock,
                    sleep=self._sleep,
                )
                self._providers[key] = found
            return found

    def chain(self, config: LlmConfig, tags: Mapping[str, str] | None = None) -> FallbackChain:
        """The model, then its fallbacks, each metered with ``tags``; ``try_complete``
        returning ``None`` means "answer with the offline engine"."""
        prices = config.price_table()
        return FallbackChain(
            [
                MeteredProvider(self._provider(config, m), self.ledger, prices, tags=tags)
                for m in config.models
            ]
        )


def gguf_path(value: str) -> Path:
    """The local model file an ``--llm`` option names (``kefu demo``, ``kefu bench tau``):
    an existing ``.gguf`` file, with the optional package that runs it installed. Raises
    ConfigurationError naming what is wrong."""
    import importlib.util

    path = Path(value).expanduser()
    if path.suffix.lower() != ".gguf":
        raise ConfigurationError(
            f"--llm: expected a .gguf model file or an http(s):// URL, got {value!r}", field="llm"
        )
    if not path.is_file():
        raise ConfigurationError(f"--llm: no such file: {path}", field="llm")
    if importlib.util.find_spec("xllamacpp") is None:
        raise ConfigurationError(
            "--llm with a .gguf file needs the optional package xllamacpp: "
            "pip install 'kefu[llm-local]'",
            field="llm",
        )
    return path
