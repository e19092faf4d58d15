"""Evaluate :class:`~kefu.understanding.intent_model.IntentModel` on labelled files.

Backs ``kefu eval intents --train F --test F``. Files are CSV (with a header), JSONL (one object
per line) or JSON (a list of objects, or a list of ``[text, label]`` pairs).

With an ``oos_label``, accuracy and macro-F1 count the out-of-scope label as a class, and the
CLINC150 definitions apply: in-scope accuracy = correct predictions on in-scope test texts /
in-scope test texts (predicting out-of-scope counts as wrong); out-of-scope recall = out-of-scope
test texts predicted out of scope / out-of-scope test texts; out-of-scope precision = those /
all texts predicted out of scope.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kefu.errors import InvalidInputError
from kefu.knowledge.embedder import Embedder
from kefu.understanding.intent_model import IntentModel


def _bad(path: Path, row: int | None, problem: str) -> InvalidInputError:
    where = f"{path}" if row is None else f"{path}, row {row}"
    return InvalidInputError(f"{where}: {problem}", file=str(path), row=row)


def _pair(path: Path, row: int, obj: Any, text_column: str, label_column: str) -> tuple[str, str]:
    if isinstance(obj, list):
        if len(obj) != 2:
            raise _bad(path, row, "expected a [text, label] pair")
        text, label = obj
    elif isinstance(obj, dict):
        for col in (text_column, label_column):
            if col not in obj:
                raise _bad(path, row, f"missing column {col!r}")
        text, label = obj[text_column], obj[label_column]
    else:
        raise _bad(path, row, "expected an object or a [text, label] pair")
    if not isinstance(text, str) or not text.strip():
        raise _bad(path, row, f"{text_column!r} must be a non-empty string")
    if not isinstance(label, str | int) or isinstance(label, bool) or not str(label).strip():
        raise _bad(path, row, f"{label_column!r} must be a non-empty string")
    return text, str(label).strip()


def read_labelled(
    path: Path, text_column: str = "text", label_column: str = "category"
) -> tuple[list[str], list[str]]:
    """Texts and labels of a CSV, JSONL or JSON file (rows are numbered from 1)."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, None, f"cannot read the file ({type(exc).__name__})") from exc
    suffix = path.suffix.lower()
    pairs: list[tuple[str, str]] = []
    if suffix == ".csv":
        reader = csv.DictReader(raw.splitlines())
        columns = reader.fieldnames or []
        for col in (text_column, label_column):
            if col not in columns:
                raise _bad(path, None, f"missing column {col!r} (columns: {columns})")
        for i, rec in enumerate(reader, start=1):
            pairs.append(_pair(path, i, rec, text_column, label_column))
    elif suffix in (".jsonl", ".ndjson"):
        for i, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _bad(path, i, f"invalid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise _bad(path, i, "expected a JSON object")
            pairs.append(_pair(path, i, obj, text_column, label_column))
    elif suffix == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _bad(path, None, f"invalid JSON ({exc.msg})") from exc
        if not isinstance(data, list):
            raise _bad(path, None, "expected a JSON list")
        pairs = [_pair(path, i, obj, text_column, label_column) for i, obj in enumerate(data, 1)]
    else:
        raise _bad(path, None, "unsupported file type (use .csv, .jsonl or .json)")
    if not pairs:
        raise _bad(path, None, "no labelled rows")
    return [t for t, _ in pairs], [lab for _, lab in pairs]


@dataclass
class IntentReport:
    """Scores of one train/test evaluation (out-of-scope fields None without an oos label)."""

    accuracy: float
    macro_f1: float
    in_scope_accuracy: float | None
    oos_recall: float | None
    oos_precision: float | None
    n: int
    n_train: int
    labels: tuple[str, ...]
    train_seconds: float = 0.0
    predict_ms_per_text: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "in_scope_accuracy": self.in_scope_accuracy,
            "oos_recall": self.oos_recall,
            "oos_precision": self.oos_precision,
            "n": self.n,
            "n_train": self.n_train,
            "n_labels": len(self.labels),
            "train_seconds": self.train_seconds,
            "predict_ms_per_text": self.predict_ms_per_text,
        }


def score_predictions(
    gold: list[str], predicted: list[str], oos_label: str | None = None
) -> tuple[float, float, float | None, float | None, float | None]:
    """accuracy, macro-F1 (over the gold and predicted labels), and the out-of-scope scores."""
    if len(gold) != len(predicted) or not gold:
        raise InvalidInputError("gold and predicted labels must be non-empty and the same length")
    n = len(gold)
    accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / n
    f1s = []
    for label in sorted(set(gold) | set(predicted)):
        tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        n_pred = sum(p == label for p in predicted)
        n_gold = sum(g == label for g in gold)
        f1s.append(2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0)
    macro_f1 = sum(f1s) / len(f1s)
    if oos_label is None:
        return accuracy, macro_f1, None, None, None
    pairs = list(zip(gold, predicted, strict=True))
    in_scope = [(g, p) for g, p in pairs if g != oos_label]
    oos = [(g, p) for g, p in pairs if g == oos_label]
    n_pred_oos = sum(p == oos_label for p in predicted)
    in_acc = sum(g == p for g, p in in_scope) / len(in_scope) if in_scope else 0.0
    recall = sum(p == oos_label for _, p in oos) / len(oos) if oos else 0.0
    precision = sum(p == oos_label for _, p in oos) / n_pred_oos if n_pred_oos else 0.0
    return accuracy, macro_f1, in_acc, recall, precision


def evaluate_intents(
    train: Path,
    test: Path,
    *,
    text_column: str = "text",
    label_column: str = "category",
    oos_label: str | None = None,
    embedder: Embedder | None = None,
    model: IntentModel | None = None,
) -> IntentReport:
    """Fit an :class:`IntentModel` on ``train`` and score its decisions on ``test``.

    Without an ``oos_label`` the prediction is the top label; with one, ``IntentModel.decide``
    turns rejected texts into ``oos_label``. ``model`` overrides the default model settings.
    """
    train_texts, train_labels = read_labelled(Path(train), text_column, label_column)
    test_texts, test_labels = read_labelled(Path(test), text_column, label_column)
    if model is None:
        model = IntentModel(embedder, oos_label=oos_label)
    start = time.perf_counter()
    model.fit(train_texts, train_labels)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    preds = model.predict(test_texts, top_k=1)
    predict_seconds = time.perf_counter() - start
    if oos_label is None:
        predicted = [p.labels[0] for p in preds]
    else:
        predicted = [model.decide(p) or oos_label for p in preds]
    accuracy, macro_f1, in_acc, recall, precision = score_predictions(
        test_labels, predicted, oos_label
    )
    return IntentReport(
        accuracy=accuracy,
        macro_f1=macro_f1,
        in_scope_accuracy=in_acc,
        oos_recall=recall,
        oos_precision=precision,
        n=len(test_labels),
        n_train=len(train_labels),
        labels=model.labels,
        train_seconds=train_seconds,
        predict_ms_per_text=1000.0 * predict_seconds / len(test_texts),
    )
