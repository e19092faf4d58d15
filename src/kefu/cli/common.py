"""Shared plumbing of the CLI: the service from global options, errors as messages."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from kefu.config import Config
from kefu.errors import KefuError

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # paths and messages are never wrapped


@dataclass
class State:
    data_dir: Path | None = None
    _service: Any = None

    def config(self) -> Config:
        return Config.from_env(self.data_dir)

    def service(self, embedder: Any = "auto") -> Any:
        if self._service is None:
            from kefu.service import build_service

            self._service = build_service(self.config(), embedder=embedder)
        return self._service


def state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = State()
    st: State = root.obj
    return st


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Print kefu errors as one clear line on stderr and exit with status 2."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except KefuError as exc:
            # escaped: a message may quote brackets ("pip install 'kefu[llm-local]'")
            err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
            raise typer.Exit(2) from exc

    return wrapper


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
