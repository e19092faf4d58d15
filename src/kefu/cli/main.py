"""Entry point of the ``kefu`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kefu.cli import docs, evaluate, flows, kb, shop, tenant, testing
from kefu.cli.common import console, err_console, handle_errors, print_json, state

app = typer.Typer(
    help="kefu: self-hosted customer-service agent for e-commerce (智能客服).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(tenant.app, name="tenant")
app.add_typer(kb.app, name="kb")
app.add_typer(docs.app, name="docs")
app.add_typer(evaluate.app, name="eval")
app.add_typer(shop.app, name="shop")
app.add_typer(flows.app, name="flows")
app.command("test")(testing.test)

DEMO_TENANT = "demo"


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Data directory (SQLite file, caches) [env KEFU_DATA_DIR; ./.kefu]"),
    ] = None,
) -> None:
    state(ctx).data_dir = data_dir


def _serve(ctx: typer.Context, host: str, port: int, warm: list[str]) -> None:
    import threading

    import uvicorn

    from kefu.api.app import create_app
    from kefu.understanding.tokenise import warm_up

    svc = state(ctx).service()

    def warm_indexes() -> None:
        warm_up()
        for name in warm or [t.name for t in svc.tenants.all()]:
            svc.warm(name)

    threading.Thread(target=warm_indexes, name="kefu-warm", daemon=True).start()
    app = create_app(svc)
    console.print(f"kefu serving on [bold]http://{host}:{port}/[/]  (API docs: /docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


@app.command()
@handle_errors
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
) -> None:
    """Serve the HTTP API and the web chat."""
    _serve(ctx, host, port, [])


def seed_demo(ctx: typer.Context) -> str:
    from importlib.resources import files

    from kefu.connectors.tau_io import read_tau
    from kefu.knowledge.kb_io import read_faq_file

    svc = state(ctx).service()
    svc.tenants.create(DEMO_TENANT, {"level": "L2", "language": "zh"})
    svc.tenants.set(DEMO_TENANT, "level", "L2")
    data = Path(str(files("kefu.demo") / "data"))
    entries = read_faq_file(data / "faq.jsonl")
    svc.faqs.upsert_many(DEMO_TENANT, entries, replace=True)
    if not svc.shop.counts(DEMO_TENANT).customers:
        shop = read_tau(data / "shop")
        svc.shop.load(DEMO_TENANT, shop.users, shop.orders, shop.products)
    if not svc.documents.all(DEMO_TENANT):
        svc.import_documents(DEMO_TENANT, sorted((data / "docs").iterdir()))
    return DEMO_TENANT


@app.command()
@handle_errors
def demo(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    serve_: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server")] = True,
) -> None:
    """Create the demo shop (小铺优选, level L2) with its bilingual FAQ, its customers, orders
    and products, and start the web chat."""
    name = seed_demo(ctx)
    svc = state(ctx).service()
    rows = len(svc.faqs.all(name))
    with console.status(
        "building the FAQ index (first run embeds every question: ~1-2 min) / 正在建立索引…"
    ):
        svc.warm(name)
    counts = svc.shop.counts(name)
    docs = len(svc.documents.all(name))
    console.print(
        f"demo tenant [bold]{name}[/] ready (L2): {rows} FAQ rows, {docs} documents, "
        f"{counts.customers} customers, {counts.orders} orders, {counts.products} products"
    )
    if serve_:
        _serve(ctx, host, port, [name])


@app.command()
@handle_errors
def chat(
    ctx: typer.Context,
    tenant_name: Annotated[str, typer.Option("--tenant", help="Tenant to talk to")],
    language: Annotated[str | None, typer.Option(help="zh or en")] = None,
) -> None:
    """Chat with the bot in the terminal (empty line or Ctrl-D to quit)."""
    svc = state(ctx).service()
    conv, welcome = svc.start_conversation(tenant_name, "cli", None, language)
    console.print(f"[bold green]bot[/] {welcome.text}", highlight=False)
    svc.index(tenant_name)
    while True:
        try:
            text = console.input("[bold cyan]you[/] ")
        except (EOFError, KeyboardInterrupt):
            break
        if not text.strip():
            break
        turn = svc.handle_message(conv.id, text)
        r = turn.result
        for reply in r.replies:
            console.print(f"[bold green]bot[/] {reply.text}", highlight=False)
        for i, s in enumerate(r.suggestions, start=1):
            console.print(f"    {i}. {s.text}", highlight=False)
        console.print(
            f"[dim]  {r.decision} · {r.intent or '-'} · {r.confidence:.2f} · "
            f"{turn.latency_ms:.0f} ms[/]"
        )


@app.command("settings")
def settings_cmd(
    markdown: Annotated[bool, typer.Option(help="Print as a Markdown table")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List every tenant setting with its default and help."""
    from kefu.settings import SETTINGS, settings_markdown

    if as_json:
        print_json(
            [{"name": s.name, "default": s.default, "help": s.help} for s in SETTINGS.values()]
        )
    elif markdown:
        print(settings_markdown())
    else:
        for s in SETTINGS.values():
            console.print(f"[bold]{s.name}[/] = {s.default!r}\n    {s.help}", highlight=False)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        err_console.print("interrupted")
        raise SystemExit(130) from None
