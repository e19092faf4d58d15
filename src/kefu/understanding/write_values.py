"""Slot values of the L3 write flows, read from a message's entities and words (zh and en).

The flows' validators (:mod:`kefu.dialogue.write_tasks`) decide what a value means for the
order at hand; this module only says what was said:

==================  ===========================================================================
``items``           ``{"ordinal": 2}`` / ``{"product_id", "text"}`` for one item, a list of them
                    for several ("第1件和第3件"), ``{"all": true}`` ("全部", "everything")
``new_item``        ``{"options": {key: value}}``: the options named for the wanted variant
                    ("换成青轴的", "waterproof, size 10"); ``*`` for a bare size
``payment_method``  ``{"original": true}`` ("原路退回", "same card"), or any of
                    ``{"source", "brand", "last4"}`` ("礼品卡", "visa ending 1234")
``address``         ``{province, city, district, detail, zip?}`` or ``{address1, address2,
                    city, state, zip}``
``cancel_reason``   ``"no longer needed"`` / ``"ordered by mistake"``
``orders``          ``["#D1", "#D2"]``: the order ids named, or ``{"all": true}`` ("全部")
==================  ===========================================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol

WRITE_ENTITIES = frozenset(
    {"items", "new_item", "payment_method", "address", "cancel_reason", "orders"}
)

_ALL = re.compile(
    r"全部|都退|都换|所有|全都|整单|两个都|\ball\b|\beverything\b|\bwhole order\b|\bboth\b"
)
_ORIGINAL = re.compile(
    r"原路|原支付|原来的(?:支付|付款|卡)|原账户|怎么付的怎么退|"
    r"\boriginal\b|\bsame (?:card|method|payment)\b|\bway i paid\b"
)
_SOURCES = (
    ("gift_card", re.compile(r"礼品卡|购物卡|\bgift ?card\b")),
    ("credit_card", re.compile(r"信用卡|银行卡|\bcredit ?card\b|\bcard ending\b")),
    ("paypal", re.compile(r"paypal|贝宝")),
    ("alipay", re.compile(r"支付宝|\balipay\b")),
    ("wechat_pay", re.compile(r"微信|\bwechat\b")),
)
_BRANDS = re.compile(r"\b(visa|mastercard|amex|american express|discover)\b|维萨|万事达")
_BRAND_NAMES = {"维萨": "visa", "万事达": "mastercard", "american express": "amex"}
_MISTAKE = re.compile(
    r"买错|拍错|下错|误下单|误拍|点错|选错|\bby mistake\b|\bwrong (?:item|order)\b"
)
_NOT_NEEDED = re.compile(
    r"不需要|不想要|不要了|用不上|不用了|不买了|不想买|别处买|更便宜|"
    r"\bno longer need|\bdon\W?\s?t need|\bdo not need|\bnot need|\bchanged my mind\b|"
    r"\bcheaper\b|\bdon\W?\s?t want\b|\bno longer want"
)


class _Entity(Protocol):
    type: str
    value: Any
    text: str


def write_value(
    entity: str,
    entities: Sequence[_Entity],
    norm: str,
    option: Callable[[Any], tuple[str, str]],
    bare_size: str | None,
) -> Any:
    """The value of an L3 slot whose entity kind is ``entity`` in the message (None: not said).
    ``option`` reads an option mention; ``bare_size`` is a size written alone."""
    if entity == "items":
        return _items(entities, norm)
    if entity == "new_item":
        said: dict[str, str] = {}
        for e in entities:
            if e.type == "option":
                key, value = option(e.value)
                if key:
                    said[key] = value
        if bare_size is not None:
            said.setdefault("*", bare_size)
        return {"options": said} if said else None
    if entity == "payment_method":
        return payment_value(entities, norm)
    if entity == "address":
        return _address(entities)
    if entity == "cancel_reason":
        return cancel_reason(norm, entities)
    if entity == "orders":
        ids = [str(e.value) for e in entities if e.type == "order_id"]
        if ids:
            return ids
        return {"all": True} if _ALL.search(norm) else None
    return None


_KEEP = re.compile(r"^\s*(?:的)?\s*(?:留着|保留|不退|不用退|不要退|不换|留下|我留着)")


def _kept(e: _Entity, norm: str) -> bool:
    """ "第一件留着", "keep the first one": an item named to be kept, not picked."""
    text = e.text.lower()
    at = norm.find(text)
    if at < 0:
        return False
    before = norm[max(0, at - 12) : at]
    return bool(_KEEP.match(norm[at + len(text) :])) or bool(
        re.search(r"(?:\bkeep\b|\bkeeping\b|保留|留下)\s*(?:the\s*)?$", before)
    )


def _items(entities: Sequence[_Entity], norm: str) -> Any:
    picks: list[dict[str, Any]] = []
    for e in entities:
        if e.type in ("ordinal", "product") and _kept(e, norm):
            continue
        if e.type == "ordinal":
            value = (
                e.value.get("index", e.value.get("value")) if isinstance(e.value, dict) else e.value
            )
            picks.append({"ordinal": int(value or 1)})
        elif e.type == "product":
            pid = (
                e.value.get("product_id")
                if isinstance(e.value, dict)
                else getattr(e.value, "product_id", e.value)
            )
            picks.append({"product_id": str(pid), "text": e.text})
    if not picks and _ALL.search(norm):
        return {"all": True}
    if not picks:
        return None
    return picks[0] if len(picks) == 1 else picks


def payment_value(entities: Sequence[_Entity], norm: str) -> dict[str, Any] | None:
    """The payment method named in the message, or None."""
    if _ORIGINAL.search(norm):
        return {"original": True}
    found: dict[str, Any] = {}
    for source, pattern in _SOURCES:
        if pattern.search(norm):
            found["source"] = source
            break
    brand = _BRANDS.search(norm)
    if brand:
        word = brand.group(0)
        found["brand"] = _BRAND_NAMES.get(word, word)
        found.setdefault("source", "credit_card")
    for e in entities:
        if e.type == "card_last4":
            found["last4"] = str(e.value)
    return found or None


def _address(entities: Sequence[_Entity]) -> dict[str, Any] | None:
    address = next((e for e in entities if e.type == "address"), None)
    if address is None:
        return None
    value = address.value
    doc: dict[str, Any] = dict(value.to_dict()) if hasattr(value, "to_dict") else dict(value)
    zip_code = next((e for e in entities if e.type == "zip"), None)
    if zip_code is not None and not doc.get("zip"):
        doc["zip"] = str(zip_code.value)
    return doc


def cancel_reason(norm: str, entities: Sequence[_Entity] = ()) -> str | None:
    """tau's two cancellation reasons, from the words (or "1" / "2" answering the list)."""
    if _MISTAKE.search(norm):
        return "ordered by mistake"
    if _NOT_NEEDED.search(norm):
        return "no longer needed"
    for e in entities:
        if e.type == "ordinal" and e.value in (1, 2):
            return ("no longer needed", "ordered by mistake")[int(e.value) - 1]
    if norm.strip() in ("1", "2"):
        return ("no longer needed", "ordered by mistake")[int(norm.strip()) - 1]
    return None
