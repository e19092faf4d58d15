"""Ticket webhooks against a real local HTTP server: recorded with each change, signed with
HMAC-SHA256, sent in the background without blocking the change, retried with backoff (a
500 first, then 200), given up after five attempts, each attempt sent once."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select
from tests.conftest import OPEN_HOURS, Clock

from kefu.config import Config
from kefu.humans.webhooks import BACKOFF_S, MAX_ATTEMPTS
from kefu.service import Service, build_service
from kefu.storage.ticket_tables import WebhookDeliveryRow

TENANT = "shop"
SECRET = "s3cret-签名"


class Receiver:
    """A webhook receiver on a loopback port: records every request; answers the statuses in
    ``script`` in turn (then 200); ``hold`` makes it wait before answering."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[int] = []
        self.hold = threading.Event()
        self.hold.set()
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.cond:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    status = receiver.script.pop(0) if receiver.script else 200
                    receiver.cond.notify_all()
                receiver.hold.wait(timeout=30)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.requests) >= count, timeout=timeout)
            return list(self.requests)

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests]

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def svc(config: Config, clock: Clock, receiver: Receiver) -> Iterator[Service]:
    service = build_service(config, embedder=None, clock=clock)
    service.tenants.create(
        TENANT, {"tickets.webhook_url": receiver.url, "tickets.webhook_secret": SECRET}
    )
    service.tickets.webhooks.autostart = False  # these tests send by hand (deliver_pending)
    yield service
    service.tickets.webhooks.close()
    service.close()


def deliveries(svc: Service) -> list[WebhookDeliveryRow]:
    with svc.sessions() as s:
        return list(s.scalars(select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.id)))


def test_every_change_is_recorded_then_sent_signed(svc: Service, receiver: Receiver) -> None:
    svc.access.create_user("alice", "pw-alice-123456", tenant=TENANT, role="agent")
    t = svc.tickets.open(TENANT, source="manual", subject="发票抬头错了", customer="c-9")
    [pending] = deliveries(svc)
    assert (pending.status, pending.attempts, pending.event) == ("pending", 0, "created")
    assert receiver.requests == []  # recorded, not sent by the change itself
    assert svc.tickets.webhooks.deliver_pending() == 1
    [got] = receiver.wait_for(1)
    assert got["path"] == "/hook"
    expected = hmac.new(SECRET.encode(), got["body"], hashlib.sha256).hexdigest()
    assert got["headers"]["X-Kefu-Signature"] == f"sha256={expected}"
    assert got["headers"]["X-Kefu-Event"] == "created"
    payload = json.loads(got["body"])
    assert payload["event"] == "created" and payload["tenant"] == TENANT
    assert payload["ticket"]["id"] == t.id and payload["ticket"]["customer"] == "c-9"
    assert payload["ticket"]["subject"] == "发票抬头错了"
    assert deliveries(svc)[0].status == "delivered"
    assert deliveries(svc)[0].delivered_at == OPEN_HOURS

    svc.tickets.comment(t.id, "已联系财务", actor="alice")
    svc.tickets.update(t.id, actor="alice", status="in_progress", assignee="alice")
    assert svc.tickets.webhooks.deliver_pending() == 3
    receiver.wait_for(4)
    events = [(p["event"], p["change"]) for p in receiver.payloads()[1:]]
    assert events == [
        ("comment", {"agent": True}),
        ("status", {"from": "open", "to": "in_progress"}),
        ("assigned", {"from": None, "to": "alice"}),
    ]
    assert receiver.payloads()[1]["body"] == "已联系财务"
    assert svc.tickets.webhooks.deliver_pending() == 0  # each sent once


