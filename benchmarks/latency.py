"""L1 turn latency: in process, and over HTTP on localhost with concurrent clients.

    python benchmarks/latency.py [--clients 50] [--turns 2000]

In process: ``Service.handle_message`` (normalise, retrieve, decide, write both events) over the
held-out queries. Over HTTP: ``kefu serve`` in a subprocess; N clients each own a conversation
and send messages back to back (closed loop, the harshest case), then the same clients with a
think time between messages (open loop, like people typing).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks._common import DATA, demo_service, machine, read_jsonl, stamp, start_server


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


def in_process(turns: int) -> dict[str, float]:
    svc = demo_service()
    svc.index("demo")
    queries = [q["query"] for q in read_jsonl(DATA / "faq_heldout.jsonl")]
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


async def http_load(base: str, clients: int, per_client: int, think_s: float) -> dict[str, float]:
    queries = [q["query"] for q in read_jsonl(DATA / "faq_heldout.jsonl")]
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


def over_http(clients: int) -> tuple[dict[str, float], dict[str, float], float]:
    data_dir = Path(tempfile.mkdtemp(prefix="kefu-http-"))
    demo_service(data_dir).close()
    proc, base, ready = start_server({**os.environ, "KEFU_DATA_DIR": str(data_dir)})
    try:
        httpx.post(base + "/v1/conversations", json={"tenant": "demo"})
        conv = httpx.post(base + "/v1/conversations", json={"tenant": "demo"}).json()["id"]
        httpx.post(f"{base}/v1/conversations/{conv}/messages", json={"text": "运费"}, timeout=300)
        closed = asyncio.run(http_load(base, clients, 20, 0.0))
        opened = asyncio.run(http_load(base, clients, 10, 1.0))
    finally:
        proc.terminate()
        proc.wait(10)
    return closed, opened, ready


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--turns", type=int, default=2000)
    args = ap.parse_args()
    print(f"machine: {machine()}\ndate: {stamp()}\n")
    ip = in_process(args.turns)
    print(
        f"in-process L1 turn ({args.turns} turns): p50 {ip['p50']:.1f} ms, "
        f"p95 {ip['p95']:.1f} ms, p99 {ip['p99']:.1f} ms"
    )
    closed, opened, ready = over_http(args.clients)
    print(f"kefu serve ready (healthz 200) in {ready:.2f} s")
    for name, r in (("closed loop, no think time", closed), ("think time 0-2 s", opened)):
        print(
            f"HTTP {args.clients} clients, {name}: p50 {r['p50']:.1f} ms, p95 {r['p95']:.1f} "
            f"ms, p99 {r['p99']:.1f} ms, {r['rps']:.0f} req/s, {r['errors']} errors "
            f"({r['n']} requests)"
        )


if __name__ == "__main__":
    main()
