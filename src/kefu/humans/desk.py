"""The agent desk: handoffs, the queue, take, reply and release (being written)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from kefu.storage.tenants import TenantRepository


class Desk:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        tenants: TenantRepository,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._tenants = tenants
        self._clock = clock
