"""The scripted L3 conversation suite (tests/conversations_l3/): writes in zh and en on the demo
shop and on tau-bench's retail data, graded on the final state of the shop and the ledger."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.datasets import DATASETS

from kefu.knowledge.embedding_cache import PersistentEmbedder
from kefu.knowledge.faq_index import FaqIndexCache
from kefu.quality.conversation_tests import (
    Runner,
    ScriptedConversation,
    discover,
    failure_report,
    load_file,
)

SUITE = Path(__file__).resolve().parent / "conversations_l3"
TARGET = 0.95


@pytest.fixture(autouse=True)
def _datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_DATASETS", str(DATASETS))


def _suite() -> list[ScriptedConversation]:
    os.environ.setdefault("KEFU_DATASETS", str(DATASETS))
    return [c for f in discover([SUITE]) for c in load_file(f)]


def test_the_l3_suite_has_at_least_60_conversations_graded_on_state() -> None:
    convs = _suite()
    names = [Path(c.file).name for c in convs]
    assert len(convs) >= 60
    assert sum(n.startswith("zh_") for n in names) >= 30
    assert sum(n.startswith("en_") for n in names) >= 20
    for c in convs:
        assert c.setup.get("level") == "L3", f"{c.name}: not an L3 conversation"
        assert all(t.expect for t in c.turns), f"{c.name}: a turn expects nothing"
        graded = [t for t in c.turns if {"ledger", "writes", "shop"} & set(t.expect)]
        assert graded, f"{c.name}: nothing checks the shop or the ledger"


def test_l3_conversations_pass(
    embedder: PersistentEmbedder, index_cache: FaqIndexCache, tmp_path: Path, database_url: str
) -> None:
    convs = _suite()
    runner = Runner(embedder, index_cache, workdir=tmp_path, database_url=database_url)
    try:
        results = list(runner.run_all(convs))
    finally:
        runner.close()
    failed = [r for r in results if not r.passed]
    rate = 1 - len(failed) / len(results)
    assert rate >= TARGET, (
        f"{len(results) - len(failed)}/{len(results)} L3 conversations passed ({rate:.1%} < "
        f"{TARGET:.0%}):\n" + failure_report(results)
    )
