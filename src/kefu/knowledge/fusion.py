"""One calibrated confidence from the three retrieval signals.

A logistic model over the signals of a candidate FAQ: P(the candidate answers the query). The
default coefficients were fitted on the demo development set (``benchmarks/calibrate_faq.py``,
never on the held-out set); a shop can refit them on its own labelled queries.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass


@dataclass(frozen=True)
class Signals:
    intent: float  # intent-model probability of this FAQ
    dense: float  # best cosine between the query and one of the FAQ's questions
    dense_answer: float  # cosine between the query and the FAQ's question with its answer
    lexical: float  # BM25 of the best question / the query's maximum possible score
    intent_margin: float  # intent probability minus the best other candidate's
    oos: float  # intent model's out-of-scope score for the query (same for all candidates)


@dataclass(frozen=True)
class Fusion:
    bias: float = -9.0
    w_intent: float = 3.0
    w_dense: float = 8.0
    w_dense_answer: float = 0.0
    w_lexical: float = 3.0
    w_margin: float = 1.5
    w_oos: float = -2.0

    def confidence(self, s: Signals) -> float:
        z = (
            self.bias
            + self.w_intent * s.intent
            + self.w_dense * s.dense
            + self.w_dense_answer * s.dense_answer
            + self.w_lexical * s.lexical
            + self.w_margin * s.intent_margin
            + self.w_oos * s.oos
        )
        return 1.0 / (1.0 + math.exp(-z))

    @staticmethod
    def features(s: Signals) -> tuple[float, ...]:
        return astuple(s)
