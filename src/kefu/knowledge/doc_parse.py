"""Documents in, sections out: Markdown, HTML, PDF, DOCX and plain text.

:func:`parse_document` reads one file and returns a :class:`ParsedDocument`: its title, language
and a list of :class:`Section` (the heading path, e.g. ``("售后服务政策", "七天无理由退货")``,
and the text under that heading, one block per line). Headings come from the format itself
(Markdown ``#`` and setext underlines, HTML ``h1``-``h6``, DOCX heading styles, PDF font sizes
and bold lines) or, where the format has none (plain text, untagged PDFs), from numbering:
"1." "1.1" "一、" "（一）" "第一章" "第一条" "Section 2".

A file that cannot be read (corrupt, encrypted, binary, empty, no text) raises
:class:`~kefu.errors.DocumentImportError` naming the file and the place (line, page, part).
Tables become one line per row ("等级：银卡会员，积分倍数：1.2 倍。"), so a row is one sentence.
"""

from __future__ import annotations

import io
import itertools
import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from kefu.errors import DocumentImportError

SUPPORTED_FORMATS: tuple[str, ...] = ("md", "html", "pdf", "docx", "txt")
SUFFIXES: dict[str, str] = {
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".txt": "txt",
    ".text": "txt",
}
MAX_BYTES = 50 * 2**20

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_SENTENCE_END = "。！？；!?;：:，,、"


@dataclass(frozen=True)
class Section:
    """Text under one heading; ``path`` is the chain of headings from the top."""

    path: tuple[str, ...]
    text: str

    @property
    def name(self) -> str:
        return " > ".join(self.path)


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    language: str  # "zh" or "en"
    sections: list[Section]
    format: str = "txt"

    @property
    def text(self) -> str:
        return "\n".join(s.text for s in self.sections)


# -- shared building blocks ---------------------------------------------------------------------


@dataclass
class _Builder:
    """Collects headings and text blocks in reading order and turns them into sections."""

    file: str
    stack: list[tuple[int, str]] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    title: str | None = None

    def heading(self, level: int, text: str) -> None:
        text = tidy(text)
        if not text:
            return
        self._flush()
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text))
        if self.title is None:
            self.title = text

    def block(self, text: str) -> None:
        text = tidy(text)
        if text:
            self.blocks.append(text)

    def _flush(self) -> None:
        if self.blocks:
            path = tuple(t for _, t in self.stack)
            self.sections.append(Section(path, "\n".join(self.blocks)))
            self.blocks = []

    def build(self, fmt: str, title: str | None = None) -> ParsedDocument:
        self._flush()
        if not self.sections:
            raise DocumentImportError(self.file, None, "no text found (empty document)")
        doc_title = tidy(title or "") or self.title or _title_from_name(self.file)
        sections = [
            s if s.path else Section((doc_title,), s.text) for s in self.sections if s.text.strip()
        ]
        language = detect_document_language(" ".join(s.text for s in sections[:50]))
        return ParsedDocument(doc_title, language, sections, fmt)


def tidy(text: str) -> str:
    """Collapse white space; no spaces between two CJK characters (line breaks in HTML/PDF)."""
    text = unicodedata.normalize("NFC", text)
    text = _SPACES.sub(" ", text.replace("\n", " ")).strip()
    return _CJK_GAP.sub("", text)


def _join_lines(a: str, b: str) -> str:
    """Join wrapped lines: a space between Latin words, none between CJK characters."""
    if not a:
        return b
    if not b:
        return a
    if a.endswith("-") and a[-2:-1].isalpha() and b[:1].islower():
        return a[:-1] + b
    if _HAN.match(a[-1]) or _HAN.match(b[0]) or a[-1] in "，。；：！？、（“":
        return a + b
    return a + " " + b


def detect_document_language(text: str) -> str:
    han = len(_HAN.findall(text))
    words = len(_LATIN_WORD.findall(text))
    return "zh" if han >= words else "en"


def _title_from_name(file: str) -> str:
    stem = Path(file).stem
    return re.sub(r"[-_]+", " ", stem).strip() or stem


