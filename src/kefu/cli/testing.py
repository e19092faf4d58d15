"""``kefu test PATH…``: run scripted conversation tests (YAML) with a summary and JUnit XML."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kefu.cli.common import console, handle_errors, state
from kefu.errors import InvalidInputError


@handle_errors
def test(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Conversation files or folders")],
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML here")] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every conversation")
    ] = False,
) -> None:
    """Run scripted conversations against throwaway tenants; exit 1 when any fails."""
    from kefu.quality.conversation_tests import Runner, discover, junit_xml, load_file
    from kefu.service import make_embedder

    files = discover(paths)
    if not files:
        raise InvalidInputError("no conversation files found (*.yaml, *.yml)", field="paths")
    conversations = [c for f in files for c in load_file(f)]
    config = state(ctx).config()
    runner = Runner(make_embedder(config))
    results = []
    try:
        for r in runner.run_all(conversations):
            results.append(r)
            if verbose or not r.passed:
                mark = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
                console.print(f"{mark} {Path(r.conversation.file).name} :: {r.conversation.name}")
            if r.error:
                console.print(f"     error: {r.error}", highlight=False)
            for f in r.failures:
                console.print(
                    f"     turn {f.turn} ({f.user!r}): {'; '.join(f.problems)}", highlight=False
                )
                console.print(f"       bot: {f.replies[:300]!r}", highlight=False)
    finally:
        runner.close()
    passed = sum(1 for r in results if r.passed)
    console.print(f"{passed}/{len(results)} conversations passed ({len(files)} files)")
    if junit is not None:
        junit.write_bytes(junit_xml(results))
    if passed != len(results):
        raise typer.Exit(1)
