"""LLM cost per turn, conversation and tenant: real turns over HTTP against the fake LLM, the
calls stored with the turn, the turn's and the conversation's figures, ``kefu report cost``
and ``GET /v1/tenants/{tenant}/reports/cost``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from tests.llm_tenants import THREE_FAQS, connect_llm
from typer.testing import CliRunner

from kefu.api.app import create_app
from kefu.cli.common import State
from kefu.cli.main import app
from kefu.llm.cost import CallRecord, llm_purpose
from kefu.llm.port import Usage
from kefu.service import Service
from kefu.storage import conversations as conversations_module
from kefu.storage.db import MIGRATIONS, migrate

if TYPE_CHECKING:
    from tests.fake_llm_server import FakeLlmServer

pytest_plugins = ["tests.fake_llm_server"]

TENANT = "shop"
UNSURE = "我公司报销要那个票据，弄好了寄给我吧"  # the offline engine is unsure: one LLM call
CONFIDENT = "多久发货"  # the fast path: no call
INVOICE = {"commands": [{"command": "answer_faq", "faq_id": "inv-001"}]}
# 2000 / 8000 USD per 1M tokens: 1000 tokens in + 200 out = 2 + 1.6 = 3.6 USD
USAGE = (1000, 200)
TURN_COST = Decimal("3.6")


@pytest.fixture
def shop(service: Service, fake_llm: FakeLlmServer) -> Service:
    service.tenants.create(TENANT, {"level": "L2", "language": "zh"})
    service.faqs.upsert_many(TENANT, THREE_FAQS)
    connect_llm(
        service,
        TENANT,
        fake_llm.base_url,
        llm_max_calls_per_turn=1,  # the understanding call only
        llm_prices="qwen-*=2000/8000, other=1/1",
        llm_currency="USD",
    )
    return service


@pytest.fixture
def client(shop: Service) -> Iterator[TestClient]:
    _, secret = shop.access.create_api_key("*", "viewer", "report reader")
    with TestClient(create_app(shop), headers={"Authorization": f"Bearer {secret}"}) as c:
        yield c


def start(client: TestClient) -> str:
    r = client.post("/v1/conversations", json={"tenant": TENANT, "channel": "test"})
    assert r.status_code == 201
    conv_id: str = r.json()["id"]
    return conv_id


def send(client: TestClient, conv_id: str, text: str) -> dict[str, Any]:
    r = client.post(f"/v1/conversations/{conv_id}/messages", json={"text": text})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def cli(service: Service, *args: str) -> Any:
    return CliRunner().invoke(app, ["report", "cost", *args], obj=State(_service=service))


def record(model: str, cost: str | None, tokens: tuple[int, int] = (10, 2), **tags: str) -> Any:
    return CallRecord(
        model,
        Usage(*tokens),
        None if cost is None else Decimal(cost),
        0.25,
        tags={"tenant": TENANT, **tags},
        currency="USD",
    )


# -- turns ------------------------------------------------------------------------------------


def test_a_turn_with_a_call_stores_it_and_reports_it(
    client: TestClient, shop: Service, fake_llm: FakeLlmServer
) -> None:
    conv = start(client)
    fake_llm.reply_json(INVOICE, usage=USAGE)
    out = send(client, conv, UNSURE)
    assert out["faq_id"] == "inv-001" and len(fake_llm.requests) == 1
    assert out["llm"] == {
        "calls": 1,
        "failed_calls": 0,
        "unpriced_calls": 0,
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "cost": "3.600000",
        "currency": "USD",
    }
    [row] = shop.llm_calls.calls(TENANT)
    assert row.conversation_id == conv
    assert row.turn == out["seq"] - 1  # the customer message that started the turn
    assert (row.model, row.purpose, row.outcome, row.currency) == (
        "qwen-test",
        "understanding",
        "ok",
        "USD",
    )
    assert (row.prompt_tokens, row.completion_tokens, row.cost) == (1000, 200, TURN_COST)
    assert 0 < row.latency_s < 5
    assert shop.llm_registry.ledger.records() == []  # taken out of memory once stored

    # a second turn: the conversation's totals add up, the turn shows only its own call
    fake_llm.reply_json(INVOICE, usage=(500, 100))  # 1 + 0.8
    second = send(client, conv, UNSURE)
    assert second["llm"]["cost"] == "1.800000" and second["llm"]["prompt_tokens"] == 500
    assert [r.turn for r in shop.llm_calls.calls(TENANT)] == [out["seq"] - 1, second["seq"] - 1]
    transcript = client.get(f"/v1/conversations/{conv}").json()
    assert transcript["llm"] == {
        "calls": 2,
        "failed_calls": 0,
        "unpriced_calls": 0,
        "prompt_tokens": 1500,
        "completion_tokens": 300,
        "cost": "5.400000",
        "currency": "USD",
        "costs": {"USD": "5.400000"},
    }


def test_a_turn_without_a_call_writes_no_row(
    client: TestClient, shop: Service, fake_llm: FakeLlmServer
) -> None:
    conv = start(client)
    out = send(client, conv, CONFIDENT)
    assert out["faq_id"] == "ship-001" and fake_llm.requests == []
    assert out["llm"] == {
        "calls": 0,
        "failed_calls": 0,
        "unpriced_calls": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost": "0.000000",
        "currency": "USD",
    }
    assert shop.llm_calls.calls(TENANT) == []
    assert client.get(f"/v1/conversations/{conv}").json()["llm"]["calls"] == 0


def test_a_failed_call_is_stored_as_failed_with_zero_cost(
    client: TestClient, shop: Service, fake_llm: FakeLlmServer
) -> None:
    for _ in range(3):  # the call and its two retries: one metered call
        fake_llm.reply_error(503)
    conv = start(client)
    out = send(client, conv, UNSURE)
    assert len(fake_llm.requests) == 3 and out["replies"]
    assert out["llm"]["calls"] == 1 and out["llm"]["failed_calls"] == 1
    assert out["llm"]["prompt_tokens"] == 0 and out["llm"]["cost"] == "0.000000"
    [row] = shop.llm_calls.calls(TENANT)
    assert row.outcome == "llm_server_error" and not row.ok
    assert (row.prompt_tokens, row.completion_tokens, row.cost) == (0, 0, Decimal(0))
    report = client.get(f"/v1/tenants/{TENANT}/reports/cost").json()["totals"]
    assert (report["calls"], report["failed_calls"], report["cost"]) == (1, 1, "0.000000")


def test_an_unpriced_model_is_counted_without_a_cost(
    client: TestClient, shop: Service, fake_llm: FakeLlmServer
) -> None:
    shop.tenants.set(TENANT, "llm_prices", "other=1/1")
    fake_llm.reply_json(INVOICE, usage=USAGE)
    out = send(client, start(client), UNSURE)
    assert out["llm"]["calls"] == 1 and out["llm"]["unpriced_calls"] == 1
    assert out["llm"]["cost"] == "0.000000"
    [row] = shop.llm_calls.calls(TENANT)
    assert row.cost is None and row.ok and row.prompt_tokens == 1000


def test_a_callers_purpose_tags_the_calls(shop: Service, fake_llm: FakeLlmServer) -> None:
    fake_llm.reply_json(INVOICE, usage=USAGE)
    conv, _ = shop.start_conversation(TENANT, "test")
    with llm_purpose("grounded"):
        shop.handle_message(conv.id, UNSURE)
    assert [r.purpose for r in shop.llm_calls.calls(TENANT)] == ["grounded"]


def test_the_calls_and_the_reply_are_stored_together_or_the_calls_alone(
    shop: Service, fake_llm: FakeLlmServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If writing the reply fails after the call was made, the reply is not half-written and
    the call is stored once, on its own."""
    conv, _ = shop.start_conversation(TENANT, "test")
    fake_llm.reply_json(INVOICE, usage=USAGE)

    def broken(*_args: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(conversations_module, "call_rows", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        shop.handle_message(conv.id, UNSURE)
    _, events = shop.transcript(conv.id)
    assert [e.type for e in events][-1] == "customer_message"  # no reply without its calls
    [row] = shop.llm_calls.calls(TENANT)
    assert row.cost == TURN_COST and row.turn == events[-1].seq
    assert shop.llm_registry.ledger.records() == []


# -- the report --------------------------------------------------------------------------------


@pytest.fixture
def history(client: TestClient, shop: Service, fake_llm: FakeLlmServer) -> dict[str, str]:
    """Two conversations with real turns today (3.6 + 1.8 USD, 3.6 USD and a failed call), and
    older calls on fixed days."""
    a, b = start(client), start(client)
    fake_llm.reply_json(INVOICE, usage=USAGE)
    send(client, a, UNSURE)
    fake_llm.reply_json(INVOICE, usage=(500, 100))
    send(client, a, UNSURE)
    fake_llm.reply_json(INVOICE, usage=USAGE)
    send(client, b, UNSURE)
    for _ in range(3):
        fake_llm.reply_error(500)
    send(client, b, UNSURE)
    add = shop.llm_calls.add
    add(TENANT, [record("other", "0.000000123", purpose="rephrase")], at=datetime(2026, 1, 5, 0, 0))
    add(
        TENANT,
        [record("other", "0.000000123", purpose="rephrase")],
        at=datetime(2026, 1, 6, 23, 59),
    )
    add(TENANT, [record("other", "0.000000123", purpose="grounded")], at=datetime(2026, 1, 6, 12))
    add(TENANT, [record("other", "7", purpose="grounded")], at=datetime(2026, 1, 7, 0, 0))
    return {"a": a, "b": b}


def today() -> date:
    return datetime.now(UTC).date()


def test_the_report_totals_and_groups(shop: Service, history: dict[str, str]) -> None:
    since = (today() - timedelta(days=1)).isoformat()
    report = shop.llm_calls.report(TENANT, date.fromisoformat(since), None, "conversation")
    t = report.totals
    assert (t.calls, t.failed_calls, t.prompt_tokens, t.completion_tokens) == (4, 1, 2500, 500)
    assert t.costs == {"USD": Decimal("9.0")} and t.conversations == 2
    assert t.cost_per_conversation == Decimal("4.5")
    lines = {line.key: line.totals for line in report.lines}
    assert set(lines) == {history["a"], history["b"]}
    assert lines[history["a"]].cost == Decimal("5.4") and lines[history["a"]].calls == 2
    assert lines[history["b"]].cost == Decimal("3.6") and lines[history["b"]].failed_calls == 1
    assert [line.key for line in report.lines] == [history["a"], history["b"]]  # by cost

    # money is exact on both databases: three calls of 1.23e-7 USD
    old = shop.llm_calls.report(TENANT, date(2026, 1, 5), date(2026, 1, 6), "purpose")
    assert old.totals.costs == {"USD": Decimal("0.000000369")}
    assert {line.key: line.totals.calls for line in old.lines} == {"rephrase": 2, "grounded": 1}


def test_the_cli_report_as_json_csv_and_table(shop: Service, history: dict[str, str]) -> None:
    result = cli(shop, "--tenant", TENANT, "--since", "2026-01-05", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["by"] == "day" and data["since"] == "2026-01-05" and data["until"] is None
    assert data["totals"]["calls"] == 8 and data["totals"]["failed_calls"] == 1
    assert data["totals"]["cost"] == "16.000000"  # 9 today + 7 on 2026-01-07 (+ 3.69e-7)
    assert data["totals"]["conversations"] == 2
    assert data["totals"]["cost_per_conversation"] == "8.000000"
    days = [g["key"] for g in data["groups"]]
    assert days == ["2026-01-05", "2026-01-06", "2026-01-07", today().isoformat()]
    assert [g["calls"] for g in data["groups"]] == [1, 2, 1, 4]

    # the day bounds are inclusive, in UTC: 2026-01-06 23:59 is in, 2026-01-07 00:00 is not
    result = cli(shop, "--tenant", TENANT, "--since", "2026-01-06", "--until", "2026-01-06",
                 "--by", "model", "--format", "csv")  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["model"] for r in rows] == ["other", "TOTAL"]
    assert rows[0]["calls"] == "2" and rows[0]["cost"] == "0.000000"
    assert rows[-1]["prompt_tokens"] == "20" and rows[-1]["currency"] == "USD"

    since = (today() - timedelta(days=1)).isoformat()
    result = cli(shop, "--tenant", TENANT, "--since", since, "--by", "conversation")
    assert result.exit_code == 0, result.output
    assert history["a"] in result.stdout and history["b"] in result.stdout
    assert "5.400000 USD" in result.stdout and "9.000000 USD" in result.stdout
    assert "4 calls (1 failed, 0 unpriced) in 2 conversations" in result.stdout
    assert "cost per conversation: 4.500000 USD" in result.stdout


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--by", "week"], "--by must be one of day, conversation, model, purpose, not 'week'"),
        (["--format", "xml"], "--format must be one of table, csv, json, not 'xml'"),
        (["--since", "21/11/2026"], "--since must be a date as YYYY-MM-DD, not '21/11/2026'"),
        (["--since", "2026-02-02", "--until", "2026-02-01"], "--until (2026-02-01) is before"),
    ],
)
def test_bad_cli_arguments_name_the_problem(shop: Service, args: list[str], problem: str) -> None:
    result = cli(shop, "--tenant", TENANT, *args)
    assert result.exit_code == 2
    assert problem in result.stderr


