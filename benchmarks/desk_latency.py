"""Desk live-delivery latency: an agent's message, from POST to the customer's SSE stream.

A real ``kefu serve`` (uvicorn, SQLite) with N conversations handed off and taken by an agent;
every conversation's customer stream (``GET /v1/conversations/{id}/stream``) is open; the agent
posts messages round-robin (``POST /v1/conversations/{id}/agent-messages``) and each stream
notes when the message arrives. Reported: p50/p95/max of post -> received (target p95 < 300 ms).

With ``--workers 1`` the stream is woken in process; with ``--workers 2`` a message posted to
one worker reaches a stream held by the other through the database poll (every 0.1 s).

    .venv/bin/python -m benchmarks.desk_latency [--streams 20] [--messages 200] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks._common import demo_service, machine, stamp, start_server
from kefu.access.roles import Principal


def _prepare(data_dir: Path, streams: int) -> tuple[list[str], str]:
    """The demo tenant, an agent key, and ``streams`` conversations taken by the agent."""
    svc = demo_service(data_dir, embedder=None)
    try:
        # agents on duty whenever the benchmark runs (outside hours a handoff is a ticket)
        svc.tenants.set("demo", "business_hours", "00:00-24:00")
        svc.tenants.set("demo", "business_days", ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
        _id, secret = svc.access.create_api_key("demo", "agent", "bench")
        agent = Principal("apikey", "bench", {"demo": "agent"})
        convs = []
        for _ in range(streams):
            conv, _ = svc.start_conversation("demo", "web", None, "zh")
            svc.handle_message(conv.id, "转人工")
            svc.desk.take(conv.id, agent)
            convs.append(conv.id)
        return convs, secret
    finally:
        svc.close()


def _reader(
    base: str,
    conv: str,
    ready: threading.Barrier,
    received: dict[str, float],
    stop: threading.Event,
    lock: threading.Lock,
) -> None:
    after = 0
    with (
        httpx.Client(base_url=base, timeout=httpx.Timeout(30.0)) as client,
        client.stream("GET", f"/v1/conversations/{conv}/stream", params={"after": 0}) as r,
    ):
        data: list[str] = []
        for line in r.iter_lines():
            if line == ": connected":
                ready.wait(timeout=60)
                continue
            if line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                event: dict[str, Any] = json.loads("\n".join(data))
                data = []
                after = event["seq"]
                if event["type"] == "agent_message" and event["text"].startswith("bench-"):
                    with lock:
                        received[event["text"]] = time.perf_counter()
                    if stop.is_set():
                        break
            if stop.is_set() and after:
                break


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--streams", type=int, default=20, help="customer streams open")
    ap.add_argument("--messages", type=int, default=200, help="agent messages posted")
    ap.add_argument("--workers", type=int, default=1, help="kefu serve --workers")
    ap.add_argument("--gap-ms", type=float, default=20.0, help="pause between two posts")
    args = ap.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="kefu-bench-desk-"))
    convs, secret = _prepare(data_dir, args.streams)
    env = {**os.environ, "KEFU_DATA_DIR": str(data_dir), "KEFU_EMBEDDER": "none"}
    env.pop("KEFU_DATABASE_URL", None)
    proc, base, boot = start_server(env, workers=args.workers)
    received: dict[str, float] = {}
    sent: dict[str, float] = {}
    lock = threading.Lock()
    stop = threading.Event()
    ready = threading.Barrier(len(convs) + 1)
    readers = [
        threading.Thread(target=_reader, args=(base, c, ready, received, stop, lock), daemon=True)
        for c in convs
    ]
    try:
        for t in readers:
            t.start()
        ready.wait(timeout=120)  # every stream is open
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30.0) as agent:
            for i in range(args.messages):
                conv = convs[i % len(convs)]
                text = f"bench-{i}"
                sent[text] = time.perf_counter()
                r = agent.post(f"/v1/conversations/{conv}/agent-messages", json={"text": text})
                r.raise_for_status()
                time.sleep(args.gap_ms / 1000)
        deadline = time.perf_counter() + 10
        while len(received) < len(sent) and time.perf_counter() < deadline:
            time.sleep(0.05)
        stop.set()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    latencies = sorted((received[k] - sent[k]) * 1000 for k in sent if k in received)
    if not latencies:
        raise SystemExit("no message arrived")
    p95 = latencies[min(len(latencies) - 1, round(0.95 * len(latencies)) - 1)]
    report = {
        "streams": args.streams,
        "messages": args.messages,
        "workers": args.workers,
        "received": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(latencies[-1], 1),
        "server_boot_s": round(boot, 1),
        "target": "p95 < 300 ms",
        "machine": machine(),
        "when": stamp(),
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
