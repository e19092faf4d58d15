from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from kefu.domain.faq import FAQ_FIELDS, FaqEntry
from kefu.errors import InvalidInputError, KbImportError
from kefu.knowledge.kb_io import SUPPORTED_FORMATS, dump_faq, read_faq_file, write_faq_file

ENTRIES = [
    FaqEntry(
        id="ship-001",
        question="多久发货？",
        similar_questions=("什么时候发货", "发货时间, 大概多久"),
        answer='一般 48 小时内发货。\n如遇"双十一"，顺延 1–2 天, 请耐心等待。',
        category="物流",
        language="zh",
        tags=("发货", "物流"),
        enabled=True,
        valid_from=datetime(2026, 1, 1, 0, 0),
        valid_until=datetime(2026, 1, 31, 23, 59, 59, 999999),
    ),
    FaqEntry(
        id="ship-001", question="When do you ship?", answer='Within 48h, "usually".', language="en"
    ),
    FaqEntry(
        id="ret.7:a_b",
        question="能退货吗",
        answer="=SUM(A1:A2) 不是公式\n\n第二段, 含逗号和 'quotes'",
        tags=("售后",),
        enabled=False,
        valid_from=datetime(2026, 3, 1, 8, 30, 15, 123456),
    ),
]


ID_RULE = "use letters, digits and _ . : - (starting with a letter or digit)"


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                ws.cell(row=r, column=c, value=value)
    wb.save(path)
    return path


def expect_error(path: Path, row: int | None, field: str | None, problem: str) -> None:
    with pytest.raises(KbImportError) as info:
        read_faq_file(path)
    err = info.value
    where = str(path) if row is None else f"{path}, row {row}"
    if field is not None:
        where += f", field {field!r}"
    assert str(err) == f"{where}: {problem}"
    assert (err.file, err.row, err.field, err.problem) == (str(path), row, field, problem)


