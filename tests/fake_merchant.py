"""A fake merchant REST API for tests: real HTTP on 127.0.0.1, state in a real embedded shop.

    merchant = FakeMerchant.start(tmp_path, token="t0ken")      # its own SQLite database
    merchant.load(TENANT, users, orders, products)
    shop = HttpShop(merchant_config(merchant.base_url), tenants)  # tests/data/merchant.yaml
    merchant.misbehave("error_after", count=1)                   # the next write: 500 after it

The server speaks a REST dialect that differs from our documents on purpose (``state`` for
``status``, ``lines[].sku`` for ``items[].item_id``, ``wallet`` as a list for
``payment_methods``, ``skus`` for ``variants``, ``postcode`` for ``zip``, ``shipping_fee`` for
``freight``, ``vouchers`` for ``coupons``, a rules document with ``shipping.areas[]`` and a list
of ``coupon_templates``, ...), so the field mapping of ``tests/data/merchant.yaml`` is
exercised. Every answer is ``{"data": ...}``;
errors are ``{"error": {"code", "message"}}`` (409 for a refusal by the shop's rules).

Besides tau's seven writes it serves the shop extensions of the embedded shop underneath
(``POST .../orders/{id}/refund``, ``POST .../customers/{id}/refunds``, ``POST
.../orders/{id}/merge``, ``POST .../customers/{id}/coupons``) and the shop rules document
(``GET .../rules``, 404 when the shop has none): the same rules as the embedded shop, so its
state after a write is what the embedded shop would hold.

Writes need an ``Idempotency-Key`` header (400 without). Requests with one key are serialised;
a key seen before gets the stored first response and never a second write (a different
request under a known key: 422). ``GET /api/idempotency/{key}`` shows the record: 404 unknown,
409 in progress, 200 ``{"status", "body"}``.

:meth:`FakeMerchant.misbehave` makes the next ``count`` requests (writes by default) fail:

- ``delay``: hold the request until :attr:`FakeMerchant.release` is set (then process it);
- ``error_after``: apply the write, store its record, answer 500;
- ``unavailable``: answer 503 before applying anything;
- ``drop_before``: close the connection without an answer, nothing applied;
- ``drop_after``: apply the write (record stored), then close without an answer.

:attr:`FakeMerchant.applied` lists every write the shop actually applied, ``(operation,
key)``; :meth:`FakeMerchant.wait_applied` waits (on a condition, no sleeps) for a number of them.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml

from kefu.config import Config
from kefu.connectors.embedded import EmbeddedShop
from kefu.connectors.http_config import MerchantConfig, parse_merchant_config
from kefu.connectors.port import Address, normalise_email, normalise_phone
from kefu.errors import KefuError, OperationRefused
from kefu.storage.db import make_engine, migrate, session_factory
from kefu.storage.tenants import TenantRepository

Doc = dict[str, Any]
_HOLD_LIMIT_S = 30.0  # a held request's safety net; teardown releases every hold
MODES = ("delay", "error_after", "unavailable", "drop_before", "drop_after")

# The merchant's names for our documents' keys (ours -> theirs), per kind of document.
ORDER = {
    "order_id": "id",
    "user_id": "customer_id",
    "status": "state",
    "address": "shipping_address",
    "items": "lines",
    "payment_history": "payments",
    "freight": "shipping_fee",
}
PARTIAL_REFUND = {"payment_method_id": "method_id"}
LINE = {"item_id": "sku", "price": "unit_price"}
PAYMENT = {"transaction_type": "kind", "payment_method_id": "method_id"}
ADDRESS = {"address1": "line1", "address2": "line2", "state": "province", "zip": "postcode"}
CUSTOMER = {
    "user_id": "customer_id",
    "email": "contact_email",
    "payment_methods": "wallet",
    "orders": "order_ids",
    "coupons": "vouchers",
}
COUPON = {"coupon_id": "code", "template_id": "template"}
METHOD = {"source": "type"}
PRODUCT = {"product_id": "id", "name": "title", "variants": "skus", "weight_kg": "weight"}
VARIANT = {"item_id": "sku", "available": "in_stock", "weight_kg": "weight"}
REQUEST = {
    "item_ids": "skus",
    "new_item_ids": "new_skus",
    "payment_method_id": "payment_method",
    "amount": "refund_amount",
    "refunds": "lines",
    "order_ids": "orders",
    "template_id": "template",
}
REFUND_LINE = {"order_id": "order", "payment_method_id": "payment_method"}
RULES = {"freight": "shipping", "coupons": "coupon_templates"}
FREIGHT = {"first_weight_kg": "base_weight_kg", "zones": "areas", "default": "default_area"}
ZONE = {
    "regions": "provinces",
    "first_kg": "base_fee",
    "additional_kg": "fee_per_kg",
    "free_over": "free_from",
}
TEMPLATE = {"name": "title", "kind": "type", "per_customer_limit": "limit_per_customer"}

# write path suffix -> our operation
ORDER_WRITES = {
    "cancel": "cancel_order",
    "address": "modify_order_address",
    "items": "modify_order_items",
    "payment": "modify_order_payment",
    "return": "return_order_items",
    "exchange": "exchange_order_items",
    "refund": "refund_order",
    "merge": "merge_orders",
}
CUSTOMER_WRITES = {
    ("PUT", "address"): "modify_customer_address",
    ("POST", "refunds"): "refund_orders",
    ("POST", "coupons"): "issue_coupon",
}


def _rename(doc: Doc, names: dict[str, str]) -> Doc:
    return {names.get(k, k): v for k, v in doc.items()}


def _unrename(doc: Doc, names: dict[str, str]) -> Doc:
    back = {theirs: ours for ours, theirs in names.items()}
    return {back.get(k, k): v for k, v in doc.items()}


def order_out(doc: Doc) -> Doc:
    out = _rename(doc, ORDER)
    out["shipping_address"] = _rename(doc["address"], ADDRESS)
    out["lines"] = [_rename(i, LINE) for i in doc["items"]]
    out["payments"] = [_rename(p, PAYMENT) for p in doc["payment_history"]]
    if "partial_refunds" in doc:
        out["partial_refunds"] = [_rename(r, PARTIAL_REFUND) for r in doc["partial_refunds"]]
    return out


def customer_out(customer_id: str, doc: Doc) -> Doc:
    out = _rename({"user_id": customer_id, **doc}, CUSTOMER)
    out["address"] = _rename(doc["address"], ADDRESS)
    out["wallet"] = [_rename(m, METHOD) for m in doc["payment_methods"].values()]
    if "coupons" in doc:
        out["vouchers"] = [_rename(c, COUPON) for c in doc["coupons"]]
    return out


def product_out(doc: Doc) -> Doc:
    out = _rename(doc, PRODUCT)
    out["skus"] = [_rename(v, VARIANT) for v in doc["variants"].values()]
    return out


def rules_out(doc: Doc) -> Doc:
    """The shop rules document in the merchant's dialect (coupon templates as a list)."""
    out = _rename(doc, RULES)
    if doc.get("freight") is not None:
        freight = _rename(doc["freight"], FREIGHT)
        if "areas" in freight:
            freight["areas"] = [_rename(z, ZONE) for z in freight["areas"]]
        if freight.get("default_area") is not None:
            freight["default_area"] = _rename(freight["default_area"], ZONE)
        out["shipping"] = freight
    if doc.get("coupons") is not None:
        out["coupon_templates"] = [
            {"id": template_id, **_rename(t, TEMPLATE)} for template_id, t in doc["coupons"].items()
        ]
    return out


