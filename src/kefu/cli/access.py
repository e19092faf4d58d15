"""`kefu user` and `kefu apikey`: the console's users and the API's keys (being written)."""

from __future__ import annotations

import typer

user_app = typer.Typer(help="Console users and their roles per tenant.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys scoped to a tenant and a role.", no_args_is_help=True)