def csv_with(tmp_path: Path, **values: str) -> Path:
    """A CSV with one valid row (row 2) overridden by ``values``."""
    base = {"id": "q1", "question": "问题", "answer": "答案"}
    base.update(values)
    names = list(base)
    return write_csv(tmp_path / "kb.csv", [names, [base[n] for n in names]])


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".json", ".jsonl", ".ndjson", ".xlsx"])
def test_round_trip_every_format(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"faq{suffix}"
    write_faq_file(ENTRIES, path)
    assert read_faq_file(path) == ENTRIES
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left behind


def test_supported_formats() -> None:
    assert SUPPORTED_FORMATS == ("csv", "json", "jsonl", "xlsx")


def test_csv_dump_has_bom_header_and_pipe_lists() -> None:
    data = dump_faq(ENTRIES, "csv")
    assert data.startswith(b"\xef\xbb\xbfid,question,similar_questions,answer,")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(FAQ_FIELDS)
    assert rows[1][2] == "什么时候发货|发货时间, 大概多久"
    assert rows[1][7:] == ["true", "2026-01-01T00:00:00", "2026-01-31T23:59:59.999999"]
    assert rows[3][7:] == ["false", "2026-03-01T08:30:15.123456", ""]


def test_json_dump_is_readable_utf8_with_lists() -> None:
    doc = json.loads(dump_faq(ENTRIES, "json").decode("utf-8"))
    assert "多久发货" in dump_faq(ENTRIES, "json").decode("utf-8")
    assert list(doc[0]) == list(FAQ_FIELDS)
    assert doc[0]["similar_questions"] == ["什么时候发货", "发货时间, 大概多久"]
    assert doc[1]["valid_from"] is None
    lines = dump_faq(ENTRIES, "jsonl").decode("utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["ship-001", "ship-001", "ret.7:a_b"]


def test_xlsx_dump_keeps_formula_like_text_as_text() -> None:
    wb = openpyxl.load_workbook(io.BytesIO(dump_faq(ENTRIES, "xlsx")))
    ws = wb.worksheets[0]
    assert [c.value for c in ws[1]] == list(FAQ_FIELDS)
    assert ws.cell(row=4, column=4).data_type == "s"
    assert ws.cell(row=4, column=4).value.startswith("=SUM(A1:A2)")


def test_dump_rejects_unknown_format_and_pipe_in_items() -> None:
    with pytest.raises(InvalidInputError) as unknown:
        dump_faq(ENTRIES, "xml")
    assert str(unknown.value) == "unsupported format 'xml'; supported: csv, json, jsonl, xlsx"
    bad = FaqEntry(id="a", question="q", answer="a", tags=("x|y",))
    with pytest.raises(InvalidInputError) as info:
        dump_faq([bad], "csv")
    assert str(info.value) == "FAQ 'a': tags item 'x|y' contains '|'"
    assert info.value.field == "tags"


# --- encodings and spreadsheets --------------------------------------------------------------


def test_csv_with_bom_written_by_hand(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bom.csv", [["id", "question", "answer"], ["a1", "你好", "您好"]])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert read_faq_file(path) == [FaqEntry(id="a1", question="你好", answer="您好")]


def test_gbk_csv_from_chinese_excel(tmp_path: Path) -> None:
    rows = [
        ["id", "question", "answer", "category", "language", "tags", "enabled"],
        ["p1", "支持开发票吗", "支持，下单时填写抬头。", "发票", "中文", "发票|售后", "是"],
    ]
    path = write_csv(tmp_path / "gbk.csv", rows, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    assert read_faq_file(path) == [
        FaqEntry(
            id="p1",
            question="支持开发票吗",
            answer="支持，下单时填写抬头。",
            category="发票",
            language="zh",
            tags=("发票", "售后"),
        )
    ]


def test_csv_undecodable(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,question,answer\n\xff\xff,x,y\n")
    expect_error(path, None, None, "CSV is neither UTF-8 nor GBK/GB18030 text")


def test_xlsx_written_with_openpyxl(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "question", "answer", "enabled", "valid_from", "valid_until", "language"])
    ws.append([1001, "  运费多少？ ", "满 99 包邮", False, datetime(2026, 2, 1, 9, 0), None, "EN"])
    ws.append([None, None, None])  # blank row 3: skipped but counted
    ws.append(["x2", "q", "a", "停用", "2026-01-01", datetime(2026, 2, 28), "zh-CN"])
    ws.cell(row=4, column=6).number_format = "yyyy-mm-dd"  # a date-only cell
    path = tmp_path / "kb.xlsx"
    wb.save(path)
    assert read_faq_file(path) == [
        FaqEntry(
            id="1001",
            question="运费多少？",
            answer="满 99 包邮",
            enabled=False,
            language="en",
            valid_from=datetime(2026, 2, 1, 9, 0),
        ),
        FaqEntry(
            id="x2",
            question="q",
            answer="a",
            enabled=False,
            valid_from=datetime(2026, 1, 1, 0, 0),
            valid_until=datetime(2026, 2, 28, 23, 59, 59, 999999),
        ),
    ]


def test_xlsx_row_numbers_in_errors(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "kb.xlsx",
        [["id", "question", "answer"], ["a", "q", "x"], [None], ["b", "q", None]],
    )
    expect_error(path, 4, "answer", "is required")


def test_xlsx_unknown_column_and_garbage(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "kb.xlsx", [["id", "questoin", "answer"], ["a", "q", "x"]])
    expect_error(
        path,
        1,
        "questoin",
        "unknown column 'questoin'; did you mean 'question'? expected: " + ", ".join(FAQ_FIELDS),
    )
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a zip")
    expect_error(junk, None, None, "not a readable .xlsx workbook")


# --- normalisation ---------------------------------------------------------------------------


def test_strings_stripped_and_similar_cleaned(tmp_path: Path) -> None:
    path = csv_with(
        tmp_path,
        id=" q1 ",
        question=" 怎么退款 ",
        similar_questions=" 如何退款 || 怎么退款 |如何退款| 退款流程 |",
        answer="\r\n 原路退回\r\n3 天到账 ",
        tags="a| b |a|",
        category=" 售后 ",
    )
    assert read_faq_file(path) == [
        FaqEntry(
            id="q1",
            question="怎么退款",
            similar_questions=("如何退款", "退款流程"),
            answer="原路退回\n3 天到账",
            category="售后",
            tags=("a", "b"),
        )
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("zh", "zh"),
        ("ZH", "zh"),
        ("zh-CN", "zh"),
        ("zh_CN", "zh"),
        ("zh-Hans", "zh"),
        ("zh-TW", "zh"),
        ("cn", "zh"),
        ("中文", "zh"),
        ("", "zh"),
        ("En", "en"),
        ("en-US", "en"),
        ("en_GB", "en"),
        ("English", "en"),
        ("英文", "en"),
    ],
)
def test_language_aliases(tmp_path: Path, raw: str, expected: str) -> None:
    assert read_faq_file(csv_with(tmp_path, language=raw))[0].language == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("FALSE", False),
        ("1", True),
        ("0", False),
        ("Yes", True),
        ("no", False),
        ("Y", True),
        ("n", False),
        ("是", True),
        ("否", False),
        ("启用", True),
        ("停用", False),
        ("", True),
    ],
)
def test_enabled_values(tmp_path: Path, raw: str, expected: bool) -> None:
    assert read_faq_file(csv_with(tmp_path, enabled=raw))[0].enabled is expected


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "expected_from", "expected_until"),
    [
        (
            "2026-01-31",
            "2026-01-31",
            datetime(2026, 1, 31),
            datetime(2026, 1, 31, 23, 59, 59, 999999),
        ),
        ("2026-01-31T08:00:00+08:00", "", datetime(2026, 1, 31, 0, 0), None),
        ("2026-01-31T08:00:00Z", "", datetime(2026, 1, 31, 8, 0), None),
        ("", "2026-02-01 10:30", None, datetime(2026, 2, 1, 10, 30)),
        (
            "2026-02-01T10:30:00-05:00",
            "2026-02-01T15:30:00",
            datetime(2026, 2, 1, 15, 30),
            datetime(2026, 2, 1, 15, 30),
        ),
    ],
)
def test_validity_dates(
    tmp_path: Path,
    valid_from: str,
    valid_until: str,
    expected_from: datetime | None,
    expected_until: datetime | None,
) -> None:
    entry = read_faq_file(csv_with(tmp_path, valid_from=valid_from, valid_until=valid_until))[0]
    assert (entry.valid_from, entry.valid_until) == (expected_from, expected_until)


