"""Document parsing (each format), sentence splitting and chunking; bad files name the file and
the place."""

from __future__ import annotations

import io
import itertools
import zipfile
from pathlib import Path

import pytest

from kefu.errors import DocumentImportError
from kefu.knowledge.doc_chunk import chunk_sections, prepare_document, split_sentences
from kefu.knowledge.doc_parse import ParsedDocument, Section, numbered_heading, parse_document

ROOT = Path(__file__).resolve().parent.parent
DEMO_DOCS = ROOT / "src" / "kefu" / "demo" / "data" / "docs"


def paths(doc: ParsedDocument) -> list[tuple[str, ...]]:
    return [s.path for s in doc.sections]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- Markdown ------------------------------------------------------------------------------------


def test_markdown_atx_setext_lists_tables_and_code(tmp_path: Path) -> None:
    md = write(
        tmp_path,
        "policy.md",
        "# 退货政策\n\n适用于全部商品。\n\n"
        "## 七天无理由退货\n\n签收 7 天内可以退货，\n吊牌需完好。\n\n"
        "- 正常试穿不影响\n- 洗过的不行\n\n"
        "运费说明\n--------\n\n| 情况 | 谁出运费 |\n|---|---|\n"
        "| 质量问题 | **我们** |\n| 无理由 | 您 |\n\n"
        "### 代码\n\n```\n# not a heading\n```\n",
    )
    doc = parse_document(md)
    assert doc.title == "退货政策" and doc.language == "zh" and doc.format == "md"
    assert paths(doc) == [
        ("退货政策",),
        ("退货政策", "七天无理由退货"),
        ("退货政策", "运费说明"),
        ("退货政策", "运费说明", "代码"),
    ]
    assert doc.sections[1].text.splitlines() == [
        "签收 7 天内可以退货，吊牌需完好。",
        "正常试穿不影响",
        "洗过的不行",
    ]
    assert doc.sections[2].text.splitlines() == [
        "情况：质量问题，谁出运费：我们。",
        "情况：无理由，谁出运费：您。",
    ]
    assert doc.sections[3].text == "# not a heading"
    assert doc.sections[1].name == "退货政策 > 七天无理由退货"


def test_markdown_unclosed_code_block_names_the_line(tmp_path: Path) -> None:
    md = write(tmp_path, "broken.md", "# T\n\ntext\n\n```python\nprint(1)\n")
    with pytest.raises(DocumentImportError) as err:
        parse_document(md)
    assert err.value.file == str(md) and err.value.where == "line 5"
    assert "broken.md, line 5" in err.value.message


# -- HTML ----------------------------------------------------------------------------------------


def test_html_headings_paragraphs_lists_tables_and_boilerplate(tmp_path: Path) -> None:
    html = write(
        tmp_path,
        "guide.html",
        "<html><head><title>Guide | Shop</title><style>p{}</style></head><body>"
        "<nav>Home</nav><h1>Shipping Guide</h1><p>Intro &amp; scope.</p>"
        "<h2>Fees</h2><p>Orders over 99 yuan\n ship free.</p><ul><li>One</li><li>Two</li></ul>"
        "<table><tr><th>Region</th><th>Fee</th></tr><tr><td>Tibet</td><td>20 yuan</td></tr>"
        "</table><h3>Remote <em>regions</em></h3><p>Slow.<br>Very slow.</p>"
        "<script>var x = '<h2>no</h2>';</script><footer>(c) shop</footer></body></html>",
    )
    doc = parse_document(html)
    assert doc.title == "Shipping Guide" and doc.language == "en"
    assert paths(doc) == [
        ("Shipping Guide",),
        ("Shipping Guide", "Fees"),
        ("Shipping Guide", "Fees", "Remote regions"),
    ]
    assert doc.sections[0].text == "Intro & scope."
    assert doc.sections[1].text.splitlines() == [
        "Orders over 99 yuan ship free.",
        "One",
        "Two",
        "Region: Tibet; Fee: 20 yuan.",
    ]
    assert doc.sections[2].text.splitlines() == ["Slow.", "Very slow."]
    assert "(c) shop" not in doc.text and "Home" not in doc.text


def test_html_unclosed_heading_names_the_line(tmp_path: Path) -> None:
    html = write(tmp_path, "bad.html", "<h1>Title</h1>\n<p>x</p>\n<h2>Never closed\n<p>y")
    with pytest.raises(DocumentImportError, match=r"bad\.html, line 3: <h2> is never closed"):
        parse_document(html)


# -- plain text ----------------------------------------------------------------------------------


