"""Suggested FAQ drafts mined from unanswered questions, and their review.

The knowledge feedback loop: :meth:`DraftService.mine` reads a tenant's conversations, finds the
customer questions the bot did not answer well (:mod:`kefu.quality.mining`), groups the ones
that ask the same thing and turns each group of at least two distinct questions into a
*suggested* draft: a representative question (the group's medoid), up to ten similar
questions, an agent's reply to one of them as the answer when there is one (else an empty
answer and the nearest existing FAQ's answer as a hint), the nearest FAQ's category, and the
FAQ it may duplicate. A supervisor edits a draft, then approves it (a new FAQ entry), merges it
into an existing entry (its questions become similar questions there) or rejects it. Approving
and merging write the FAQ and the decision in one transaction and bump the knowledge-base
revision, so the bot's index is rebuilt on its next turn.

Mining again updates the suggested drafts it made before (matched by their member questions)
instead of adding copies, and leaves out every question a decided draft already covers: a
rejected draft never comes back, and an approved one is not suggested again from the old
conversations it came from.
"""

from __future__ import annotations

import builtins
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kefu.domain.conversation import Event
from kefu.domain.faq import FaqEntry
from kefu.errors import (
    ConflictError,
    DraftNotFound,
    FaqNotFound,
    InvalidInputError,
)
from kefu.knowledge.embedder import Embedder
from kefu.knowledge.kb_io import MAX_ANSWER, MAX_ID, MAX_QUESTION, MAX_SIMILAR
from kefu.quality import mining
from kefu.storage.draft_tables import DRAFT_STATUSES, FaqDraftRow
from kefu.storage.faqs import FaqRepository, new_faq_row
from kefu.storage.models import ConversationRow, EventRow, FaqRow, TenantRow
from kefu.storage.tenants import TenantRepository
from kefu.understanding.normalise import normalise

_FAQ_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")  # the knowledge base's id rule
MAX_CATEGORY = 64
MAX_NOTE = 2000


@dataclass(frozen=True)
class Draft:
    """A suggested FAQ entry and what it was made from."""

    id: int
    tenant: str
    status: str  # suggested, approved, rejected, merged
    language: str
    question: str
    similar_questions: tuple[str, ...]
    answer: str
    answer_hint: str  # the nearest existing FAQ's answer, when no agent answered
    answer_source: str  # "agent" (an agent replied to one of them), "supervisor" or "none"
    category: str
    support: int  # how many times these questions went unanswered
    examples: tuple[str, ...]  # conversation ids
    cluster_key: str
    near_faq_id: str | None  # an existing FAQ this draft probably duplicates
    near_score: float | None  # similarity to the nearest FAQ (whether or not a duplicate)
    hint_faq_id: str | None  # the FAQ the hint and the category come from
    edited: bool
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    faq_id: str | None  # the FAQ entry created (approved) or extended (merged)
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() + "Z" if value else None

        return {
            "id": self.id,
            "tenant": self.tenant,
            "status": self.status,
            "language": self.language,
            "question": self.question,
            "similar_questions": list(self.similar_questions),
            "answer": self.answer,
            "answer_hint": self.answer_hint,
            "answer_source": self.answer_source,
            "category": self.category,
            "support": self.support,
            "examples": list(self.examples),
            "cluster_key": self.cluster_key,
            "near_faq_id": self.near_faq_id,
            "near_score": self.near_score,
            "hint_faq_id": self.hint_faq_id,
            "edited": self.edited,
            "decided_by": self.decided_by,
            "decided_at": iso(self.decided_at),
            "note": self.note,
            "faq_id": self.faq_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True)
class MineResult:
    new: int
    updated: int

    def to_dict(self) -> dict[str, int]:
        return {"new": self.new, "updated": self.updated}


