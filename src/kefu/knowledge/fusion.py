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
    # How far this candidate is ahead of (or behind) the best other FAQ on each retrieval
    # signal: a paraphrase rarely wins every signal, but the right FAQ usually leads on one.
    dense_margin: float = 0.0
    answer_margin: float = 0.0
    lexical_margin: float = 0.0


@dataclass(frozen=True)
class Fusion:
    bias: float = -4.947
    w_intent: float = 4.189
    w_dense: float = 1.764
    w_dense_answer: float = 1.443
    w_lexical: float = 1.346
    w_margin: float = 6.282
    w_oos: float = -2.042
    w_dense_margin: float = 0.994
    w_answer_margin: float = 0.726
    w_lexical_margin: float = 1.534

    def confidence(self, s: Signals) -> float:
        z = (
            self.bias
            + self.w_intent * s.intent
            + self.w_dense * s.dense
            + self.w_dense_answer * s.dense_answer
            + self.w_lexical * s.lexical
            + self.w_margin * s.intent_margin
            + self.w_oos * s.oos
            + self.w_dense_margin * s.dense_margin
            + self.w_answer_margin * s.answer_margin
            + self.w_lexical_margin * s.lexical_margin
        )
        return 1.0 / (1.0 + math.exp(-z))

    @staticmethod
    def features(s: Signals) -> tuple[float, ...]:
        return astuple(s)


# Fitted by benchmarks/calibrate_faq.py on the demo development sets (faq_dev + faq_dev_extra),
# bias lowered by 0.4 (its --bias-shift).
HYBRID = Fusion()
# Without an embedder (KEFU_EMBEDDER=none) the dense signals are zero.
LEXICAL_ONLY = Fusion(
    bias=-1.954,
    w_intent=5.690,
    w_dense=0.0,
    w_dense_answer=0.0,
    w_lexical=4.202,
    w_margin=8.652,
    w_oos=-1.594,
    w_dense_margin=0.0,
    w_answer_margin=0.0,
    w_lexical_margin=5.213,
)


def default_fusion(has_embedder: bool) -> Fusion:
    return HYBRID if has_embedder else LEXICAL_ONLY
