"""The server's background jobs: finished conversations get scored and late tickets get marked
without anyone running a command."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from tests.conftest import Clock

from kefu.humans.background import BackgroundJobs
from kefu.service import Service


def _until(check: object, timeout_s: float = 30.0) -> bool:
    """Wait (on an event, not a fixed sleep) until ``check()`` holds or the time is up."""
    done = threading.Event()
    deadline = datetime.now() + timedelta(seconds=timeout_s)
    while datetime.now() < deadline:
        if check():  # type: ignore[operator]
            return True
        done.wait(0.05)
    return False


def test_background_jobs_score_and_mark_breaches(service: Service, clock: Clock) -> None:
    service.tenants.create("shop", {"level": "L1", "language": "zh"})
    conv, _ = service.start_conversation("shop", "web")
    service.conversations.append(conv.id, [("customer_message", "customer", "你好", {})])
    ticket = service.tickets.open("shop", source="manual", subject="回电客户", priority="P1")
    assert ticket.to_dict()["sla"]["state"] != "breached"
    # a day later: the conversation is long idle (finished), the P1 ticket long overdue
    clock.now = datetime.now() + timedelta(days=1)
    jobs = BackgroundJobs(service, qa_interval_s=0.05, sla_interval_s=0.05).start()
    try:
        assert _until(lambda: service.qa.get(conv.id) is not None)
        assert _until(lambda: service.tickets.get(ticket.id).to_dict()["breached_at"] is not None)
    finally:
        jobs.stop()
    kinds = [e["kind"] for e in service.tickets.get(ticket.id).to_dict()["events"]]
    assert kinds.count("breached") == 1  # marked once although the loop ran many times
