"""The LLM of a benchmark run (``--llm``): it plays the customer and, with ``--agent llm``, also
answers kefu's unsure turns through the tenant's LLM settings.

``--llm`` is an OpenAI-compatible base URL (model from ``--llm-model`` or ``KEFU_LLM_MODEL``,
key from ``KEFU_LLM_API_KEY``, as kefu's own provider factory reads them) or a local ``.gguf``
file run in process (:mod:`kefu.llm.llamacpp`, ``pip install 'kefu[llm-local]'``). A local
model is loaded once and shared by the customer and every trial's kefu.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kefu.errors import ConfigurationError
from kefu.llm.factory import LlmConfig, ProviderRegistry, gguf_path
from kefu.llm.port import ChatProvider

if TYPE_CHECKING:
    from kefu.service import Service

CUSTOMER_TIMEOUT_S = 60.0  # one customer message from an endpoint, retries included
LOCAL_TIMEOUT_S = 120.0  # one call to a local model on a small CPU (the largest kefu allows)
LOCAL_CONTEXT = 8192  # tokens: a 30-turn conversation fits


@dataclass(frozen=True)
class BenchLlm:
    """The run's LLM: ``customer`` plays the customer; :meth:`agent_settings`,
    :meth:`agent_env` and :meth:`configure` make kefu use the same model."""

    customer: ChatProvider
    label: str
    base_url: str = ""
    model: str = ""
    gguf: Path | None = None
    timeout_s: float = CUSTOMER_TIMEOUT_S
    shared: ChatProvider | None = field(default=None, repr=False)  # the local model

    def agent_settings(self) -> dict[str, Any]:
        """The tenant settings with which kefu's understanding uses this LLM."""
        if self.gguf is not None:
            return {
                "llm_base_url": "",
                "llm_model": "",
                "llm_max_calls_per_turn": 2,
                "llm_timeout_s": min(self.timeout_s, LOCAL_TIMEOUT_S),
            }
        return {"llm_base_url": self.base_url, "llm_model": self.model, "llm_max_calls_per_turn": 2}

    def agent_env(self) -> dict[str, str | None]:
        """Process environment changes kefu needs for it (a model file is never a tenant
        setting: ``KEFU_LLM_GGUF``); ``None`` removes a variable."""
        if self.gguf is None:
            return {}
        return {"KEFU_LLM_GGUF": str(self.gguf), "KEFU_LLM_BASE_URL": None}

    def configure(self, svc: Service) -> None:
        """Make ``svc`` call the already loaded local model instead of loading its own."""
        shared = self.shared
        if shared is not None:
            svc.llm_registry = ProviderRegistry(adapter=lambda _config, _model: shared)


def bench_llm(
    value: str,
    model: str | None = None,
    *,
    timeout_s: float | None = None,
    env: Mapping[str, str] | None = None,
) -> BenchLlm:
    """Check ``--llm VALUE`` and build the customer's provider (retries and a circuit breaker
    as for kefu's own calls). Raises :class:`ConfigurationError`."""
    env = os.environ if env is None else env
    if value.startswith(("http://", "https://")):
        if not urlsplit(value).hostname:
            raise ConfigurationError(f"--llm: {value!r} is not a valid URL", field="llm")
        name = (model or env.get("KEFU_LLM_MODEL", "")).strip()
        if not name:
            raise ConfigurationError(
                "--llm URL needs a model name: --llm-model NAME or KEFU_LLM_MODEL", field="llm"
            )
        timeout = timeout_s or CUSTOMER_TIMEOUT_S
        config = LlmConfig(
            base_url=value,
            models=(name,),
            api_key=env.get("KEFU_LLM_API_KEY", ""),
            timeout_s=timeout,
        )
        chain = ProviderRegistry().chain(config, {"purpose": "bench-customer"})
        return BenchLlm(chain, f"{name} ({value})", value, name, timeout_s=timeout)
    path = gguf_path(value)
    from kefu.llm.llamacpp import LlamaCppConfig, LlamaCppProvider

    timeout = timeout_s or LOCAL_TIMEOUT_S
    path = path.resolve()
    local = LlamaCppProvider(LlamaCppConfig(path, n_ctx=LOCAL_CONTEXT, timeout_s=timeout))
    config = LlmConfig(base_url="", models=(path.stem,), gguf=str(path), timeout_s=timeout)
    registry = ProviderRegistry(adapter=lambda _config, _model: local)
    chain = registry.chain(config, {"purpose": "bench-customer"})
    return BenchLlm(
        chain, f"{path.stem} (local llama.cpp)", model=path.stem, gguf=path, timeout_s=timeout,
        shared=local,
    )  # fmt: skip
