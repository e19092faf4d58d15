"""A 10,000-entry knowledge base: import time, index build, server memory, readiness.

    python -m benchmarks.scale [--entries 10000]

Generates a synthetic catalogue FAQ (product x topic), imports it with ``kefu kb import`` in a
subprocess, starts ``kefu serve`` and measures: time to /healthz, time until the first answer
(index built: embeddings, BM25, intent model), a second start with the embedding and index caches
warm, and the server's resident memory after answering (and its peak). Then, in fresh
interpreters over the same data directory (embeddings from its disk cache), where the memory
goes: resident memory after each start-up stage, the size of each part of the index, and the
cost of loading the index from its cache file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# httpx and benchmarks._common (which imports kefu) are imported where used, so that the
# memory breakdown's fresh interpreters start with nothing loaded.

PRODUCTS = [
    f"{a}{b}"
    for a in ("轻羽", "云朵", "极光", "山野", "城市", "晨曦", "海盐", "松木", "星河", "暖阳")
    for b in (
        "羽绒服",
        "跑鞋",
        "双肩包",
        "保温杯",
        "蓝牙耳机",
        "床品四件套",
        "卫衣",
        "牛仔裤",
        "机械键盘",
        "充电宝",
    )
]
TOPICS = [
    ("保修多久", ["保修期是多长时间", "坏了能保修吗", "质保几年"], "{p}享受{n}个月质保。"),
    ("怎么清洗", ["可以机洗吗", "清洁方法是什么", "脏了怎么洗"], "{p}建议{n}度以下冷水手洗。"),
    ("有什么颜色", ["有几种颜色可选", "颜色有哪些", "还有别的颜色吗"], "{p}共有{n}种颜色。"),
    (
        "尺码怎么选",
        ["选多大码合适", "尺码偏大还是偏小", "按什么选尺码"],
        "{p}尺码标准，身高170选{n}码。",
    ),
    ("什么材质", ["是什么面料做的", "材料是什么", "成分是什么"], "{p}采用第{n}代环保材料。"),
    ("重量多少", ["有多重", "重不重", "净重是多少"], "{p}净重约{n}00克。"),
    ("产地是哪里", ["在哪里生产的", "是国产的吗", "哪里制造"], "{p}产自{n}号工厂。"),
    ("多久能到货", ["下单几天到", "配送要几天", "什么时候能收到"], "{p}一般{n}天内送达。"),
    (
        "能开发票吗",
        ["支持开票吗", "有发票吗", "可以开专票吗"],
        "{p}支持开具电子发票，{n}个工作日内开出。",
    ),
    ("有没有赠品", ["送什么东西", "附带配件吗", "有礼品吗"], "{p}随单附赠{n}件小礼品。"),
]
TENANT = "big"


def generate(n: int, path: Path) -> None:
    rng = random.Random(0)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            product = PRODUCTS[i % len(PRODUCTS)] + f"{i // (len(PRODUCTS) * len(TOPICS)) + 1}代"
            q, similar, a = TOPICS[(i // len(PRODUCTS)) % len(TOPICS)]
            row = {
                "id": f"p{i:05d}",
                "question": f"{product}{q}",
                "similar_questions": [f"{product}{s}" for s in similar],
                "answer": a.format(p=product, n=rng.randint(1, 24)),
                "category": "product",
                "language": "zh",
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def memory_mb(pid: int | str = "self") -> tuple[float, float]:
    """Resident memory now and its peak (VmRSS, VmHWM), in MB."""
    now = peak = float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            now = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return now, peak


def serve_and_measure(env: dict[str, str], question: str) -> tuple[float, float, float, float]:
    import httpx

    from benchmarks._common import start_server

    started = time.perf_counter()
    proc, base, ready = start_server(env)
    try:
        conv = httpx.post(base + "/v1/conversations", json={"tenant": TENANT}).json()["id"]
        r = httpx.post(
            f"{base}/v1/conversations/{conv}/messages", json={"text": question}, timeout=14_400
        )
        first_answer = time.perf_counter() - started
        assert r.status_code == 200, r.text
        rss, peak = memory_mb(proc.pid)
        return ready, first_answer, rss, peak
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


# -- memory breakdown (run in fresh interpreters: ``--stage build|load DATA_DIR``) ------------


def deep_size(obj: Any, seen: set[int] | None = None) -> int:
    """Bytes held by a structure of Python objects and arrays (shared objects counted once)."""
    import numpy as np
    import scipy.sparse as sp

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes) if obj.base is None else 0
    if sp.issparse(obj):
        return sum(int(getattr(obj, a).nbytes) for a in ("data", "indices", "indptr"))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(deep_size(k, seen) + deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set | frozenset):
        size += sum(deep_size(x, seen) for x in obj)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        size += deep_size(vars(obj), seen)
    return size


def index_parts(index: Any) -> list[tuple[str, int]]:
    """The index's largest parts, in bytes (an array shared by two parts counts once)."""
    seen: set[int] = set()
    parts = [
        ("FAQ entries (answers, questions)", deep_size(index.groups, seen)),
        ("BM25 term weights + vocabulary", deep_size(index.bm25, seen)),
        ("question embeddings (dense + intent)", deep_size(index._dense, seen)),
        ("question+answer embeddings", deep_size(index._dense_qa, seen)),
    ]
    heads = index.intents._heads if index.intents is not None else None
    if heads is not None:
        parts += [
            ("intent TF-IDF rows", deep_size(heads.train_lexical, seen)),
            ("intent TF-IDF vocabularies", deep_size((heads.word, heads.char), seen)),
            ("intent model, the rest", deep_size(index.intents, seen)),
        ]
    parts.append(("index, the rest", deep_size(index, seen)))
    return parts


