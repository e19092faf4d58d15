"""Token and cost accounting.

A :class:`PriceTable` holds input and output prices per million tokens per model (exact names,
or a prefix ending in ``*`` such as ``"deepseek-*"``). :class:`MeteredProvider` records every
call (model, tokens, cost, latency, outcome) in a :class:`CostLedger`; records are tagged with
tenant / conversation / purpose and aggregate by any of them. :func:`llm_purpose` retags the
calls made inside a block. The service takes a conversation's records out of the ledger after
each turn (:meth:`CostLedger.take`) and stores them with the turn
(:mod:`kefu.storage.llm_calls`); :class:`CostTotals` sums them per turn, conversation or report
line.

Money is :class:`decimal.Decimal`, rounded to 1e-6 of the currency unit only when shown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kefu.errors import LlmError
from kefu.llm.port import ChatProvider, ChatRequest, ChatResult, StreamEvent, Usage

_MILLION = Decimal(1_000_000)
_PURPOSE: ContextVar[str | None] = ContextVar("kefu_llm_purpose", default=None)


@contextmanager
def llm_purpose(purpose: str) -> Iterator[None]:
    """Tag the calls metered inside the block with ``purpose`` (``"grounded"``,
    ``"rephrase"`` ...), over the ``purpose`` tag of the provider, so one provider can serve
    several purposes::

        with llm_purpose("grounded"):
            writer.write(question, passages)
    """
    token = _PURPOSE.set(purpose)
    try:
        yield
    finally:
        _PURPOSE.reset(token)


@dataclass(frozen=True, slots=True)
class Price:
    """Prices per one million tokens."""

    input_per_m: Decimal
    output_per_m: Decimal

    def cost(self, usage: Usage) -> Decimal:
        return (
            self.input_per_m * usage.prompt_tokens + self.output_per_m * usage.completion_tokens
        ) / _MILLION


@dataclass(frozen=True, slots=True)
class PriceTable:
    prices: Mapping[str, Price] = field(default_factory=dict)
    currency: str = "USD"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], currency: str = "USD") -> PriceTable:
        """``{"model": {"input": 0.27, "output": 1.10}}`` (per 1M tokens) -> a table."""
        prices: dict[str, Price] = {}
        for model, entry in data.items():
            try:
                prices[str(model)] = Price(
                    Decimal(str(entry["input"])), Decimal(str(entry["output"]))
                )
            except (KeyError, TypeError, ArithmeticError, ValueError):
                raise ValueError(
                    f"price of {model!r} needs numeric 'input' and 'output' (per 1M tokens)"
                ) from None
        return cls(prices, currency)

    def price_for(self, model: str) -> Price | None:
        if model in self.prices:
            return self.prices[model]
        best: tuple[int, Price] | None = None
        for name, price in self.prices.items():
            prefix = name.endswith("*") and model.startswith(name[:-1])
            if prefix and (best is None or len(name) > best[0]):
                best = (len(name), price)
        return None if best is None else best[1]

    def cost(self, model: str, usage: Usage) -> Decimal | None:
        """The cost of one call; ``None`` when the model has no price (a local model is free:
        give it a zero price to say so)."""
        price = self.price_for(model)
        return None if price is None else price.cost(usage)


@dataclass(frozen=True, slots=True)
class CallRecord:
    model: str
    usage: Usage
    cost: Decimal | None
    latency_s: float
    ok: bool = True
    error: str | None = None  # the error code of a failed call
    tags: Mapping[str, str] = field(default_factory=dict)
    currency: str = ""  # of ``cost``: the price table's currency

    @property
    def outcome(self) -> str:
        """``"ok"``, or the error code of a failed call."""
        return "ok" if self.ok else (self.error or "error")


@dataclass(frozen=True, slots=True)
class CostSummary:
    calls: int = 0
    failed_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: Decimal = Decimal(0)
    unpriced_calls: int = 0
    latency_s: float = 0.0

    def add(self, record: CallRecord) -> CostSummary:
        return CostSummary(
            calls=self.calls + 1,
            failed_calls=self.failed_calls + (0 if record.ok else 1),
            usage=self.usage + record.usage,
            cost=self.cost + (record.cost or Decimal(0)),
            unpriced_calls=self.unpriced_calls + (1 if record.cost is None and record.ok else 0),
            latency_s=self.latency_s + record.latency_s,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "failed_calls": self.failed_calls,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "cost": str(self.cost.quantize(Decimal("0.000001"))),
            "unpriced_calls": self.unpriced_calls,
            "latency_s": round(self.latency_s, 4),
        }


def money(amount: Decimal) -> str:
    """An amount as shown: rounded to 1e-6 of the currency unit."""
    return str(amount.quantize(Decimal("0.000001")))


@dataclass(frozen=True, slots=True)
class CostTotals:
    """Calls, tokens and cost of a turn, a conversation or a report line. ``costs`` is per
    currency (a tenant that changed ``llm_currency`` has several); failed calls cost nothing
    and an unpriced call adds no cost. ``conversations`` counts the distinct conversations the
    calls belong to (reports only)."""

    calls: int = 0
    failed_calls: int = 0
    unpriced_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    costs: Mapping[str, Decimal] = field(default_factory=dict)
    conversations: int = 0
    default_currency: str = ""  # shown when no call had a cost

    @classmethod
    def of(cls, records: Iterable[CallRecord], default_currency: str = "") -> CostTotals:
        calls = failed = unpriced = prompt = completion = 0
        costs: dict[str, Decimal] = {}
        conversations: set[str] = set()
        for r in records:
            calls += 1
            failed += 0 if r.ok else 1
            unpriced += 1 if r.ok and r.cost is None else 0
            prompt += r.usage.prompt_tokens
            completion += r.usage.completion_tokens
            if r.ok and r.cost is not None:
                costs[r.currency] = costs.get(r.currency, Decimal(0)) + r.cost
            if r.tags.get("conversation"):
                conversations.add(r.tags["conversation"])
        return cls(
            calls, failed, unpriced, prompt, completion, costs, len(conversations), default_currency
        )

    @property
    def currency(self) -> str | None:
        """The one currency of the costs; ``None`` when they are in several."""
        if not self.costs:
            return self.default_currency
        return next(iter(self.costs)) if len(self.costs) == 1 else None

    @property
    def cost(self) -> Decimal | None:
        """The total cost in :attr:`currency`; ``None`` when costs are in several currencies."""
        if len(self.costs) > 1:
            return None
        return next(iter(self.costs.values()), Decimal(0))

    @property
    def cost_per_conversation(self) -> Decimal | None:
        cost = self.cost
        return None if cost is None or not self.conversations else cost / self.conversations

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; money as strings (rounded to 1e-6), ``cost`` and ``currency`` null when
        the costs are in several currencies (``costs`` has each)."""
        cost = self.cost
        return {
            "calls": self.calls,
            "failed_calls": self.failed_calls,
            "unpriced_calls": self.unpriced_calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": None if cost is None else money(cost),
            "currency": self.currency,
            "costs": {cur: money(amount) for cur, amount in sorted(self.costs.items())},
        }


