"""The ``transcript_pii`` policy: with ``mask`` the stored transcript holds placeholders instead
of the customer's phone, e-mail and name, while the live reply and the dialogue are unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from kefu.connectors.tau_io import read_tau
from kefu.service import Service

DEMO_SHOP = Path(__file__).resolve().parents[1] / "src" / "kefu" / "demo" / "data" / "shop"
NAME, ZIP, PHONE, EMAIL = "杜婉婷", "100080", "13812345678", "wanting.du@example.com"


@pytest.fixture
def shop_service(service: Service) -> Service:
    data = read_tau(DEMO_SHOP)
    for tenant in ("keep", "mask"):
        service.tenants.create(tenant, {"level": "L2", "language": "zh"})
        service.shop.load(tenant, data.users, data.orders, data.products)
    service.tenants.set("mask", "transcript_pii", "mask")
    return service


def _talk(service: Service, tenant: str) -> tuple[list[str], list[str]]:
    """Identify by name + zip (the bot then greets the customer by name) after a message with a
    phone and an e-mail; returns the live reply texts and the stored event texts."""
    conv, _ = service.start_conversation(tenant, "test", None, None)
    live = []
    for text in (
        f"帮我查下订单状态，我电话{PHONE}，邮箱{EMAIL}",
        f"我叫{NAME}，邮编{ZIP}",
    ):
        turn = service.handle_message(conv.id, text)
        live.append("\n".join(r.text for r in turn.result.replies))
    stored = [e.text or "" for e in service.conversations.events(conv.id)]
    return live, stored


def test_mask_policy_stores_placeholders_and_keeps_the_dialogue(shop_service: Service) -> None:
    live_keep, stored_keep = _talk(shop_service, "keep")
    live_mask, stored_mask = _talk(shop_service, "mask")

    # the customer sees the same conversation either way: identified, greeted by name
    assert live_mask == live_keep
    assert "已核实" in live_mask[1] and NAME in live_mask[1]

    kept = "\n".join(stored_keep)
    assert PHONE in kept and EMAIL in kept and NAME in kept

    masked = "\n".join(stored_mask)
    for value in (PHONE, EMAIL, NAME):
        assert value not in masked
    assert "[PHONE_1]" in masked and "[EMAIL_1]" in masked and "[NAME_1]" in masked
    assert ZIP in masked  # a zip code alone is not personal data: kept, like order ids


def test_mask_policy_masks_reply_payloads(shop_service: Service) -> None:
    conv, _ = shop_service.start_conversation("mask", "test", None, None)
    shop_service.handle_message(conv.id, "帮我查下订单状态")
    shop_service.handle_message(conv.id, f"我叫{NAME}，邮编{ZIP}")
    bot = [e for e in shop_service.conversations.events(conv.id) if e.actor == "bot"][-1]
    replies = bot.payload["replies"]
    assert replies and all(NAME not in r["text"] for r in replies)
    assert any("[NAME_1]" in r["text"] for r in replies)
    # the dialogue state is stored as it is, so the next turn still knows the customer
    assert bot.payload["state"]["customer_id"]


@pytest.mark.parametrize("tenant", ["keep", "mask"])
def test_an_agents_message_is_stored_under_the_same_policy(
    shop_service: Service, tenant: str
) -> None:
    conv, _ = shop_service.start_conversation(tenant, "test", None, None)
    shop_service.handle_message(conv.id, "转人工")
    _key, secret = shop_service.access.create_api_key(tenant, "agent", "alice")
    agent = shop_service.access.principal_for_key(secret)
    shop_service.desk.take(conv.id, agent)
    said = f"已登记，我们会打 {PHONE} 联系您，也会发邮件到 {EMAIL}"
    event = shop_service.desk.agent_message(conv.id, agent, said)
    stored = [e.text or "" for e in shop_service.conversations.events(conv.id)]
    if tenant == "keep":
        assert event.text == said and said in stored
    else:
        assert PHONE not in (event.text or "") and EMAIL not in (event.text or "")
        assert "[PHONE_1]" in (event.text or "") and "[EMAIL_1]" in (event.text or "")
        assert not any(PHONE in text or EMAIL in text for text in stored)
