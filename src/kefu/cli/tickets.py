"""`kefu` commands for tickets (工单) (being written)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Tickets (工单).", no_args_is_help=True)
