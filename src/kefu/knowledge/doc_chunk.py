"""Sections to chunks: the unit that is stored, retrieved and cited.

A chunk is the text under one heading. A section longer than ``max_chars`` is split on
sentence boundaries into several chunks, each repeating the last sentence of the one before
(a small overlap, so an answer spanning the cut is still whole in one chunk). Every chunk keeps
its section path ("售后服务政策 > 七天无理由退货"). A chunk's text holds one sentence per line,
so the answerer quotes exactly the sentences the chunker saw.

Sentences end at 。！？； (Chinese) and at . ! ? followed by a space (English; "e.g." and
decimals are not ends); a closing quote or bracket stays with its sentence.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from kefu.errors import DocumentImportError
from kefu.knowledge.doc_parse import ParsedDocument, document_format, parse_document

MAX_CHARS = 400
MIN_SENTENCE = 4
SECTION_SEPARATOR = " > "
DOC_ID = re.compile(r"^\w[\w.\-]{0,63}$")

_ZH_END = re.compile(r"[。！？；!?]+[”’\"』」）)】]*")
_EN_END = re.compile(r"[.!?]+[\"')\]]*(?=\s+[\"'(\[]?[A-Z0-9\u4e00-\u9fff])")
_ABBREVIATIONS = frozenset(
    "e.g i.e etc mr mrs ms dr no vs approx incl fig st jan feb mar apr jun jul aug sep sept "
    "oct nov dec".split()
)


@dataclass(frozen=True)
class Chunk:
    seq: int
    section: str  # the heading path joined with " > "
    text: str  # one sentence per line

    @property
    def sentences(self) -> list[str]:
        return [s for s in self.text.split("\n") if s]


@dataclass(frozen=True)
class NewDocument:
    """A parsed and chunked document, ready to store."""

    doc_id: str
    title: str
    source: str
    format: str
    language: str
    content_hash: str
    chunks: tuple[Chunk, ...]


def _ends(text: str) -> list[int]:
    """Offsets just after each sentence end in one line of text."""
    ends = {m.end() for m in _ZH_END.finditer(text)}
    for m in _EN_END.finditer(text):
        word = re.search(r"([A-Za-z.]+)$", text[: m.start()])
        if word and word.group(1).lower().rstrip(".") in _ABBREVIATIONS and m.group(0) == ".":
            continue
        ends.add(m.end())
    return sorted(ends)


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, in order; each line of the text is split on its own."""
    out: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        start = 0
        pieces: list[str] = []
        for end in [*_ends(line), len(line)]:
            piece = line[start:end].strip()
            start = end
            if not piece:
                continue
            if pieces and len(piece) < MIN_SENTENCE:
                pieces[-1] += piece
            else:
                pieces.append(piece)
        out.extend(pieces)
    return out


def chunk_sections(
    doc: ParsedDocument, max_chars: int = MAX_CHARS, overlap: int = 1
) -> list[Chunk]:
    """Chunks of a parsed document in reading order (``seq`` from 0)."""
    chunks: list[Chunk] = []
    for section in doc.sections:
        name = SECTION_SEPARATOR.join(section.path)
        sentences = split_sentences(section.text)
        current: list[str] = []
        size = 0
        for sentence in sentences:
            if current and size + len(sentence) > max_chars:
                chunks.append(Chunk(len(chunks), name, "\n".join(current)))
                keep = current[-overlap:] if overlap and len(current) > overlap else []
                current = list(keep)
                size = sum(len(s) for s in current)
            current.append(sentence)
            size += len(sentence)
        if current:
            chunks.append(Chunk(len(chunks), name, "\n".join(current)))
    return chunks


def doc_id_for(path: Path) -> str:
    """The default document id: the file name without its suffix, spaces as dashes."""
    doc_id = re.sub(r"\s+", "-", path.stem.strip())
    if not DOC_ID.match(doc_id):
        raise DocumentImportError(
            str(path), None, "cannot derive a document id from the file name: rename the file"
        )
    return doc_id


def prepare_document(path: Path, doc_id: str | None = None) -> NewDocument:
    """Parse and chunk one file; raises DocumentImportError for a bad file."""
    fmt = document_format(path)
    parsed = parse_document(path, fmt)
    chunks = chunk_sections(parsed)
    if not chunks:
        raise DocumentImportError(str(path), None, "no text found (empty document)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return NewDocument(
        doc_id=doc_id or doc_id_for(path),
        title=parsed.title,
        source=path.name,
        format=fmt,
        language=parsed.language,
        content_hash=digest,
        chunks=tuple(chunks),
    )