def table_lines(rows: Sequence[Sequence[str]], has_header: bool = True) -> list[str]:
    """One sentence per table row, prefixed by the header cells when there is a header row."""
    rows = [[tidy(c) for c in r] for r in rows if any(tidy(c) for c in r)]
    if not rows:
        return []
    zh = detect_document_language(" ".join(" ".join(r) for r in rows)) == "zh"
    colon, comma, end = ("：", "，", "。") if zh else (": ", "; ", ".")
    header = rows[0] if has_header and len(rows) > 1 else None
    out: list[str] = []
    for row in rows[1:] if header else rows:
        parts = []
        for i, cell in enumerate(row):
            if not cell:
                continue
            name = header[i] if header and i < len(header) else ""
            parts.append(f"{name}{colon}{cell}" if name and name != cell else cell)
        if parts:
            line = comma.join(parts)
            out.append(line if line[-1] in "。.!?！？" else line + end)
    return out


# -- numbered headings (plain text, untagged PDF) -----------------------------------------------

_CN_NUM = "一二三四五六七八九十百零〇两"
_NUMBERED: list[tuple[str, re.Pattern[str]]] = [
    ("chapter", re.compile(rf"^第[{_CN_NUM}\d]+[章篇部]")),
    ("part", re.compile(rf"^第[{_CN_NUM}\d]+节")),
    ("article", re.compile(rf"^第[{_CN_NUM}\d]+条")),
    ("cn", re.compile(rf"^[{_CN_NUM}]+[、．.]")),
    ("cn_paren", re.compile(rf"^[（(][{_CN_NUM}]+[）)]")),
    ("num3", re.compile(r"^\d+\.\d+\.\d+(?!\.?\d)\.?\s*")),
    ("num2", re.compile(r"^\d+\.\d+(?!\.?\d)\.?\s*")),
    ("num1", re.compile(r"^\d+[、．.](?!\d)\s*")),
    ("en_word", re.compile(r"^(chapter|section|article|part)\s+\d+\b", re.IGNORECASE)),
]


def numbered_heading(line: str) -> tuple[str, str] | None:
    """``(kind, heading)`` when the line looks like a numbered heading, else None.

    A heading is short and does not end like a sentence. "第一条 本政策适用于…" gives the
    heading "第一条" (the rest is body text, see :func:`split_article`)."""
    line = line.strip()
    for kind, pattern in _NUMBERED:
        m = pattern.match(line)
        if not m:
            continue
        if kind == "article":
            return kind, line
        rest = line[m.end() :].strip()
        if not rest and kind not in ("chapter", "part"):
            return None
        if rest and not (rest[0].isalpha() or rest[0] in '（(“"《'):  # "99.9% 的订单"
            return None
        zh = bool(_HAN.search(line))
        too_long = len(line) > 30 if zh else len(line.split()) > 10
        if too_long or line[-1] in _SENTENCE_END or (not zh and line.endswith(".")):
            return None
        return kind, line
    return None


def split_article(line: str) -> tuple[str, str]:
    """ "第三条 退款时效：……" -> ("第三条 退款时效", "……"); a short article line stays whole."""
    m = _NUMBERED[2][1].match(line)
    assert m is not None
    rest = line[m.end() :].strip()
    if len(rest) <= 20 and rest[-1:] not in _SENTENCE_END:
        return line, ""
    title, sep, body = rest.partition("：" if "：" in rest[:20] else " ")
    if sep and 0 < len(title) <= 20 and not re.search(r"[，。；]", title):
        return f"{line[: m.end()]} {title}".strip(), body.strip()
    return line[: m.end()], rest


class _Levels:
    """Heading levels for numbered kinds in order of first appearance (first kind = 1)."""

    def __init__(self, base: int = 1) -> None:
        self.base = base
        self.order: dict[str, int] = {}

    def level(self, kind: str) -> int:
        if kind not in self.order:
            self.order[kind] = self.base + len(self.order)
        return self.order[kind]


# -- decoding text files ------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DocumentImportError(name, None, f"file is {size} bytes; the limit is {MAX_BYTES}")
        data = path.read_bytes()
    except FileNotFoundError:
        raise DocumentImportError(name, None, "no such file") from None
    except IsADirectoryError:
        raise DocumentImportError(name, None, "is a directory, not a file") from None
    except OSError as exc:
        raise DocumentImportError(name, None, f"cannot read: {exc.strerror}") from None
    if not data.strip():
        raise DocumentImportError(name, None, "file is empty")
    return data