def summarise(records: Iterable[CallRecord]) -> CostSummary:
    total = CostSummary()
    for record in records:
        total = total.add(record)
    return total


def group_by(records: Iterable[CallRecord], tag: str) -> dict[str, CostSummary]:
    """Summaries per value of a tag (``"tenant"``, ``"conversation"``, ``"turn"``) or per
    ``"model"``."""
    out: dict[str, CostSummary] = {}
    for record in records:
        key = record.model if tag == "model" else record.tags.get(tag, "")
        out[key] = out.get(key, CostSummary()).add(record)
    return out


class CostLedger:
    """Thread-safe list of call records."""

    def __init__(self) -> None:
        self._records: list[CallRecord] = []
        self._lock = threading.Lock()

    def add(self, record: CallRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def take(self, **tags: str) -> list[CallRecord]:
        """Remove and return, in order, the records whose tags have all these values (e.g.
        ``take(conversation=id)`` after a turn, to persist them). Each record is returned by
        one ``take`` only."""
        with self._lock:
            taken: list[CallRecord] = []
            kept: list[CallRecord] = []
            for record in self._records:
                match = all(record.tags.get(k) == v for k, v in tags.items())
                (taken if match else kept).append(record)
            self._records = kept
            return taken

    def __iter__(self) -> Iterator[CallRecord]:
        return iter(self.records())

    def summary(self) -> CostSummary:
        return summarise(self.records())

    def by(self, tag: str) -> dict[str, CostSummary]:
        return group_by(self.records(), tag)


class MeteredProvider:
    """Records each call (including failed ones, with no tokens) in a ledger."""

    def __init__(
        self,
        inner: ChatProvider,
        ledger: CostLedger,
        prices: PriceTable,
        *,
        tags: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.inner = inner
        self.ledger = ledger
        self.prices = prices
        self.tags = dict(tags or {})
        self._clock = clock

    @property
    def model(self) -> str:
        return self.inner.model

    def _tags(self) -> Mapping[str, str]:
        purpose = _PURPOSE.get()
        return self.tags if purpose is None else {**self.tags, "purpose": purpose}

    def _record(self, result: ChatResult) -> None:
        cost = self.prices.cost(result.model, result.usage)
        if cost is None and result.model != self.model:
            cost = self.prices.cost(self.model, result.usage)
        self.ledger.add(
            CallRecord(
                result.model,
                result.usage,
                cost,
                result.latency_s,
                True,
                None,
                self._tags(),
                self.prices.currency,
            )
        )

    def _failed(self, error: LlmError, started: float) -> None:
        self.ledger.add(
            CallRecord(
                self.model,
                Usage(),
                None,
                self._clock() - started,
                False,
                error.code,
                self._tags(),
                self.prices.currency,
            )
        )

    def complete(self, request: ChatRequest) -> ChatResult:
        started = self._clock()
        try:
            result = self.inner.complete(request)
        except LlmError as error:
            self._failed(error, started)
            raise
        self._record(result)
        return result

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        started = self._clock()
        try:
            for event in self.inner.stream(request):
                if isinstance(event, ChatResult):
                    self._record(event)
                yield event
        except LlmError as error:
            self._failed(error, started)
            raise


def estimate_tokens(text: str) -> int:
    """A rough token count for providers that report no usage: CJK characters count one each,
    other text one per four characters."""
    cjk = sum(1 for ch in text if "\u3400" <= ch <= "\u9fff")
    return cjk + (len(text) - cjk + 3) // 4
