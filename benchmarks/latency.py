"""L1 turn latency: in process, and over HTTP on localhost with concurrent clients.

    python -m benchmarks.latency [--clients 50] [--turns 2000] [--split heldout|dev]
        [--repeat N] [--no-http] [--embeddings FILE]

In process: ``Service.handle_message`` (normalise, retrieve, decide, write both events) over the
queries of a split (``--split dev`` when the held-out texts must stay unread); ``--repeat N``
runs it N times and reports each run and the median of each percentile; ``--embeddings`` starts
from a copy of an embedding cache file (``embeddings.sqlite``) instead of embedding the demo
knowledge base. Over HTTP: ``kefu serve`` in a subprocess; N clients each own a conversation and
send messages back to back (closed loop, the harshest case), then the same clients with a think
time between messages (open loop, like people typing).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks._common import DATA, demo_service, machine, read_jsonl, stamp, start_server


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


def in_process(
    turns: int, split: str = "heldout", embeddings: Path | None = None
) -> dict[str, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="kefu-bench-"))
    if embeddings is not None:
        shutil.copyfile(embeddings, data_dir / "embeddings.sqlite")
    svc = demo_service(data_dir)
    svc.index("demo")
    queries = [q["query"] for q in read_jsonl(DATA / f"faq_{split}.jsonl")]
    conv, _ = svc.start_conversation("demo", "test")
    for q in queries[:20]:  # warm caches
        svc.handle_message(conv.id, q)
    lat = []
    for i in range(turns):
        if i % 20 == 0:
            conv, _ = svc.start_conversation("demo", "test")
        t = svc.handle_message(conv.id, queries[i % len(queries)])
        lat.append(t.latency_ms)
    return {
        "p50": pct(lat, 0.5),
        "p95": pct(lat, 0.95),
        "p99": pct(lat, 0.99),
        "mean": statistics.mean(lat),
    }


async def http_load(
    base: str, clients: int, per_client: int, think_s: float, split: str = "heldout"
) -> dict[str, float]:
    queries = [q["query"] for q in read_jsonl(DATA / f"faq_{split}.jsonl")]
    lat: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients + 5)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:

        async def client(k: int) -> None:
            nonlocal errors
            rng = random.Random(k)
            r = await http.post("/v1/conversations", json={"tenant": "demo", "channel": "test"})
            conv = r.json()["id"]
            for _ in range(per_client):
                if think_s:
                    await asyncio.sleep(rng.uniform(0, 2 * think_s))
                started = time.perf_counter()
                r = await http.post(
                    f"/v1/conversations/{conv}/messages", json={"text": rng.choice(queries)}
                )
                lat.append((time.perf_counter() - started) * 1000)
                errors += r.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "p50": pct(lat, 0.5),
        "p95": pct(lat, 0.95),
        "p99": pct(lat, 0.99),
        "rps": len(lat) / elapsed,
        "errors": errors,
        "n": len(lat),
    }


def over_http(
    clients: int, split: str = "heldout", workers: int = 1
) -> tuple[dict[str, float], dict[str, float], float]:
    data_dir = Path(tempfile.mkdtemp(prefix="kefu-http-"))
    demo_service(data_dir).close()
    proc, base, ready = start_server({**os.environ, "KEFU_DATA_DIR": str(data_dir)}, workers)
    try:
        httpx.post(base + "/v1/conversations", json={"tenant": "demo"})
        conv = httpx.post(base + "/v1/conversations", json={"tenant": "demo"}).json()["id"]
        for _ in range(4 * workers):  # every worker warm (new connections spread over them)
            httpx.post(
                f"{base}/v1/conversations/{conv}/messages", json={"text": "运费"}, timeout=300
            )
        closed = asyncio.run(http_load(base, clients, 20, 0.0, split))
        opened = asyncio.run(http_load(base, clients, 10, 1.0, split))
    finally:
        proc.terminate()
        proc.wait(10)
    return closed, opened, ready


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--turns", type=int, default=2000)
    ap.add_argument("--split", default="heldout", choices=["heldout", "dev"])
    ap.add_argument("--repeat", type=int, default=1, help="in-process runs (median reported)")
    ap.add_argument("--no-http", action="store_true", help="in-process measurement only")
    ap.add_argument("--embeddings", type=Path, help="an embedding cache file to start from")
    ap.add_argument("--workers", type=int, default=1, help="kefu serve --workers N (HTTP)")
    args = ap.parse_args()
    print(f"machine: {machine()}\ndate: {stamp()}\nqueries: {args.split} split\n")
    runs = []
    for _ in range(args.repeat):
        ip = in_process(args.turns, args.split, args.embeddings)
        runs.append(ip)
        print(
            f"in-process L1 turn ({args.turns} turns): p50 {ip['p50']:.1f} ms, "
            f"p95 {ip['p95']:.1f} ms, p99 {ip['p99']:.1f} ms",
            flush=True,
        )
    if args.repeat > 1:
        med = {k: statistics.median(r[k] for r in runs) for k in ("p50", "p95", "p99")}
        print(
            f"median of {args.repeat} runs: p50 {med['p50']:.1f} ms, p95 {med['p95']:.1f} ms, "
            f"p99 {med['p99']:.1f} ms"
        )
    if args.no_http:
        return
    closed, opened, ready = over_http(args.clients, args.split, args.workers)
    print(f"kefu serve --workers {args.workers} ready (healthz 200) in {ready:.2f} s")
    for name, r in (("closed loop, no think time", closed), ("think time 0-2 s", opened)):
        print(
            f"HTTP {args.clients} clients, {name}: p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} "
            f"ms, p99 {r['p99']:.1f} ms, {r['rps']:.0f} req/s, {r['errors']} errors "
            f"({r['n']} requests)"
        )


if __name__ == "__main__":
    main()
