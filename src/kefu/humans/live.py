"""Live delivery of new conversation events to waiting readers (SSE streams).

Two ways a reader learns that something new was appended:

* **in process**: whoever appends through the service (a customer turn, an agent's message,
  take, release, close) calls :meth:`LiveHub.notify`, which wakes at once every reader of that
  conversation (and of its tenant's desk stream) in this process: asyncio readers through
  their event loop, threads through a condition;
* **across processes** (``kefu serve --workers N``, several servers on one PostgreSQL): an
  append made by another process is never notified here, so while this process has readers, one
  daemon thread polls the database every ``poll_s`` (0.1 s) for the newest sequence number of
  the conversations being read (one query for all of them) and notifies the ones that moved.

A woken reader reads its events from the database (the only source of truth), so a lost or
duplicate wake-up costs at most one query or ``poll_s`` of delay, never an event.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress

from kefu.logs import get_logger

POLL_S = 0.1  # the cross-process fallback's period (one small query per process)
log = get_logger(__name__)

Poll = Callable[[Sequence[str]], dict[str, int]]  # conversation ids -> their newest seq


def conversation_key(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def tenant_key(tenant: str) -> str:
    return f"tenant:{tenant}"


class Subscription:
    """One asyncio reader of one key: :meth:`wait` returns when the key was notified (True) or
    after ``timeout`` (False)."""

    def __init__(self, key: str, loop: asyncio.AbstractEventLoop) -> None:
        self.key = key
        self.loop = loop
        self.event = asyncio.Event()

    def wake(self) -> None:
        self.loop.call_soon_threadsafe(self.event.set)

    async def wait(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
            woke = True
        except TimeoutError:
            woke = False
        self.event.clear()  # before the reader reads: a later append wakes it again
        return woke


class LiveHub:
    """Wake-ups per key (``conversation:ID``, ``tenant:NAME``) for this process's readers."""

    def __init__(self, poll: Poll | None = None, poll_s: float = POLL_S) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._versions: dict[str, int] = {}
        self._subscribers: dict[str, set[Subscription]] = {}
        self._poll = poll
        self._poll_s = poll_s
        self._poller: threading.Thread | None = None
        self._seen: dict[str, int] = {}  # the poller's view: conversation -> newest seq

    # -- notifying ---------------------------------------------------------------------------
    def notify(self, *keys: str) -> None:
        """Something new under ``keys``: wake their readers (any thread)."""
        with self._lock:
            woken: list[Subscription] = []
            for key in keys:
                self._versions[key] = self._versions.get(key, 0) + 1
                woken.extend(self._subscribers.get(key, ()))
            self._changed.notify_all()
        for sub in woken:
            with suppress(RuntimeError):  # its event loop is closed: the reader is gone
                sub.wake()

    def version(self, key: str) -> int:
        with self._lock:
            return self._versions.get(key, 0)

    def wait(self, key: str, seen: int, timeout: float) -> int:
        """Block this thread until ``key``'s version passes ``seen`` (or ``timeout``); the new
        version."""
        with self._changed:
            self._changed.wait_for(lambda: self._versions.get(key, 0) > seen, timeout)
            return self._versions.get(key, 0)

    # -- asyncio readers ---------------------------------------------------------------------
    @contextmanager
    def subscribe(self, key: str) -> Iterator[Subscription]:
        """Read ``key`` from the running event loop; unsubscribed on exit."""
        sub = Subscription(key, asyncio.get_running_loop())
        with self._lock:
            self._subscribers.setdefault(key, set()).add(sub)
            self._start_poller()
        try:
            yield sub
        finally:
            with self._lock:
                subs = self._subscribers.get(key)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subscribers[key]

    def readers(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subscribers.values())

    # -- the cross-process fallback ----------------------------------------------------------
    def _start_poller(self) -> None:  # under self._lock
        if self._poll is None or (self._poller is not None and self._poller.is_alive()):
            return
        self._poller = threading.Thread(target=self._run_poller, name="kefu-live-poll", daemon=True)
        self._poller.start()

    def _watched(self) -> list[str]:
        with self._lock:
            return [
                k.removeprefix("conversation:")
                for k in self._subscribers
                if k.startswith("conversation:")
            ]

    def _run_poller(self) -> None:
        assert self._poll is not None
        stop = threading.Event()
        idle = 0
        while not stop.wait(self._poll_s):
            watched = self._watched()
            if not watched:
                idle += 1
                if idle * self._poll_s >= 5.0:  # nobody reads: stop until the next reader
                    with self._lock:
                        if not self._subscribers:
                            self._poller = None
                            self._seen.clear()
                            return
                    idle = 0
                continue
            idle = 0
            try:
                newest = self._poll(watched)
            except Exception:  # a database hiccup: try again at the next period
                log.warning("live poll failed", exc_info=True)
                continue
            moved = []
            for conv, seq in newest.items():
                # a conversation polled for the first time wakes its readers once: whatever
                # was appended between their own read and this poll is then read
                before = self._seen.get(conv, -1)
                self._seen[conv] = seq
                if seq > before:
                    moved.append(conversation_key(conv))
            for gone in set(self._seen) - set(watched):
                del self._seen[gone]
            if moved:
                self.notify(*moved)
