"""Ticket webhooks: deliveries recorded with the change they report, sent afterwards.

A change to a ticket writes a ``webhook_deliveries`` row in its own transaction (so a change is
never reported that did not happen, and none is lost when the process stops before sending).
:class:`WebhookSender` sends the due rows: a daemon thread started lazily by :meth:`kick`
(after each change) runs :meth:`deliver_pending` until nothing is left to send, then stops;
tests call :meth:`deliver_pending` themselves. A request therefore never waits for a webhook.

Each attempt is *claimed* first (a conditional UPDATE on the row's attempt count), so two
senders (the thread and a test, or two processes) never send the same attempt twice. A 2xx
answer delivers; anything else (another status, a timeout, a refused connection) is retried
after a growing pause (:data:`BACKOFF_S`) up to :data:`MAX_ATTEMPTS` attempts, then the row is
``failed`` and the ticket gets a ``webhook`` event saying so.

The body is the payload as compact JSON with sorted keys (UTF-8); with the tenant's
``tickets.webhook_secret`` set, ``X-Kefu-Signature: sha256=<hex HMAC-SHA256 of the body>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from kefu.logs import get_logger
from kefu.storage.models import TenantRow
from kefu.storage.tenants import TenantRepository
from kefu.storage.ticket_tables import TicketEventRow, WebhookDeliveryRow

log = get_logger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_S = (15.0, 60.0, 240.0, 960.0)  # the pause after the 1st, 2nd, 3rd, 4th failure
SIGNATURE_HEADER = "X-Kefu-Signature"
IDLE_WAIT_S = 60.0  # longest sleep of the thread between two looks at the table
BATCH = 100


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    """The ``X-Kefu-Signature`` value of ``body``: receivers compute the same and compare
    with :func:`hmac.compare_digest`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """Sends the pending webhook deliveries of every tenant. ``autostart`` False: :meth:`kick`
    starts no thread (the caller runs :meth:`deliver_pending`)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        tenants: TenantRepository,
        clock: Callable[[], datetime],
        *,
        timeout_s: float = 5.0,
        autostart: bool = True,
    ) -> None:
        self._sessions = sessions
        self._tenants = tenants
        self._clock = clock
        self.timeout_s = timeout_s
        self.autostart = autostart
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None

    # -- the background thread ---------------------------------------------------------------
    def kick(self) -> None:
        """New deliveries may be due: wake the sender thread, starting it if needed."""
        with self._lock:
            self._wake.set()
            if not self.autostart or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(target=self._loop, name="kefu-webhooks", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                self.deliver_pending()
                due = self.next_due()
            except Exception:  # the database went away (service closed): stop quietly
                log.warning("webhook sender stopped", exc_info=True)
                with self._lock:
                    self._thread = None
                return
            if due is None:
                with self._lock:
                    if not self._wake.is_set():
                        self._thread = None
                        return
                continue
            pause = (due - self._clock()).total_seconds()
            self._wake.wait(min(max(pause, 0.05), IDLE_WAIT_S))

    def next_due(self) -> datetime | None:
        """When the earliest pending delivery is due (None: nothing pending)."""
        with self._sessions() as s:
            found: datetime | None = s.scalar(
                select(func.min(WebhookDeliveryRow.next_attempt_at)).where(
                    WebhookDeliveryRow.status == "pending"
                )
            )
        return found

    # -- sending -----------------------------------------------------------------------------
    def deliver_pending(self, now: datetime | None = None) -> int:
        """Send every delivery due at ``now`` (default: the clock) once; returns how many
        attempts were made."""
        at = now or self._clock()
        with self._sessions() as s:
            due = s.execute(
                select(WebhookDeliveryRow.id, WebhookDeliveryRow.attempts)
                .where(
                    WebhookDeliveryRow.status == "pending",
                    WebhookDeliveryRow.next_attempt_at <= at,
                )
                .order_by(WebhookDeliveryRow.id)
                .limit(BATCH)
            ).all()
        sent = 0
        for delivery_id, attempts in due:
            if self._attempt(delivery_id, attempts, at):
                sent += 1
        return sent

    def _attempt(self, delivery_id: int, attempts: int, now: datetime) -> bool:
        """Claim attempt ``attempts + 1`` of the delivery, send it and record the result.
        False when another sender claimed it first."""
        lease = now + timedelta(seconds=self.timeout_s + 60)
        with self._sessions.begin() as s:
            claimed = s.execute(
                update(WebhookDeliveryRow)
                .where(
                    WebhookDeliveryRow.id == delivery_id,
                    WebhookDeliveryRow.status == "pending",
                    WebhookDeliveryRow.attempts == attempts,
                )
                .values(attempts=attempts + 1, next_attempt_at=lease)
                .execution_options(synchronize_session=False)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return False
            found = s.execute(
                select(WebhookDeliveryRow, TenantRow.name)
                .join(TenantRow, TenantRow.id == WebhookDeliveryRow.tenant_id)
                .where(WebhookDeliveryRow.id == delivery_id)
            ).one()
            row, tenant = found[0], found[1]
            url, payload, event, ticket_id = row.url, dict(row.payload), row.event, row.ticket_id
        error = self._send(delivery_id, tenant, url, event, payload)
        with self._sessions.begin() as s:
            current = s.get(WebhookDeliveryRow, delivery_id)
            if current is None:  # the ticket was deleted meanwhile
                return True
            if error is None:
                current.status, current.delivered_at, current.last_error = "delivered", now, None
                return True
            current.last_error = error[:1000]
            if attempts + 1 >= MAX_ATTEMPTS:
                current.status = "failed"
                s.add(
                    TicketEventRow(
                        ticket_id=ticket_id,
                        actor="system",
                        kind="webhook",
                        body=f"webhook {event} not delivered after {attempts + 1} attempts: "
                        f"{error[:300]}",
                        data={"delivery_id": delivery_id, "status": "failed", "url": url},
                        created_at=now,
                    )
                )
            else:
                current.next_attempt_at = now + timedelta(seconds=BACKOFF_S[attempts])
        return True

    def _send(
        self, delivery_id: int, tenant: str, url: str, event: str, payload: dict[str, Any]
    ) -> str | None:
        """POST the payload; None when the receiver answered 2xx, else what went wrong."""
        if not url.startswith(("http://", "https://")):
            return f"not an http(s) URL: {url[:100]!r}"
        body = body_of(payload)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "kefu-webhooks",
            "X-Kefu-Event": event,
            "X-Kefu-Delivery": str(delivery_id),
        }
        try:
            secret = str(self._tenants.settings(tenant)["tickets.webhook_secret"])
        except Exception:  # the tenant is gone: send unsigned rather than never
            secret = ""
        if secret:
            headers[SIGNATURE_HEADER] = signature(secret, body)
        try:
            answer = self._http().post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= answer.status_code < 300:
            return None
        return f"HTTP {answer.status_code}"

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout_s, follow_redirects=False)
            return self._client

    def close(self) -> None:
        """Close the HTTP client (a running thread stops once nothing is pending)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
