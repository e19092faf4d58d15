"""Token and cost accounting."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from kefu.errors import LlmServerError
from kefu.llm.cost import (
    CallRecord,
    CostLedger,
    MeteredProvider,
    PriceTable,
    estimate_tokens,
    group_by,
    summarise,
)
from kefu.llm.openai_compat import OpenAICompatConfig, OpenAICompatProvider
from kefu.llm.port import ChatRequest, Message, Usage, final_result
from kefu.llm.resilience import FallbackChain
from kefu.llm.scripted import ScriptedProvider

if TYPE_CHECKING:
    from tests.fake_llm_server import FakeLlmServer

# The fake LLM server fixtures (fake_llm, llm_pii_ledger).
pytest_plugins = ["tests.fake_llm_server"]

PRICES = PriceTable.from_mapping(
    {
        "gpt-4o-mini": {"input": 0.15, "output": 0.60},
        "deepseek-*": {"input": "0.27", "output": "1.10"},
        "deepseek-reasoner": {"input": 0.55, "output": 2.19},
        "local-qwen": {"input": 0, "output": 0},
    }
)
REQ = ChatRequest((Message("user", "hi"),))


def test_price_per_million_tokens() -> None:
    assert PRICES.cost("gpt-4o-mini", Usage(1_000_000, 0)) == Decimal("0.15")
    assert PRICES.cost("gpt-4o-mini", Usage(2000, 500)) == Decimal("0.0006")
    assert PRICES.cost("local-qwen", Usage(5000, 5000)) == 0


def test_prefix_prices_and_the_longest_match() -> None:
    assert PRICES.cost("deepseek-chat", Usage(1_000_000, 1_000_000)) == Decimal("1.37")
    assert PRICES.cost("deepseek-reasoner", Usage(1_000_000, 0)) == Decimal("0.55")
    assert PRICES.cost("unknown-model", Usage(10, 10)) is None


@pytest.mark.parametrize("bad", [{"m": {"input": 1}}, {"m": {"input": "x", "output": 1}}, {"m": 3}])
def test_bad_price_tables_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PriceTable.from_mapping(bad)


def test_metered_provider_over_http(fake_llm: FakeLlmServer) -> None:
    ledger = CostLedger()
    adapter = OpenAICompatProvider(OpenAICompatConfig(fake_llm.base_url, "deepseek-chat"))
    tags = {"tenant": "shop1", "conversation": "c1", "turn": "1"}
    provider = MeteredProvider(adapter, ledger, PRICES, tags=tags)
    fake_llm.reply_text("a", usage=(1200, 300))
    fake_llm.reply_text("b", usage=(800, 100), chunks=["b"])
    provider.complete(REQ)
    final_result(provider.stream(REQ))
    fake_llm.reply_error(500)
    with pytest.raises(LlmServerError):
        provider.complete(REQ)
    summary = ledger.summary()
    assert summary.calls == 3 and summary.failed_calls == 1
    assert summary.usage == Usage(2000, 400)
    assert summary.cost == (Decimal("0.27") * 2000 + Decimal("1.10") * 400) / 1_000_000
    assert summary.to_dict()["cost"] == "0.000980"
    assert ledger.records()[-1].error == "llm_server_error"
    assert ledger.by("tenant")["shop1"].calls == 3


def test_aggregation_by_tag_and_model() -> None:
    records = [
        CallRecord("a", Usage(10, 5), Decimal("0.1"), 0.5, tags={"conversation": "c1"}),
        CallRecord("b", Usage(20, 5), None, 0.2, tags={"conversation": "c1"}),
        CallRecord("a", Usage(30, 5), Decimal("0.3"), 0.1, tags={"conversation": "c2"}),
    ]
    by_conv = group_by(records, "conversation")
    assert by_conv["c1"].usage == Usage(30, 10) and by_conv["c1"].unpriced_calls == 1
    assert by_conv["c2"].cost == Decimal("0.3")
    assert group_by(records, "model")["a"].calls == 2
    total = summarise(records)
    assert total.cost == Decimal("0.4") and total.usage.total_tokens == 75


def test_fallback_calls_are_metered_per_model() -> None:
    ledger = CostLedger()
    a = MeteredProvider(ScriptedProvider("gpt-4o-mini", [LlmServerError("down")]), ledger, PRICES)
    b = MeteredProvider(ScriptedProvider("local-qwen", ["hello"]), ledger, PRICES)
    assert FallbackChain([a, b]).try_complete(REQ) is not None
    by_model = ledger.by("model")
    assert by_model["gpt-4o-mini"].failed_calls == 1
    assert by_model["local-qwen"].cost == 0


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("你好世界") == 4
    assert estimate_tokens("hello world!") == 3
    assert estimate_tokens("订单 #W1234567") == 2 + 3
