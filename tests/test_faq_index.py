"""The FAQ index on its own: signals, validity, languages and the on-disk cache."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from tests.kb_small import small_kb

from kefu.knowledge import faq_index
from kefu.knowledge.bm25 import BM25
from kefu.knowledge.embedding_cache import PersistentEmbedder
from kefu.knowledge.faq_index import FaqIndex, FaqIndexCache, _label_runs, code_fingerprint
from kefu.knowledge.fusion import HYBRID, LEXICAL_ONLY, Signals


def test_search_ranks_the_paraphrased_faq_first(embedder: PersistentEmbedder) -> None:
    index = FaqIndex(small_kb(), embedder)
    assert "disabled" not in index.groups  # disabled rows are not indexed
    top = index.search("包邮吗 邮费多少", k=3)
    assert top[0].faq_id == "ship-fee" and top[0].confidence > 0.7
    assert [c.confidence for c in top] == sorted((c.confidence for c in top), reverse=True)
    assert index.search("how do i send it back for a refund?")[0].faq_id == "return-policy"


def test_validity_is_checked_at_question_time(embedder: PersistentEmbedder) -> None:
    index = FaqIndex(small_kb(), embedder)
    during = index.search("双十一活动规则", now=datetime(2025, 11, 11))
    after = index.search("双十一活动规则", now=datetime(2025, 11, 13))
    assert during[0].faq_id == "old-promo"
    assert all(c.faq_id != "old-promo" for c in after)


def test_lexical_only_index_without_embedder() -> None:
    index = FaqIndex(small_kb(), None)
    assert index.fusion is LEXICAL_ONLY
    assert index.search("积分怎么用")[0].faq_id == "points"


def test_fusion_is_monotonic_in_every_positive_signal() -> None:
    base = Signals(intent=0.5, dense=0.8, dense_answer=0.8, lexical=0.5, intent_margin=0.2, oos=0.3)
    c = HYBRID.confidence(base)
    for field in ("intent", "dense", "dense_answer", "lexical", "intent_margin"):
        higher = Signals(**{**base.__dict__, field: getattr(base, field) + 0.1})
        assert HYBRID.confidence(higher) > c, field
    assert HYBRID.confidence(Signals(**{**base.__dict__, "oos": 0.9})) < c


def test_disk_cache_skips_retraining(embedder: PersistentEmbedder, tmp_path: Path) -> None:
    first = FaqIndexCache(directory=tmp_path / "index")
    a = first.get(small_kb(), embedder)
    assert first.builds == 1 and len(list((tmp_path / "index").glob("*.pkl"))) == 1
    second = FaqIndexCache(directory=tmp_path / "index")
    b = second.get(small_kb(), embedder)
    assert second.builds == 0 and b.embedder is embedder
    assert [c.faq_id for c in b.search("退款几天到")] == [c.faq_id for c in a.search("退款几天到")]
    changed = [*small_kb()[:-1]]
    second.get(changed, embedder)
    assert second.builds == 1  # different content, new index
    (tmp_path / "index" / f"{FaqIndexCache.key(small_kb(), embedder)}.pkl").write_bytes(b"junk")
    third = FaqIndexCache(directory=tmp_path / "index")
    third.get(small_kb(), embedder)
    assert third.builds == 1  # an unreadable file is rebuilt, not an error


def test_one_embedding_per_question_shared_with_the_intent_model(
    embedder: PersistentEmbedder,
) -> None:
    index = FaqIndex(small_kb(), embedder)
    assert index._dense is not None and index._dense.dtype == np.float32
    assert index.intents is not None
    # Every question is in scope, so the intent model's neighbour matrix is the same array.
    assert index.intents._fitted().in_scope_dense is index._dense
    assert index.bm25._matrix_csc.dtype == np.float32


def test_per_label_max_over_runs_matches_a_sort() -> None:
    rng = np.random.default_rng(0)
    for _ in range(100):
        counts = rng.integers(0, 4, rng.integers(1, 12))  # labels without documents too
        labels = np.repeat(np.arange(len(counts)), counts).astype(np.int32)
        scores = np.round(rng.standard_normal(len(labels)), 1)  # ties
        index = FaqIndex.__new__(FaqIndex)
        index.labels = [str(i) for i in range(len(counts))]
        index._doc_label_arr, index._doc_runs = labels, _label_runs(labels)
        index._qa_label, index._qa_runs = np.zeros(0, dtype=np.int32), None
        best, best_doc = index._per_label_max(scores)
        shuffled = rng.permutation(len(labels))  # not grouped: the sorting path
        ref, ref_doc = index._per_label_max(scores[shuffled], labels[shuffled])
        np.testing.assert_array_equal(best, ref)
        for i, n in enumerate(counts):
            if n:
                assert labels[best_doc[i]] == i and scores[best_doc[i]] == best[i]
                assert scores[shuffled][ref_doc[i]] == ref[i]


def test_bm25_keeps_one_float32_matrix() -> None:
    docs = [["退货", "运费"], ["运费", "运费", "包邮"], []]
    bm25 = BM25(docs)
    scores = bm25.scores(["运费", "未知"])
    assert scores.dtype == np.float64 and scores[2] == 0.0 and scores[0] > 0 and scores[1] > 0
    weights = bm25.matrix  # built on demand from the one stored (CSC) matrix
    assert weights.format == "csr" and weights.shape == (3, 3)
    np.testing.assert_allclose(weights[:, [bm25.vocab["运费"]]].toarray().ravel(), scores)
    assert bm25.max_score(["运费"]) >= scores.max()
    assert BM25([]).scores(["x"]).shape == (0,)


def test_cache_format_is_part_of_the_key(
    embedder: PersistentEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = FaqIndexCache.key(small_kb(), embedder)
    code_fingerprint.cache_clear()
    monkeypatch.setattr(faq_index, "INDEX_FORMAT", faq_index.INDEX_FORMAT + 1)
    try:
        assert FaqIndexCache.key(small_kb(), embedder) != before
    finally:
        code_fingerprint.cache_clear()


def test_reranking_reorders_but_keeps_each_candidates_confidence(
    embedder: PersistentEmbedder,
) -> None:
    index = FaqIndex(small_kb(), embedder)
    for query in ("包邮吗 邮费多少", "东西不想要了 钱几天退回来", "how long until you ship"):
        plain = index.search(query, k=5, rerank=False)
        reranked = index.search(query, k=5)
        assert [c.confidence for c in plain] == sorted((c.confidence for c in plain), reverse=True)
        assert {(c.faq_id, c.confidence) for c in reranked} == {
            (c.faq_id, c.confidence) for c in plain
        }
    assert index.terms("ship-fee") is index.terms("ship-fee")  # built once
    assert "_包邮" in index.terms("ship-fee").question_union
