"""L3 writes in conversation: the preview, the confirmation bound to it, execution once, and the
guards around it (identity, another customer's order, a change after the preview, approval).

The service is real (database, demo shop, offline NLU); turns go through
``Service.handle_message`` as the API sends them."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest

from kefu.connectors.port import Address
from kefu.connectors.tau_io import read_tau
from kefu.dialogue.state import DialogueState
from kefu.dialogue.write_tasks import WriteTasks
from kefu.errors import FlowError
from kefu.quality.conversation_tests import DEMO_DATA
from kefu.service import Service

ORDER = "#D3137656"  # delivered, four items, paid with wechat_pay_1872332
OWNER = "lijuan_wang_7028"
SECOND_ITEM = "8860340335"  # 缓震跑步鞋 389.00
PENDING = "#D7129562"  # pending, three items, huimin_zheng_9010


@pytest.fixture
def l3(demo_service: Service) -> Service:
    svc = demo_service
    svc.tenants.set("demo", "level", "L3")
    # the orders here were delivered months before the clock: no 7-day window in these tests
    # (tests/conversations_l3/zh_refusals.yaml checks the window)
    svc.tenants.set("demo", "return_window_days", 0)
    data = read_tau(DEMO_DATA / "shop")
    svc.shop.load("demo", data.users, data.orders, data.products, rules=data.rules)
    return svc


def _talk(svc: Service, customer: str | None, *texts: str) -> tuple[str, list[dict[str, Any]]]:
    conv, _ = svc.start_conversation("demo", "web", customer, "zh")
    turns = [svc.handle_message(conv.id, t).to_dict() for t in texts]
    return conv.id, turns


def _text(turn: dict[str, Any]) -> str:
    return "\n".join(r["text"] for r in turn["replies"])


def _rows(svc: Service, conversation: str) -> list[tuple[str, str]]:
    rows = svc.operations.ledger.list("demo", conversation_id=conversation, limit=1000)
    return sorted((r.operation, r.status) for r in rows)


def _order(svc: Service, order_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = svc.shop.dump("demo").orders[order_id]
    return doc


def test_item_two_is_returned_after_a_yes_to_its_preview_and_the_rest_kept(l3: Service) -> None:
    conv, turns = _talk(l3, OWNER, f"我想把订单{ORDER}里第2件商品退掉，其他保留", "确认")
    preview, done = turns
    assert "缓震跑步鞋" in _text(preview) and "389.00" in _text(preview)
    assert [r["type"] for r in preview["replies"]] == ["preview"]
    assert _order(l3, ORDER)["status"] == "return requested" or done["flow"] is None
    order = _order(l3, ORDER)
    assert order["status"] == "return requested"
    assert order["return_items"] == [SECOND_ITEM]
    assert order["return_payment_method_id"] == "wechat_pay_1872332"
    assert len(order["items"]) == 4  # the rest is kept
    written = [o for o in done["operations"] if o["status"] == "executed"]
    assert written == [
        {
            "operation": "return_order_items",
            "name": "return_order_items",
            "arguments": {
                "order_id": ORDER,
                "item_ids": [SECOND_ITEM],
                "payment_method_id": "wechat_pay_1872332",
            },
            "status": "executed",
            "ok": True,
            "ledger_id": written[0]["ledger_id"],
        }
    ]
    assert ("return_order_items", "executed") in _rows(l3, conv)


def test_a_repeated_confirmation_executes_once(l3: Service) -> None:
    conv, turns = _talk(l3, OWNER, f"{ORDER}第2件退货", "确认", "确认", "好的")
    assert [r for r in _rows(l3, conv) if r[1] == "executed"] == [
        ("return_order_items", "executed")
    ]
    assert all(o.get("status") != "executed" for t in turns[2:] for o in t["operations"])


def test_concurrent_confirmations_execute_once(l3: Service) -> None:
    conv, _ = _talk(l3, OWNER, f"{ORDER}第2件退货")
    start = threading.Barrier(3)

    def confirm() -> None:
        start.wait()
        l3.handle_message(conv, "确认")

    threads = [threading.Thread(target=confirm) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _rows(l3, conv).count(("return_order_items", "executed")) == 1


def test_a_no_at_the_preview_writes_nothing(l3: Service) -> None:
    before = _order(l3, ORDER)
    conv, turns = _talk(l3, OWNER, f"{ORDER}第2件退货", "不要")
    assert _order(l3, ORDER) == before
    assert _rows(l3, conv) == [("return_order_items", "previewed")]
    assert turns[-1]["flow"] is None


def test_a_change_at_the_preview_shows_a_new_preview_for_the_new_method(l3: Service) -> None:
    _conv, turns = _talk(l3, "siyuan_tian_1107", "#D6970699第一件退货", "退到礼品卡吧", "确认")
    assert "微信支付" in _text(turns[0])
    assert "礼品卡" in _text(turns[1]) and turns[1]["replies"][-1]["type"] == "preview"
    order = _order(l3, "#D6970699")
    assert order["return_payment_method_id"] == "gift_card_4122394"


def test_a_change_of_the_records_after_the_preview_asks_again(l3: Service) -> None:
    conv, _turns = _talk(l3, "siyuan_tian_1107", "#D6970699第一件退货")
    # the customer's default address changes nothing the return reads; a payment method does
    data = l3.shop.dump("demo")
    user = data.users["siyuan_tian_1107"]
    user["payment_methods"]["gift_card_4122394"]["balance"] = 1.0
    l3.shop.load("demo", data.users, data.orders, data.products, rules=data.rules)
    again = l3.handle_message(conv, "确认").to_dict()
    assert "变化" in _text(again) and again["replies"][-1]["type"] == "preview"
    assert ("return_order_items", "executed") not in _rows(l3, conv)
    l3.handle_message(conv, "确认")
    assert _order(l3, "#D6970699")["status"] == "return requested"


def test_another_customers_order_is_refused_without_a_preview(l3: Service) -> None:
    before = _order(l3, ORDER)
    conv, turns = _talk(l3, "siyuan_tian_1107", f"我想把订单{ORDER}里第2件商品退掉")
    assert _order(l3, ORDER) == before
    assert _rows(l3, conv) == []
    assert "缓震跑步鞋" not in _text(turns[0])


def test_an_unidentified_customer_is_asked_to_identify_and_nothing_is_previewed(
    l3: Service,
) -> None:
    conv, turns = _talk(l3, None, f"我想把订单{ORDER}里第2件商品退掉")
    assert "核实身份" in _text(turns[0])
    assert _rows(l3, conv) == []


def test_writes_need_an_identified_customer_in_code(l3: Service) -> None:
    tasks = WriteTasks(l3.shop, "demo", lambda n, lang: n, l3.clock(), operations=l3.operations)
    with pytest.raises(PermissionError):
        tasks.preview_write("cancel_order", {"order_id": PENDING}, DialogueState(), "zh")
    other = DialogueState(customer_id="siyuan_tian_1107")
    with pytest.raises(PermissionError):
        tasks.preview_write(
            "cancel_order", {"order_id": PENDING, "reason": "no longer needed"}, other, "zh"
        )


def test_a_write_over_the_threshold_waits_for_approval(l3: Service) -> None:
    l3.tenants.set("demo", "approval_amount_threshold", 100)
    before = _order(l3, ORDER)
    conv, turns = _talk(l3, OWNER, f"{ORDER}第2件退货", "确认")
    assert "人工审核" in _text(turns[0]) and "人工审核" in _text(turns[1])
    assert ("return_order_items", "awaiting_approval") in _rows(l3, conv)
    assert _order(l3, ORDER) == before


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_the_customer_is_told_what_the_approver_decided(l3: Service, decision: str) -> None:
    l3.tenants.set("demo", "approval_amount_threshold", 100)
    conv, _turns = _talk(l3, OWNER, f"{ORDER}第2件退货", "确认")
    queued = [e for e in l3.operations.ledger.list("demo", conversation_id=conv)]
    waiting = next(e for e in queued if e.status == "awaiting_approval")
    if decision == "approve":
        l3.operations.approve(waiting.id, "lead")
    else:
        l3.operations.reject(waiting.id, "lead", "超出退货期")
    notices = [e for e in l3.conversations.events(conv) if e.type == "notice"]
    assert len(notices) == 1  # one notice per decision, none for the other rows
    text = notices[0].text or ""
    assert ORDER in text and "申请退货" in text
    if decision == "approve":
        assert "已通过审核并办理完成" in text and notices[0].payload["status"] == "executed"
        assert _order(l3, ORDER)["status"] == "return requested"
    else:
        assert "未通过人工审核" in text and "超出退货期" in text
    # the notice is not a bot turn: the conversation goes on where it was
    assert l3.handle_message(conv, "谢谢").result.decision == "chitchat"


def test_a_pending_order_is_cancelled_with_the_reason_given(l3: Service) -> None:
    customer = _order(l3, PENDING)["user_id"]
    _conv, turns = _talk(l3, customer, f"帮我取消订单{PENDING}", "买错了", "确认")
    assert "误下单" in _text(turns[1])
    order = _order(l3, PENDING)
    assert order["status"] == "cancelled" and order["cancel_reason"] == "ordered by mistake"


def test_a_delivered_order_cannot_be_cancelled(l3: Service) -> None:
    before = _order(l3, ORDER)
    conv, turns = _talk(l3, OWNER, f"取消订单{ORDER}", "不需要了")
    assert "不能再取消" in _text(turns[0])  # told at once, before asking for a reason
    assert _order(l3, ORDER) == before
    assert _rows(l3, conv) == []
    assert turns[-1]["flow"] is None


def test_the_default_address_changes_after_confirmation(l3: Service) -> None:
    _conv, turns = _talk(l3, OWNER, "修改默认地址", "浙江省杭州市西湖区文三路100号2幢301室", "确认")
    assert "文三路100号" in _text(turns[1])
    address = l3.shop.customer("demo", OWNER).address
    assert isinstance(address, Address)
    assert (address.state, address.city, address.district) == ("浙江省", "杭州市", "西湖区")
    assert address.address1.startswith("文三路100号")


def test_a_flow_file_naming_an_unknown_write_is_refused() -> None:
    from kefu.dialogue.catalog import parse_tenant_flows

    text = "flows:\n  x:\n    level: L3\n    steps:\n      - write: drop_tables\n"
    with pytest.raises(FlowError, match="unknown write operation 'drop_tables'"):
        parse_tenant_flows(text, "f.yaml")


def test_two_pending_orders_are_merged_after_confirmation(l3: Service) -> None:
    conv, turns = _talk(l3, "huimin_zheng_9010", "帮我把#D7129562和#D4295686合并发货", "确认")
    assert turns[0]["replies"][-1]["type"] == "preview"
    assert ("merge_orders", "executed") in _rows(l3, conv)
    merged, other = _order(l3, "#D7129562"), _order(l3, "#D4295686")
    assert other["status"] == "cancelled"
    assert len(merged["items"]) == 6 and merged["status"] == "pending"


def test_merging_needs_two_of_the_customers_own_orders(l3: Service) -> None:
    conv, turns = _talk(l3, "huimin_zheng_9010", "合并订单", "#D7129562")
    assert "至少需要两个" in _text(turns[-1]) and "#D4295686" in _text(turns[-1])
    conv, turns = _talk(l3, "huimin_zheng_9010", f"合并订单#D7129562和{ORDER}")
    assert _rows(l3, conv) == []


def _cheaper(svc: Service, product_id: str, item_id: str, price: float) -> None:
    data = svc.shop.dump("demo")
    data.products[product_id]["variants"][item_id]["price"] = price
    svc.shop.load("demo", data.users, data.orders, data.products, rules=data.rules)


def test_a_price_drop_is_refunded_to_the_original_method(l3: Service) -> None:
    _cheaper(l3, "3828182895", SECOND_ITEM, 359.0)  # 389.00 paid
    l3.clock.now = datetime(2026, 8, 3, 2, 0, 0)  # type: ignore[attr-defined]
    order = _order(l3, ORDER)
    paid = sum(p["amount"] for p in order["payment_history"])
    conv, turns = _talk(l3, OWNER, f"订单{ORDER}的跑步鞋降价了，能退差价吗", "确认")
    assert "30.00" in _text(turns[0])
    assert ("refund_order", "executed") in _rows(l3, conv)
    after = _order(l3, ORDER)["payment_history"]
    assert after[-1]["transaction_type"] == "refund" and after[-1]["amount"] == 30.0
    assert sum(p["amount"] for p in after if p["transaction_type"] == "payment") == paid


def test_no_price_drop_means_no_refund(l3: Service) -> None:
    conv, turns = _talk(l3, OWNER, f"订单{ORDER}的跑步鞋降价了，能退差价吗")
    assert "没有差价可退" in _text(turns[-1]) or "价保期" in _text(turns[-1])
    assert _rows(l3, conv) == []


def test_a_late_order_gets_the_shops_delay_coupon_once(l3: Service) -> None:
    late = "#D6441548"  # processed, placed 2026-11-07, not delivered
    customer = _order(l3, late)["user_id"]
    conv, turns = _talk(l3, customer, f"订单{late}快递太慢了有补偿吗", "确认")
    assert turns[0]["replies"][-1]["type"] == "preview"
    assert ("issue_coupon", "executed") in _rows(l3, conv)
    coupons = l3.shop.dump("demo").users[customer]["coupons"]
    assert [c["template_id"] for c in coupons] == ["delay_10"]


def test_an_order_within_the_promise_gets_no_coupon(l3: Service) -> None:
    l3.tenants.set("demo", "delivery_promise_days", 30)
    late = "#D6441548"
    customer = _order(l3, late)["user_id"]
    conv, turns = _talk(l3, customer, f"订单{late}快递太慢了有补偿吗")
    assert "承诺" in _text(turns[-1])
    assert _rows(l3, conv) == []


def test_text_values_an_llm_proposes_are_read_like_messages(l3: Service) -> None:
    """An LLM's set_slot value is text: the validators read it with the entity extractor, and
    a value they cannot read is refused, never guessed."""
    from kefu.dialogue.state import Frame

    tasks = WriteTasks(
        l3.shop,
        "demo",
        lambda n, lang: n,
        l3.clock(),
        operations=l3.operations,
        extract=l3.extractor("demo").extract,
    )
    state = DialogueState(customer_id=OWNER)
    frame = Frame(flow="change_default_address")
    address = tasks.validate("new_address", "浙江省杭州市西湖区文三路100号2幢301室", frame, state)
    assert address.ok and address.value["city"] == "杭州市"
    assert address.value["address1"].startswith("文三路100号")
    assert not tasks.validate("new_address", "my usual place", frame, state).ok
    exchange = Frame(flow="exchange_items")
    exchange.results["item"] = {"item_id": "8860340335", "product_id": "3828182895"}
    variant = tasks.validate("new_variant", "换成灰蓝色39码的", exchange, state)
    assert variant.ok, variant.problem
    product, chosen = l3.shop.variant("demo", str(variant.value))
    assert product.id == "3828182895" and chosen.options["颜色"] == "灰蓝"
    # "the original method" needs the order it was paid for: without one, nothing is guessed
    assert tasks.validate("payment_method", "原路退回", exchange, state).problem == "missing"
    assert tasks.validate("cancel_reason", "I ordered the wrong thing by mistake", frame, state).ok
