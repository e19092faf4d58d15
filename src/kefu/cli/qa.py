"""`kefu` commands for automated quality inspection (质检) (being written)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Automated quality inspection (质检).", no_args_is_help=True)
