"""``kefu bench tau`` on the command line: the customer played by a real (fake) OpenAI-compatible
LLM server over HTTP, with ``--json`` and ``--out``; scripted customers and the pass^k table;
``--agent llm``; clear errors. The runs are in process (a subprocess would pay kefu's warm-up
again); the error path also runs as a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from tests.datasets import DATASETS
from tests.test_bench_tau_run import subset_shop
from typer.testing import CliRunner, Result

from kefu.bench import TauTask
from kefu.cli.main import app

if TYPE_CHECKING:
    from tests.fake_llm_server import FakeLlmServer

pytest_plugins = ["tests.fake_llm_server"]

TAU = DATASETS / "tau_bench_retail"
DEV = TAU / "tasks_dev.json"
SCRIPT = Path(__file__).parent / "data" / "bench_tau_dev.yaml"


def _invoke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> Result:
    """``kefu ARGS`` in process (no embedder, a data folder of its own); must succeed."""
    monkeypatch.setenv("KEFU_EMBEDDER", "none")
    monkeypatch.setenv("KEFU_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return subset_shop(["juan_smith_9901", "olivia_ito_3591"], tmp_path_factory.mktemp("tau"))


def test_an_llm_customer_over_http_with_json_and_out(
    fake_llm: FakeLlmServer, shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_llm.reply_text("Hi, I'm not happy with my order #W3547545.")
    fake_llm.reply_text("User: My name is Juan Smith and my zip code is 78770.")
    fake_llm.reply_text("###STOP###")
    out = tmp_path / "trials.jsonl"
    proc = _invoke(
        monkeypatch,
        tmp_path,
        "bench", "tau", "--tasks", str(DEV), "--shop", str(shop), "--task-ids", "17",
        "--llm", fake_llm.base_url, "--llm-model", "sim", "--temperature", "0.3",
        "--json", "--out", str(out),
    )  # fmt: skip
    data = json.loads(proc.stdout)
    assert data["agent"] == "offline" and data["customer"].startswith("llm: sim (http://")
    assert (data["trials"], data["tasks_run"], data["pass_hat_k"]) == (1, 1, {"1": 1.0})
    (task,) = data["tasks"]
    assert (task["task_id"], task["user_id"], task["rewards"]) == ("17", "juan_smith_9901", [1.0])
    (trial,) = task["trials"]
    assert (trial["turns"], trial["ended"], trial["db_match"]) == (2, "stop", True)
    assert "task 17 trial 0: reward 1, 2 turns, ended stop" in proc.stderr
    # the simulator: tau's prompt with the task's instruction, kefu's words as the user's
    assert len(fake_llm.requests) == 3
    first, last = fake_llm.requests[0].body, fake_llm.requests[-1].body
    assert first["model"] == "sim" and first["temperature"] == 0.3
    assert first["messages"][0]["role"] == "system"
    assert (
        "Instruction: Your name is Juan Smith and your zip code is 78770."
        in (first["messages"][0]["content"])
    )
    assert [m["role"] for m in last["messages"]] == ["system"] + ["user", "assistant"] * 2 + [
        "user"
    ]
    (line,) = out.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record["reward"] == 1.0 and record["kefu_hash"] == record["gold_hash"]
    said = [t["text"] for t in record["transcript"] if t["role"] == "customer"]
    assert said == [
        "Hi, I'm not happy with my order #W3547545.",
        "My name is Juan Smith and my zip code is 78770.",
    ]
    assert record["customer_llm"] == {"calls": 3, "prompt_tokens": 36, "completion_tokens": 15}


def test_scripted_customers_and_the_pass_hat_k_table(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _invoke(
        monkeypatch,
        tmp_path,
        "bench", "tau", "--tasks", str(DEV), "--shop", str(shop), "--task-ids", "17",
        "--task-ids", "0", "--script", str(SCRIPT), "--trials", "2",
    )  # fmt: skip
    out = result.stdout
    assert "customer: scripted (bench_tau_dev.yaml); kefu: offline" in out
    assert "juan_smith_9901" in out and "cancel_pending_order" in out
    assert "order #W5442520: kefu unchanged, gold changed" in out
    assert "2 tasks x 2 trials: average reward 0.500  pass^1 0.500  pass^2 0.500" in out
    assert "task 0 trial 1: reward 0" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--task-ids", "17"), "needs an LLM (--llm URL or .gguf file) or a script"),
        (("--task-ids", "5", "--script", str(SCRIPT)), "task 5: no messages for this task"),
        (("--task-ids", "99", "--script", str(SCRIPT)), "unknown task id '99'"),
        (("--agent", "llm", "--script", str(SCRIPT)), "--agent llm needs --llm"),
        (("--llm", "model.bin"), "expected a .gguf model file or an http(s):// URL"),
        (("--llm", "/nowhere/model.gguf"), "--llm: no such file: /nowhere/model.gguf"),
        (("--llm", "http://127.0.0.1:9/v1"), "needs a model name"),
        (("--script", str(SCRIPT), "--setting", "level"), "--setting expects KEY=VALUE"),
    ],
)
def test_bad_options_are_clear_errors(
    args: tuple[str, ...], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process (each fails before any kefu is built)."""
    monkeypatch.delenv("KEFU_LLM_MODEL", raising=False)
    result = CliRunner().invoke(app, ["bench", "tau", "--tasks", str(DEV), *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_bad_task_file_names_the_task_and_field(  # type: ignore[no-untyped-def]
    kefu, tmp_path: Path
) -> None:
    tasks = json.loads(DEV.read_text(encoding="utf-8"))[:3]
    del tasks[2]["actions"][0]["kwargs"]["order_id"]
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    proc = kefu("bench", "tau", "--tasks", str(path), "--script", str(SCRIPT), ok=False)
    assert proc.returncode == 2
    assert f"{path}, task 2, field actions[0].kwargs.order_id: missing" in proc.stderr


def test_agent_llm_sends_kefus_unsure_turns_to_the_same_llm(
    fake_llm: FakeLlmServer, shop: Path
) -> None:
    """``--agent llm``: the customer and kefu's understanding share the endpoint; kefu's calls
    go through its tenant's LLM settings (masked, metered) and a useless answer leaves the
    offline engine in charge."""
    from kefu.bench import TauBench, llm_customers
    from kefu.bench.llm import bench_llm

    lines = iter(["What can you do about it?", "###STOP###"])  # unsure offline: clarify

    def respond(body: dict[str, Any]) -> str:
        system = body["messages"][0]["content"]
        if system.startswith("You are a user interacting with an agent."):
            return next(lines)
        return "not json"  # kefu's understanding call: a logged no-op

    fake_llm.respond_with(respond)
    model = bench_llm(fake_llm.base_url, "sim")
    task = TauTask("17", "juan_smith_9901", "Your name is Juan Smith.")
    with TauBench(shop, settings=model.agent_settings()) as bench:
        record = bench.run_trial(task, 0, llm_customers(model.customer)(task, 0))
    assert (record.ended, record.turns, record.reward) == ("stop", 1, 1.0)
    kefu_calls = [
        r for r in fake_llm.requests if not r.body["messages"][0]["content"].startswith("You are a")
    ]
    assert kefu_calls, "kefu did not ask the LLM about an unsure turn"
    assert {r.body["model"] for r in fake_llm.requests} == {"sim"}
    assert model.agent_settings() == {
        "llm_base_url": fake_llm.base_url,
        "llm_model": "sim",
        "llm_max_calls_per_turn": 2,
    }
