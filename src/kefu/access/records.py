"""The plain records of access control (users, memberships, API keys) and the checks of the
values a caller supplies for them. No secret ever appears in a record or its ``to_dict``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kefu.access.roles import ROLES
from kefu.errors import InvalidInputError
from kefu.storage.access_tables import ApiKeyRow, MembershipRow, UserRow

LANGUAGES = ("zh", "en")
MAX_SKILLS = 20
MAX_SKILL_CHARS = 32
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")


def iso(d: datetime | None) -> str | None:
    return d.isoformat() + "Z" if d else None


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidInputError(
            f"unknown role {role!r}; use one of {', '.join(ROLES)}", field="role"
        )
    return role


def normalise_username(username: str) -> str:
    """Usernames are case-insensitive: stored and looked up in lower case."""
    return username.strip().lower()


def check_username(username: str) -> str:
    name = normalise_username(username)
    if not _USERNAME.fullmatch(name):
        raise InvalidInputError(
            "a username is 1-64 characters: letters, digits and . _ @ -, starting with a "
            "letter or digit",
            field="username",
        )
    return name


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise InvalidInputError(
            f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}",
            field="language",
        )
    return language


def check_display_name(display_name: str, username: str) -> str:
    name = display_name.strip() or username
    if len(name) > 128:
        raise InvalidInputError("a display name is at most 128 characters", field="display_name")
    return name


def check_skills(skills: Iterable[str]) -> list[str]:
    """Skill groups (queues) an agent serves: distinct, non-blank, without commas."""
    found: list[str] = []
    for raw in skills:
        skill = raw.strip()
        if not skill or len(skill) > MAX_SKILL_CHARS or "," in skill:
            raise InvalidInputError(
                f"a skill group is 1-{MAX_SKILL_CHARS} characters without commas: {raw!r}",
                field="skills",
            )
        if skill not in found:
            found.append(skill)
    if len(found) > MAX_SKILLS:
        raise InvalidInputError(f"at most {MAX_SKILLS} skill groups", field="skills")
    return found


@dataclass(frozen=True)
class Membership:
    """A user's role (and skill groups) in one tenant, or in every tenant (``*``)."""

    tenant: str
    role: str
    skills: tuple[str, ...]

    @classmethod
    def of(cls, row: MembershipRow) -> Membership:
        return cls(row.tenant, row.role, tuple(str(s) for s in row.skills or ()))

    def to_dict(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "role": self.role, "skills": list(self.skills)}


@dataclass(frozen=True)
class User:
    """A console user with its memberships; the password hash stays in the database."""

    id: int
    username: str
    display_name: str
    language: str
    disabled: bool
    created_at: datetime
    memberships: tuple[Membership, ...]

    @classmethod
    def of(cls, row: UserRow, memberships: Iterable[MembershipRow]) -> User:
        return cls(
            row.id,
            row.username,
            row.display_name,
            row.language,
            bool(row.disabled),
            row.created_at,
            tuple(Membership.of(m) for m in sorted(memberships, key=lambda m: m.tenant)),
        )

    @property
    def roles(self) -> dict[str, str]:
        return {m.tenant: m.role for m in self.memberships}

    def to_dict(self, visible: Callable[[str], bool] | None = None) -> dict[str, Any]:
        """The user as JSON; with ``visible``, only the memberships of the tenants it accepts
        (an administrator of one tenant does not learn a user's roles elsewhere)."""
        shown = [m for m in self.memberships if visible is None or visible(m.tenant)]
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "language": self.language,
            "disabled": self.disabled,
            "created_at": iso(self.created_at),
            "roles": {m.tenant: m.role for m in shown},
            "skills": {m.tenant: list(m.skills) for m in shown},
        }


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
