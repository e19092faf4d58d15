"""The compute gate: a fixed number of turns compute at once; a turn waiting for an LLM
provider gives its place to others."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from tests.llm_tenants import THREE_FAQS, connect_llm

from kefu.concurrency import ComputeGate, outside_gate
from kefu.config import Config
from kefu.errors import ConfigurationError
from kefu.service import Service

if TYPE_CHECKING:
    from tests.fake_llm_server import FakeLlmServer

pytest_plugins = ["tests.fake_llm_server"]

LIVENESS_S = 30  # generous: only a deadlock or a held place makes a wait this long


def test_a_full_gate_keeps_the_next_thread_out_until_a_place_frees() -> None:
    gate = ComputeGate(1)
    order: list[str] = []
    trying = threading.Event()
    entered = threading.Event()

    def second() -> None:
        trying.set()
        with gate.hold():
            order.append("second in")
            entered.set()

    with gate.hold():
        worker = threading.Thread(target=second)
        worker.start()
        assert trying.wait(LIVENESS_S)
        assert not entered.wait(0.3)  # it is waiting for the place
        order.append("first out")
    worker.join(LIVENESS_S)
    assert order == ["first out", "second in"]


def test_a_thread_outside_the_gate_lets_another_in_and_comes_back() -> None:
    gate = ComputeGate(1)
    other_ran = threading.Event()
    log: list[str] = []

    def other() -> None:
        with gate.hold():
            log.append("other")
            other_ran.set()

    with gate.hold():
        with outside_gate():  # e.g. waiting for an LLM provider
            worker = threading.Thread(target=other)
            worker.start()
            assert other_ran.wait(LIVENESS_S)  # got the place we gave back
            worker.join(LIVENESS_S)
        log.append("back")
        # back inside: the place is ours again, so a newcomer waits
        late = threading.Event()
        blocked = threading.Thread(target=lambda: (gate.hold().__enter__(), late.set()))
        blocked.daemon = True
        blocked.start()
        assert not late.wait(0.3)
    assert log == ["other", "back"]


def test_holding_is_reentrant_and_outside_is_a_no_op_without_a_gate() -> None:
    gate = ComputeGate(1)
    with gate.hold(), gate.hold():  # an inner hold on the same thread is free
        pass
    with outside_gate():  # this thread holds nothing: nothing to give back
        pass
    with ComputeGate(0).hold():  # no limit
        pass


def test_turn_concurrency_comes_from_the_environment() -> None:
    assert Config.from_env("/tmp/x", env={}).turn_concurrency == 2
    assert Config.from_env("/tmp/x", env={"KEFU_TURN_CONCURRENCY": "0"}).turn_concurrency == 0
    assert Config.from_env("/tmp/x", env={"KEFU_TURN_CONCURRENCY": " 4 "}).turn_concurrency == 4
    for bad in ("-1", "two", "1.5"):
        with pytest.raises(ConfigurationError, match="KEFU_TURN_CONCURRENCY"):
            Config.from_env("/tmp/x", env={"KEFU_TURN_CONCURRENCY": bad})


def test_a_turn_waiting_for_the_llm_does_not_hold_up_an_l1_turn(
    demo_service: Service, fake_llm: FakeLlmServer
) -> None:
    svc = demo_service
    svc.compute = ComputeGate(1)  # one turn computes at a time
    svc.tenants.create("llm", {"level": "L2", "language": "zh"})
    svc.faqs.upsert_many("llm", THREE_FAQS)
    connect_llm(svc, "llm", fake_llm.base_url, llm_timeout_s=60.0)
    release = fake_llm.reply_hang()  # the model answers only when released
    slow, _ = svc.start_conversation("llm", "test")
    fast, _ = svc.start_conversation("demo", "test")
    svc.handle_message(fast.id, "运费怎么算")  # warm the demo index outside the race
    results: dict[str, str] = {}

    def llm_turn() -> None:
        turn = svc.handle_message(slow.id, "我公司报账要那个凭证，弄好了寄给我吧")
        results["llm"] = turn.to_dict()["decision"]

    worker = threading.Thread(target=llm_turn)
    worker.start()
    try:
        # The LLM turn is inside its provider call once the fake server has its request.
        assert _wait_for(lambda: len(fake_llm.requests) == 1)

        def l1_turn() -> None:
            results["l1"] = svc.handle_message(fast.id, "运费怎么算").to_dict()["decision"]

        quick = threading.Thread(target=l1_turn)
        quick.start()
        quick.join(LIVENESS_S)
        assert results.get("l1") == "answer"  # answered while the LLM turn still waits
        assert "llm" not in results
    finally:
        release.set()
        worker.join(LIVENESS_S)
    assert "llm" in results  # and the LLM turn finished once the model answered


def _wait_for(condition: Callable[[], bool]) -> bool:
    """Poll ``condition`` until true, up to LIVENESS_S (the fake server signals nothing)."""
    tick = threading.Event()
    for _ in range(LIVENESS_S * 100):
        if condition():
            return True
        tick.wait(0.01)
    return False


def test_an_index_rebuild_does_not_hold_up_other_tenants_turns(
    demo_service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = demo_service
    svc.compute = ComputeGate(1)
    svc.tenants.create("other", {"level": "L1", "language": "zh"})
    svc.faqs.upsert_many("other", THREE_FAQS)
    fast, _ = svc.start_conversation("demo", "test")
    svc.handle_message(fast.id, "运费怎么算")  # the demo index is built
    slow, _ = svc.start_conversation("other", "test")
    building, release = threading.Event(), threading.Event()
    real_get = svc.index_cache.get

    def slow_get(*args: Any, **kwargs: Any) -> Any:  # the other tenant's index takes a while
        building.set()
        release.wait(LIVENESS_S)
        return real_get(*args, **kwargs)

    monkeypatch.setattr(svc.index_cache, "get", slow_get)
    results: dict[str, str] = {}

    def other_turn() -> None:
        results["other"] = svc.handle_message(slow.id, "多久发货").to_dict()["decision"]

    def demo_turn() -> None:
        results["demo"] = svc.handle_message(fast.id, "运费怎么算").to_dict()["decision"]

    worker = threading.Thread(target=other_turn)
    worker.start()
    try:
        assert building.wait(LIVENESS_S)
        quick = threading.Thread(target=demo_turn)
        quick.start()
        quick.join(LIVENESS_S)
        assert results.get("demo") == "answer"  # while the other index is still building
        assert "other" not in results
    finally:
        release.set()
        worker.join(LIVENESS_S)
    assert results.get("other") == "answer"
