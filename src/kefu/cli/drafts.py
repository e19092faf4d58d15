"""`kefu drafts`: FAQ drafts mined from unanswered questions (being written)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Suggested FAQ drafts mined from unanswered questions.", no_args_is_help=True
)