@dataclass(frozen=True)
class _Proposal:
    """What one cluster of questions suggests (before it meets the stored drafts)."""

    language: str
    key: str
    members: list[str]
    question: str
    similar: list[str]
    answer: str
    answer_source: str
    answer_hint: str
    hint_faq_id: str | None
    category: str
    support: int
    examples: list[str]
    near_faq_id: str | None
    near_score: float | None


def _draft(row: FaqDraftRow, tenant: str) -> Draft:
    return Draft(
        id=row.id,
        tenant=tenant,
        status=row.status,
        language=row.language,
        question=row.question,
        similar_questions=tuple(row.similar_questions),
        answer=row.answer,
        answer_hint=row.answer_hint,
        answer_source=row.answer_source,
        category=row.category,
        support=row.support,
        examples=tuple(row.examples),
        cluster_key=row.cluster_key,
        near_faq_id=row.near_faq_id,
        near_score=row.near_score,
        hint_faq_id=row.hint_faq_id,
        edited=row.edited,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        note=row.note,
        faq_id=row.faq_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class DraftService:
    """Mine, list, edit and decide a tenant's FAQ drafts (see the module docstring).

    ``faqs`` is the knowledge base drafts are checked against and written to; ``embedder``
    (optional) clusters by meaning, without one the clustering is lexical; ``names`` returns
    the shop customers' names found in some texts of a tenant, masked like other personal data.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        tenants: TenantRepository,
        clock: Callable[[], datetime],
        *,
        faqs: FaqRepository | None = None,
        embedder: Embedder | None = None,
        names: Callable[[str, Sequence[str]], list[str]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._tenants = tenants
        self._clock = clock
        self._faqs = faqs or FaqRepository(sessions, tenants)
        self.embedder = embedder
        self._names = names

    # -- reading ---------------------------------------------------------------------------
    def list(self, tenant: str, status: str | None = None) -> list[Draft]:
        """The tenant's drafts (only those with ``status`` when given), most asked first."""
        t = self._tenants.get(tenant)
        if status is not None and status not in DRAFT_STATUSES:
            raise InvalidInputError(
                f"unknown status {status!r}; use one of {', '.join(DRAFT_STATUSES)}",
                field="status",
            )
        with self._sessions() as s:
            q = select(FaqDraftRow).where(FaqDraftRow.tenant_id == t.id)
            if status is not None:
                q = q.where(FaqDraftRow.status == status)
            rows = s.scalars(q.order_by(FaqDraftRow.support.desc(), FaqDraftRow.id))
            return [_draft(r, t.name) for r in rows]

    def get(self, draft_id: int) -> Draft:
        with self._sessions() as s:
            found = s.execute(
                select(FaqDraftRow, TenantRow.name)
                .join(TenantRow, TenantRow.id == FaqDraftRow.tenant_id)
                .where(FaqDraftRow.id == draft_id)
            ).first()
            if found is None:
                raise DraftNotFound(draft_id)
            return _draft(found[0], found[1])

    # -- mining ----------------------------------------------------------------------------
    def mine(self, tenant: str, since: datetime | None = None) -> MineResult:
        """Mine the tenant's conversations (those started at or after ``since`` when given)
        into suggested drafts: (new drafts, suggested drafts updated)."""
        t = self._tenants.get(tenant)
        if since is not None and since.tzinfo is not None:  # stored times are naive UTC
            since = since.astimezone(UTC).replace(tzinfo=None)
        settings = self._tenants.settings(tenant)
        threshold = float(settings["answer_threshold"])
        language = str(settings["language"])
        names = None
        if self._names is not None:
            lookup = self._names

            def names(texts: Sequence[str]) -> Sequence[str]:
                return lookup(tenant, texts)

        items: list[mining.Unanswered] = []
        with self._tenants.pinned():  # the name lookup reads the tenant once, not per message
            for conversation_id, events in self._conversations(t.id, since):
                items += mining.unanswered(
                    conversation_id, events, threshold, default_language=language, names=names
                )
        for _attempt in range(3):
            try:
                return self._store(t.id, tenant, items)
            except IntegrityError:
                continue  # another mining run stored the same cluster first: read again
        raise ConflictError("another mining run for this tenant is writing drafts; try again")

    def _conversations(
        self, tenant_id: int, since: datetime | None
    ) -> builtins.list[tuple[str, builtins.list[Event]]]:
        e = EventRow
        q = (
            select(e.conversation_id, e.seq, e.type, e.actor, e.text, e.payload, e.created_at)
            .join(ConversationRow, ConversationRow.id == e.conversation_id)
            .where(ConversationRow.tenant_id == tenant_id)
        )
        if since is not None:
            q = q.where(ConversationRow.created_at >= since)
        grouped: dict[str, list[Event]] = defaultdict(list)
        with self._sessions() as s:
            for r in s.connection().execute(q.order_by(e.conversation_id, e.seq)):
                grouped[r.conversation_id].append(
                    Event(r.seq, r.type, r.actor, r.text, dict(r.payload), r.created_at)
                )
        return list(grouped.items())

    def _store(
        self, tenant_id: int, tenant: str, items: builtins.list[mining.Unanswered]
    ) -> MineResult:
        now = self._clock()
        new = updated = 0
        with self._sessions.begin() as s:
            rows = list(s.scalars(select(FaqDraftRow).where(FaqDraftRow.tenant_id == tenant_id)))
            decided = {(r.language, m) for r in rows if r.status != "suggested" for m in r.members}
            fresh = [i for i in items if (i.language, i.norm) not in decided]
            by_key = {r.cluster_key: r for r in rows}
            open_rows = [r for r in rows if r.status == "suggested"]
            used: set[int] = set()
            for proposal in self._proposals(tenant, fresh):
                row = by_key.get(proposal.key)
                if row is not None and row.status != "suggested":
                    continue  # never bring a decided draft back
                if row is None:
                    row = _overlapping(open_rows, proposal, used)
                if row is None:
                    row = FaqDraftRow(
                        tenant_id=tenant_id,
                        status="suggested",
                        edited=False,
                        created_at=now,
                        updated_at=now,
                    )
                    _apply(row, proposal, edited=False)
                    s.add(row)
                    s.flush()
                    by_key[proposal.key] = row
                    new += 1
                else:
                    clash = by_key.get(proposal.key)
                    if clash is not None and clash is not row:
                        continue  # another stored draft holds exactly these questions
                    by_key.pop(row.cluster_key, None)
                    if _apply(row, proposal, edited=row.edited):
                        row.updated_at = now
                        updated += 1
                    by_key[row.cluster_key] = row
                used.add(row.id)
        return MineResult(new, updated)

    def _proposals(
        self, tenant: str, items: builtins.list[mining.Unanswered]
    ) -> builtins.list[_Proposal]:
        questions = mining.deduplicate(items)
        out: list[_Proposal] = []
        for language in sorted({q.language for q in questions}):
            group = [q for q in questions if q.language == language]
            if sum(len(q.variants) for q in group) < mining.MIN_SUPPORT:
                continue
            faqs = [e for e in self._faqs.all(tenant, language) if e.enabled]
            faq_texts = [(e, text) for e in faqs for text in e.all_questions()]
            if self.embedder is not None:
                # Normalised texts embedded as queries, like the FAQ index does: the FAQ
                # questions' vectors are in the embedder's cache already.
                vectors = self.embedder.embed_queries([q.norm for q in group])
                faq_vectors = (
                    self.embedder.embed_queries([normalise(text) for _, text in faq_texts])
                    if faq_texts
                    else np.zeros((0, vectors.shape[1]), np.float32)
                )
                threshold, duplicate = mining.EMBEDDING_THRESHOLD, mining.EMBEDDING_DUPLICATE
                related = mining.EMBEDDING_RELATED
            else:
                vectors, faq_vectors = mining.lexical_vectors(
                    [q.norm for q in group], [normalise(text) for _, text in faq_texts]
                )
                threshold, duplicate = mining.LEXICAL_THRESHOLD, mining.LEXICAL_DUPLICATE
                related = mining.LEXICAL_RELATED
            for members in mining.draft_groups(vectors, group, threshold):
                out.append(
                    _proposal(
                        language,
                        [group[i] for i in members],
                        vectors[members],
                        [group[i] for i in members].index(group[mining.medoid(vectors, members)]),
                        faq_texts,
                        faq_vectors,
                        (related, duplicate),
                    )
                )
        return out

    # -- reviewing -------------------------------------------------------------------------
    def edit(
        self,
        draft_id: int,
        *,
        question: str | None = None,
        similar_questions: Sequence[str] | None = None,
        answer: str | None = None,
        category: str | None = None,
    ) -> Draft:
        """Change a suggested draft (the others are decided: 409). Mining again keeps the
        edited texts."""
        if question is not None:
            question = _text("question", question, MAX_QUESTION, required=True)
        if similar_questions is not None:
            similar_questions = _similar(similar_questions)
        if answer is not None:
            answer = _text("answer", answer, MAX_ANSWER)
        if category is not None:
            category = _text("category", category, MAX_CATEGORY)
        with self._sessions.begin() as s:
            row, tenant = self._locked(s, draft_id)
            _require_suggested(row)
            if question is not None:
                row.question = question
            if similar_questions is not None:
                row.similar_questions = list(similar_questions)
            if answer is not None:
                row.answer = answer
                row.answer_source = "supervisor"
            if category is not None:
                row.category = category
            row.edited = True
            row.updated_at = self._clock()
            s.flush()
            return _draft(row, tenant)

    def approve(
        self, draft_id: int, by: str, faq_id: str | None = None, answer: str | None = None
    ) -> Draft:
        """Turn a suggested draft into an FAQ entry (id ``faq_id``, default ``draft-ID``; an
        id that exists only in the other language gets this language's version). ``answer``
        replaces the draft's answer first. The entry, the decision (who, when) and the new
        knowledge-base revision are written together or not at all."""
        by = _text("by", by, 128, required=True)
        if faq_id is not None:
            faq_id = _faq_id(faq_id)
        if answer is not None:
            answer = _text("answer", answer, MAX_ANSWER)
        with self._sessions.begin() as s:
            row, tenant = self._locked(s, draft_id)
            _require_suggested(row)
            text = (answer if answer is not None else row.answer).strip()
            if not text:
                raise InvalidInputError(
                    "the draft has no answer; write one before approving it", field="answer"
                )
            target = faq_id or f"draft-{row.id}"
            taken = s.scalar(
                select(FaqRow.pk).where(
                    FaqRow.tenant_id == row.tenant_id,
                    FaqRow.faq_id == target,
                    FaqRow.language == row.language,
                )
            )
            if taken is not None:
                raise ConflictError(
                    f"FAQ {target!r} already has a {row.language} entry; merge the draft into "
                    "it or choose another id",
                    field="faq_id",
                    faq_id=target,
                )
            now = self._clock()
            entry = FaqEntry(
                id=target,
                question=row.question,
                similar_questions=tuple(_unique(row.similar_questions, [row.question])),
                answer=text,
                category=row.category,
                language=row.language,
                tags=("draft",),
            )
            faq_row = new_faq_row(row.tenant_id, entry)
            faq_row.updated_at = now
            s.add(faq_row)
            row.answer = text
            _decide(row, "approved", by, now)
            row.faq_id = target
            self._tenants.bump_kb_revision(s, row.tenant_id)
            s.flush()
            return _draft(row, tenant)

    def merge(self, draft_id: int, by: str, faq_id: str) -> Draft:
        """Add a suggested draft's questions to an existing FAQ entry (its version in the
        draft's language) as similar questions, instead of a new entry."""
        by = _text("by", by, 128, required=True)
        faq_id = _faq_id(faq_id)
        with self._sessions.begin() as s:
            row, tenant = self._locked(s, draft_id)
            _require_suggested(row)
            target = s.scalar(
                select(FaqRow)
                .where(
                    FaqRow.tenant_id == row.tenant_id,
                    FaqRow.faq_id == faq_id,
                    FaqRow.language == row.language,
                )
                .with_for_update()
            )
            if target is None:
                other = s.scalar(
                    select(FaqRow.pk).where(
                        FaqRow.tenant_id == row.tenant_id, FaqRow.faq_id == faq_id
                    )
                )
                if other is None:
                    raise FaqNotFound(faq_id)
                raise InvalidInputError(
                    f"FAQ {faq_id!r} has no {row.language} entry to add {row.language} "
                    "questions to; approve the draft with this id instead",
                    field="faq_id",
                )
            added = _unique(
                [row.question, *row.similar_questions],
                [target.question, *target.similar_questions],
            )
            merged = [*target.similar_questions, *added]
            if len(merged) > MAX_SIMILAR:
                raise InvalidInputError(
                    f"FAQ {faq_id!r} would have {len(merged)} similar questions; the limit is "
                    f"{MAX_SIMILAR}",
                    field="faq_id",
                )
            now = self._clock()
            target.similar_questions = merged
            target.updated_at = now
            _decide(row, "merged", by, now)
            row.faq_id = faq_id
            self._tenants.bump_kb_revision(s, row.tenant_id)
            s.flush()
            return _draft(row, tenant)

    def reject(self, draft_id: int, by: str, note: str | None = None) -> Draft:
        """Reject a suggested draft: it stays rejected, and mining never suggests its
        questions again."""
        by = _text("by", by, 128, required=True)
        if note is not None:
            note = _text("note", note, MAX_NOTE)
        with self._sessions.begin() as s:
            row, tenant = self._locked(s, draft_id)
            _require_suggested(row)
            _decide(row, "rejected", by, self._clock())
            row.note = note or None
            s.flush()
            return _draft(row, tenant)

    def _locked(self, s: Session, draft_id: int) -> tuple[FaqDraftRow, str]:
        """The draft's row, locked for the transaction (PostgreSQL: two supervisors deciding
        at once are serialised; SQLite allows one writer anyway), and its tenant's name."""
        row = s.scalar(select(FaqDraftRow).where(FaqDraftRow.id == draft_id).with_for_update())
        if row is None:
            raise DraftNotFound(draft_id)
        tenant = s.scalar(select(TenantRow.name).where(TenantRow.id == row.tenant_id))
        return row, str(tenant)


# -- helpers -----------------------------------------------------------------------------------
def _proposal(
    language: str,
    members: list[mining.Question],
    vectors: mining.Matrix,
    centre: int,
    faq_texts: list[tuple[FaqEntry, str]],
    faq_vectors: mining.Matrix,
    thresholds: tuple[float, float],
) -> _Proposal:
    related, duplicate = thresholds
    rep = members[centre]
    others = sorted(
        (m for i, m in enumerate(members) if i != centre), key=lambda m: (-m.count, m.norm)
    )
    examples: list[str] = []
    for m in sorted(members, key=lambda m: -m.count):
        examples += [c for c in m.conversations if c not in examples]
    agent = Counter(a for m in members for a in m.agent_answers).most_common(1)
    near: FaqEntry | None = None
    score: float | None = None
    if faq_texts:
        centroid = vectors.mean(axis=0)
        norm = float(np.linalg.norm(centroid))
        if norm > 0:
            sims = faq_vectors @ (centroid / norm)
            best = int(np.argmax(sims))
            score = round(float(sims[best]), 4)
            if score >= related:
                near = faq_texts[best][0]
    return _Proposal(
        language=language,
        key=mining.cluster_key(language, [m.norm for m in members]),
        members=sorted(m.norm for m in members),
        question=rep.text,
        similar=[
            *(m.text for m in others),
            *(v for v in rep.variants if v != rep.text),
        ][: mining.MAX_SIMILAR],
        answer=agent[0][0] if agent else "",
        answer_source="agent" if agent else "none",
        answer_hint="" if agent or near is None else near.answer,
        hint_faq_id=near.id if near is not None else None,
        category=near.category if near is not None else "",
        support=sum(m.count for m in members),
        examples=examples[: mining.MAX_EXAMPLES],
        near_faq_id=near.id
        if near is not None and score is not None and score >= duplicate
        else None,
        near_score=score,
    )


def _overlapping(
    rows: list[FaqDraftRow], proposal: _Proposal, used: set[int]
) -> FaqDraftRow | None:
    """The suggested draft sharing the most questions with ``proposal`` (None: none does)."""
    wanted = set(proposal.members)
    best: tuple[int, FaqDraftRow] | None = None
    for row in rows:
        if row.id in used or row.language != proposal.language:
            continue
        shared = len(wanted & set(row.members))
        if shared and (best is None or shared > best[0]):
            best = (shared, row)
    return best[1] if best else None


def _apply(row: FaqDraftRow, p: _Proposal, *, edited: bool) -> bool:
    """Write a proposal into a suggested draft's row (an edited draft keeps its texts):
    whether anything changed."""
    values: dict[str, Any] = {
        "language": p.language,
        "cluster_key": p.key,
        "members": p.members,
        "support": p.support,
        "examples": p.examples,
        "near_faq_id": p.near_faq_id,
        "near_score": p.near_score,
        "hint_faq_id": p.hint_faq_id,
        "answer_hint": p.answer_hint,
    }
    if not edited:
        values |= {
            "question": p.question,
            "similar_questions": p.similar,
            "answer": p.answer,
            "answer_source": p.answer_source,
            "category": p.category,
        }
    changed = False
    for name, value in values.items():
        if getattr(row, name, None) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _decide(row: FaqDraftRow, status: str, by: str, now: datetime) -> None:
    row.status = status
    row.decided_by = by
    row.decided_at = now
    row.updated_at = now


def _require_suggested(row: FaqDraftRow) -> None:
    if row.status != "suggested":
        raise ConflictError(
            f"FAQ draft {row.id} is already {row.status}; only suggested drafts change",
            draft_id=row.id,
            status=row.status,
        )


def _text(name: str, value: str, limit: int, *, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidInputError(f"{name} must not be empty", field=name)
    if len(value) > limit:
        raise InvalidInputError(
            f"{name} is {len(value)} characters long; the limit is {limit}", field=name
        )
    return value


def _similar(values: Sequence[str]) -> list[str]:
    out = [_text("similar_questions", v, MAX_QUESTION) for v in values]
    out = _unique([v for v in out if v], [])
    if len(out) > MAX_SIMILAR:
        raise InvalidInputError(
            f"{len(out)} similar questions; the limit is {MAX_SIMILAR}", field="similar_questions"
        )
    return out


def _faq_id(value: str) -> str:
    value = value.strip()
    if len(value) > MAX_ID or not _FAQ_ID.fullmatch(value):
        raise InvalidInputError(
            f"invalid FAQ id {value!r}: use up to {MAX_ID} letters, digits and _ . : - "
            "(starting with a letter or digit)",
            field="faq_id",
        )
    return value


def _unique(texts: Sequence[str], existing: Sequence[str]) -> list[str]:
    """``texts`` without blanks and without those (normalised) already in ``existing`` or
    earlier in ``texts``."""
    seen = {normalise(t) for t in existing}
    out: list[str] = []
    for text in texts:
        key = normalise(text)
        if text.strip() and key not in seen:
            seen.add(key)
            out.append(text.strip())
    return out
