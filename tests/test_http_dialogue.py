"""L3 conversations over the HTTP connector: kefu with ``KEFU_SHOP_CONNECTOR`` pointing at a
merchant file, the merchant a real local server (tests/fake_merchant.py) holding the demo shop.
A confirmed return reaches the merchant once; a write the merchant does not answer is told
truthfully and reconciled before anything is sent again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.fake_merchant import (
    MERCHANT_YAML,
    TOKEN,
    FakeMerchant,
    merchant_fixture,  # noqa: F401 - the fixture "merchant"
)

from kefu.config import Config
from kefu.connectors.http import HttpShop
from kefu.connectors.tau_io import read_tau
from kefu.knowledge.embedding_cache import PersistentEmbedder
from kefu.knowledge.faq_index import FaqIndexCache
from kefu.knowledge.kb_io import read_faq_file
from kefu.quality.conversation_tests import DEMO_DATA
from kefu.service import Service, build_service

ORDER = "#D3137656"
OWNER = "lijuan_wang_7028"
SECOND_ITEM = "8860340335"


@pytest.fixture
def svc(
    merchant: FakeMerchant,
    tmp_path: Path,
    database_url: str,
    embedder: PersistentEmbedder,
    index_cache: FaqIndexCache,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Service]:
    data = read_tau(DEMO_DATA / "shop")
    merchant.load("demo", data.users, data.orders, data.products)
    raw: dict[str, Any] = yaml.safe_load(MERCHANT_YAML.read_text(encoding="utf-8"))
    raw["base_url"] = merchant.base_url
    raw["retries"]["backoff_s"] = 0
    raw["timeouts"]["read"] = 2.0
    path = tmp_path / "merchant.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("MERCHANT_TOKEN", TOKEN)
    env = {"KEFU_DATABASE_URL": database_url, "KEFU_SHOP_CONNECTOR": str(path)}
    service = build_service(Config.from_env(tmp_path / "kefu", env=env), embedder=embedder)
    service.index_cache = index_cache
    service.tenants.create("demo", {"level": "L3", "language": "zh", "return_window_days": 0})
    service.faqs.upsert_many("demo", read_faq_file(DEMO_DATA / "faq.jsonl"))
    # the catalogue the entity extractor reads is imported; orders and customers are the
    # merchant's only
    service.shop.load("demo", {}, {}, data.products)
    assert isinstance(service.connector, HttpShop)
    yield service
    service.close()


def _order(merchant: FakeMerchant) -> dict[str, Any]:
    doc: dict[str, Any] = merchant.shop.dump("demo").orders[ORDER]
    return doc


def test_a_confirmed_return_reaches_the_merchant_once(svc: Service, merchant: FakeMerchant) -> None:
    conv, _ = svc.start_conversation("demo", "web", OWNER, "zh")
    shown = svc.handle_message(conv.id, f"{ORDER}第2件退货").to_dict()
    assert shown["replies"][-1]["type"] == "preview"
    assert "389.00" in shown["replies"][-1]["text"]
    assert merchant.applied == []
    svc.handle_message(conv.id, "确认")
    svc.handle_message(conv.id, "确认")
    assert [op for op, _key in merchant.applied] == ["return_order_items"]
    order = _order(merchant)
    assert order["status"] == "return requested" and order["return_items"] == [SECOND_ITEM]
    rows = svc.operations.ledger.list("demo", conversation_id=conv.id)
    assert [r.status for r in rows if r.status == "executed"] == ["executed"]


def test_an_unanswered_write_is_told_and_reconciled_not_repeated(
    svc: Service, merchant: FakeMerchant
) -> None:
    conv, _ = svc.start_conversation("demo", "web", OWNER, "zh")
    svc.handle_message(conv.id, f"{ORDER}第2件退货")
    merchant.misbehave("error_after")  # applies the return, then answers 500
    told = svc.handle_message(conv.id, "确认").to_dict()
    text = "\n".join(r["text"] for r in told["replies"])
    assert "不会重复办理" in text
    assert [o["status"] for o in told["operations"]] == ["unknown_outcome"]
    assert [op for op, _key in merchant.applied] == ["return_order_items"]
    outcome = svc.operations.reconcile(told["operations"][0]["ledger_id"])
    assert outcome.status == "executed"
    assert [op for op, _key in merchant.applied] == ["return_order_items"]  # not sent again
    assert _order(merchant)["return_items"] == [SECOND_ITEM]
