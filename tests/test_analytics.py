"""Analytics: exact metric values over a small hand-made set of conversations, the
incremental refresh, the API (authorisation, dates, CSV) and the CLI reports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from typer.testing import CliRunner

from kefu.analytics.facts import CONVERSATION_COLUMNS, DAILY_COLUMNS
from kefu.api.app import create_app
from kefu.cli.common import State
from kefu.cli.main import app
from kefu.config import Config
from kefu.domain.conversation import (
    AGENT_MESSAGE,
    BOT_REPLY,
    CONVERSATION_CLOSED,
    CSAT,
    CUSTOMER_MESSAGE,
    HANDOFF_REQUESTED,
    HANDOFF_TAKEN,
)
from kefu.service import Service, build_service
from kefu.storage.models import EventRow

DAY = datetime(2026, 11, 10, 2, 0, 0)  # every conversation of the set starts that day (UTC)
NOW = datetime(2026, 11, 18, 2, 0, 0)  # the service's clock: all of them are finished


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def svc(config: Config) -> Iterator[Service]:
    service = build_service(config, embedder=None, clock=Clock(NOW))
    service.tenants.create("shop", {"level": "L1"})
    service.tenants.create("other", {"level": "L1"})
    yield service
    service.close()


def bot(
    decision: str,
    intent: str | None,
    confidence: float | None = None,
    emotion: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {"decision": decision, "intent": intent, "confidence": confidence, "emotion": emotion}


Step = tuple[float, str, str, str | None, dict[str, Any]]  # seconds after start, type, ...


def make(
    svc: Service,
    steps: list[Step],
    *,
    start: datetime = DAY,
    customer: str | None = None,
    tenant: str = "shop",
) -> str:
    """A conversation with these events, dated ``start`` + each step's seconds."""
    conv = svc.conversations.create(tenant, "web", customer, "zh")
    events = svc.conversations.append(
        conv.id, [(type_, actor, text, payload) for _s, type_, actor, text, payload in steps]
    )
    with svc.sessions.begin() as s:
        for ev, step in zip(events, steps, strict=True):
            s.execute(
                update(EventRow)
                .where(EventRow.conversation_id == conv.id, EventRow.seq == ev.seq)
                .values(created_at=start + timedelta(seconds=step[0]))
            )
    return conv.id


NEGATIVE = {"label": "negative", "score": -0.8}
NEUTRAL = {"label": "neutral", "score": 0.0}


def hand_made(svc: Service) -> dict[str, str]:
    """A: answered; B: handed off, taken, an agent reply 30 s after the request, closed;
    C: two fallbacks; D: answered and rated 5."""
    return {
        "A": make(
            svc,
            [
                (0, CUSTOMER_MESSAGE, "customer", "运费多少？", {}),
                (1, BOT_REPLY, "bot", "包邮", bot("answer", "shipping_fee", 0.9, NEUTRAL)),
            ],
            customer="c1",
        ),
        "B": make(
            svc,
            [
                (0, CUSTOMER_MESSAGE, "customer", "我要投诉！", {}),
                (2, BOT_REPLY, "bot", "转人工", bot("handoff", "handoff", None, NEGATIVE)),
                (2, HANDOFF_REQUESTED, "system", None, {"handoff_id": 1}),
                (20, HANDOFF_TAKEN, "system", None, {"handoff_id": 1, "agent": "小王"}),
                (32, AGENT_MESSAGE, "agent", "您好", {"agent": "小王"}),
                (92, CONVERSATION_CLOSED, "system", None, {"by": "agent:小王", "reason": ""}),
            ],
            customer="c2",
        ),
        "C": make(
            svc,
            [
                (0, CUSTOMER_MESSAGE, "customer", "ASDF  qwerty", {}),
                (1, BOT_REPLY, "bot", "没听懂", bot("fallback", None, 0.1)),
                (10, CUSTOMER_MESSAGE, "customer", "asdf qwerty!", {}),
                (11, BOT_REPLY, "bot", "没听懂", bot("fallback", None, 0.1)),
            ],
            customer="c3",
        ),
        "D": make(
            svc,
            [
                (0, CUSTOMER_MESSAGE, "customer", "怎么退货", {}),
                (3, BOT_REPLY, "bot", "七天无理由", bot("answer", "return_policy", 0.95)),
                (600, CSAT, "customer", None, {"score": 5, "comment": None}),
            ],
            customer="c4",
        ),
    }


