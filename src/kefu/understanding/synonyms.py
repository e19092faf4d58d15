"""A customer-service synonym lexicon for lexical matching (BM25, the intent model's words).

Customers say 退钱, 邮费, 驿站 or "money back" where the FAQ says 退款, 运费, 快递柜 or
"refund". :func:`synonym_tokens` maps every known term of a normalised text to its group's
token (``"=退款"``); the tokens are added to the text's lexical tokens on both sides, the FAQ's
questions and the customer's message, so the two meet on the group even when they share no word.
Nothing is replaced: the original words keep their own, more specific weight.

The groups are in ``data/synonyms.txt`` (written from the demo FAQ's questions and answers and
general shop vocabulary). Chinese terms match as substrings of a Han run; other terms match
whole light-stemmed words, a phrase as consecutive words.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_HAN_RUNS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_WORDS = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")
PREFIX = "="


@dataclass(frozen=True)
class _Lexicon:
    han: dict[str, tuple[str, ...]]  # Chinese term -> group tokens
    han_lengths: tuple[int, ...]  # the lengths of the Chinese terms, longest first
    latin: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]]  # first word -> phrases


@functools.lru_cache(maxsize=1)
def synonyms_data() -> str:
    """The lexicon file's text."""
    return resources.files("kefu.understanding").joinpath("data/synonyms.txt").read_text("utf-8")


@functools.lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    from kefu.understanding.normalise import normalise
    from kefu.understanding.tokenise import stem

    han: dict[str, set[str]] = {}
    latin: dict[tuple[str, ...], set[str]] = {}
    for raw in synonyms_data().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, terms = (part.strip() for part in line.partition("="))
        token = PREFIX + name
        for term in terms.split("|"):
            norm = normalise(term)
            if not norm:
                continue
            if _HAN.search(norm):
                han.setdefault(norm.replace(" ", ""), set()).add(token)
            else:
                words = tuple(stem(w) for w in _WORDS.findall(norm))
                if words:
                    latin.setdefault(words, set()).add(token)
    by_first: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    for words, toks in latin.items():
        by_first.setdefault(words[0], []).append((words, tuple(sorted(toks))))
    return _Lexicon(
        {t: tuple(sorted(v)) for t, v in han.items()},
        tuple(sorted({len(t) for t in han}, reverse=True)),
        by_first,
    )


def han_synonyms(run: str) -> list[str]:
    """Group tokens of the known Chinese terms in a run of Han characters (overlapping terms
    all count: 退款到账 -> 退款, 到账)."""
    lex = _lexicon()
    out: dict[str, None] = {}
    for i in range(len(run)):
        for n in lex.han_lengths:
            toks = lex.han.get(run[i : i + n])
            if toks is not None:
                out.update(dict.fromkeys(toks))
    return list(out)


def latin_synonyms(stemmed: list[str]) -> list[str]:
    """Group tokens of the known terms in a list of light-stemmed words."""
    by_first = _lexicon().latin
    out: dict[str, None] = {}
    for i, w in enumerate(stemmed):
        for words, toks in by_first.get(w, ()):
            if tuple(stemmed[i : i + len(words)]) == words:
                out.update(dict.fromkeys(toks))
    return list(out)


def synonym_tokens(text: str) -> list[str]:
    """Group tokens of every known term in a normalised text (Chinese and other words)."""
    return list(_synonym_tokens(text))


# One FAQ search reads a message's groups twice (BM25 tokens, the intent model's word features).
@functools.lru_cache(maxsize=4096)
def _synonym_tokens(text: str) -> tuple[str, ...]:
    from kefu.understanding.tokenise import stem

    out: list[str] = []
    for run in _HAN_RUNS.findall(text):
        out.extend(han_synonyms(run))
    out.extend(latin_synonyms([stem(w) for w in _WORDS.findall(text)]))
    return tuple(dict.fromkeys(out))