@dataclass
class _Trouble:
    mode: str
    count: int
    writes_only: bool


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    merchant: FakeMerchant

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout) closed its end: expected here


class FakeMerchant:
    """The merchant API over an embedded shop in its own database (see the module docstring)."""

    def __init__(self, shop: EmbeddedShop, tenants: TenantRepository, token: str) -> None:
        self.shop = shop
        self.tenants = tenants
        self.token = token
        self.release = threading.Event()
        self.holding = threading.Event()  # set while a delayed write is held
        self.applied: list[tuple[str, str]] = []
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, key
        self.before_write: Callable[[], object] | None = None  # runs once, before a write
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._records: dict[str, tuple[str, int, Doc]] = {}  # key -> request, status, body
        self._in_progress: set[str] = set()
        self._key_locks: dict[str, threading.Lock] = {}
        self._trouble: list[_Trouble] = []
        self._writing = 0  # writes being handled
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------
    @classmethod
    def start(cls, directory: Path, token: str = "merchant-token") -> FakeMerchant:
        directory.mkdir(parents=True, exist_ok=True)
        config = Config.from_env(
            directory, env={"KEFU_DATABASE_URL": f"sqlite:///{directory / 'merchant.db'}"}
        )
        engine = make_engine(config)
        migrate(engine)
        sessions = session_factory(engine)
        tenants = TenantRepository(sessions)
        merchant = cls(EmbeddedShop(sessions, tenants), tenants, token)
        server = _Server(("127.0.0.1", 0), _Handler)
        server.merchant = merchant
        merchant._server = server
        merchant._thread = threading.Thread(target=server.serve_forever, daemon=True)
        merchant._thread.start()
        return merchant

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api"

    def load(
        self, tenant: str, users: Doc, orders: Doc, products: Doc, rules: Doc | None = None
    ) -> None:
        """Replace the shop of ``tenant`` (created when new; ``rules``: its shop rules
        document) and forget every key, request and misbehaviour."""
        self.tenants.create(tenant)
        self.shop.load(tenant, copy.deepcopy(users), copy.deepcopy(orders), products, rules=rules)
        with self._lock:
            self._records.clear()
            self._trouble.clear()
            self._in_progress.clear()
            self.applied.clear()
            self.requests.clear()
        self.before_write = None
        self.release.set()  # frees a request still held by an earlier test
        assert self.wait_idle()
        self.release.clear()
        self.holding.clear()

    # -- misbehaviour ----------------------------------------------------------------------
    def misbehave(self, mode: str, count: int = 1, *, writes_only: bool = True) -> None:
        """The next ``count`` requests (writes only, by default) fail in ``mode``."""
        assert mode in MODES, mode
        with self._lock:
            self._trouble.append(_Trouble(mode, count, writes_only))

    def _trouble_for(self, write: bool) -> str | None:
        with self._lock:
            for trouble in self._trouble:
                if trouble.count > 0 and (write or not trouble.writes_only):
                    trouble.count -= 1
                    return trouble.mode
        return None

    def wait_applied(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until ``count`` writes were applied (False on timeout)."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.applied) >= count, timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no write is being handled (False on timeout)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._writing == 0, timeout)

    def writing(self, delta: int) -> None:
        with self._changed:
            self._writing += delta
            self._changed.notify_all()

    def stored(self, key: str) -> tuple[int, Doc] | None:
        with self._lock:
            found = self._records.get(key)
        return None if found is None else (found[1], found[2])

    # -- the API ---------------------------------------------------------------------------
    def read(self, tenant: str, path: list[str], query: dict[str, str]) -> tuple[int, Doc]:
        data = self.shop.dump(tenant)
        if path == ["customers"]:
            found = []
            for customer_id, doc in data.users.items():
                if "email" in query and normalise_email(doc["email"]) != normalise_email(
                    query["email"]
                ):
                    continue
                if "phone" in query and normalise_phone(doc.get("phone") or "") != query["phone"]:
                    continue
                if "zip" in query and doc["address"]["zip"] != query["zip"]:
                    continue
                found.append(customer_out(customer_id, doc))
            return 200, {"data": found}
        if len(path) == 2 and path[0] == "customers":
            doc = data.users.get(path[1])
            if doc is None:
                return 404, _error("customer_not_found", "no such customer")
            return 200, {"data": customer_out(path[1], doc)}
        if len(path) == 3 and path[0] == "customers" and path[2] == "orders":
            if path[1] not in data.users:
                return 404, _error("customer_not_found", "no such customer")
            orders = [order_out(o) for o in data.orders.values() if o["user_id"] == path[1]]
            return 200, {"data": orders}
        if len(path) == 2 and path[0] == "orders":
            order = data.orders.get(path[1])
            if order is None:
                return 404, _error("order_not_found", "no such order")
            return 200, {"data": order_out(order)}
        if path == ["products"]:
            return 200, {"data": [product_out(p) for p in data.products.values()]}
        if len(path) == 2 and path[0] == "products":
            product = data.products.get(path[1])
            if product is None:
                return 404, _error("product_not_found", "no such product")
            return 200, {"data": product_out(product)}
        if path == ["rules"]:
            if data.rules is None:
                return 404, _error("no_rules", "this shop has no rules")
            return 200, {"data": rules_out(data.rules)}
        if len(path) == 2 and path[0] == "idempotency":
            with self._lock:
                if path[1] in self._in_progress:
                    return 409, _error("in_progress", "a request with this key is in progress")
                record = self._records.get(path[1])
            if record is None:
                return 404, _error("unknown_key", "no request with this key")
            return 200, {"data": {"status": record[1], "body": record[2]}}
        return 404, _error("not_found", "no such endpoint")

    def _operation(self, method: str, path: list[str], body: Doc) -> tuple[str, Doc]:
        args = _unrename(body, REQUEST)
        if isinstance(args.get("address"), dict):
            fields = _unrename(args["address"], ADDRESS)
            args["address"] = Address(**fields)
        if isinstance(args.get("refunds"), list):
            args["refunds"] = [_unrename(line, REFUND_LINE) for line in args["refunds"]]
        if len(path) == 3 and path[0] == "customers":
            operation = CUSTOMER_WRITES.get((method, path[2]))
            if operation is not None:
                if operation == "refund_orders":
                    return operation, args
                return operation, {**args, "customer_id": path[1]}
        if method == "POST" and len(path) == 3 and path[0] == "orders":
            operation = ORDER_WRITES.get(path[2])
            if operation is not None:
                return operation, {**args, "order_id": path[1]}
        raise LookupError(path)

    def write(
        self, tenant: str, method: str, path: list[str], body: Doc, key: str, mode: str | None
    ) -> tuple[int, Doc]:
        """Apply one write under its key (the caller holds the key's lock)."""
        signature = json.dumps([method, path, body], sort_keys=True)
        with self._lock:
            record = self._records.get(key)
        if record is not None:
            if record[0] != signature:
                return 422, _error("key_reused", "this key was used for another request")
            return record[1], record[2]
        try:
            operation, args = self._operation(method, path, body)
        except LookupError:
            return 404, _error("not_found", "no such endpoint")
        if mode == "unavailable":
            return 503, _error("unavailable", "try again later")
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook()
        try:
            run = self.shop.write(tenant, operation, args)
        except OperationRefused as exc:
            status, answer = 409, _error(exc.reason, exc.message)
        except KefuError as exc:
            status, answer = exc.status, _error(exc.code, exc.message)
        else:
            status = 200
            if operation in ("modify_customer_address", "issue_coupon"):
                answer = {"data": customer_out(run.customer_id, run.customer_after)}
            elif operation == "refund_orders":
                others = getattr(run, "others_after", {})
                orders = [run.order_after or {}, *others.values()]
                answer = {"data": [order_out(o) for o in orders]}
            else:
                answer = {"data": order_out(run.order_after or {})}
        with self._changed:
            self._records[key] = (signature, status, answer)
            if status == 200:
                self.applied.append((operation, key))
            self._changed.notify_all()
        return status, answer

    def key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    def mark(self, key: str, busy: bool) -> None:
        with self._lock:
            (self._in_progress.add if busy else self._in_progress.discard)(key)


def _error(code: str, message: str) -> Doc:
    return {"error": {"code": code, "message": message}}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: Doc) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _drop(self) -> None:
        self.close_connection = True  # no answer: the client sees the connection closed

    def _handle(self, method: str) -> None:
        merchant = self.server.merchant
        parts = urlsplit(self.path)
        path = [unquote(p) for p in parts.path.split("/") if p]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        key = self.headers.get("Idempotency-Key")
        with merchant._lock:
            merchant.requests.append((method, parts.path, key))
        if self.headers.get("Authorization") != f"Bearer {merchant.token}":
            self._send(401, _error("unauthorized", "bad token"))
            return
        if len(path) < 2 or path[0] != "api":
            self._send(404, _error("not_found", "no such endpoint"))
            return
        tenant, rest = path[1], path[2:]
        write = method != "GET"
        mode = merchant._trouble_for(write)
        if not write:
            if mode == "delay":
                merchant.release.wait(_HOLD_LIMIT_S)
            if mode == "drop_before":
                self._drop()
            elif mode == "unavailable":
                self._send(503, _error("unavailable", "try again later"))
            else:
                self._send(*merchant.read(tenant, rest, query))
            return
        if mode == "drop_before":
            self._drop()
            return
        if not key:
            self._send(400, _error("key_required", "an Idempotency-Key header is required"))
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, _error("bad_json", "the body is not JSON"))
            return
        merchant.writing(+1)
        try:
            with merchant.key_lock(key):
                merchant.mark(key, True)
                try:
                    if mode == "delay":
                        merchant.holding.set()
                        merchant.release.wait(_HOLD_LIMIT_S)
                    status, answer = merchant.write(tenant, method, rest, body, key, mode)
                finally:
                    merchant.mark(key, False)
            if mode == "drop_after":
                self._drop()
            elif mode == "error_after":
                self._send(500, _error("internal", "something broke after the write"))
            else:
                self._send(status, answer)
        finally:
            merchant.writing(-1)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")