def _decode(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, else GB18030; binary is an error."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentImportError(name, f"byte {exc.start}", "invalid UTF-16 text") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise DocumentImportError(name, f"line {line}", "binary data (NUL byte): not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        first_error = exc
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        line = data.count(b"\n", 0, first_error.start) + 1
        raise DocumentImportError(
            name, f"line {line}", f"not UTF-8 or GB18030 text (byte {first_error.start})"
        ) from None


# -- Markdown -----------------------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_HR = re.compile(r"^ {0,3}([-*_])(\s*\1){2,}\s*$")
_INLINE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),
    (re.compile(r"(\*\*|__|~~)(.+?)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)"), r"\1"),
    (re.compile(r"`([^`]*)`"), r"\1"),
]


def _md_inline(text: str) -> str:
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    return text.replace("\\", "")


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [_md_inline(c) for c in line.split("|")]


def parse_markdown(text: str, name: str) -> ParsedDocument:
    b = _Builder(name)
    lines = text.splitlines()
    front_title: str | None = None
    i = 0
    if lines and lines[0].strip() == "---":  # YAML front matter
        for j in range(1, min(len(lines), 100)):
            if lines[j].strip() in ("---", "..."):
                for meta in lines[1:j]:
                    key, _, value = meta.partition(":")
                    if key.strip().lower() == "title":
                        front_title = value.strip().strip("\"'")
                i = j + 1
                break
    para: list[str] = []

    def flush() -> None:
        if para:
            joined = ""
            for p in para:
                joined = _join_lines(joined, p)
            b.block(joined)
            para.clear()

    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker = fence.group(1)
            for j in range(i + 1, len(lines)):
                if lines[j].strip().startswith(marker[0] * len(marker)):
                    code = "\n".join(lines[i + 1 : j])
                    for code_line in code.splitlines():
                        b.block(code_line)
                    i = j + 1
                    break
            else:
                raise DocumentImportError(name, f"line {i + 1}", "code block is never closed")
            continue
        atx = _ATX.match(line)
        if atx:
            flush()
            b.heading(len(atx.group(1)), _md_inline(atx.group(2) or ""))
            i += 1
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and not para and _SETEXT.match(nxt) and not _LIST.match(line):
            flush()
            b.heading(1 if nxt.strip()[0] == "=" else 2, _md_inline(line))
            i += 2
            continue
        if "|" in line and _TABLE_SEP.match(nxt):
            flush()
            rows = [_split_row(line)]
            j = i + 2
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                rows.append(_split_row(lines[j]))
                j += 1
            for row in table_lines(rows):
                b.block(row)
            i = j
            continue
        stripped = line.strip()
        if not stripped or _HR.match(line):
            flush()
        elif _LIST.match(line):
            flush()
            para.append(_md_inline(_LIST.sub("", line, count=1)))
        elif stripped.startswith(">"):
            para.append(_md_inline(stripped.lstrip("> ")))
        else:
            para.append(_md_inline(stripped))
        i += 1
    flush()
    return b.build("md", front_title)


# -- plain text ---------------------------------------------------------------------------------


def parse_text(text: str, name: str) -> ParsedDocument:
    b = _Builder(name)
    levels = _Levels(base=1)
    lines = [ln.rstrip() for ln in text.splitlines()]
    para: list[str] = []

    def flush() -> None:
        if para:
            joined = ""
            for p in para:
                joined = _join_lines(joined, p)
            b.block(joined)
            para.clear()

    first = next((k for k, ln in enumerate(lines) if ln.strip()), None)
    title: str | None = None
    if first is not None:
        cand = lines[first].strip()
        following = lines[first + 1] if first + 1 < len(lines) else ""
        if (
            numbered_heading(cand) is None
            and len(cand) <= 60
            and cand[-1] not in _SENTENCE_END + "."
            and (not following.strip() or _SETEXT.match(following))
        ):
            title = cand
            b.heading(0, cand)
            lines = lines[first + 1 :]
            if lines and _SETEXT.match(lines[0]):
                lines = lines[1:]
    for k, line in enumerate(lines):
        stripped = line.strip()
        nxt = lines[k + 1] if k + 1 < len(lines) else ""
        if not stripped or _SETEXT.match(line):
            flush()
            continue
        if _SETEXT.match(nxt) and not para:
            flush()
            b.heading(levels.level("setext" + nxt.strip()[0]), stripped)
            continue
        numbered = numbered_heading(stripped)
        if numbered is not None:
            kind, heading = numbered
            flush()
            body = ""
            if kind == "article":
                heading, body = split_article(heading)
            b.heading(levels.level(kind), heading)
            if body:
                para.append(body)
            continue
        if _LIST.match(line) and para:
            flush()
        para.append(stripped)
    flush()
    return b.build("txt", title)