def test_json_accepts_pipe_string_for_lists_and_nulls(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    doc = [
        {
            "id": "a",
            "question": "q",
            "answer": "x",
            "similar_questions": "s1|s2",
            "tags": None,
            "enabled": "no",
            "valid_until": None,
            "language": None,
        }
    ]
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert read_faq_file(path) == [
        FaqEntry(id="a", question="q", answer="x", similar_questions=("s1", "s2"), enabled=False)
    ]


def test_same_id_in_two_languages_is_fine(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "kb.csv",
        [["id", "question", "answer", "language"], ["a", "问", "答", "zh"], ["a", "Q", "A", "en"]],
    )
    assert [(e.id, e.language) for e in read_faq_file(path)] == [("a", "zh"), ("a", "en")]


def test_progress_called_at_start_and_end(tmp_path: Path) -> None:
    path = tmp_path / "kb.jsonl"
    write_faq_file(ENTRIES, path)
    calls: list[tuple[int, int]] = []
    read_faq_file(path, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 3)
    assert calls[-1] == (3, 3)
    assert calls == sorted(calls)


def test_progress_on_error_never_reaches_end(tmp_path: Path) -> None:
    rows = (
        [["id", "question", "answer"]] + [[f"q{i}", "q", "a"] for i in range(50)] + [["", "q", "a"]]
    )
    path = write_csv(tmp_path / "kb.csv", rows)
    calls: list[tuple[int, int]] = []
    with pytest.raises(KbImportError, match="row 52, field 'id': is required"):
        read_faq_file(path, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 51)
    assert (51, 51) not in calls


# --- errors ----------------------------------------------------------------------------------


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "kb.txt"
    path.write_text("id,question,answer\n", encoding="utf-8")
    expect_error(
        path,
        None,
        None,
        "unsupported file type '.txt'; supported formats: .csv, .json, .jsonl, .ndjson, .xlsx",
    )


def test_missing_file(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.csv", None, None, "cannot read file: No such file or directory")


def test_csv_unknown_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "kb.csv", [["id", "questoin", "answer"], ["a", "q", "x"]])
    expect_error(
        path,
        1,
        "questoin",
        "unknown column 'questoin'; did you mean 'question'? expected: " + ", ".join(FAQ_FIELDS),
    )


def test_csv_header_problems(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "kb.csv", [["id", "question", "category"], ["a", "q", "c"]])
    expect_error(path, 1, "answer", "missing required column")
    path = write_csv(
        tmp_path / "kb.csv", [["id", "question", "answer", "id"], ["a", "q", "x", "b"]]
    )
    expect_error(path, 1, "id", "duplicate column")
    path = write_csv(tmp_path / "kb.csv", [["id", "question", "answer"], ["a", "q", "x", "extra"]])
    expect_error(path, 2, None, "column 4 has a value but no header")


def test_csv_trailing_empty_columns_are_ignored(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "kb.csv", [["id", "question", "answer", "", ""], ["a", "q", "x", "", ""]]
    )
    assert read_faq_file(path) == [FaqEntry(id="a", question="q", answer="x")]


def test_csv_row_numbers_count_multiline_records(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "kb.csv",
        [["id", "question", "answer"], ["a", "q", "line1\nline2\nline3"], ["b", "q", "  "]],
    )
    expect_error(path, 3, "answer", "is required")


@pytest.mark.parametrize(
    ("values", "field", "problem"),
    [
        ({"id": ""}, "id", "is required"),
        ({"question": "  "}, "question", "is required"),
        ({"answer": ""}, "answer", "is required"),
        ({"id": "a" * 65}, "id", "is 65 characters long; the limit is 64"),
        (
            {"id": "退款-1"},
            "id",
            "invalid id '退款-1': " + ID_RULE,
        ),
        (
            {"id": "-a"},
            "id",
            "invalid id '-a': " + ID_RULE,
        ),
        ({"question": "问" * 501}, "question", "is 501 characters long; the limit is 500"),
        ({"answer": "答" * 5001}, "answer", "is 5001 characters long; the limit is 5000"),
        (
            {"similar_questions": "ok|" + "长" * 501},
            "similar_questions",
            "item 2 is 501 characters long; the limit is 500",
        ),
        (
            {"similar_questions": "|".join(f"s{i}" for i in range(101))},
            "similar_questions",
            "has 101 items; the limit is 100",
        ),
        ({"language": "fr"}, "language", "unsupported language 'fr'; use zh or en"),
        ({"enabled": "maybe"}, "enabled", "expected true or false, got 'maybe'"),
        (
            {"valid_from": "31/01/2026"},
            "valid_from",
            "expected an ISO date or date-time, got '31/01/2026'",
        ),
        (
            {"valid_from": "2026-02-01", "valid_until": "2026-01-31"},
            "valid_until",
            "2026-01-31T23:59:59.999999 is before valid_from 2026-02-01T00:00:00",
        ),
        ({"answer": "a\x07b"}, "answer", "contains control character U+0007"),
    ],
)
def test_csv_field_errors(tmp_path: Path, values: dict[str, str], field: str, problem: str) -> None:
    expect_error(csv_with(tmp_path, **values), 2, field, problem)


def test_limits_are_inclusive(tmp_path: Path) -> None:
    path = csv_with(
        tmp_path,
        id="a" * 64,
        question="问" * 500,
        answer="答" * 5000,
        similar_questions="|".join(f"s{i}" for i in range(100)),
    )
    entry = read_faq_file(path)[0]
    assert (len(entry.id), len(entry.similar_questions)) == (64, 100)


def test_duplicate_id_names_first_row(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "kb.csv",
        [
            ["id", "question", "answer", "language"],
            ["a", "q1", "x", "zh"],
            ["b", "q2", "x", "zh"],
            ["a", "q3", "x", "zh-CN"],
        ],
    )
    expect_error(path, 4, "id", "duplicate id 'a' for language 'zh'; first defined at row 2")


def test_json_errors(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    path.write_text('{"id": "a"}', encoding="utf-8")
    expect_error(path, None, None, "expected a JSON list of FAQ objects, got an object")
    path.write_text('[{"id": "a", "question": "q", "answer": "x"}, ["a"]]', encoding="utf-8")
    expect_error(path, 2, None, "expected a JSON object, got a list")
    path.write_text('[\n{"id": "a",\n "question": }\n]', encoding="utf-8")
    expect_error(path, None, None, "invalid JSON at line 3, column 14: Expecting value")
    path.write_text('[{"id": "a", "question": 42, "answer": "x"}]', encoding="utf-8")
    expect_error(path, 1, "question", "expected text, got a number")
    path.write_text(
        '[{"id": "a", "question": "q", "answer": "x", "tags": ["t", 3]}]', encoding="utf-8"
    )
    expect_error(path, 1, "tags", "item 2 is a number, not text")
    path.write_text(
        '[{"id": "a", "question": "q", "answer": "x", "tags": ["a|b"]}]', encoding="utf-8"
    )
    expect_error(path, 1, "tags", "item 1 contains '|'")
    path.write_text('[{"id": "a", "question": "q", "answer": "x", "enabled": 1}]', encoding="utf-8")
    expect_error(path, 1, "enabled", "expected text, got a number")
    path.write_text(
        '[{"id": "a", "question": "q", "answer": "x", "valid_from": 5}]', encoding="utf-8"
    )
    expect_error(path, 1, "valid_from", "expected an ISO date or date-time, got a number")
    path.write_text('[{"id": "a", "qestion": "q", "answer": "x"}]', encoding="utf-8")
    expect_error(
        path,
        1,
        "qestion",
        "unknown field 'qestion'; did you mean 'question'? expected: " + ", ".join(FAQ_FIELDS),
    )
    path.write_text('[{"id": "a", "answer": "x"}]', encoding="utf-8")
    expect_error(path, 1, "question", "is required")


def test_jsonl_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "kb.jsonl"
    good = json.dumps({"id": "a", "question": "q", "answer": "x"})
    path.write_text(f"{good}\n\n\n{{broken\n", encoding="utf-8")
    expect_error(
        path, 4, None, "invalid JSON at column 2: Expecting property name enclosed in double quotes"
    )
    path.write_text(f"\n{good}\n\n{good}\n", encoding="utf-8")
    expect_error(path, 4, "id", "duplicate id 'a' for language 'zh'; first defined at row 2")
    path.write_text(f"{good}\n42\n", encoding="utf-8")
    expect_error(path, 2, None, "expected a JSON object, got a number")


def test_jsonl_keeps_unicode_line_separators_inside_values(tmp_path: Path) -> None:
    entry = FaqEntry(id="a", question="q", answer="第一行\u2028第二行\u0085end")
    path = tmp_path / "kb.jsonl"
    write_faq_file([entry], path)
    assert read_faq_file(path) == [entry]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.csv", b""),
        ("header.csv", b"\xef\xbb\xbfid,question,answer\r\n\r\n"),
        ("empty.json", b"[]"),
        ("blank.json", b"  \n"),
        ("blank.jsonl", b"\n\n  \n"),
    ],
)
def test_empty_files(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    expect_error(path, None, None, "no FAQ entries")


def test_empty_xlsx(tmp_path: Path) -> None:
    expect_error(write_xlsx(tmp_path / "empty.xlsx", []), None, None, "no FAQ entries")
    path = write_xlsx(tmp_path / "header.xlsx", [["id", "question", "answer"]])
    expect_error(path, None, None, "no FAQ entries")


def test_malformed_csv_quote(tmp_path: Path) -> None:
    path = tmp_path / "kb.csv"
    path.write_text('id,question,answer\na,"q"x,y\n', encoding="utf-8")
    expect_error(path, 2, None, "malformed CSV: ',' expected after '\"'")


def test_read_write_read_is_stable_from_loose_input(tmp_path: Path) -> None:
    """read -> write -> read is stable for every format, starting from loose input."""
    path = csv_with(
        tmp_path,
        question=" 问 ",
        similar_questions="甲|甲|问",
        language="zh_CN",
        enabled="否",
        valid_until="2026-12-31",
    )
    entries = read_faq_file(path)
    for fmt in SUPPORTED_FORMATS:
        out = tmp_path / f"out.{fmt}"
        write_faq_file(entries, out)
        assert read_faq_file(out) == entries
    assert entries[0].valid_until == datetime.combine(date(2026, 12, 31), datetime.max.time())
