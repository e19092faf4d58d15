"""Sign-in for the console, and the administration of users and API keys over HTTP.

- ``POST /v1/auth/login`` sets the ``kefu_session`` cookie (HttpOnly, SameSite=Strict, Secure
  over https) and answers the CSRF token that cookie-authenticated changes must send back in
  ``X-CSRF-Token``; ``POST /v1/auth/logout`` ends the session; ``POST /v1/auth/password``
  changes the caller's own password; ``GET /v1/auth/me`` says who is calling.
- ``/v1/users`` and ``/v1/apikeys`` need the admin role of the tenant concerned (``*`` for
  users and keys of every tenant). An administrator sees only the roles of users in the
  tenants it administers, and grants nothing above its own role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from kefu.access.repository import SESSION_LIFETIME, AccessRepository
from kefu.access.roles import ALL_TENANTS, Principal, allows
from kefu.api.auth import CSRF_HEADER, SESSION_COOKIE, Caller, authorize
from kefu.errors import AuthenticationError, PermissionDenied

router = APIRouter(prefix="/v1", tags=["access"])

_ROLE = "^(viewer|agent|supervisor|admin)$"


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    display_name: str = Field("", max_length=128)
    language: str = Field("zh", pattern="^(zh|en)$")
    role: str = Field(pattern=_ROLE, description="The user's role in the tenant of ?tenant=")
    skills: list[str] = Field(default_factory=list, max_length=20)


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(pattern=_ROLE)
    skills: list[str] = Field(default_factory=list, max_length=20)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=8, max_length=1024)


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1, max_length=64, description='A tenant, or "*" for all')
    role: str = Field(pattern=_ROLE)
    name: str = Field("", max_length=64)


def _access(request: Request) -> AccessRepository:
    repo: AccessRepository = request.app.state.service.access
    return repo


def _set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _admin_filter(principal: Principal) -> Callable[[str], bool]:
    """Which tenants' memberships ``principal`` may see on a user: those it administers."""
    return lambda tenant: principal.can(tenant, "admin")


def _may_grant(principal: Principal, tenant: str, role: str) -> None:
    """Admin of ``tenant`` and nothing above the caller's own role there."""
    authorize(principal, tenant, "admin")
    if not allows(principal.role_in(tenant), role):
        raise PermissionDenied(
            f"you cannot grant the role {role!r}: it is above your own in {tenant!r}",
            tenant=tenant,
            needed=role,
        )


def _admin_scope(principal: Principal, tenant: str | None) -> str | None:
    """Authorise a listing of ``tenant`` (or of everything, which needs admin of ``*``)."""
    authorize(principal, tenant if tenant is not None else ALL_TENANTS, "admin")
    return tenant


# -- sessions ----------------------------------------------------------------------------------
@router.post("/auth/login")
def login(body: LoginIn, request: Request, response: Response) -> dict[str, Any]:
    """Sign in to the console: the user and the CSRF token; the session is in the cookie."""
    repo = _access(request)
    token, csrf, principal = repo.login(body.username, body.password)
    _set_session_cookie(request, response, token)
    return {"user": repo.user(principal.name).to_dict(), "csrf_token": csrf}


