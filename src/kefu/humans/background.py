"""The desk's background work in a server process: quality scoring of finished conversations,
SLA breach marking of tickets, and ticket webhooks left pending by an earlier process.

Started by ``kefu serve`` / ``kefu demo`` (and each worker of ``kefu serve --workers N``: the
jobs are safe to run in several processes at once, each claims its rows in the database). Not
started by :func:`kefu.api.app.create_app` itself, so tests drive these jobs explicitly.
"""

from __future__ import annotations

import threading
from typing import Any

from kefu.logs import get_logger

log = get_logger(__name__)

QA_INTERVAL_S = 300.0
SLA_INTERVAL_S = 60.0


class BackgroundJobs:
    def __init__(
        self,
        service: Any,
        *,
        qa_interval_s: float = QA_INTERVAL_S,
        sla_interval_s: float = SLA_INTERVAL_S,
    ) -> None:
        self._service = service
        self._qa_interval_s = qa_interval_s
        self._sla_interval_s = sla_interval_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> BackgroundJobs:
        svc = self._service
        svc.tickets.webhooks.kick()  # deliveries an earlier process left pending
        self._threads = [
            threading.Thread(
                target=svc.qa.run_periodically,
                args=(self._stop, self._qa_interval_s),
                name="kefu-qa",
                daemon=True,
            ),
            threading.Thread(target=self._sla_loop, name="kefu-sla", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def _sla_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._service.tickets.mark_breaches()
            except Exception:
                log.exception("tickets: marking SLA breaches failed")
            self._stop.wait(self._sla_interval_s)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