# -- HTML ---------------------------------------------------------------------------------------

_SKIP = frozenset({"script", "style", "noscript", "template", "nav", "footer", "svg", "head"})
_BLOCK = frozenset(
    {
        "p", "div", "li", "dt", "dd", "blockquote", "pre", "section", "article", "main",
        "ul", "ol", "dl", "figure", "figcaption", "address", "header", "aside", "body", "form",
        "details", "summary", "hr", "caption",
    }
)  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"})


class _HtmlReader(HTMLParser):
    def __init__(self, name: str) -> None:
        super().__init__(convert_charrefs=True)
        self.b = _Builder(name)
        self.name = name
        self.skip_depth = 0
        self.skip_stack: list[str] = []
        self.buf: list[str] = []
        self.heading: tuple[int, int] | None = None  # (level, line where it opened)
        self.title_parts: list[str] = []
        self.in_title = False
        self.tables: list[list[list[str]]] = []  # rows of cells, innermost table last
        self.cell: list[str] | None = None
        self.pre = 0

    def _flush(self) -> None:
        text = "".join(self.buf)
        self.buf = []
        if self.heading is not None:
            self.b.heading(self.heading[0], text)
        elif self.tables and self.cell is not None:
            self.cell.append(text)
        else:
            for line in text.split("\n"):
                self.b.block(line)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
            return
        if tag in _SKIP:
            if tag not in _VOID:
                self.skip_stack.append(tag)
            return
        if self.skip_stack:
            return
        if tag == "pre":
            self.pre += 1
        if tag == "br":
            self.buf.append("\n")
        elif tag in _HEADINGS:
            self._flush()
            self.heading = (_HEADINGS[tag], self.getpos()[0])
        elif tag == "table":
            self._flush()
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._flush()
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._flush()
            if not self.tables[-1]:
                self.tables[-1].append([])
            self.cell = []
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
            return
        if self.skip_stack:
            if tag == self.skip_stack[-1]:
                self.skip_stack.pop()
            return
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in _HEADINGS and self.heading is not None:
            level = self.heading[0]
            text = "".join(self.buf)
            self.buf = []
            self.heading = None
            self.b.heading(level, text)
        elif tag in ("td", "th") and self.tables and self.cell is not None:
            self.cell.append("".join(self.buf))
            self.buf = []
            self.tables[-1][-1].append(" ".join(self.cell))
            self.cell = None
        elif tag == "table" and self.tables:
            self._flush()
            rows = self.tables.pop()
            if self.tables and self.cell is not None:  # nested table: flatten into the cell
                self.cell.append(" ".join(" ".join(r) for r in rows))
            else:
                for line in table_lines(rows):
                    self.b.block(line)
        elif tag in _BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
        elif not self.skip_stack:  # source line breaks are spaces, except in <pre>
            self.buf.append(data if self.pre else data.replace("\n", " "))

    def finish(self) -> ParsedDocument:
        self.close()
        if self.heading is not None:
            raise DocumentImportError(
                self.name, f"line {self.heading[1]}", f"<h{self.heading[0]}> is never closed"
            )
        self._flush()
        return self.b.build("html", tidy("".join(self.title_parts)) or None)


def parse_html(text: str, name: str) -> ParsedDocument:
    reader = _HtmlReader(name)
    reader.feed(text)
    doc = reader.finish()
    # Prefer the page's first <h1> over a <title> that carries a site suffix.
    first = doc.sections[0].path[0] if doc.sections and doc.sections[0].path else None
    if first and first != doc.title and reader.b.title == first:
        return ParsedDocument(first, doc.language, doc.sections, doc.format)
    return doc


# -- DOCX ---------------------------------------------------------------------------------------

_DOCX_HEADING = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)


def _docx_level(paragraph: Any) -> int | None:
    style = paragraph.style
    while style is not None:
        name = str(style.name or "")
        if name.lower() in ("title", "标题"):
            return 0
        m = _DOCX_HEADING.match(name)
        if m:
            return int(m.group(1))
        style = style.base_style
    ppr = paragraph._p.pPr
    if ppr is not None:
        for child in ppr.iterchildren():
            if child.tag.endswith("}outlineLvl"):
                val = child.get(child.tag.split("}")[0] + "}val")
                if val is not None and val.isdigit() and int(val) < 9:
                    return int(val) + 1
    return None


