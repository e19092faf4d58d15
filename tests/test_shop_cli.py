"""``kefu shop import|export|show``, run as real subprocesses against a real database."""

from __future__ import annotations

import json
from pathlib import Path

from tests.datasets import DATASETS

ROOT = Path(__file__).resolve().parent.parent
TAU = DATASETS / "tau_bench_retail"
DEMO_SHOP = ROOT / "src" / "kefu" / "demo" / "data" / "shop"


def test_import_export_round_trip(kefu, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kefu("tenant", "create", "shop")
    out = kefu("shop", "import", "--tenant", "shop", "--format", "tau", str(TAU)).stdout
    assert "imported 500 customers, 1000 orders and 50 products into shop" in out
    exported = json.loads(kefu("shop", "export", "--tenant", "shop", "--format", "tau").stdout)
    assert list(exported) == ["users", "orders", "products"]
    for name in exported:
        original = json.loads((TAU / f"{name}.json").read_text(encoding="utf-8"))
        assert json.dumps(exported[name]) == json.dumps(original), name
    # The exported file imports into another tenant and exports to the same bytes.
    first = tmp_path / "first.json"
    kefu("shop", "export", "--tenant", "shop", "--output", str(first))
    kefu("tenant", "create", "copy")
    kefu("shop", "import", "--tenant", "copy", str(first))
    second = tmp_path / "second.json"
    proc = kefu("shop", "export", "--tenant", "copy", "--output", str(second))
    assert f"wrote {second}" in proc.stderr
    assert second.read_bytes() == first.read_bytes()


def test_malformed_file_is_one_clear_error_and_changes_nothing(  # type: ignore[no-untyped-def]
    kefu, tmp_path: Path
) -> None:
    kefu("tenant", "create", "demo")
    kefu("shop", "import", "--tenant", "demo", str(DEMO_SHOP))
    before = kefu("shop", "export", "--tenant", "demo").stdout
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("users", "products"):
        (bad / f"{name}.json").write_bytes((DEMO_SHOP / f"{name}.json").read_bytes())
    orders = json.loads((DEMO_SHOP / "orders.json").read_text(encoding="utf-8"))
    first_id, first = next(iter(orders.items()))
    first["items"][0]["price"] = str(first["items"][0]["price"])
    (bad / "orders.json").write_text(json.dumps(orders, ensure_ascii=False), encoding="utf-8")
    proc = kefu("shop", "import", "--tenant", "demo", str(bad), ok=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    message = " ".join(proc.stderr.split())
    assert str(bad / "orders.json") in message
    assert f'order "{first_id}", items[0].price: expected a number, got text' in message
    assert kefu("shop", "export", "--tenant", "demo").stdout == before


BAD_COMMANDS = [
    (("shop", "import", "--tenant", "ghost", str(TAU)), "unknown tenant: 'ghost'"),
    (("shop", "import", "--tenant", "t", "--format", "csv", str(TAU)), "--format must be"),
    (("shop", "export", "--tenant", "t", "--format", "xml"), "--format must be"),
    (("shop", "show", "--tenant", "t"), "give exactly one of"),
    (("shop", "show", "--tenant", "t", "--order", "#D0000000"), "unknown order: '#D0000000'"),
    (("shop", "show", "--tenant", "t", "--email", "a@b.cn"), "no customer matches the given email"),
]


def test_bad_shop_commands_are_one_clear_error(kefu) -> None:  # type: ignore[no-untyped-def]
    kefu("tenant", "create", "t")
    for args, message in BAD_COMMANDS:
        proc = kefu(*args, ok=False)
        assert proc.returncode == 2, args
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_show_customer_and_order(kefu) -> None:  # type: ignore[no-untyped-def]
    kefu("tenant", "create", "demo")
    kefu("shop", "import", "--tenant", "demo", str(DEMO_SHOP))
    users = json.loads((DEMO_SHOP / "users.json").read_text(encoding="utf-8"))
    user_id, user = next(iter(users.items()))
    shown = json.loads(kefu("shop", "show", "--tenant", "demo", "--phone", user["phone"]).stdout)
    assert shown["customer"]["id"] == user_id
    assert [o["id"] for o in shown["orders"]] == user["orders"]
    order_id = user["orders"][0]
    order = json.loads(kefu("shop", "show", "--tenant", "demo", "--order", order_id).stdout)
    assert order["id"] == order_id and order["customer_id"] == user_id
