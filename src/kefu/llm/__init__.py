"""The LLM layer: a provider port, adapters (OpenAI-compatible HTTP, in-process llama.cpp) and
wrappers that stack on the same port (PII masking, retries / circuit breaker / fallback chain,
cost metering), and the writers whose output code checks (grounded document answers, brand-voice
rephrasing). See docs/llm.md.

Adapters are imported from their own modules (``kefu.llm.openai_compat``,
``kefu.llm.llamacpp``) so that importing this package loads no SDK.
"""

from kefu.llm.cost import CostLedger, MeteredProvider, Price, PriceTable
from kefu.llm.grounded import GroundedAnswer, GroundedWriter, Passage
from kefu.llm.masking import MaskingProvider, guarded
from kefu.llm.port import (
    ChatProvider,
    ChatRequest,
    ChatResult,
    JsonSchema,
    Message,
    StreamEvent,
    TextDelta,
    Tool,
    ToolCall,
    Usage,
)
from kefu.llm.rephrase import Rephrased, Rephraser
from kefu.llm.resilience import (
    DEFAULT_RETRY,
    CircuitBreaker,
    FallbackChain,
    ResilientProvider,
    RetryPolicy,
    RetryRule,
)

__all__ = [
    "DEFAULT_RETRY",
    "ChatProvider",
    "ChatRequest",
    "ChatResult",
    "CircuitBreaker",
    "CostLedger",
    "FallbackChain",
    "GroundedAnswer",
    "GroundedWriter",
    "JsonSchema",
    "MaskingProvider",
    "Message",
    "MeteredProvider",
    "Passage",
    "Price",
    "PriceTable",
    "Rephrased",
    "Rephraser",
    "ResilientProvider",
    "RetryPolicy",
    "RetryRule",
    "StreamEvent",
    "TextDelta",
    "Tool",
    "ToolCall",
    "Usage",
    "guarded",
]
