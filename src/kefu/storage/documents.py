"""Document repository: imports are one transaction (all documents or none)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from kefu.errors import DocumentNotFound, InvalidInputError
from kefu.knowledge.doc_chunk import DOC_ID, NewDocument
from kefu.storage.document_tables import DocumentChunkRow, DocumentRow
from kefu.storage.tenants import TenantRepository, utcnow


@dataclass(frozen=True)
class StoredDocument:
    doc_id: str
    title: str
    source: str
    format: str
    language: str
    content_hash: str
    imported_at: datetime
    chunks: int


@dataclass(frozen=True)
class StoredChunk:
    doc_id: str
    title: str
    language: str
    seq: int
    section: str
    text: str


@dataclass(frozen=True)
class ImportResult:
    doc_id: str
    chunks: int
    replaced: bool


def _check(docs: Sequence[NewDocument]) -> None:
    seen: set[str] = set()
    for d in docs:
        if not DOC_ID.match(d.doc_id):
            raise InvalidInputError(
                f"invalid document id {d.doc_id!r}: use up to 64 letters, digits, '.', '-', '_'",
                field="doc_id",
            )
        if d.doc_id in seen:
            raise InvalidInputError(
                f"document id {d.doc_id!r} given twice in one import", field="doc_id"
            )
        seen.add(d.doc_id)


class DocumentRepository:
    def __init__(self, sessions: sessionmaker[Session], tenants: TenantRepository) -> None:
        self._sessions = sessions
        self._tenants = tenants

    def import_many(
        self,
        tenant: str,
        docs: Sequence[NewDocument],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[ImportResult]:
        """Store documents in one transaction; a document with an existing id replaces it."""
        _check(docs)
        t = self._tenants.get(tenant)
        results: list[ImportResult] = []
        now = utcnow()
        with self._sessions.begin() as s:
            for i, d in enumerate(docs):
                old = s.scalar(
                    select(DocumentRow).where(
                        DocumentRow.tenant_id == t.id, DocumentRow.doc_id == d.doc_id
                    )
                )
                if old is not None:
                    s.execute(
                        delete(DocumentChunkRow).where(DocumentChunkRow.document_pk == old.pk)
                    )
                    s.delete(old)
                    s.flush()
                row = DocumentRow(
                    tenant_id=t.id,
                    doc_id=d.doc_id,
                    title=d.title,
                    source=d.source,
                    format=d.format,
                    language=d.language,
                    content_hash=d.content_hash,
                    imported_at=now,
                )
                s.add(row)
                s.flush()
                s.add_all(
                    DocumentChunkRow(
                        document_pk=row.pk,
                        tenant_id=t.id,
                        seq=c.seq,
                        section=c.section,
                        text=c.text,
                    )
                    for c in d.chunks
                )
                results.append(ImportResult(d.doc_id, len(d.chunks), old is not None))
                if progress:
                    progress(i + 1, len(docs))
            self._tenants.bump_kb_revision(s, t.id)
        return results

    def all(self, tenant: str) -> list[StoredDocument]:
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            counts = (
                select(DocumentChunkRow.document_pk, func.count().label("n"))
                .where(DocumentChunkRow.tenant_id == t.id)
                .group_by(DocumentChunkRow.document_pk)
                .subquery()
            )
            rows = s.execute(
                select(DocumentRow, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.document_pk == DocumentRow.pk)
                .where(DocumentRow.tenant_id == t.id)
                .order_by(DocumentRow.doc_id)
            ).all()
            return [_stored(r, int(n)) for r, n in rows]

    def get(self, tenant: str, doc_id: str) -> StoredDocument:
        for d in self.all(tenant):
            if d.doc_id == doc_id:
                return d
        raise DocumentNotFound(doc_id)

    def chunks(self, tenant: str, doc_id: str | None = None) -> list[StoredChunk]:
        """Chunks of one document, or of every document of the tenant, in reading order."""
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            q = (
                select(DocumentRow, DocumentChunkRow)
                .join(DocumentChunkRow, DocumentChunkRow.document_pk == DocumentRow.pk)
                .where(DocumentRow.tenant_id == t.id)
            )
            if doc_id is not None:
                q = q.where(DocumentRow.doc_id == doc_id)
            rows = s.execute(q.order_by(DocumentRow.doc_id, DocumentChunkRow.seq)).all()
        if doc_id is not None and not rows:
            self.get(tenant, doc_id)  # raises DocumentNotFound for an unknown id
        return [
            StoredChunk(d.doc_id, d.title, d.language, c.seq, c.section, c.text) for d, c in rows
        ]

    def delete(self, tenant: str, doc_id: str) -> int:
        """Delete a document and its chunks; returns the number of chunks deleted."""
        t = self._tenants.get(tenant)
        with self._sessions.begin() as s:
            row = s.scalar(
                select(DocumentRow).where(
                    DocumentRow.tenant_id == t.id, DocumentRow.doc_id == doc_id
                )
            )
            if row is None:
                raise DocumentNotFound(doc_id)
            n = len(
                s.execute(
                    delete(DocumentChunkRow)
                    .where(DocumentChunkRow.document_pk == row.pk)
                    .returning(DocumentChunkRow.pk)
                ).all()
            )
            s.delete(row)
            self._tenants.bump_kb_revision(s, t.id)
            return n


def _stored(row: DocumentRow, chunks: int) -> StoredDocument:
    return StoredDocument(
        doc_id=row.doc_id,
        title=row.title,
        source=row.source,
        format=row.format,
        language=row.language,
        content_hash=row.content_hash,
        imported_at=row.imported_at,
        chunks=chunks,
    )
