"""The FAQ index on its own: signals, validity, languages and the on-disk cache."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tests.kb_small import small_kb

from kefu.knowledge.embedding_cache import PersistentEmbedder
from kefu.knowledge.faq_index import FaqIndex, FaqIndexCache
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