def parse_docx(path: Path, name: str) -> ParsedDocument:
    import zipfile

    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError

    _read_bytes(path)  # existence, size and emptiness checks
    try:
        document = Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile) as exc:
        raise DocumentImportError(name, None, "not a valid DOCX file (corrupt zip)") from exc
    except XMLSyntaxError as exc:
        where = f"XML line {exc.lineno}" if exc.lineno else None
        raise DocumentImportError(name, where, "corrupt DOCX (malformed XML)") from exc
    except KeyError as exc:
        raise DocumentImportError(name, None, f"corrupt DOCX (missing part {exc})") from exc
    except ValueError as exc:  # e.g. a .doc or .xlsx renamed: wrong content type
        raise DocumentImportError(name, None, "not a DOCX document") from exc
    b = _Builder(name)
    for n, block in enumerate(document.iter_inner_content(), start=1):
        if hasattr(block, "rows"):
            try:
                rows = [[cell.text for cell in row.cells] for row in block.rows]
            except (IndexError, ValueError) as exc:
                raise DocumentImportError(name, f"table at block {n}", "malformed table") from exc
            for line in table_lines(rows):
                b.block(line)
            continue
        text = block.text
        if not text.strip():
            continue
        level = _docx_level(block)
        if level is not None and len(text) <= 200:
            b.heading(level, text)
        else:
            for line in text.split("\n"):
                b.block(line)
    title = document.core_properties.title or None
    return b.build("docx", title)


# -- PDF ----------------------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?$|^第\s*\d{1,4}\s*页(?:\s*共\s*\d+\s*页)?$|^-\s*\d{1,4}\s*-$",
    re.IGNORECASE,
)


@dataclass
class _Line:
    page: int
    y: float
    text: str
    size: float
    bold: bool


def _pdf_lines(page: Any, page_no: int) -> list[_Line]:
    frags: list[tuple[float, float, str, float, bool]] = []

    def visit(text: str, cm: Sequence[float], tm: Sequence[float], font: Any, size: float) -> None:
        if not text or not text.strip("\n"):
            return
        scale = (tm[2] ** 2 + tm[3] ** 2) ** 0.5 or 1.0
        cm_scale = (cm[2] ** 2 + cm[3] ** 2) ** 0.5 or 1.0
        y = cm[1] * tm[4] + cm[3] * tm[5] + cm[5]
        x = cm[0] * tm[4] + cm[2] * tm[5] + cm[4]
        base = str(font.get("/BaseFont", "")) if font else ""
        bold = bool(re.search(r"bold|black|heavy|semibold|,b\b", base, re.IGNORECASE))
        for part in text.split("\n"):
            if part.strip():
                frags.append((y, x, part, float(size) * scale * cm_scale, bold))

    page.extract_text(visitor_text=visit)
    lines: list[_Line] = []
    for y, _x, text, size, bold in frags:
        last = lines[-1] if lines else None
        if last is not None and abs(last.y - y) <= max(1.0, 0.3 * size):
            last.text = (
                _join_lines(last.text, text.strip()) if text[:1] != " " else last.text + text
            )
            last.size = max(last.size, size)
            last.bold = last.bold and bold
        else:
            lines.append(_Line(page_no, y, text.strip(), size, bold))
    return [ln for ln in lines if tidy(ln.text)]


