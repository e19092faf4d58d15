"""``kefu tenant create|list|show|set``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from kefu.cli.common import console, handle_errors, print_json, state
from kefu.settings import SETTINGS, parse_cli_value

app = typer.Typer(help="Manage tenants (shops) and their settings.", no_args_is_help=True)


@app.command("create")
@handle_errors
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Tenant name: lowercase letters, digits, - and _")],
    level: Annotated[str, typer.Option(help="Service level: L1, L2 or L3")] = "L1",
    language: Annotated[str, typer.Option(help="Default language: zh or en")] = "zh",
) -> None:
    """Create a tenant; running it again updates level and language (idempotent)."""
    svc = state(ctx).service(embedder=None)
    tenant, created = svc.tenants.create(name, {"level": level, "language": language})
    verb = "created" if created else "exists, updated"
    console.print(f"tenant [bold]{tenant.name}[/] {verb} (level {level.upper()}, {language})")


@app.command("list")
@handle_errors
def list_(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List tenants."""
    svc = state(ctx).service(embedder=None)
    rows = []
    for t in svc.tenants.all():
        s = svc.tenants.settings(t.name)
        rows.append(
            {
                "name": t.name,
                "level": s["level"],
                "language": s["language"],
                "faqs": len(svc.faqs.all(t.name)),
                "created_at": t.created_at,
            }
        )
    if as_json:
        print_json(rows)
        return
    table = Table("name", "level", "language", "FAQ rows", "created")
    for r in rows:
        table.add_row(
            r["name"],
            r["level"],
            r["language"],
            str(r["faqs"]),
            r["created_at"].strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@app.command("show")
@handle_errors
def show(
    ctx: typer.Context, name: str, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Show a tenant's settings (stored values and defaults)."""
    svc = state(ctx).service(embedder=None)
    values = svc.tenants.settings(name).as_dict()
    if as_json:
        print_json({"name": name, "settings": values})
        return
    table = Table("setting", "value", "default?", title=f"tenant {name}")
    for key, value in values.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        table.add_row(key, shown, "yes" if value == SETTINGS[key].default else "")
    console.print(table)


@app.command("set")
@handle_errors
def set_(
    ctx: typer.Context,
    name: str,
    key: Annotated[str, typer.Argument(help="Setting name (see `kefu settings`)")],
    value: Annotated[str, typer.Argument(help="New value (JSON for structured settings)")],
) -> None:
    """Change one setting of a tenant."""
    svc = state(ctx).service(embedder=None)
    parsed = svc.tenants.set(name, key, parse_cli_value(key, value))
    console.print(f"{name}: {key} = {json.dumps(parsed, ensure_ascii=False)}")
