"""Cross-lingual keyword gloss, answer types and the signals they feed (document answers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.knowledge.doc_answer import CALIBRATION_FEATURES, DocAnswerer, calibration_features
from kefu.knowledge.doc_answer_type import (
    CLOCK,
    INVOICE,
    MONEY,
    PAYMENT,
    PHONE,
    TIME,
    answer_kinds,
    asked_kinds,
    asked_type,
)
from kefu.knowledge.doc_chunk import prepare_document
from kefu.knowledge.doc_gloss import gloss
from kefu.knowledge.doc_index import DocIndex
from kefu.storage.documents import StoredChunk
from kefu.understanding.normalise import normalise

DEMO_DOCS = Path(__file__).resolve().parent.parent / "src" / "kefu" / "demo" / "data" / "docs"


@pytest.fixture(scope="module")
def lexical_index() -> DocIndex:
    chunks: list[StoredChunk] = []
    for path in sorted(DEMO_DOCS.iterdir()):
        d = prepare_document(path)
        chunks.extend(
            StoredChunk(d.doc_id, d.title, d.language, c.seq, c.section, c.text) for c in d.chunks
        )
    return DocIndex(chunks, None)


def test_english_words_and_phrases_gloss_to_chinese_terms() -> None:
    g = gloss(normalise("Can I return underwear?"))
    assert "退货" in g.text.split() and "内裤" in g.text.split()
    assert {"return", "underwear"} <= g.known
    phrase = gloss(normalise("does the power bank go on a plane"))
    assert "充电宝" in phrase.text and "登机" in phrase.text
    assert "充电宝" not in gloss(normalise("does the bank refund")).text  # phrase, not words


def test_chinese_terms_gloss_to_english_words_and_synonyms() -> None:
    g = gloss(normalise("买到假货怎么赔"))
    assert "counterfeit" in g.text.split() and "假货" in g.known
    assert "运费" in gloss(normalise("邮费谁出")).text.split()


def test_nothing_known_glosses_to_nothing() -> None:
    g = gloss(normalise("zzz qqq"))
    assert g.text == "" and g.known == frozenset()


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("充电宝多少钱", MONEY),
        ("how much does express delivery cost", MONEY),
        ("退款几天到账", TIME),
        ("how long does a repair take", TIME),
        ("积分怎么用", None),
        ("can I return underwear", None),
    ],
)
def test_asked_type(question: str, kind: str | None) -> None:
    assert asked_type(normalise(question)) == kind


def test_answer_kinds() -> None:
    assert answer_kinds(normalise("不满 99 元的订单收取 8 元运费。")) == {MONEY}
    assert answer_kinds(normalise("借记卡：3 至 7 个工作日；")) == {TIME}
    assert answer_kinds("delivery usually takes 5 to 7 days") == {TIME}
    assert answer_kinds("the warranty covers earphones") == frozenset()


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("支持微信支付吗", {PAYMENT}),
        ("do you accept Apple Pay", {PAYMENT}),
        ("能分期付款吗", {PAYMENT}),
        ("花呗付的款退款退到哪", set()),  # asks about the refund, not about paying
        ("if I pay in the evening does it ship tomorrow", set()),
        ("退货能退多少钱", set()),  # the refund follows a rule, not a price
        ("能开纸质发票吗", {INVOICE}),
        ("客服几点下班", {CLOCK, TIME}),
        ("what are your customer service hours", {CLOCK}),
        ("what is your phone number", {PHONE}),
        ("充电宝多少钱", {MONEY}),
        ("积分怎么用", set()),
    ],
)
def test_asked_kinds(question: str, kinds: set[str]) -> None:
    assert asked_kinds(normalise(question)) == kinds


def test_answer_kinds_hold_details() -> None:
    assert CLOCK in answer_kinds(normalise("下午 4 点前付款的订单一般当天发出。"))
    assert INVOICE in answer_kinds(normalise("订单记录就是保修凭证，不需要纸质发票。"))
    assert PAYMENT in answer_kinds("we accept alipay and wechat pay")
    assert PHONE in answer_kinds("客服热线 400-123-4567")
    assert PAYMENT not in answer_kinds(normalise("支付宝、微信支付：一般即时到账；"))


def test_a_missing_detail_vetoes_a_same_topic_passage(lexical_index: DocIndex) -> None:
    search = lexical_index.search("充电宝多少钱", "zh")
    by_section = {lexical_index.chunks[c.chunk].section: c for c in search.candidates}
    assert by_section["商品保养指南 > 电子配件 > 充电宝"].missing_detail == 1.0
    assert by_section["售后服务政策 > 退货运费"].missing_detail == 0.0
    answerer = DocAnswerer(lexical_index)
    assert not answerer.answer("支持微信支付吗", "zh").answered
    assert not answerer.answer("do you accept Apple Pay", "en").answered


def test_gloss_signal_lets_an_english_question_find_a_chinese_section(
    lexical_index: DocIndex,
) -> None:
    search = lexical_index.search("can I return underwear", "en")
    chunks = lexical_index.chunks
    best = max(search.candidates, key=lambda c: c.signals.gloss)
    assert chunks[best.chunk].section.endswith("不支持无理由退货的商品")
    answer = DocAnswerer(lexical_index).answer("can I return underwear", "en", threshold=0.0)
    assert answer.citations[0].section.endswith("不支持无理由退货的商品")


def test_known_share_and_answer_type_signal(lexical_index: DocIndex) -> None:
    known = lexical_index.search("退货运费由谁承担", "zh").known
    unknown = lexical_index.search("羽绒服能用烘干机吗", "zh").known
    assert known == pytest.approx(1.0) and unknown < 0.7
    search = lexical_index.search("充电宝多少钱", "zh")
    by_section = {lexical_index.chunks[c.chunk].section: c.signals for c in search.candidates}
    assert by_section["商品保养指南 > 电子配件 > 充电宝"].answer_type == -1.0
    assert by_section["售后服务政策 > 退货运费"].answer_type == 1.0


def test_calibration_features_follow_their_names(lexical_index: DocIndex) -> None:
    search = lexical_index.search("退货运费谁出", "zh")
    keys = [
        (lexical_index.chunks[c.chunk].doc_id, lexical_index.chunks[c.chunk].section)
        for c in search.candidates
    ]
    scores = [float(k) for k in range(len(keys))]
    feats = calibration_features(search, scores, keys)
    assert len(feats) == len(search.candidates)
    assert all(len(f) == len(CALIBRATION_FEATURES) for f in feats)
    top = feats[-1]
    assert top[0] == scores[-1] and top[1] >= 0.0
    missing = CALIBRATION_FEATURES.index("missing_detail")
    assert all(
        f[missing] == c.missing_detail for f, c in zip(feats, search.candidates, strict=True)
    )
