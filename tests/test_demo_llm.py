"""``kefu demo --llm``: the demo tenant switched to an LLM for its unsure turns (an
OpenAI-compatible URL, checked against the fake server; a local GGUF file, checked with a stub
of llama.cpp), and every bad value refused with a message naming the problem. Needs neither a
model file nor xllamacpp."""

from __future__ import annotations

import importlib.machinery
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kefu.api.app import create_app
from kefu.cli.common import State
from kefu.cli.main import app
from kefu.errors import LlmTimeout, LlmUnavailable
from kefu.llm.budget import TurnBudget
from kefu.llm.factory import LlmConfig, ProviderRegistry
from kefu.llm.llamacpp import LlamaCppConfig, LlamaCppProvider
from kefu.llm.port import ChatProvider, ChatRequest, ChatResult, Message, StreamEvent, Usage
from kefu.llm.resilience import ResilientProvider
from kefu.llm.scripted import ScriptedProvider
from kefu.service import Service
from kefu.understanding.llm_engine import SYSTEM_PROMPT

if TYPE_CHECKING:
    from tests.fake_llm_server import FakeLlmServer

pytest_plugins = ["tests.fake_llm_server"]

CONFIDENT = "运费怎么收？满多少包邮？"  # a demo FAQ question, word for word
UNSURE = "我公司报销要那个票据，弄好了寄给我吧"  # no FAQ, flow or document says this plainly


@pytest.fixture(autouse=True)
def clean_llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No LLM from the developer's environment; what ``demo`` puts there is undone."""
    for name in ("KEFU_LLM_BASE_URL", "KEFU_LLM_MODEL", "KEFU_LLM_API_KEY", "KEFU_LLM_GGUF"):
        monkeypatch.delenv(name, raising=False)


def demo(service: Service, *args: str) -> Any:
    """``kefu demo --no-serve ARGS`` in process, on the test's service."""
    return CliRunner().invoke(app, ["demo", "--no-serve", *args], obj=State(_service=service))


