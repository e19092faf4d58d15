"""Tickets (being written)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from kefu.storage.tenants import TenantRepository


class TicketService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        tenants: TenantRepository,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._tenants = tenants
        self._clock = clock
