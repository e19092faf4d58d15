"""The ``kefu`` command, run as a real subprocess against a real data directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.kb_small import small_kb

from kefu.knowledge.kb_io import write_faq_file


def test_tenant_create_is_idempotent_and_settable(kefu) -> None:  # type: ignore[no-untyped-def]
    assert "created" in kefu("tenant", "create", "shop-a", "--level", "L2").stdout
    again = kefu("tenant", "create", "shop-a", "--level", "L3", "--language", "en").stdout
    assert "exists" in again
    listed = json.loads(kefu("tenant", "list", "--json").stdout)
    assert [(t["name"], t["level"], t["language"]) for t in listed] == [("shop-a", "L3", "en")]
    kefu("tenant", "set", "shop-a", "answer_threshold", "0.7")
    kefu("tenant", "set", "shop-a", "template.greeting", '{"zh": "亲，您好", "en": "Hey"}')
    shown = json.loads(kefu("tenant", "show", "shop-a", "--json").stdout)["settings"]
    assert shown["answer_threshold"] == 0.7
    assert shown["template.greeting"] == {"zh": "亲，您好", "en": "Hey"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tenant", "set", "shop-a", "answer_threshold", "1.5"), "must be <= 1"),
        (("tenant", "set", "shop-a", "no_such", "1"), "unknown setting 'no_such'"),
        (("tenant", "set", "shop-a", "level", "L9"), "must be one of L1, L2, L3"),
        (("tenant", "show", "ghost"), "unknown tenant: 'ghost'"),
        (("tenant", "create", "Bad Name"), "invalid tenant name"),
    ],
)
def test_bad_cli_input_is_a_clear_error(kefu, args, message) -> None:  # type: ignore[no-untyped-def]
    kefu("tenant", "create", "shop-a")
    proc = kefu(*args, ok=False)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_kb_import_export_round_trip(kefu, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kefu("tenant", "create", "shop")
    src = tmp_path / "kb.xlsx"
    write_faq_file(small_kb(), src)
    out = kefu("kb", "import", "--tenant", "shop", str(src)).stdout
    assert "imported 10 rows (8 FAQs)" in out and "10 new" in out
    again = kefu("kb", "import", "--tenant", "shop", str(src)).stdout
    assert "0 new, 10 updated" in again
    exported = tmp_path / "out.csv"
    kefu("kb", "export", "--tenant", "shop", "--format", "csv", "--output", str(exported))
    from kefu.knowledge.kb_io import read_faq_file

    key = lambda e: (e.id, e.language)  # noqa: E731
    assert sorted(read_faq_file(exported), key=key) == sorted(small_kb(), key=key)


def test_kb_import_bad_row_aborts_and_writes_nothing(kefu, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kefu("tenant", "create", "shop")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,question,similar_questions,answer\na1,运费多少,邮费|包邮吗,满99包邮\na2,多久发货,,\n",
        encoding="utf-8",
    )
    proc = kefu("kb", "import", "--tenant", "shop", str(bad), ok=False)
    assert proc.returncode == 2
    assert "bad.csv" in proc.stderr and "row 3" in proc.stderr and "'answer'" in proc.stderr
    listed = json.loads(kefu("kb", "list", "--tenant", "shop", "--json").stdout)
    assert listed == []


def test_eval_faq_reports_the_metrics(kefu, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kefu("tenant", "create", "shop")
    src = tmp_path / "kb.json"
    write_faq_file(small_kb(), src)
    kefu("kb", "import", "--tenant", "shop", str(src))
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        "\n".join(
            json.dumps(q, ensure_ascii=False)
            for q in [
                {"query": "运费怎么算", "expected": "ship-fee"},
                {"query": "怎么开发票", "expected": "invoice"},
                {"query": "今天天气怎么样", "expected": None},
            ]
        ),
        encoding="utf-8",
    )
    data = json.loads(
        kefu("eval", "faq", "--tenant", "shop", "--queries", str(queries), "--json").stdout
    )
    assert data["n"] == 3 and data["n_in_scope"] == 2 and data["n_oos"] == 1
    assert data["top1_accuracy"] == 1.0 and data["answer_accuracy"] == 1.0
    assert data["oos_rejection_rate"] == 1.0 and data["wrong_answer_rate"] == 0.0
    assert data["decisions"]["answer"] == 2


def test_settings_command_lists_the_table(kefu) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(kefu("settings", "--json").stdout)
    names = [s["name"] for s in data]
    assert "answer_threshold" in names and "template.fallback" in names


def test_chat_in_the_terminal(kefu, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kefu("tenant", "create", "shop")
    src = tmp_path / "kb.jsonl"
    write_faq_file(small_kb(), src)
    kefu("kb", "import", "--tenant", "shop", str(src))
    proc = subprocess.run(
        [sys.executable, "-m", "kefu.cli", "chat", "--tenant", "shop"],
        input="你好\n怎么开发票\n转人工\n\n",
        env=kefu.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "欢迎光临" in out and "您好！请问有什么可以帮您？" in out
    assert "在订单详情页点击“申请发票”即可开具电子发票。" in out
    assert "answer · invoice" in out and "handoff" in out


def test_eval_intents_json_keys(kefu, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rows = {
        "refund": [
            "where is my refund",
            "refund not received",
            "money back status",
            "when will i get my refund",
        ],
        "card": ["my card arrived broken", "card is damaged", "new card please", "replace my card"],
        "oos": ["what is the weather", "tell me a joke", "who won the game", "play music"],
    }
    train = tmp_path / "train.csv"
    test = tmp_path / "test.jsonl"
    train.write_text(
        "text,category\n"
        + "".join(f"{t},{label}\n" for label, texts in rows.items() for t in texts[:3]),
        encoding="utf-8",
    )
    test.write_text(
        "".join(
            json.dumps({"text": texts[3], "category": label}) + "\n"
            for label, texts in rows.items()
        ),
        encoding="utf-8",
    )
    data = json.loads(
        kefu(
            "eval",
            "intents",
            "--train",
            str(train),
            "--test",
            str(test),
            "--oos-label",
            "oos",
            "--json",
        ).stdout
    )
    assert {"accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision", "n"} <= set(
        data
    )
    assert data["n"] == 3 and 0.0 <= data["accuracy"] <= 1.0
    bad = kefu(
        "eval", "intents", "--train", str(train), "--test", str(tmp_path / "none.csv"), ok=False
    )
    assert bad.returncode == 2 and "none.csv" in bad.stderr


def test_error_messages_are_printed_verbatim_not_as_markup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Brackets in an error (an extra's name, a placeholder) are text, not rich markup."""
    import typer

    from kefu.cli.common import handle_errors
    from kefu.errors import InvalidInputError

    @handle_errors
    def fail() -> None:
        raise InvalidInputError("run pip install 'kefu[llm-local]' first; saw [PHONE_1] [/]")

    with pytest.raises(typer.Exit):
        fail()
    err = capsys.readouterr().err
    assert "pip install 'kefu[llm-local]' first; saw [PHONE_1] [/]" in err