def parse_pdf(path: Path, name: str) -> ParsedDocument:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    data = _read_bytes(path)
    if not data.lstrip().startswith(b"%PDF"):
        raise DocumentImportError(name, None, "not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except (NotImplementedError, PdfReadError) as exc:
                raise DocumentImportError(name, None, "encrypted PDF (password needed)") from exc
            if not ok:
                raise DocumentImportError(name, None, "encrypted PDF (password needed)")
        pages = len(reader.pages)
    except DocumentImportError:
        raise
    except (PdfReadError, FileNotDecryptedError, ValueError, KeyError, TypeError) as exc:
        raise DocumentImportError(name, None, f"corrupt PDF ({type(exc).__name__})") from exc
    except Exception as exc:  # pypdf raises assorted errors on broken files
        raise DocumentImportError(name, None, f"corrupt PDF ({type(exc).__name__})") from exc
    if pages == 0:
        raise DocumentImportError(name, None, "PDF has no pages")
    lines: list[_Line] = []
    for n in range(pages):
        try:
            lines.extend(_pdf_lines(reader.pages[n], n + 1))
        except Exception as exc:  # a broken content stream on one page
            raise DocumentImportError(
                name, f"page {n + 1}", f"unreadable page ({type(exc).__name__})"
            ) from exc
    lines = _drop_running_lines(lines, pages)
    if not lines:
        raise DocumentImportError(name, "page 1", "no extractable text (scanned images?)")
    meta_title: str | None = None
    try:
        meta = reader.metadata
        meta_title = str(meta.title) if meta is not None and meta.title else None
    except Exception:  # metadata is optional; a broken info dictionary is not fatal
        meta_title = None
    return _pdf_sections(lines, name).build("pdf", meta_title)


def _drop_running_lines(lines: list[_Line], pages: int) -> list[_Line]:
    """Page numbers and headers/footers repeated on most pages are not content."""
    lines = [ln for ln in lines if not _PAGE_NUMBER.match(tidy(ln.text))]
    if pages < 3:
        return lines
    per_page = Counter({(ln.text.strip(), ln.page) for ln in lines})
    counts = Counter(text for text, _ in per_page)
    running = {t for t, c in counts.items() if c > pages / 2 and len(t) < 80}
    return [ln for ln in lines if ln.text.strip() not in running]


def _pdf_sections(lines: list[_Line], name: str) -> _Builder:
    weights: Counter[float] = Counter()
    for ln in lines:
        weights[round(ln.size, 1)] += len(ln.text)
    body = weights.most_common(1)[0][0]
    big = sorted({round(ln.size, 1) for ln in lines if ln.size > body * 1.12}, reverse=True)
    level_of_size = {s: i + 1 for i, s in enumerate(big)}
    bold_level = len(big) + 1
    gaps = [a.y - b.y for a, b in itertools.pairwise(lines) if a.page == b.page and a.y > b.y]
    line_gap = statistics.median(gaps) if gaps else body * 1.2

    def font_level(ln: _Line) -> int | None:
        text = tidy(ln.text)
        if len(text) > 120 or text[-1] in "。；，,;:：":
            return None
        size = round(ln.size, 1)
        if size in level_of_size:
            return level_of_size[size]
        if ln.bold and len(text) <= 80 and size >= body:
            return bold_level
        return None

    levels: Callable[[_Line], int | None] = font_level
    if not any(font_level(ln) for ln in lines):  # untagged: fall back to numbering
        numbered = _Levels()

        def by_numbering(ln: _Line) -> int | None:
            found = numbered_heading(tidy(ln.text))
            return numbered.level(found[0]) if found else None

        levels = by_numbering
    b = _Builder(name)
    para = ""
    prev: _Line | None = None
    for ln in lines:
        level = levels(ln)
        if level is not None:
            if para:
                b.block(para)
                para = ""
            # A heading wrapped over two lines continues the previous heading line.
            if prev is not None and levels(prev) == level and prev.page == ln.page:
                last = b.stack[-1][1] if b.stack else ""
                if last and prev.y - ln.y <= ln.size * 1.6 and not b.blocks:
                    b.stack[-1] = (b.stack[-1][0], _join_lines(last, tidy(ln.text)))
                    prev = ln
                    continue
            b.heading(level, ln.text)
        else:
            new_para = (
                prev is None
                or levels(prev) is not None
                or (prev.page == ln.page and prev.y - ln.y > line_gap * 1.35)
                or bool(_LIST.match(ln.text))
            )
            if new_para and para:
                b.block(para)
                para = ""
            para = _join_lines(para, tidy(ln.text))
        prev = ln
    if para:
        b.block(para)
    return b


# -- entry point --------------------------------------------------------------------------------


def document_format(path: Path) -> str:
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DocumentImportError(
            str(path),
            None,
            f"unsupported file type {path.suffix or '(none)'!r}; "
            f"use {', '.join('.' + f for f in SUPPORTED_FORMATS)}",
        )
    return fmt


def parse_document(path: Path, fmt: str | None = None) -> ParsedDocument:
    """Parse one file (format from ``fmt`` or the file suffix) or raise DocumentImportError."""
    name = str(path)
    fmt = fmt or document_format(path)
    if fmt == "pdf":
        return parse_pdf(path, name)
    if fmt == "docx":
        return parse_docx(path, name)
    text = _decode(_read_bytes(path), name)
    if fmt == "md":
        return parse_markdown(text, name)
    if fmt == "html":
        return parse_html(text, name)
    if fmt == "txt":
        return parse_text(text, name)
    raise DocumentImportError(name, None, f"unsupported format {fmt!r}")