def test_a_500_is_retried_after_the_backoff(svc: Service, receiver: Receiver, clock: Clock) -> None:
    receiver.script = [500]
    svc.tickets.open(TENANT, source="manual", subject="x")
    assert svc.tickets.webhooks.deliver_pending() == 1
    [row] = deliveries(svc)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")
    assert row.next_attempt_at == OPEN_HOURS + timedelta(seconds=BACKOFF_S[0])
    assert svc.tickets.webhooks.deliver_pending() == 0  # not due yet
    clock.now = row.next_attempt_at
    assert svc.tickets.webhooks.deliver_pending() == 1
    [row] = deliveries(svc)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 2, None)
    first, second = receiver.wait_for(2)
    assert first["body"] == second["body"]  # the same delivery, the same signed bytes


def test_gives_up_after_five_attempts_and_says_so_on_the_ticket(
    svc: Service, receiver: Receiver, clock: Clock
) -> None:
    receiver.script = [500] * 10
    t = svc.tickets.open(TENANT, source="manual", subject="x")
    for _ in range(MAX_ATTEMPTS):
        assert svc.tickets.webhooks.deliver_pending(clock.now) == 1
        clock.now += timedelta(hours=1)
    assert svc.tickets.webhooks.deliver_pending(clock.now) == 0
    [row] = deliveries(svc)
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert len(receiver.wait_for(MAX_ATTEMPTS)) == MAX_ATTEMPTS
    events = svc.tickets.get(t.id).events or []
    assert [e.kind for e in events] == ["created", "webhook"]
    assert events[1].data["status"] == "failed" and "HTTP 500" in (events[1].body or "")
    assert len(deliveries(svc)) == 1  # the webhook event itself is not sent


def test_an_unreachable_receiver_is_an_error_not_a_crash(svc: Service, receiver: Receiver) -> None:
    svc.tenants.create(TENANT, {"tickets.webhook_url": "http://127.0.0.1:1/nothing"})
    svc.tickets.open(TENANT, source="manual", subject="x")
    assert svc.tickets.webhooks.deliver_pending() == 1
    [row] = deliveries(svc)
    assert (
        row.status == "pending" and row.attempts == 1 and "ConnectError" in (row.last_error or "")
    )


def test_no_url_no_deliveries_and_breaches_are_sent(
    svc: Service, receiver: Receiver, clock: Clock
) -> None:
    svc.tenants.create("quiet", {})
    svc.tickets.open("quiet", source="manual", subject="x")
    assert deliveries(svc) == []
    t = svc.tickets.open(TENANT, source="operation_unknown", subject="核对退款")
    clock.now = OPEN_HOURS + timedelta(minutes=31)
    svc.tickets.mark_breaches()
    assert svc.tickets.webhooks.deliver_pending() == 2
    receiver.wait_for(2)
    breached = receiver.payloads()[1]
    assert breached["event"] == "breached" and breached["ticket"]["id"] == t.id
    assert breached["change"]["target"] == "first_response"
    assert breached["ticket"]["sla"]["state"] == "breached"


def test_the_background_sender_never_blocks_the_change(svc: Service, receiver: Receiver) -> None:
    sender = svc.tickets.webhooks
    sender.autostart = True
    receiver.hold.clear()  # the receiver takes the request and does not answer yet
    t = svc.tickets.open(TENANT, source="manual", subject="x")
    receiver.wait_for(1)  # the sender thread is inside the request ...
    assert svc.tickets.get(t.id).status == "open"  # ... and the change is long done
    assert deliveries(svc)[0].status == "pending"
    thread = sender._thread
    assert thread is not None and thread.is_alive()
    receiver.hold.set()
    thread.join(timeout=10)  # it stops once nothing is pending
    assert not thread.is_alive()
    assert deliveries(svc)[0].status == "delivered"


def test_a_slow_receiver_times_out_and_is_retried(
    svc: Service, receiver: Receiver, clock: Clock
) -> None:
    svc.tickets.webhooks.timeout_s = 0.3
    receiver.hold.clear()
    svc.tickets.open(TENANT, source="manual", subject="x")
    assert svc.tickets.webhooks.deliver_pending() == 1
    [row] = deliveries(svc)
    assert row.status == "pending" and "Timeout" in (row.last_error or "")
    receiver.hold.set()
