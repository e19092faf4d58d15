"""FAQ entries: the unit of the L1 knowledge base.

An FAQ is identified per tenant by ``id``; the same ``id`` may exist once per ``language``, and
those rows are translations of one another (the engine answers in the customer's language when a
translation exists).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

LANGUAGES = ("zh", "en")


@dataclass(frozen=True, kw_only=True)
class FaqEntry:
    id: str
    question: str
    similar_questions: tuple[str, ...] = ()
    answer: str
    category: str = ""
    language: str = "zh"
    tags: tuple[str, ...] = ()
    enabled: bool = True
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def all_questions(self) -> tuple[str, ...]:
        return (self.question, *self.similar_questions)

    def is_active(self, now: datetime) -> bool:
        if not self.enabled:
            return False
        if self.valid_from is not None and now < self.valid_from:
            return False
        return not (self.valid_until is not None and now > self.valid_until)


FAQ_FIELDS: tuple[str, ...] = tuple(
    f
    for f in FaqEntry.__dataclass_fields__  # keep export column order stable
)

__all__ = ["FAQ_FIELDS", "LANGUAGES", "FaqEntry"]
