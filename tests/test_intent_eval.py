"""read_labelled / score_predictions / evaluate_intents on crafted files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kefu.errors import InvalidInputError
from kefu.quality.intent_eval import evaluate_intents, read_labelled, score_predictions

ROWS = [
    ("I want a refund", "refund"),
    ("refund my order please", "refund"),
    ("how do I get my money back", "refund"),
    ("where is my package", "shipping"),
    ("track my delivery", "shipping"),
    ("when will my order ship", "shipping"),
    ("怎么开发票", "invoice"),
    ("可以开增值税发票吗", "invoice"),
    ("发票抬头怎么改", "invoice"),
]


def _csv(path: Path, rows: list[tuple[str, str]], header: str = "text,category") -> Path:
    lines = [header] + [f'"{t}",{y}' for t, y in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_all_formats(tmp_path: Path) -> None:
    want = ([t for t, _ in ROWS], [y for _, y in ROWS])
    assert read_labelled(_csv(tmp_path / "a.csv", ROWS)) == want
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(
        "\n".join(json.dumps({"q": t, "intent": y}, ensure_ascii=False) for t, y in ROWS),
        encoding="utf-8",
    )
    assert read_labelled(jsonl, "q", "intent") == want
    objs = tmp_path / "objs.json"
    objs.write_text(json.dumps([{"text": t, "category": y} for t, y in ROWS]), encoding="utf-8")
    assert read_labelled(objs) == want
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps([[t, y] for t, y in ROWS]), encoding="utf-8")
    assert read_labelled(pairs) == want


def test_read_errors_name_file_and_row(tmp_path: Path) -> None:
    bad_csv = _csv(tmp_path / "b.csv", ROWS, header="text,label")
    with pytest.raises(InvalidInputError, match=r"b\.csv.*missing column 'category'"):
        read_labelled(bad_csv)
    empty_text = _csv(tmp_path / "c.csv", [("ok", "a"), ("", "b")])
    with pytest.raises(InvalidInputError, match=r"c\.csv, row 2"):
        read_labelled(empty_text)
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"text": "a", "category": "x"}\n{not json}\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"d\.jsonl, row 2"):
        read_labelled(jsonl)
    pairs = tmp_path / "e.json"
    pairs.write_text(json.dumps([["a", "x"], ["b"]]), encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"e\.json, row 2"):
        read_labelled(pairs)
    (tmp_path / "f.txt").write_text("text,category\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="unsupported"):
        read_labelled(tmp_path / "f.txt")
    with pytest.raises(InvalidInputError, match="cannot read"):
        read_labelled(tmp_path / "missing.csv")


def test_score_predictions_exact() -> None:
    gold = ["a", "a", "b", "oos", "oos"]
    pred = ["a", "oos", "b", "oos", "b"]
    acc, f1, ia, rec, prec = score_predictions(gold, pred, "oos")
    assert acc == pytest.approx(3 / 5)
    # F1: a = 2*1/(1+2) = 2/3, b = 2*1/(2+1) = 2/3, oos = 2*1/(2+2) = 1/2
    assert f1 == pytest.approx((2 / 3 + 2 / 3 + 1 / 2) / 3)
    assert ia == pytest.approx(2 / 3)
    assert rec == pytest.approx(1 / 2)
    assert prec == pytest.approx(1 / 2)
    assert score_predictions(["a", "b"], ["a", "b"])[2:] == (None, None, None)


def test_evaluate_perfect_on_training_texts(tmp_path: Path) -> None:
    train = _csv(tmp_path / "train.csv", ROWS)
    test = _csv(tmp_path / "test.csv", ROWS[::2])
    report = evaluate_intents(train, test)
    d = report.to_dict()
    for key in ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision", "n"):
        assert key in d
    assert d["accuracy"] == 1.0
    assert d["macro_f1"] == 1.0
    assert d["in_scope_accuracy"] is None and d["oos_recall"] is None
    assert d["oos_precision"] is None
    assert d["n"] == 5
    assert report.n_train == len(ROWS)
    assert report.labels == ("invoice", "refund", "shipping")
