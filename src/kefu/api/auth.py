"""Authentication and authorisation of API and console requests.

A request proves who it is with ``Authorization: Bearer KEY`` (an API key from ``kefu apikey
create``) or with the console's session cookie (``kefu_session``, from ``POST /v1/auth/login``);
a cookie-authenticated request that changes something must also send the session's CSRF token
in ``X-CSRF-Token``. Routes take the caller with ``Depends(current_principal)`` and check its
role for the tenant concerned with :func:`authorize` before they read or change anything:
401 without valid credentials, 403 when the role does not allow the action (nothing changes).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kefu.access.roles import Principal
from kefu.errors import AuthenticationError, PermissionDenied

SESSION_COOKIE = "kefu_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_principal(request: Request) -> Principal:
    """The caller, or :class:`AuthenticationError` (401)."""
    svc = request.app.state.service
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise AuthenticationError("the Authorization header must be 'Bearer <API key>'")
        principal: Principal = svc.access.principal_for_key(key.strip())
        return principal
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        csrf = None if request.method in _SAFE_METHODS else request.headers.get(CSRF_HEADER, "")
        found: Principal = svc.access.principal_for_session(token, csrf=csrf)
        return found
    raise AuthenticationError("sign in to the console or send an API key (Authorization: Bearer)")


Caller = Annotated[Principal, Depends(current_principal)]
"""A route parameter ``principal: Caller`` is the authenticated caller (401 without one)."""


def authorize(principal: Principal, tenant: str, needed: str) -> None:
    """Raise :class:`PermissionDenied` (403) unless ``principal`` has at least the role
    ``needed`` in ``tenant``."""
    if not principal.can(tenant, needed):
        role = principal.role_in(tenant)
        have = f"your role there is {role}" if role else "you have no role there"
        raise PermissionDenied(
            f"{needed} role needed for tenant {tenant!r}; {have}",
            tenant=tenant,
            needed=needed,
        )
