"""A real local GGUF model through the in-process llama.cpp adapter: one JSON-schema call.

    KEFU_LLM_GGUF=PATH .venv/bin/python -m benchmarks.llm_local

Needs the ``llm-local`` extra (``pip install -e '.[llm-local]'``) and a model file, e.g. from
``../shared/tools/fetch-local-llm 1.5b``. Prints the parsed reply, token usage, the call's
latency and the model's load time. Not part of the test suite: the suite never needs a model
file.
"""

from __future__ import annotations

import json
import sys
import time

from kefu.llm.llamacpp import LlamaCppConfig, LlamaCppProvider
from kefu.llm.port import ChatRequest, JsonSchema, Message


def main() -> int:
    config = LlamaCppConfig.from_env()
    if config is None:
        print("set KEFU_LLM_GGUF to a .gguf file", file=sys.stderr)
        return 2
    provider = LlamaCppProvider(
        LlamaCppConfig(config.gguf, n_ctx=1024, max_tokens=48, timeout_s=120)
    )
    try:
        started = time.perf_counter()
        provider.load().result()
        load_s = time.perf_counter() - started
        result = provider.complete(
            ChatRequest(
                (Message("user", 'Reply with JSON {"intent": "refund"} for: 我要退款'),),
                schema=JsonSchema(
                    "intent",
                    {
                        "type": "object",
                        "properties": {"intent": {"type": "string", "enum": ["refund", "other"]}},
                        "required": ["intent"],
                    },
                ),
            )
        )
    finally:
        provider.close()
    print(
        json.dumps(
            {
                "model": result.model,
                "parsed": result.parsed,
                "prompt_tokens": result.usage.prompt_tokens,
                "completion_tokens": result.usage.completion_tokens,
                "latency_s": result.latency_s,
                "load_s": load_s,
                "threads": config.threads,
            },
            ensure_ascii=False,
        )
    )
    return 0 if result.parsed is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
