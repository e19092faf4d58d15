"""FAQ repository: whole-file imports are one transaction (all or nothing)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from kefu.domain.faq import FaqEntry
from kefu.errors import FaqNotFound
from kefu.storage.models import FaqRow
from kefu.storage.tenants import TenantRepository, utcnow


def _entry(row: FaqRow) -> FaqEntry:
    return FaqEntry(
        id=row.faq_id,
        question=row.question,
        similar_questions=tuple(row.similar_questions),
        answer=row.answer,
        category=row.category,
        language=row.language,
        tags=tuple(row.tags),
        enabled=row.enabled,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


def _fill(row: FaqRow, e: FaqEntry) -> None:
    row.question = e.question
    row.similar_questions = list(e.similar_questions)
    row.answer = e.answer
    row.category = e.category
    row.tags = list(e.tags)
    row.enabled = e.enabled
    row.valid_from = e.valid_from
    row.valid_until = e.valid_until
    row.updated_at = utcnow()


def new_faq_row(tenant_id: int, e: FaqEntry) -> FaqRow:
    """A new row for ``e`` (for a caller that writes it in its own transaction)."""
    row = FaqRow(tenant_id=tenant_id, faq_id=e.id, language=e.language)
    _fill(row, e)
    return row


class FaqRepository:
    def __init__(self, sessions: sessionmaker[Session], tenants: TenantRepository) -> None:
        self._sessions = sessions
        self._tenants = tenants

    def all(self, tenant: str, language: str | None = None) -> list[FaqEntry]:
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            q = select(FaqRow).where(FaqRow.tenant_id == t.id)
            if language:
                q = q.where(FaqRow.language == language)
            rows = s.scalars(q.order_by(FaqRow.faq_id, FaqRow.language))
            return [_entry(r) for r in rows]

    def get(self, tenant: str, faq_id: str) -> list[FaqEntry]:
        """All language versions of one FAQ (raises when there are none)."""
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            rows = s.scalars(
                select(FaqRow)
                .where(FaqRow.tenant_id == t.id, FaqRow.faq_id == faq_id)
                .order_by(FaqRow.language)
            ).all()
        if not rows:
            raise FaqNotFound(faq_id)
        return [_entry(r) for r in rows]

    def upsert_many(
        self,
        tenant: str,
        entries: Sequence[FaqEntry],
        *,
        replace: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[int, int]:
        """Insert or update entries keyed by (id, language) in one transaction.

        With ``replace`` every entry not in ``entries`` is deleted. Returns (created, updated).
        """
        t = self._tenants.get(tenant)
        created = updated = 0
        with self._sessions.begin() as s:
            existing = {
                (r.faq_id, r.language): r
                for r in s.scalars(select(FaqRow).where(FaqRow.tenant_id == t.id))
            }
            seen: set[tuple[str, str]] = set()
            for i, e in enumerate(entries):
                key = (e.id, e.language)
                seen.add(key)
                row = existing.get(key)
                if row is None:
                    row = FaqRow(tenant_id=t.id, faq_id=e.id, language=e.language)
                    _fill(row, e)
                    s.add(row)
                    created += 1
                else:
                    _fill(row, e)
                    updated += 1
                if progress and (i % 500 == 0 or i == len(entries) - 1):
                    progress(i + 1, len(entries))
            if replace:
                for key, row in existing.items():
                    if key not in seen:
                        s.delete(row)
            self._tenants.bump_kb_revision(s, t.id)
        return created, updated

    def delete(self, tenant: str, faq_id: str, language: str | None = None) -> int:
        t = self._tenants.get(tenant)
        with self._sessions.begin() as s:
            q = delete(FaqRow).where(FaqRow.tenant_id == t.id, FaqRow.faq_id == faq_id)
            if language:
                q = q.where(FaqRow.language == language)
            n = s.execute(q.returning(FaqRow.pk)).all().__len__()
            if not n:
                raise FaqNotFound(faq_id)
            self._tenants.bump_kb_revision(s, t.id)
            return int(n)
