"""Reading and writing shops in the tau-bench retail format.

``read_tau(path)`` accepts

- a folder holding ``users.json``, ``orders.json`` and ``products.json`` (tau-bench), and
  optionally the shop rules document ``shop_rules.json`` (freight table, coupon templates;
  :mod:`kefu.connectors.embedded_extras_rules`), or a folder holding only ``db.json``;
- a JSON file with the three sections ``users``, ``orders``, ``products`` in any order (tau2's
  ``db.json``, or a file written by ``kefu shop export``), and optionally a ``rules`` section.

The whole shop is parsed and validated (:func:`~kefu.connectors.tau_schema.validate_shop`)
before anything is returned; every problem raises :class:`~kefu.errors.ShopImportError` with
the file and the place (``line 3, column 5`` for broken JSON, a JSON path otherwise).

``dump_tau(data)`` writes ``{"users", "orders", "products"}`` (and ``"rules"`` when the shop
has them) with each document exactly as it
was imported (same keys, same key order, same numbers), so import and export round-trip.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kefu.connectors.tau_schema import ShopData, ShopFiles, kind, validate_shop
from kefu.errors import ShopImportError

FORMATS: tuple[str, ...] = ("tau",)
SECTIONS: tuple[str, ...] = ("users", "orders", "products")
OPTIONAL_SECTIONS: tuple[str, ...] = ("rules",)
RULES_FILE = "shop_rules.json"

Progress = Callable[[str], None]


def _no_duplicates(file: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        doc = dict(pairs)
        if len(doc) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise ShopImportError(file, None, f"duplicate key {key!r} in one object")
                seen.add(key)
        return doc

    return hook


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def read_json(path: Path) -> Any:
    """Parse one JSON file; errors name the file and the line and column."""
    file = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ShopImportError(file, None, f"cannot read file: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ShopImportError(file, None, f"not valid UTF-8 (byte offset {exc.start})") from exc
    try:
        return json.loads(
            text, object_pairs_hook=_no_duplicates(file), parse_constant=_reject_constant
        )
    except json.JSONDecodeError as exc:
        raise ShopImportError(
            file, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}"
        ) from exc
    except ValueError as exc:  # NaN / Infinity
        raise ShopImportError(file, None, f"invalid JSON: {exc}") from exc


def _read_db(path: Path) -> ShopData:
    file = str(path)
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise ShopImportError(
            file, None, f"expected an object with {', '.join(SECTIONS)}, got {kind(doc)}"
        )
    for key in doc:
        if key not in SECTIONS and key not in OPTIONAL_SECTIONS:
            raise ShopImportError(
                file,
                f'"{key}"',
                f"unknown section; expected {', '.join(SECTIONS)} (and optionally "
                f"{', '.join(OPTIONAL_SECTIONS)})",
            )
    for key in SECTIONS:
        if key not in doc:
            raise ShopImportError(file, None, f'missing section "{key}"')
    return validate_shop(
        doc["users"],
        doc["orders"],
        doc["products"],
        ShopFiles(file, file, file),
        rules=doc.get("rules"),
        rules_file=file,
    )


def read_tau(path: Path, *, progress: Progress | None = None) -> ShopData:
    """Read and validate a tau folder or a db.json-style file (see the module docstring)."""
    say = progress or (lambda _stage: None)
    if path.is_dir():
        parts = [path / f"{name}.json" for name in SECTIONS]
        if not any(p.exists() for p in parts) and (path / "db.json").is_file():
            say("reading db.json")
            return _read_db(path / "db.json")
        missing = [p.name for p in parts if not p.is_file()]
        if missing:
            raise ShopImportError(
                str(path),
                None,
                f"missing {', '.join(missing)}; a tau shop folder holds users.json, "
                "orders.json and products.json (or db.json)",
            )
        docs: list[Any] = []
        for part in parts:
            say(f"reading {part.name}")
            docs.append(read_json(part))
        users, orders, products = docs
        rules_path = path / RULES_FILE
        rules = None
        if rules_path.is_file():
            say(f"reading {RULES_FILE}")
            rules = read_json(rules_path)
        say("validating")
        return validate_shop(
            users,
            orders,
            products,
            ShopFiles(*(str(p) for p in parts)),
            rules=rules,
            rules_file=str(rules_path),
        )
    if not path.exists():
        raise ShopImportError(str(path), None, "no such file or folder")
    say(f"reading {path.name}")
    return _read_db(path)


def dump_tau(data: ShopData) -> bytes:
    """The export document as UTF-8 JSON (2-space indent, Chinese kept readable)."""
    text = json.dumps(data.export_json(), ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")
