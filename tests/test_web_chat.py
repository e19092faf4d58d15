"""The customer web chat at ``/``, driven in headless Chromium against the real app."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

sync_api = pytest.importorskip("playwright.sync_api")
Browser = sync_api.Browser
Page = sync_api.Page
Route = sync_api.Route
expect = sync_api.expect

pytestmark = pytest.mark.browser

DEMO_FAQ = Path(__file__).resolve().parent.parent / "src" / "kefu" / "demo" / "data" / "faq.jsonl"
CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{4,}")  # the brand name in templates may be Chinese


def _tid(page: Page, name: str) -> Any:
    return page.get_by_test_id(name)


def _bot_text(page: Page, n: int) -> Any:
    """The reply bubbles of the n-th bot message (without the screen-reader speaker label)."""
    return _tid(page, "msg-bot").nth(n).locator(".bubble")


def _zh_faq() -> dict[str, Any]:
    """The first zh shipping FAQ of the demo data (else the first zh entry)."""
    rows = [json.loads(line) for line in DEMO_FAQ.read_text("utf-8").splitlines() if line.strip()]
    zh = [r for r in rows if r.get("language", "zh") == "zh" and r.get("enabled", True)]
    shipping = re.compile(r"ship|deliver|物流|配送|发货|快递", re.I)
    for row in zh:
        if shipping.search(f"{row.get('category', '')} {row.get('id', '')}"):
            return row
    return zh[0]


def _sse(turn: dict[str, Any]) -> str:
    """A turn as the server streams it: meta, deltas, done."""

    def event(name: str, data: Any) -> str:
        return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    out = [event("meta", {k: v for k, v in turn.items() if k != "replies"})]
    for i, reply in enumerate(turn["replies"]):
        text = reply["text"]
        out += [
            event("delta", {"index": i, "text": text[s : s + 5]}) for s in range(0, len(text), 5)
        ]
    out.append(event("done", turn))
    return "".join(out)


def _turn(decision: str, text: str, **extra: Any) -> dict[str, Any]:
    turn: dict[str, Any] = {
        "replies": [{"text": text, "language": "zh", "type": "text"}],
        "decision": decision,
        "intent": None,
        "confidence": 0.6,
        "faq_id": None,
        "suggestions": [],
        "handoff": False,
        "handoff_reason": None,
        "citations": [],
        "operations": [],
        "language": "zh",
        "seq": 3,
        "latency_ms": 1.0,
    }
    turn.update(extra)
    return turn


def _send(page: Page, text: str) -> None:
    box = _tid(page, "message-input")
    box.fill(text)
    box.press("Enter")


def _zh_flow(page: Page, base: str) -> dict[str, Any]:
    faq = _zh_faq()
    page.goto(f"{base}/")
    expect(_tid(page, "msg-bot").first).not_to_be_empty()
    expect(_tid(page, "message-input")).to_have_attribute("placeholder", "请输入您的问题…")
    _send(page, faq["question"])
    expect(_tid(page, "msg-customer").last).to_contain_text(faq["question"])
    expect(_tid(page, "msg-bot").nth(1)).to_contain_text(faq["answer"])
    expect(_tid(page, "message-input")).to_have_value("")
    expect(_tid(page, "error")).to_be_hidden()
    return faq


def test_zh_question_gets_the_streamed_faq_answer_without_external_requests(
    page: Page, live_server: str
) -> None:
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    _zh_flow(page, live_server)
    expect(page).to_have_title("小铺优选 智能客服")
    expect(_tid(page, "msg-bot")).to_have_count(2)  # welcome + answer
    # The answer came over the SSE endpoint, once.
    assert sum(u.endswith("/messages/stream") for u in urls) == 1
    # Everything (page, script, style, icon, API) came from the shop's own server.
    assert any(u.endswith("/static/chat.js") for u in urls)
    assert any(u.endswith("/static/chat.css") for u in urls)
    assert [u for u in urls if not u.startswith(live_server + "/")] == []
    page.screenshot(path="/tmp/kefu-chat-desktop.png", animations="disabled")


def test_clarify_suggestions_and_errors(page: Page, live_server: str) -> None:
    """The stream is crafted here: this is about rendering, not about the engine."""
    bodies: list[dict[str, Any]] = []
    suggestions = [
        {"faq_id": "ship-time", "text": "多久发货？"},
        {"faq_id": "ship-fee", "text": "运费怎么算？"},
    ]
    turns = [
        _turn("clarify", "您是不是想问：", suggestions=suggestions, faq_id=None),
        _turn("answer", "满 99 元包邮，不满收取 8 元运费。", faq_id="ship-fee", confidence=1.0),
    ]

    def handle(route: Route) -> None:
        body = route.request.post_data_json
        if body["text"] == "bad":  # an error before the stream: plain JSON, the error shape
            error = {"error": {"code": "invalid_input", "message": "text is too odd"}}
            route.fulfill(status=422, content_type="application/json", body=json.dumps(error))
            return
        bodies.append(body)
        turn = turns[min(len(bodies), len(turns)) - 1]
        route.fulfill(
            status=200,
            headers={"Content-Type": "text/event-stream; charset=utf-8"},
            body=_sse(turn),
        )

    page.route("**/messages/stream", handle)
    page.goto(f"{live_server}/")
    expect(_tid(page, "msg-bot")).to_have_count(1)
    send = _tid(page, "send-button")
    expect(send).to_be_disabled()  # empty input
    _tid(page, "message-input").fill("  \n ")
    expect(send).to_be_disabled()  # whitespace only

    _send(page, "bad")
    expect(_tid(page, "error")).to_have_text("text is too odd")
    expect(_tid(page, "msg-bot")).to_have_count(1)  # not shown as a bot reply

    _send(page, "发货")
    expect(_tid(page, "error")).to_be_hidden()
    buttons = _tid(page, "suggestion")
    expect(buttons).to_have_count(2)
    expect(buttons).to_have_text([s["text"] for s in suggestions])
    expect(_bot_text(page, 1)).to_have_text("您是不是想问：")

    buttons.nth(1).click()
    expect(_tid(page, "msg-customer").last).to_contain_text(suggestions[1]["text"])
    expect(_bot_text(page, 2)).to_have_text("满 99 元包邮，不满收取 8 元运费。")
    assert bodies == [{"text": "发货"}, {"text": suggestions[1]["text"]}]
    # The older suggestions are spent once a newer message has been sent.
    expect(buttons.first).to_be_disabled()
    expect(_tid(page, "notice")).to_have_count(0)


def test_english_on_a_phone_with_handoff(browser: Browser, live_server: str) -> None:
    context = browser.new_context(
        viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    created: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: (
            created.append(r.post_data_json)
            if r.method == "POST" and r.url.endswith("/v1/conversations")
            else None
        ),
    )
    try:
        page.goto(f"{live_server}/?lang=en&tenant=demo")
        expect(_tid(page, "message-input")).to_have_attribute("placeholder", "Type your question…")
        expect(_tid(page, "send-button")).to_have_text("Send")
        expect(_tid(page, "handoff-button")).to_have_text("Talk to a human")
        expect(page).to_have_title("Xiaopu Select Assistant")
        expect(_tid(page, "msg-bot")).to_have_count(1)
        assert created == [{"tenant": "demo", "channel": "web", "language": "en"}]
        expect(_bot_text(page, 0)).to_contain_text(LATIN_WORD)  # English welcome

        _tid(page, "handoff-button").click()
        expect(_tid(page, "msg-customer")).to_have_text([re.compile("Talk to a human")])
        expect(_tid(page, "notice")).to_have_text("Connecting you to a human agent")
        expect(_tid(page, "msg-bot")).to_have_count(2)
        reply = _bot_text(page, 1)
        expect(reply).to_contain_text(LATIN_WORD)
        assert not CJK.search(" ".join(reply.all_inner_texts()))

        # The composer stays on screen and nothing scrolls sideways.
        box = _tid(page, "message-input").bounding_box()
        assert box is not None and box["y"] + box["height"] <= 667
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path="/tmp/kefu-chat-mobile.png", animations="disabled")
    finally:
        context.close()


def test_language_toggle_switches_ui_and_welcome(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/")
    expect(_tid(page, "msg-bot")).to_have_count(1)
    expect(_bot_text(page, 0)).not_to_contain_text(LATIN_WORD)  # Chinese welcome
    _tid(page, "lang-toggle").click()
    expect(_tid(page, "message-input")).to_have_attribute("placeholder", "Type your question…")
    expect(_tid(page, "handoff-button")).to_have_text("Talk to a human")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    # Nothing was said yet, so the conversation restarts in English.
    expect(_tid(page, "msg-bot")).to_have_count(1)
    expect(_bot_text(page, 0)).to_contain_text(LATIN_WORD)
    _tid(page, "lang-toggle").click()
    expect(_tid(page, "message-input")).to_have_attribute("placeholder", "请输入您的问题…")
    expect(_tid(page, "handoff-button")).to_have_text("转人工")


def test_reload_restores_the_transcript(page: Page, live_server: str) -> None:
    faq = _zh_flow(page, live_server)
    conv_id = page.evaluate("sessionStorage.getItem('kefu:demo:conversation')")
    assert conv_id

    created: list[str] = []
    page.on(
        "request",
        lambda r: (
            created.append(r.url)
            if r.method == "POST" and r.url.endswith("/v1/conversations")
            else None
        ),
    )
    page.reload()
    expect(_tid(page, "msg-customer")).to_have_count(1)
    expect(_tid(page, "msg-customer").first).to_contain_text(faq["question"])
    expect(_tid(page, "msg-bot")).to_have_count(2)
    expect(_tid(page, "msg-bot").last).to_contain_text(faq["answer"])
    assert page.evaluate("sessionStorage.getItem('kefu:demo:conversation')") == conv_id
    assert created == []

    # A stored id the server no longer knows starts a fresh conversation.
    page.evaluate("sessionStorage.setItem('kefu:demo:conversation', 'no-such-conversation')")
    page.reload()
    expect(_tid(page, "msg-bot")).to_have_count(1)
    expect(_tid(page, "msg-customer")).to_have_count(0)
    expect(_tid(page, "error")).to_be_hidden()
    assert len(created) == 1
