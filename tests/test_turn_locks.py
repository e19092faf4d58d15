"""One turn at a time per conversation across processes: the lease row in the database, and
``kefu serve --workers 2`` as real processes on one database."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Clock, _free_port
from tests.kb_small import small_kb

from kefu.config import Config
from kefu.errors import ConflictError
from kefu.service import Service, build_service
from kefu.storage.db import session_factory
from kefu.storage.turn_locks import FileTurnLocks, TurnLeases


def _leases(svc: Service, clock: Clock | None = None, wait_s: float = 30.0) -> TurnLeases:
    """A second process's view of the same database: its own in-memory locks."""
    return TurnLeases(session_factory(svc.engine), wait_s=wait_s, clock=clock or svc.clock)


def test_a_held_lease_keeps_other_processes_out_until_released(service: Service) -> None:
    a, b = _leases(service), _leases(service)
    with a.hold("conv-1"):
        assert not b._try("conv-1", "b")  # the same conversation: refused
        assert b._try("conv-2", "b")  # another conversation: free
    assert b._try("conv-1", "b")  # released
    b._release("conv-1", "b")
    b._release("conv-2", "b")


def test_a_waiting_turn_gives_up_with_a_conflict_not_a_hang(service: Service) -> None:
    a, b = _leases(service), _leases(service, wait_s=0.0)
    with (
        a.hold("conv-1"),
        pytest.raises(ConflictError, match="still running"),
        b.hold("conv-1"),
    ):
        pass  # pragma: no cover - never entered
    with b.hold("conv-1"):  # and once it is free, it is taken
        assert not a._try("conv-1", "a")


def test_file_locks_keep_other_processes_out_of_a_sqlite_conversation(tmp_path: Path) -> None:
    """On SQLite each process has its own FileTurnLocks over the same lock files."""
    a = FileTurnLocks(tmp_path / "kefu.db.turns")
    b = FileTurnLocks(tmp_path / "kefu.db.turns", wait_s=0.0)
    with a.hold("conv-1"):
        with pytest.raises(ConflictError, match="still running"), b.hold("conv-1"):
            pass  # pragma: no cover - never entered
        with b.hold("conv-2"):  # another conversation (another stripe): free
            pass
    with b.hold("conv-1"):  # released
        pass


def test_the_service_picks_file_locks_for_sqlite_and_leases_otherwise(service: Service) -> None:
    kind = FileTurnLocks if service.engine.dialect.name == "sqlite" else TurnLeases
    assert isinstance(service.turn_locks, kind)


def test_a_dead_holders_lease_is_taken_over_when_it_expires(service: Service) -> None:
    now = datetime(2026, 11, 22, 3, 0, 0)
    clock = Clock(now)
    dead = TurnLeases(session_factory(service.engine), lease_s=60, clock=clock)
    live = TurnLeases(session_factory(service.engine), lease_s=60, clock=clock)
    assert dead._try("conv-1", "dead")  # the process dies here, never releasing
    clock.now = now + timedelta(seconds=59)
    assert not live._try("conv-1", "live")
    clock.now = now + timedelta(seconds=61)
    assert live._try("conv-1", "live")
    dead._release("conv-1", "dead")  # a late release by the old holder frees nothing
    assert not _leases(service, clock)._try("conv-1", "third")
    live._release("conv-1", "live")


def test_two_services_on_one_database_answer_one_conversation_in_order(
    config: Config, embedder: Any, clock: Clock
) -> None:
    """Two services (two processes' worth of memory: caches, locks) on one database, eight
    messages to one conversation at once: each recorded and answered, customer and bot
    alternating, the dialogue state carried from each turn to the next."""
    one = build_service(config, embedder=None, clock=clock)
    two = build_service(config, embedder=None, clock=clock)
    try:
        one.tenants.create("shop", {"level": "L1", "language": "zh"})
        one.faqs.upsert_many("shop", small_kb())
        conv, _ = one.start_conversation("shop", "api")
        texts = [f"怎么开发票 {i}" for i in range(8)]
        errors: list[BaseException] = []

        def send(svc: Service, text: str) -> None:
            try:
                svc.handle_message(conv.id, text)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [
            threading.Thread(target=send, args=(one if i % 2 else two, t))
            for i, t in enumerate(texts)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        events = one.conversations.events(conv.id)[2:]  # after the start and the greeting
        kinds = [e.type for e in events]
        assert kinds == ["customer_message", "bot_reply"] * 8
        said = [e.text for e in events if e.type == "customer_message"]
        assert sorted(said) == sorted(texts)
    finally:
        one.close()
        two.close()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def _post(url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


@pytest.fixture
def two_workers(kefu: Any, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    from kefu.knowledge.kb_io import write_faq_file

    kefu("tenant", "create", "shop")
    src = tmp_path / "kb.jsonl"
    write_faq_file(small_kb(), src)
    kefu("kb", "import", "--tenant", "shop", str(src))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "serve", "--port", str(port), "--workers", "2"],
        env=kefu.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # until both workers listen (or the server has died)
            if proc.poll() is not None:
                raise AssertionError(proc.communicate()[0])
            try:
                _get(base + "/healthz")
                break
            except OSError:
                threading.Event().wait(0.05)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()]


def test_serve_with_two_worker_processes_keeps_each_conversation_in_order(
    two_workers: tuple[str, subprocess.Popen[str]],
) -> None:
    base, proc = two_workers
    workers = [p for p in _children(proc.pid) if "spawn_main" in _cmdline(p)]
    assert len(workers) == 2
    conv = _post(base + "/v1/conversations", {"tenant": "shop", "channel": "api"})["id"]
    texts = [f"怎么开发票 {i}" for i in range(12)]
    replies: list[Any] = []

    def send(text: str) -> None:
        replies.append(_post(f"{base}/v1/conversations/{conv}/messages", {"text": text}))

    threads = [threading.Thread(target=send, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(replies) == 12 and all(r["decision"] == "answer" for r in replies)
    events = _get(f"{base}/v1/conversations/{conv}")["events"][
        2:
    ]  # after the start and the greeting
    assert [e["actor"] for e in events] == ["customer", "bot"] * 12
    assert sorted(e["text"] for e in events if e["actor"] == "customer") == sorted(texts)
    pids = {_get(base + "/healthz")["pid"] for _ in range(20)}
    assert pids <= set(workers)


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
