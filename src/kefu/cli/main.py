"""Entry point of the ``kefu`` command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from kefu.cli import (
    access,
    bench,
    desk,
    docs,
    drafts,
    evaluate,
    flows,
    kb,
    ledger,
    qa,
    report,
    shop,
    tenant,
    testing,
    tickets,
)
from kefu.cli.common import console, err_console, handle_errors, print_json, state
from kefu.demo.users import DEMO_PASSWORD, seed_users

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
app.add_typer(report.app, name="report")
app.add_typer(ledger.app, name="ledger")
app.add_typer(bench.app, name="bench")
app.add_typer(access.user_app, name="user")
app.add_typer(access.apikey_app, name="apikey")
app.add_typer(desk.app, name="inbox")
app.add_typer(tickets.app, name="ticket")
app.add_typer(qa.app, name="qa")
app.add_typer(drafts.app, name="drafts")
app.command("test")(testing.test)

DEMO_TENANT = "demo"
ALL_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Data directory (SQLite file, caches) [env KEFU_DATA_DIR; ./.kefu]"),
    ] = None,
) -> None:
    state(ctx).data_dir = data_dir


# Idle keep-alive connections stay open this long (uvicorn's default is 5 s). Clients keep idle
# connections for 5 s (httpx) to minutes (browsers): a server that closes first races their next
# request on that connection, which then fails with a reset instead of an answer.
KEEP_ALIVE_S = 75


def _serve(ctx: typer.Context, host: str, port: int, warm: list[str], workers: int = 1) -> None:
    import uvicorn

    from kefu.api.app import create_app

    if workers > 1:
        _serve_workers(ctx, host, port, workers)
        return
    from kefu.humans.background import BackgroundJobs

    svc = state(ctx).service()
    svc.warm_in_background(warm)
    app = create_app(svc)
    jobs = BackgroundJobs(svc).start()
    console.print(
        f"kefu serving on [bold]http://{host}:{port}/[/]  (console: /console, API docs: /docs)"
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_keep_alive=KEEP_ALIVE_S)
    finally:
        jobs.stop()


def _serve_workers(ctx: typer.Context, host: str, port: int, workers: int) -> None:
    """``workers`` processes on one port (uvicorn's supervisor), each with its own service
    built from the environment (``kefu.api.app:app_from_env``); turns of one conversation stay
    ordered across them (:mod:`kefu.storage.turn_locks`)."""
    import uvicorn

    config = state(ctx).config()
    state(ctx).service(embedder=None).close()  # migrate once here, not racing in each worker
    os.environ["KEFU_DATA_DIR"] = str(config.data_dir)  # the workers read their config from it
    console.print(
        f"kefu serving on [bold]http://{host}:{port}/[/] with {workers} worker processes"
        "  (API docs: /docs)"
    )
    uvicorn.run(
        "kefu.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        timeout_keep_alive=KEEP_ALIVE_S,
    )


@app.command()
@handle_errors
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes (each loads its own indexes and models; a conversation's "
            "turns stay in order across them)",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API and the web chat."""
    _serve(ctx, host, port, [], workers)


def seed_demo(ctx: typer.Context) -> str:
    from importlib.resources import files

    from kefu.connectors.tau_io import read_tau
    from kefu.knowledge.kb_io import read_faq_file

    svc = state(ctx).service()
    svc.tenants.create(DEMO_TENANT, {"level": "L3", "language": "zh"})
    svc.tenants.set(DEMO_TENANT, "level", "L3")
    if not svc.tenants.settings(DEMO_TENANT).is_stored("business_hours"):
        # the demo's agents are on duty round the clock, so "转人工" reaches the console's
        # inbox whenever one tries it (a shop sets its own hours: docs/settings.md)
        svc.tenants.set(DEMO_TENANT, "business_hours", "00:00-24:00")
        svc.tenants.set(DEMO_TENANT, "business_days", list(ALL_DAYS))
    data = Path(str(files("kefu.demo") / "data"))
    entries = read_faq_file(data / "faq.jsonl")
    svc.faqs.upsert_many(DEMO_TENANT, entries, replace=True)
    if not svc.shop.counts(DEMO_TENANT).customers:
        shop = read_tau(data / "shop")
        svc.shop.load(DEMO_TENANT, shop.users, shop.orders, shop.products, rules=shop.rules)
    if not svc.documents.all(DEMO_TENANT):
        svc.import_documents(DEMO_TENANT, sorted((data / "docs").iterdir()))
    return DEMO_TENANT


def seed_demo_history(svc: Any, tenant: str) -> Any:
    """The demo's month of generated history, once (None when it was there already), with
    its FAQ drafts mined; quality scoring runs in the server's background."""
    from kefu.demo.history import seed_history
    from kefu.dialogue.hours import within_business_hours
    from kefu.settings import TenantSettings

    # the month before: agents worked the default hours (09:00-21:00), so the history has
    # out-of-hours tickets too, though the demo's agents are now on duty round the clock
    usual = TenantSettings({})
    counts = seed_history(svc, tenant, staffed=lambda at: within_business_hours(usual, at))
    if counts.skipped:
        return None
    svc.analytics.refresh(tenant)
    svc.drafts.mine(tenant)
    return counts


def demo_llm(value: str, model: str | None) -> dict[str, Any]:
    """Check ``kefu demo --llm VALUE`` and return the demo tenant's LLM settings for it: an
    http(s) URL is an OpenAI-compatible endpoint (model from ``--llm-model`` or
    ``KEFU_LLM_MODEL``); a ``.gguf`` file is a local model run in process (put in
    ``KEFU_LLM_GGUF``: a file path is never a tenant setting); ``off`` switches the LLM off."""
    from urllib.parse import urlsplit

    from kefu.errors import ConfigurationError
    from kefu.llm.factory import gguf_path

    if value.strip().lower() in ("off", "none"):
        return {"llm_base_url": "", "llm_model": "", "llm_max_calls_per_turn": 0}
    if value.startswith(("http://", "https://")):
        if not urlsplit(value).hostname:
            raise ConfigurationError(f"--llm: {value!r} is not a valid URL", field="llm")
        name = (model or os.environ.get("KEFU_LLM_MODEL", "")).strip()
        if not name:
            raise ConfigurationError(
                "--llm URL needs a model name: --llm-model NAME or KEFU_LLM_MODEL", field="llm"
            )
        return {"llm_base_url": value, "llm_model": name, "llm_max_calls_per_turn": 2}
    path = gguf_path(value)
    os.environ["KEFU_LLM_GGUF"] = str(path.resolve())
    os.environ.pop("KEFU_LLM_BASE_URL", None)  # an endpoint in the environment would win
    return {"llm_base_url": "", "llm_model": "", "llm_max_calls_per_turn": 2}


def llm_config(svc: Any, tenant: str) -> Any:
    """The tenant's resolved :class:`kefu.llm.factory.LlmConfig` (``None``: no LLM)."""
    from kefu.llm.factory import LlmConfig
    from kefu.settings import SETTINGS

    settings = svc.tenants.settings(tenant)
    return LlmConfig.resolve({n: settings[n] for n in SETTINGS if n.startswith("llm_")})


def engine_line(config: Any) -> str:
    """Which engine answers the unsure turns, in one line."""
    if config is None:
        return "engine: offline (no LLM)"
    where = f"local llama.cpp, {config.gguf}" if config.gguf else config.base_url
    return (
        f"engine: LLM {config.models[0]} ({where}) for unsure turns, offline otherwise; "
        f"timeout {config.timeout_s:g} s"
    )


@app.command()
@handle_errors
def demo(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    serve_: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server")] = True,
    llm: Annotated[
        str | None,
        typer.Option(
            help="Use an LLM for unsure turns: a .gguf file (in process, needs "
            "kefu[llm-local]), an OpenAI-compatible http(s) URL, or 'off'"
        ),
    ] = None,
    llm_model: Annotated[
        str | None, typer.Option(help="Model name at the --llm URL [env KEFU_LLM_MODEL]")
    ] = None,
) -> None:
    """Create the demo shop (小铺优选, level L3: answers, tasks and writes) with its bilingual
    FAQ, its customers, orders and products, and start the web chat."""
    from kefu.errors import ConfigurationError

    try:
        if llm_model and not llm:
            raise ConfigurationError("--llm-model needs --llm URL", field="llm_model")
        llm_settings = demo_llm(llm, llm_model) if llm else {}
    except ConfigurationError as exc:  # printed here: the message holds [brackets]
        err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
        raise typer.Exit(2) from exc
    name = seed_demo(ctx)
    svc = state(ctx).service()
    for key, value in llm_settings.items():
        svc.tenants.set(name, key, value)
    with console.status("generating a month of service history / 正在生成近 30 天的服务记录…"):
        history = seed_demo_history(svc, name)
    if history is not None:
        console.print(
            f"history: {history.conversations} conversations over 30 days, "
            f"{history.handoffs} handed to agents ({history.after_hours} out of hours: tickets)"
        )
    rows = len(svc.faqs.all(name))
    with console.status(
        "building the FAQ index (first run embeds every question: ~1-2 min) / 正在建立索引…"
    ):
        svc.warm(name)
    counts = svc.shop.counts(name)
    docs = len(svc.documents.all(name))
    console.print(
        f"demo tenant [bold]{name}[/] ready (L3): {rows} FAQ rows, {docs} documents, "
        f"{counts.customers} customers, {counts.orders} orders, {counts.products} products"
    )
    config = llm_config(svc, name)
    console.print(engine_line(config), highlight=False, soft_wrap=True)
    if config is not None and not config.gguf:
        svc.warm_llm(name)  # the provider stack; an endpoint is not called
    elif config is not None:
        with console.status("loading the local model / 正在加载本地模型…"):
            seconds = svc.warm_llm(name)
        if seconds is None:
            err_console.print(
                "[bold yellow]warning:[/] the local model did not answer its first call "
                "(too slow, or it could not be loaded); unsure turns are answered offline "
                "until it does"
            )
        else:
            console.print(f"local model ready ({seconds:.1f} s)")
    users = seed_users(svc, name)
    console.print(
        f"console: http://{host}:{port}/console  users "
        + ", ".join(f"{user} ({role})" for user, role in users)
        + f"  password / 密码: [bold]{DEMO_PASSWORD}[/]",
        highlight=False,
        soft_wrap=True,
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
    console.print(f"[bold green]bot[/] {escape(welcome.text)}", highlight=False)
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
            console.print(f"[bold green]bot[/] {escape(reply.text)}", highlight=False)
        for i, s in enumerate(r.suggestions, start=1):
            console.print(f"    {i}. {escape(s.text)}", highlight=False)
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
