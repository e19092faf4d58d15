"""The agent console at ``/console``, driven in headless Chromium against the real app: an
agent signs in, takes a handoff, replies and hands back; the dashboard draws its charts; a
viewer cannot take conversations (in the page nor through the API)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from kefu.service import Service

sync_api = pytest.importorskip("playwright.sync_api")
Browser = sync_api.Browser
Page = sync_api.Page
expect = sync_api.expect

pytestmark = pytest.mark.browser

PASSWORD = "correct horse 42"
SHOTS = Path("/tmp")


def _tid(page: Page, name: str) -> Any:
    return page.get_by_test_id(name)


def _user(service: Service, name: str, role: str, display: str = "") -> None:
    service.access.create_user(name, PASSWORD, display or name, "zh", tenant="demo", role=role)


def _login(page: Page, base: str, name: str, shown: str = "") -> None:
    page.goto(f"{base}/console")
    expect(_tid(page, "login")).to_be_visible()
    _tid(page, "login-username").fill(name)
    _tid(page, "login-password").fill(PASSWORD)
    _tid(page, "login-submit").click()
    expect(_tid(page, "user")).to_contain_text(shown or name)


def _start(http: httpx.Client) -> str:
    r = http.post("/v1/conversations", json={"tenant": "demo", "channel": "web"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _say(http: httpx.Client, conversation_id: str, text: str) -> dict[str, Any]:
    r = http.post(f"/v1/conversations/{conversation_id}/messages", json={"text": text})
    assert r.status_code == 200, r.text
    turn: dict[str, Any] = r.json()
    return turn


def _events(http: httpx.Client, conversation_id: str) -> list[dict[str, Any]]:
    r = http.get(f"/v1/conversations/{conversation_id}")
    assert r.status_code == 200, r.text
    events: list[dict[str, Any]] = r.json()["events"]
    return events


def test_login_rejects_a_wrong_password_with_the_servers_message(
    live_server: str, demo_service: Service, page: Page
) -> None:
    _user(demo_service, "agent1", "agent")
    page.goto(f"{live_server}/console")
    _tid(page, "login-username").fill("agent1")
    _tid(page, "login-password").fill("not the password")
    _tid(page, "login-submit").click()
    expect(_tid(page, "login-error")).to_be_visible()
    expect(_tid(page, "login-error")).not_to_be_empty()
    expect(_tid(page, "user")).to_be_hidden()


def test_agent_takes_a_handoff_replies_and_hands_back(
    live_server: str, demo_service: Service, page: Page
) -> None:
    _user(demo_service, "agent1", "agent", "小王")
    _login(page, live_server, "agent1", "小王")
    expect(_tid(page, "user-role")).to_have_text("客服")
    expect(_tid(page, "nav-drafts")).to_have_count(0)  # supervisor page: not in an agent's menu

    with httpx.Client(base_url=live_server, timeout=30) as http:
        conv = _start(http)
        turn = _say(http, conv, "转人工")
        assert turn["handoff"] is True, turn

        card = page.locator(f'[data-testid="inbox-item"][data-conversation="{conv}"]')
        expect(card).to_be_visible()
        expect(card).to_have_attribute("data-status", "waiting")
        expect(card.get_by_test_id("reason")).to_have_text("客户要求转人工")
        page.screenshot(path=str(SHOTS / "kefu-console-inbox.png"))

        card.get_by_test_id("take-button").click()
        expect(page).to_have_url(re.compile(rf"#/inbox/{conv}$"))
        expect(_tid(page, "chat-status")).to_contain_text("agent1")
        expect(_tid(page, "transcript")).to_contain_text("转人工")

        reply = "您好，我是客服小王，请问有什么可以帮您？"
        _tid(page, "reply-input").fill(reply)
        _tid(page, "reply-input").press("Enter")
        expect(_tid(page, "msg-agent").last).to_contain_text(reply)
        expect(_tid(page, "reply-input")).to_have_value("")
        page.screenshot(path=str(SHOTS / "kefu-console-chat.png"))

        agent_messages = [e for e in _events(http, conv) if e["type"] == "agent_message"]
        assert [e["text"] for e in agent_messages] == [reply]

        # the customer writes while the agent is in charge: the console shows it live
        _say(http, conv, "我的快递到哪了")
        expect(_tid(page, "msg-customer").last).to_contain_text("我的快递到哪了")

        _tid(page, "release-button").click()
        expect(_tid(page, "composer-note")).to_be_visible()
        expect(_tid(page, "reply-input")).to_have_count(0)

        after = _say(http, conv, "运费怎么算")
        assert after["decision"] not in ("human", "queued"), after
        assert after["replies"] and after["replies"][0]["text"], after
        types = [e["type"] for e in _events(http, conv)]
        assert types.index("handoff_released") < len(types) - 1
        assert types[-1] == "bot_reply"
        # the bot's answer reaches the open console through the conversation's stream
        expect(_tid(page, "msg-bot").last).to_contain_text(after["replies"][0]["text"][:8])


def test_dashboard_draws_kpis_and_charts(
    live_server: str, demo_service: Service, page: Page, clock: Any
) -> None:
    _user(demo_service, "boss", "supervisor")
    demo_service.tenants.set("demo", "level", "L2")  # L2 reads the customers' emotion
    with httpx.Client(base_url=live_server, timeout=30) as http:
        for text in ("运费怎么算", "怎么退货", "发什么快递"):
            _say(http, _start(http), text)
        last = _start(http)
        _say(http, last, "转人工")
        stamped = _events(http, last)[-1]["created_at"]
    # events carry the wall clock's time: the browser's "today" is their day, and the service
    # clock moves past the idle limit so that the bot's three conversations count as finished
    page.clock.set_fixed_time(stamped if stamped.endswith("Z") else stamped + "Z")
    at = datetime.fromisoformat(stamped.removesuffix("Z"))
    clock.now = max(clock.now, at) + timedelta(hours=2)

    _login(page, live_server, "boss")
    _tid(page, "nav-dashboard").click()
    expect(_tid(page, "kpi-conversations").get_by_test_id("kpi-value")).to_have_text("4")
    expect(_tid(page, "kpi-automation_rate").get_by_test_id("kpi-value")).to_have_text(
        re.compile(r"^\d+(\.\d)?%$")
    )
    expect(_tid(page, "kpi-transfer_rate").get_by_test_id("kpi-value")).to_have_text("25.0%")

    daily = _tid(page, "chart-daily")
    expect(daily.locator("svg.chart")).to_be_visible()
    points = daily.locator('.chart-series[data-series="会话数"] circle.chart-point')
    expect(points).to_have_count(7)
    values = [float(v) for v in points.evaluate_all("ns => ns.map(n => n.dataset.value)")]
    assert sum(values) == 4 and max(values) == 4  # all four on the clock's day

    bars = _tid(page, "chart-intents").locator("rect.chart-bar")
    expect(bars.first).to_be_visible()
    assert bars.count() >= 2
    emotion = _tid(page, "chart-emotion")
    expect(emotion.locator("svg.chart")).to_be_visible()
    expect(
        emotion.locator('.chart-series[data-series="负面占比"] circle.chart-point')
    ).to_have_count(1)
    href = _tid(page, "export-csv").get_attribute("href") or ""
    assert href.startswith("/v1/analytics/export.csv?tenant=demo&from=")
    page.set_viewport_size({"width": 1280, "height": 1240})  # the page scrolls inside <main>
    page.screenshot(path=str(SHOTS / "kefu-console-dashboard.png"))
    page.set_viewport_size({"width": 1280, "height": 800})

    # the 30-day range redraws from the server: 30 points, same total
    _tid(page, "range-select").select_option("30")
    expect(points).to_have_count(30)

    # English: the switch is remembered across a reload
    _tid(page, "lang-toggle").click()
    expect(_tid(page, "nav-dashboard")).to_contain_text("Dashboard")
    page.reload()
    expect(_tid(page, "nav-dashboard")).to_contain_text("Dashboard")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_viewer_sees_no_take_button_and_the_api_refuses(
    live_server: str, demo_service: Service, page: Page
) -> None:
    _user(demo_service, "watcher", "viewer")
    with httpx.Client(base_url=live_server, timeout=30) as http:
        conv = _start(http)
        _say(http, conv, "转人工")

        _login(page, live_server, "watcher")
        expect(_tid(page, "user-role")).to_have_text("访客")
        card = page.locator(f'[data-testid="inbox-item"][data-conversation="{conv}"]')
        expect(card).to_be_visible()
        expect(_tid(page, "read-only")).to_be_visible()
        expect(card.get_by_test_id("take-button")).to_have_count(0)
        card.get_by_test_id("open-button").click()
        expect(_tid(page, "transcript")).to_contain_text("转人工")
        expect(_tid(page, "chat-take")).to_have_count(0)
        expect(_tid(page, "reply-input")).to_have_count(0)

        # forced: the page's own session (cookie + CSRF token) still gets 403
        status = page.evaluate(
            """async (id) => {
                const me = await (await fetch('/v1/auth/me')).json();
                const r = await fetch(`/v1/conversations/${id}/take`, {
                    method: 'POST', credentials: 'same-origin',
                    headers: {'X-CSRF-Token': me.csrf_token, 'Content-Type': 'application/json'},
                    body: '{}'});
                return [r.status, (await r.json()).error.code];
            }""",
            conv,
        )
        assert status[0] == 403, status
        assert not [e for e in _events(http, conv) if e["type"] == "handoff_taken"]

    # signing out ends the session on the server too
    _tid(page, "logout").click()
    expect(_tid(page, "login")).to_be_visible()
    assert page.evaluate("async () => (await fetch('/v1/auth/me')).status") == 401


def test_supervisor_works_a_ticket_overrides_a_score_and_publishes_a_draft(
    live_server: str, demo_service: Service, page: Page
) -> None:
    _user(demo_service, "boss", "supervisor", "李主管")
    demo_service.tenants.create("shop2", {"level": "L1", "language": "zh"})
    demo_service.access.grant("boss", "shop2", "viewer")
    _, secret = demo_service.access.create_api_key("demo", "supervisor", "check")
    ticket = demo_service.tickets.open(
        "demo", source="manual", subject="退款未到账", description="客户说三天了还没到账"
    )
    with httpx.Client(
        base_url=live_server, timeout=30, headers={"Authorization": f"Bearer {secret}"}
    ) as http:
        scored = _start(http)
        _say(http, scored, "运费怎么算")
        unanswered = ["你们有线下实体店吗", "实体店在哪里", "有没有线下门店"]
        decisions = [_say(http, _start(http), q)["decision"] for q in unanswered]
        assert decisions == ["fallback"] * 3, decisions

        _login(page, live_server, "boss", "李主管")
        expect(_tid(page, "user-role")).to_have_text("主管")

        # tickets: the SLA badge, a status change and a comment
        _tid(page, "nav-tickets").click()
        row = page.locator(f'[data-testid="ticket-row"][data-id="{ticket.id}"]')
        expect(row.get_by_test_id("sla")).to_have_attribute("data-state", "ok")
        row.click()
        expect(_tid(page, "ticket-detail")).to_contain_text("客户说三天了还没到账")
        _tid(page, "ticket-status").select_option("resolved")
        _tid(page, "ticket-status-apply").click()
        expect(row.get_by_test_id("status")).to_have_text("已解决")
        _tid(page, "ticket-comment-input").fill("已联系财务，款项已退回")
        _tid(page, "ticket-comment-send").click()
        expect(_tid(page, "ticket-comments")).to_contain_text("已联系财务，款项已退回")
        got = http.get(f"/v1/tickets/{ticket.id}").json()
        assert got["status"] == "resolved"
        comments = [e for e in got["events"] if e["kind"] == "comment"]
        assert [(c["actor"], c["body"]) for c in comments] == [("boss", "已联系财务，款项已退回")]

        # quality: the dimensions with their scores, and a supervisor's override
        page.goto(f"{live_server}/console#/quality/{scored}")
        expect(_tid(page, "qa-dimension")).to_have_count(9)
        _tid(page, "override-dimension").select_option("greeting")
        _tid(page, "override-score").fill("40")
        _tid(page, "override-note").fill("没有问候顾客")
        _tid(page, "override-submit").click()
        greeting = page.locator('[data-testid="qa-dimension"][data-dimension="greeting"]')
        expect(greeting).to_contain_text("40")
        expect(greeting).to_contain_text("没有问候顾客")
        qa = http.get(f"/v1/qa/{scored}").json()
        assert qa["dimensions"]["greeting"]["score"] == 40
        assert qa["dimensions"]["greeting"]["overridden"] is True

        # FAQ drafts: mine the unanswered questions, write an answer, publish
        _tid(page, "nav-drafts").click()
        expect(_tid(page, "drafts-list")).to_contain_text("暂无草稿")
        _tid(page, "drafts-mine").click()
        draft = _tid(page, "draft").first
        expect(draft).to_be_visible()
        answer = "我们目前只有线上商城，暂无线下实体店。"
        draft.get_by_test_id("draft-answer").fill(answer)
        draft_id = draft.get_attribute("data-id")
        draft.get_by_test_id("draft-approve").click()
        expect(_tid(page, "toast-ok").last).to_contain_text("已发布到 FAQ")
        expect(page.locator(f'[data-testid="draft"][data-id="{draft_id}"]')).to_have_count(0)
        published = http.get(f"/v1/drafts/{draft_id}").json()
        assert published["status"] == "approved" and published["answer"] == answer
        faqs = http.get(f"/v1/tenants/demo/faqs/{published['faq_id']}").json()
        assert [f["answer"] for f in faqs] == [answer]

    # the shop switcher: boss is only a viewer in shop2, so the menu there has no drafts
    expect(_tid(page, "tenant-select").locator("option")).to_have_count(2)
    _tid(page, "tenant-select").select_option("shop2")
    expect(_tid(page, "user-role")).to_have_text("访客")
    expect(_tid(page, "nav-drafts")).to_have_count(0)
    expect(_tid(page, "queue-waiting")).to_contain_text("0")
