"""``kefu shop import|export|show``: the embedded reference shop."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kefu.cli.common import console, err_console, handle_errors, print_json, state
from kefu.connectors.embedded import EmbeddedShop
from kefu.connectors.tau_io import FORMATS, dump_tau, read_tau
from kefu.errors import InvalidInputError

app = typer.Typer(
    help="Manage the embedded reference shop (tau-bench format).", no_args_is_help=True
)


def _shop(ctx: typer.Context) -> EmbeddedShop:
    shop: EmbeddedShop = state(ctx).service(embedder=None).shop
    return shop


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InvalidInputError(f"--format must be one of {', '.join(FORMATS)}", field="format")


@app.command("import")
@handle_errors
def import_(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="Folder with users.json, orders.json, products.json, or db.json")
    ],
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    fmt: Annotated[str, typer.Option("--format", help="tau")] = "tau",
) -> None:
    """Replace the tenant's shop with a tau-bench retail database (all or nothing)."""
    _check_format(fmt)
    svc = state(ctx).service(embedder=None)
    svc.tenants.get(tenant)  # an unknown tenant fails before large files are read
    shop = svc.shop
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as progress:
        read_task = progress.add_task("reading", total=None)
        data = read_tau(path, progress=lambda stage: progress.update(read_task, description=stage))
        progress.update(read_task, total=1, completed=1)
        save_task = progress.add_task("saving", total=None)
        counts = shop.load(
            tenant,
            data.users,
            data.orders,
            data.products,
            files=data.files,
            progress=lambda done, total: progress.update(save_task, completed=done, total=total),
            rules=data.rules,
        )
    console.print(
        f"imported {counts.customers} customers, {counts.orders} orders and "
        f"{counts.products} products into [bold]{tenant}[/]"
    )


@app.command("export")
@handle_errors
def export(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    fmt: Annotated[str, typer.Option("--format", help="tau")] = "tau",
    output: Annotated[Path | None, typer.Option(help="File to write (default stdout)")] = None,
) -> None:
    """Export the shop as one JSON file {"users", "orders", "products"} (importable again)."""
    _check_format(fmt)
    data = dump_tau(_shop(ctx).dump(tenant))
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        err_console.print(f"wrote {output}")


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return obj


@app.command("show")
@handle_errors
def show(
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    customer: Annotated[str | None, typer.Option(help="Customer id")] = None,
    email: Annotated[str | None, typer.Option(help="Customer email")] = None,
    phone: Annotated[str | None, typer.Option(help="Customer phone")] = None,
    order: Annotated[str | None, typer.Option(help="Order id")] = None,
    product: Annotated[str | None, typer.Option(help="Product id")] = None,
) -> None:
    """Show one customer (with their orders), order or product as JSON."""
    given = [x for x in (customer, email, phone, order, product) if x is not None]
    if len(given) != 1:
        raise InvalidInputError(
            "give exactly one of --customer, --email, --phone, --order, --product"
        )
    shop = _shop(ctx)
    if order is not None:
        print_json(_plain(shop.order(tenant, order)))
        return
    if product is not None:
        print_json(_plain(shop.product(tenant, product)))
        return
    if email is not None:
        found = shop.find_customer_by_email(tenant, email)
    elif phone is not None:
        found = shop.find_customer_by_phone(tenant, phone)
    else:
        found = shop.customer(tenant, customer or "")
    orders = shop.orders_of_customer(tenant, found.id)
    print_json(
        {
            "customer": _plain(found),
            "orders": [{"id": o.id, "status": o.status, "total": str(o.total)} for o in orders],
        }
    )
