"""Normalisation, language detection, tokens and small talk."""

from __future__ import annotations

import pytest

from kefu.understanding.language import detect_language
from kefu.understanding.normalise import _t2s, normalise, to_simplified
from kefu.understanding.smalltalk import classify, strip_greeting
from kefu.understanding.tokenise import pinyin_bigrams, stem, tokens


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("請問，退貨運費誰出？？😡", "请问 退货运费谁出"),
        ("ＡＢＣ　１２３！", "abc 123"),
        ("Where is my REFUND??", "where is my refund"),
        ("订单#12345", "订单#12345"),
        ("😀😀 👍🏻", ""),
        ("  \t\n ", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("怎么退货", "zh"),
        ("how do I return it", "en"),
        ("我的order还没到", "zh"),
        ("refund 多久到账", "zh"),
        ("12345", None),
        ("I love 北京 and Shanghai so much", "en"),
    ],
)
def test_detect_language(text: str, lang: str | None) -> None:
    assert detect_language(text) == lang


def test_tokens_have_words_and_bigrams_without_stopwords() -> None:
    toks = tokens(normalise("请问退货运费谁出"))
    assert "运费" in toks and "_退货" in toks and "请问" not in toks
    assert tokens("where are my refunds") == ("refund",)
    assert stem("shipping") == "ship" and stem("deliveries") == "delivery"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("你好", "greeting"),
        ("您好，在吗？", "greeting"),
        ("hi there", "greeting"),
        ("好的谢谢", "thanks"),
        ("Thanks a lot!", "thanks"),
        ("谢谢，再见", "goodbye"),
        ("拜拜", "goodbye"),
        ("转人工", "handoff"),
        ("我要找人工客服", "handoff"),
        ("I want to talk to a human", "handoff"),
        ("你好，怎么退货", None),
        ("退货要人工审核吗", None),
        ("hello, where is my refund", None),
    ],
)
def test_smalltalk(text: str, kind: str | None) -> None:
    assert classify(normalise(text)) == kind


def test_strip_greeting() -> None:
    assert strip_greeting(normalise("你好，请问运费多少")) == "运费多少"
    assert strip_greeting(normalise("Hi, how do I return an item?")) == "how do i return an item"


def test_pinyin_bigrams_match_homophone_typos() -> None:
    assert pinyin_bigrams("发票") == ["~fapiao"] == pinyin_bigrams("发漂")
    assert pinyin_bigrams("运费") == pinyin_bigrams("运废")
    assert pinyin_bigrams("绿色") == ["~lvse"]  # ü as v, tones dropped
    assert pinyin_bigrams("退") == []


def test_pinyin_readings_are_pypinyins_single_character_ones() -> None:
    """The table is pypinyin's own character table (first reading, NORMAL style), read without
    loading its phrase dictionary."""
    from pypinyin import lazy_pinyin

    for ch in "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后":
        assert pinyin_bigrams(ch + "好")[0] == "~" + lazy_pinyin(ch)[0] + "hao"


def test_simplified_conversion_skips_only_texts_opencc_would_not_change() -> None:
    converter = _t2s()
    converter.convert("")
    entries = [
        (key, value)
        for _lo, _hi, table in converter.dict_cache.values()
        for key, value in table.items()
        if key != value
    ]
    assert len(entries) > 4000
    # every dictionary entry, alone and inside simplified text, converts as OpenCC converts it
    for key, _value in entries:
        for text in (key, f"亲，{key}吗"):
            assert to_simplified(text) == converter.convert(text), text
    assert to_simplified("他很沈默") == "他很沉默"  # a phrase without a traditional character
    plain = "亲，我的快递到哪了？Order #W123 已经三天了"
    assert to_simplified(plain) is plain
