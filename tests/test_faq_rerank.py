"""The FAQ re-ranker: its features, its trees, and the orders it must get right."""

from __future__ import annotations

from kefu.knowledge import faq_rerank
from kefu.knowledge.faq_rerank import FaqTerms, faq_terms, features, order, score
from kefu.knowledge.faq_rerank_model import TREES
from kefu.knowledge.fusion import Signals
from kefu.understanding.normalise import normalise


def _terms(questions: list[str], answer: str) -> FaqTerms:
    return faq_terms([normalise(q) for q in questions], [normalise(answer)])


REFUND = _terms(
    ["退款多久到账", "钱什么时候退回来", "退款几天能到", "申请退款后多久到账"],
    "退款审核通过后1-3个工作日原路退回。",
)
INVOICE = _terms(
    ["怎么开发票", "发票在哪里申请", "可以开电子发票吗", "发票开好了在哪下载"],
    "订单完成后在订单详情页申请电子发票，1-3个工作日开具。",
)


def _signals(intent: float, lexical: float) -> Signals:
    return Signals(
        intent=intent, dense=0.85, dense_answer=0.8, lexical=lexical, intent_margin=0.0, oos=0.3
    )


def test_trees_are_evaluated_by_their_thresholds() -> None:
    # feature 0 <= 1.0 goes left (leaf 0.5), else right (leaf -0.5)
    tree = ((0, 1.0, 1, 2, 0.0), (-1, 0.0, 0, 0, 0.5), (-1, 0.0, 0, 0, -0.5))
    assert score([1.0], trees=[tree], baseline=0.1) == 0.6
    assert score([1.5], trees=[tree, tree], baseline=0.0) == -1.0
    assert TREES, "the fitted model is in faq_rerank_model.py"


def test_a_key_term_only_the_second_candidate_has_moves_it_first() -> None:
    # the fusion prefers the refund FAQ; only the invoice FAQ knows the query's key term
    query = normalise("发票开好了吗")
    confidences = [0.50, 0.30]
    signals = [_signals(0.5, 0.5), _signals(0.3, 0.5)]
    assert order(query, confidences, signals, [REFUND, INVOICE]) == [1, 0]
    # and the same candidates the other way round: the invoice FAQ stays first
    flipped = order(query, confidences, signals, [INVOICE, REFUND])
    assert flipped == [0, 1]


def test_a_clear_fused_first_keeps_its_place() -> None:
    query = normalise("退款几天能到账")
    ranked = order(
        query, [0.90, 0.05], [_signals(0.9, 0.9), _signals(0.05, 0.2)], [REFUND, INVOICE]
    )
    assert ranked == [0, 1]


def test_features_say_which_candidate_alone_holds_the_query_terms() -> None:
    rows = features(
        normalise("发票在哪下载"),
        [0.5, 0.4],
        [_signals(0.5, 0.5), _signals(0.4, 0.5)],
        [REFUND, INVOICE],
    )
    assert len(rows) == 2 and len(rows[0]) == len(rows[1])
    only = len(rows[0]) - 3  # the share of query terms only this candidate holds
    assert rows[0][only] == 0.0 and rows[1][only] > 0.0
    assert rows[1][only + 1] == rows[1][only]  # ahead of the other by all of it
    assert rows[0][2] == 1.0 and rows[1][2] == 0.0  # the fused first is marked


def test_one_candidate_is_left_alone() -> None:
    assert order("发票", [0.2], [_signals(0.2, 0.2)], [INVOICE]) == [0]
    assert faq_rerank.TOP >= 3  # the answer and its two suggestions come from the re-ranked set
