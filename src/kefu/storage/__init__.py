"""Storage: SQLAlchemy models, migrations and repositories (SQLite and PostgreSQL)."""
