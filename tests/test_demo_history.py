"""The demo's generated month of history: shape, spread, determinism, written once."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select

from kefu.demo.history import generate, scripts_summary, seed_history
from kefu.domain.conversation import (
    BOT_REPLY,
    CONVERSATION_STARTED,
    CUSTOMER_MESSAGE,
    HANDOFF_REQUESTED,
    HANDOFF_TAKEN,
)
from kefu.service import Service
from kefu.storage.desk_tables import HandoffRow
from kefu.storage.models import ConversationRow, EventRow

NOW = datetime(2026, 11, 20, 4, 0, 0)


def _always_open(_at: datetime) -> bool:
    return True


def test_generation_is_deterministic_and_spread_over_the_month() -> None:
    first = generate(400, 30, NOW, _always_open, seed=7)
    again = generate(400, 30, NOW, _always_open, seed=7)
    assert [s.started for s in first] == [s.started for s in again]
    assert [len(s.events) for s in first] == [len(s.events) for s in again]
    # the 30 shop days (Beijing) before today; today is left to live traffic
    local_days = {(s.started + timedelta(hours=8)).date() for s in first}
    today = (NOW + timedelta(hours=8)).date()
    assert len(local_days) >= 28 and today not in local_days
    assert min(local_days) >= today - timedelta(days=30) and max(local_days) < today
    # events in order, each conversation starts the way the engine starts one
    for s in first:
        offsets = [e[0] for e in s.events]
        assert offsets == sorted(offsets)
        assert s.events[0][1] == CONVERSATION_STARTED and s.events[1][1] == BOT_REPLY


def test_generation_has_the_mix_a_dashboard_needs() -> None:
    scripts = generate(1000, 30, NOW, lambda at: at.hour % 2 == 0, seed=3)
    summary = scripts_summary(scripts)
    assert 0.05 < summary["handoffs"] / 1000 < 0.2  # a plausible transfer rate
    assert summary["csat"] > 100
    languages = Counter(s.language for s in scripts)
    assert languages["zh"] > languages["en"] > 50
    decisions = Counter(e[4]["decision"] for s in scripts for e in s.events if e[1] == BOT_REPLY)
    assert {"answer", "clarify", "fallback", "handoff", "flow", "chitchat"} <= set(decisions)
    # out of hours, nobody takes the handoff; in hours an agent does
    for s in scripts:
        if s.handoff is None:
            continue
        taken = any(e[1] == HANDOFF_TAKEN for e in s.events)
        assert taken == s.in_hours
        requested = next(e for e in s.events if e[1] == HANDOFF_REQUESTED)
        assert len(requested[4]["handoff"]["summary"]) == 3


def test_seed_history_writes_once(service: Service) -> None:
    service.tenants.create("demo", {"level": "L3"})
    counts = seed_history(service, "demo", conversations=300, days=30)
    assert counts.conversations == 300 and not counts.skipped
    with service.sessions() as s:
        convs = s.scalars(select(ConversationRow)).all()
        events = s.execute(select(EventRow.conversation_id, EventRow.type)).all()
    assert len(convs) == 300
    assert len(events) == counts.events
    assert sum(1 for _, t in events if t == CUSTOMER_MESSAGE) >= 300
    # every generated conversation says so on its start event
    transcript = service.conversations.events(convs[0].id)
    assert transcript[0].payload["generated"] is True
    # the desk's rows and the tickets match the events that name them
    with service.sessions() as s:
        handoffs = s.scalars(select(HandoffRow)).all()
        requested = s.scalars(select(EventRow).where(EventRow.type == HANDOFF_REQUESTED)).all()
    assert len(handoffs) == counts.handoffs == len(requested) > 0
    assert {h.id for h in handoffs} == {e.payload["handoff_id"] for e in requested}
    assert all(h.status in ("released", "closed", "ticketed") for h in handoffs)
    ticketed = [e for e in requested if not e.payload["in_hours"]]
    assert len(ticketed) == counts.after_hours
    assert all(e.payload["ticket_id"] is not None for e in ticketed)
    ticket = service.tickets.get(ticketed[0].payload["ticket_id"])
    assert ticket.to_dict()["source"] == "handoff_after_hours"
    again = seed_history(service, "demo", conversations=300, days=30)
    assert again.skipped
    with service.sessions() as s:
        assert len(s.scalars(select(ConversationRow)).all()) == 300


def test_kefu_demo_brings_history_users_and_agents_on_duty(service: Service) -> None:
    from typer.testing import CliRunner

    from kefu.cli.common import State
    from kefu.cli.main import app
    from kefu.demo.users import DEMO_PASSWORD

    result = CliRunner().invoke(app, ["demo", "--no-serve"], obj=State(_service=service))
    assert result.exit_code == 0, result.output
    assert "history: 3000 conversations" in result.output and DEMO_PASSWORD in result.output
    # one user per role signs in with the printed password
    for username, role in (("admin", "admin"), ("lead", "supervisor"), ("agent", "agent")):
        _token, _csrf, principal = service.access.login(username, DEMO_PASSWORD)
        assert principal.role_in("demo") == role
    # "转人工" reaches the inbox at any hour; the history still has out-of-hours tickets
    assert service.tenants.settings("demo")["business_hours"] == "00:00-24:00"
    conv, _ = service.start_conversation("demo", "web")
    service.handle_message(conv.id, "转人工")
    assert [h.status for h in service.desk.inbox("demo")] == ["waiting"]
    sources = {t.to_dict()["source"] for t in service.tickets.list("demo")[0]}
    assert "handoff_after_hours" in sources
    # a second run adds nothing
    again = CliRunner().invoke(app, ["demo", "--no-serve"], obj=State(_service=service))
    assert again.exit_code == 0 and "history:" not in again.output
