"""A 10,000-entry knowledge base: import time, index build, server memory, readiness.

    python benchmarks/scale.py [--entries 10000]

Generates a synthetic catalogue FAQ (product x topic), imports it with ``kefu kb import`` in a
subprocess, starts ``kefu serve`` and measures: time to /healthz, time until the first answer
(index built: embeddings, BM25, intent model), a second start with the embedding cache warm, and
the server's resident memory after answering.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks._common import machine, stamp, start_server

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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve_and_measure(env: dict[str, str], question: str) -> tuple[float, float, float]:
    started = time.perf_counter()
    proc, base, ready = start_server(env)
    try:
        conv = httpx.post(base + "/v1/conversations", json={"tenant": "big"}).json()["id"]
        r = httpx.post(
            f"{base}/v1/conversations/{conv}/messages", json={"text": question}, timeout=1800
        )
        first_answer = time.perf_counter() - started
        assert r.status_code == 200, r.text
        return ready, first_answer, rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=10_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kefu-scale-"))
    faq = work / "big.jsonl"
    generate(args.entries, faq)
    env = {**os.environ, "KEFU_DATA_DIR": str(work / "data")}
    kefu = [sys.executable, "-m", "kefu.cli"]
    subprocess.run([*kefu, "tenant", "create", "big"], env=env, check=True, capture_output=True)
    t = time.perf_counter()
    subprocess.run(
        [*kefu, "kb", "import", "--tenant", "big", str(faq)],
        env=env,
        check=True,
        capture_output=True,
    )
    import_s = time.perf_counter() - t
    question = json.loads(faq.read_text(encoding="utf-8").splitlines()[1234])["question"]
    cold = serve_and_measure(env, question)
    warm = serve_and_measure(env, question)
    print(f"machine: {machine()}\ndate: {stamp()}\n")
    print(f"{args.entries} FAQ entries ({args.entries * 4} questions)")
    print(f"kefu kb import: {import_s:.1f} s")
    for name, (ready, first, rss) in (
        ("cold (no embedding cache)", cold),
        ("warm (embedding cache)", warm),
    ):
        print(
            f"serve {name}: healthz after {ready:.2f} s, first answer after {first:.1f} s, "
            f"RSS {rss:.0f} MB"
        )


if __name__ == "__main__":
    main()
