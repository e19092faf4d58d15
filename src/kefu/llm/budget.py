"""One turn's LLM deadline: every call a turn makes shares the tenant's ``llm_timeout_s``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace as dataclass_replace

from kefu.errors import LlmError, LlmTimeout
from kefu.llm.port import ChatProvider, ChatRequest, ChatResult, StreamEvent


class TurnBudget:
    """One turn's LLM calls (second opinion, grounded answer, rephrasing) share the tenant's
    ``llm_timeout_s``, counted from the first call: a later call's attempts get half of what
    is left each (the provider stack may retry a timed-out attempt once, at once: its own
    deadline is per call), and after a failed call (the provider is down, slow or answering
    garbage) or once it is spent, further calls fail at once, so the turn is answered offline
    about one timeout after its first call."""

    def __init__(
        self, inner: ChatProvider, budget_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.inner = inner
        self._clock = clock
        self._budget_s = budget_s
        self._deadline: float | None = None
        self._failed = False

    @property
    def model(self) -> str:
        return self.inner.model

    def _bounded(self, request: ChatRequest) -> ChatRequest:
        first = self._deadline is None
        if self._deadline is None:
            self._deadline = self._clock() + self._budget_s
        left = self._deadline - self._clock()
        if self._failed or left <= 0:
            raise LlmTimeout("no LLM time left in this turn", model=self.model)
        if not first:  # the first call's own deadline is the whole budget: no timeout retry
            left /= 2
        timeout = left if request.timeout is None else min(request.timeout, left)
        return dataclass_replace(request, timeout=timeout)

    def complete(self, request: ChatRequest) -> ChatResult:
        bounded = self._bounded(request)
        try:
            return self.inner.complete(bounded)
        except LlmError:
            self._failed = True
            raise

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        bounded = self._bounded(request)
        try:
            yield from self.inner.stream(bounded)
        except LlmError:
            self._failed = True
            raise
