"""The ``kefu`` command (Typer + Rich)."""
