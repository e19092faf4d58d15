"""An L3 write in the web chat: the preview is shown as such with confirm / not-now buttons, and
the confirm button executes the write once, in headless Chromium against the real app."""

from __future__ import annotations

import pytest
from tests.test_web_chat import _send, _tid

from kefu.connectors.tau_io import read_tau
from kefu.quality.conversation_tests import DEMO_DATA
from kefu.service import Service

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser


def test_a_return_is_previewed_and_confirmed_with_the_button(
    page: sync_api.Page,
    live_server: str,
    demo_service: Service,
) -> None:
    shop = read_tau(DEMO_DATA / "shop")
    demo_service.shop.load("demo", shop.users, shop.orders, shop.products, rules=shop.rules)
    demo_service.tenants.set("demo", "level", "L3")
    demo_service.tenants.set("demo", "return_window_days", 0)  # the clock is past the window
    demo_service.warm("demo")

    page.goto(f"{live_server}/")
    expect(_tid(page, "msg-bot").first).not_to_be_empty()
    _send(page, "我想把订单#D4824478里第2件商品退掉，其他保留")
    expect(_tid(page, "msg-bot").nth(1)).to_contain_text("核实身份")
    _send(page, "siqi.qin162@126.com")
    preview = _tid(page, "msg-bot").nth(2)
    expect(preview.locator(".bubble.preview")).to_contain_text("20000mAh快充充电宝")
    expect(preview.locator(".bubble.preview")).to_contain_text("169.00")
    expect(_tid(page, "confirm-no")).to_be_visible()
    _tid(page, "confirm-yes").click()
    done = _tid(page, "msg-bot").nth(3)
    expect(done).to_contain_text("已为您办理完成")
    expect(_tid(page, "confirm-yes")).to_be_disabled()  # the old buttons cannot send twice
    order = demo_service.shop.dump("demo").orders["#D4824478"]
    assert order["status"] == "return requested" and order["return_items"] == ["2691203025"]
    rows = demo_service.operations.ledger.list("demo", status="executed")
    assert [r.operation for r in rows] == ["return_order_items"]


def test_the_page_shows_the_approvers_decision_live(
    page: sync_api.Page,
    live_server: str,
    demo_service: Service,
) -> None:
    shop = read_tau(DEMO_DATA / "shop")
    demo_service.shop.load("demo", shop.users, shop.orders, shop.products, rules=shop.rules)
    demo_service.tenants.set("demo", "level", "L3")
    demo_service.tenants.set("demo", "return_window_days", 0)
    demo_service.tenants.set("demo", "approval_amount_threshold", 100)  # this return waits
    demo_service.warm("demo")

    page.goto(f"{live_server}/")
    _send(page, "我想把订单#D4824478里第2件商品退掉，其他保留")
    expect(_tid(page, "msg-bot").nth(1)).to_contain_text("核实身份")
    _send(page, "siqi.qin162@126.com")
    expect(_tid(page, "confirm-yes")).to_be_visible()
    _tid(page, "confirm-yes").click()
    expect(_tid(page, "msg-bot").nth(3)).to_contain_text("人工审核")
    waiting = demo_service.operations.ledger.list("demo", status="awaiting_approval")
    assert [r.operation for r in waiting] == ["return_order_items"]
    # a supervisor approves it in the console (the API); the open page hears the outcome
    demo_service.operations.approve(waiting[0].id, "lead")
    outcome = _tid(page, "msg-bot").nth(4)
    expect(outcome).to_contain_text("已通过审核并办理完成")
    expect(outcome).to_contain_text("#D4824478")
    page.reload()  # the transcript shows it too
    expect(_tid(page, "msg-bot").last).to_contain_text("已通过审核并办理完成")
