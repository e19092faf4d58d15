"""Emotion recognition on the project's labelled customer-service utterances, beside snownlp.

    python -m benchmarks.emotion [--split heldout|dev] [--errors]

Data: ``benchmarks/data/emotion_{dev,heldout}.jsonl``, one utterance a line
``{"text", "language", "label": "negative|neutral|positive", "anger": bool, "urgency": bool}``
with an optional ``"previous"`` list of the customer's earlier messages. Lexicons and rules
were tuned on the dev split only; ``--errors`` (dev only) lists the misclassified dev lines.

The baseline is stock snownlp alone (``SnowNLP(text).sentiments``): negative below ``t_neg``,
positive above ``t_pos``, both picked on the Chinese dev lines (best negative F1, then best
accuracy). snownlp is a Chinese model; its English rows are shown for completeness only.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._common import DATA, machine, read_jsonl, stamp
from kefu.understanding.emotion import estimate, warm_up

Row = dict[str, Any]
Predict = Callable[[Row], tuple[str, bool, bool]]
Negativity = Callable[[Row], float]


def pr(pred: Sequence[bool], gold: Sequence[bool]) -> tuple[float, float, float]:
    tp = sum(p and g for p, g in zip(pred, gold, strict=True))
    precision = tp / max(1, sum(pred))
    recall = tp / max(1, sum(gold))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def metrics(rows: list[Row], predict: Predict) -> dict[str, float]:
    out = [predict(r) for r in rows]
    labels = [o[0] for o in out]
    p, r, f = pr([x == "negative" for x in labels], [x["label"] == "negative" for x in rows])
    ap, ar, _ = pr([o[1] for o in out], [x["anger"] for x in rows])
    up, ur, _ = pr([o[2] for o in out], [x["urgency"] for x in rows])
    acc = sum(a == x["label"] for a, x in zip(labels, rows, strict=True)) / len(rows)
    return {
        "n": len(rows),
        "neg_p": p,
        "neg_r": r,
        "neg_f1": f,
        "acc": acc,
        "anger_p": ap,
        "anger_r": ar,
        "urg_p": up,
        "urg_r": ur,
    }


def recall_at_precision(rows: list[Row], negativity: Negativity, floor: float = 0.85) -> float:
    """Best negative recall over all thresholds on ``negativity`` with precision >= ``floor``
    (an oracle operating point: it describes the ranking, it is not a shipped threshold)."""
    scored = sorted(((negativity(r), r["label"] == "negative") for r in rows), reverse=True)
    positives = sum(g for _, g in scored) or 1
    best = tp = 0
    for i, (value, gold) in enumerate(scored, 1):
        tp += gold
        if (i == len(scored) or scored[i][0] != value) and tp / i >= floor:
            best = max(best, tp)
    return best / positives


def kefu_negativity(row: Row) -> float:
    return -estimate(row["text"], row["language"], row.get("previous", ())).score


def kefu_predict(row: Row) -> tuple[str, bool, bool]:
    e = estimate(row["text"], row["language"], row.get("previous", ()))
    return e.label, e.angry, e.urgent


@functools.cache
def snownlp_stock(text: str) -> float:
    """Stock snownlp, its own segmenter included (the baseline, not kefu's faster wrapper)."""
    from snownlp import SnowNLP

    return float(SnowNLP(text).sentiments)


def snownlp_predict(t_neg: float, t_pos: float) -> Predict:
    def predict(row: Row) -> tuple[str, bool, bool]:
        s = snownlp_stock(row["text"])
        label = "negative" if s < t_neg else "positive" if s > t_pos else "neutral"
        return label, False, False

    return predict


def snownlp_thresholds(dev: list[Row]) -> tuple[float, float]:
    grid = [i / 20 for i in range(1, 20)]
    t_neg = max(grid, key=lambda t: metrics(dev, snownlp_predict(t, 1.0))["neg_f1"])
    t_pos = max(
        (t for t in grid if t >= t_neg),
        key=lambda t: metrics(dev, snownlp_predict(t_neg, t))["acc"],
    )
    return t_neg, t_pos


def latency(rows: list[Row]) -> tuple[float, float]:
    times = []
    for r in rows:
        started = time.perf_counter()
        estimate(r["text"], r["language"], r.get("previous", ()))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="heldout", choices=["heldout", "dev"])
    ap.add_argument("--errors", action="store_true", help="list misclassified lines (dev only)")
    args = ap.parse_args()
    if args.errors and args.split != "dev":
        ap.error("--errors is for the dev split only: never tune on held-out data")
    rows = read_jsonl(DATA / f"emotion_{args.split}.jsonl")
    dev = read_jsonl(DATA / "emotion_dev.jsonl")

    started = time.perf_counter()
    warm_up()
    warm = time.perf_counter() - started
    p50, p95 = latency(rows)

    t_neg, t_pos = snownlp_thresholds([r for r in dev if r["language"] == "zh"])
    print(f"machine: {machine()}\ndate: {stamp()}")
    print(f"split: {args.split} ({len(rows)} utterances)\n")
    print(
        "| system | lang | n | neg P | neg R | neg F1 | neg R at P>=0.85 (oracle) | 3-class acc "
        "| anger P | anger R | urgency P | urgency R |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    systems: list[tuple[str, Predict, Negativity]] = [
        ("kefu emotion", kefu_predict, kefu_negativity),
        (
            f"snownlp only (neg < {t_neg:.2f}, pos > {t_pos:.2f})",
            snownlp_predict(t_neg, t_pos),
            lambda r: -snownlp_stock(r["text"]),
        ),
    ]
    for name, predict, negativity in systems:
        for lang in ("zh", "en", "all"):
            subset = [r for r in rows if lang == "all" or r["language"] == lang]
            m = metrics(subset, predict)
            tail = (
                f"{m['anger_p']:.3f} | {m['anger_r']:.3f} | {m['urg_p']:.3f} | {m['urg_r']:.3f}"
                if predict is kefu_predict
                else "- | - | - | -"
            )
            print(
                f"| {name} | {lang} | {m['n']} | {m['neg_p']:.3f} | {m['neg_r']:.3f} | "
                f"{m['neg_f1']:.3f} | {recall_at_precision(subset, negativity):.3f} | "
                f"{m['acc']:.3f} | {tail} |"
            )
    print(f"\nlatency per utterance (kefu, after warm-up): p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    print(f"warm-up (lexicons, snownlp, jieba): {warm:.2f} s")

    if args.errors:
        print("\nerrors (gold -> predicted):")
        for r in rows:
            e = estimate(r["text"], r["language"], r.get("previous", ()))
            if (e.label, e.angry, e.urgent) != (r["label"], r["anger"], r["urgency"]):
                print(
                    f"  {r['label'][:3]}/{int(r['anger'])}{int(r['urgency'])} -> "
                    f"{e.label[:3]}/{int(e.angry)}{int(e.urgent)} {e.score:+.2f} "
                    f"{','.join(e.cues)}  {r['text']}"
                )


if __name__ == "__main__":
    main()