def test_the_cli_names_an_unknown_tenant(shop: Service) -> None:
    result = cli(shop, "--tenant", "nope")
    assert result.exit_code == 2 and "unknown tenant: 'nope'" in result.stderr


def test_the_report_endpoint(client: TestClient, history: dict[str, str]) -> None:
    r = client.get(
        f"/v1/tenants/{TENANT}/reports/cost", params={"until": "2026-01-07", "by": "purpose"}
    )
    assert r.status_code == 200, r.text
    data = r.json()
    assert {g["key"]: g["calls"] for g in data["groups"]} == {"grounded": 2, "rephrase": 2}
    assert data["groups"][0]["key"] == "grounded" and data["groups"][0]["cost"] == "7.000000"
    assert data["totals"]["conversations"] == 0 and data["totals"]["cost_per_conversation"] is None

    r = client.get(f"/v1/tenants/{TENANT}/reports/cost", params={"by": "model"})
    models = {g["key"]: g for g in r.json()["groups"]}
    assert models["qwen-test"]["calls"] == 4 and models["qwen-test"]["cost"] == "9.000000"
    assert models["qwen-test"]["conversations"] == 2


@pytest.mark.parametrize(
    ("query", "field", "status", "code"),
    [
        ("by=week", "by", 422, "invalid_input"),
        ("since=yesterday", "since", 422, "invalid_input"),
        ("since=2026-02-02&until=2026-02-01", "until", 422, "invalid_input"),
    ],
)
def test_the_report_endpoint_refuses_bad_arguments(
    client: TestClient, query: str, field: str, status: int, code: str
) -> None:
    r = client.get(f"/v1/tenants/{TENANT}/reports/cost?{query}")
    assert r.status_code == status
    assert r.json()["error"]["code"] == code and r.json()["error"]["field"] == field


