"""HTTP API (FastAPI). Build it with :func:`kefu.api.app.create_app`."""
