"""The operation ledger repository: append rows, claim keys, read entries.

Nothing here updates or deletes a row (see :mod:`kefu.storage.ledger_tables`). :meth:`claim`
is the one place where two writers can meet: it inserts a row carrying a unique claim key and
answers None when another row already holds that key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kefu.errors import InvalidInputError, OperationNotFound
from kefu.storage.ledger_tables import OperationLedgerRow
from kefu.storage.models import TenantRow
from kefu.storage.tenants import TenantRepository, utcnow

# Every status a row can have, in the order an operation passes through them.
STATUSES: tuple[str, ...] = (
    "previewed",  # a preview was shown (nothing written)
    "refused",  # refused: by the shop's rules, or the preview went stale (result.refusal)
    "confirmed",  # the customer confirmed this exact preview (claims the idempotency key)
    "awaiting_approval",  # high risk: queued for a human
    "approved",  # a human approved the queued operation (claims the decision)
    "rejected",  # a human rejected it (claims the decision); closed
    "executed",  # written to the shop; before/after hold the records
    "failed",  # the write failed with a known error; nothing was written
    "unknown_outcome",  # the write failed unexpectedly; check the shop before retrying
)
MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One ledger row."""

    id: int
    tenant: str
    conversation_id: str | None
    customer_id: str | None
    operation: str
    status: str
    arguments: dict[str, Any]
    preview: dict[str, Any] | None
    fingerprint: str | None
    confirmation: dict[str, Any] | None
    idempotency_key: str | None
    result: dict[str, Any] | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ref: int | None
    actor: str
    note: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant": self.tenant,
            "conversation_id": self.conversation_id,
            "customer_id": self.customer_id,
            "operation": self.operation,
            "status": self.status,
            "arguments": self.arguments,
            "preview": self.preview,
            "fingerprint": self.fingerprint,
            "confirmation": self.confirmation,
            "idempotency_key": self.idempotency_key,
            "result": self.result,
            "before": self.before,
            "after": self.after,
            "ref": self.ref,
            "actor": self.actor,
            "note": self.note,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class NewEntry:
    """The fields of a row to append (the tenant is given by name to the repository)."""

    operation: str
    status: str
    arguments: dict[str, Any]
    actor: str
    conversation_id: str | None = None
    customer_id: str | None = None
    preview: dict[str, Any] | None = None
    fingerprint: str | None = None
    confirmation: dict[str, Any] | None = None
    idempotency_key: str | None = None
    result: dict[str, Any] | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    ref: int | None = None
    note: str | None = None


def check_status(value: str) -> str:
    if value not in STATUSES:
        raise InvalidInputError(
            f"status must be one of {', '.join(STATUSES)}, not {value!r}", field="status"
        )
    return value


def _entry(row: OperationLedgerRow, tenant: str) -> LedgerEntry:
    return LedgerEntry(
        id=row.id,
        tenant=tenant,
        conversation_id=row.conversation_id,
        customer_id=row.customer_id,
        operation=row.operation,
        status=row.status,
        arguments=row.arguments,
        preview=row.preview,
        fingerprint=row.fingerprint,
        confirmation=row.confirmation,
        idempotency_key=row.idempotency_key,
        result=row.result,
        before=row.before,
        after=row.after,
        ref=row.ref,
        actor=row.actor,
        note=row.note,
        created_at=row.created_at,
    )


class LedgerRepository:
    def __init__(self, sessions: sessionmaker[Session], tenants: TenantRepository) -> None:
        self._sessions = sessions
        self._tenants = tenants

    @property
    def tenants(self) -> TenantRepository:
        """The tenant repository names are resolved with (and settings read from)."""
        return self._tenants

    def _row(self, tenant_id: int, new: NewEntry, claim_key: str | None) -> OperationLedgerRow:
        check_status(new.status)
        return OperationLedgerRow(
            tenant_id=tenant_id,
            conversation_id=new.conversation_id,
            customer_id=new.customer_id,
            operation=new.operation,
            status=new.status,
            arguments=new.arguments,
            preview=new.preview,
            fingerprint=new.fingerprint,
            confirmation=new.confirmation,
            idempotency_key=new.idempotency_key,
            claim_key=claim_key,
            result=new.result,
            before=new.before,
            after=new.after,
            ref=new.ref,
            actor=new.actor[:64],
            note=new.note,
            created_at=utcnow(),
        )

    def append(self, tenant: str, new: NewEntry) -> LedgerEntry:
        """Insert one row (its own transaction)."""
        t = self._tenants.get(tenant)
        with self._sessions.begin() as s:
            row = self._row(t.id, new, None)
            s.add(row)
            s.flush()
            return _entry(row, t.name)

    def claim(self, tenant: str, claim_key: str, new: NewEntry) -> LedgerEntry | None:
        """Insert ``new`` holding ``claim_key``; None when a row of this tenant already holds
        it (then nothing is inserted). Of concurrent claimers exactly one gets a row."""
        t = self._tenants.get(tenant)
        try:
            with self._sessions.begin() as s:
                row = self._row(t.id, new, claim_key)
                s.add(row)
                s.flush()
                return _entry(row, t.name)
        except IntegrityError:
            return None

    def get(self, ledger_id: int, tenant: str | None = None) -> LedgerEntry:
        """The row with this id (of this tenant, when named). Raises OperationNotFound."""
        with self._sessions() as s:
            found = s.execute(
                select(OperationLedgerRow, TenantRow.name)
                .join(TenantRow, TenantRow.id == OperationLedgerRow.tenant_id)
                .where(OperationLedgerRow.id == ledger_id)
            ).first()
        if found is None or (tenant is not None and found[1] != tenant):
            raise OperationNotFound(ledger_id)
        return _entry(found[0], found[1])

    def by_key(self, tenant: str, idempotency_key: str) -> list[LedgerEntry]:
        """Every row of one idempotency key, oldest first."""
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            rows = s.scalars(
                select(OperationLedgerRow)
                .where(
                    OperationLedgerRow.tenant_id == t.id,
                    OperationLedgerRow.idempotency_key == idempotency_key,
                )
                .order_by(OperationLedgerRow.id)
            )
            return [_entry(r, t.name) for r in rows]

    def list(
        self,
        tenant: str,
        *,
        conversation_id: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[LedgerEntry]:
        """A tenant's rows, newest first."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInputError(f"limit must be 1-{MAX_LIMIT}, not {limit}", field="limit")
        t = self._tenants.get(tenant)
        q = select(OperationLedgerRow).where(OperationLedgerRow.tenant_id == t.id)
        if conversation_id is not None:
            q = q.where(OperationLedgerRow.conversation_id == conversation_id)
        if status is not None:
            q = q.where(OperationLedgerRow.status == check_status(status))
        with self._sessions() as s:
            rows = s.scalars(q.order_by(OperationLedgerRow.id.desc()).limit(limit))
            return [_entry(r, t.name) for r in rows]
