"""One turn at a time per conversation, across threads, processes and machines.

A turn reads the conversation's dialogue state, decides and writes the new state; two turns of
one conversation running at once would both start from the same state and one customer message
would be lost from the dialogue. Inside one process a striped lock orders them; across the
worker processes of ``kefu serve --workers N``, or several kefu servers on one PostgreSQL, a
*lease* row in the database does: a turn inserts the conversation's row in ``turn_leases``
(the primary key admits one holder), and deletes it when done. A holder that died mid-turn
leaves a row whose ``expires_at`` has passed; the next turn takes it over.

A lease needs no connection held for the turn (a turn with an LLM call may last seconds). On
SQLite, whose writers queue for one database-wide lock (and back off by sleeping when they
meet), two more write transactions per turn cost a lot under concurrent load, and every process
is on one machine anyway: :class:`FileTurnLocks` uses advisory file locks (``flock``) next to
the database file instead, released by the kernel if a process dies. A turn waiting for another
process's turn polls (1 ms, doubling to 25 ms), and gives up with
:class:`~kefu.errors.ConflictError` after ``wait_s``. :func:`turn_locks` picks one.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import DateTime, Engine, String, delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kefu.errors import ConflictError
from kefu.storage.models import Base
from kefu.storage.tenants import utcnow

STRIPES = 256
LEASE_S = 300.0  # longer than any turn: its LLM calls end by llm_timeout_s (<= 120 s)
WAIT_S = 30.0
_FIRST_POLL_S = 0.001
_MAX_POLL_S = 0.025


class TurnLocks(Protocol):
    def hold(self, conversation_id: str) -> AbstractContextManager[None]: ...


def turn_locks(engine: Engine) -> TurnLocks:
    """File locks beside a SQLite database file, lease rows on any other database."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:":
            return FileTurnLocks(Path(database).resolve().parent / (Path(database).name + ".turns"))
    from kefu.storage.db import session_factory

    return TurnLeases(session_factory(engine))


def _stripe(conversation_id: str) -> int:
    return zlib.crc32(conversation_id.encode()) % STRIPES


def _attempts(wait_s: float, conversation_id: str) -> Iterator[None]:
    """One attempt at once, then more after pauses (1 ms doubling to 25 ms) while ``wait_s``
    lasts; then :class:`~kefu.errors.ConflictError`."""
    deadline = time.monotonic() + wait_s
    pause = _FIRST_POLL_S
    yield
    while time.monotonic() < deadline:
        time.sleep(pause)  # another process holds it: wait without holding anything
        pause = min(pause * 2, _MAX_POLL_S)
        yield
    raise ConflictError(
        "another turn of this conversation is still running; try again",
        conversation=conversation_id,
    )


class FileTurnLocks:
    """One turn at a time per conversation for processes sharing a SQLite file: a thread lock
    per stripe of conversations, then ``flock`` on that stripe's file (256 files)."""

    def __init__(self, directory: Path, *, wait_s: float = WAIT_S) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._dir = directory
        self._wait_s = wait_s
        self._stripes = [threading.Lock() for _ in range(STRIPES)]

    @contextmanager
    def hold(self, conversation_id: str) -> Iterator[None]:
        stripe = _stripe(conversation_id)
        with self._stripes[stripe]:
            fd = os.open(self._dir / f"{stripe:03d}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                self._lock(fd, conversation_id)
                yield
            finally:
                os.close(fd)  # releases the lock

    def _lock(self, fd: int, conversation_id: str) -> None:
        for _ in _attempts(self._wait_s, conversation_id):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise


class TurnLeaseRow(Base):
    """The conversation whose turn is running, by whom, and until when at the latest."""

    __tablename__ = "turn_leases"

    conversation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    holder: Mapped[str] = mapped_column(String(36), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class TurnLeases:
    """``hold(conversation_id)``: a context manager inside which no other turn of that
    conversation runs, in this process or any other sharing the database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        lease_s: float = LEASE_S,
        wait_s: float = WAIT_S,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._lease = timedelta(seconds=lease_s)
        self._wait_s = wait_s
        self._clock = clock
        self._stripes = [threading.Lock() for _ in range(STRIPES)]

    @contextmanager
    def hold(self, conversation_id: str) -> Iterator[None]:
        with self._stripes[_stripe(conversation_id)]:
            holder = self._acquire(conversation_id)
            try:
                yield
            finally:
                self._release(conversation_id, holder)

    def _acquire(self, conversation_id: str) -> str:
        holder = str(uuid.uuid4())
        for _ in _attempts(self._wait_s, conversation_id):
            if self._try(conversation_id, holder):
                break
        return holder

    def _try(self, conversation_id: str, holder: str) -> bool:
        """Take the lease if it is free or its holder's time is up."""
        now = self._clock()
        until = now + self._lease
        try:
            with self._sessions.begin() as s:
                s.execute(
                    insert(TurnLeaseRow).values(
                        conversation_id=conversation_id, holder=holder, expires_at=until
                    )
                )
            return True
        except IntegrityError:
            pass
        with self._sessions.begin() as s:
            taken = s.execute(
                update(TurnLeaseRow)
                .where(
                    TurnLeaseRow.conversation_id == conversation_id,
                    TurnLeaseRow.expires_at < now,
                )
                .values(holder=holder, expires_at=until)
            )
            return bool(getattr(taken, "rowcount", 0))

    def _release(self, conversation_id: str, holder: str) -> None:
        with self._sessions.begin() as s:
            s.execute(
                delete(TurnLeaseRow).where(
                    TurnLeaseRow.conversation_id == conversation_id,
                    TurnLeaseRow.holder == holder,
                )
            )
