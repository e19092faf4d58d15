"""The customer web chat with a human agent, in headless Chromium against the real app: the
customer asks for 转人工, an agent (through the API, with a key) takes the conversation and
replies, the page shows the agent's reply live (as a human, with the agent's name), the agent
hands back, the page asks for a rating, and the bot answers the customer's next question."""

from __future__ import annotations

import json
import re
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

DEMO_FAQ = Path(__file__).resolve().parent.parent / "src" / "kefu" / "demo" / "data" / "faq.jsonl"


def _tid(page: Page, name: str) -> Any:
    return page.get_by_test_id(name)


def _send(page: Page, text: str) -> None:
    box = _tid(page, "message-input")
    box.fill(text)
    box.press("Enter")


def _zh_faq() -> dict[str, Any]:
    rows = [json.loads(line) for line in DEMO_FAQ.read_text("utf-8").splitlines() if line.strip()]
    zh = [r for r in rows if r.get("language", "zh") == "zh" and r.get("enabled", True)]
    shipping = re.compile(r"ship|deliver|物流|配送|发货|快递", re.I)
    return next((r for r in zh if shipping.search(f"{r.get('category', '')} {r['id']}")), zh[0])


def test_an_agent_takes_over_replies_live_and_hands_back(
    browser: Browser, live_server: str, demo_service: Service
) -> None:
    _id, secret = demo_service.access.create_api_key("demo", "agent", "alice")
    agent = {"Authorization": f"Bearer {secret}"}
    faq = _zh_faq()
    context = browser.new_context(
        viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    try:
        with httpx.Client(base_url=live_server, timeout=20.0, headers=agent) as api:
            page.goto(f"{live_server}/")
            expect(_tid(page, "msg-bot")).to_have_count(1)
            _send(page, "转人工")
            expect(_tid(page, "notice")).to_have_text(["已为您转接人工客服"])
            expect(_tid(page, "msg-bot")).to_have_count(2)
            conv = page.evaluate("sessionStorage.getItem('kefu:demo:conversation')")
            (item,) = api.get("/v1/inbox", params={"tenant": "demo"}).json()["items"]
            assert item["conversation_id"] == conv

            assert api.post(f"/v1/conversations/{conv}/take").status_code == 200
            expect(_tid(page, "notice").last).to_have_text("人工客服 key:alice 为您服务。")
            posted = api.post(
                f"/v1/conversations/{conv}/agent-messages", json={"text": "您好，我是 alice"}
            )
            assert posted.status_code == 201
            reply = _tid(page, "msg-agent")
            expect(reply).to_have_count(1)
            expect(reply.locator(".bubble")).to_have_text("您好，我是 alice")
            expect(_tid(page, "agent-name")).to_have_text("人工客服 · key:alice")
            expect(_tid(page, "msg-bot")).to_have_count(2)  # the agent is not the bot

            # the customer's message goes to the agent: no bot bubble, no typing left over
            _send(page, "我的快递怎么还没到")
            expect(_tid(page, "msg-customer")).to_have_count(2)
            expect(page.locator(".typing")).to_have_count(0)
            expect(_tid(page, "msg-bot")).to_have_count(2)
            events = api.get(f"/v1/conversations/{conv}").json()["events"]
            assert events[-1]["type"] == "customer_message"

            assert api.post(f"/v1/conversations/{conv}/release").status_code == 200
            expect(_tid(page, "msg-bot")).to_have_count(3)
            expect(_tid(page, "msg-bot").last).to_contain_text("我是智能助手")
            expect(_tid(page, "csat")).to_be_visible()  # the human part ended: rate it

            _send(page, faq["question"])
            expect(_tid(page, "msg-bot")).to_have_count(4)
            expect(_tid(page, "msg-bot").last).to_contain_text(faq["answer"])

            # the rating goes to the server once; the prompt is then replaced by thanks
            _tid(page, "csat-star-5").click()
            _tid(page, "csat-submit").click()
            expect(_tid(page, "csat-thanks")).to_be_visible()
            expect(_tid(page, "csat")).to_have_count(0)
            events = api.get(f"/v1/conversations/{conv}").json()["events"]
            assert [e["payload"]["score"] for e in events if e["type"] == "csat"] == [5]
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert [u for u in urls if not u.startswith(live_server + "/")] == []
        assert any("/stream?after=" in u for u in urls)
        page.screenshot(path="/tmp/kefu-chat-desk.png", animations="disabled")
    finally:
        context.close()


def test_a_closed_conversation_asks_for_a_rating_once(
    browser: Browser, live_server: str, demo_service: Service
) -> None:
    _id, secret = demo_service.access.create_api_key("demo", "agent", "alice")
    page = browser.new_page(locale="en-US")
    page.set_default_timeout(15_000)
    try:
        with httpx.Client(
            base_url=live_server, timeout=20.0, headers={"Authorization": f"Bearer {secret}"}
        ) as api:
            page.goto(f"{live_server}/?lang=en")
            expect(_tid(page, "msg-bot")).to_have_count(1)
            _tid(page, "handoff-button").click()
            expect(_tid(page, "msg-bot")).to_have_count(2)
            conv = page.evaluate("sessionStorage.getItem('kefu:demo:conversation')")
            api.post(f"/v1/conversations/{conv}/take")
            expect(_tid(page, "notice").last).to_contain_text("key:alice")
            # rated elsewhere already (e.g. another tab): the prompt hides on 409
            assert api.post(f"/v1/conversations/{conv}/csat", json={"score": 4}).status_code == 201
            api.post(f"/v1/conversations/{conv}/close", json={"reason": "resolved"})
            expect(_tid(page, "notice").last).to_have_text("This conversation has ended")
            expect(_tid(page, "csat")).to_be_visible()
            _tid(page, "csat-star-2").click()
            _tid(page, "csat-submit").click()
            expect(_tid(page, "csat")).to_have_count(0)
            expect(_tid(page, "csat-thanks")).to_have_count(0)
            events = api.get(f"/v1/conversations/{conv}").json()["events"]
            assert [e["payload"]["score"] for e in events if e["type"] == "csat"] == [4]
    finally:
        page.close()
