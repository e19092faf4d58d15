"""Console users, their memberships (a role and skill groups per tenant), sign-in sessions
and API keys: the one place that stores and checks credentials.

- Passwords: scrypt hashes (:mod:`kefu.access.passwords`); failed sign-ins are throttled per
  username (:mod:`kefu.access.throttle`).
- Sessions: a random token (``secrets.token_urlsafe(32)``) in the console's cookie; only its
  SHA-256 digest is stored, with a CSRF token and an expiry ``SESSION_LIFETIME`` after sign-in.
- API keys: ``kf_`` + 40 URL-safe random characters; only their SHA-256 digest is stored (a
  key is long and random, so a slow hash adds nothing), with the first characters kept as a
  ``prefix`` to tell keys apart in lists. A key is scoped to one tenant (or ``*``) and one role.

Usernames are case-insensitive (kept in lower case). A wrong password and an unknown username
get the same answer, after the same work, so sign-in does not reveal which names exist.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kefu.access import throttle
from kefu.access.passwords import burn_time, hash_password, verify_password
from kefu.access.records import (
    ApiKey,
    Membership,
    User,
    check_display_name,
    check_language,
    check_role,
    check_skills,
    check_username,
    normalise_username,
)
from kefu.access.roles import ALL_TENANTS, Principal
from kefu.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDenied,
    UserNotFound,
)
from kefu.storage.access_tables import ApiKeyRow, MembershipRow, UserRow, UserSessionRow
from kefu.storage.tenants import TenantRepository

__all__ = [
    "KEY_PREFIX",
    "SESSION_LIFETIME",
    "AccessRepository",
    "ApiKey",
    "Membership",
    "User",
    "UserSession",
    "check_role",
    "digest",
]

KEY_PREFIX = "kf_"
SESSION_LIFETIME = timedelta(hours=12)
_MAX_TOKEN_CHARS = 128
_SIGNED_OUT = "your session has expired or you signed out: sign in again"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class UserSession:
    """A signed-in console session: whose, its CSRF token and when it ends."""

    user: User
    csrf_token: str
    expires_at: datetime


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

    # -- users -------------------------------------------------------------------------------
    @staticmethod
    def _user_row(s: Session, who: str | int) -> UserRow:
        if isinstance(who, int):
            row = s.get(UserRow, who)
        else:
            row = s.scalars(
                select(UserRow).where(UserRow.username == normalise_username(who))
            ).first()
        if row is None:
            raise UserNotFound(str(who))
        return row

    @staticmethod
    def _load(s: Session, row: UserRow) -> User:
        members = s.scalars(select(MembershipRow).where(MembershipRow.user_id == row.id))
        return User.of(row, members)

    def create_user(
        self,
        username: str,
        password: str,
        display_name: str = "",
        language: str = "zh",
        *,
        tenant: str | None = None,
        role: str | None = None,
        skills: Iterable[str] = (),
    ) -> User:
        """A new console user; with ``tenant`` and ``role``, its first membership, in the same
        transaction (all or nothing). ConflictError when the username is taken;
        InvalidInputError naming the bad field."""
        name = check_username(username)
        shown = check_display_name(display_name, name)
        check_language(language)
        if (tenant is None) != (role is None):
            raise InvalidInputError("a tenant and a role go together", field="role")
        groups = check_skills(skills)
        if tenant is not None and role is not None:
            self._check_tenant(tenant)
            check_role(role)
        hashed = hash_password(password)  # checks the password policy
        try:
            with self._sessions.begin() as s:
                taken = s.scalars(select(UserRow.id).where(UserRow.username == name)).first()
                if taken is not None:
                    raise ConflictError(f"user {name!r} exists already", field="username")
                now = self._clock()
                row = UserRow(
                    username=name,
                    display_name=shown,
                    password_hash=hashed,
                    language=language,
                    disabled=False,
                    created_at=now,
                )
                s.add(row)
                s.flush()
                if tenant is not None and role is not None:
                    s.add(
                        MembershipRow(
                            user_id=row.id, tenant=tenant, role=role, skills=groups, created_at=now
                        )
                    )
                    s.flush()
                return self._load(s, row)
        except IntegrityError as exc:  # the same name created at the same moment
            raise ConflictError(f"user {name!r} exists already", field="username") from exc

    def user(self, who: str | int) -> User:
        """A user by username or id; UserNotFound."""
        with self._sessions() as s:
            return self._load(s, self._user_row(s, who))

    def users(self, tenant: str | None = None) -> list[User]:
        """Every user, or the members of ``tenant`` (``*``: those with a role in every
        tenant), by username."""
        q = select(UserRow).order_by(UserRow.username)
        if tenant is not None:
            q = q.where(
                UserRow.id.in_(select(MembershipRow.user_id).where(MembershipRow.tenant == tenant))
            )
        with self._sessions() as s:
            rows = list(s.scalars(q))
            members: dict[int, list[MembershipRow]] = {r.id: [] for r in rows}
            if rows:
                for m in s.scalars(
                    select(MembershipRow).where(MembershipRow.user_id.in_(list(members)))
                ):
                    members[m.user_id].append(m)
            return [User.of(r, members[r.id]) for r in rows]

    def update_user(
        self, who: str | int, *, display_name: str | None = None, language: str | None = None
    ) -> User:
        with self._sessions.begin() as s:
            row = self._user_row(s, who)
            if display_name is not None:
                row.display_name = check_display_name(display_name, row.username)
            if language is not None:
                row.language = check_language(language)
            return self._load(s, row)

    def set_password(self, who: str | int, password: str) -> User:
        """A new password; the user's sessions end and any sign-in lock is lifted."""
        hashed = hash_password(password)
        with self._sessions.begin() as s:
            row = self._user_row(s, who)
            row.password_hash = hashed
            s.execute(delete(UserSessionRow).where(UserSessionRow.user_id == row.id))
            throttle.clear(s, row.username)
            return self._load(s, row)

    def disable(self, who: str | int) -> User:
        """A disabled user can neither sign in nor use a session; its sessions end now."""
        return self._set_disabled(who, True)

    def enable(self, who: str | int) -> User:
        return self._set_disabled(who, False)

    def _set_disabled(self, who: str | int, disabled: bool) -> User:
        with self._sessions.begin() as s:
            row = self._user_row(s, who)
            row.disabled = disabled
            if disabled:
                s.execute(delete(UserSessionRow).where(UserSessionRow.user_id == row.id))
            return self._load(s, row)

    # -- memberships -------------------------------------------------------------------------
    def grant(self, who: str | int, tenant: str, role: str, skills: Iterable[str] = ()) -> User:
        """Give ``who`` the role ``role`` (and skill groups) in ``tenant`` or ``*``, replacing
        the one it had there."""
        self._check_tenant(tenant)
        check_role(role)
        groups = check_skills(skills)
        with self._sessions.begin() as s:
            row = self._user_row(s, who)
            member = s.get(MembershipRow, (row.id, tenant))
            if member is None:
                s.add(
                    MembershipRow(
                        user_id=row.id,
                        tenant=tenant,
                        role=role,
                        skills=groups,
                        created_at=self._clock(),
                    )
                )
            else:
                member.role = role
                member.skills = groups
            s.flush()
            return self._load(s, row)

    def revoke(self, who: str | int, tenant: str) -> User:
        """Take away ``who``'s role in ``tenant``; NotFoundError when it has none there."""
        with self._sessions.begin() as s:
            row = self._user_row(s, who)
            member = s.get(MembershipRow, (row.id, tenant))
            if member is None:
                raise NotFoundError(
                    f"user {row.username!r} has no role in tenant {tenant!r}",
                    field="tenant",
                    username=row.username,
                    tenant=tenant,
                )
            s.delete(member)
            s.flush()
            return self._load(s, row)

    def memberships(self, who: str | int) -> list[Membership]:
        return list(self.user(who).memberships)

    def skills(self, who: str | int, tenant: str) -> list[str]:
        """The skill groups ``who`` serves in ``tenant``: those of its membership there, else
        those of its all-tenants membership, else none. UserNotFound."""
        found = {m.tenant: m for m in self.user(who).memberships}
        member = found.get(tenant) or found.get(ALL_TENANTS)
        return list(member.skills) if member else []

    # -- sessions ----------------------------------------------------------------------------
    def login(self, username: str, password: str) -> tuple[str, str, Principal]:
        """Sign in: ``(token, csrf_token, principal)``. The token goes into the session cookie
        and is stored only as its digest. AuthenticationError for a wrong username or password
        (one message for both), a locked username (``details.reason`` ``locked``,
        ``details.retry_after`` seconds) or a disabled user."""
        name = normalise_username(username)
        if not name or len(name) > 64:
            burn_time(password)
            raise AuthenticationError("wrong username or password")
        throttle.check_not_locked(self._sessions, name, self._clock())
        with self._sessions() as s:
            row = s.scalars(select(UserRow).where(UserRow.username == name)).first()
            stored = row.password_hash if row is not None else None
        if stored is None:
            burn_time(password)
            matched = False
        else:
            matched = verify_password(password, stored)
        if not matched:
            now = self._clock()
            if throttle.record_failure(self._sessions, name, now):
                raise throttle.locked_error(name, now + throttle.LOCK, now)
            raise AuthenticationError("wrong username or password")
        with self._sessions.begin() as s:
            row = self._user_row(s, name)
            if row.disabled:
                raise AuthenticationError(
                    "this account is disabled: ask an administrator", reason="disabled"
                )
            throttle.clear(s, name)
            token, csrf = self._start_session(s, row)
            user = self._load(s, row)
        return token, csrf, _principal(user)

    def _start_session(self, s: Session, row: UserRow) -> tuple[str, str]:
        """A new session of ``row`` (its expired ones are dropped): ``(token, csrf_token)``."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self._clock()
        s.execute(
            delete(UserSessionRow).where(
                UserSessionRow.user_id == row.id, UserSessionRow.expires_at <= now
            )
        )
        s.add(
            UserSessionRow(
                token_hash=digest(token),
                user_id=row.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
        return token, csrf

    def change_password(self, token: str, current: str, new: str) -> tuple[str, str]:
        """A signed-in user changes its own password: ``current`` must match (a wrong one
        counts as a failed sign-in: InvalidInputError on ``current_password``, or the
        ``locked`` AuthenticationError); then every session of the user ends and a new one
        starts for the caller: its ``(token, csrf_token)``."""
        found = self.session(token)
        name = found.user.username
        throttle.check_not_locked(self._sessions, name, self._clock())
        with self._sessions() as s:
            stored = self._user_row(s, found.user.id).password_hash
        if not verify_password(current, stored):
            now = self._clock()
            if throttle.record_failure(self._sessions, name, now):
                raise throttle.locked_error(name, now + throttle.LOCK, now)
            raise InvalidInputError("the current password is wrong", field="current_password")
        hashed = hash_password(new)
        with self._sessions.begin() as s:
            row = self._user_row(s, found.user.id)
            row.password_hash = hashed
            s.execute(delete(UserSessionRow).where(UserSessionRow.user_id == row.id))
            throttle.clear(s, name)
            return self._start_session(s, row)

    def logout(self, token: str) -> bool:
        """End the session of ``token``; False when there was none."""
        if not token or len(token) > _MAX_TOKEN_CHARS:
            return False
        with self._sessions.begin() as s:
            gone = s.execute(
                delete(UserSessionRow).where(UserSessionRow.token_hash == digest(token))
            )
            return bool(getattr(gone, "rowcount", 0))

    def session(self, token: str) -> UserSession:
        """The live session of ``token`` with its user; AuthenticationError when it expired,
        was signed out, or its user is disabled."""
        if not token or len(token) > _MAX_TOKEN_CHARS:
            raise AuthenticationError(_SIGNED_OUT)
        with self._sessions() as s:
            row = s.get(UserSessionRow, digest(token))
            if row is None or row.expires_at <= self._clock():
                raise AuthenticationError(_SIGNED_OUT)
            user = self._load(s, self._user_row(s, row.user_id))
            if user.disabled:
                raise AuthenticationError(
                    "this account is disabled: ask an administrator", reason="disabled"
                )
            return UserSession(user, row.csrf_token, row.expires_at)

    def principal_for_session(self, token: str, *, csrf: str | None) -> Principal:
        """The signed-in user of a session cookie. With ``csrf`` (a request that changes
        something), it must equal the session's CSRF token: otherwise PermissionDenied (403,
        ``details.reason`` ``csrf``): the caller is known, the request is not proven to come
        from the console. AuthenticationError (401) for an expired, signed-out or disabled
        session."""
        found = self.session(token)
        if csrf is not None and not hmac.compare_digest(
            csrf.encode("utf-8"), found.csrf_token.encode("utf-8")
        ):
            raise PermissionDenied(
                "missing or wrong X-CSRF-Token header: send the csrf_token from sign-in "
                "(or GET /v1/auth/me) with every request that changes something",
                reason="csrf",
            )
        return _principal(found.user)

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
        if not secret.startswith(KEY_PREFIX) or len(secret) > _MAX_TOKEN_CHARS:
            raise AuthenticationError("invalid API key")
        with self._sessions.begin() as s:
            row = s.scalars(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest(secret))).first()
            if row is None or row.revoked_at is not None:
                raise AuthenticationError("invalid or revoked API key")
            now = self._clock()
            if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
                s.execute(update(ApiKeyRow).where(ApiKeyRow.id == row.id).values(last_used_at=now))
            return Principal("apikey", row.name, {row.tenant: row.role}, key_id=row.id)


def _principal(user: User) -> Principal:
    return Principal("user", user.username, dict(user.roles), user_id=user.id)
