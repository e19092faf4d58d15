"""Grading a tau-bench task the way tau-bench does: on the final database and the replies.

- :func:`replay_gold` runs the task's gold write actions on a shop (the embedded shop's
  tau-exact writes; a refused action writes nothing, as in tau); reads change nothing and are
  skipped.
- :func:`db_hash` is the SHA-256 of the exported shop as canonical JSON (keys sorted, numbers
  as written: ``51`` is not ``51.0``, as in tau's hash of the data's ``str``).
- :func:`missing_outputs` applies tau's rule to the task's ``outputs``: each must appear in one
  of kefu's replies, case-insensitive, with the reply's commas removed.
- :func:`db_diff` says which customers and orders ended up different, and who changed them
  (kefu, the gold replay, or both but differently).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kefu.bench.tasks import GoldAction
from kefu.connectors.embedded_writes import DryRun
from kefu.connectors.port import Address
from kefu.errors import NotFoundError, OperationRefused

ShopJson = Mapping[str, Mapping[str, Any]]  # {"users": {...}, "orders": {...}, "products": {...}}
DIFF_SECTIONS = ("users", "orders", "products")


class ShopWrites(Protocol):
    """What the gold replay needs of a shop: :meth:`EmbeddedShop.write`."""

    def write(self, tenant: str, operation: str, arguments: Mapping[str, Any]) -> DryRun: ...


# tau tool -> (kefu operation, how its arguments map)
_ADDRESS = ("address1", "address2", "city", "state", "country", "zip")


def write_request(action: GoldAction) -> tuple[str, dict[str, Any]]:
    """The embedded shop's write (operation and arguments) for a tau write tool call."""
    k = dict(action.kwargs)
    name = action.name
    if name == "cancel_pending_order":
        return "cancel_order", {"order_id": k["order_id"], "reason": k["reason"]}
    if name == "modify_pending_order_address":
        address = Address(**{key: k[key] for key in _ADDRESS})
        return "modify_order_address", {"order_id": k["order_id"], "address": address}
    if name == "modify_user_address":
        address = Address(**{key: k[key] for key in _ADDRESS})
        return "modify_customer_address", {"customer_id": k["user_id"], "address": address}
    if name == "modify_pending_order_payment":
        return "modify_order_payment", {
            "order_id": k["order_id"],
            "payment_method_id": k["payment_method_id"],
        }
    if name == "return_delivered_order_items":
        return "return_order_items", {
            "order_id": k["order_id"],
            "item_ids": list(k["item_ids"]),
            "payment_method_id": k["payment_method_id"],
        }
    if name in ("modify_pending_order_items", "exchange_delivered_order_items"):
        operation = "modify_order_items" if name.startswith("modify") else "exchange_order_items"
        return operation, {
            "order_id": k["order_id"],
            "item_ids": list(k["item_ids"]),
            "new_item_ids": list(k["new_item_ids"]),
            "payment_method_id": k["payment_method_id"],
        }
    raise ValueError(f"not a tau write tool: {name}")


@dataclass(frozen=True)
class GoldOutcome:
    """What one gold action did: ``done``, ``refused`` (tau's ``Error: ...`` text in
    ``detail``; nothing written) or ``read`` (a read tool: skipped)."""

    name: str
    outcome: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "outcome": self.outcome}
        if self.detail:
            d["detail"] = self.detail
        return d


def replay_gold(shop: ShopWrites, tenant: str, actions: Sequence[GoldAction]) -> list[GoldOutcome]:
    """Replay the gold actions on ``tenant``'s shop, in order."""
    outcomes: list[GoldOutcome] = []
    for action in actions:
        if not action.is_write:
            outcomes.append(GoldOutcome(action.name, "read"))
            continue
        operation, arguments = write_request(action)
        try:
            shop.write(tenant, operation, arguments)
        except OperationRefused as exc:
            outcomes.append(GoldOutcome(action.name, "refused", exc.message))
        except NotFoundError as exc:
            outcomes.append(GoldOutcome(action.name, "refused", exc.message))
        else:
            outcomes.append(GoldOutcome(action.name, "done"))
    return outcomes


def canonical_json(data: Any) -> str:
    """The JSON text equal documents share: keys sorted, no spaces, numbers as written."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def db_hash(data: ShopJson) -> str:
    """SHA-256 (hex) of a whole shop's canonical JSON."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def normalise_reply(text: str) -> str:
    """A reply as tau's outputs rule reads it: lower case, commas removed."""
    return text.lower().replace(",", "")


