"""How many turns compute at once in one process, and stepping aside while waiting.

A server thread per request (FastAPI runs plain endpoints in a pool of 40) means that under
load dozens of turns run at once, all wanting the GIL and the same cores for retrieval,
scoring and the database. They slow each other down: on a 2-core machine 50 clients got 36
turns a second through with no limit and 50-53 with one or two turns computing at a time
(docs/benchmarks.md, "Latency"). :class:`ComputeGate` admits a fixed number of turns to the
CPU; the others wait in order, idle.

A turn that waits for something outside the process (an LLM provider, a remote embedding
endpoint) or for a local model's long generation must not keep others out meanwhile: code
around such a wait runs inside :func:`outside_gate`, which gives the calling thread's place
back for the block and takes one again afterwards. It is a no-op on a thread that holds no
gate (the CLI, tests, a background warm-up), so adapters call it unconditionally.

The gate is taken inside a conversation's turn lock, never around it: a turn waiting for its
conversation's previous turn holds no place, so a turn that steps outside and comes back can
always get one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from kefu.errors import ConfigurationError

_held = threading.local()  # .gate: the ComputeGate this thread holds a place in, if any


class ComputeGate:
    """At most ``size`` threads inside :meth:`hold` at once (``size`` 0: no limit)."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ConfigurationError(f"turn concurrency must be 0 or more, not {size}")
        self.size = size
        self._slots = threading.BoundedSemaphore(size) if size else None

    @contextmanager
    def hold(self) -> Iterator[None]:
        """A place for the block; re-entrant on one thread (an inner hold is free)."""
        if self._slots is None or getattr(_held, "gate", None) is self:
            yield
            return
        self._slots.acquire()
        _held.gate = self
        try:
            yield
        finally:
            _held.gate = None
            self._slots.release()

    def _step_out(self) -> None:
        assert self._slots is not None
        _held.gate = None
        self._slots.release()

    def _step_in(self) -> None:
        assert self._slots is not None
        self._slots.acquire()
        _held.gate = self


@contextmanager
def outside_gate() -> Iterator[None]:
    """Run the block without the calling thread's place in its gate (if it holds one)."""
    gate: ComputeGate | None = getattr(_held, "gate", None)
    if gate is None or gate._slots is None:
        yield
        return
    gate._step_out()
    try:
        yield
    finally:
        gate._step_in()