def turn(client: TestClient, text: str) -> dict[str, Any]:
    conv = client.post("/v1/conversations", json={"tenant": "demo", "channel": "test"}).json()
    r = client.post(f"/v1/conversations/{conv['id']}/messages", json={"text": text})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_an_endpoint_gets_the_unsure_turns_only(
    service: Service, fake_llm: FakeLlmServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEFU_LLM_API_KEY", "sk-demo-key")
    result = demo(service, "--llm", fake_llm.base_url, "--llm-model", "qwen-demo")
    assert result.exit_code == 0, result.output
    assert f"engine: LLM qwen-demo ({fake_llm.base_url})" in result.output
    assert fake_llm.requests == []  # a remote endpoint gets no warm-up call
    with TestClient(create_app(service)) as client:
        confident = turn(client, CONFIDENT)
        assert confident["decision"] == "answer" and confident["faq_id"] == "ship-001"
        assert fake_llm.requests == []
        fake_llm.reply_json({"commands": []})  # nothing usable: the offline reading stands
        unsure = turn(client, UNSURE)
        assert len(fake_llm.requests) == 1
        assert unsure["replies"] and unsure["replies"][0]["text"]
    sent = fake_llm.requests[0]
    assert sent.body["model"] == "qwen-demo"
    assert sent.headers["authorization"] == "Bearer sk-demo-key"
    assert UNSURE in fake_llm.message_texts()[-1]

    # `--llm off` switches it back: the same unsure turn makes no call
    result = demo(service, "--llm", "off")
    assert result.exit_code == 0, result.output
    assert "engine: offline (no LLM)" in result.output
    with TestClient(create_app(service)) as client:
        turn(client, UNSURE)
    assert len(fake_llm.requests) == 1


def test_the_model_name_can_come_from_the_environment(
    service: Service, fake_llm: FakeLlmServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEFU_LLM_MODEL", "from-env")
    result = demo(service, "--llm", fake_llm.base_url)
    assert result.exit_code == 0, result.output
    assert "engine: LLM from-env" in result.output
    assert service.tenants.settings("demo")["llm_model"] == "from-env"


class StubLlama:
    """Stands in for ``xllamacpp.Server``: records prompts, proposes nothing."""

    def __init__(self) -> None:
        self.prompts: list[dict[str, Any]] = []

    def handle_chat_completions(self, prompt: dict[str, Any]) -> dict[str, Any]:
        self.prompts.append(prompt)
        return {
            "choices": [
                {"message": {"role": "assistant", "content": '{"commands": []}'}, "index": 0}
            ],
            "usage": {"prompt_tokens": 600, "completion_tokens": 6},
        }


def fake_xllamacpp(monkeypatch: pytest.MonkeyPatch) -> None:
    """An importable ``xllamacpp`` (the real one is optional and never needed here)."""
    module = types.ModuleType("xllamacpp")
    module.__spec__ = importlib.machinery.ModuleSpec("xllamacpp", None)
    monkeypatch.setitem(sys.modules, "xllamacpp", module)


def test_a_gguf_file_runs_in_process_and_is_warmed_at_start(
    service: Service, fake_llm: FakeLlmServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gguf = tmp_path / "tiny-q4.gguf"
    gguf.write_bytes(b"GGUF")
    fake_xllamacpp(monkeypatch)
    stub = StubLlama()
    built: list[LlmConfig] = []

    def adapter(config: LlmConfig, model: str) -> ChatProvider:
        built.append(config)
        return LlamaCppProvider(LlamaCppConfig(Path(config.gguf)), server=stub)

    service.llm_registry = ProviderRegistry(adapter=adapter)
    monkeypatch.setenv("KEFU_LLM_BASE_URL", fake_llm.base_url)  # the file must win over it
    monkeypatch.setenv("KEFU_LLM_MODEL", "remote")
    service.tenants.create("demo", {"level": "L2", "language": "zh"})
    service.tenants.set("demo", "llm_base_url", fake_llm.base_url)  # an earlier --llm URL

    result = demo(service, "--llm", str(gguf))
    assert result.exit_code == 0, result.output
    assert f"engine: LLM tiny-q4 (local llama.cpp, {gguf})" in result.output
    assert "local model ready" in result.output
    assert built and built[0].gguf == str(gguf) and built[0].models == ("tiny-q4",)
    # the warm-up call's prompt starts like every understanding call: the cached prefix
    assert len(stub.prompts) == 1
    assert stub.prompts[0]["messages"][0]["content"].startswith(SYSTEM_PROMPT.split("%")[0])
    assert stub.prompts[0]["cache_prompt"] is True
    with TestClient(create_app(service)) as client:
        turn(client, CONFIDENT)
        assert len(stub.prompts) == 1
        turn(client, UNSURE)
        assert len(stub.prompts) == 2
    assert fake_llm.requests == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--llm", "ftp://example.com/v1"], "expected a .gguf model file or an http(s):// URL"),
        (["--llm", "model.bin"], "expected a .gguf model file or an http(s):// URL"),
        (["--llm", "/nonexistent/model.gguf"], "no such file: /nonexistent/model.gguf"),
        (["--llm", "http://"], "is not a valid URL"),
        (["--llm", "http://127.0.0.1:9/v1"], "needs a model name: --llm-model NAME"),
        (["--llm-model", "qwen"], "--llm-model needs --llm URL"),
    ],
)
def test_bad_values_are_refused_by_name(service: Service, args: list[str], message: str) -> None:
    result = demo(service, *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert [t.name for t in service.tenants.all()] == []  # refused before any work


def test_a_gguf_file_without_xllamacpp_says_what_to_install(
    service: Service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # not importable
    result = demo(service, "--llm", str(gguf))
    assert result.exit_code == 2
    assert "pip install 'kefu[llm-local]'" in " ".join(result.output.split())


def test_a_model_that_fails_to_load_leaves_the_offline_engine_answering(
    service: Service, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gguf = tmp_path / "broken.gguf"
    gguf.write_bytes(b"not a model")
    fake_xllamacpp(monkeypatch)  # no CommonParams: loading fails
    result = demo(service, "--llm", str(gguf))
    assert result.exit_code == 0, result.output
    assert "did not answer its first call" in " ".join(result.output.split())
    with TestClient(create_app(service)) as client:
        out = turn(client, UNSURE)
    assert out["replies"] and out["replies"][0]["text"]


def test_a_model_still_loading_holds_a_call_no_longer_than_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kefu.llm import llamacpp

    loaded = threading.Event()

    def slow_load(config: LlamaCppConfig) -> StubLlama:
        loaded.wait(10)
        return StubLlama()

    monkeypatch.setattr(llamacpp, "load_server", slow_load)
    p = LlamaCppProvider(LlamaCppConfig(Path("/models/m.gguf")))
    ready = p.load()
    request = ChatRequest((Message("user", "你好"),))
    with pytest.raises(LlmTimeout):
        p.complete(replace(request, timeout=0.05))
    loaded.set()
    ready.result(timeout=10)
    assert p.complete(request).text == '{"commands": []}'
    p.close()


def test_a_missing_xllamacpp_is_an_outage_the_turn_survives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    p = LlamaCppProvider(LlamaCppConfig(Path("/models/m.gguf")))
    with pytest.raises(LlmUnavailable) as caught:
        p.complete(ChatRequest((Message("user", "你好"),)))
    assert "pip install 'kefu[llm-local]'" in caught.value.message
    p.close()


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_turns_llm_calls_share_one_timeout() -> None:
    clock = Ticks()
    inner = ScriptedProvider("m", ["a", "b", "c"])
    budget = TurnBudget(inner, 1.0, clock)
    request = ChatRequest((Message("user", "你好"),))
    clock.now += 5  # a cold first turn's offline work does not count: the first call starts it
    assert budget.complete(request).text == "a"
    assert inner.requests[0].timeout == pytest.approx(1.0)
    clock.now += 0.7
    assert budget.complete(replace(request, timeout=5.0)).text == "b"
    # half of what is left of the turn's second: an attempt and its retry fit in it
    assert inner.requests[1].timeout == pytest.approx(0.15)
    clock.now += 0.3
    with pytest.raises(LlmTimeout):
        budget.complete(request)  # spent: not sent
    assert len(inner.requests) == 2


def test_after_a_failed_call_the_turn_makes_no_other() -> None:
    inner = ScriptedProvider("m", [LlmTimeout("slow", model="m"), "never asked"])
    budget = TurnBudget(inner, 8.0, Ticks())
    request = ChatRequest((Message("user", "你好"),))
    with pytest.raises(LlmTimeout):
        budget.complete(request)
    with pytest.raises(LlmTimeout):
        list(budget.stream(request))
    assert len(inner.requests) == 1


class Hanging:
    """A provider whose attempts take their whole timeout on the fake clock: the first answers
    after ``first_s``, every later one times out."""

    model = "m"

    def __init__(self, clock: Ticks, first_s: float) -> None:
        self.clock = clock
        self.first_s = first_s
        self.calls = 0

    def complete(self, request: ChatRequest) -> ChatResult:
        self.calls += 1
        if self.calls == 1:
            self.clock.now += self.first_s
            return ChatResult('{"commands": []}', "m", Usage(1, 1))
        assert request.timeout is not None
        self.clock.now += request.timeout
        raise LlmTimeout("slow", model="m")

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        raise NotImplementedError


def test_a_slow_second_call_and_its_retry_stay_inside_the_turns_timeout() -> None:
    clock = Ticks()
    hanging = Hanging(clock, first_s=0.6)
    resilient = ResilientProvider(hanging, deadline_s=1.0, clock=clock, sleep=lambda s: None)
    budget = TurnBudget(resilient, 1.0, clock)
    request = ChatRequest((Message("user", "你好"),))
    started = clock.now
    budget.complete(request)  # the second opinion: 0.6 s
    with pytest.raises(LlmTimeout):
        budget.complete(request)  # e.g. the grounded answer: times out, is retried once
    assert hanging.calls == 3
    assert clock.now - started <= 1.0 + 1e-9