def test_summary_of_the_hand_made_set(svc: Service) -> None:
    hand_made(svc)
    s = svc.analytics.summary("shop")
    assert s["conversations"] == 4
    assert s["automation_rate"] == 0.75  # A, C, D: no handoff
    assert s["self_resolution_rate"] == 0.5  # A, D (C ends on a fallback)
    assert s["transfer_rate"] == 0.25
    assert s["first_response_time_s"] == 1.75  # (1 + 2 + 1 + 3) / 4
    assert s["human_first_response_time_s"] == 30.0
    assert s["average_handle_time_s"] == 26.75  # (1 + 92 + 11 + 3) / 4: the rating is not work
    assert s["human_handle_time_s"] == 72.0  # taken at 20 s, closed at 92 s
    assert s["csat"] == 5.0
    assert s["csat_detail"] == {"mean": 5.0, "share_satisfied": 1.0, "responses": 1}
    assert s["repeat_contact_rate"] == 0.0
    assert s["negative_share"] == 0.5  # of the two turns with an emotion reading
    assert s["period"]["data_from"] == s["period"]["data_to"] == "2026-11-10"
    assert s["llm_cost"] == 0.0 and s["llm_cost_per_conversation"] == 0.0


def test_unfinished_conversations_are_left_out_of_the_automation_rate(svc: Service) -> None:
    hand_made(svc)
    assert isinstance(svc.clock, Clock)
    svc.clock.now = DAY + timedelta(seconds=100)  # A, C, D idle < 30 min; B was closed
    s = svc.analytics.summary("shop")
    assert s["finished_conversations"] == 1 and s["automation_rate"] == 0.0
    assert s["transfer_rate"] == 0.25  # a handoff counts at once
    svc.clock.now = DAY + timedelta(minutes=31)
    assert svc.analytics.summary("shop")["automation_rate"] == 0.75


def test_intents_questions_unanswered_and_emotion(svc: Service) -> None:
    hand_made(svc)
    intents = {i["intent"]: i for i in svc.analytics.intents("shop")["items"]}
    assert set(intents) == {"shipping_fee", "handoff", "return_policy"}
    assert intents["shipping_fee"]["turns"] == 1 and intents["shipping_fee"]["share"] == 0.3333
    unanswered = svc.analytics.questions("shop", unanswered=True)["items"]
    assert [(u["question"], u["count"], u["conversations"]) for u in unanswered] == [
        ("asdf qwerty", 2, 1)
    ]
    top = svc.analytics.questions("shop")["items"]
    assert top[0]["question"] == "asdf qwerty" and len(top) == 4
    points = svc.analytics.emotion("shop")["points"]
    assert points == [
        {
            "day": "2026-11-10",
            "customer_turns": 5,
            "rated_turns": 2,
            "negative_turns": 1,
            "negative_share": 0.5,
            "mean_score": -0.4,
        }
    ]


def test_low_confidence_answers_count_as_unanswered(svc: Service) -> None:
    make(
        svc,
        [
            (0, CUSTOMER_MESSAGE, "customer", "能开发票吗", {}),
            (1, BOT_REPLY, "bot", "也许", bot("answer", "invoice", 0.3)),
        ],
    )
    assert svc.analytics.questions("shop", unanswered=True)["items"][0]["question"] == "能开发票吗"
    svc.tenants.create("shop", {"analytics.low_confidence": 0.2})
    assert svc.analytics.questions("shop", unanswered=True)["items"] == []


