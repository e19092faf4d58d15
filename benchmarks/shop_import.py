"""Importing the tau-bench retail database into the embedded shop (target: < 30 s).

    python -m benchmarks.shop_import [--repeat 3] [--pg postgresql://postgres@127.0.0.1:5432/test]

Runs ``kefu shop import --tenant tau --format tau`` on the published tau-bench folder (500 users,
1,000 orders, 50 products) in a subprocess, as a user would, into a fresh SQLite data directory
and, when the PostgreSQL URL answers, into a fresh schema there. The wall time includes starting
Python, migrating the empty database, reading and validating the JSON and the one transaction
that writes it; ``--repeat`` runs each case that many times and reports the median. A second
figure, "in process", times :func:`read_tau` + :meth:`EmbeddedShop.load` alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks._common import DATASETS, machine, stamp
from kefu.config import Config
from kefu.connectors.embedded import EmbeddedShop
from kefu.connectors.tau_io import read_tau
from kefu.service import build_service
from kefu.storage.db import session_factory

TAU = DATASETS / "tau_bench_retail"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def pg_schema(url: str) -> Iterator[str | None]:
    """A fresh schema on the server (its URL), or None when PostgreSQL does not answer."""
    import sqlalchemy as sa

    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    schema = "bench_" + uuid.uuid4().hex[:12]
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError:
        admin.dispose()
        yield None
        return
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def cli_import(database_url: str | None) -> float:
    data_dir = Path(tempfile.mkdtemp(prefix="kefu-shop-bench-"))
    env = {**os.environ, "KEFU_DATA_DIR": str(data_dir), "KEFU_EMBEDDER": "none"}
    env.pop("KEFU_DATABASE_URL", None)
    if database_url:
        env["KEFU_DATABASE_URL"] = database_url
    kefu = [sys.executable, "-m", "kefu.cli"]
    subprocess.run([*kefu, "tenant", "create", "tau"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    proc = subprocess.run(
        [*kefu, "shop", "import", "--tenant", "tau", "--format", "tau", str(TAU)],
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0 or "1000 orders" not in proc.stdout:
        raise RuntimeError(proc.stderr or proc.stdout)
    return elapsed


def in_process(database_url: str | None) -> float:
    env = {"KEFU_DATABASE_URL": database_url} if database_url else {}
    svc = build_service(Config.from_env(Path(tempfile.mkdtemp()), env=env), embedder=None)
    try:
        svc.tenants.create("tau")
        shop = EmbeddedShop(session_factory(svc.engine), svc.tenants)
        started = time.perf_counter()
        data = read_tau(TAU)
        shop.load("tau", data.users, data.orders, data.products, files=data.files)
        return time.perf_counter() - started
    finally:
        svc.close()


def measure(pg: str | None, repeat: int) -> tuple[float, float] | None:
    """Median wall times (CLI, in process), each run on an empty database; None when the
    PostgreSQL server does not answer."""
    cli: list[float] = []
    core: list[float] = []
    for _ in range(repeat):
        for runner, times in ((cli_import, cli), (in_process, core)):
            if pg is None:
                times.append(runner(None))
                continue
            with pg_schema(pg) as url:
                if url is None:
                    return None
                times.append(runner(url))
    return statistics.median(cli), statistics.median(core)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL URL ('' to skip)")
    args = ap.parse_args()
    rows = []
    for name, pg in (("SQLite", None), ("PostgreSQL", args.pg or None)):
        if name == "PostgreSQL" and pg is None:
            continue
        result = measure(pg, args.repeat)
        if result is None:
            print(f"(PostgreSQL at {pg} not reachable: skipped)")
            continue
        rows.append((name, *result))
    print(f"machine: {machine()}\ndate: {stamp()}\n")
    print("tau-bench retail: 500 users, 1,000 orders, 50 products; each run on an empty database")
    print(f"median of {args.repeat} runs\n")
    print("| database | `kefu shop import` (CLI, wall) | read + validate + load | target |")
    print("|---|---|---|---|")
    for name, cli, core in rows:
        verdict = "met" if cli < 30 else "**not met**"
        print(f"| {name} | {cli:.2f} s | {core:.2f} s | < 30 s: {verdict} |")


if __name__ == "__main__":
    main()
