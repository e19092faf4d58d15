"""Console users, memberships, sessions and API keys.

API keys look like ``kf_`` + 40 URL-safe random characters; only their SHA-256 digest is stored
(a key is long and random, so a slow hash adds nothing), with the first characters kept as a
``prefix`` to tell keys apart in lists. A key is scoped to one tenant (or ``*``) and one role.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from kefu.access.roles import ALL_TENANTS, ROLES, Principal
from kefu.errors import AuthenticationError, InvalidInputError, NotFoundError
from kefu.storage.access_tables import ApiKeyRow
from kefu.storage.tenants import TenantRepository

KEY_PREFIX = "kf_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    id: int
    tenant: str
    role: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKeyRow) -> ApiKey:
        return cls(
            row.id,
            row.tenant,
            row.role,
            row.name,
            row.prefix,
            row.created_at,
            row.last_used_at,
            row.revoked_at,
        )

    def to_dict(self) -> dict[str, Any]:
        def iso(d: datetime | None) -> str | None:
            return d.isoformat() + "Z" if d else None

        return {
            "id": self.id,
            "tenant": self.tenant,
            "role": self.role,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": iso(self.created_at),
            "last_used_at": iso(self.last_used_at),
            "revoked_at": iso(self.revoked_at),
        }


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInputError(
            f"unknown role {role!r}; use one of {', '.join(ROLES)}", field="role"
        )
    return role


class AccessRepository:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        tenants: TenantRepository,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._tenants = tenants
        self._clock = clock

    def _check_tenant(self, tenant: str) -> str:
        if tenant != ALL_TENANTS:
            self._tenants.get(tenant)  # TenantNotFound
        return tenant

    # -- API keys ----------------------------------------------------------------------------
    def create_api_key(self, tenant: str, role: str, name: str = "") -> tuple[ApiKey, str]:
        """A new key for ``tenant`` (or ``*``) with ``role``: the record and the secret, which
        is shown once and never stored."""
        self._check_tenant(tenant)
        check_role(role)
        name = name.strip() or f"{tenant}-{role}"
        if len(name) > 64:
            raise InvalidInputError("a key's name is at most 64 characters", field="name")
        secret = KEY_PREFIX + secrets.token_urlsafe(30)
        row = ApiKeyRow(
            tenant=tenant,
            role=role,
            name=name,
            prefix=secret[:11],
            key_hash=digest(secret),
            created_at=self._clock(),
        )
        with self._sessions.begin() as s:
            s.add(row)
            s.flush()
            key = ApiKey.of(row)
        return key, secret

    def api_keys(self, tenant: str | None = None) -> list[ApiKey]:
        q = select(ApiKeyRow).order_by(ApiKeyRow.id)
        if tenant is not None:
            q = q.where(ApiKeyRow.tenant == tenant)
        with self._sessions() as s:
            return [ApiKey.of(r) for r in s.scalars(q)]

    def api_key(self, key_id: int) -> ApiKey:
        with self._sessions() as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError(f"unknown API key: {key_id}", key_id=key_id)
            return ApiKey.of(row)

    def revoke_api_key(self, key_id: int) -> ApiKey:
        """Revoke a key (idempotent: a revoked key stays revoked at its first time)."""
        with self._sessions.begin() as s:
            row = s.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError(f"unknown API key: {key_id}", key_id=key_id)
            if row.revoked_at is None:
                row.revoked_at = self._clock()
            return ApiKey.of(row)

    def principal_for_key(self, secret: str) -> Principal:
        """The principal of a presented API key, or :class:`AuthenticationError`."""
        if not secret.startswith(KEY_PREFIX) or len(secret) > 128:
            raise AuthenticationError("invalid API key")
        with self._sessions.begin() as s:
            row = s.scalars(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest(secret))).first()
            if row is None or row.revoked_at is not None:
                raise AuthenticationError("invalid or revoked API key")
            now = self._clock()
            if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
                s.execute(update(ApiKeyRow).where(ApiKeyRow.id == row.id).values(last_used_at=now))
            return Principal("apikey", row.name, {row.tenant: row.role}, key_id=row.id)

    # -- console users and sessions (being written) -------------------------------------------
    def principal_for_session(self, token: str, *, csrf: str | None) -> Principal:
        raise AuthenticationError("console sessions are not available yet")
