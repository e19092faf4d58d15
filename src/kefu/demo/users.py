"""The demo shop's console users: one per role, all with the demo password (printed by
``kefu demo``; a demo binds to 127.0.0.1 by default and is not a production setup)."""

from __future__ import annotations

from typing import Any

from kefu.errors import NotFoundError

DEMO_PASSWORD = "kefu-demo"
# username, display name, role, skill groups
DEMO_USERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("admin", "管理员 Admin", "admin", ()),
    ("lead", "主管 Lead", "supervisor", ("general", "after_sales")),
    ("agent", "客服小林 Lin", "agent", ("general", "after_sales")),
    ("viewer", "访客 Viewer", "viewer", ()),
)


def seed_users(svc: Any, tenant: str) -> list[tuple[str, str]]:
    """Create the demo users that do not exist yet, each with its role in ``tenant``; an
    existing user keeps its password and gets its demo role there. Returns (username, role)."""
    out: list[tuple[str, str]] = []
    for username, display, role, skills in DEMO_USERS:
        try:
            svc.access.user(username)
        except NotFoundError:
            svc.access.create_user(
                username, DEMO_PASSWORD, display, "zh", tenant=tenant, role=role, skills=skills
            )
        else:
            svc.access.grant(username, tenant, role, skills)
        out.append((username, role))
    return out
