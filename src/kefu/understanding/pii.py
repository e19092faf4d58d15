"""PII masking: replace personal data with placeholders before text leaves kefu.

    >>> vault = Vault()
    >>> mask("我的手机 138 0013 8000，邮箱 a.b@qq.com", vault)
    '我的手机 [PHONE_1]，邮箱 [EMAIL_1]'
    >>> vault.unmask("已记录 [PHONE_1]")
    '已记录 138 0013 8000'

What is masked (see the detector modules for the exact rules):

- ``PHONE``: mainland mobiles (+86 / spaced / dashed), landlines (010-12345678), North American
  numbers ((415) 555-2671) and any number with a country code (validated with ``phonenumbers``);
  400/800 hotlines are business numbers and stay.
- ``ID``: resident ID-card numbers, 18 digits with a valid birth date and GB 11643 check digit
  (or after a cue such as 身份证), 15-digit legacy numbers after a cue.
- ``CARD``: bank cards, 13-19 digits passing Luhn, with a card cue or an issuer prefix.
- ``EMAIL``: e-mail addresses.
- ``ADDRESS``: the street-level part of an address (house number, building, room).
- ``NAME``: the names the caller knows (``known_names``), in Chinese, pinyin and Latin forms.

Order ids, tracking numbers, prices, dates and quantities are not PII and are never masked: the
model needs them. A :class:`Vault` belongs to one conversation: the same value always gets the
same placeholder in it, and only trusted code holding the vault can map placeholders back.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kefu.understanding.entities_ids import find_codes
from kefu.understanding.pii_address import find_addresses
from kefu.understanding.pii_detect import (
    Hit,
    find_bank_cards,
    find_emails,
    find_id_cards,
    find_international_phones,
    find_phones,
    fold,
)
from kefu.understanding.pii_names import find_names

__all__ = ["PLACEHOLDER", "PiiKind", "PiiSpan", "Vault", "find_pii", "mask"]


class PiiKind(StrEnum):
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    ID = "ID"
    CARD = "CARD"
    ADDRESS = "ADDRESS"
    NAME = "NAME"


# Overlapping hits: the longer one wins; on equal length, the earlier kind in this order.
_PRIORITY = {k: i for i, k in enumerate(("EMAIL", "ID", "CARD", "PHONE", "NAME", "ADDRESS"))}

_DIGIT_KINDS = frozenset({"PHONE", "ID", "CARD"})

PLACEHOLDER = re.compile(r"\[(PHONE|EMAIL|ID|CARD|ADDRESS|NAME)_(\d{1,6})\]")
# What models sometimes write back instead: full-width brackets, other case.
_LOOSE_PLACEHOLDER = re.compile(
    r"[\[［【]\s*(phone|email|id|card|address|name)_(\d{1,6})\s*[\]］】]", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One piece of PII in a text: ``text[start:end]`` (original offsets)."""

    start: int
    end: int
    kind: PiiKind
    key: str  # canonical value: E.164 phone, lower-case e-mail, digits of an ID or card

    def length(self) -> int:
        return self.end - self.start


def find_pii(text: str, known_names: Iterable[str] = ()) -> list[PiiSpan]:
    """Every piece of PII in ``text``, sorted, without overlaps."""
    if not text:
        return []
    return list(_find_pii(text, tuple(known_names)))


