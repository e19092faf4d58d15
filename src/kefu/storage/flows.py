"""Per-tenant flow files: validated before they are stored, so a stored file always loads."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from kefu.storage.flow_tables import TenantFlowsRow
from kefu.storage.tenants import TenantRepository, utcnow


class FlowRepository:
    def __init__(self, sessions: sessionmaker[Session], tenants: TenantRepository) -> None:
        self._sessions = sessions
        self._tenants = tenants

    def get(self, tenant: str) -> tuple[str, str] | None:
        """(source name, YAML text) of the tenant's flow file, or None."""
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            row = s.get(TenantFlowsRow, t.id)
            return None if row is None else (row.source, row.text)

    def put(self, tenant: str, source: str, text: str) -> None:
        """Store (replace) the tenant's flow file; the caller has validated it."""
        t = self._tenants.get(tenant)
        with self._sessions.begin() as s:
            row = s.get(TenantFlowsRow, t.id)
            if row is None:
                row = TenantFlowsRow(tenant_id=t.id, source=source, text=text, updated_at=utcnow())
                s.add(row)
            else:
                row.source, row.text, row.updated_at = source, text, utcnow()
            self._tenants.bump_kb_revision(s, t.id)

    def delete(self, tenant: str) -> bool:
        t = self._tenants.get(tenant)
        with self._sessions.begin() as s:
            gone = s.execute(delete(TenantFlowsRow).where(TenantFlowsRow.tenant_id == t.id))
            if gone.rowcount:  # type: ignore[attr-defined]
                self._tenants.bump_kb_revision(s, t.id)
            return bool(gone.rowcount)  # type: ignore[attr-defined]
