"""L1 answer quality on the demo held-out set, beside a plain BM25 and a dense-only baseline.

    python -m benchmarks.faq_quality [--split heldout2|heldout|dev]

The engine trains on the demo FAQ only and its thresholds were picked on the dev split; the
held-out split is read here and nowhere else. Baselines rank FAQs by one signal (BM25 over the
same tokens; e5 cosine to the FAQ questions) and answer when the score clears a threshold picked
on the dev split the same way (the best in-scope accuracy with wrong answers <= 2%).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from benchmarks._common import DATA, demo_service, machine, read_jsonl, stamp
from kefu.dialogue.l1_policy import L1Policy
from kefu.knowledge.faq_index import FaqIndex, lexical_tokens
from kefu.quality.faq_eval import LabelledQuery, evaluate_faq
from kefu.understanding.normalise import normalise

Scorer = Callable[[str], tuple[str | None, float]]


def bm25_scorer(index: FaqIndex) -> Scorer:
    def score(q: str) -> tuple[str | None, float]:
        toks = lexical_tokens(normalise(q))
        best, _ = index._per_label_max(index.bm25.scores(toks))
        i = int(np.argmax(best))
        return index.labels[i], float(best[i] / (index.bm25.max_score(toks) or 1.0))

    return score


def dense_scorer(index: FaqIndex) -> Scorer:
    assert index.embedder is not None and index._dense is not None
    embedder, dense = index.embedder, index._dense

    def score(q: str) -> tuple[str | None, float]:
        vec = embedder.embed_queries([normalise(q) or q])[0]
        best, _ = index._per_label_max(dense @ vec)
        i = int(np.argmax(best))
        return index.labels[i], float(best[i])

    return score


def baseline(
    scorer: Scorer, dev: list[LabelledQuery], test: list[LabelledQuery]
) -> dict[str, float]:
    def run(qs: list[LabelledQuery]) -> list[tuple[str | None, float, str | None]]:
        return [(*scorer(q.query), q.expected) for q in qs]

    def metrics(rows: list[tuple[str | None, float, str | None]], thr: float) -> dict[str, float]:
        ins = [r for r in rows if r[2] is not None]
        oos = [r for r in rows if r[2] is None]
        return {
            "top1": sum(r[0] == r[2] for r in ins) / len(ins),
            "answer_accuracy": sum(r[1] >= thr and r[0] == r[2] for r in ins) / len(ins),
            "wrong": sum(r[1] >= thr and r[0] != r[2] for r in rows) / len(rows),
            "oos_rejection": sum(r[1] < thr for r in oos) / len(oos),
            "threshold": thr,
        }

    dev_rows = run(dev)
    candidates = [metrics(dev_rows, t) for t in np.unique([r[1] for r in dev_rows])]
    ok = [m for m in candidates if m["wrong"] <= 0.02] or candidates
    thr = max(ok, key=lambda m: m["answer_accuracy"])["threshold"]
    return metrics(run(test), thr)


def load(split: str) -> list[LabelledQuery]:
    return [
        LabelledQuery(q["query"], q["expected"], q.get("language"))
        for q in read_jsonl(DATA / f"faq_{split}.jsonl")
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="heldout2", choices=["heldout2", "heldout", "dev"])
    args = ap.parse_args()
    svc = demo_service()
    index = svc.index("demo")
    policy = L1Policy(index, svc.tenants.settings("demo"))
    dev, test = load("dev"), load(args.split)
    now = datetime.now(UTC).replace(tzinfo=None)
    print(f"machine: {machine()}\ndate: {stamp()}\nsplit: {args.split} ({len(test)} queries)\n")
    print("| system | lang | n | top-1 | top-3 | answered right | wrong answers | OOS rejected |")
    print("|---|---|---|---|---|---|---|---|")
    for lang in ("zh", "en", "all"):
        subset = [q for q in test if lang == "all" or q.language == lang]
        r = evaluate_faq(policy, subset, now).to_dict()
        print(
            f"| kefu L1 | {lang} | {r['n']} | {r['top1_accuracy']:.3f} | "
            f"{r['top3_recall']:.3f} | {r['answer_accuracy']:.3f} | "
            f"{r['wrong_answer_rate']:.3f} | {r['oos_rejection_rate']:.3f} |"
        )
    for name, scorer in (
        ("BM25 only", bm25_scorer(index)),
        ("dense only (e5)", dense_scorer(index)),
    ):
        for lang in ("zh", "en", "all"):
            subset = [q for q in test if lang == "all" or q.language == lang]
            m = baseline(scorer, dev, subset)
            print(
                f"| {name} | {lang} | {len(subset)} | {m['top1']:.3f} | - | "
                f"{m['answer_accuracy']:.3f} | {m['wrong']:.3f} | {m['oos_rejection']:.3f} |"
            )


if __name__ == "__main__":
    main()
