"""Known names as PII: the customer's name from the shop, in Chinese and pinyin / Latin forms.

Names cannot be found by shape, so the caller passes the names it knows ("张小明", "Yusuf
Rossi"). Each name is matched in every written form a customer uses: "张小明" also as
"zhang xiaoming", "Zhangxiaoming", "Xiaoming Zhang", "ZHANG Xiao-Ming"; "Yusuf Rossi" also as
"rossi yusuf", "yusuf_rossi" (inside a user id). All forms of one name share one placeholder.
A surname or a given name alone is not masked (too many false positives: 王 is also "king").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

from kefu.understanding.pii_detect import Hit

_SEP = r"[\s_.\-·・,]*"
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LATIN_TOKEN = re.compile(r"[a-z]+")


def _pinyin(name: str) -> list[str]:
    from pypinyin import lazy_pinyin

    return [s for s in lazy_pinyin(name) if s.isascii() and s.isalpha()]


@functools.lru_cache(maxsize=1024)
def name_pattern(name: str) -> tuple[re.Pattern[str], str] | None:
    """A pattern for every form of ``name`` in folded text, and the name's canonical key;
    ``None`` when the name is too short to mask safely."""
    name = " ".join(name.split()).lower()
    han = "".join(_HAN.findall(name))
    forms: list[str] = []
    if han:
        if len(han) < 2:
            return None
        forms.append(r"\s?".join(re.escape(ch) for ch in han))
        syllables = _pinyin(han)
        if len(syllables) == len(han):
            # surname (1 syllable, or 2 for 欧阳 / 司马 ... covered by any split) + given name
            forms.append(_SEP.join(syllables))
            for split in (1, 2):
                if split < len(syllables):
                    given, surname = syllables[split:], syllables[:split]
                    forms.append(_SEP.join(given + surname))
        key = _key("".join(syllables) if len(syllables) == len(han) else han)
    else:
        tokens = _LATIN_TOKEN.findall(name)
        if sum(len(t) for t in tokens) < 4 or not tokens:
            return None
        forms.append(_SEP.join(tokens))
        if len(tokens) >= 2:
            forms.append(_SEP.join(tokens[1:] + tokens[:1]))
            forms.append(_SEP.join(tokens[-1:] + tokens[:-1]))
        key = _key("".join(tokens))
    unique = sorted(set(forms), key=len, reverse=True)
    latin = r"(?<![a-z])(?:{})(?![a-z])"
    parts = [f if _HAN.search(f) else latin.format(f) for f in unique]
    return re.compile("|".join(parts)), key


def _key(letters: str) -> str:
    # Order-free, so "张伟", "Zhang Wei" and "Wei Zhang" passed separately share a placeholder.
    return "name:" + "".join(sorted(letters))


def find_names(folded: str, names: Iterable[str]) -> Iterator[Hit]:
    for name in names:
        compiled = name_pattern(name)
        if compiled is None:
            continue
        pattern, key = compiled
        for m in pattern.finditer(folded):
            yield Hit(m.start(), m.end(), "NAME", key)