def test_incremental_refresh(svc: Service) -> None:
    ids = hand_made(svc)
    first = svc.analytics.refresh("shop")
    assert first.conversations == 4
    assert svc.analytics.refresh("shop").conversations == 0  # nothing new: nothing recomputed
    # the same customer as A comes back 2 hours later; C is rated 1
    make(
        svc,
        [
            (0, CUSTOMER_MESSAGE, "customer", "运费多少？", {}),
            (1, BOT_REPLY, "bot", "包邮", bot("answer", "shipping_fee", 0.9)),
        ],
        start=DAY + timedelta(hours=2),
        customer="c1",
    )
    svc.conversations.append(
        ids["C"], [(CSAT, "customer", "没用", {"score": 1, "comment": "没用"})]
    )
    again = svc.analytics.refresh("shop")
    assert again.conversations == 2 and again.watermark > first.watermark
    s = svc.analytics.summary("shop")
    assert s["conversations"] == 5
    assert s["automation_rate"] == 0.8
    assert s["repeat_contact_rate"] == 0.2  # A: c1 came back within 24 h
    assert s["self_resolution_rate"] == 0.4  # D and the new one; A no longer counts
    assert s["csat_detail"] == {"mean": 3.0, "share_satisfied": 0.5, "responses": 2}
    facts = {r["conversation_id"]: r for r in svc.analytics.conversations("shop")}
    assert facts[ids["A"]]["repeat_contact"] is True and facts[ids["A"]]["resolved"] is False
    assert facts[ids["C"]]["csat"] == 1


def test_repeat_window_setting(svc: Service) -> None:
    make(svc, [(0, CUSTOMER_MESSAGE, "customer", "在吗", {})], customer="u")
    make(
        svc,
        [(0, CUSTOMER_MESSAGE, "customer", "在吗", {})],
        customer="u",
        start=DAY + timedelta(hours=30),
    )
    assert svc.analytics.summary("shop")["repeat_contact_rate"] == 0.0  # 30 h > 24 h
    svc.tenants.create("shop", {"analytics.repeat_hours": 48})
    other = make(
        svc,
        [(0, CUSTOMER_MESSAGE, "customer", "在吗", {})],
        customer="u",
        start=DAY + timedelta(days=20),
    )
    assert other
    assert svc.analytics.summary("shop")["repeat_contact_rate"] == pytest.approx(1 / 3, abs=1e-4)


def test_tenants_are_apart(svc: Service) -> None:
    hand_made(svc)
    make(svc, [(0, CUSTOMER_MESSAGE, "customer", "hi", {})], tenant="other")
    assert svc.analytics.summary("other")["conversations"] == 1
    assert svc.analytics.summary("shop")["conversations"] == 4


def test_period_filter_and_daily_rows(svc: Service) -> None:
    hand_made(svc)
    make(
        svc,
        [
            (0, CUSTOMER_MESSAGE, "customer", "hi", {}),
            (1, BOT_REPLY, "bot", "hello", bot("chitchat", "greeting")),
        ],
        start=DAY + timedelta(days=2),
    )
    assert svc.analytics.summary("shop", "2026-11-11", "2026-11-12")["conversations"] == 1
    rows = svc.analytics.daily("shop")
    assert [(r["day"], r["conversations"]) for r in rows] == [
        ("2026-11-10", 4),
        ("2026-11-11", 0),
        ("2026-11-12", 1),
    ]
    series = svc.analytics.timeseries("shop", "automation_rate")
    assert series["points"] == [
        {"day": "2026-11-10", "value": 0.75},
        {"day": "2026-11-11", "value": None},
        {"day": "2026-11-12", "value": 1.0},
    ]


def test_roi(svc: Service) -> None:
    hand_made(svc)
    svc.tenants.create(
        "shop",
        {
            "analytics.agent_monthly_salary": 8800,
            "analytics.agent_conversations_per_day": 10,
            "analytics.working_days_per_month": 22,
            "analytics.system_monthly_cost": 100,
        },
    )
    r = svc.analytics.summary("shop", "2026-11-01", "2026-11-30")["roi"]
    # 3 automated in 30 days; one agent handles 220 a month at 40 each
    assert r["period_days"] == 30 and r["automated_per_month"] == 3.0
    assert r["agent_cost_per_conversation"] == 40.0
    assert r["money_saved_per_month"] == 120.0
    assert r["agents_saved_fte"] == round(3 / 220, 2)
    assert r["system_cost_per_month"] == 100.0 and r["net_saving_per_month"] == 20.0
    assert r["roi"] == 0.2


