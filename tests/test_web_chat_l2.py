"""An L2 task in the web chat: identification, then the order's status, several replies per turn,
in headless Chromium against the real app."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.test_web_chat import _send, _tid

from kefu.connectors.tau_io import read_tau
from kefu.service import Service

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

pytestmark = pytest.mark.browser

SHOP = Path(__file__).resolve().parent.parent / "src" / "kefu" / "demo" / "data" / "shop"


def test_order_status_task_in_the_browser(
    page: sync_api.Page,
    live_server: str,
    demo_service: Service,
) -> None:
    shop = read_tau(SHOP)
    demo_service.shop.load("demo", shop.users, shop.orders, shop.products)
    demo_service.tenants.set("demo", "level", "L2")
    demo_service.warm("demo")

    page.goto(f"{live_server}/")
    expect(_tid(page, "msg-bot").first).not_to_be_empty()
    _send(page, "我的订单到哪了")
    expect(_tid(page, "msg-bot").nth(1)).to_contain_text("邮箱")
    _send(page, "wanting.du883@sina.com")
    reply = _tid(page, "msg-bot").nth(2)
    expect(reply).to_contain_text("已核实")
    expect(reply).to_contain_text("杜婉婷")
    expect(reply.locator(".bubble")).to_have_count(2)  # verified + which order?
    _send(page, "#D3640458")
    status = _tid(page, "msg-bot").nth(3)
    expect(status).to_contain_text("#D3640458")
    expect(status).to_contain_text("已签收")
    expect(_tid(page, "error")).to_be_hidden()
