"""The project's scripted L2 conversation suite (tests/conversations/), and the runner itself:
loading errors, ``check()`` mismatches, JUnit output and the ``kefu test`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from kefu.errors import ConversationFileError
from kefu.knowledge.embedding_cache import PersistentEmbedder
from kefu.knowledge.faq_index import FaqIndexCache
from kefu.quality.conversation_tests import (
    ConversationResult,
    Runner,
    ScriptedConversation,
    Turn,
    TurnFailure,
    check,
    discover,
    failure_report,
    junit_xml,
    load_file,
)

SUITE = Path(__file__).resolve().parent / "conversations"
TARGET = 0.98


# -- the suite ------------------------------------------------------------------------------------
def test_the_suite_has_at_least_100_conversations_in_zh_and_en() -> None:
    convs = [c for f in discover([SUITE]) for c in load_file(f)]
    names = [Path(c.file).name for c in convs]
    assert len(convs) >= 100
    assert sum(n.startswith("zh_") for n in names) >= 50
    assert sum(n.startswith("en_") for n in names) >= 30
    for c in convs:  # every turn checks something
        for t in c.turns:
            assert t.expect, f"{Path(c.file).name} :: {c.name}: turn {t.user!r} expects nothing"


def test_scripted_conversations_pass(
    embedder: PersistentEmbedder, index_cache: FaqIndexCache, tmp_path: Path, database_url: str
) -> None:
    convs = [c for f in discover([SUITE]) for c in load_file(f)]
    runner = Runner(embedder, index_cache, workdir=tmp_path, database_url=database_url)
    try:
        results = list(runner.run_all(convs))
    finally:
        runner.close()
    failed = [r for r in results if not r.passed]
    rate = 1 - len(failed) / len(results)
    assert rate >= TARGET, (
        f"{len(results) - len(failed)}/{len(results)} conversations passed ({rate:.1%} < "
        f"{TARGET:.0%}):\n" + failure_report(results)
    )


# -- loading ---------------------------------------------------------------------------------------
def _write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("conversations: [\n  - name: a\n    turns: [", "line "),
        ("- just a list", "top level"),
        ("setup: {level: L2}\n", "conversations"),
        ("bogus: 1\nconversations: []\n", "bogus"),
        ("setup: {level: L9}\nconversations: [{turns: [{user: hi}]}]\n", "setup.level"),
        ("setup: {colour: red}\nconversations: [{turns: [{user: hi}]}]\n", "setup.colour"),
        ("setup: {now: yesterday}\nconversations: [{turns: [{user: hi}]}]\n", "setup.now"),
        ("conversations:\n  - name: a\n    turns: []\n", "conversations[0].turns"),
        ("conversations:\n  - name: a\n    turns: [{expect: {}}]\n", "conversations[0].turns[0]"),
        (
            "conversations:\n  - name: a\n    turns: [{user: hi, expect: {colour: red}}]\n",
            "conversations[0].turns[0].expect.colour",
        ),
        (
            "conversations:\n  - turns: [{user: hi}]\n  - name: b\n    turns: [{user: hi, "
            "expect: [1]}]\n",
            "conversations[1].turns[0].expect",
        ),
        ("conversations:\n  - name: a\n    steps: []\n", "conversations[0].steps"),
    ],
)
def test_a_malformed_file_names_the_file_and_the_place(
    tmp_path: Path, text: str, place: str
) -> None:
    path = _write(tmp_path, text, "broken.yaml")
    with pytest.raises(ConversationFileError) as info:
        load_file(path)
    message = str(info.value.message)
    assert "broken.yaml" in message
    assert place in message


def test_a_missing_file_is_a_conversation_file_error(tmp_path: Path) -> None:
    with pytest.raises(ConversationFileError, match="no such file"):
        load_file(tmp_path / "nope.yaml")


def test_setup_is_shared_overridden_and_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "setup: {level: L2, faq: my_faq.jsonl, customer: a}\n"
        "conversations:\n"
        "  - name: one\n    setup: {customer: b}\n    turns: [{user: hi}]\n"
        "  - turns: [{user: hi, expect: {decision: chitchat}}]\n",
    )
    one, two = load_file(path)
    assert one.setup["customer"] == "b" and two.setup["customer"] == "a"
    assert one.setup["faq"] == str((tmp_path / "my_faq.jsonl").resolve())
    assert two.name == "conversations[1]"
    assert two.turns[0] == Turn("hi", {"decision": "chitchat"})


# -- checking --------------------------------------------------------------------------------------
def _turn(**over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "replies": [{"text": "Order #D1 is Delivered."}, {"text": "Anything else?"}],
        "decision": "flow",
        "intent": "order_status",
        "faq_id": None,
        "handoff": False,
        "handoff_reason": None,
        "flow": None,
        "slots": {"order_id": "#D1"},
        "citations": [{"doc_id": "d1", "section": "退货"}],
        "operations": [{"operation": "order_details", "ok": True}],
        "emotion": {"label": "neutral"},
        "suggestions": [],
        "confidence": 0.9,
    }
    out.update(over)
    return out


def test_check_passes_when_everything_matches() -> None:
    expect = {
        "decision": "flow",
        "intent": "order_status",
        "flow": None,
        "slots": {"order_id": "#D1"},
        "reply_contains": ["delivered", "ANYTHING ELSE"],  # case insensitive, across replies
        "reply_not_contains": "cancelled",
        "faq_id": None,
        "handoff": False,
        "citations": 1,
        "operations": ["order_details"],
        "emotion": "neutral",
        "suggestions": 0,
        "confidence_min": 0.5,
    }
    assert check(expect, _turn()) == []


@pytest.mark.parametrize(
    ("expect", "fragment"),
    [
        ({"decision": "answer"}, "decision: expected 'answer', got 'flow'"),
        ({"intent": "cancel"}, "intent: expected 'cancel'"),
        ({"flow": "order_status"}, "flow: expected 'order_status', got None"),
        ({"faq_id": "ship-001"}, "faq_id: expected 'ship-001'"),
        ({"handoff": True}, "handoff: expected True, got False"),
        ({"handoff_reason": "emotion"}, "handoff_reason: expected 'emotion'"),
        ({"slots": {"order_id": "#D2"}}, "slot order_id: expected '#D2', got '#D1'"),
        ({"slots": {"item": "x"}}, "slot item: expected 'x', got None"),
        ({"reply_contains": ["shipped"]}, "reply does not contain 'shipped'"),
        ({"reply_contains": "shipped"}, "reply does not contain 'shipped'"),
        ({"reply_not_contains": ["#d1"]}, "reply contains '#d1'"),
        ({"citations": 2}, "citations: expected at least 2, got 1"),
        ({"citations": [{"doc_id": "d2"}]}, "citation {'doc_id': 'd2'} missing"),
        ({"operations": ["tracking"]}, "operation 'tracking' did not run"),
        ({"emotion": "negative"}, "emotion: expected 'negative', got 'neutral'"),
        ({"suggestions": 2}, "suggestions: expected at least 2, got 0"),
        ({"confidence_min": 0.95}, "confidence 0.9 < 0.95"),
    ],
)
def test_check_reports_each_kind_of_mismatch(expect: dict[str, Any], fragment: str) -> None:
    problems = check(expect, _turn())
    assert len(problems) == 1, problems
    assert fragment in problems[0]


def test_check_reports_every_problem_of_a_turn() -> None:
    problems = check({"decision": "answer", "handoff": True, "reply_contains": ["x"]}, _turn())
    assert len(problems) == 3


# -- JUnit -----------------------------------------------------------------------------------------
def test_junit_has_one_testcase_per_conversation_and_a_failure_for_a_failing_one() -> None:
    ok = ScriptedConversation("suite/zh_a.yaml", "passes", {}, (Turn("hi", {}),))
    bad = ScriptedConversation("suite/zh_a.yaml", "fails", {}, (Turn("hi", {}), Turn("x", {})))
    broken = ScriptedConversation("suite/en_b.yaml", "errors", {}, (Turn("hi", {}),))
    results = [
        ConversationResult(ok, seconds=0.5),
        ConversationResult(
            bad, [TurnFailure(2, "x", ["decision: expected 'answer', got 'fallback'"], "sorry")]
        ),
        ConversationResult(broken, error="unknown shop"),
    ]
    root = ET.fromstring(junit_xml(results))
    assert root.tag == "testsuite"
    assert root.get("tests") == "3" and root.get("failures") == "1" and root.get("errors") == "1"
    cases = root.findall("testcase")
    assert [(c.get("classname"), c.get("name")) for c in cases] == [
        ("zh_a", "passes"),
        ("zh_a", "fails"),
        ("en_b", "errors"),
    ]
    assert cases[0].find("failure") is None and cases[0].find("error") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert "turn 2" in (failure.get("message") or "")
    assert "decision: expected 'answer'" in (failure.get("message") or "")
    assert "user: x" in (failure.text or "") and "bot: sorry" in (failure.text or "")
    error = cases[2].find("error")
    assert error is not None and error.get("message") == "unknown shop"


# -- a tiny suite through the real runner and the CLI ---------------------------------------------
FAQ = [
    {
        "id": "ship-fee",
        "question": "运费怎么算",
        "similar_questions": ["邮费多少钱", "包邮吗", "满多少包邮"],
        "answer": "全场满99元包邮，不满99元收取运费8元。",
        "language": "zh",
    },
    {
        "id": "refund-time",
        "question": "退款多久到账",
        "similar_questions": ["退款什么时候到", "钱什么时候退回来"],
        "answer": "退款1-3个工作日原路退回。",
        "language": "zh",
    },
]

PASSING = """
setup: {level: L1, shop: none, faq: faq.jsonl}
conversations:
  - name: 运费
    turns:
      - user: 运费怎么算
        expect: {decision: answer, faq_id: ship-fee, reply_contains: [包邮]}
      - user: 谢谢
        expect: {decision: chitchat, intent: thanks}
