"""Sign-in throttling: after ``MAX_FAILURES`` failed sign-ins for one username within
``WINDOW``, every sign-in for that username is refused for ``LOCK`` (even with the right
password), then allowed again.

The count is kept in the database (table ``login_throttle``), so it holds across the worker
processes of ``kefu serve --workers N`` and across restarts. It is per username, known or not:
an unknown name is throttled exactly like a known one, so the answers do not tell which names
exist. The window slides: the row keeps the times of the last ``MAX_FAILURES`` failures.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kefu.errors import AuthenticationError
from kefu.storage.access_tables import LoginThrottleRow

MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)
LOCK = timedelta(minutes=15)


def locked_error(username: str, until: datetime, now: datetime) -> AuthenticationError:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    minutes = max(1, math.ceil(seconds / 60))
    return AuthenticationError(
        f"too many failed sign-ins for {username!r}: sign-in is locked for {minutes} more "
        f"minute(s); try again later or ask an administrator to reset the password",
        reason="locked",
        retry_after=seconds,
    )


def check_not_locked(sessions: sessionmaker[Session], username: str, now: datetime) -> None:
    """Raise the ``locked`` :class:`AuthenticationError` while ``username`` is locked."""
    with sessions() as s:
        row = s.get(LoginThrottleRow, username)
        if row is not None and row.locked_until is not None and now < row.locked_until:
            raise locked_error(username, row.locked_until, now)


def record_failure(sessions: sessionmaker[Session], username: str, now: datetime) -> bool:
    """Count a failed sign-in; True when it locks the username."""
    for attempt in range(2):  # two first failures at once: one insert wins, the other retries
        try:
            with sessions.begin() as s:
                row = s.get(LoginThrottleRow, username, with_for_update=True)
                if row is None:
                    row = LoginThrottleRow(username=username, failures=[], locked_until=None)
                    s.add(row)
                since = now - WINDOW
                recent = [t for t in row.failures if datetime.fromisoformat(t) > since]
                recent = [*recent, now.isoformat()][-MAX_FAILURES:]
                row.failures = recent
                locks = len(recent) >= MAX_FAILURES
                if locks:
                    row.locked_until = now + LOCK
                    row.failures = []  # after the lock, counting starts afresh
                return locks
        except IntegrityError:
            if attempt:
                raise
    return False  # pragma: no cover - the loop returns or raises


def clear(session: Session, username: str) -> None:
    """Forget the failures of ``username`` (a successful sign-in, a new password)."""
    row = session.get(LoginThrottleRow, username)
    if row is not None:
        session.delete(row)
