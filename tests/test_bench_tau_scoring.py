"""``kefu bench tau``: the pure parts (pass^k, tau's outputs rule, database hash and diff, task
and script files, the simulated customers) without a service."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from kefu.bench import (
    STOP,
    BenchFileError,
    GoldAction,
    LlmCustomer,
    ScriptedCustomer,
    TauTask,
    db_diff,
    db_hash,
    grade,
    load_script,
    load_tasks,
    missing_outputs,
    pass_hat_k,
    replay_gold,
    select_tasks,
)
from kefu.bench.customers import clean_message
from kefu.bench.grading import write_request
from kefu.bench.tasks import WRITE_TOOLS
from kefu.connectors.embedded_writes import DryRun
from kefu.connectors.port import Address
from kefu.errors import LlmTimeout, OperationRefused, OrderNotFound
from kefu.llm.scripted import ScriptedProvider

# -- pass^k ---------------------------------------------------------------------------------------


def test_pass_hat_k_known_values() -> None:
    # two trials: a task solved twice, one once, one never
    got = pass_hat_k([2, 1, 0], 2)
    assert got[1] == pytest.approx((1 + 0.5 + 0) / 3)
    assert got[2] == pytest.approx(1 / 3)
    # four trials: C(c,k)/C(4,k) averaged
    got = pass_hat_k([4, 2], 4)
    assert got == pytest.approx({1: 0.75, 2: (1 + 1 / 6) / 2, 3: 0.5, 4: 0.5})
    assert pass_hat_k([1, 0, 1], 1) == pytest.approx({1: 2 / 3})
    assert pass_hat_k([], 3) == {1: 0.0, 2: 0.0, 3: 0.0}


def test_pass_hat_k_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        pass_hat_k([3], 2)
    with pytest.raises(ValueError):
        pass_hat_k([0], 0)


# -- tau's outputs rule -----------------------------------------------------------------------


def test_outputs_rule_is_case_insensitive_and_drops_the_replys_commas() -> None:
    replies = ["Your order total is $1,234.50.", "The T-Shirt is made of POLYESTER"]
    assert missing_outputs(["1234.50", "polyester", "t-shirt"], replies) == []
    # the output itself is not normalised (tau's quirk): a comma in it never matches
    assert missing_outputs(["1,234.50"], replies) == ["1,234.50"]
    # each output must sit inside one reply, not across two
    assert missing_outputs(["1234.50. The"], replies) == ["1234.50. The"]
    assert missing_outputs(["cotton"], replies) == ["cotton"]
    assert missing_outputs([], []) == []


# -- database hash and diff -----------------------------------------------------------------


def _shop(**orders: Mapping[str, Any]) -> dict[str, Any]:
    users = {"u1": {"name": "A", "payment_methods": {"gift_card_1": {"balance": 10}}}}
    return {"users": users, "orders": {k: dict(v) for k, v in orders.items()}, "products": {}}


def test_db_hash_ignores_key_order_but_not_numbers_or_list_order() -> None:
    a = {"users": {}, "orders": {"#1": {"status": "pending", "amount": 51}}, "products": {}}
    b = {"products": {}, "orders": {"#1": {"amount": 51, "status": "pending"}}, "users": {}}
    assert db_hash(a) == db_hash(b)
    c = {"users": {}, "orders": {"#1": {"status": "pending", "amount": 51.0}}, "products": {}}
    assert db_hash(a) != db_hash(c)  # tau hashes str(data): 51 is not 51.0
    d = {"users": {}, "orders": {"#1": {"items": [1, 2]}}, "products": {}}
    e = {"users": {}, "orders": {"#1": {"items": [2, 1]}}, "products": {}}
    assert db_hash(d) != db_hash(e)


def test_db_diff_says_who_changed_what() -> None:
    initial = _shop(a={"status": "pending"}, b={"status": "delivered"}, c={"status": "pending"})
    kefu = _shop(
        a={"status": "cancelled", "cancel_reason": "ordered by mistake"},
        b={"status": "delivered"},
        c={"status": "cancelled"},
    )
    gold = _shop(
        a={"status": "pending"},
        b={"status": "return requested", "return_items": ["1"]},
        c={"status": "cancelled"},
    )
    gold["users"]["u1"]["payment_methods"]["gift_card_1"]["balance"] = 60.5
    diffs = {(d.section, d.id): d for d in db_diff(initial, kefu, gold)}
    assert set(diffs) == {("users", "u1"), ("orders", "a"), ("orders", "b")}
    a = diffs["orders", "a"]
    assert (a.kefu, a.gold) == ("changed", "unchanged")
    assert a.fields == ("status", "cancel_reason")
    assert a.values["status"] == ("cancelled", "pending")
    assert a.summary() == (
        "order a: kefu changed, gold unchanged; differs in status 'cancelled' vs 'pending', "
        "cancel_reason 'ordered by mistake' vs None"
    )
    b = diffs["orders", "b"]
    assert (b.kefu, b.gold) == ("unchanged", "changed")
    user = diffs["users", "u1"]
    assert (user.kefu, user.gold, user.fields) == ("unchanged", "changed", ("payment_methods",))
    assert user.to_dict()["summary"].startswith("customer u1: kefu unchanged, gold changed")


def test_db_diff_of_created_documents() -> None:
    initial = _shop()
    kefu = _shop(new={"status": "pending"})
    diff = db_diff(initial, kefu, initial)
    assert [(d.id, d.kefu, d.gold) for d in diff] == [("new", "created", "unchanged")]


def test_grade_needs_equal_databases_and_every_output() -> None:
    shop = _shop(a={"status": "pending"})
    other = _shop(a={"status": "cancelled"})
    ok = grade(shop, shop, shop, ["pending"], ["Your order is pending"])
    assert (ok.reward, ok.db_match, ok.diff) == (1.0, True, ())
    assert ok.kefu_hash == ok.gold_hash
    missing = grade(shop, shop, shop, ["pending", "cotton"], ["pending"])
    assert missing.reward == 0.0 and missing.outputs == {"pending": True, "cotton": False}
    wrong = grade(shop, shop, other, [], ["done"])
    assert (wrong.reward, wrong.db_match) == (0.0, False)
    assert [d.id for d in wrong.diff] == ["a"]


# -- the gold replay ------------------------------------------------------------------------


class FakeShop:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def write(self, tenant: str, operation: str, arguments: Mapping[str, Any]) -> DryRun:
        self.calls.append((operation, dict(arguments)))
        if arguments.get("order_id") == "#refused":
            raise OperationRefused("order_not_pending", "non-pending order cannot be cancelled")
        if arguments.get("order_id") == "#missing":
            raise OrderNotFound("#missing")
        return DryRun(operation=operation, customer_id="u", customer_before={}, customer_after={})


def test_replay_gold_writes_in_order_and_skips_reads() -> None:
    shop = FakeShop()
    actions = [
        GoldAction("find_user_id_by_email", {"email": "a@example.com"}),
        GoldAction("cancel_pending_order", {"order_id": "#ok", "reason": "no longer needed"}),
        GoldAction("cancel_pending_order", {"order_id": "#refused", "reason": "no longer needed"}),
        GoldAction(
            "modify_pending_order_payment", {"order_id": "#missing", "payment_method_id": "p"}
        ),
    ]
    outcomes = replay_gold(shop, "t", actions)
    assert [o.to_dict() for o in outcomes] == [
        {"name": "find_user_id_by_email", "outcome": "read"},
        {"name": "cancel_pending_order", "outcome": "done"},
        {
            "name": "cancel_pending_order",
            "outcome": "refused",
            "detail": "non-pending order cannot be cancelled",
        },
        {
            "name": "modify_pending_order_payment",
            "outcome": "refused",
            "detail": "unknown order: '#missing'",
        },
    ]
    assert [c[0] for c in shop.calls] == ["cancel_order", "cancel_order", "modify_order_payment"]


def test_every_tau_write_maps_to_an_embedded_shop_write() -> None:
    address = {
        "address1": "1 Main St", "address2": "", "city": "Austin", "state": "TX",
        "country": "USA", "zip": "78701",
    }  # fmt: skip
    values = {
        "order_id": "#W1", "reason": "ordered by mistake", "item_ids": ["1"],
        "new_item_ids": ["2"], "payment_method_id": "paypal_1", "user_id": "u1", **address,
    }  # fmt: skip
    operations = {}
    for tool, needs in WRITE_TOOLS.items():
        operation, args = write_request(GoldAction(tool, {k: values[k] for k in needs}))
        operations[tool] = operation
        if "address" in args:
            assert args["address"] == Address(**address)
    assert operations == {
        "cancel_pending_order": "cancel_order",
        "modify_pending_order_address": "modify_order_address",
        "modify_pending_order_items": "modify_order_items",
        "modify_pending_order_payment": "modify_order_payment",
        "modify_user_address": "modify_customer_address",
        "return_delivered_order_items": "return_order_items",
        "exchange_delivered_order_items": "exchange_order_items",
    }
    assert write_request(GoldAction("modify_user_address", {**values}))[1]["customer_id"] == "u1"


# -- task files ---------------------------------------------------------------------------------

GOOD = {
    "annotator": "",
    "user_id": "juan_smith_9901",
    "instruction": "Your name is Juan Smith.",
    "actions": [
        {"name": "get_order_details", "kwargs": {"order_id": "#W3547545"}},
        {
            "name": "cancel_pending_order",
            "kwargs": {"order_id": "#W1", "reason": "no longer needed"},
        },
    ],
    "outputs": ["polyester"],
}


def _write(tmp_path: Path, tasks: Any, name: str = "tasks.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path


def test_load_tasks_reads_tau_tasks(tmp_path: Path) -> None:
    tasks = load_tasks(_write(tmp_path, [GOOD, {**GOOD, "actions": [], "outputs": []}]))
    assert [t.id for t in tasks] == ["0", "1"]
    first = tasks[0]
    assert first.user_id == "juan_smith_9901" and first.outputs == ("polyester",)
    assert [a.name for a in first.writes] == ["cancel_pending_order"]
    assert len(first.actions) == 2
    yaml_file = tmp_path / "tasks.yaml"
    yaml_file.write_text("- user_id: u1\n  instruction: hi\n", encoding="utf-8")
    assert load_tasks(yaml_file)[0] == TauTask(id="0", user_id="u1", instruction="hi")


@pytest.mark.parametrize(
    ("task", "place"),
    [
        ({**GOOD, "user_id": None}, "task 1, field user_id: missing"),
        ({**GOOD, "instruction": ""}, "task 1, field instruction: expected non-empty text"),
        ({**GOOD, "actions": {}}, "task 1, field actions: expected a list"),
        (
            {**GOOD, "actions": [{"name": "refund_everything", "kwargs": {}}]},
            "task 1, field actions[0].name: unknown tau-bench retail tool 'refund_everything'",
        ),
        (
            {**GOOD, "actions": [{"name": "cancel_pending_order", "kwargs": {"order_id": "#W1"}}]},
            "task 1, field actions[0].kwargs.reason: missing",
        ),
        (
            {
                **GOOD,
                "actions": [
                    {
                        "name": "return_delivered_order_items",
                        "kwargs": {"order_id": "#W1", "item_ids": "1", "payment_method_id": "p"},
                    }
                ],
            },
            "task 1, field actions[0].kwargs.item_ids: expected a list of item ids (text)",
        ),
        ({**GOOD, "outputs": ["ok", 3]}, "task 1, field outputs[1]: expected non-empty text"),
        ("not a task", "task 1: expected an object"),
    ],
)
def test_a_bad_task_names_its_index_and_field(tmp_path: Path, task: Any, place: str) -> None:
    path = _write(tmp_path, [GOOD, task])
    with pytest.raises(BenchFileError) as caught:
        load_tasks(path)
    assert caught.value.message == f"{path}, {place}"
    assert caught.value.code == "invalid_input"


def test_a_task_file_that_is_not_a_list_of_tasks(tmp_path: Path) -> None:
    with pytest.raises(BenchFileError, match="top level: expected a list of tasks"):
        load_tasks(_write(tmp_path, {"tasks": []}))
    with pytest.raises(BenchFileError, match="no task"):
        load_tasks(_write(tmp_path, []))
    broken = tmp_path / "broken.json"
    broken.write_text('[{"user_id": "u",\n  oops}]', encoding="utf-8")
    with pytest.raises(BenchFileError, match="line 2, column 3: invalid JSON"):
        load_tasks(broken)
    with pytest.raises(BenchFileError, match="no such file"):
        load_tasks(tmp_path / "missing.json")


def test_select_tasks_by_id_limit_and_seed() -> None:
    tasks = [TauTask(id=str(i), user_id="u", instruction="x") for i in range(10)]
    assert [t.id for t in select_tasks(tasks, task_ids=["7", "2", "7"])] == ["7", "2"]
    assert [t.id for t in select_tasks(tasks, limit=3)] == ["0", "1", "2"]
    shuffled = [t.id for t in select_tasks(tasks, seed=7)]
    assert shuffled == [t.id for t in select_tasks(tasks, seed=7)]
    assert sorted(shuffled) == sorted(t.id for t in tasks) and shuffled != [
        str(i) for i in range(10)
    ]
    with pytest.raises(Exception, match="unknown task id '12'"):
        select_tasks(tasks, task_ids=["12"])


# -- customers ----------------------------------------------------------------------------------


def test_scripted_customer_says_its_lines_then_stops() -> None:
    customer = ScriptedCustomer(["hi", "bye"])
    assert [customer.say("welcome"), customer.say("a"), customer.say("b")] == ["hi", "bye", STOP]
    assert customer.say("c") == STOP


def test_load_script(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text("17:\n  - hello\n  - bye\n'0': [cancel it]\n", encoding="utf-8")
    assert load_script(path) == {"17": ["hello", "bye"], "0": ["cancel it"]}
    path.write_text("17: []\n", encoding="utf-8")
    with pytest.raises(BenchFileError, match="task 17: expected a non-empty list"):
        load_script(path)
    path.write_text("17: [hello, '  ']\n", encoding="utf-8")
    with pytest.raises(BenchFileError, match="task 17, message 1: expected non-empty text"):
        load_script(path)
    path.write_text("- hello\n", encoding="utf-8")
    with pytest.raises(BenchFileError, match="top level"):
        load_script(path)


def test_clean_message() -> None:
    assert clean_message('  User: "I want a refund"  ') == "I want a refund"
    assert clean_message("Thanks, that's all. ###STOP###") == STOP
    assert clean_message("   ") == STOP
    assert clean_message("<think>the agent wants my zip</think>It's 78770.") == "It's 78770."


def test_llm_customer_plays_the_instruction_like_tau() -> None:
    provider = ScriptedProvider("m", ["Customer: Hi, I want to return a puzzle.", "###STOP###"])
    customer = LlmCustomer(provider, "Your name is Isabella Brown.", temperature=0.5)
    assert customer.say("Hi, how can I help?") == "Hi, I want to return a puzzle."
    assert customer.say("Sure, your order id?") == STOP
    first, second = provider.requests
    assert [m.role for m in first.messages] == ["system", "user"]
    assert "Instruction: Your name is Isabella Brown." in first.messages[0].content
    assert "###STOP###" in first.messages[0].content
    assert [m.role for m in second.messages] == ["system", "user", "assistant", "user"]
    assert second.messages[2].content == "Customer: Hi, I want to return a puzzle."
    assert first.temperature == 0.5
    assert customer.calls == 2 and customer.usage.prompt_tokens == 20


def test_llm_customer_failure_is_an_llm_error() -> None:
    customer = LlmCustomer(ScriptedProvider("m", [LlmTimeout("slow")]), "x")
    with pytest.raises(LlmTimeout):
        customer.say("hello")


# -- the run's LLM ------------------------------------------------------------------------------


def test_a_local_model_is_shared_with_kefu(tmp_path: Path) -> None:
    """With a .gguf file, kefu's tenant names no endpoint, the process names the file, and
    every trial's kefu calls the customer's already loaded model."""
    from types import SimpleNamespace

    from kefu.bench.llm import BenchLlm
    from kefu.llm.factory import LlmConfig
    from kefu.llm.port import ChatRequest, Message

    gguf = tmp_path / "tiny.gguf"
    local = ScriptedProvider("tiny", default="from the shared model")
    model = BenchLlm(local, "tiny (local llama.cpp)", model="tiny", gguf=gguf, shared=local)
    assert model.agent_settings() == {
        "llm_base_url": "",
        "llm_model": "",
        "llm_max_calls_per_turn": 2,
        "llm_timeout_s": 60.0,
    }
    assert model.agent_env() == {"KEFU_LLM_GGUF": str(gguf), "KEFU_LLM_BASE_URL": None}
    svc: Any = SimpleNamespace(llm_registry=None)
    model.configure(svc)
    chain = svc.llm_registry.chain(LlmConfig("", ("tiny",), gguf=str(gguf)))
    reply = chain.complete(ChatRequest((Message("user", "hi"),)))
    assert reply.text == "from the shared model" and len(local.requests) == 1


def test_the_shipped_scripts_fit_the_dev_tasks() -> None:
    """tests/data/bench_tau_*.yaml: every scripted task exists in tau's dev split, and every
    message holding " #" is quoted (unquoted, YAML reads the rest as a comment)."""
    from tests.datasets import DATASETS

    dev = load_tasks(DATASETS / "tau_bench_retail" / "tasks_dev.json")
    ids = {t.id for t in dev}
    for path in sorted((Path(__file__).parent / "data").glob("bench_tau_*.yaml")):
        assert set(load_script(path)) <= ids, path.name
        for line in path.read_text(encoding="utf-8").splitlines():
            item = line.strip()
            if item.startswith("- ") and " #" in item:
                assert item[2] in "\"'", f"{path.name}: quote {item!r}"
