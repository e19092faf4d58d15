"""Retries per error type, the circuit breaker, the deadline and the fallback chain. Time is a
fake clock: nothing here sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from kefu.errors import (
    LlmBadOutput,
    LlmCircuitOpen,
    LlmError,
    LlmRateLimited,
    LlmRequestRejected,
    LlmServerError,
    LlmTimeout,
    LlmUnavailable,
)
from kefu.llm.openai_compat import OpenAICompatConfig, OpenAICompatProvider
from kefu.llm.port import ChatRequest, ChatResult, Message, StreamEvent, TextDelta, final_result
from kefu.llm.resilience import (
    DEFAULT_RETRY,
    NO_RETRY,
    BreakerState,
    CircuitBreaker,
    FallbackChain,
    ResilientProvider,
    RetryPolicy,
    RetryRule,
)
from kefu.llm.scripted import ScriptedProvider

if TYPE_CHECKING:
    from tests.fake_llm_server import FakeLlmServer

# The fake LLM server fixtures (fake_llm, llm_pii_ledger).
pytest_plugins = ["tests.fake_llm_server"]

REQ = ChatRequest((Message("user", "hi"),))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def resilient(
    provider: ScriptedProvider,
    clock: FakeClock,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
    breaker: CircuitBreaker | None = None,
    deadline_s: float | None = None,
) -> ResilientProvider:
    return ResilientProvider(
        provider,
        retry=retry,
        breaker=breaker,
        deadline_s=deadline_s,
        clock=clock,
        sleep=clock.sleep,
    )


# -- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "calls"),
    [
        (LlmTimeout("t"), 2),  # 1 retry
        (LlmRateLimited("r"), 3),  # 2 retries
        (LlmServerError("s"), 3),
        (LlmUnavailable("u"), 2),
        (LlmBadOutput("b"), 2),
        (LlmRequestRejected("400"), 1),  # never retried
        (LlmCircuitOpen("open"), 1),
    ],
)
def test_default_retries_per_error_type(clock: FakeClock, error: LlmError, calls: int) -> None:
    inner = ScriptedProvider("m", default=error)
    with pytest.raises(type(error)):
        resilient(inner, clock).complete(REQ)
    assert len(inner.requests) == calls


def test_retry_then_success(clock: FakeClock) -> None:
    inner = ScriptedProvider("m", [LlmServerError("500"), LlmServerError("502"), "ok"])
    result = resilient(inner, clock).complete(REQ)
    assert result.text == "ok"
    assert clock.slept == [0.2, 0.4]  # exponential back-off


def test_backoff_is_capped_and_retry_after_is_honoured(clock: FakeClock) -> None:
    policy = RetryPolicy({LlmRateLimited: RetryRule(3, 1.0, 5.0)})
    inner = ScriptedProvider(
        "m",
        [
            LlmRateLimited("429", retry_after=3.0),
            LlmRateLimited("429"),
            LlmRateLimited("429", retry_after=60),
            "ok",
        ],
    )
    assert resilient(inner, clock, retry=policy).complete(REQ).text == "ok"
    assert clock.slept == [3.0, 2.0, 5.0]


def test_most_specific_rule_wins() -> None:
    policy = RetryPolicy({LlmError: RetryRule(5), LlmCircuitOpen: RetryRule(0)})
    assert policy.rule_for(LlmCircuitOpen("x")) == RetryRule(0)
    assert policy.rule_for(LlmUnavailable("x")) == RetryRule(5)
    assert NO_RETRY.rule_for(LlmTimeout("x")) is None


def test_deadline_stops_retries_and_bounds_each_timeout(clock: FakeClock) -> None:
    policy = RetryPolicy({LlmServerError: RetryRule(10, 1.0, 1.0)})
    inner = ScriptedProvider("m", default=LlmServerError("500"))
    with pytest.raises(LlmServerError):
        resilient(inner, clock, retry=policy, deadline_s=3.5).complete(
            ChatRequest(REQ.messages, timeout=10)
        )
    # t=0, 1, 2, 3; a fourth wait would pass the deadline.
    assert len(inner.requests) == 4
    assert [r.timeout for r in inner.requests] == [3.5, 2.5, 1.5, 0.5]


# -- circuit breaker -------------------------------------------------------------------------


def test_breaker_opens_after_consecutive_failures_and_half_opens(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=3, cool_down_s=30, clock=clock)
    inner = ScriptedProvider("m", default=LlmServerError("500"))
    provider = resilient(inner, clock, retry=NO_RETRY, breaker=breaker)
    for _ in range(3):
        with pytest.raises(LlmServerError):
            provider.complete(REQ)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(LlmCircuitOpen):
        provider.complete(REQ)
    assert len(inner.requests) == 3  # the open breaker sent nothing
    clock.now += 29.9
    with pytest.raises(LlmCircuitOpen):
        provider.complete(REQ)
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    # The trial call fails: open again for a full cool-down.
    with pytest.raises(LlmServerError):
        provider.complete(REQ)
    assert breaker.state is BreakerState.OPEN
    clock.now += 30
    inner.add("back")
    assert provider.complete(REQ).text == "back"
    assert breaker.state is BreakerState.CLOSED


def test_only_one_trial_call_while_half_open(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, cool_down_s=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    breaker.before_call("m")  # the trial
    with pytest.raises(LlmCircuitOpen):
        breaker.before_call("m")
    breaker.record_success()
    breaker.before_call("m")


def test_success_resets_the_failure_count(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    inner = ScriptedProvider("m", [LlmTimeout("t"), "ok", LlmTimeout("t"), "ok"])
    provider = resilient(inner, clock, retry=NO_RETRY, breaker=breaker)
    for _ in range(2):
        with pytest.raises(LlmTimeout):
            provider.complete(REQ)
        provider.complete(REQ)
    assert breaker.state is BreakerState.CLOSED


def test_rejected_requests_do_not_open_the_breaker(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    inner = ScriptedProvider("m", default=LlmRequestRejected("400"))
    provider = resilient(inner, clock, breaker=breaker)
    for _ in range(5):
        with pytest.raises(LlmRequestRejected):
            provider.complete(REQ)
    assert breaker.state is BreakerState.CLOSED


def test_retries_count_towards_the_breaker(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    inner = ScriptedProvider("m", default=LlmServerError("500"))
    with pytest.raises((LlmServerError, LlmCircuitOpen)):
        resilient(inner, clock, breaker=breaker).complete(REQ)
    assert len(inner.requests) == 2  # the third attempt met the open breaker
    assert breaker.state is BreakerState.OPEN


# -- streaming -------------------------------------------------------------------------------


class FlakyStream:
    """Fails before the first event ``failures`` times, then streams; optionally dies midway."""

    model = "flaky"

    def __init__(self, failures: int, die_midway: bool = False) -> None:
        self.failures = failures
        self.die_midway = die_midway
        self.calls = 0

    def complete(self, request: ChatRequest) -> ChatResult:
        return final_result(self.stream(request))

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        self.calls += 1
        if self.calls <= self.failures:
            raise LlmTimeout("t", model=self.model)
        yield TextDelta("您好")
        if self.die_midway:
            raise LlmServerError("dropped", model=self.model)
        yield ChatResult("您好", self.model)


def test_stream_retried_before_its_first_event(clock: FakeClock) -> None:
    inner = FlakyStream(failures=1)
    provider = ResilientProvider(inner, clock=clock, sleep=clock.sleep)
    events = list(provider.stream(REQ))
    assert events[0] == TextDelta("您好") and isinstance(events[-1], ChatResult)
    assert inner.calls == 2


def test_stream_not_retried_after_its_first_event(clock: FakeClock) -> None:
    inner = FlakyStream(failures=0, die_midway=True)
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    provider = ResilientProvider(inner, breaker=breaker, clock=clock, sleep=clock.sleep)
    seen = []
    with pytest.raises(LlmServerError):
        for event in provider.stream(REQ):
            seen.append(event)
    assert seen == [TextDelta("您好")] and inner.calls == 1
    assert breaker.state is BreakerState.OPEN


def test_abandoned_stream_releases_the_half_open_trial(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, cool_down_s=1, clock=clock)
    breaker.record_failure()
    clock.now += 1
    provider = ResilientProvider(FlakyStream(0), breaker=breaker, clock=clock, sleep=clock.sleep)
    events = provider.stream(REQ)
    next(events)
    events.close()
    assert breaker.state is BreakerState.CLOSED


# -- fallback chain --------------------------------------------------------------------------


def test_fallback_to_the_second_model(clock: FakeClock) -> None:
    a = ScriptedProvider("model-a", default=LlmTimeout("t", model="model-a"))
    b = ScriptedProvider("model-b", ["from b"])
    seen: list[str] = []
    chain = FallbackChain(
        [resilient(a, clock, retry=NO_RETRY), resilient(b, clock)],
        on_error=lambda e: seen.append(e.code),
    )
    result = chain.try_complete(REQ)
    assert result is not None and result.text == "from b" and result.model == "model-b"
    assert seen == ["llm_timeout"]


def test_all_models_down_means_offline(clock: FakeClock) -> None:
    a = ScriptedProvider("a", default=LlmServerError("500"))
    b = ScriptedProvider("b", default=LlmRequestRejected("401"))
    chain = FallbackChain([resilient(a, clock), resilient(b, clock)])
    assert chain.try_complete(REQ) is None
    with pytest.raises(LlmUnavailable) as caught:
        chain.complete(REQ)
    assert caught.value.details["models"] == ["a", "b"]
    assert chain.try_stream(REQ) is None


def test_open_breaker_skips_straight_to_the_next_model(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, cool_down_s=60, clock=clock)
    a = ScriptedProvider("a", default=LlmServerError("500"))
    b = ScriptedProvider("b", default="b answers")
    chain = FallbackChain([resilient(a, clock, retry=NO_RETRY, breaker=breaker), b])
    for _ in range(3):
        result = chain.try_complete(REQ)
        assert result is not None and result.text == "b answers"
    assert len(a.requests) == 1


def test_fallback_stream(clock: FakeClock) -> None:
    a = FlakyStream(failures=5)
    b = ScriptedProvider("b", ["streamed from b"])
    chain = FallbackChain([ResilientProvider(a, retry=NO_RETRY, clock=clock), b])
    events = chain.try_stream(REQ)
    assert events is not None
    assert final_result(events).text == "streamed from b"


def test_chain_needs_a_provider() -> None:
    with pytest.raises(ValueError):
        FallbackChain([])


# -- over real HTTP --------------------------------------------------------------------------


def test_retries_over_http_then_fallback_to_offline(
    fake_llm: FakeLlmServer, clock: FakeClock
) -> None:
    adapter = OpenAICompatProvider(OpenAICompatConfig(fake_llm.base_url, "m", timeout_s=2))
    breaker = CircuitBreaker(failure_threshold=3, cool_down_s=30, clock=clock)
    provider = ResilientProvider(adapter, breaker=breaker, clock=clock, sleep=clock.sleep)
    fake_llm.reply_error(500)
    fake_llm.reply_error(429, retry_after=0.5)
    fake_llm.reply_text("third time lucky")
    assert provider.complete(REQ).text == "third time lucky"
    assert len(fake_llm.requests) == 3
    assert clock.slept == [0.2, 1.0]  # 429: max(back-off, Retry-After)
    # 400 is never retried.
    fake_llm.reply_error(400)
    with pytest.raises(LlmRequestRejected):
        provider.complete(REQ)
    assert len(fake_llm.requests) == 4
    # Garbage three times (bad output is retried once): the breaker opens on the third, and
    # the chain answers None (use the offline engine).
    for _ in range(3):
        fake_llm.reply_garbage()
    chain = FallbackChain([provider])
    assert chain.try_complete(REQ) is None
    assert chain.try_complete(REQ) is None
    assert breaker.state is BreakerState.OPEN
    assert fake_llm.pending() == 0
    sent = len(fake_llm.requests)
    assert chain.try_complete(REQ) is None
    assert len(fake_llm.requests) == sent  # nothing sent while open
    adapter.close()


def test_timeout_over_http_is_retried_once(fake_llm: FakeLlmServer, clock: FakeClock) -> None:
    adapter = OpenAICompatProvider(OpenAICompatConfig(fake_llm.base_url, "m", timeout_s=0.5))
    provider = ResilientProvider(adapter, clock=clock, sleep=clock.sleep)
    release = fake_llm.reply_hang()
    fake_llm.reply_text("second try")
    try:
        assert provider.complete(REQ).text == "second try"
    finally:
        release.set()
    adapter.close()
