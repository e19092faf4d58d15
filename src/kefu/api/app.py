"""The FastAPI application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

import kefu
from kefu.api import errors
from kefu.api.limits import BodyLimitMiddleware
from kefu.api.routes_admin import router as admin_router
from kefu.api.routes_analytics import router as analytics_router
from kefu.api.routes_auth import router as auth_router
from kefu.api.routes_conversations import router as conversations_router
from kefu.api.routes_desk import router as desk_router
from kefu.api.routes_drafts import router as drafts_router
from kefu.api.routes_operations import router as operations_router
from kefu.api.routes_qa import router as qa_router
from kefu.api.routes_tickets import router as tickets_router
from kefu.config import Config
from kefu.service import Service

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
CONSOLE = Path(__file__).resolve().parent.parent / "web" / "console"


def create_app(service: Service, *, max_body_bytes: int = 256 * 1024) -> FastAPI:
    app = FastAPI(
        docs_url=None,  # served below from packaged assets: no CDN, works air-gapped
        redoc_url=None,
        title="kefu",
        version=kefu.__version__,
        description="Self-hosted customer-service agent for e-commerce. Every error has the "
        'shape `{"error": {"code", "message", "field"?, "details"?}}`.',
    )
    app.state.service = service
    errors.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.include_router(conversations_router)
    app.include_router(admin_router)
    app.include_router(operations_router)
    for router in (
        auth_router,
        desk_router,
        tickets_router,
        qa_router,
        analytics_router,
        drafts_router,
    ):
        app.include_router(router)

    @app.get("/healthz", tags=["health"])
    def healthz(request: Request) -> dict[str, Any]:
        svc: Service = request.app.state.service
        with svc.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {
            "status": "ok",
            "version": kefu.__version__,
            "database": svc.engine.dialect.name,
            "pid": os.getpid(),  # which worker process answered (kefu serve --workers N)
        }

    _offline_docs(app)

    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

        @app.get("/", include_in_schema=False)
        def index() -> FileResponse:
            return FileResponse(STATIC / "index.html")

    if CONSOLE.is_dir():  # the agent console: one page, its assets packaged (no CDN)
        app.mount("/console-assets", StaticFiles(directory=CONSOLE), name="console-assets")

        @app.get("/console", include_in_schema=False)
        def console() -> FileResponse:
            return FileResponse(CONSOLE / "index.html")

    return app


def app_from_env() -> FastAPI:
    """The app of one worker process of ``kefu serve --workers N`` (a uvicorn factory): the
    service configured from the environment (``KEFU_DATA_DIR``, ``KEFU_DATABASE_URL``, ...),
    every tenant warmed in the background."""
    from kefu.humans.background import BackgroundJobs
    from kefu.service import build_service

    svc = build_service(Config.from_env())
    svc.warm_in_background()
    BackgroundJobs(svc).start()  # daemon threads: they end with the worker process
    return create_app(svc)


def _offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the ``swagger-ui-bundle`` package instead of a CDN."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    app.mount(
        "/docs-assets",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="docs-assets",
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="kefu API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )
