"""Tickets (工单): opening with dedupe (also concurrent), classification by code, routing, SLA
due times and states, breach marking once, the status workflow, comments and assignment; all
on a real database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from tests.conftest import OPEN_HOURS, Clock

from kefu.config import Config
from kefu.errors import ConflictError, InvalidInputError, TenantNotFound, TicketNotFound
from kefu.humans import ticket_rules as rules
from kefu.service import Service, build_service

TENANT = "shop"
OTHER = "other"


@pytest.fixture
def svc(config: Config, clock: Clock) -> Iterator[Service]:
    service = build_service(config, embedder=None, clock=clock)
    service.tenants.create(TENANT, {"language": "zh"})
    service.tenants.create(OTHER, {})
    yield service
    service.close()


def kinds(svc: Service, ticket_id: int) -> list[str]:
    return [e.kind for e in svc.tickets.get(ticket_id).events or []]


# -- open and dedupe ---------------------------------------------------------------------------


def test_open_classifies_routes_and_sets_due_times(svc: Service) -> None:
    svc.tenants.create(TENANT, {"tickets.routing": {"logistics": "shipping", "*": "desk"}})
    t = svc.tickets.open(TENANT, source="manual", subject="快递三天了还没到", customer="c-1")
    assert (t.category, t.priority, t.queue, t.status) == ("logistics", "P3", "shipping", "open")
    assert t.first_response_due_at == OPEN_HOURS + timedelta(minutes=240)
    assert t.resolution_due_at == OPEN_HOURS + timedelta(minutes=1440)
    assert t.sla["state"] == "ok" and t.sla["target"] == "first_response"
    other = svc.tickets.open(TENANT, source="manual", subject="随便问问")
    assert other.category == "other" and other.queue == "desk"
    stored = svc.tickets.get(t.id)
    assert stored.customer == "c-1" and kinds(svc, t.id) == ["created"]
    assert stored.to_dict()["events"][0]["data"] == {
        "source": "manual",
        "priority": "P3",
        "queue": "shipping",
    }


def test_same_dedupe_key_returns_the_existing_ticket_per_tenant(svc: Service) -> None:
    first = svc.tickets.open(TENANT, source="complaint", subject="投诉", dedupe_key="complaint:c1")
    again = svc.tickets.open(TENANT, source="complaint", subject="再次", dedupe_key="complaint:c1")
    assert again.id == first.id and again.subject == "投诉"
    elsewhere = svc.tickets.open(OTHER, source="complaint", subject="x", dedupe_key="complaint:c1")
    assert elsewhere.id != first.id
    no_key = [svc.tickets.open(TENANT, source="manual", subject="a") for _ in range(2)]
    assert no_key[0].id != no_key[1].id  # NULL keys never clash
    assert svc.tickets.list(TENANT)[1] == 3


def test_concurrent_opens_with_one_key_create_one_ticket(svc: Service) -> None:
    barrier = threading.Barrier(6)
    ids: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            t = svc.tickets.open(
                TENANT, source="handoff_after_hours", subject="夜间转人工", dedupe_key="handoff:7"
            )
            ids.append(t.id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert errors == [] and len(ids) == 6 and len(set(ids)) == 1
    items, total = svc.tickets.list(TENANT)
    assert total == 1 and kinds(svc, items[0].id) == ["created"]


def test_bad_input_is_refused_and_nothing_written(svc: Service) -> None:
    with pytest.raises(InvalidInputError) as err:
        svc.tickets.open(TENANT, source="nope", subject="x")
    assert err.value.field == "source"
    with pytest.raises(InvalidInputError) as err:
        svc.tickets.open(TENANT, source="manual", subject="   ")
    assert err.value.field == "subject"
    with pytest.raises(InvalidInputError) as err:
        svc.tickets.open(TENANT, source="manual", subject="x", priority="P9")
    assert err.value.field == "priority"
    with pytest.raises(InvalidInputError) as err:
        svc.tickets.open(TENANT, source="manual", subject="x", category="weather")
    assert err.value.field == "category"
    with pytest.raises(TenantNotFound):
        svc.tickets.open("ghost", source="manual", subject="x")
    assert svc.tickets.list(TENANT)[1] == 0


# -- classification ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hints", "category"),
    [
        ("我要退货退款", {}, "returns_refunds"),
        ("I was charged twice for my payment", {}, "payment"),
        ("尺码不合适，质量也一般", {}, "product"),
        ("登录不了账号", {}, "account"),
        ("?", {"intent": "flow:track_shipment"}, "logistics"),
        ("?", {"intent": "ship-001"}, "logistics"),
        ("?", {"faq_category": "refunds"}, "returns_refunds"),
        ("?", {"operation": "modify_order_address"}, "order_change"),
        ("?", {}, "other"),
    ],
)
def test_category_from_hints_then_keywords(text: str, hints: dict[str, str], category: str) -> None:
    assert rules.categorize("manual", text, hints) == category
    assert rules.categorize("complaint", text, hints) == "complaint"


def test_priority_rules() -> None:
    def p(source: str, emotion: dict[str, object] | None = None, value: float | None = None) -> str:
        return rules.prioritize(source, emotion=emotion, order_value=value, high_value=1000)[0]

    assert p("operation_unknown") == "P1"
    assert p("operation_failed") == p("approval") == p("complaint") == "P2"
    assert p("manual") == p("handoff_after_hours") == "P3"
    angry = {"label": "negative", "score": -0.9, "anger": 0.8}
    upset = {"label": "negative", "score": -0.7, "anger": 0.1}
    calm = {"label": "neutral", "score": 0.0, "anger": 0.9}
    assert p("manual", angry) == "P1" and p("manual", upset) == "P2" and p("manual", calm) == "P3"
    assert p("manual", None, 999.99) == "P3" and p("manual", None, 1000) == "P2"
    assert p("complaint", None, 5000) == "P1" and p("operation_unknown", None, 5000) == "P1"


def test_emotion_and_order_value_raise_a_stored_tickets_priority(svc: Service) -> None:
    angry = {"label": "negative", "score": -0.8, "anger": 0.9, "urgency": 0.5}
    t = svc.tickets.open(TENANT, source="manual", subject="还不发货", emotion=angry)
    assert t.priority == "P1" and t.data["classification"]["reasons"] == [
        "source:manual",
        "emotion:angry",
    ]
    assert t.first_response_due_at == OPEN_HOURS + timedelta(minutes=30)
    svc.tenants.create(TENANT, {"tickets.high_value_amount": 300})
    rich = svc.tickets.open(TENANT, source="manual", subject="订单问题", order_value=300)
    assert rich.priority == "P2" and rich.data["order_value"] == 300
    given = svc.tickets.open(TENANT, source="operation_unknown", subject="x", priority="P4")
    assert given.priority == "P4" and given.data["classification"]["priority"] == "given"


def test_the_conversation_gives_intent_and_emotion(svc: Service) -> None:
    conv = svc.conversations.create(TENANT, "api", None, "zh")
    payload = {
        "decision": "handoff",
        "intent": "flow:return_items",
        "emotion": {"label": "negative", "score": -0.9, "anger": 0.85},
    }
    svc.conversations.append(
        conv.id,
        [("customer_message", "customer", "我要投诉！", {}), ("bot_reply", "bot", "…", payload)],
    )
    t = svc.tickets.open(
        TENANT, source="handoff_after_hours", subject="转人工", conversation_id=conv.id
    )
    assert t.category == "returns_refunds" and t.priority == "P1"
    assert t.conversation_id == conv.id and t.data["intent"] == "flow:return_items"


def test_the_desks_handoff_object_gives_the_intent(svc: Service) -> None:
    handoff = {"reason": "customer_request", "intent": "flow:change_order_address", "flow": None}
    t = svc.tickets.open(
        TENANT, source="handoff_after_hours", subject="转人工", data={"handoff": handoff}
    )
    assert t.category == "order_change" and t.data["handoff"] == handoff


# -- SLA ---------------------------------------------------------------------------------------


def test_sla_states_follow_the_clock_and_breaches_are_marked_once(
    svc: Service, clock: Clock
) -> None:
    svc.tenants.create(TENANT, {"tickets.sla": {"P3": {"first_response": 100, "resolution": 1000}}})
    t = svc.tickets.open(TENANT, source="manual", subject="发票开错了")
    assert t.first_response_due_at == OPEN_HOURS + timedelta(minutes=100)
    clock.now = OPEN_HOURS + timedelta(minutes=79)
    assert svc.tickets.get(t.id).sla["state"] == "ok"
    clock.now = OPEN_HOURS + timedelta(minutes=81)  # under 20% of 100 minutes left
    assert svc.tickets.get(t.id).sla["state"] == "at_risk"
    assert svc.tickets.mark_breaches() == []
    clock.now = OPEN_HOURS + timedelta(minutes=101)
    assert svc.tickets.get(t.id).sla == {
        "state": "breached",
        "target": "first_response",
        "due_at": (OPEN_HOURS + timedelta(minutes=100)).isoformat(),
        "remaining_s": -60,
    }
    assert [x.id for x in svc.tickets.list(TENANT, breached=True)[0]] == [t.id]
    assert svc.tickets.list(TENANT, breached=False)[1] == 0
    [marked] = svc.tickets.mark_breaches()
    assert marked.id == t.id and marked.breached_at == clock.now
    assert svc.tickets.mark_breaches() == []  # once
    clock.now += timedelta(minutes=5)
    assert svc.tickets.mark_breaches(tenant=TENANT) == []
    events = svc.tickets.get(t.id).events or []
    breached = [e for e in events if e.kind == "breached"]
    assert len(breached) == 1 and breached[0].data["target"] == "first_response"


def test_concurrent_breach_marking_records_one_event(svc: Service, clock: Clock) -> None:
    tickets = [svc.tickets.open(TENANT, source="manual", subject=f"t{i}") for i in range(3)]
    clock.now = OPEN_HOURS + timedelta(days=2)
    barrier = threading.Barrier(4)
    found: list[int] = []

    def run() -> None:
        barrier.wait(timeout=10)
        found.extend(t.id for t in svc.tickets.mark_breaches())

    threads = [threading.Thread(target=run) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert sorted(found) == [t.id for t in tickets]
    for t in tickets:
        assert kinds(svc, t.id).count("breached") == 1


def test_first_response_stops_the_first_clock_and_priority_moves_due_times(
    svc: Service, clock: Clock
) -> None:
    t = svc.tickets.open(TENANT, source="manual", subject="问一下")
    clock.now = OPEN_HOURS + timedelta(minutes=10)
    svc.tickets.comment(t.id, "内部备注", actor="system", agent=False)
    assert svc.tickets.get(t.id).first_responded_at is None
    svc.tickets.comment(t.id, "您好，我们在处理", actor="alice")
    after = svc.tickets.get(t.id)
    assert after.first_responded_at == clock.now and after.sla["target"] == "resolution"
    changed = svc.tickets.update(t.id, actor="boss", priority="P1")
    assert changed.resolution_due_at == OPEN_HOURS + timedelta(minutes=240)
    assert changed.first_response_due_at == OPEN_HOURS + timedelta(minutes=30)
    clock.now = OPEN_HOURS + timedelta(minutes=241)
    assert svc.tickets.get(t.id).sla["state"] == "breached"
    resolved = svc.tickets.update(t.id, actor="alice", status="resolved")
    assert resolved.breached_at == clock.now and resolved.sla["state"] == "breached"
    assert kinds(svc, t.id)[-2:] == ["status", "breached"]


# -- workflow ----------------------------------------------------------------------------------


def test_status_workflow_and_invalid_transitions(svc: Service, clock: Clock) -> None:
    t = svc.tickets.open(TENANT, source="manual", subject="改地址")
    with pytest.raises(ConflictError) as err:
        svc.tickets.update(t.id, actor="a", status="waiting_customer")
    assert err.value.details["from"] == "open" and err.value.details["to"] == "waiting_customer"
    assert "open" in err.value.message and "waiting_customer" in err.value.message
    assert svc.tickets.update(t.id, actor="a", status="in_progress").first_responded_at
    svc.tickets.update(t.id, actor="a", status="waiting_customer")
    svc.tickets.update(t.id, actor="a", status="in_progress")
    clock.now += timedelta(minutes=3)
    done = svc.tickets.update(t.id, actor="a", status="resolved")
    assert done.resolved_at == clock.now and done.sla["state"] == "ok"
    reopened = svc.tickets.update(t.id, actor="a", status="open", note="客户又来了")
    assert reopened.status == "open" and reopened.resolved_at is None
    svc.tickets.update(t.id, actor="a", status="resolved")
    closed = svc.tickets.update(t.id, actor="a", status="closed")
    assert closed.status == "closed"
    for attempt in (
        lambda: svc.tickets.update(t.id, actor="a", status="open"),
        lambda: svc.tickets.comment(t.id, "还在吗", actor="a"),
    ):
        with pytest.raises(ConflictError):
            attempt()
    statuses = [
        (e.data["from"], e.data["to"])
        for e in svc.tickets.get(t.id).events or []
        if e.kind == "status"
    ]
    assert statuses == [
        ("open", "in_progress"),
        ("in_progress", "waiting_customer"),
        ("waiting_customer", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "open"),
        ("open", "resolved"),
        ("resolved", "closed"),
    ]


def test_concurrent_changes_of_one_ticket_run_one_after_the_other(svc: Service) -> None:
    t = svc.tickets.open(TENANT, source="manual", subject="x")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            if i % 2:
                svc.tickets.update(t.id, actor=f"a{i}", status="in_progress")
            else:
                svc.tickets.comment(t.id, f"c{i}", actor=f"a{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert errors == []
    events = kinds(svc, t.id)
    assert events.count("status") == 1 and events.count("comment") == 3  # one move, 3 notes
    assert svc.tickets.get(t.id).status == "in_progress"


def test_assignment_needs_an_agent_of_the_tenant(svc: Service) -> None:
    svc.access.create_user("alice", "pw-alice-123456", tenant=TENANT, role="agent")
    svc.access.create_user("victor", "pw-victor-123456", tenant=TENANT, role="viewer")
    svc.access.create_user("olga", "pw-olga-1234567", tenant=OTHER, role="admin")
    svc.access.create_user("root", "pw-root-1234567", tenant="*", role="supervisor")
    t = svc.tickets.open(TENANT, source="manual", subject="x")
    for name in ("victor", "olga", "nobody"):
        with pytest.raises(InvalidInputError) as err:
            svc.tickets.update(t.id, actor="boss", assignee=name)
        assert err.value.field == "assignee"
    assert svc.tickets.update(t.id, actor="boss", assignee="alice").assignee == "alice"
    assert svc.tickets.update(t.id, actor="boss", assignee="root").assignee == "root"
    assert svc.tickets.list(TENANT, assignee="root")[1] == 1
    assert svc.tickets.update(t.id, actor="boss", assignee=None).assignee is None
    moves = [
        (e.data["from"], e.data["to"])
        for e in svc.tickets.get(t.id).events or []
        if e.kind == "assigned"
    ]
    assert moves == [(None, "alice"), ("alice", "root"), ("root", None)]
    with pytest.raises(InvalidInputError):
        svc.tickets.update(t.id, actor="boss")  # nothing to change


def test_lists_filter_page_and_sort_by_priority(svc: Service) -> None:
    for i, priority in enumerate(["P3", "P1", "P4", "P1", "P2"]):
        svc.tickets.open(TENANT, source="manual", subject=f"t{i}", priority=priority)
    svc.tickets.open(OTHER, source="manual", subject="theirs")
    items, total = svc.tickets.list(TENANT, limit=2)
    assert total == 5 and [t.subject for t in items] == ["t3", "t1"]
    items, _ = svc.tickets.list(TENANT, limit=2, offset=2)
    assert [t.subject for t in items] == ["t4", "t0"]
    assert [t.subject for t in svc.tickets.list(TENANT, priority="P1")[0]] == ["t3", "t1"]
    assert svc.tickets.list(TENANT, status="resolved") == ([], 0)
    assert svc.tickets.list(TENANT, queue="general")[1] == 5
    with pytest.raises(InvalidInputError):
        svc.tickets.list(TENANT, status="done")
    with pytest.raises(TicketNotFound):
        svc.tickets.get(items[0].id, OTHER)


def test_the_migration_goes_down_and_up_again(svc: Service) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import inspect

    from kefu.storage.db import MIGRATIONS, migrate

    svc.tickets.open(TENANT, source="manual", subject="x")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with svc.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0010")
    names = set(inspect(svc.engine).get_table_names())
    assert not names & {"tickets", "ticket_events", "webhook_deliveries"}
    migrate(svc.engine)
    assert svc.tickets.list(TENANT) == ([], 0)
    assert svc.tickets.open(TENANT, source="manual", subject="y").id == 1
