"""Entity extraction for the offline NLU engine (zh and en).

    extractor = EntityExtractor(Catalogue.from_products(products))
    for e in extractor.extract("订单#W2611340里第二件黑色的T恤, 昨天买的"):
        print(e.type, e.value, e.text, e.start, e.end)

Types and value formats (``Entity.to_dict()`` gives the JSON form):

==================  =========================================================================
order_id            ``"#W2611340"``: ``#`` + upper case (also long digit ids after 订单号); an
                    order-shaped id after 快递/物流 stays an order id unless called 运单号 etc.
tracking_number     ``"SF1234567890"`` / ``"357962501027"``
ordinal             ``int``: 1-based position, negative from the end (最后一个 = -1)
quantity            :class:`Quantity` ``{"value": 2, "unit": "件"}`` (unit ``None`` if absent)
amount              :class:`Amount` ``{"value": 12.5, "currency": "CNY"}`` (or ``"USD"``)
date                ``datetime.date``; JSON ``"2024-11-19"``
phone               ``"13812345678"`` (mainland mobile), ``"010-88886666"``, ``"+12025550143"``
email               lower-cased address
person_name         ``"张伟"``, ``"Noah Brown"``
zip                 ``"310000"`` / ``"80279"``
address             :class:`Address` (province/city/district/detail) or :class:`StreetAddress`
card_last4          ``"9212"``
product             :class:`ProductMention` ``{"product_id", "name", "score"}`` (+ alternatives)
option              :class:`OptionMention` ``{"key", "value", "product_ids"}``
==================  =========================================================================

Entities never overlap: when two readings cover the same characters the more specific type
wins (an order id over an amount, an address over the dates and quantities in its house
number), then the longer span. Offsets index the original text, whatever its width or script.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from kefu.understanding.address_zh import Address, find_zh_addresses
from kefu.understanding.catalogue import (
    Catalogue,
    CatalogueMatch,
    OptionMention,
    ProductMention,
)
from kefu.understanding.entities_dates import find_dates
from kefu.understanding.entities_ids import (
    find_bare_zips,
    find_card_last4,
    find_codes,
    find_emails,
    find_phones,
    find_zips,
)
from kefu.understanding.entities_numbers import (
    EN_NUM,
    Amount,
    Quantity,
    as_number,
    find_amounts,
    find_ordinals,
    find_quantities,
    parse_number,
)
from kefu.understanding.entities_people import (
    StreetAddress,
    find_person_names,
    find_street_addresses,
)
from kefu.understanding.entities_text import Folded, fold

__all__ = [
    "ENTITY_TYPES",
    "Address",
    "Amount",
    "Catalogue",
    "Entity",
    "EntityExtractor",
    "EntityValue",
    "OptionMention",
    "ProductMention",
    "Quantity",
    "StreetAddress",
]

EntityValue = (
    str | int | date | Quantity | Amount | Address | StreetAddress | ProductMention | OptionMention
)

# Higher wins when two candidates overlap.
_PRIORITY = {
    "email": 100,
    "order_id": 95,
    "tracking_number": 94,
    "phone": 93,
    "address": 90,
    "card_last4": 86,
    "zip": 85,
    "date": 80,
    "amount": 75,
    "ordinal": 70,
    "product": 65,
    "quantity": 60,
    "person_name": 55,
    "option": 50,
}
ENTITY_TYPES: tuple[str, ...] = tuple(_PRIORITY)

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991


@dataclass(frozen=True, slots=True)
class Entity:
    """One recognised entity; ``start``/``end`` index the original text."""

    type: str
    value: EntityValue
    text: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "value": value_to_json(self.value),
            "text": self.text,
            "start": self.start,
            "end": self.end,
        }


def value_to_json(value: EntityValue) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str | int):
        return value
    return value.to_dict()


@dataclass(frozen=True, slots=True)
class _Candidate:
    start: int
    end: int
    type: str
    value: EntityValue


_NUMBER_BEFORE = re.compile(rf"(?:^|[^\w.#$¥])({EN_NUM})\s+$")


class EntityExtractor:
    """Finds entities in customer messages. Stateless apart from the catalogue; thread safe.

    ``now`` is a fixed datetime or a clock; relative dates resolve against it in Asia/Shanghai
    (a naive datetime is taken as Shanghai time). Without it the system clock is used.
    """

    def __init__(
        self,
        catalogue: Catalogue | None = None,
        *,
        now: datetime | Callable[[], datetime] | None = None,
    ) -> None:
        self.catalogue = catalogue
        if now is None:
            self._clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        elif isinstance(now, datetime):
            fixed = now
            self._clock = lambda: fixed
        else:
            self._clock = now

    def today(self, now: datetime | None = None) -> date:
        moment = now or self._clock()
        if moment.tzinfo is None:
            return moment.date()
        return moment.astimezone(SHANGHAI).date()

    def extract(
        self, text: str, now: datetime | None = None, *, hint: str | None = None
    ) -> list[Entity]:
        """Non-overlapping entities in ``text``, sorted by position.

        ``hint`` says what the bot just asked for. ``"identity"`` (who are you?) also reads a
        bare 2-4 character Chinese name as a name when it is the whole message or comes before
        a comma ("杨梓涵", "杨梓涵，帮我查下订单"). Unknown hints are ignored.
        """
        if not text or not text.strip():
            return []
        folded = fold(text)
        chosen = _resolve(self._candidates(folded, self.today(now), hint))
        out = []
        for c in chosen:
            start, end = folded.span(c.start, c.end)
            out.append(Entity(c.type, c.value, text[start:end], start, end))
        return out

    def _candidates(self, folded: Folded, today: date, hint: str | None) -> list[_Candidate]:
        text, lower = folded.text, folded.lower
        found: list[_Candidate] = []

        def add(kind: str, matches: Iterable[tuple[int, int, Any]]) -> None:
            found.extend(_Candidate(s, e, kind, v) for s, e, v in matches)

        for start, end, kind, value in find_codes(lower):
            found.append(_Candidate(start, end, kind, value))
        add("email", find_emails(lower))
        add("phone", find_phones(lower))
        add("card_last4", find_card_last4(lower))
        add("zip", find_zips(lower))
        if hint == "identity":  # asked who they are: "Isabella Brown, 80257"
            add("zip", find_bare_zips(lower))
        add("address", find_zh_addresses(text))
        add("address", find_street_addresses(text))
        add("date", find_dates(text, lower, today))
        add("amount", find_amounts(text, lower))
        add("ordinal", find_ordinals(text, lower))
        add("quantity", find_quantities(text, lower))
        add("person_name", find_person_names(text, hint))
        if self.catalogue is not None:
            matches: list[CatalogueMatch] = self.catalogue.find(folded)
            for start, end, mention in matches:
                if isinstance(mention, ProductMention):
                    found.append(_Candidate(start, end, "product", mention))
                    if q := _count_before(lower, start):
                        found.append(q)
                else:
                    found.append(_Candidate(start, end, "option", mention))
        return found


def _count_before(lower: str, start: int) -> _Candidate | None:
    """ "2 water bottles": a bare number right before a product is its quantity."""
    m = _NUMBER_BEFORE.search(lower[max(0, start - 12) : start])
    if not m:
        return None
    n = parse_number(m.group(1))
    if n is None or not 0 < n < 1000 or n != int(n):
        return None
    offset = max(0, start - 12)
    return _Candidate(offset + m.start(1), offset + m.end(1), "quantity", Quantity(as_number(n)))


def _resolve(candidates: list[_Candidate]) -> list[_Candidate]:
    """Keep the best candidate wherever two overlap: higher priority, then longer, then first."""
    ordered = sorted(candidates, key=lambda c: (-_PRIORITY[c.type], -(c.end - c.start), c.start))
    starts: list[int] = []  # taken spans, sorted by start; they never overlap each other
    taken: list[_Candidate] = []
    for c in ordered:
        if c.end <= c.start:
            continue
        i = bisect.bisect_left(starts, c.start)
        if i < len(taken) and taken[i].start < c.end:
            continue  # overlaps the next taken span
        if i > 0 and taken[i - 1].end > c.start:
            continue  # overlaps the previous one
        starts.insert(i, c.start)
        taken.insert(i, c)
    return taken