def test_the_report_of_an_unknown_tenant_is_404(client: TestClient) -> None:
    r = client.get("/v1/tenants/nope/reports/cost")
    assert r.status_code == 404 and r.json()["error"]["code"] == "tenant_not_found"


def test_mixed_currencies_are_not_added_up(shop: Service) -> None:
    usd = record("m", "1.5")
    cny = CallRecord("m", Usage(1, 1), Decimal("2"), 0.1, tags={}, currency="CNY")
    shop.llm_calls.add(TENANT, [usd, cny])
    data = shop.llm_calls.report(TENANT, by="model").to_dict()
    assert data["totals"]["cost"] is None and data["totals"]["currency"] is None
    assert data["totals"]["costs"] == {"CNY": "2.000000", "USD": "1.500000"}
    result = cli(shop, "--tenant", TENANT, "--format", "csv")
    assert "2.000000 CNY + 1.500000 USD" in result.stdout


# -- the migration ------------------------------------------------------------------------------


def test_the_migration_goes_down_and_up_again(shop: Service) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import inspect

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with shop.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0004")
    assert "llm_calls" not in inspect(shop.engine).get_table_names()
    migrate(shop.engine)
    assert "llm_calls" in inspect(shop.engine).get_table_names()
    shop.llm_calls.add(TENANT, [record("m", "0.5")])
    assert [c.cost for c in shop.llm_calls.calls(TENANT)] == [Decimal("0.5")]


