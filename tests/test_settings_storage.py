"""Settings table, tenants and the event store over the real database."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import update

from kefu.dialogue.hours import within_business_hours
from kefu.errors import ConversationNotFound, SettingError, TenantNotFound
from kefu.service import Service
from kefu.settings import SETTINGS, TenantSettings, get_setting
from kefu.storage.db import migrate
from kefu.storage.models import TenantRow, TenantSettingRow


def test_migrations_are_idempotent(service: Service) -> None:
    migrate(service.engine)
    migrate(service.engine)
    assert service.tenants.all() == []


def test_tenant_settings_default_and_override(service: Service) -> None:
    service.tenants.create("a", {"level": "l2"})
    s = service.tenants.settings("a")
    assert s["level"] == "L2" and s["answer_threshold"] == SETTINGS["answer_threshold"].default
    service.tenants.set("a", "answer_threshold", "0.75")
    assert service.tenants.settings("a")["answer_threshold"] == 0.75
    with pytest.raises(SettingError, match="must be >= 0"):
        service.tenants.set("a", "clarify_threshold", -1)
    with pytest.raises(SettingError, match="unknown setting"):
        get_setting("nope")
    with pytest.raises(TenantNotFound):
        service.tenants.settings("b")


def test_a_pinned_block_reads_the_tenant_once_and_sees_its_own_writes(service: Service) -> None:
    service.tenants.create("a", {"answer_threshold": 0.7})
    with service.tenants.pinned():
        assert service.tenants.settings("a")["answer_threshold"] == 0.7
        revision = service.tenants.get("a").kb_revision
        with service.engine.begin() as db:  # another process writes meanwhile
            db.execute(
                update(TenantSettingRow)
                .where(TenantSettingRow.name == "answer_threshold")
                .values(value=0.8)
            )
            db.execute(update(TenantRow).values(kb_revision=TenantRow.kb_revision + 1))
        # one consistent view for the rest of the block (one turn)
        assert service.tenants.settings("a")["answer_threshold"] == 0.7
        assert service.tenants.get("a").kb_revision == revision
        with service.tenants.pinned():  # nested: the same view
            assert service.tenants.settings("a")["answer_threshold"] == 0.7
        service.tenants.set("a", "clarify_threshold", 0.3)  # a write drops the pinned view
        assert service.tenants.settings("a")["answer_threshold"] == 0.8
        assert service.tenants.get("a").kb_revision == revision + 1
    with pytest.raises(TenantNotFound), service.tenants.pinned():
        service.tenants.settings("b")
    assert service.tenants.settings("a")["clarify_threshold"] == 0.3


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("business_hours", "9-5", "09:00-21:00"),
        ("business_days", "mon,funday", "mon,tue"),
        ("timezone", "Mars/Olympus", "timezone"),
        ("template.greeting", {"fr": "Salut"}, "fr"),
        ("handoff_after_failures", "three", "three"),
    ],
)
def test_bad_setting_values_name_the_problem(name: str, value: object, problem: str) -> None:
    with pytest.raises(SettingError) as info:
        get_setting(name).parse(value)
    assert name in info.value.message and problem in info.value.message


def test_business_hours_in_the_tenant_time_zone() -> None:
    s = TenantSettings(
        {"business_hours": "09:00-18:00", "business_days": ["mon", "tue", "wed", "thu", "fri"]}
    )
    assert within_business_hours(s, datetime(2026, 11, 18, 1, 0))  # Wed 09:00 Shanghai
    assert not within_business_hours(s, datetime(2026, 11, 18, 0, 59))  # Wed 08:59
    assert not within_business_hours(s, datetime(2026, 11, 18, 10, 0))  # Wed 18:00
    assert not within_business_hours(s, datetime(2026, 11, 21, 3, 0))  # Saturday
    night = TenantSettings({"business_hours": "20:00-02:00"})
    assert within_business_hours(night, datetime(2026, 11, 18, 17, 30))  # 01:30 local


def test_events_are_appended_with_dense_sequence_numbers(service: Service) -> None:
    service.tenants.create("a")
    conv = service.conversations.create("a", "api", None, None)
    first = service.conversations.append(conv.id, [("x", "system", None, {"n": 1})])
    batch = service.conversations.append(
        conv.id, [("y", "customer", "hi", {}), ("z", "bot", "hello", {"k": [1, 2]})]
    )
    assert [e.seq for e in first + batch] == [1, 2, 3]
    assert [e.payload for e in service.conversations.events(conv.id)] == [
        {"n": 1},
        {},
        {"k": [1, 2]},
    ]
    assert [e.seq for e in service.conversations.events(conv.id, last=2)] == [2, 3]
    with pytest.raises(ConversationNotFound):
        service.conversations.get("missing")
