"""Document storage (all or nothing, replace, delete, kb_revision) and answers with citations
on the demo documents."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from kefu.errors import DocumentNotFound, InvalidInputError
from kefu.knowledge.doc_answer import HYBRID, LEXICAL_ONLY, DocAnswerer, DocFusion
from kefu.knowledge.doc_chunk import Chunk, NewDocument, prepare_document
from kefu.knowledge.doc_index import DocIndex, DocIndexCache
from kefu.knowledge.embedding_cache import PersistentEmbedder
from kefu.service import Service
from kefu.storage.db import session_factory
from kefu.storage.documents import DocumentRepository, StoredChunk

ROOT = Path(__file__).resolve().parent.parent
DEMO_DOCS = ROOT / "src" / "kefu" / "demo" / "data" / "docs"


@pytest.fixture
def repo(service: Service) -> DocumentRepository:
    service.tenants.create("shop", {"level": "L2"})
    return DocumentRepository(session_factory(service.engine), service.tenants)


def doc(doc_id: str, *texts: str, section: str = "政策 > 退货") -> NewDocument:
    chunks = tuple(Chunk(i, section, t) for i, t in enumerate(texts))
    return NewDocument(doc_id, "政策", f"{doc_id}.md", "md", "zh", "hash-" + doc_id, chunks)


def revision(service: Service) -> int:
    return service.tenants.get("shop").kb_revision


def test_import_list_get_and_chunks(repo: DocumentRepository, service: Service) -> None:
    before = revision(service)
    results = repo.import_many("shop", [doc("a", "第一句。", "第二句。"), doc("b", "第三句。")])
    assert [(r.doc_id, r.chunks, r.replaced) for r in results] == [("a", 2, False), ("b", 1, False)]
    assert revision(service) == before + 1
    assert [(d.doc_id, d.chunks, d.format) for d in repo.all("shop")] == [
        ("a", 2, "md"),
        ("b", 1, "md"),
    ]
    assert repo.get("shop", "b").title == "政策"
    assert [c.text for c in repo.chunks("shop", "a")] == ["第一句。", "第二句。"]
    assert len(repo.chunks("shop")) == 3
    with pytest.raises(DocumentNotFound):
        repo.get("shop", "zzz")
    with pytest.raises(DocumentNotFound):
        repo.chunks("shop", "zzz")


def test_import_is_all_or_nothing(repo: DocumentRepository, service: Service) -> None:
    repo.import_many("shop", [doc("keep", "旧内容。")])
    before = revision(service)
    broken = doc("b", "x。", "y。")
    broken = replace(broken, chunks=(Chunk(0, "s", "x。"), Chunk(0, "s", "duplicate seq")))
    with pytest.raises(IntegrityError):
        repo.import_many("shop", [doc("keep", "新内容。"), doc("a", "a。"), broken])
    assert [d.doc_id for d in repo.all("shop")] == ["keep"]
    assert [c.text for c in repo.chunks("shop")] == ["旧内容。"]
    assert revision(service) == before
    with pytest.raises(InvalidInputError, match="given twice"):
        repo.import_many("shop", [doc("a", "1。"), doc("a", "2。")])
    with pytest.raises(InvalidInputError, match="invalid document id"):
        repo.import_many("shop", [doc("bad id", "1。")])
    assert [d.doc_id for d in repo.all("shop")] == ["keep"]


def test_reimport_replaces_and_delete_removes(repo: DocumentRepository, service: Service) -> None:
    repo.import_many("shop", [doc("a", "一。", "二。", "三。")])
    [result] = repo.import_many("shop", [doc("a", "新的一。")])
    assert result.replaced and result.chunks == 1
    assert [c.text for c in repo.chunks("shop")] == ["新的一。"]
    before = revision(service)
    assert repo.delete("shop", "a") == 1
    assert repo.all("shop") == [] and repo.chunks("shop") == []
    assert revision(service) == before + 1
    with pytest.raises(DocumentNotFound):
        repo.delete("shop", "a")


def test_tenants_do_not_see_each_other(repo: DocumentRepository, service: Service) -> None:
    service.tenants.create("other")
    repo.import_many("shop", [doc("a", "一。")])
    repo.import_many("other", [doc("a", "别人的。")])
    assert [c.text for c in repo.chunks("shop")] == ["一。"]
    assert [c.text for c in repo.chunks("other")] == ["别人的。"]


# -- answers on the demo documents ---------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_chunks() -> list[StoredChunk]:
    chunks: list[StoredChunk] = []
    for path in sorted(DEMO_DOCS.iterdir()):
        d = prepare_document(path)
        chunks.extend(
            StoredChunk(d.doc_id, d.title, d.language, c.seq, c.section, c.text) for c in d.chunks
        )
    return chunks


@pytest.fixture(scope="module")
def answerer(demo_chunks: list[StoredChunk], embedder: PersistentEmbedder) -> DocAnswerer:
    return DocAnswerer(DocIndex(demo_chunks, embedder))


@pytest.mark.parametrize(
    ("question", "doc_id", "section"),
    [
        ("退货运费谁承担", "after-sales", "退货运费"),
        ("新疆运费多少", "shipping", "三、偏远地区"),
        ("积分会过期吗", "membership", "积分有效期"),
        ("羊毛衫可以机洗吗", "care-guide", "羊毛与羊绒"),
        ("你们会保存我的银行卡号吗", "privacy", "支付信息"),
        ("how long is your warranty", "warranty-policy", "2. Warranty Period"),
        ("can I choose SF Express", "shipping-guide", "Couriers"),
    ],
)
def test_answers_quote_and_cite_the_right_section(
    answerer: DocAnswerer, question: str, doc_id: str, section: str
) -> None:
    a = answerer.answer(question)
    assert a.answered, a
    [c] = a.citations
    assert (c.doc_id, c.section.split(" > ")[-1]) == (doc_id, section)
    assert c.quote and c.quote == a.text
    sentences = [s for ch in answerer.index.chunks for s in ch.text.split("\n")]
    assert any(s in a.text for s in sentences)  # extractive: document sentences, verbatim
    assert 0.5 <= a.confidence <= 1.0
    d = a.to_dict()
    assert d["answered"] and d["citations"][0]["doc_id"] == doc_id
    assert a.title == c.title and a.section.endswith(section)


@pytest.mark.parametrize(
    "question", ["支持数字人民币吗", "你们接受批发吗", "can I talk to a human agent"]
)
def test_unanswerable_questions_get_i_dont_know(answerer: DocAnswerer, question: str) -> None:
    a = answerer.answer(question)
    assert not a.answered and a.text == "" and a.citations == []
    assert 0.0 <= a.confidence < 0.5


def test_lexical_only_still_answers(demo_chunks: list[StoredChunk]) -> None:
    a = DocAnswerer(DocIndex(demo_chunks, None)).answer("退货运费由谁承担")
    assert a.answered and a.citations[0].section.endswith("退货运费")
    assert not DocAnswerer(DocIndex([], None)).answer("退货运费").answered


def test_the_order_model_picks_the_passage_and_relevance_sets_the_confidence(
    demo_chunks: list[StoredChunk],
) -> None:
    index = DocIndex(demo_chunks, None)
    n = len(LEXICAL_ONLY.weights)
    lexical = (1.0,) + (0.0,) * (n - 1)  # weight on the first signal, DocSignals.lexical
    by_lexical = DocFusion(weights=lexical, cal_weights=(1.0,))
    reversed_order = replace(by_lexical, order_weights=tuple(-w for w in lexical))
    search = index.search("退货运费由谁承担")
    first = DocAnswerer(index, by_lexical).rank(search)
    last = DocAnswerer(index, reversed_order).rank(search)
    lex_first = [r.candidate.signals.lexical for r in first]
    lex_last = [r.candidate.signals.lexical for r in last]
    assert lex_first == sorted(lex_first, reverse=True) and lex_last == sorted(lex_last)
    assert lex_first[0] > lex_last[0]
    assert all(r.order == r.score for r in first)  # no order model: ordered by relevance
    # the confidence follows the relevance logit whatever the order
    confidence = {r.candidate.chunk: r.confidence for r in first}
    assert all(r.confidence == confidence[r.candidate.chunk] for r in last)
    assert all(r.order == -r.score for r in last)


def test_shipped_models_have_one_weight_per_signal() -> None:
    assert HYBRID.order_weights is not None and len(HYBRID.order_weights) == len(HYBRID.weights)
    assert LEXICAL_ONLY.order_weights is None  # listwise ordering did not help without vectors


def test_index_cache_reuses_built_indexes(demo_chunks: list[StoredChunk]) -> None:
    cache = DocIndexCache(size=2)
    first = cache.get(demo_chunks, None)
    assert cache.get(list(demo_chunks), None) is first and cache.builds == 1
    assert cache.get(demo_chunks[:5], None) is not first and cache.builds == 2