def stage(data_dir: Path, which: str) -> None:
    """One breakdown run in this (fresh) interpreter; prints JSON lines."""
    marks: list[tuple[str, float]] = []

    def mark(name: str) -> None:
        marks.append((name, memory_mb()[0]))

    mark("interpreter")
    from kefu.api.app import create_app
    from kefu.config import Config
    from kefu.knowledge.faq_index import FaqIndex, FaqIndexCache, release_memory
    from kefu.service import build_service
    from kefu.understanding.tokenise import warm_up

    svc = build_service(Config.from_env(data_dir, env={}))
    create_app(svc)
    mark("kefu service and API")
    warm_up()
    mark("jieba dictionary, pinyin table")
    assert svc.embedder is not None
    svc.embedder.embed_queries(["预热"])
    mark("embedder model (one query)")
    entries = svc.faqs.all(TENANT)
    mark(f"{len(entries)} FAQ rows read")
    t = time.perf_counter()
    if which == "build":
        index = FaqIndex(entries, svc.embedder)  # embeddings from the disk cache
    else:
        cache = FaqIndexCache(directory=data_dir / "index")
        index = cache.get(entries, svc.embedder)
        assert cache.builds == 0, "no index cache file: run the server first"
    seconds = time.perf_counter() - t
    peak = memory_mb()[1]
    mark(f"index {'built' if which == 'build' else 'loaded'}")
    index.search("轻羽羽绒服1代保修多久")
    release_memory()
    mark("after a search")
    # Retrieval latency at this size: distinct messages (each one embedded), in process.
    messages = [f"请问{e.question}呀" for e in entries[7::50]]
    latencies = []
    for message in messages:
        t = time.perf_counter()
        index.search(message)
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    out: dict[str, Any] = {
        "stage": which,
        "marks": marks,
        "seconds": seconds,
        "peak": peak,
        "sklearn": "sklearn" in sys.modules,
        "search_ms": [latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95)]],
        "searches": len(latencies),
    }
    if which == "build":
        out["parts"] = index_parts(index)
        files = sorted((data_dir / "index").glob("*.pkl"), key=lambda p: p.stat().st_mtime)
        out["pickle_mb"] = files[-1].stat().st_size / 2**20 if files else float("nan")
    print(json.dumps(out))


def breakdown(data_dir: Path) -> None:
    for which in ("build", "load"):
        res = subprocess.run(
            [sys.executable, "-m", "benchmarks.scale", "--stage", which, str(data_dir)],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(res.stdout.strip().splitlines()[-1])
        what = "built from cached embeddings" if which == "build" else "loaded from its cache file"
        print(f"\nmemory, index {what} ({r['seconds']:.1f} s), fresh interpreter:")
        print("| stage | resident MB | + MB |\n|---|---|---|")
        last = 0.0
        for name, mb in r["marks"]:
            print(f"| {name} | {mb:.0f} | {mb - last:+.0f} |")
            last = mb
        print(f"| peak (VmHWM) | {r['peak']:.0f} | |")
        print(f"scikit-learn imported: {'yes' if r['sklearn'] else 'no'}")
        p50, p95 = r["search_ms"]
        print(
            f"FaqIndex.search, {r['searches']} distinct messages (each embedded): "
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
        )
        if which == "build":
            print("\n| index part | MB |\n|---|---|")
            for name, size in r["parts"]:
                print(f"| {name} | {size / 2**20:.1f} |")
            print(f"| (pickled, on disk) | {r['pickle_mb']:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--stage", choices=["build", "load"], help=argparse.SUPPRESS)
    ap.add_argument("--breakdown-only", type=Path, metavar="DATA_DIR", help=argparse.SUPPRESS)
    ap.add_argument("data_dir", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:
        stage(args.data_dir, args.stage)
        return
    if args.breakdown_only:
        breakdown(args.breakdown_only)
        return
    work = Path(tempfile.mkdtemp(prefix="kefu-scale-"))
    faq = work / "big.jsonl"
    generate(args.entries, faq)
    env = {**os.environ, "KEFU_DATA_DIR": str(work / "data")}
    kefu = [sys.executable, "-m", "kefu.cli"]
    subprocess.run([*kefu, "tenant", "create", TENANT], env=env, check=True, capture_output=True)
    t = time.perf_counter()
    subprocess.run(
        [*kefu, "kb", "import", "--tenant", TENANT, str(faq)],
        env=env,
        check=True,
        capture_output=True,
    )
    import_s = time.perf_counter() - t
    lines = faq.read_text(encoding="utf-8").splitlines()
    question = json.loads(lines[min(1234, len(lines) - 1)])["question"]
    cold = serve_and_measure(env, question)
    with sqlite3.connect(work / "data" / "embeddings.sqlite") as db:
        embedded = db.execute("SELECT count(*) FROM vectors").fetchone()[0]
    warm = serve_and_measure(env, question)
    from benchmarks._common import machine, stamp

    print(f"machine: {machine()}\ndate: {stamp()}\ndata: {work}\n")
    print(f"{args.entries} FAQ entries ({args.entries * 4} questions)")
    print(f"kefu kb import: {import_s:.1f} s")
    print(f"texts embedded by the cold build: {embedded}")
    for name, (ready, first, rss, peak) in (
        ("cold (no embedding cache)", cold),
        ("warm (embedding and index caches)", warm),
    ):
        print(
            f"serve {name}: healthz after {ready:.2f} s, first answer after {first:.1f} s, "
            f"RSS {rss:.0f} MB (peak {peak:.0f} MB)"
        )
    breakdown(work / "data")


if __name__ == "__main__":
    main()
