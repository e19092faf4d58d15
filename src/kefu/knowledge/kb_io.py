"""Import and export of FAQ files: CSV, JSON, JSON Lines and XLSX.

``read_faq_file`` validates a whole file and returns every entry or raises one
:class:`~kefu.errors.KbImportError` naming the file, the row and the field (never a partial
result). ``dump_faq`` / ``write_faq_file`` write the same columns in ``FAQ_FIELDS`` order so that
reading a written file gives back exactly the entries that were written.

Row numbers in errors: CSV and XLSX use the spreadsheet row (header = row 1); JSON the 1-based
index of the object in the top-level list; JSON Lines the line number. In CSV/XLSX the list
fields (``similar_questions``, ``tags``) are joined with ``|``, so list items may not contain it.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.styles.numbers import is_datetime

from kefu.domain.faq import FAQ_FIELDS, FaqEntry
from kefu.errors import InvalidInputError, KbImportError

SUPPORTED_FORMATS: tuple[str, ...] = ("csv", "json", "jsonl", "xlsx")
_SUFFIXES = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx"}

MAX_ID = 64
MAX_QUESTION = 500
MAX_ANSWER = 5000
MAX_SIMILAR = 100
_XLSX_CELL_LIMIT = 32767
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
# Characters XML 1.0 (and so XLSX) cannot hold; rejected so every entry can be written anywhere.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_REQUIRED = ("id", "question", "answer")
_SEP = "|"
_ID_RULE = "use letters, digits and _ . : - (starting with a letter or digit)"
_BAD_WHEN = "expected an ISO date or date-time, got {}"

_LANGUAGES = {
    **dict.fromkeys(("zh", "zh-cn", "zh-hans", "zh-tw", "zh-hant", "zh-hk", "cn", "中文"), "zh"),
    **dict.fromkeys(("en", "en-us", "en-gb", "english", "英文"), "en"),
}
_TRUE = frozenset({"true", "1", "yes", "y", "是", "启用"})
_FALSE = frozenset({"false", "0", "no", "n", "否", "停用"})

Progress = Callable[[int, int], None]
_Record = tuple[int, dict[str, object]]  # (row number, field -> raw value)


def read_faq_file(path: Path, *, progress: Progress | None = None) -> list[FaqEntry]:
    """Read and validate an FAQ file; return all entries or raise :class:`KbImportError`."""
    file = str(path)
    fmt = _format_of(path, file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KbImportError(file, None, None, f"cannot read file: {exc.strerror or exc}") from exc
    if fmt == "csv":
        records = _read_csv(file, data)
    elif fmt == "xlsx":
        records = _read_xlsx(file, data)
    elif fmt == "json":
        records = _read_json(file, data)
    else:
        records = _read_jsonl(file, data)
    if not records:
        raise KbImportError(file, None, None, "no FAQ entries")

    total = len(records)
    step = max(1, min(500, total // 20))
    if progress is not None:
        progress(0, total)
    entries: list[FaqEntry] = []
    first_row: dict[tuple[str, str], int] = {}
    for done, (row, raw) in enumerate(records, start=1):
        entry = _Row(file, row, raw).entry()
        key = (entry.id, entry.language)
        if key in first_row:
            raise KbImportError(
                file,
                row,
                "id",
                f"duplicate id {entry.id!r} for language {entry.language!r}; "
                f"first defined at row {first_row[key]}",
            )
        first_row[key] = row
        entries.append(entry)
        if progress is not None and done < total and done % step == 0:
            progress(done, total)
    if progress is not None:
        progress(total, total)
    return entries


def dump_faq(entries: Sequence[FaqEntry], fmt: str) -> bytes:
    """Serialise ``entries`` as ``fmt`` (one of :data:`SUPPORTED_FORMATS`, or ``ndjson``)."""
    kind = fmt.lower().lstrip(".")
    kind = "jsonl" if kind == "ndjson" else kind
    if kind == "json":
        text = json.dumps([_to_json(e) for e in entries], ensure_ascii=False, indent=2)
        return (text + "\n").encode("utf-8")
    if kind == "jsonl":
        lines = (json.dumps(_to_json(e), ensure_ascii=False) + "\n" for e in entries)
        return "".join(lines).encode("utf-8")
    if kind == "csv":
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(FAQ_FIELDS)
        writer.writerows(_to_cells(e) for e in entries)
        return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel then reads it as UTF-8
    if kind == "xlsx":
        return _dump_xlsx(entries)
    raise InvalidInputError(
        f"unsupported format {fmt!r}; supported: {', '.join(SUPPORTED_FORMATS)}", field="fmt"
    )


def write_faq_file(entries: Sequence[FaqEntry], path: Path) -> None:
    """Write ``entries`` to ``path`` in the format its extension names (atomically)."""
    data = dump_faq(entries, _format_of(path, str(path)))
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --- readers: bytes -> records ---------------------------------------------------------------


def _format_of(path: Path, file: str) -> str:
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise KbImportError(
            file,
            None,
            None,
            f"unsupported file type {path.suffix or '(none)'!r}; "
            f"supported formats: {', '.join(_SUFFIXES)}",
        )
    return fmt


def _read_csv(file: str, data: bytes) -> list[_Record]:
    try:
        text = data.decode("utf-8-sig")  # with or without BOM
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")  # superset of GBK: Chinese Excel "CSV" exports
        except UnicodeDecodeError as exc:
            raise KbImportError(
                file, None, None, "CSV is neither UTF-8 nor GBK/GB18030 text"
            ) from exc
    rows: list[tuple[int, Sequence[object]]] = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for cells in reader:
            rows.append((len(rows) + 1, cells))
    except csv.Error as exc:
        raise KbImportError(file, len(rows) + 1, None, f"malformed CSV: {exc}") from exc
    return _table_records(file, rows)


def _read_xlsx(file: str, data: bytes) -> list[_Record]:
    rows: list[tuple[int, Sequence[object]]] = []
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # zip, XML and openpyxl errors alike: the file is not a workbook
        raise KbImportError(file, None, None, "not a readable .xlsx workbook") from exc
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()  # some writers store wrong dimensions; read what is really there
        for number, cells in enumerate(ws.iter_rows(), start=1):
            rows.append((number, [_xlsx_value(c) for c in cells]))
    except Exception as exc:  # corrupt sheet XML, or a workbook without any worksheet
        row = len(rows) + 1 if rows else None
        raise KbImportError(file, row, None, "not a readable .xlsx workbook") from exc
    finally:
        wb.close()
    return _table_records(file, rows)


def _xlsx_value(cell: Any) -> object:
    value: object = cell.value
    if isinstance(value, datetime) and is_datetime(getattr(cell, "number_format", None)) == "date":
        return value.date()  # a date-only cell: the date, so valid_until means end of that day
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)  # Excel types "1001" as a number; the user meant text
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return value


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _table_records(file: str, rows: Iterable[tuple[int, Sequence[object]]]) -> list[_Record]:
    """CSV/XLSX rows -> records; the first non-blank row is the header."""
    names: list[str] | None = None
    records: list[_Record] = []
    for number, cells in rows:
        if all(_is_blank(c) for c in cells):
            continue
        if names is None:
            names = _check_header(file, number, cells)
            continue
        raw: dict[str, object] = dict.fromkeys((n for n in names if n), None)
        for index, value in enumerate(cells):
            name = names[index] if index < len(names) else ""
            if name:
                raw[name] = value
            elif not _is_blank(value):
                raise KbImportError(
                    file, number, None, f"column {index + 1} has a value but no header"
                )
        records.append((number, raw))
    return records


def _check_header(file: str, row: int, cells: Sequence[object]) -> list[str]:
    names = ["" if c is None else str(c).strip() for c in cells]
    seen: set[str] = set()
    for name in names:
        if not name:
            continue
        if name not in FAQ_FIELDS:
            raise KbImportError(file, row, name, _unknown_field(name, "column"))
        if name in seen:
            raise KbImportError(file, row, name, "duplicate column")
        seen.add(name)
    for name in _REQUIRED:
        if name not in seen:
            raise KbImportError(file, row, name, "missing required column")
    return names


def _unknown_field(name: str, what: str) -> str:
    close = difflib.get_close_matches(name, FAQ_FIELDS, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {what} {name!r}; {hint}expected: {', '.join(FAQ_FIELDS)}"


def _decode_utf8(file: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KbImportError(
            file, None, None, f"not valid UTF-8 text (byte offset {exc.start})"
        ) from exc


def _read_json(file: str, data: bytes) -> list[_Record]:
    text = _decode_utf8(file, data)
    if not text.strip():
        return []
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KbImportError(
            file, None, None, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    if not isinstance(doc, list):
        raise KbImportError(
            file, None, None, f"expected a JSON list of FAQ objects, got {_kind(doc)}"
        )
    return [(i, _json_object(file, i, item)) for i, item in enumerate(doc, start=1)]


def _read_jsonl(file: str, data: bytes) -> list[_Record]:
    records: list[_Record] = []
    # Split on "\n" only: str.splitlines() would also break inside text at U+2028 and friends.
    for number, line in enumerate(_decode_utf8(file, data).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise KbImportError(
                file, number, None, f"invalid JSON at column {exc.colno}: {exc.msg}"
            ) from exc
        records.append((number, _json_object(file, number, item)))
    return records


def _json_object(file: str, row: int, item: object) -> dict[str, object]:
    if not isinstance(item, dict):
        raise KbImportError(file, row, None, f"expected a JSON object, got {_kind(item)}")
    for key in item:
        if key not in FAQ_FIELDS:
            raise KbImportError(file, row, key, _unknown_field(key, "field"))
    return dict(item)


# --- validation: record -> FaqEntry ----------------------------------------------------------


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, date | time):
        return "a date/time"
    return "null" if value is None else type(value).__name__


class _Row:
    """Validation of one record; every problem is raised naming this file and row."""

    def __init__(self, file: str, row: int, raw: dict[str, object]) -> None:
        self.file, self.row, self.raw = file, row, raw

    def fail(self, field: str, problem: str) -> KbImportError:
        return KbImportError(self.file, self.row, field, problem)

    def clean(self, field: str, value: str) -> str:
        text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
        bad = _CONTROL_RE.search(text)
        if bad is not None:
            raise self.fail(field, f"contains control character U+{ord(bad[0]):04X}")
        return text

    def text(self, field: str, limit: int | None = None) -> str:
        value = self.raw.get(field)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(field, f"expected text, got {_kind(value)}")
        text = self.clean(field, value)
        if limit is not None and len(text) > limit:
            raise self.fail(field, f"is {len(text)} characters long; the limit is {limit}")
        return text

    def items(self, field: str) -> list[str]:
        value = self.raw.get(field)
        if value is None:
            return []
        if isinstance(value, str):
            parts = value.split(_SEP)
        elif isinstance(value, list):
            parts = []
            for n, item in enumerate(value, start=1):
                if not isinstance(item, str):
                    raise self.fail(field, f"item {n} is {_kind(item)}, not text")
                if _SEP in item:
                    raise self.fail(field, f"item {n} contains {_SEP!r}")
                parts.append(item)
        else:
            raise self.fail(field, f"expected a list of text, got {_kind(value)}")
        cleaned = (self.clean(field, part) for part in parts)
        return list(dict.fromkeys(t for t in cleaned if t))  # drop empties and repeats

    def language(self) -> str:
        text = self.text("language")
        lang = _LANGUAGES.get(text.lower().replace("_", "-")) if text else "zh"
        if lang is None:
            raise self.fail("language", f"unsupported language {text!r}; use zh or en")
        return lang

    def enabled(self) -> bool:
        value = self.raw.get("enabled")
        if isinstance(value, bool):
            return value
        text = self.text("enabled").lower()
        if not text or text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise self.fail("enabled", f"expected true or false, got {text!r}")

    def when(self, field: str, *, end_of_day: bool) -> datetime | None:
        value = self.raw.get(field)
        if isinstance(value, str):
            text = self.text(field)
            try:
                value = date.fromisoformat(text) if text else None
            except ValueError:
                try:
                    value = datetime.fromisoformat(text)
                except ValueError:
                    raise self.fail(field, _BAD_WHEN.format(repr(text))) from None
        if value is None:
            return None
        if isinstance(value, datetime):
            if value.utcoffset() is None:
                return value.replace(tzinfo=None)
            try:
                return value.astimezone(UTC).replace(tzinfo=None)
            except OverflowError:
                raise self.fail(field, "date-time out of range") from None
        if isinstance(value, date):  # a whole day: valid_until means until its very end
            return datetime.combine(value, time.max if end_of_day else time.min)
        raise self.fail(field, _BAD_WHEN.format(_kind(value)))

    def entry(self) -> FaqEntry:
        fields = (("id", MAX_ID), ("question", MAX_QUESTION), ("answer", MAX_ANSWER))
        values = {field: self.text(field, limit) for field, limit in fields}
        for field, _ in fields:
            if not values[field]:
                raise self.fail(field, "is required")
        if not _ID_RE.fullmatch(values["id"]):
            raise self.fail("id", f"invalid id {values['id']!r}: {_ID_RULE}")
        similar = [s for s in self.items("similar_questions") if s != values["question"]]
        for n, text in enumerate(similar, start=1):
            if len(text) > MAX_QUESTION:
                problem = f"item {n} is {len(text)} characters long; the limit is {MAX_QUESTION}"
                raise self.fail("similar_questions", problem)
        if len(similar) > MAX_SIMILAR:
            problem = f"has {len(similar)} items; the limit is {MAX_SIMILAR}"
            raise self.fail("similar_questions", problem)
        valid_from = self.when("valid_from", end_of_day=False)
        valid_until = self.when("valid_until", end_of_day=True)
        if valid_from is not None and valid_until is not None and valid_from > valid_until:
            problem = f"{valid_until.isoformat()} is before valid_from {valid_from.isoformat()}"
            raise self.fail("valid_until", problem)
        return FaqEntry(
            id=values["id"],
            question=values["question"],
            similar_questions=tuple(similar),
            answer=values["answer"],
            category=self.text("category"),
            language=self.language(),
            tags=tuple(self.items("tags")),
            enabled=self.enabled(),
            valid_from=valid_from,
            valid_until=valid_until,
        )


# --- writers ----------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _joined(entry: FaqEntry, field: str, items: tuple[str, ...]) -> str:
    for item in items:
        if _SEP in item:
            raise InvalidInputError(
                f"FAQ {entry.id!r}: {field} item {item!r} contains {_SEP!r}", field=field
            )
    return _SEP.join(items)


def _to_json(entry: FaqEntry) -> dict[str, object]:
    return {
        "id": entry.id,
        "question": entry.question,
        "similar_questions": list(entry.similar_questions),
        "answer": entry.answer,
        "category": entry.category,
        "language": entry.language,
        "tags": list(entry.tags),
        "enabled": entry.enabled,
        "valid_from": _iso(entry.valid_from),
        "valid_until": _iso(entry.valid_until),
    }


def _to_cells(entry: FaqEntry) -> list[str]:
    cells = {
        **_to_json(entry),
        "similar_questions": _joined(entry, "similar_questions", entry.similar_questions),
        "tags": _joined(entry, "tags", entry.tags),
        "enabled": "true" if entry.enabled else "false",
        "valid_from": _iso(entry.valid_from) or "",
        "valid_until": _iso(entry.valid_until) or "",
    }
    return [str(cells[name]) for name in FAQ_FIELDS]


def _dump_xlsx(entries: Sequence[FaqEntry]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "faq"
    for r, values in enumerate([list(FAQ_FIELDS), *(_to_cells(e) for e in entries)], start=1):
        for c, value in enumerate(values, start=1):
            if len(value) > _XLSX_CELL_LIMIT:
                raise InvalidInputError(
                    f"row {r}, column {FAQ_FIELDS[c - 1]!r}: {len(value)} characters exceed "
                    f"the XLSX cell limit of {_XLSX_CELL_LIMIT}",
                    field=FAQ_FIELDS[c - 1],
                )
            cell = ws.cell(row=r, column=c, value=value)
            cell.data_type = "s"  # text, always: "=..." must not become a formula
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


__all__ = ["SUPPORTED_FORMATS", "dump_faq", "read_faq_file", "write_faq_file"]
