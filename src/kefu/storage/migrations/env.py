"""Alembic environment: kefu passes its own connection in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from kefu.storage.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - kefu always passes a connection
    raise RuntimeError("kefu migrations run through kefu.storage.db.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
