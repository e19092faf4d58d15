"""Roles per tenant and what each may do.

    viewer      read the desk, tickets, quality scores and analytics
    agent       + take conversations, reply, hand back, work tickets
    supervisor  + override quality scores, approve FAQ drafts and queued operations
    admin       + users, API keys, settings and the knowledge base

Each role includes the ones above it. A principal holds one role per tenant; the tenant ``*``
stands for every tenant (a system administrator or a key for all tenants).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

ROLES = ("viewer", "agent", "supervisor", "admin")
ALL_TENANTS = "*"


def allows(role: str | None, needed: str) -> bool:
    """Does ``role`` include ``needed``?"""
    if role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a console user (by session) or an API key."""

    kind: str  # "user" or "apikey"
    name: str  # the username, or the key's name
    roles: Mapping[str, str] = field(default_factory=dict)  # tenant (or "*") -> role
    user_id: int | None = None
    key_id: int | None = None

    def role_in(self, tenant: str) -> str | None:
        """The principal's role in ``tenant`` (the higher of its own and an all-tenants one)."""
        own = self.roles.get(tenant)
        every = self.roles.get(ALL_TENANTS)
        found = [r for r in (own, every) if r in ROLES]
        return max(found, key=ROLES.index) if found else None

    def can(self, tenant: str, needed: str) -> bool:
        return allows(self.role_in(tenant), needed)

    @property
    def display(self) -> str:
        return self.name if self.kind == "user" else f"key:{self.name}"