def test_text_numbered_headings_and_title(tmp_path: Path) -> None:
    txt = write(
        tmp_path,
        "配送.txt",
        "小铺配送说明\n\n前言一句话。\n\n一、配送范围\n仅限大陆。\n\n"
        "1. 偏远地区\n新疆运费 20 元。\n"
        "1. 这一行是很长的列表项而不是标题，因为它以句号结尾。\n\n二、运费\n满 99 元包邮。\n"
        "第三条 退款时效：退款原路退回，一般 24 小时内到账。\n",
    )
    doc = parse_document(txt)
    assert doc.title == "小铺配送说明" and doc.format == "txt"
    assert paths(doc) == [
        ("小铺配送说明",),
        ("小铺配送说明", "一、配送范围"),
        ("小铺配送说明", "一、配送范围", "1. 偏远地区"),
        ("小铺配送说明", "二、运费"),
        ("小铺配送说明", "二、运费", "第三条退款时效"),
    ]
    assert "列表项" in doc.sections[2].text
    assert doc.sections[4].text == "退款原路退回，一般 24 小时内到账。"


@pytest.mark.parametrize(
    ("line", "heading"),
    [
        ("一、配送范围", True),
        ("（二）运费", True),
        ("第一章 总则", True),
        ("2.1 Remote regions", True),
        ("Section 3 Returns", True),
        ("1. 在订单中点击申请售后，选择退货退款并填写原因；", False),
        ("99.9% 的订单当天发出", False),
        ("2026 年起执行", False),
    ],
)
def test_numbered_heading_detection(line: str, heading: bool) -> None:
    assert (numbered_heading(line) is not None) is heading


def test_text_in_gb18030_is_read(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    path.write_bytes("标题\n\n一、说明\n这是 GB18030 编码的文本。\n".encode("gb18030"))
    doc = parse_document(path)
    assert doc.sections[-1].path[-1] == "一、说明"


# -- DOCX ----------------------------------------------------------------------------------------


def _docx(path: Path) -> Path:
    from docx import Document

    d = Document()
    d.add_heading("隐私政策", level=0)
    d.add_paragraph("我们重视您的隐私。")
    d.add_heading("收集的信息", level=1)
    d.add_paragraph("手机号和收货地址。", style="List Bullet")
    d.add_heading("Cookie", level=2)
    d.add_paragraph("用于保持登录。")
    table = d.add_table(rows=2, cols=2)
    for (r, c), text in {
        (0, 0): "项目",
        (0, 1): "期限",
        (1, 0): "聊天记录",
        (1, 1): "3 年",
    }.items():
        table.cell(r, c).text = text
    d.save(str(path))
    return path


def test_docx_heading_styles_and_tables(tmp_path: Path) -> None:
    doc = parse_document(_docx(tmp_path / "privacy.docx"))
    assert doc.title == "隐私政策" and doc.format == "docx" and doc.language == "zh"
    assert paths(doc) == [
        ("隐私政策",),
        ("隐私政策", "收集的信息"),
        ("隐私政策", "收集的信息", "Cookie"),
    ]
    assert doc.sections[2].text.splitlines() == ["用于保持登录。", "项目：聊天记录，期限：3 年。"]


def test_corrupt_docx_is_an_error(tmp_path: Path) -> None:
    not_zip = tmp_path / "a.docx"
    not_zip.write_bytes(b"PK\x03\x04 this is not really a zip file")
    with pytest.raises(DocumentImportError, match=r"a\.docx: .*DOCX"):
        parse_document(not_zip)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "no word document in here")
    wrong = tmp_path / "b.docx"
    wrong.write_bytes(buf.getvalue())
    with pytest.raises(DocumentImportError, match=r"b\.docx"):
        parse_document(wrong)


# -- PDF -----------------------------------------------------------------------------------------


def _pdf(path: Path, *, sized_headings: bool = True, password: str | None = None) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(auto=True, margin=20)
    if password is not None:
        pdf.set_encryption(owner_password="owner", user_password=password)
    body = "Items are repaired within 5 to 7 working days. " * 6
    blocks = [
        ("t", "Warranty Policy"),
        ("p", "This policy covers electronic accessories."),
        ("h", "1. Warranty Period"),
        ("p", "The warranty lasts one year from delivery."),
        ("h", "2. Repairs"),
        ("p", body),
    ]
    pdf.add_page()
    for page in range(2):
        if page:
            pdf.add_page()
            blocks = [("h", "3. Genuine Products"), ("p", "All products are genuine.")]
        for kind, text in blocks:
            size = {"t": 18, "h": 13, "p": 10}[kind] if sized_headings else 10
            pdf.set_font(
                "Helvetica", style="B" if kind != "p" and sized_headings else "", size=size
            )
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        pdf.set_y(-15)
        pdf.set_font("Helvetica", size=8)
        pdf.cell(0, 10, f"Page {page + 1}", align="C")
    pdf.output(str(path))
    return path


