"""Fit the document-answer coefficients on the demo DEVELOPMENT set.

    python -m benchmarks.calibrate_docs [--lexical-only] [-C 10]

Never reads the held-out set. Two logistic regressions (see ``kefu.knowledge.doc_answer``):

1. the ranker: every candidate chunk of every dev question is one example, labelled 1 when its
   document and section are an acceptable answer (features standardised, so ``C`` treats them
   alike; the printed weights are on the raw scale);
2. the calibration: one example per dev question, its top candidate's ranking score, lead
   over the best other section and whether the question asks for a detail the candidate lacks
   (``missing_detail``; other ``CALIBRATION_FEATURES`` with ``--cal-without``), labelled 1 when
   that candidate is right (unanswerable questions are always 0); standardised like the ranker.
   The scores come from rankers fitted on the other folds (cross-fitting), so the calibration
   sees scores like those of unseen questions.

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
from kefu.knowledge.doc_answer import (
    CALIBRATION_FEATURES,
    MARGIN_CAP,
    DocFusion,
    calibration_features,
)
from kefu.knowledge.doc_index import DocIndex, DocSearch, DocSignals

FOLDS = 5
CAL_C = 10.0  # inverse regularisation of the calibration
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


Row = tuple[int, int, tuple[float, ...], int]  # question, chunk, signals, label


def tops(
    index: DocIndex,
    searches: list[DocSearch],
    rows: list[Row],
    scores: Array,
) -> list[tuple[tuple[float, ...], bool]]:
    """Per question: the top candidate's calibration features and whether it is right."""
    per: dict[int, list[tuple[float, int, int]]] = {}
    for (qi, chunk, _, y), z in zip(rows, scores, strict=True):
        per.setdefault(qi, []).append((float(z), chunk, y))
    out: list[tuple[tuple[float, ...], bool]] = []
    for qi, search in enumerate(searches):
        cands = per.get(qi, [])
        if not cands:
            out.append(((-MARGIN_CAP,) + (0.0,) * (len(CALIBRATION_FEATURES) - 1), False))
            continue
        keys = [(index.chunks[c].doc_id, index.chunks[c].section) for _, c, _ in cands]
        feats = calibration_features(search, [z for z, _, _ in cands], keys)
        k = max(range(len(cands)), key=lambda i: (cands[i][0], -cands[i][1]))
        out.append((feats[k], bool(cands[k][2])))
    return out


def fit_calibration(x: Array, y: Array, keep: list[int]) -> tuple[float, Array]:
    """Like :func:`fit_ranker`: standardised, so ``CAL_C`` treats a 0/1 cue like the score."""
    return fit_ranker(x, y, keep, CAL_C)


def report(dev: list[Question], conf: Array, ok: Array, label: str) -> None:
    n_ans = sum(bool(q.expected) for q in dev)
    n_una = len(dev) - n_ans
    ans = np.array([bool(q.expected) for q in dev])
    en = np.array([q.language == "en" for q in dev])
    print(
        f"{label}: top-1 section {ok[ans].mean():.3f} (zh {ok[ans & ~en].mean():.3f}, "
        f"en {ok[ans & en].mean():.3f})"
    )
    print(" thr  right  wrong  idk    | en right  en idk")
    for thr in np.arange(0.3, 0.86, 0.05):
        said = conf >= thr
        right = (said & ok & ans).sum() / n_ans
        wrong = (said & ~(ok & ans)).sum() / len(dev)
        idk = (~said & ~ans).sum() / n_una
        en_right = (said & ok & ans & en).sum() / max((ans & en).sum(), 1)
        en_idk = (~said & ~ans & en).sum() / max((~ans & en).sum(), 1)
        print(f"{thr:.2f}  {right:.3f}  {wrong:.3f}  {idk:.3f}  | {en_right:.3f}    {en_idk:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lexical-only", action="store_true")
    ap.add_argument("-C", type=float, default=1.0, help="inverse regularisation of the ranker")
    ap.add_argument("--without", default="", help="signals left out, comma-separated (ablation)")
    ap.add_argument(
        "--cal-without",
        default=",".join(CALIBRATION_FEATURES[2:-1]),
        help="calibration features left out [default: all but score, margin, missing_detail]",
    )
    args = ap.parse_args()
    index = demo_index(make_embedder(args.lexical_only))
    dev = load("dev")
    rows: list[Row] = []
    searches = []
    for qi, q in enumerate(dev):
        search = index.search(q.query, q.language)
        searches.append(search)
        for c in search.candidates:
            chunk = index.chunks[c.chunk]
            ok = int(is_right(chunk.doc_id, chunk.section, q.expected))
            rows.append((qi, c.chunk, DocFusion.features(c.signals), ok))
    x = np.array([r[2] for r in rows], dtype=np.float64)
    y = np.array([r[3] for r in rows], dtype=np.float64)
    qids = np.array([r[0] for r in rows])
    names = [f.name for f in fields(DocSignals)]
    dropped = set(filter(None, args.without.split(",")))
    keep = [
        i
        for i, n in enumerate(names)
        if not (args.lexical_only and n.startswith("dense")) and n not in dropped
    ]
    cal_dropped = set(filter(None, args.cal_without.split(",")))
    cal_keep = [i for i, n in enumerate(CALIBRATION_FEATURES) if n not in cal_dropped]

    # Cross-fitted ranking scores for the calibration.
    oof = np.zeros(len(rows))
    for fold in range(FOLDS):
        train = qids % FOLDS != fold
        bias, weights = fit_ranker(x[train], y[train], keep, args.C)
        oof[~train] = bias + x[~train] @ weights
    top_oof = tops(index, searches, rows, oof)
    x2 = np.array([f for f, _ in top_oof])
    y2 = np.array([ok for _, ok in top_oof], dtype=np.float64)
    cal_bias, cal_weights = fit_calibration(x2, y2, cal_keep)

    bias, weights = fit_ranker(x, y, keep, args.C)
    fusion = DocFusion(
        weights=tuple(round(float(w), 4) for w in weights),
        bias=round(bias, 4),
        cal_bias=round(cal_bias, 4),
        cal_weights=tuple(round(float(w), 4) for w in cal_weights),
    )
    print("DocFusion(")
    print("    weights=(")
    for n, w in zip(names, fusion.weights, strict=True):
        print(f"        {w},  # {n}")
    print("    ),")
    print(f"    bias={fusion.bias},")
    print(f"    cal_bias={fusion.cal_bias},")
    print("    cal_weights=(")
    for n, w in zip(CALIBRATION_FEATURES, fusion.cal_weights, strict=True):
        print(f"        {w},  # {n}")
    print("    ),")
    print(")")

    # Dev figures with out-of-fold ranking scores, the calibration fitted in-sample and, more
    # honestly, cross-fitted too (what unseen questions would get).
    ok = y2.astype(bool)
    print(f"dev: {len(dev)} questions, {sum(not q.expected for q in dev)} unanswerable")
    report(dev, np.array([fusion.confidence(f) for f, _ in top_oof]), ok, "out-of-fold ranker")
    qfold = np.arange(len(dev)) % FOLDS
    conf = np.zeros(len(dev))
    for fold in range(FOLDS):
        b, w = fit_calibration(x2[qfold != fold], y2[qfold != fold], cal_keep)
        conf[qfold == fold] = 1.0 / (1.0 + np.exp(-(b + x2[qfold == fold] @ w)))
    report(dev, conf, ok, "out-of-fold ranker and calibration")


if __name__ == "__main__":
    main()
