"""Tables of this module (the schema itself is owned by the Alembic migrations)."""

from __future__ import annotations

from kefu.storage.models import Base  # noqa: F401
