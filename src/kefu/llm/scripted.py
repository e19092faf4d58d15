"""An in-memory provider that answers from a script: for unit tests of code that uses the port
(the HTTP path is tested against ``tests/fake_llm_server.py``).

    provider = ScriptedProvider("m", [LlmTimeout("slow"), ChatResult("hi", "m")])
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator

from kefu.errors import LlmError
from kefu.llm.port import ChatRequest, ChatResult, StreamEvent, TextDelta, Usage

Step = ChatResult | LlmError | str


class ScriptedProvider:
    """Each call takes the next step: a result is returned (a ``str`` becomes a result with that
    text), an error is raised. With the script empty, ``default`` is returned (or raised)."""

    def __init__(
        self, model: str, steps: Iterable[Step] = (), *, default: Step | None = None
    ) -> None:
        self._model = model
        self._steps: deque[Step] = deque(steps)
        self._default = default
        self._lock = threading.Lock()
        self.requests: list[ChatRequest] = []

    @property
    def model(self) -> str:
        return self._model

    def add(self, *steps: Step) -> None:
        with self._lock:
            self._steps.extend(steps)

    def _next(self, request: ChatRequest) -> ChatResult:
        with self._lock:
            self.requests.append(request)
            step = self._steps.popleft() if self._steps else self._default
        if step is None:
            raise AssertionError(f"ScriptedProvider {self._model!r}: the script is empty")
        if isinstance(step, LlmError):
            raise step
        if isinstance(step, str):
            return ChatResult(step, self._model, Usage(10, max(1, len(step) // 4)))
        return step

    def complete(self, request: ChatRequest) -> ChatResult:
        return self._next(request)

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        result = self._next(request)
        for i in range(0, len(result.text), 4):
            yield TextDelta(result.text[i : i + 4])
        yield result
