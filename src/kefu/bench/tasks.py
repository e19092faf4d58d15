"""tau-bench retail task files: loading, checking and choosing tasks.

A task file is a JSON (or YAML) list of tasks as tau-bench's ``tasks_*.json``::

    {"annotator": "", "user_id": "olivia_ito_3591",
     "instruction": "Your name is Olivia Ito and your zip code is 80218. ...",
     "actions": [{"name": "cancel_pending_order",
                  "kwargs": {"order_id": "#W5442520", "reason": "no longer needed"}}],
     "outputs": []}

A task's id is its position in the file (``"0"``, ``"1"``, ...). Every problem raises
:class:`BenchFileError` naming the file, the task index and the field
(``tasks.json, task 3, field actions[0].kwargs.order_id: missing``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kefu.errors import InvalidInputError

# tau-bench retail's tools: the seven writes (with the arguments each needs), then the reads.
WRITE_TOOLS: dict[str, tuple[str, ...]] = {
    "cancel_pending_order": ("order_id", "reason"),
    "modify_pending_order_address": (
        "order_id", "address1", "address2", "city", "state", "country", "zip"
    ),
    "modify_pending_order_items": ("order_id", "item_ids", "new_item_ids", "payment_method_id"),
    "modify_pending_order_payment": ("order_id", "payment_method_id"),
    "modify_user_address": ("user_id", "address1", "address2", "city", "state", "country", "zip"),
    "return_delivered_order_items": ("order_id", "item_ids", "payment_method_id"),
    "exchange_delivered_order_items": (
        "order_id", "item_ids", "new_item_ids", "payment_method_id"
    ),
}  # fmt: skip
READ_TOOLS: frozenset[str] = frozenset(
    {
        "calculate",
        "find_user_id_by_email",
        "find_user_id_by_name_zip",
        "get_order_details",
        "get_product_details",
        "get_user_details",
        "list_all_product_types",
        "think",
        "transfer_to_human_agents",
    }
)
_LIST_ARGS = frozenset({"item_ids", "new_item_ids"})
_TASK_KEYS = frozenset({"annotator", "user_id", "instruction", "actions", "outputs"})


class BenchFileError(InvalidInputError):
    """A benchmark task file or customer script is malformed; nothing ran. The message names
    the file, the task and the field."""

    def __init__(self, file: str, place: str, problem: str) -> None:
        super().__init__(f"{file}, {place}: {problem}", file=file, place=place)
        self.file = file
        self.place = place
        self.problem = problem


@dataclass(frozen=True)
class GoldAction:
    """One tool call of the task's gold solution."""

    name: str
    kwargs: Mapping[str, Any]

    @property
    def is_write(self) -> bool:
        return self.name in WRITE_TOOLS

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kwargs": dict(self.kwargs)}


@dataclass(frozen=True)
class TauTask:
    """One tau-bench task: the customer's ``instruction``, the gold ``actions`` and the
    ``outputs`` kefu's replies must contain."""

    id: str
    user_id: str
    instruction: str
    actions: tuple[GoldAction, ...] = ()
    outputs: tuple[str, ...] = ()
    annotator: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def writes(self) -> tuple[GoldAction, ...]:
        return tuple(a for a in self.actions if a.is_write)


def load_tasks(path: Path) -> list[TauTask]:
    """Read and check a task file (JSON, or YAML for hand-written ones)."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchFileError(file, "file", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchFileError(file, "file", f"cannot read: {exc}") from None
    data = _parse(text, file, path.suffix.lower())
    if not isinstance(data, list):
        raise BenchFileError(file, "top level", "expected a list of tasks")
    if not data:
        raise BenchFileError(file, "top level", "the file holds no task")
    return [_task(raw, file, i) for i, raw in enumerate(data)]


def _parse(text: str, file: str, suffix: str) -> Any:
    if suffix in (".yaml", ".yml"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
            raise BenchFileError(file, where, str(getattr(exc, "problem", exc))) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchFileError(
            file, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}"
        ) from None


def _task(raw: Any, file: str, index: int) -> TauTask:
    where = f"task {index}"

    def bad(place: str, problem: str) -> BenchFileError:
        return BenchFileError(file, f"{where}, field {place}", problem)

    if not isinstance(raw, dict):
        raise BenchFileError(file, where, "expected an object")
    for key in ("user_id", "instruction"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise bad(key, "missing" if value is None else "expected non-empty text")
    actions = raw.get("actions", [])
    if not isinstance(actions, list):
        raise bad("actions", "expected a list")
    gold = tuple(_action(a, bad, f"actions[{j}]") for j, a in enumerate(actions))
    outputs = raw.get("outputs", [])
    if not isinstance(outputs, list):
        raise bad("outputs", "expected a list of texts")
    for j, out in enumerate(outputs):
        if not isinstance(out, str) or not out:
            raise bad(f"outputs[{j}]", "expected non-empty text")
    annotator = raw.get("annotator", "")
    return TauTask(
        id=str(index),
        user_id=raw["user_id"],
        instruction=raw["instruction"],
        actions=gold,
        outputs=tuple(outputs),
        annotator=str(annotator) if annotator is not None else "",
        extra={k: v for k, v in raw.items() if k not in _TASK_KEYS},
    )


def _action(raw: Any, bad: Any, place: str) -> GoldAction:
    if not isinstance(raw, dict):
        raise bad(place, "expected an object with name and kwargs")
    name = raw.get("name")
    if not isinstance(name, str):
        raise bad(f"{place}.name", "missing")
    if name not in WRITE_TOOLS and name not in READ_TOOLS:
        raise bad(f"{place}.name", f"unknown tau-bench retail tool {name!r}")
    kwargs = raw.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise bad(f"{place}.kwargs", "expected an object")
    for arg in WRITE_TOOLS.get(name, ()):
        if arg not in kwargs:
            raise bad(f"{place}.kwargs.{arg}", "missing")
        value = kwargs[arg]
        if arg in _LIST_ARGS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad(f"{place}.kwargs.{arg}", "expected a list of item ids (text)")
        elif not isinstance(value, str):
            raise bad(f"{place}.kwargs.{arg}", "expected text")
    return GoldAction(name, dict(kwargs))


def select_tasks(
    tasks: Sequence[TauTask],
    *,
    task_ids: Sequence[str] = (),
    limit: int | None = None,
    seed: int | None = None,
) -> list[TauTask]:
    """The tasks to run: those named by ``task_ids`` (in that order; an unknown id is an
    error), else all of them, shuffled with ``seed`` when one is given; then the first
    ``limit``."""
    if task_ids:
        by_id = {t.id: t for t in tasks}
        unknown = [i for i in task_ids if i not in by_id]
        if unknown:
            raise InvalidInputError(
                f"unknown task id {unknown[0]!r}: ids are positions in the file, "
                f"0 to {len(tasks) - 1}",
                field="task_ids",
            )
        chosen = [by_id[i] for i in dict.fromkeys(task_ids)]  # each once, in the order given
    else:
        chosen = list(tasks)
        if seed is not None:
            random.Random(seed).shuffle(chosen)
    if limit is not None:
        if limit < 1:
            raise InvalidInputError("limit must be at least 1", field="limit")
        chosen = chosen[:limit]
    return chosen
