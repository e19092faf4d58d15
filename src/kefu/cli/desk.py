"""`kefu inbox`: the agent desk, conversations waiting for a human (being written)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="The agent desk (inbox of conversations waiting for a human).", no_args_is_help=True
)
