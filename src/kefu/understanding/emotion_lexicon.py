"""Curated emotion lexicons (``data/emotion_{zh,en,common}.tsv``), compiled once on first use.

Each row is ``term  polarity  anger  urgency  [cue]``. Plain terms become one alternation per
table, longest term first, so the longest entry wins where several start at the same place
("不满意" over "满意", "thanks a lot" over "thanks"). A zero-weight row is a blocker: it
consumes a neutral word that contains an emotional substring ("差不多" hides "差"). Rows whose
term starts with ``re:`` are regular expressions, searched independently of the alternation
and never negated; they carry the threat cues whose wording varies ("要投诉", "file a
complaint"). English terms only match whole words; Chinese terms and emoji match anywhere.

The tables are data, not code: add a word by adding a row, and run ``tests/test_emotion.py``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources

TABLES = ("zh", "en", "common")
ZH_NEGATOR_INITIALS = frozenset("不没无未非别")
EN_NEGATORS = frozenset(
    "not no never none nothing nobody neither nor hardly without cannot can't don't doesn't "
    "didn't isn't wasn't aren't weren't won't wouldn't couldn't shouldn't haven't hasn't "
    "hadn't ain't".split()
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One lexicon row. ``polarity`` < 0 means unhappy; ``anger``/``urgency`` are 0..1."""

    term: str
    polarity: float
    anger: float
    urgency: float
    cue: str = ""


@dataclass(frozen=True, slots=True)
class Hit:
    """A lexicon match in prepared text. ``fixed`` hits are never flipped by a negator."""

    entry: Entry
    start: int
    end: int
    fixed: bool


@dataclass(frozen=True)
class Lexicon:
    name: str
    terms: dict[str, Entry]
    pattern: re.Pattern[str] | None
    regexes: tuple[tuple[re.Pattern[str], Entry], ...]

    def hits(self, text: str) -> list[Hit]:
        """All matches in ``text`` (already prepared: NFKC, simplified, lower case)."""
        out: list[Hit] = []
        if self.pattern is not None:
            for m in self.pattern.finditer(text):
                entry = self.terms[m.group(0)]
                if entry.polarity or entry.anger or entry.urgency:
                    out.append(Hit(entry, m.start(), m.end(), _is_fixed(entry.term)))
        for rx, entry in self.regexes:
            for m in rx.finditer(text):
                out.append(Hit(entry, m.start(), m.end(), True))
        return out


def _is_fixed(term: str) -> bool:
    if term[0] in ZH_NEGATOR_INITIALS:
        return True
    first = term.split(" ", 1)[0]
    return first in EN_NEGATORS


def parse_lexicon(name: str, text: str, whole_words: bool) -> Lexicon:
    """Parse one TSV table; raises ``ValueError`` naming the table and line on bad rows."""
    terms: dict[str, Entry] = {}
    regexes: list[tuple[re.Pattern[str], Entry]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) not in (4, 5):
            raise ValueError(f"emotion_{name}.tsv line {number}: expected 4 or 5 columns")
        try:
            polarity, anger, urgency = (float(c) for c in cols[1:4])
        except ValueError:
            raise ValueError(f"emotion_{name}.tsv line {number}: bad number") from None
        if not (-1.5 <= polarity <= 1.5 and 0 <= anger <= 1 and 0 <= urgency <= 1):
            raise ValueError(f"emotion_{name}.tsv line {number}: weight out of range")
        term = cols[0].strip()
        entry = Entry(term, polarity, anger, urgency, cols[4].strip() if len(cols) == 5 else "")
        if term.startswith("re:"):
            regexes.append((re.compile(term[3:]), entry))
        else:
            terms[term.lower()] = entry
    pattern = None
    if terms:
        alternation = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
        if whole_words:
            alternation = rf"(?<![a-z0-9])(?:{alternation})(?![a-z0-9])"
        pattern = re.compile(alternation)
    return Lexicon(name, terms, pattern, tuple(regexes))


@functools.cache
def lexicon(name: str) -> Lexicon:
    """The packaged table ``name`` (one of ``TABLES``), parsed and compiled once."""
    if name not in TABLES:
        raise ValueError(f"unknown emotion lexicon {name!r}")
    path = resources.files("kefu.understanding").joinpath(f"data/emotion_{name}.tsv")
    return parse_lexicon(name, path.read_text(encoding="utf-8"), whole_words=name == "en")