"""

FAILING = """
setup: {level: L1, shop: none, faq: faq.jsonl}
conversations:
  - name: 运费答成退款
    turns:
      - user: 运费怎么算
        expect: {faq_id: refund-time, reply_contains: [原路退回]}
"""


def _tiny_suite(tmp_path: Path, failing: bool) -> Path:
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "faq.jsonl").write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in FAQ) + "\n", encoding="utf-8"
    )
    (folder / "a_pass.yaml").write_text(PASSING, encoding="utf-8")
    if failing:
        (folder / "b_fail.yaml").write_text(FAILING, encoding="utf-8")
    return folder


def test_runner_runs_a_tiny_suite_without_embeddings(tmp_path: Path) -> None:
    folder = _tiny_suite(tmp_path, failing=True)
    convs = [c for f in discover([folder]) for c in load_file(f)]
    runner = Runner(None, workdir=tmp_path / "work")
    try:
        results = list(runner.run_all(convs))
    finally:
        runner.close()
    assert [r.passed for r in results] == [True, False]
    (failure,) = results[1].failures
    assert failure.turn == 1
    assert any("faq_id: expected 'refund-time', got 'ship-fee'" in p for p in failure.problems)
    assert "包邮" in failure.replies


def _kefu(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KEFU_DATA_DIR": str(tmp_path / "data"),
        "KEFU_EMBEDDER": "none",
    }
    env.pop("KEFU_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "kefu.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_cli_exits_1_on_a_failing_conversation_and_writes_junit(tmp_path: Path) -> None:
    folder = _tiny_suite(tmp_path, failing=True)
    junit = tmp_path / "report.xml"
    proc = _kefu(tmp_path, "test", str(folder), "--junit", str(junit))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1/2 conversations passed" in proc.stdout
    assert "运费答成退款" in proc.stdout
    root = ET.fromstring(junit.read_bytes())
    cases = root.findall("testcase")
    assert len(cases) == 2
    failing = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failing] == ["运费答成退款"]


def test_cli_exits_0_when_every_conversation_passes(tmp_path: Path) -> None:
    folder = _tiny_suite(tmp_path, failing=False)
    proc = _kefu(tmp_path, "test", str(folder), "-v")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1/1 conversations passed" in proc.stdout


def test_cli_reports_a_malformed_file_with_its_place(tmp_path: Path) -> None:
    bad = _write(tmp_path, "conversations:\n  - name: a\n    turns: []\n", "bad.yaml")
    proc = _kefu(tmp_path, "test", str(bad))
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "bad.yaml" in out and "conversations[0].turns" in out
