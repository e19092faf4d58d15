"""Sanity checks for the shipped demo FAQ and the benchmark query sets.

Pure data checks: no kefu imports, so a broken engine never hides a broken data file.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAQ_PATH = ROOT / "src" / "kefu" / "demo" / "data" / "faq.jsonl"
DEV_PATH = ROOT / "benchmarks" / "data" / "faq_dev.jsonl"
HELDOUT_PATH = ROOT / "benchmarks" / "data" / "faq_heldout.jsonl"

FAQ_KEYS = {
    "id",
    "question",
    "similar_questions",
    "answer",
    "category",
    "language",
    "tags",
    "enabled",
}
CATEGORY_PREFIXES = {
    "shipping": "ship",
    "returns": "ret",
    "refunds": "ref",
    "payment": "pay",
    "invoices": "inv",
    "membership": "mem",
    "coupons": "cpn",
    "sizes": "size",
    "after_sales": "as",
    "account": "acct",
    "privacy": "priv",
    "promotions": "promo",
}
HELDOUT_KINDS = {
    "plain",
    "colloquial",
    "typo",
    "long",
    "traditional",
    "code_switch",
    "oos_offtopic",
    "oos_near",
}


def _load(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:  # pragma: no cover - failure path
                pytest.fail(f"{path.name}:{lineno}: invalid JSON ({exc})")
    return rows


def _key(text: str) -> str:
    """Strip white space and punctuation, fold width and case."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


@pytest.fixture(scope="module")
def faq() -> list[dict[str, Any]]:
    return _load(FAQ_PATH)


@pytest.fixture(scope="module")
def dev() -> list[dict[str, Any]]:
    return _load(DEV_PATH)


@pytest.fixture(scope="module")
def heldout() -> list[dict[str, Any]]:
    return _load(HELDOUT_PATH)


# --- FAQ -------------------------------------------------------------------------------------


def test_faq_rows_are_well_formed(faq: list[dict[str, Any]]) -> None:
    assert faq, "faq.jsonl is empty"
    for row in faq:
        assert set(row) == FAQ_KEYS, row.get("id")
        assert isinstance(row["id"], str) and row["id"]
        assert row["language"] in ("zh", "en"), row["id"]
        assert row["category"] in CATEGORY_PREFIXES, row["id"]
        assert row["id"].startswith(CATEGORY_PREFIXES[row["category"]] + "-"), row["id"]
        assert isinstance(row["question"], str) and row["question"].strip(), row["id"]
        assert isinstance(row["answer"], str) and row["answer"].strip(), row["id"]
        assert isinstance(row["tags"], list) and all(isinstance(t, str) for t in row["tags"])
        assert row["enabled"] is True, row["id"]
        sims = row["similar_questions"]
        assert isinstance(sims, list) and all(isinstance(s, str) and s.strip() for s in sims)


def test_faq_zh_coverage(faq: list[dict[str, Any]]) -> None:
    zh = [r for r in faq if r["language"] == "zh"]
    assert len(zh) >= 150
    categories = Counter(r["category"] for r in zh)
    assert set(CATEGORY_PREFIXES) <= set(categories), set(CATEGORY_PREFIXES) - set(categories)
    assert len(categories) >= 12
    assert min(categories.values()) >= 10, categories


def test_faq_similar_questions(faq: list[dict[str, Any]]) -> None:
    for row in faq:
        sims = row["similar_questions"]
        assert len(sims) >= 3, (row["id"], row["language"])
        keys = [_key(q) for q in (row["question"], *sims)]
        assert len(keys) == len(set(keys)), f"repeated phrasing in {row['id']}/{row['language']}"


def test_faq_id_language_unique(faq: list[dict[str, Any]]) -> None:
    pairs = Counter((r["id"], r["language"]) for r in faq)
    dupes = [p for p, n in pairs.items() if n > 1]
    assert not dupes, dupes


def test_faq_questions_do_not_collide_across_entries(faq: list[dict[str, Any]]) -> None:
    owner: dict[tuple[str, str], str] = {}
    for row in faq:
        for q in (row["question"], *row["similar_questions"]):
            k = (row["language"], _key(q))
            assert owner.setdefault(k, row["id"]) == row["id"], (q, owner[k], row["id"])


def test_faq_english_rows_translate_chinese_rows(faq: list[dict[str, Any]]) -> None:
    zh = {r["id"]: r for r in faq if r["language"] == "zh"}
    en = [r for r in faq if r["language"] == "en"]
    assert len(en) >= 50
    for row in en:
        assert row["id"] in zh, row["id"]
        assert row["category"] == zh[row["id"]]["category"], row["id"]
        assert row["tags"] == zh[row["id"]]["tags"], row["id"]


# --- dev / heldout ---------------------------------------------------------------------------


def _check_queries(rows: list[dict[str, Any]], faq: list[dict[str, Any]], name: str) -> None:
    ids = {r["id"] for r in faq}
    assert rows, f"{name} is empty"
    for row in rows:
        assert {"query", "expected", "language"} <= set(row), row
        assert isinstance(row["query"], str) and row["query"].strip(), row
        assert row["language"] in ("zh", "en"), row
        assert row["expected"] is None or row["expected"] in ids, row
    keys = Counter(_key(r["query"]) for r in rows)
    dupes = [k for k, n in keys.items() if n > 1]
    assert not dupes, f"duplicate queries in {name}: {dupes}"


def test_dev_set(dev: list[dict[str, Any]], faq: list[dict[str, Any]]) -> None:
    _check_queries(dev, faq, "faq_dev.jsonl")
    langs = Counter(r["language"] for r in dev)
    assert langs["zh"] >= 100 and langs["en"] >= 40, langs
    assert sum(r["expected"] is None for r in dev) >= 20


def test_heldout_set(heldout: list[dict[str, Any]], faq: list[dict[str, Any]]) -> None:
    _check_queries(heldout, faq, "faq_heldout.jsonl")
    langs = Counter(r["language"] for r in heldout)
    assert langs["zh"] >= 300, langs
    assert langs["en"] >= 100, langs
    nulls = [r for r in heldout if r["expected"] is None]
    assert len(nulls) >= 60
    assert {r["language"] for r in nulls} == {"zh", "en"}


def test_heldout_kinds(heldout: list[dict[str, Any]]) -> None:
    for row in heldout:
        kind = row.get("kind")
        if kind is None:
            continue
        assert kind in HELDOUT_KINDS, row
        assert kind.startswith("oos_") == (row["expected"] is None), row


def test_dev_is_not_copied_from_faq(dev: list[dict[str, Any]], faq: list[dict[str, Any]]) -> None:
    faq_keys = {_key(q) for r in faq for q in (r["question"], *r["similar_questions"])}
    copied = [r["query"] for r in dev if _key(r["query"]) in faq_keys]
    assert not copied, copied


def test_heldout_is_disjoint_from_faq_and_dev(
    heldout: list[dict[str, Any]], dev: list[dict[str, Any]], faq: list[dict[str, Any]]
) -> None:
    faq_keys = {_key(q) for r in faq for q in (r["question"], *r["similar_questions"])}
    dev_keys = {_key(r["query"]) for r in dev}
    in_faq = [r["query"] for r in heldout if _key(r["query"]) in faq_keys]
    in_dev = [r["query"] for r in heldout if _key(r["query"]) in dev_keys]
    assert not in_faq, in_faq
    assert not in_dev, in_dev