# -- fixtures (a test module imports ``merchant_fixture``: the fixture ``merchant``) ---------

MERCHANT_YAML = Path(__file__).resolve().parent / "data" / "merchant.yaml"
TOKEN = "merchant-secret-token"


def merchant_config(
    base_url: str,
    *,
    read_timeout: float | None = None,
    lookup: bool = True,
    attempts: int | None = None,
) -> MerchantConfig:
    """``tests/data/merchant.yaml`` pointed at ``base_url``, without backoff waits; the token
    comes from the environment given here, as ``${MERCHANT_TOKEN}`` says."""
    raw = yaml.safe_load(MERCHANT_YAML.read_text(encoding="utf-8"))
    raw["base_url"] = base_url
    raw["retries"]["backoff_s"] = 0
    if read_timeout is not None:
        raw["timeouts"]["read"] = read_timeout
    if attempts is not None:
        raw["retries"]["attempts"] = attempts
    if not lookup:
        del raw["idempotency"]["lookup"]
    return parse_merchant_config(raw, str(MERCHANT_YAML), env={"MERCHANT_TOKEN": TOKEN})


@pytest.fixture(name="merchant", scope="module")
def merchant_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeMerchant]:
    """A started fake merchant, one per test module: each test fills it with
    ``merchant.load(...)``, which also forgets every key and misbehaviour."""
    server = FakeMerchant.start(tmp_path_factory.mktemp("merchant"), token=TOKEN)
    yield server
    server.stop()
