"""`kefu user` and `kefu apikey`: the console's users and the API's keys.

The CLI works on the database directly, as the operator of the installation: it needs no
credentials, which is how the first administrator is made (``kefu user create admin --tenant
'*' --role admin``). Passwords are read hidden from the terminal (twice), from standard input
with ``--password-stdin``, or from ``KEFU_USER_PASSWORD`` for scripts; never from an option, so
they do not end up in the shell history or the process list.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from kefu.access.records import ApiKey, User
from kefu.access.repository import AccessRepository
from kefu.cli.common import console, handle_errors, print_json, state
from kefu.errors import InvalidInputError

user_app = typer.Typer(help="Console users and their roles per tenant.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys scoped to a tenant and a role.", no_args_is_help=True)

PASSWORD_ENV = "KEFU_USER_PASSWORD"

TenantOpt = Annotated[str, typer.Option("--tenant", help='Tenant, or "*" for every tenant')]
RoleOpt = Annotated[str, typer.Option("--role", help="viewer, agent, supervisor or admin")]
JsonOpt = Annotated[bool, typer.Option("--json", help="As JSON")]


def _access(ctx: typer.Context) -> AccessRepository:
    repo: AccessRepository = state(ctx).service(embedder=None).access
    return repo


def _skills(text: str | None) -> list[str]:
    return [s for s in (text or "").split(",") if s.strip()]


def _read_password(from_stdin: bool) -> str:
    """The new password: standard input, then the environment, then a hidden prompt (twice)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    env = os.environ.get(PASSWORD_ENV)
    if env:
        return env
    if not sys.stdin.isatty():
        raise InvalidInputError(
            f"no password: use --password-stdin or set {PASSWORD_ENV} when not on a terminal",
            field="password",
        )
    first: str = typer.prompt("Password", hide_input=True)
    again: str = typer.prompt("Repeat the password", hide_input=True)
    if first != again:
        raise InvalidInputError("the two passwords differ", field="password")
    return first


def _user_line(user: User) -> str:
    roles = ", ".join(f"{t}:{r}" for t, r in user.roles.items()) or "no role"
    state_ = " (disabled)" if user.disabled else ""
    return f"user {user.username}{state_}: {roles}"


def _say(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True, markup=False)


# -- users -------------------------------------------------------------------------------------
@user_app.command("create")
@handle_errors
def user_create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Sign-in name (letters, digits, . _ @ -)")],
    tenant: TenantOpt,
    role: RoleOpt,
    display_name: Annotated[str, typer.Option(help="Name shown to others")] = "",
    language: Annotated[str, typer.Option(help="Console language: zh or en")] = "zh",
    skills: Annotated[
        str | None, typer.Option(help="Skill groups (queues) served, comma-separated")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a console user with a role in a tenant (or "*")."""
    repo = _access(ctx)
    password = _read_password(password_stdin)
    user = repo.create_user(
        username,
        password,
        display_name,
        language,
        tenant=tenant,
        role=role,
        skills=_skills(skills),
    )
    if as_json:
        print_json(user.to_dict())
        return
    _say(f"created {_user_line(user)}")


@user_app.command("list")
@handle_errors
def user_list(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only members of this")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Users and their roles per tenant."""
    users = _access(ctx).users(tenant)
    if as_json:
        print_json([u.to_dict() for u in users])
        return
    table = Table("username", "display name", "roles", "skills", "disabled")
    for u in users:
        table.add_row(
            u.username,
            u.display_name,
            ", ".join(f"{m.tenant}:{m.role}" for m in u.memberships) or "-",
            "; ".join(f"{m.tenant}:{','.join(m.skills)}" for m in u.memberships if m.skills) or "-",
            "yes" if u.disabled else "",
        )
    out = console if console.is_terminal else Console(file=sys.stdout, width=160)
    out.print(table)


@user_app.command("grant")
@handle_errors
def user_grant(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    tenant: TenantOpt,
    role: RoleOpt,
    skills: Annotated[
        str | None, typer.Option(help="Skill groups (queues) served, comma-separated")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Give a user a role (and skill groups) in a tenant, replacing the one it had there."""
    user = _access(ctx).grant(username, tenant, role, _skills(skills))
    if as_json:
        print_json(user.to_dict())
        return
    _say(_user_line(user))


@user_app.command("revoke")
@handle_errors
def user_revoke(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    tenant: TenantOpt,
    as_json: JsonOpt = False,
) -> None:
    """Take away a user's role in a tenant."""
    user = _access(ctx).revoke(username, tenant)
    if as_json:
        print_json(user.to_dict())
        return
    _say(_user_line(user))


@user_app.command("passwd")
@handle_errors
def user_passwd(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Set a user's password: its sessions end and a sign-in lock is lifted."""
    repo = _access(ctx)
    repo.user(username)  # UserNotFound before asking for a password
    user = repo.set_password(username, _read_password(password_stdin))
    _say(f"password of {user.username} changed; its sessions were ended")


@user_app.command("disable")
@handle_errors
def user_disable(ctx: typer.Context, username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user: no sign-in, its sessions end now."""
    _say(_user_line(_access(ctx).disable(username)))


@user_app.command("enable")
@handle_errors
def user_enable(ctx: typer.Context, username: Annotated[str, typer.Argument()]) -> None:
    """Enable a disabled user again."""
    _say(_user_line(_access(ctx).enable(username)))


# -- API keys ----------------------------------------------------------------------------------
def _key_line(key: ApiKey) -> str:
    state_ = f", revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else ""
    return f"key {key.id} {key.prefix}… {key.name} ({key.tenant}:{key.role}{state_})"


@apikey_app.command("create")
@handle_errors
def apikey_create(
    ctx: typer.Context,
    tenant: TenantOpt,
    role: RoleOpt,
    name: Annotated[str, typer.Option(help="What the key is for")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; the secret is printed this once only."""
    key, secret = _access(ctx).create_api_key(tenant, role, name)
    if as_json:
        data: dict[str, Any] = {"key": key.to_dict(), "secret": secret}
        print_json(data)
        return
    _say(f"created {_key_line(key)}")
    _say("the key (shown once; store it now):")
    sys.stdout.write(secret + "\n")


@apikey_app.command("list")
@handle_errors
def apikey_list(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only keys of this")] = None,
    as_json: JsonOpt = False,
) -> None:
    """API keys (never their secrets)."""
    keys = _access(ctx).api_keys(tenant)
    if as_json:
        print_json([k.to_dict() for k in keys])
        return
    table = Table("id", "prefix", "name", "tenant", "role", "last used (UTC)", "revoked (UTC)")
    for k in keys:
        table.add_row(
            str(k.id),
            k.prefix,
            k.name,
            k.tenant,
            k.role,
            f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "-",
            f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "-",
        )
    out = console if console.is_terminal else Console(file=sys.stdout, width=160)
    out.print(table)


@apikey_app.command("revoke")
@handle_errors
def apikey_revoke(
    ctx: typer.Context,
    key_id: Annotated[int, typer.Argument(help="The key's id (kefu apikey list)")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API key: refused from now on."""
    key = _access(ctx).revoke_api_key(key_id)
    if as_json:
        print_json(key.to_dict())
        return
    _say(f"revoked {_key_line(key)}")
