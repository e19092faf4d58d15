"""Fit the fusion coefficients and pick thresholds on the demo DEVELOPMENT set.

    python benchmarks/calibrate_faq.py

Never reads the held-out set. Prints the coefficients for ``kefu.knowledge.fusion.Fusion`` and
the thresholds that keep wrong answers low on the dev set.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from benchmarks._common import DATA, demo_service, read_jsonl
from kefu.knowledge.fusion import Fusion, Signals
from kefu.understanding.normalise import normalise
from kefu.understanding.smalltalk import strip_greeting


def main() -> None:
    svc = demo_service()
    index = svc.index("demo")
    rows: list[tuple[int, str, Signals, bool]] = []
    queries = read_jsonl(DATA / "faq_dev.jsonl")
    for qi, q in enumerate(queries):
        for faq_id, signals, _ in index.signals(strip_greeting(normalise(q["query"]))):
            rows.append((qi, faq_id, signals, faq_id == q["expected"]))
    X = np.array([Fusion.features(s) for _, _, s, _ in rows])
    y = np.array([ok for *_, ok in rows], dtype=int)
    clf = LogisticRegression(C=1.0, max_iter=2000, class_weight={0: 1.0, 1: 3.0}).fit(X, y)
    names = ["w_intent", "w_dense", "w_dense_answer", "w_lexical", "w_margin", "w_oos"]
    fusion = Fusion(float(clf.intercept_[0]), *(float(c) for c in clf.coef_[0]))
    print(
        "Fusion(bias=%.3f, %s)"
        % (
            fusion.bias,
            ", ".join(f"{n}={float(c):.3f}" for n, c in zip(names, clf.coef_[0], strict=True)),
        )
    )

    # Per query: best candidate by the fitted fusion.
    best: dict[int, tuple[float, str]] = {}
    for qi, faq_id, s, _ in rows:
        c = fusion.confidence(s)
        if qi not in best or c > best[qi][0]:
            best[qi] = (c, faq_id)
    n = len(queries)
    print(" thr  answered_right  wrong  oos_rejected")
    for thr in np.arange(0.3, 0.95, 0.05):
        right = wrong = rej = 0
        n_oos = sum(q["expected"] is None for q in queries)
        for qi, q in enumerate(queries):
            conf, faq_id = best.get(qi, (0.0, ""))
            if conf >= thr:
                if faq_id == q["expected"]:
                    right += 1
                else:
                    wrong += 1
            elif q["expected"] is None:
                rej += 1
        print(f"{thr:.2f}  {right / (n - n_oos):.3f}  {wrong / n:.3f}  {rej / max(n_oos, 1):.3f}")


if __name__ == "__main__":
    main()