@router.post("/auth/logout", status_code=204)
def logout(request: Request) -> Response:
    """End the console session (with its CSRF token) and clear the cookie; without a live
    session there is nothing to end."""
    repo = _access(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            repo.principal_for_session(token, csrf=request.headers.get(CSRF_HEADER, ""))
        except AuthenticationError:
            pass  # expired or signed out already: only the cookie is left to clear
        else:
            repo.logout(token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.post("/auth/password")
def change_password(
    body: PasswordChange, request: Request, response: Response, principal: Caller
) -> dict[str, Any]:
    """A signed-in console user changes its own password: every session of the user ends and
    this one is replaced (a new cookie and CSRF token)."""
    if principal.kind != "user":
        raise PermissionDenied("only a signed-in console user can change its password")
    token, csrf = _access(request).change_password(
        request.cookies.get(SESSION_COOKIE, ""), body.current_password, body.new_password
    )
    _set_session_cookie(request, response, token)
    return {"csrf_token": csrf}


@router.get("/auth/me")
def me(request: Request, principal: Caller) -> dict[str, Any]:
    """Who is calling: roles per tenant, skill groups, and for a session its CSRF token."""
    if principal.kind != "user":
        return {
            "kind": principal.kind,
            "name": principal.name,
            "display_name": principal.display,
            "language": None,
            "roles": dict(principal.roles),
            "skills": {},
        }
    session = _access(request).session(request.cookies.get(SESSION_COOKIE, ""))
    user = session.user
    return {
        "kind": "user",
        "name": user.username,
        "display_name": user.display_name,
        "language": user.language,
        "roles": dict(user.roles),
        "skills": {m.tenant: list(m.skills) for m in user.memberships},
        "csrf_token": session.csrf_token,
    }


# -- users -------------------------------------------------------------------------------------
@router.get("/users")
def list_users(
    request: Request,
    principal: Caller,
    tenant: str | None = Query(None, description="Members of this tenant; none: every user"),
) -> dict[str, Any]:
    """The members of ``tenant`` (admin of it), or every user (admin of ``*``)."""
    scope = _admin_scope(principal, tenant)
    visible = _admin_filter(principal)
    return {"items": [u.to_dict(visible) for u in _access(request).users(scope)]}


@router.post("/users", status_code=201)
def create_user(
    body: UserCreate,
    request: Request,
    principal: Caller,
    tenant: str = Query(description='The tenant the new user gets a role in ("*" for all)'),
) -> dict[str, Any]:
    """A new console user with ``role`` in ``tenant``."""
    _may_grant(principal, tenant, body.role)
    user = _access(request).create_user(
        body.username,
        body.password,
        body.display_name,
        body.language,
        tenant=tenant,
        role=body.role,
        skills=body.skills,
    )
    return user.to_dict(_admin_filter(principal))


@router.put("/users/{username}/roles/{tenant}")
def grant_role(
    username: str,
    tenant: str,
    body: RoleIn,
    request: Request,
    principal: Caller,
) -> dict[str, Any]:
    """Give ``username`` the role (and skill groups) in ``tenant``, replacing the one it had."""
    _may_grant(principal, tenant, body.role)
    user = _access(request).grant(username, tenant, body.role, body.skills)
    return user.to_dict(_admin_filter(principal))


@router.delete("/users/{username}/roles/{tenant}", status_code=204)
def revoke_role(
    username: str,
    tenant: str,
    request: Request,
    principal: Caller,
) -> Response:
    """Take away ``username``'s role in ``tenant`` (404 when it has none there)."""
    authorize(principal, tenant, "admin")
    _access(request).revoke(username, tenant)
    return Response(status_code=204)


# -- API keys ----------------------------------------------------------------------------------
@router.get("/apikeys")
def list_api_keys(
    request: Request,
    principal: Caller,
    tenant: str | None = Query(None, description="Keys of this tenant; none: every key"),
) -> dict[str, Any]:
    """The keys of ``tenant`` (admin of it), or every key (admin of ``*``); never a secret."""
    scope = _admin_scope(principal, tenant)
    return {"items": [k.to_dict() for k in _access(request).api_keys(scope)]}


@router.post("/apikeys", status_code=201)
def create_api_key(body: ApiKeyCreate, request: Request, principal: Caller) -> dict[str, Any]:
    """A new key: the record and the secret, shown this once only."""
    _may_grant(principal, body.tenant, body.role)
    key, secret = _access(request).create_api_key(body.tenant, body.role, body.name)
    return {"key": key.to_dict(), "secret": secret}


@router.delete("/apikeys/{key_id}")
def revoke_api_key(key_id: int, request: Request, principal: Caller) -> dict[str, Any]:
    """Revoke a key (admin of its tenant): refused from now on. Idempotent."""
    repo = _access(request)
    authorize(principal, repo.api_key(key_id).tenant, "admin")
    return repo.revoke_api_key(key_id).to_dict()
