"""``kefu flows import|export|validate|list|reset``: a tenant's dialogue flows (YAML)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from kefu.cli.common import console, err_console, handle_errors, print_json, state
from kefu.dialogue.catalog import builtin_catalog, parse_tenant_flows
from kefu.errors import InvalidInputError

app = typer.Typer(help="Manage dialogue flows (L2 and up).", no_args_is_help=True)


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"{file}: no such file", field="file") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{file}: not UTF-8 text", field="file") from None


@app.command("validate")
@handle_errors
def validate(file: Annotated[Path, typer.Argument(help="Flow file (YAML)")]) -> None:
    """Check a flow file without storing it."""
    catalog = parse_tenant_flows(_read(file), str(file))
    console.print(f"{file}: {len(catalog.flows)} flows, {len(catalog.templates)} templates, OK")


@app.command("import")
@handle_errors
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Flow file (YAML)")],
    tenant: Annotated[str, typer.Option(help="Tenant name")],
) -> None:
    """Store the tenant's flow file (validated first; a bad file changes nothing)."""
    text = _read(file)
    catalog = parse_tenant_flows(text, file.name)
    svc = state(ctx).service(embedder=None)
    svc.flows.put(tenant, file.name, text)
    console.print(f"stored {len(catalog.flows)} flows for [bold]{tenant}[/] from {file.name}")


@app.command("export")
@handle_errors
def export(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    output: Annotated[Path | None, typer.Option(help="File to write (default stdout)")] = None,
) -> None:
    """Write the tenant's own flow file (nothing when it uses only the built-in flows)."""
    svc = state(ctx).service(embedder=None)
    stored = svc.flows.get(tenant)
    if stored is None:
        err_console.print(f"{tenant} has no flow file of its own (built-in flows only)")
        raise typer.Exit(1)
    if output is None:
        sys.stdout.write(stored[1])
    else:
        output.write_text(stored[1], encoding="utf-8")
        err_console.print(f"wrote {output}")


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option(help="Tenant (default: built-in flows)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the flows a tenant uses."""
    catalog = (
        builtin_catalog() if tenant is None else state(ctx).service(embedder=None).catalog(tenant)
    )
    rows = [
        {
            "flow": f.name,
            "title": f.title,
            "level": f.level,
            "identity": f.identity,
            "slots": list(f.slots),
            "examples": sum(len(x) for x in f.examples.values()),
        }
        for f in catalog.flows.values()
    ]
    if as_json:
        print_json(rows)
        return
    for r in rows:
        title = r["title"]
        assert isinstance(title, dict)
        console.print(
            f"{r['flow']:<22} {r['level']}  {title.get('zh', '')} / {title.get('en', '')}"
            f"  slots={','.join(r['slots'])}"  # type: ignore[arg-type]
        )


@app.command("reset")
@handle_errors
def reset(ctx: typer.Context, tenant: Annotated[str, typer.Option(help="Tenant name")]) -> None:
    """Drop the tenant's flow file and go back to the built-in flows."""
    gone = state(ctx).service(embedder=None).flows.delete(tenant)
    console.print("removed" if gone else "nothing to remove")
