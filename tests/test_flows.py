"""Flow files: parsing, validation errors that name file and place, and commands round-trip."""

from __future__ import annotations

import pytest

from kefu.dialogue.catalog import builtin_catalog, parse_tenant_flows
from kefu.dialogue.flows import Condition, lookup, parse_flows
from kefu.domain.commands import (
    COMMANDS,
    AnswerFaq,
    Clarify,
    CorrectSlot,
    Handoff,
    SetSlot,
    StartFlow,
    command_from_dict,
)
from kefu.errors import FlowError, InvalidInputError

GOOD = """
version: 1
templates:
  ask_size: {zh: "请问穿多大码？", en: "Which size do you wear?"}
  size_tip: {zh: "建议选 {size} 码。", en: "We suggest size {size}."}
flows:
  size_advice:
    title: {zh: 尺码建议, en: size advice}
    examples: {zh: [帮我选尺码, 穿多大码合适], en: [help me pick a size]}
    steps:
      - collect: size
        ask: ask_size
      - say: size_tip
"""


def test_builtin_catalog_loads_with_every_flow_bilingual() -> None:
    catalog = builtin_catalog()
    assert {"order_status", "track_shipment", "return_eligibility", "product_stock"} <= set(
        catalog.flows
    )
    for flow in catalog.flows.values():
        assert set(flow.title) == {"zh", "en"}, flow.name
        assert len(flow.examples.get("zh", ())) >= 5, flow.name
        assert len(flow.examples.get("en", ())) >= 4, flow.name


def test_tenant_file_parses_and_overrides() -> None:
    catalog = builtin_catalog().merged(parse_tenant_flows(GOOD, "mine.yaml"))
    flow = catalog.flows["size_advice"]
    assert flow.slots == ("size",)
    assert flow.steps[1].kind == "say" and flow.steps[1].target == "size_tip"
    assert catalog.templates["ask_size"]["en"] == "Which size do you wear?"
    assert "order_status" in catalog.flows


@pytest.mark.parametrize(
    ("text", "place", "problem"),
    [
        ("flows: [unclosed", "line 1, column 17", ""),
        ("flows:\n  a:\n    steps: []\n", "flows.a.steps", "non-empty list"),
        (
            "flows:\n  a:\n    steps:\n      - say: x\n        next: nowhere\n",
            "flows.a.steps[0].next",
            "unknown step 'nowhere'",
        ),
        (
            "flows:\n  a:\n    steps:\n      - call: launch_rocket\n",
            "flows.a.steps[0].call",
            "unknown operation 'launch_rocket'",
        ),
        (
            "flows:\n  a:\n    steps:\n      - say: x\n        collect: y\n",
            "flows.a.steps[0]",
            "exactly one of",
        ),
        (
            # YAML 1.1 reads a bare `yes` as a boolean: caught, not silently mis-routed
            "flows:\n  a:\n    steps:\n      - branch:\n          - when: {var: x, equals: 1}\n"
            "            goto: yes\n",
            "flows.a.steps[0].branch[0].goto",
            "non-empty string",
        ),
        (
            "flows:\n  a:\n    steps:\n      - link: no_such_flow\n",
            "flows.a.steps[0].link",
            "unknown flow 'no_such_flow'",
        ),
        (
            "flows:\n  a:\n    identity: maybe\n    steps:\n      - say: x\n",
            "flows.a.identity",
            "required",
        ),
        ("version: 2\nflows: {}\n", "version", "only version 1"),
        ("colours: {}\n", "colours", "unknown key"),
    ],
)
def test_bad_flow_files_name_file_and_place(text: str, place: str, problem: str) -> None:
    with pytest.raises(FlowError) as err:
        parse_tenant_flows(text, "shop_flows.yaml")
    assert err.value.file == "shop_flows.yaml"
    assert err.value.place == place
    assert problem in err.value.problem
    assert err.value.message.startswith(f"shop_flows.yaml, {place}: ")


def test_links_to_builtin_flows_are_allowed() -> None:
    text = "flows:\n  a:\n    steps:\n      - link: order_status\n"
    assert parse_tenant_flows(text, "f.yaml").flows["a"].steps[0].target == "order_status"
    with pytest.raises(FlowError):
        parse_flows(text, "f.yaml")  # no known flows: the link dangles


def test_conditions_and_lookup() -> None:
    values = {"order": {"status": "delivered", "items": [{"name": "A"}, {"name": "B"}]}}
    assert lookup(values, "order.items.1.name") == (True, "B")
    assert lookup(values, "order.items.-1.name") == (True, "B")
    assert lookup(values, "order.items.5.name") == (False, None)
    assert Condition("order.status", "in", ["delivered"]).test(values)
    assert not Condition("order.status", "equals", "pending").test(values)
    assert Condition("order.missing", "not_equals", "x").test(values)
    assert Condition("order.missing", "exists", False).test(values)
    assert not Condition("order.status", "gt", 3).test(values)  # incomparable: false, no crash


@pytest.mark.parametrize(
    "command",
    [
        StartFlow("order_status", 0.9),
        SetSlot("order_id", "#W2611340"),
        CorrectSlot("item", {"ordinal": 2}),
        AnswerFaq("ship-01", 0.8),
        Handoff("customer_request"),
        Clarify(("ship-01", "flow:order_status"), 0.4),
    ],
)
def test_commands_round_trip(command: object) -> None:
    assert hasattr(command, "to_dict")
    data = command.to_dict()  # type: ignore[attr-defined]
    assert data["command"] in COMMANDS
    assert command_from_dict(data) == command


def test_bad_command_dicts_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="unknown command"):
        command_from_dict({"command": "drop_tables"})
    with pytest.raises(InvalidInputError, match="no field 'amount'"):
        command_from_dict({"command": "confirm", "amount": 5})
    with pytest.raises(InvalidInputError):
        command_from_dict({"command": "set_slot", "slot": "x"})  # value missing
