"""Tenant and tenant-settings repository."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kefu.domain.conversation import Tenant
from kefu.errors import InvalidInputError, TenantNotFound
from kefu.settings import SETTINGS, TenantSettings, get_setting
from kefu.storage.models import TenantRow, TenantSettingRow

TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

# What this thread has read inside ``TenantRepository.pinned()``: a turn reads its tenant and
# settings a dozen times (index, documents, names, thresholds) and needs one consistent view.
_PINNED: ContextVar[dict[tuple[int, str, str], Any] | None] = ContextVar(
    "kefu_pinned", default=None
)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _tenant(row: TenantRow) -> Tenant:
    return Tenant(row.id, row.name, row.kb_revision, row.created_at)


def check_tenant_name(name: str) -> str:
    if not TENANT_NAME.match(name):
        raise InvalidInputError(
            f"invalid tenant name {name!r}: use 1-64 lowercase letters, digits, '-' or '_'",
            field="tenant",
        )
    return name


class TenantRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def create(self, name: str, settings: dict[str, Any] | None = None) -> tuple[Tenant, bool]:
        """Create a tenant, or return the existing one (``created`` False). Given settings are
        applied either way, so ``kefu tenant create`` is idempotent."""
        check_tenant_name(name)
        parsed = {k: get_setting(k).parse(v) for k, v in (settings or {}).items()}
        created = False
        with self._sessions.begin() as s:
            row = s.scalar(select(TenantRow).where(TenantRow.name == name))
            if row is None:
                row = TenantRow(name=name, kb_revision=0, created_at=utcnow())
                s.add(row)
                try:
                    s.flush()
                    created = True
                except IntegrityError:  # created concurrently
                    s.rollback()
                    row = s.scalars(select(TenantRow).where(TenantRow.name == name)).one()
            for key, value in parsed.items():
                self._put(s, row.id, key, value)
            self._unpin()
            return _tenant(row), created

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Within the block this thread reads each tenant and its settings once (one turn sees
        one version of them, in one query each instead of one per read); writes through this
        repository drop what was read. Nested blocks share the outer one."""
        if _PINNED.get() is not None:
            yield
            return
        token = _PINNED.set({})
        try:
            yield
        finally:
            _PINNED.reset(token)

    @staticmethod
    def _unpin() -> None:
        pinned = _PINNED.get()
        if pinned is not None:
            pinned.clear()

    def get(self, name: str) -> Tenant:
        pinned = _PINNED.get()
        if pinned is not None and (id(self), "tenant", name) in pinned:
            tenant: Tenant = pinned[(id(self), "tenant", name)]
            return tenant
        with self._sessions() as s:
            row = s.scalar(select(TenantRow).where(TenantRow.name == name))
            if row is None:
                raise TenantNotFound(name)
            found = _tenant(row)
        if pinned is not None:
            pinned[(id(self), "tenant", name)] = found
        return found

    def all(self) -> list[Tenant]:
        with self._sessions() as s:
            return [_tenant(r) for r in s.scalars(select(TenantRow).order_by(TenantRow.name))]

    def settings(self, name: str) -> TenantSettings:
        # One query on the hot path (and one per turn, pinned); only a tenant with no stored
        # setting at all needs a second one to tell it from an unknown name.
        pinned = _PINNED.get()
        if pinned is not None and (id(self), "settings", name) in pinned:
            cached: TenantSettings = pinned[(id(self), "settings", name)]
            return cached
        with self._sessions() as s:
            rows = list(
                s.scalars(
                    select(TenantSettingRow)
                    .join(TenantRow, TenantRow.id == TenantSettingRow.tenant_id)
                    .where(TenantRow.name == name)
                )
            )
        if not rows:
            self.get(name)  # raises TenantNotFound for an unknown name
        found = TenantSettings({r.name: r.value for r in rows if r.name in SETTINGS})
        if pinned is not None:
            pinned[(id(self), "settings", name)] = found
        return found

    def set(self, name: str, key: str, value: Any) -> Any:
        parsed = get_setting(key).parse(value)
        tenant = self.get(name)
        with self._sessions.begin() as s:
            self._put(s, tenant.id, key, parsed)
        self._unpin()
        return parsed

    def bump_kb_revision(self, session: Session, tenant_id: int) -> None:
        self._unpin()
        session.execute(
            update(TenantRow)
            .where(TenantRow.id == tenant_id)
            .values(kb_revision=TenantRow.kb_revision + 1)
        )

    @staticmethod
    def _put(s: Session, tenant_id: int, key: str, value: Any) -> None:
        row = s.get(TenantSettingRow, (tenant_id, key))
        if row is None:
            s.add(TenantSettingRow(tenant_id=tenant_id, name=key, value=value, updated_at=utcnow()))
        else:
            row.value = value
            row.updated_at = utcnow()
