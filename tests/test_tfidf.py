"""The direct TF-IDF transform gives exactly scikit-learn's matrix."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from kefu.understanding import tfidf
from kefu.understanding.intent_model import word_features_with_synonyms

TRAIN = [
    "运费怎么算",
    "退货运费谁出",
    "怎么申请退款 退款多久到账",
    "how long does a refund take",
    "can i change my shipping address",
    "发票 发票 怎么开",
]
QUERIES = [
    "退款多久到账",
    "refund refund refund take",
    "",  # no feature at all
    "完全无关的词",  # only unseen features
    "运费",
    "发票怎么开 how long",
    "zzz",  # unseen, between rows that have features
    "shipping address change",
]


@pytest.mark.parametrize(
    "vectorizer",
    [
        TfidfVectorizer(analyzer=word_features_with_synonyms, sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)),  # raw counts
        TfidfVectorizer(analyzer="char", ngram_range=(1, 2), norm=None, use_idf=False),
    ],
    ids=["words-sublinear", "char_wb-sublinear", "char_wb-counts", "char-no-norm-no-idf"],
)
def test_same_matrix_as_scikit_learn(vectorizer: TfidfVectorizer) -> None:
    vectorizer.fit(TRAIN)
    expected = vectorizer.transform(QUERIES)
    expected.sort_indices()
    got = tfidf.transform(vectorizer, QUERIES)
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    assert np.array_equal(got.indptr, expected.indptr)
    assert np.array_equal(got.indices, expected.indices)
    np.testing.assert_allclose(got.data, expected.data, rtol=1e-13, atol=0)
    for i, query in enumerate(QUERIES):  # one text at a time, as on the message path
        one = tfidf.transform(vectorizer, [query])
        np.testing.assert_allclose(one.toarray(), expected[i].toarray(), rtol=1e-13, atol=0)


def test_rows_are_unit_length_or_empty() -> None:
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    vectorizer.fit(TRAIN)
    matrix = tfidf.transform(vectorizer, QUERIES)
    norms = np.sqrt(np.asarray(matrix.power(2).sum(axis=1)).ravel())
    empty = [2, 3, 6]  # nothing, only unseen characters, unseen letters
    assert (norms[empty] == 0.0).all()
    assert np.allclose(np.delete(norms, empty), 1.0)


def test_unsupported_options_use_scikit_learns_transform() -> None:
    vectorizer = TfidfVectorizer(analyzer="char", binary=True, norm="l1").fit(TRAIN)
    got = tfidf.transform(vectorizer, QUERIES)
    np.testing.assert_array_equal(got.toarray(), vectorizer.transform(QUERIES).toarray())