# A conversation's history is masked again on every LLM call: cache the detection.
@functools.lru_cache(maxsize=4096)
def _find_pii(text: str, known_names: tuple[str, ...]) -> tuple[PiiSpan, ...]:
    folded = fold(text)
    hits: list[Hit] = []
    hits += find_emails(folded)
    hits += find_id_cards(folded)
    hits += find_bank_cards(folded)
    hits += find_phones(folded)
    hits += find_international_phones(text)
    hits += find_names(folded, known_names)
    hits += find_addresses(folded)
    if not hits:
        return ()
    # Order ids and tracking numbers are never PII; placeholders already in the text stay.
    codes = [(s, e) for s, e, _kind, _value in find_codes(folded)]
    placeholders = [(m.start(), m.end()) for m in PLACEHOLDER.finditer(text)]
    chosen: list[PiiSpan] = []
    for hit in sorted(hits, key=lambda h: (h.start - h.end, _PRIORITY[h.kind], h.start)):
        if hit.kind in _DIGIT_KINDS and any(_overlaps(hit, s, e) for s, e in codes):
            continue
        if any(_overlaps(hit, s, e) for s, e in placeholders):
            continue
        if any(_overlaps(hit, c.start, c.end) for c in chosen):
            continue
        chosen.append(PiiSpan(hit.start, hit.end, PiiKind(hit.kind), hit.key))
    return tuple(sorted(chosen, key=lambda c: c.start))


def _overlaps(hit: Hit, start: int, end: int) -> bool:
    return hit.start < end and start < hit.end


class Vault:
    """The placeholders of one conversation and the values behind them.

    Only trusted code holds a vault: it is never logged, never sent to a provider and never
    rendered. ``to_dict`` / ``from_dict`` store it alongside the conversation.
    """

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], str] = {}
        self._values: dict[str, str] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def placeholder(self, kind: PiiKind, key: str, surface: str) -> str:
        """The placeholder for a value; a new one the first time the value is seen."""
        with self._lock:
            found = self._by_key.get((kind.value, key))
            if found is not None:
                return found
            n = self._counts.get(kind.value, 0) + 1
            self._counts[kind.value] = n
            token = f"[{kind.value}_{n}]"
            self._by_key[(kind.value, key)] = token
            self._values[token] = surface
            return token

    def unmask(self, text: str) -> str:
        """Placeholders this vault issued -> the values as first written; others are kept."""
        if "_" not in text:
            return text

        def back(m: re.Match[str]) -> str:
            token = f"[{m.group(1).upper()}_{int(m.group(2))}]"
            return self._values.get(token, m.group())

        return str(_LOOSE_PLACEHOLDER.sub(back, text))

    def unmask_json(self, value: Any) -> Any:
        """:meth:`unmask` applied to every string (and key) in a JSON-like value."""
        if isinstance(value, str):
            return self.unmask(value)
        if isinstance(value, Mapping):
            return {self.unmask(str(k)): self.unmask_json(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.unmask_json(v) for v in value]
        return value

    def values(self) -> list[str]:
        """Every value masked so far (for checks that none of them leaks)."""
        with self._lock:
            return list(self._values.values())

    def placeholders(self) -> dict[str, str]:
        with self._lock:
            return dict(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "entries": [
                    {"kind": kind, "key": key, "token": token, "value": self._values[token]}
                    for (kind, key), token in self._by_key.items()
                ]
            }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vault:
        vault = cls()
        for entry in data.get("entries", []):
            kind, key, token = str(entry["kind"]), str(entry["key"]), str(entry["token"])
            m = PLACEHOLDER.fullmatch(token)
            if m is None or m.group(1) != kind:
                raise ValueError(f"not a placeholder of kind {kind}: {token!r}")
            vault._by_key[(kind, key)] = token
            vault._values[token] = str(entry["value"])
            vault._counts[kind] = max(vault._counts.get(kind, 0), int(m.group(2)))
        return vault


def mask(text: str, vault: Vault, known_names: Iterable[str] = ()) -> str:
    """``text`` with every piece of PII replaced by its placeholder in ``vault``.

    Idempotent: masking masked text changes nothing."""
    spans = find_pii(text, known_names)
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for span in spans:
        out.append(text[pos : span.start])
        out.append(vault.placeholder(span.kind, span.key, text[span.start : span.end]))
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def mask_json(value: Any, vault: Vault, known_names: Iterable[str] = ()) -> Any:
    """:func:`mask` applied to every string value in a JSON-like value (keys are kept)."""
    names = tuple(known_names)
    if isinstance(value, str):
        return mask(value, vault, names)
    if isinstance(value, Mapping):
        return {k: mask_json(v, vault, names) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_json(v, vault, names) for v in value]
    return value
