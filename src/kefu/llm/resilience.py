"""Resilience around a provider: retries declared per error type, a circuit breaker, a deadline,
and a fallback chain (model A -> model B -> ``None``: use the offline engine).

Time is injected (``clock`` and ``sleep``), so tests drive the breaker's cool-down and the
back-off without waiting.

    primary = ResilientProvider(adapter_a, breaker=CircuitBreaker(), deadline_s=8)
    backup = ResilientProvider(adapter_b, breaker=CircuitBreaker())
    chain = FallbackChain([primary, backup])
    result = chain.try_complete(request)   # None: every model failed, answer offline
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from kefu.errors import (
    LlmBadOutput,
    LlmCircuitOpen,
    LlmError,
    LlmRateLimited,
    LlmServerError,
    LlmTimeout,
    LlmUnavailable,
)
from kefu.llm.port import ChatProvider, ChatRequest, ChatResult, StreamEvent

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RetryRule:
    """``retries`` more attempts after the first, waiting ``base_delay_s * 2**n`` (at most
    ``max_delay_s``) before retry ``n``; a 429's ``Retry-After`` is honoured up to the cap."""

    retries: int
    base_delay_s: float = 0.0
    max_delay_s: float = 0.0

    def delay(self, retry: int, error: LlmError) -> float:
        wait = self.base_delay_s * float(2 ** (retry - 1))
        if isinstance(error, LlmRateLimited) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return min(wait, self.max_delay_s)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries per error type; the most specific class in an error's MRO wins. An error with no
    rule (``LlmRequestRejected``: 400/401/403/404/422) is never retried."""

    rules: Mapping[type[LlmError], RetryRule] = field(default_factory=dict)

    def rule_for(self, error: LlmError) -> RetryRule | None:
        for cls in type(error).__mro__:
            if cls in self.rules:
                return self.rules[cls]
        return None


DEFAULT_RETRY = RetryPolicy(
    {
        LlmTimeout: RetryRule(1, 0.0, 0.0),
        LlmRateLimited: RetryRule(2, 0.5, 2.0),
        LlmServerError: RetryRule(2, 0.2, 1.0),
        LlmUnavailable: RetryRule(1, 0.1, 0.5),
        LlmCircuitOpen: RetryRule(0),
        LlmBadOutput: RetryRule(1),
    }
)
NO_RETRY = RetryPolicy({})


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive outage failures; after ``cool_down_s`` one
    trial call goes through (half-open): success closes it, failure opens it again.

    Only errors with ``outage = True`` count (timeouts, 429, 5xx, no connection, garbage); a
    rejected request (400/401...) shows the provider is up and counts as a success."""

    def __init__(
        self,
        failure_threshold: int = 5,
        cool_down_s: float = 30.0,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.cool_down_s = cool_down_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.cool_down_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before_call(self, model: str | None = None) -> None:
        """Raise :class:`LlmCircuitOpen` unless a call may go out now."""
        with self._lock:
            state = self._state()
            if state is BreakerState.CLOSED:
                return
            if state is BreakerState.HALF_OPEN and not self._probing:
                self._probing = True
                return
            raise LlmCircuitOpen(f"circuit open for model {model!r}", model=model)

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probing = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._probing or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
            self._probing = False

    def record(self, error: LlmError | None) -> None:
        if error is None or not error.outage:
            self.record_success()
        else:
            self.record_failure()


class ResilientProvider:
    """A provider with retries, an optional circuit breaker and an optional deadline over all
    attempts. Streams are retried only until their first event."""

    def __init__(
        self,
        inner: ChatProvider,
        *,
        retry: RetryPolicy = DEFAULT_RETRY,
        breaker: CircuitBreaker | None = None,
        deadline_s: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.inner = inner
        self.retry = retry
        self.breaker = breaker
        self.deadline_s = deadline_s
        self._clock = clock
        self._sleep = sleep

    @property
    def model(self) -> str:
        return self.inner.model

    def _bounded(self, request: ChatRequest, started: float) -> ChatRequest:
        """The request with its timeout cut to what is left of the deadline."""
        if self.deadline_s is None:
            return request
        left = self.deadline_s - (self._clock() - started)
        if left <= 0:
            raise LlmTimeout("the LLM deadline passed", model=self.model)
        timeout = left if request.timeout is None else min(request.timeout, left)
        return replace(request, timeout=timeout)

    def _wait_or_raise(self, error: LlmError, retry: int, started: float) -> None:
        """Sleep before retry number ``retry``, or re-raise ``error`` when no retry is left."""
        rule = self.retry.rule_for(error)
        if rule is None or retry > rule.retries:
            raise error
        wait = rule.delay(retry, error)
        if self.deadline_s is not None and self._clock() - started + wait >= self.deadline_s:
            raise error
        if wait > 0:
            self._sleep(wait)

    def complete(self, request: ChatRequest) -> ChatResult:
        started = self._clock()
        retry = 0
        while True:
            if self.breaker is not None:
                self.breaker.before_call(self.model)
            try:
                result = self.inner.complete(self._bounded(request, started))
            except LlmError as error:
                if self.breaker is not None:
                    self.breaker.record(error)
                retry += 1
                self._wait_or_raise(error, retry, started)
                continue
            if self.breaker is not None:
                self.breaker.record_success()
            return result

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        started = self._clock()
        retry = 0
        while True:
            if self.breaker is not None:
                self.breaker.before_call(self.model)
            events = self.inner.stream(self._bounded(request, started))
            try:
                first = next(events)
            except StopIteration:
                error: LlmError = LlmBadOutput("the stream was empty", model=self.model)
            except LlmError as exc:
                error = exc
            else:
                break
            if self.breaker is not None:
                self.breaker.record(error)
            retry += 1
            self._wait_or_raise(error, retry, started)
        yield from self._rest(first, events)

    def _rest(self, first: StreamEvent, events: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
        outcome: LlmError | None = None
        try:
            yield first
            yield from events
        except LlmError as exc:
            outcome = exc
            raise
        finally:
            # Also when the consumer stops early: the provider was answering.
            if self.breaker is not None:
                self.breaker.record(outcome)


class FallbackChain:
    """Providers tried in order; each failure is reported to ``on_error`` and the next one is
    tried. :meth:`try_complete` returns ``None`` when all failed: the caller answers with the
    offline engine. :meth:`complete` raises :class:`LlmUnavailable` instead (the port)."""

    def __init__(
        self,
        providers: Sequence[ChatProvider],
        *,
        on_error: Callable[[LlmError], None] | None = None,
    ) -> None:
        if not providers:
            raise ValueError("a fallback chain needs at least one provider")
        self.providers = tuple(providers)
        self._on_error = on_error

    @property
    def model(self) -> str:
        return self.providers[0].model

    def _failed(self, error: LlmError) -> None:
        if self._on_error is not None:
            self._on_error(error)

    def try_complete(self, request: ChatRequest) -> ChatResult | None:
        for provider in self.providers:
            try:
                return provider.complete(request)
            except LlmError as error:
                self._failed(error)
        return None

    def complete(self, request: ChatRequest) -> ChatResult:
        result = self.try_complete(request)
        if result is None:
            raise self._exhausted()
        return result

    def try_stream(self, request: ChatRequest) -> Iterator[StreamEvent] | None:
        """The stream of the first provider that produced a first event, or ``None``. An error
        after that propagates (part of the answer was already shown)."""
        for provider in self.providers:
            events = provider.stream(request)
            try:
                first = next(events)
            except StopIteration:
                self._failed(LlmBadOutput("the stream was empty", model=provider.model))
                continue
            except LlmError as error:
                self._failed(error)
                continue
            return _prepend(first, events)
        return None

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        events = self.try_stream(request)
        if events is None:
            raise self._exhausted()
        yield from events

    def _exhausted(self) -> LlmUnavailable:
        models = [p.model for p in self.providers]
        return LlmUnavailable("every model in the fallback chain failed", models=models)


def _prepend(first: StreamEvent, rest: Iterator[StreamEvent]) -> Iterator[StreamEvent]:
    yield first
    yield from rest