# -- the API ------------------------------------------------------------------------------
@pytest.fixture
def api(svc: Service) -> Iterator[TestClient]:
    with TestClient(create_app(svc)) as c:
        yield c


def auth(svc: Service, tenant: str, role: str = "viewer") -> dict[str, str]:
    _key, secret = svc.access.create_api_key(tenant, role, f"{tenant}-{role}")
    return {"Authorization": f"Bearer {secret}"}


def test_api_summary_and_dashboard_calls(svc: Service, api: TestClient) -> None:
    hand_made(svc)
    h = auth(svc, "shop")
    r = api.get("/v1/analytics/summary", params={"tenant": "shop"}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    for key in (
        "automation_rate",
        "self_resolution_rate",
        "transfer_rate",
        "first_response_time_s",
        "human_first_response_time_s",
        "average_handle_time_s",
        "csat",
        "csat_detail",
        "repeat_contact_rate",
        "conversations",
        "llm_cost_per_conversation",
        "llm_cost_per_resolution",
        "roi",
        "period",
    ):
        assert key in body
    assert body["automation_rate"] == 0.75 and body["csat"] == 5.0
    r = api.get(
        "/v1/analytics/timeseries", params={"tenant": "shop", "metric": "conversations"}, headers=h
    )
    assert r.json() == {"metric": "conversations", "points": [{"day": "2026-11-10", "value": 4}]}
    for path in ("intents", "unanswered", "questions", "emotion"):
        r = api.get(f"/v1/analytics/{path}", params={"tenant": "shop"}, headers=h)
        assert r.status_code == 200 and r.json()["items" if path != "emotion" else "points"]


def test_api_authorisation(svc: Service, api: TestClient) -> None:
    hand_made(svc)
    assert api.get("/v1/analytics/summary", params={"tenant": "shop"}).status_code == 401
    r = api.get("/v1/analytics/summary", params={"tenant": "shop"}, headers=auth(svc, "other"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = api.get(
        "/v1/analytics/export.csv", params={"tenant": "shop"}, headers=auth(svc, "other", "admin")
    )
    assert r.status_code == 403


def test_api_bad_dates_and_metric(svc: Service, api: TestClient) -> None:
    h = auth(svc, "shop")
    r = api.get("/v1/analytics/summary", params={"tenant": "shop", "from": "2026-13-01"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "from"
    r = api.get(
        "/v1/analytics/summary",
        params={"tenant": "shop", "from": "2026-11-10", "to": "2026-11-01"},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "to"
    r = api.get("/v1/analytics/timeseries", params={"tenant": "shop", "metric": "nope"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "metric"
    r = api.get("/v1/analytics/export.csv", params={"tenant": "shop", "kind": "nope"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "kind"


def test_api_csv_export(svc: Service, api: TestClient) -> None:
    ids = hand_made(svc)
    h = auth(svc, "shop")
    r = api.get(
        "/v1/analytics/export.csv",
        params={"tenant": "shop", "from": "2026-11-09", "to": "2026-11-10"},
        headers=h,
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert (
        'filename="kefu-shop-daily-2026-11-09-2026-11-10.csv"' in r.headers["content-disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert tuple(rows[0].keys()) == DAILY_COLUMNS
    assert [(x["day"], x["conversations"], x["automation_rate"]) for x in rows] == [
        ("2026-11-09", "0", ""),
        ("2026-11-10", "4", "0.75"),
    ]
    r = api.get(
        "/v1/analytics/export.csv", params={"tenant": "shop", "kind": "conversations"}, headers=h
    )
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert tuple(rows[0].keys()) == CONVERSATION_COLUMNS
    by_id = {x["conversation_id"]: x for x in rows}
    assert set(by_id) == set(ids.values())
    assert (
        by_id[ids["B"]]["handed_off"] == "1" and by_id[ids["B"]]["human_first_response_s"] == "30.0"
    )


# -- the CLI ------------------------------------------------------------------------------
def report(svc: Service, *args: str) -> Any:
    """``kefu report ARGS`` in this process, over this service."""
    return CliRunner().invoke(app, ["report", *args], obj=State(_service=svc))


def test_cli_reports(svc: Service) -> None:
    hand_made(svc)
    data = json.loads(report(svc, "summary", "--tenant", "shop", "--format", "json").stdout)
    assert data["transfer_rate"] == 0.25 and data["conversations"] == 4
    table = report(svc, "summary", "--tenant", "shop").stdout
    assert "automation rate" in table and "0.75" in table
    daily = report(svc, "daily", "--tenant", "shop", "--format", "csv").stdout
    assert daily.splitlines()[0] == ",".join(DAILY_COLUMNS)
    assert daily.splitlines()[1].startswith("2026-11-10,4,")
    assert "2026-11-10" in report(svc, "daily", "--tenant", "shop").stdout
    unanswered = report(svc, "unanswered", "--tenant", "shop", "--format", "json").stdout
    assert json.loads(unanswered)["items"][0]["count"] == 2
    assert "asdf" in report(svc, "unanswered", "--tenant", "shop").stdout.lower()
    assert "shipping_fee" in report(svc, "intents", "--tenant", "shop").stdout
    roi = json.loads(report(svc, "roi", "--tenant", "shop", "--format", "json").stdout)
    assert roi["automated_conversations"] == 3
    assert "agents saved" in report(svc, "roi", "--tenant", "shop").stdout
    bad = report(svc, "summary", "--tenant", "shop", "--from", "11/10")
    assert bad.exit_code == 2 and "from must be a date" in bad.stderr


def test_cli_subprocess(svc: Service, kefu: Any) -> None:
    """The installed command on the same database (one run: it starts a fresh interpreter)."""
    hand_made(svc)
    out = kefu("report", "summary", "--tenant", "shop", "--format", "json")
    assert json.loads(out.stdout)["automation_rate"] == 0.75


def test_identified_customer_and_released_handoff(svc: Service) -> None:
    """The shop customer identified in the dialogue state counts as the customer; a human who
    released the conversation back to the bot handled it from take to release."""
    first = make(
        svc,
        [
            (0, CUSTOMER_MESSAGE, "customer", "查订单", {}),
            (
                1,
                BOT_REPLY,
                "bot",
                "好的",
                {**bot("flow", "flow:order_status"), "state": {"customer_id": "u9"}},
            ),
            (2, HANDOFF_REQUESTED, "system", None, {"handoff_id": 5}),
            (10, HANDOFF_TAKEN, "system", None, {"handoff_id": 5, "agent": "a"}),
            (25, AGENT_MESSAGE, "agent", "已处理", {"agent": "a"}),
            (40, "handoff_released", "system", None, {"handoff_id": 5, "agent": "a"}),
        ],
    )
    make(
        svc,
        [(0, CUSTOMER_MESSAGE, "customer", "又来了", {})],
        customer="u9",
        start=DAY + timedelta(hours=5),
    )
    facts = {r["conversation_id"]: r for r in svc.analytics.conversations("shop")}
    assert facts[first]["repeat_contact"] is True
    assert facts[first]["human_handle_time_s"] == 30.0
    assert facts[first]["human_first_response_s"] == 23.0
    assert facts[first]["top_intent"] == "flow:order_status"
    s = svc.analytics.summary("shop")
    assert s["repeat_contact_rate"] == 0.5 and s["transfer_rate"] == 0.5


def test_api_intents_have_labels_people_read(svc: Service, api: TestClient) -> None:
    from kefu.domain.faq import FaqEntry

    hand_made(svc)
    svc.faqs.upsert_many(
        "shop",
        [
            FaqEntry(id="shipping_fee", question="运费怎么收？", answer="满99包邮"),
            FaqEntry(
                id="shipping_fee", question="How much is shipping?", answer="Free", language="en"
            ),
        ],
    )
    r = api.get("/v1/analytics/intents", params={"tenant": "shop"}, headers=auth(svc, "shop"))
    labels = {i["intent"]: i["label"] for i in r.json()["items"]}
    # the question in the tenant's language; an intent that is no FAQ or flow keeps its name
    assert labels["shipping_fee"] == "运费怎么收？"
    assert labels["handoff"] == "handoff"
