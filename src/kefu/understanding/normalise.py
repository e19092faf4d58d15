"""Text normalisation for matching (never for display).

``normalise`` folds full-width forms to half-width (NFKC), traditional Chinese to simplified,
case, emoji and punctuation, so "請問，退貨運費誰出？？😡" and "请问 退货运费谁出" match.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

# Emoji and pictographs, variation selectors, zero-width joiners, skin tones.
_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"
    "\U00002600-\U000027bf"
    "\U00002b00-\U00002bff"
    "\U0000fe00-\U0000fe0f"
    "\U0000200d"
    "\U000020e3"
    "\U0001f1e6-\U0001f1ff"
    "]+"
)
_SPACES = re.compile(r"\s+")
_CONTROL_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn"}


@functools.lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


@functools.lru_cache(maxsize=1)
def _traditional() -> frozenset[str]:
    """Any character of a t2s dictionary entry that changes its text: a text with none of
    them comes out of the conversion unchanged (most messages and prompts)."""
    converter = _t2s()
    converter.convert("")  # loads the dictionaries
    changed = [
        (key, value)
        for _min, _max, table in converter.dict_cache.values()
        for key, value in table.items()
        if key != value
    ]
    chars = {key for key, _value in changed if len(key) == 1}
    for key, value in changed:  # a phrase changed without a changed character: 沈默 -> 沉默
        if len(key) > 1 and not any(ch in chars for ch in key):
            differ = [a for a, b in zip(key, value, strict=False) if a != b]
            chars.update(differ if len(key) == len(value) else key)
    return frozenset(chars)


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese (OpenCC tables, offline)."""
    if _traditional().isdisjoint(text):
        return text
    return str(_t2s().convert(text))


def strip_emoji(text: str) -> str:
    return _EMOJI.sub(" ", text)


def is_meaningful(text: str) -> bool:
    """True when the text has at least one letter, digit or CJK character after normalising."""
    return bool(normalise(text).strip())


def _keep(ch: str) -> str:
    cat = unicodedata.category(ch)
    if cat[0] in "LN":
        return ch
    if ch in "#@.+-_/:%¥$":
        return ch
    if cat in _CONTROL_CATEGORIES or cat[0] in "PSZM":
        return " "
    return ch


@functools.lru_cache(maxsize=20_000)
def normalise(text: str) -> str:
    """Fold width, script, case, emoji and punctuation; collapse white space."""
    text = unicodedata.normalize("NFKC", text)
    text = strip_emoji(text)
    text = to_simplified(text)
    text = text.lower()
    text = "".join(_keep(ch) for ch in text)
    # Lone separators left between spaces carry no meaning.
    text = re.sub(r"(?<!\S)[#@.+\-_/:%]+(?!\S)", " ", text)
    return _SPACES.sub(" ", text).strip()
