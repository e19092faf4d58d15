"""Tokens for lexical matching: jieba words plus character bigrams for Chinese, light-stemmed
words for English. Input is expected to be ``normalise``d already."""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import re
import sys
import unicodedata
from pathlib import Path

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


_HAN_FIRST, _HAN_LAST = 0x3400, 0x9FFF  # the code points _HAN matches (and the gap between)


def _toneless(syllable: str) -> str:
    """ "lǜ" -> "lv", "zhōng" -> "zhong" (pypinyin's NORMAL style)."""
    decomposed = unicodedata.normalize("NFD", syllable).replace("u\u0308", "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.lru_cache(maxsize=1)
def _pinyin_table() -> list[str | None]:
    """The toneless first reading of each Han code point, from pypinyin's character table.

    The data file is read directly: importing pypinyin also loads its phrase dictionary
    (~45 MB resident), which only refines polyphonic characters inside known words -- and a
    typo breaks the word anyway, so per-character readings match typos at least as well.
    """
    spec = importlib.util.find_spec("pypinyin")
    assert spec is not None and spec.submodule_search_locations is not None
    path = Path(next(iter(spec.submodule_search_locations))) / "pinyin_dict.json"
    raw: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    table: list[str | None] = [None] * (_HAN_LAST - _HAN_FIRST + 1)
    for code, readings in raw.items():
        cp = int(code)
        if _HAN_FIRST <= cp <= _HAN_LAST:
            table[cp - _HAN_FIRST] = sys.intern(_toneless(readings.split(",")[0]))
    return table


def warm_up() -> None:
    """Load the jieba dictionary and pinyin tables now rather than on the first message."""
    _jieba()
    _pinyin_table()


def pinyin_bigrams(run: str) -> list[str]:
    """Toneless pinyin of adjacent character pairs: homophone typos (发漂/发票, 运废/运费)
    share these tokens with the correct spelling. ``run`` is a run of Han characters; one
    without a reading stands for itself."""
    table = _pinyin_table()
    syllables = [table[ord(c) - _HAN_FIRST] or c for c in run]
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
