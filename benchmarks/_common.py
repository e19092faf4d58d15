"""Shared set-up for benchmark scripts: a throw-away kefu over the demo knowledge base."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from kefu.config import Config
from kefu.knowledge.kb_io import read_faq_file
from kefu.service import Service, build_service

ROOT = Path(__file__).resolve().parent.parent
DEMO_FAQ = ROOT / "src" / "kefu" / "demo" / "data" / "faq.jsonl"
DATA = ROOT / "benchmarks" / "data"
# Public evaluation data (never copied here): KEFU_DATASETS, else ../shared/datasets, else the
# workplace's /work/shared/datasets.
DATASETS = next(
    (
        p
        for p in (
            Path(os.environ.get("KEFU_DATASETS", "/nonexistent")),
            ROOT.parent / "shared" / "datasets",
            Path("/work/shared/datasets"),
        )
        if p.is_dir()
    ),
    ROOT.parent / "shared" / "datasets",
)


def demo_service(data_dir: Path | None = None, embedder: Any = "auto") -> Service:
    directory = data_dir or Path(tempfile.mkdtemp(prefix="kefu-bench-"))
    svc = build_service(Config.from_env(directory, env={}), embedder=embedder)
    svc.tenants.create("demo", {"level": "L1", "language": "zh"})
    svc.faqs.upsert_many("demo", read_faq_file(DEMO_FAQ), replace=True)
    return svc


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def cpu_model(default: str = "unknown CPU") -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return default


def machine() -> str:
    cpu = cpu_model()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, "
        f"Python {platform.python_version()}, {platform.system()}"
    )


def stamp() -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit or '?'}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    env: dict[str, str], workers: int = 1
) -> tuple[subprocess.Popen[bytes], str, float]:
    """``kefu serve [--workers N]`` on a free loopback port; returns the process, its base URL
    and the seconds until ``/healthz`` answered 200."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base, time.perf_counter() - started
        except httpx.TransportError:
            if proc.poll() is not None:
                raise RuntimeError("kefu serve exited") from None
            time.sleep(0.05)