def missing_outputs(outputs: Iterable[str], replies: Sequence[str]) -> list[str]:
    """The ``outputs`` that appear in none of ``replies`` (tau's rule: an output, lower-cased,
    must be a substring of one reply, lower-cased with its commas removed)."""
    seen = [normalise_reply(r) for r in replies]
    return [out for out in outputs if not any(out.lower() in r for r in seen)]


@dataclass(frozen=True)
class DocDiff:
    """One customer, order or product whose final document differs between kefu and gold.
    ``kefu`` / ``gold``: what each side did to it (``changed``, ``unchanged``, ``created``,
    ``deleted``); ``fields``: the top-level keys that differ between the two final documents,
    with both values for short ones."""

    section: str
    id: str
    kefu: str
    gold: str
    fields: tuple[str, ...] = ()
    values: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (kefu, gold)

    def summary(self) -> str:
        what = {"users": "customer", "orders": "order", "products": "product"}[self.section]
        head = f"{what} {self.id}: kefu {self.kefu}, gold {self.gold}"
        if not self.fields:
            return head
        parts = []
        for name in self.fields:
            if name in self.values:
                mine, gold = self.values[name]
                parts.append(f"{name} {mine!r} vs {gold!r}")
            else:
                parts.append(name)
        return f"{head}; differs in {', '.join(parts)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "id": self.id,
            "kefu": self.kefu,
            "gold": self.gold,
            "fields": list(self.fields),
            "values": {k: {"kefu": v[0], "gold": v[1]} for k, v in self.values.items()},
            "summary": self.summary(),
        }


_SHORT = 80  # values up to this many characters of JSON are shown in a diff


def _change(before: Any, after: Any) -> str:
    if before is None and after is None:
        return "unchanged"
    if before is None:
        return "created"
    if after is None:
        return "deleted"
    return "unchanged" if canonical_json(before) == canonical_json(after) else "changed"


def _fields(mine: Any, gold: Any) -> tuple[tuple[str, ...], dict[str, tuple[Any, Any]]]:
    if not isinstance(mine, dict) or not isinstance(gold, dict):
        return (), {}
    names: list[str] = []
    values: dict[str, tuple[Any, Any]] = {}
    for key in [*mine, *(k for k in gold if k not in mine)]:
        a, b = mine.get(key), gold.get(key)
        if canonical_json(a) == canonical_json(b):
            continue
        names.append(key)
        if len(canonical_json(a)) <= _SHORT and len(canonical_json(b)) <= _SHORT:
            values[key] = (a, b)
    return tuple(names), values


def db_diff(initial: ShopJson, kefu: ShopJson, gold: ShopJson) -> list[DocDiff]:
    """Every document whose final version differs between kefu's shop and the gold one, in
    section then id order, with what each side did to it since ``initial``."""
    diffs: list[DocDiff] = []
    for section in DIFF_SECTIONS:
        start = initial.get(section, {})
        mine = kefu.get(section, {})
        theirs = gold.get(section, {})
        ids = sorted(set(mine) | set(theirs))
        for doc_id in ids:
            a, b = mine.get(doc_id), theirs.get(doc_id)
            if canonical_json(a) == canonical_json(b):
                continue
            names, values = _fields(a, b)
            diffs.append(
                DocDiff(
                    section=section,
                    id=doc_id,
                    kefu=_change(start.get(doc_id), a),
                    gold=_change(start.get(doc_id), b),
                    fields=names,
                    values=values,
                )
            )
    return diffs


@dataclass(frozen=True)
class Grade:
    """tau's reward: 1.0 only when the databases are equal and no output is missing."""

    db_match: bool
    kefu_hash: str
    gold_hash: str
    outputs: Mapping[str, bool]
    diff: tuple[DocDiff, ...] = ()

    @property
    def reward(self) -> float:
        return 1.0 if self.db_match and all(self.outputs.values()) else 0.0


def grade(
    initial: ShopJson,
    kefu: ShopJson,
    gold: ShopJson,
    outputs: Sequence[str],
    replies: Sequence[str],
) -> Grade:
    """Grade one trial: ``kefu`` and ``gold`` are the final shops (exported), ``replies``
    kefu's replies in the conversation."""
    mine, theirs = db_hash(kefu), db_hash(gold)
    missing = set(missing_outputs(outputs, replies))
    return Grade(
        db_match=mine == theirs,
        kefu_hash=mine,
        gold_hash=theirs,
        outputs={out: out not in missing for out in outputs},
        diff=() if mine == theirs else tuple(db_diff(initial, kefu, gold)),
    )