def test_pdf_headings_from_font_sizes(tmp_path: Path) -> None:
    doc = parse_document(_pdf(tmp_path / "w.pdf"))
    assert doc.title == "Warranty Policy" and doc.format == "pdf" and doc.language == "en"
    assert paths(doc) == [
        ("Warranty Policy",),
        ("Warranty Policy", "1. Warranty Period"),
        ("Warranty Policy", "2. Repairs"),
        ("Warranty Policy", "3. Genuine Products"),
    ]
    repairs = doc.sections[2].text
    assert repairs.startswith("Items are repaired") and "\n" not in repairs  # wrapped lines joined
    assert "Page 1" not in doc.text


def test_pdf_without_font_cues_uses_numbering(tmp_path: Path) -> None:
    doc = parse_document(_pdf(tmp_path / "plain.pdf", sized_headings=False))
    assert [p[-1] for p in paths(doc)][1:] == [
        "1. Warranty Period",
        "2. Repairs",
        "3. Genuine Products",
    ]


def test_encrypted_pdf_is_an_error(tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "secret.pdf", password="s3cret")
    with pytest.raises(DocumentImportError, match=r"secret\.pdf: encrypted PDF"):
        parse_document(pdf)


def test_corrupt_pdf_is_an_error(tmp_path: Path) -> None:
    good = _pdf(tmp_path / "good.pdf").read_bytes()
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(good[: len(good) // 3])
    with pytest.raises(DocumentImportError, match=r"broken\.pdf"):
        parse_document(broken)
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"hello, I am not a PDF")
    with pytest.raises(DocumentImportError, match=r"fake\.pdf: not a PDF file"):
        parse_document(fake)


# -- bad input, any format -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.md", "empty.txt", "empty.html", "empty.pdf", "e.docx"])
def test_empty_files_are_errors_naming_the_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(DocumentImportError) as err:
        parse_document(path)
    assert err.value.file == str(path) and "empty" in err.value.message


def test_markup_without_text_is_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "blank.html", "<html><body><script>x()</script></body></html>")
    with pytest.raises(DocumentImportError, match="no text found"):
        parse_document(path)


def test_binary_text_and_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"line one\nline two\x00\x01\x02")
    with pytest.raises(DocumentImportError, match=r"bin\.txt, line 2: binary data"):
        parse_document(binary)
    with pytest.raises(DocumentImportError, match=r"unsupported file type '\.xls'"):
        parse_document(write(tmp_path, "sheet.xls", "x"))
    with pytest.raises(DocumentImportError, match="no such file"):
        parse_document(tmp_path / "missing.md")


# -- sentences and chunks ------------------------------------------------------------------------


def test_sentence_splitting_zh_and_en() -> None:
    assert split_sentences("满 99 元包邮；不满收 8 元。真的吗？“是的！”\n第二行") == [
        "满 99 元包邮；",
        "不满收 8 元。",
        "真的吗？",
        "“是的！”",
        "第二行",
    ]
    assert split_sentences("Fees are 1.5 yuan, e.g. for cables. We ship fast! Really? Yes.") == [
        "Fees are 1.5 yuan, e.g. for cables.",
        "We ship fast!",
        "Really?",
        "Yes.",
    ]


def test_long_sections_split_on_sentences_with_overlap() -> None:
    sentences = [f"第{i}句话讲的是一条很长的售后规则，内容足够长。" for i in range(30)]
    doc = ParsedDocument("T", "zh", [Section(("T", "长章节"), "".join(sentences))])
    chunks = chunk_sections(doc, max_chars=200)
    assert len(chunks) > 3
    assert all(c.section == "T > 长章节" for c in chunks)
    assert all(len(c.text.replace("\n", "")) <= 200 + len(sentences[0]) for c in chunks)
    for a, b in itertools.pairwise(chunks):
        assert a.sentences[-1] == b.sentences[0]  # one sentence of overlap
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert {s for c in chunks for s in c.sentences} == set(sentences)


def test_demo_documents_parse_in_every_format() -> None:
    formats = {}
    for path in sorted(DEMO_DOCS.iterdir()):
        doc = prepare_document(path)
        formats[doc.format] = formats.get(doc.format, 0) + 1
        assert len(doc.chunks) >= 8, path
        assert all(c.section.startswith(doc.title) for c in doc.chunks)
    assert set(formats) == {"md", "html", "txt", "docx", "pdf"}
    assert sum(formats.values()) >= 6
