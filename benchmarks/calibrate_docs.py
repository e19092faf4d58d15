"""Fit the document-answer coefficients on the demo DEVELOPMENT set.

    python -m benchmarks.calibrate_docs [--lexical-only] [-C 10] [--order-C 0.3]

Never reads the held-out set. Three models (see ``kefu.knowledge.doc_answer``):

1. the relevance model (pointwise logistic regression): every candidate chunk of every dev
   question is one example, labelled 1 when its document and section are an acceptable answer
   (features standardised, so ``C`` treats them alike; the printed weights are on the raw
   scale);
2. the order model (listwise: a softmax over each answerable question's candidates, the
   acceptable ones sharing the target; L2-penalised with ``1 / order-C`` on standardised
   features), which picks the candidate to cite. ``--order-C 0`` leaves it out (the relevance
   logit orders, as for ``--lexical-only``, where the listwise model did not help on dev);
3. the calibration: one example per dev question, the first candidate's relevance logit, lead
   over the best other section and whether the question asks for a detail the candidate lacks
   (``missing_detail``; other ``CALIBRATION_FEATURES`` with ``--cal-without``), labelled 1 when
   that candidate is right (unanswerable questions are always 0); standardised like the
   relevance model. The scores come from models fitted on the other folds (cross-fitting), so
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
from scipy.optimize import minimize
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
# Inverse regularisation of the listwise order model, chosen on dev out of fold: top-1 section
# 0.885 at 0.03, 0.908 at 0.1, 0.904 at 0.3, 0.890 at 1, 0.881 at 3 (pointwise order: 0.881).
ORDER_C = 0.3
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


def fit_order(x: Array, y: Array, qids: npt.NDArray[np.int64], keep: list[int], c: float) -> Array:
    """Raw-scale weights (zeros outside ``keep``) of a listwise model: per question with an
    acceptable candidate, the cross-entropy between the softmax of the candidates' scores and
    the acceptable candidates (equal shares), plus ``||w||^2 / 2c`` on standardised features."""
    xs = x[:, keep]
    mean, sd = xs.mean(axis=0), xs.std(axis=0)
    sd[sd == 0] = 1.0
    xs = (xs - mean) / sd
    groups = [g for g in (np.flatnonzero(qids == q) for q in np.unique(qids)) if y[g].any()]
    targets = [y[g] / y[g].sum() for g in groups]

    def loss(w: Array) -> tuple[float, Array]:
        value, grad = 0.5 * float(w @ w) / c, w / c
        for g, t in zip(groups, targets, strict=True):
            z = xs[g] @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            value -= float(t @ np.log(p + 1e-12))
            grad = grad + xs[g].T @ (p - t)
        return value, grad

    w_std = minimize(loss, np.zeros(len(keep)), jac=True, method="L-BFGS-B").x
    weights = np.zeros(x.shape[1])
    weights[keep] = w_std / sd
    return weights


Row = tuple[int, int, tuple[float, ...], int]  # question, chunk, signals, label


def tops(
    index: DocIndex,
    searches: list[DocSearch],
    rows: list[Row],
    scores: Array,
    order: Array | None = None,
) -> list[tuple[tuple[float, ...], bool]]:
    """Per question: the first candidate's (by ``order``, else by ``scores``) calibration
    features from the relevance ``scores``, and whether it is right."""
    order = scores if order is None else order
    per: dict[int, list[tuple[float, float, int, int]]] = {}
    for (qi, chunk, _, y), z, o in zip(rows, scores, order, strict=True):
        per.setdefault(qi, []).append((float(z), float(o), chunk, y))
    out: list[tuple[tuple[float, ...], bool]] = []
    for qi, search in enumerate(searches):
        cands = per.get(qi, [])
        if not cands:
            out.append(((-MARGIN_CAP,) + (0.0,) * (len(CALIBRATION_FEATURES) - 1), False))
            continue
        keys = [(index.chunks[c].doc_id, index.chunks[c].section) for _, _, c, _ in cands]
        feats = calibration_features(search, [z for z, _, _, _ in cands], keys)
        k = max(range(len(cands)), key=lambda i: (cands[i][1], -cands[i][2]))
        out.append((feats[k], bool(cands[k][3])))
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
    ap.add_argument(
        "--order-C",
        type=float,
        default=None,
        help="inverse regularisation of the listwise order model, 0 = none "
        "[default: 0.3, with --lexical-only 0]",
    )
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

    order_c = (0.0 if args.lexical_only else ORDER_C) if args.order_C is None else args.order_C

    # Cross-fitted relevance and order scores for the calibration.
    oof = np.zeros(len(rows))
    oof_order = np.zeros(len(rows))
    for fold in range(FOLDS):
        train = qids % FOLDS != fold
        bias, weights = fit_ranker(x[train], y[train], keep, args.C)
        oof[~train] = bias + x[~train] @ weights
        if order_c > 0:
            ow = fit_order(x[train], y[train], qids[train], keep, order_c)
            oof_order[~train] = x[~train] @ ow
    top_oof = tops(index, searches, rows, oof, oof_order if order_c > 0 else None)
    x2 = np.array([f for f, _ in top_oof])
    y2 = np.array([ok for _, ok in top_oof], dtype=np.float64)
    cal_bias, cal_weights = fit_calibration(x2, y2, cal_keep)

    bias, weights = fit_ranker(x, y, keep, args.C)
    order_weights = fit_order(x, y, qids, keep, order_c) if order_c > 0 else None
    fusion = DocFusion(
        weights=tuple(round(float(w), 4) for w in weights),
        bias=round(bias, 4),
        cal_bias=round(cal_bias, 4),
        cal_weights=tuple(round(float(w), 4) for w in cal_weights),
        order_weights=None
        if order_weights is None
        else tuple(round(float(w), 4) for w in order_weights),
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
    if fusion.order_weights is not None:
        print("    order_weights=(")
        for n, w in zip(names, fusion.order_weights, strict=True):
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
