"""Folded text with a map back to the original: the entity extractors match on a folded copy
(full-width to half-width, traditional to simplified, lower case) and report offsets into the
text the customer typed.

Folding is done one character at a time, so every folded character knows which original
character it came from (NFKC may expand one character into several, e.g. "①" -> "1").
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from typing import Any

from kefu.understanding.normalise import to_simplified


@dataclass(frozen=True, slots=True)
class Folded:
    """``text`` is the folded copy (case kept), ``lower`` the same lower-cased (same length);
    ``origin[i]`` is the index in ``original`` of the character folded into ``text[i]``."""

    original: str
    text: str
    lower: str
    origin: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original (start, end) of the folded span [start, end)."""
        if start >= end:
            pos = self.origin[start] if start < len(self.origin) else len(self.original)
            return pos, pos
        return self.origin[start], self.origin[end - 1] + 1


def _fold_char(ch: str) -> str:
    if ch.isascii():
        return ch
    out = unicodedata.normalize("NFKC", ch)
    if ch in "\u3000":
        return " "
    return out or ch


def fold(text: str) -> Folded:
    chars: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        for out in _fold_char(ch):
            chars.append(out)
            origin.append(i)
    folded = "".join(chars)
    if any("\u3400" <= c <= "\u9fff" for c in folded):
        simple = to_simplified(folded)
        if len(simple) == len(folded):
            folded = simple
        else:  # a phrase conversion changed the length: convert character by character
            folded = "".join(s if len(s := to_simplified(c)) == 1 else c for c in folded)
    lower = "".join(low if len(low := c.lower()) == 1 else c for c in folded)
    return Folded(text, folded, lower, tuple(origin))


@functools.cache
def word_freq() -> Any:
    """jieba's dictionary counts (word -> frequency; 0 or absent for a non-word): tells an
    ordinary word (黄色 2115, 包装 910) from a name or a free-standing character."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.dt.FREQ