# -- the ledger ---------------------------------------------------------------------------------


def test_the_ledger_gives_each_record_to_one_take_and_purposes_override() -> None:
    from kefu.errors import LlmServerError
    from kefu.llm.cost import CostLedger, MeteredProvider, PriceTable
    from kefu.llm.port import ChatRequest, Message
    from kefu.llm.scripted import ScriptedProvider

    ledger = CostLedger()
    prices = PriceTable.from_mapping({"m": {"input": 1, "output": 2}}, currency="EUR")
    inner = ScriptedProvider("m", ["a", "b", LlmServerError("down")])
    request = ChatRequest([Message("user", "hi")])
    MeteredProvider(
        inner, ledger, prices, tags={"conversation": "c1", "purpose": "understanding"}
    ).complete(request)
    with llm_purpose("rephrase"):
        MeteredProvider(
            inner, ledger, prices, tags={"conversation": "c2", "purpose": "understanding"}
        ).complete(request)
    with pytest.raises(LlmServerError):
        MeteredProvider(inner, ledger, prices, tags={"conversation": "c1"}).complete(request)
    taken = ledger.take(conversation="c1")
    assert [(r.outcome, r.currency, r.tags.get("purpose")) for r in taken] == [
        ("ok", "EUR", "understanding"),
        ("llm_server_error", "EUR", None),
    ]
    assert ledger.take(conversation="c1") == []
    [left] = ledger.records()
    assert left.tags["purpose"] == "rephrase" and left.tags["conversation"] == "c2"
