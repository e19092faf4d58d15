"""Fit the document-answer coefficients on the demo DEVELOPMENT set.

    python -m benchmarks.calibrate_docs [--lexical-only] [-C 10]

Never reads the held-out set. Two logistic regressions (see ``kefu.knowledge.doc_answer``):

1. the ranker: every candidate chunk of every dev question is one example, labelled 1 when its
   document and section are an acceptable answer (features standardised, so ``C`` treats them
   alike; the printed weights are on the raw scale);
2. the calibration: one example per dev question, its top candidate's ranking score and lead
   over the best other section, labelled 1 when that candidate is right (unanswerable questions
   are always 0). The scores come from rankers fitted on the other folds (cross-fitting), so
   the calibration sees scores like those of unseen questions.

Prints the ``DocFusion`` to paste into ``kefu.knowledge.doc_answer`` (HYBRID, or LEXICAL_ONLY
with ``--lexical-only``), then per threshold the dev share of answerable questions answered
with the right section, of all questions answered wrongly, and of unanswerable ones refused.
"""

from __future__ import annotations

import argparse
from dataclasses import fields

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression

from benchmarks.docs_quality import Question, demo_index, is_right, load, make_embedder
from kefu.knowledge.doc_answer import MARGIN_CAP, DocFusion, clip_margin
from kefu.knowledge.doc_index import DocIndex, DocSignals

FOLDS = 5
Array = npt.NDArray[np.float64]


def fit_ranker(x: Array, y: Array, keep: list[int], c: float) -> tuple[float, Array]:
    """Bias and raw-scale weights (zeros outside ``keep``) of a standardised logistic fit."""
    xs = x[:, keep]
    mean, sd = xs.mean(axis=0), xs.std(axis=0)
    sd[sd == 0] = 1.0
    clf = LogisticRegression(C=c, max_iter=20_000).fit((xs - mean) / sd, y)
    w_std = clf.coef_[0]
    weights = np.zeros(x.shape[1])
    weights[keep] = w_std / sd
    bias = float(clf.intercept_[0] - np.sum(w_std * mean / sd))
    return bias, weights


def tops(
    index: DocIndex,
    questions: list[Question],
    rows: list[tuple[int, int, tuple[float, ...], int]],
    scores: Array,
) -> dict[int, tuple[float, float, bool]]:
    """Per question: the top candidate's score, its lead over another section, and rightness."""
    per: dict[int, list[tuple[float, int, int]]] = {}
    for (qi, chunk, _, y), z in zip(rows, scores, strict=True):
        per.setdefault(qi, []).append((float(z), chunk, y))
    out: dict[int, tuple[float, float, bool]] = {}
    for qi, cands in per.items():
        cands.sort(key=lambda t: -t[0])
        z0, c0, y0 = cands[0]
        key0 = (index.chunks[c0].doc_id, index.chunks[c0].section)
        z1 = next(
            (
                z
                for z, c, _ in cands[1:]
                if (index.chunks[c].doc_id, index.chunks[c].section) != key0
            ),
            z0 - MARGIN_CAP,
        )
        out[qi] = (z0, clip_margin(z0 - z1), bool(y0))
    for qi in range(len(questions)):
        out.setdefault(qi, (-MARGIN_CAP, 0.0, False))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lexical-only", action="store_true")
    ap.add_argument("-C", type=float, default=1.0, help="inverse regularisation of the ranker")
    args = ap.parse_args()
    index = demo_index(make_embedder(args.lexical_only))
    dev = load("dev")
    rows: list[tuple[int, int, tuple[float, ...], int]] = []
    for qi, q in enumerate(dev):
        for c in index.search(q.query, q.language).candidates:
            chunk = index.chunks[c.chunk]
            ok = int(is_right(chunk.doc_id, chunk.section, q.expected))
            rows.append((qi, c.chunk, DocFusion.features(c.signals), ok))
    x = np.array([r[2] for r in rows], dtype=np.float64)
    y = np.array([r[3] for r in rows], dtype=np.float64)
    qids = np.array([r[0] for r in rows])
    names = [f.name for f in fields(DocSignals)]
    keep = [
        i
        for i, n in enumerate(names)
        if not (args.lexical_only and (n.startswith("dense") or n == "dense_margin"))
    ]

    # Cross-fitted ranking scores for the calibration.
    oof = np.zeros(len(rows))
    for fold in range(FOLDS):
        train = qids % FOLDS != fold
        bias, weights = fit_ranker(x[train], y[train], keep, args.C)
        oof[~train] = bias + x[~train] @ weights
    top_oof = tops(index, dev, rows, oof)
    x2 = np.array([[z, m] for z, m, _ in top_oof.values()])
    y2 = np.array([ok for _, _, ok in top_oof.values()], dtype=np.float64)
    cal = LogisticRegression(C=10.0, max_iter=20_000).fit(x2, y2)

    bias, weights = fit_ranker(x, y, keep, args.C)
    fusion = DocFusion(
        weights=tuple(round(float(w), 4) for w in weights),
        bias=round(bias, 4),
        cal_bias=round(float(cal.intercept_[0]), 4),
        cal_score=round(float(cal.coef_[0][0]), 4),
        cal_margin=round(float(cal.coef_[0][1]), 4),
    )
    print("DocFusion(")
    print("    weights=(")
    for n, w in zip(names, fusion.weights, strict=True):
        print(f"        {w},  # {n}")
    print("    ),")
    print(f"    bias={fusion.bias},")
    print(f"    cal_bias={fusion.cal_bias},")
    print(f"    cal_score={fusion.cal_score},")
    print(f"    cal_margin={fusion.cal_margin},")
    print(")")

    # Dev figures with out-of-fold scores (what unseen questions would get).
    n_ans = sum(bool(q.expected) for q in dev)
    n_una = len(dev) - n_ans
    best = {qi: (fusion.confidence(z, m), ok) for qi, (z, m, ok) in top_oof.items()}
    top1 = sum(best[qi][1] for qi, q in enumerate(dev) if q.expected) / n_ans
    print(f"dev: {len(dev)} questions, {n_una} unanswerable; out-of-fold top-1 section {top1:.3f}")
    print(" thr  right  wrong  idk")
    for thr in np.arange(0.3, 0.86, 0.05):
        right = wrong = idk = 0
        for qi, q in enumerate(dev):
            conf, ok = best[qi]
            if conf >= thr:
                right += ok
                wrong += not ok
            elif not q.expected:
                idk += 1
        print(f"{thr:.2f}  {right / n_ans:.3f}  {wrong / len(dev):.3f}  {idk / n_una:.3f}")
    print(" bin        n  mean_conf  accuracy")
    for lo in np.arange(0.0, 1.0, 0.2):
        sel = [(c, ok) for c, ok in best.values() if lo <= c < lo + 0.2 or (lo >= 0.8 and c >= 1)]
        if sel:
            mean = sum(c for c, _ in sel) / len(sel)
            acc = sum(ok for _, ok in sel) / len(sel)
            print(f" {lo:.1f}-{lo + 0.2:.1f}  {len(sel):3d}  {mean:.3f}      {acc:.3f}")


if __name__ == "__main__":
    main()
