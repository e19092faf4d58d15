"""Tokens for lexical matching: jieba words plus character bigrams for Chinese, light-stemmed
words for English. Input is expected to be ``normalise``d already."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable

_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[a-z]+|[0-9]+(?:\.[0-9]+)?")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

ZH_STOPWORDS = frozenset(
    "的 了 吗 呢 吧 啊 呀 哦 嘛 么 是 我 你 您 他 她 它 们 这 "
    "那 个 在 有 和 与 就 都 也 还 要 会 能 可以 请问 请 一下 想 "
    "问 问下 下 怎么 如何 什么 哪 哪里 为什么 多少 几 嗯 好 谢谢 那个 "
    "这个 一个 我们 你们 现在 一直 还是 就是 然后".split()
)
EN_STOPWORDS = frozenset(
    "a an the is are was were be been am do does did i me my we our you your it its "
    "this that to of in on for at by with from and or but if can could would should "
    "will shall may might please hi hello how what when where why which who whom "
    "there here so just about any some have has had get got".split()
)


@functools.lru_cache(maxsize=1)
def _jieba() -> object:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@functools.lru_cache(maxsize=1)
def _pinyin() -> Callable[[str], list[str]]:
    from pypinyin import lazy_pinyin

    return lazy_pinyin


def warm_up() -> None:
    """Load the jieba dictionary and pinyin tables now rather than on the first message."""
    _jieba()
    _pinyin()


def pinyin_bigrams(run: str) -> list[str]:
    """Toneless pinyin of adjacent character pairs: homophone typos (发漂/发票, 运废/运费)
    share these tokens with the correct spelling."""
    syllables = _pinyin()(run)
    if len(syllables) != len(run):  # a non-Han character slipped in; skip rather than misalign
        return []
    return ["~" + syllables[i] + syllables[i + 1] for i in range(len(syllables) - 1)]


def stem(word: str) -> str:
    """A deliberately small English suffix stripper (refunds -> refund, shipping -> ship)."""
    if len(word) <= 3:
        return word
    for suffix, repl in (
        ("ies", "y"),
        ("ied", "y"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + repl
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # shipp -> ship
    return word


# Bounded for memory (an entry is ~2 KB of token strings): the cache serves repeated messages;
# index builds tokenise their documents through ``tokens.__wrapped__``.
@functools.lru_cache(maxsize=4096)
def tokens(text: str, bigrams: bool = True) -> tuple[str, ...]:
    """Tokens of a normalised text, stopwords removed."""
    out: list[str] = []
    for run in _RUNS.findall(text):
        if _HAN.match(run):
            jieba = _jieba()
            words = [w for w in jieba.lcut_for_search(run) if w.strip()]  # type: ignore[attr-defined]
            out.extend(w for w in words if w not in ZH_STOPWORDS)
            if bigrams and len(run) >= 2:
                out.extend("_" + run[i : i + 2] for i in range(len(run) - 1))
                out.extend(pinyin_bigrams(run))
            elif len(run) == 1 and run not in ZH_STOPWORDS:
                out.append(run)
        elif run[0].isdigit():
            out.append(run)
        elif run not in EN_STOPWORDS:
            out.append(stem(run))
    return tuple(out)
