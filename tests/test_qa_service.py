"""QaService over a real database: finished detection, scoring runs, re-scoring, overrides."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update
from tests.conftest import Clock
from tests.kb_small import small_kb

from kefu.config import Config
from kefu.domain.faq import FaqEntry
from kefu.errors import ConversationNotFound, InvalidInputError
from kefu.knowledge.faq_index import FaqIndexCache
from kefu.service import Service, build_service, utcnow
from kefu.storage.models import EventRow


@pytest.fixture
def svc(config: Config, clock: Clock, index_cache: FaqIndexCache) -> Iterator[Service]:
    """A tenant "demo" (L1, a small FAQ) without an embedder: retrieval quality does not
    matter here."""
    service = build_service(config, embedder=None, clock=clock, index_cache=index_cache)
    service.tenants.create("demo", {"level": "L1", "language": "zh"})
    service.faqs.upsert_many("demo", small_kb())
    yield service
    service.close()


def later(clock: Clock, minutes: float) -> None:
    """Move the clock to ``minutes`` after now (events carry the real time they were written)."""
    clock.now = utcnow() + timedelta(minutes=minutes)


def chat(svc: Service, *messages: str) -> str:
    conv, _ = svc.start_conversation("demo", channel="test")
    for m in messages:
        svc.handle_message(conv.id, m)
    return conv.id


def at(svc: Service, conversation_id: str, seq: int, when: datetime) -> None:
    """Set an event's time (tests of response times; appending always writes the real time)."""
    with svc.sessions.begin() as s:
        s.execute(
            update(EventRow)
            .where(EventRow.conversation_id == conversation_id, EventRow.seq == seq)
            .values(created_at=when)
        )


def test_a_conversation_is_finished_when_closed_or_idle(svc: Service, clock: Clock) -> None:
    idle = chat(svc, "运费怎么算")
    closed = chat(svc, "运费怎么算")
    svc.conversations.append(
        closed, [("conversation_closed", "system", None, {"by": "customer", "reason": "done"})]
    )
    later(clock, 29)
    assert not svc.qa.is_finished(idle) and svc.qa.is_finished(closed)
    assert svc.qa.score_finished("demo") == 1
    assert svc.qa.get(idle) is None
    later(clock, 31)
    assert svc.qa.is_finished(idle)
    assert svc.qa.score_finished("demo") == 1
    assert svc.qa.score_finished("demo") == 0  # nothing new: nothing scored again
    svc.tenants.set("demo", "qa.idle_minutes", 120)
    idle2 = chat(svc, "你好")
    later(clock, 60)
    assert not svc.qa.is_finished(idle2)


def test_an_open_handoff_keeps_an_idle_conversation_unfinished(svc: Service, clock: Clock) -> None:
    waiting = chat(svc, "转人工")
    events = svc.conversations.events(waiting)
    assert any(e.type == "handoff_requested" for e in events)  # the desk queued it
    later(clock, 600)
    assert not svc.qa.is_finished(waiting)
    assert svc.qa.score_finished("demo") == 0
    # events appended directly, without the desk: an unreleased request is open too
    direct, _ = svc.start_conversation("demo", channel="test")
    svc.conversations.append(
        direct.id, [("handoff_requested", "system", None, {"handoff_id": 99, "in_hours": True})]
    )
    later(clock, 600)
    assert not svc.qa.is_finished(direct.id)
    svc.conversations.append(
        direct.id, [("handoff_released", "system", None, {"handoff_id": 99, "agent": "a"})]
    )
    later(clock, 600)
    assert svc.qa.is_finished(direct.id)


def test_scores_are_stored_and_a_bad_agent_is_flagged(svc: Service, clock: Clock) -> None:
    good = chat(svc, "运费怎么算")
    bad = chat(svc, "你们太差劲了，气死我了！！")
    svc.conversations.append(
        bad,
        [
            ("handoff_requested", "system", None, {"handoff_id": 5, "in_hours": True}),
            ("handoff_taken", "system", None, {"handoff_id": 5, "agent": "小王"}),
            ("agent_message", "agent", "滚，爱买不买。", {"agent": "小王"}),
            ("conversation_closed", "system", None, {"by": "agent:小王", "reason": "x"}),
        ],
    )
    later(clock, 31)
    assert svc.qa.score_finished() == 2
    g, b = svc.qa.get(good), svc.qa.get(bad)
    assert g is not None and b is not None
    assert not g.flagged and g.total == 100.0 and g.failed == []
    assert g.scores["correctness"]["applicable"]  # an FAQ answer was judged
    assert b.flagged and "politeness" in b.failed and b.agents == ["小王"]
    words = {r["detail"] for r in b.scores["politeness"]["reasons"]}
    assert words == {"滚", "爱买不买"}
    items, total = svc.qa.list("demo", flagged=True)
    assert total == 1 and [r.conversation_id for r in items] == [bad]
    assert svc.qa.list("demo", dimension="politeness")[1] == 1
    assert svc.qa.list("demo", dimension="pii")[1] == 0
    assert [r.conversation_id for r in svc.qa.list("demo", agent="小王")[0]] == [bad]
    assert [r.conversation_id for r in svc.qa.flagged("demo")] == [bad]
    assert svc.qa.list("demo", limit=1)[1] == 2 and len(svc.qa.list("demo", limit=1)[0]) == 1


def test_a_slow_agent_fails_response_time(svc: Service, clock: Clock) -> None:
    cid = chat(svc, "转人工")
    handoff_id = next(
        e.payload["handoff_id"]
        for e in svc.conversations.events(cid)
        if e.type == "handoff_requested"
    )
    taken, message = svc.conversations.append(
        cid,
        [
            ("handoff_taken", "system", None, {"handoff_id": handoff_id, "agent": "小李"}),
            ("agent_message", "agent", "您好，我是小李。", {"agent": "小李"}),
        ],
    )
    assert taken.created_at is not None
    at(svc, cid, message.seq, taken.created_at + timedelta(minutes=5))
    result = svc.qa.score(cid)
    assert result.score_of("response_time") == 40
    assert [r["code"] for r in result.scores["response_time"]["reasons"]] == ["slow_first_response"]
    assert "response_time" in result.failed and result.flagged


def test_rescoring_keeps_overrides_and_history(svc: Service, clock: Clock) -> None:
    cid = chat(svc, "火星上有仓库吗")  # a fallback: the conversation ends unresolved
    first = svc.qa.score(cid)
    assert first.score_of("resolution") < 100
    after = svc.qa.override(cid, "resolution", 100, by="主管老张", note="顾客后来电话解决了")
    assert after.score_of("resolution") == 100 and after.overridden_by == "主管老张"
    assert after.total >= first.total
    svc.qa.override(cid, "resolution", 90, by="lead", note="")
    history = svc.qa.overrides(cid)
    assert [(h["dimension"], h["before"], h["after"], h["by"]) for h in history] == [
        ("resolution", first.score_of("resolution"), 100, "主管老张"),
        ("resolution", 100, 90, "lead"),
    ]
    # new events: scored again; the automatic part changes, the override stays
    svc.conversations.append(cid, [("agent_message", "agent", "你自己看", {"agent": "a"})])
    later(clock, 31)
    assert svc.qa.score_finished("demo") == 1
    again = svc.qa.get(cid)
    assert again is not None and again.last_seq > first.last_seq
    assert again.score_of("resolution") == 90 and again.override["resolution"]["by"] == "lead"
    assert again.scores["politeness"]["score"] < 100  # the new agent message was judged
    assert len(svc.qa.overrides(cid)) == 2


def test_override_rejects_bad_input_and_changes_nothing(svc: Service) -> None:
    cid = chat(svc, "你好")
    with pytest.raises(InvalidInputError, match="unknown dimension 'speed'") as exc:
        svc.qa.override(cid, "speed", 50, by="a")
    assert exc.value.field == "dimension"
    with pytest.raises(InvalidInputError) as exc:
        svc.qa.override(cid, "pii", 101, by="a")
    assert exc.value.field == "score"
    with pytest.raises(ConversationNotFound):
        svc.qa.override("no-such-conversation", "pii", 50, by="a")
    assert svc.qa.overrides(cid) == [] and svc.qa.get(cid) is None
    with pytest.raises(InvalidInputError, match="unknown dimension"):
        svc.qa.list("demo", dimension="speed")


def test_correctness_follows_the_knowledge_base(svc: Service) -> None:
    answered = chat(svc, "运费怎么算")
    missed = chat(svc, "火星上有仓库吗")
    decisions = {
        cid: [e.payload.get("decision") for e in svc.conversations.events(cid)[2:]]
        for cid in (answered, missed)
    }
    assert decisions == {answered: [None, "answer"], missed: [None, "fallback"]}
    assert svc.qa.score(answered).score_of("correctness") == 100
    assert svc.qa.score(missed).score_of("correctness") == 100
    # the knowledge base learns the answer: the fallback now counts against the bot
    svc.faqs.upsert_many(
        "demo", [FaqEntry(id="mars", question="火星上有仓库吗", answer="没有，只有地球仓。")]
    )
    reasons = svc.qa.score(missed).scores["correctness"]["reasons"]
    assert [(r["code"], r["detail"]) for r in reasons] == [("missed_answer", "mars")]
    # the FAQ the bot answered with is removed: the answer no longer stands
    svc.faqs.delete("demo", "ship-fee")
    result = svc.qa.score(answered)
    assert [r["code"] for r in result.scores["correctness"]["reasons"]] == ["faq_removed"]


def test_score_finished_works_in_batches(
    config: Config, clock: Clock, index_cache: FaqIndexCache
) -> None:
    service = build_service(config, embedder=None, clock=clock, index_cache=index_cache)
    try:
        service.tenants.create("demo", {"level": "L1"})
        service.qa._batch = 3
        ids = [chat(service, "你好") for _ in range(7)]
        later(clock, 31)
        assert service.qa.score_finished("demo", limit=5) == 5
        assert service.qa.score_finished("demo") == 2
        assert all(service.qa.get(i) is not None for i in ids)
    finally:
        service.close()


def test_run_periodically_scores_until_stopped(svc: Service, clock: Clock) -> None:
    import threading

    cid = chat(svc, "你好")
    later(clock, 31)
    stop = threading.Event()
    worker = threading.Thread(target=svc.qa.run_periodically, args=(stop, 0.05), daemon=True)
    worker.start()
    try:
        deadline = threading.Event()
        for _ in range(200):  # wait for the score (up to 10 s), not for a fixed time
            if svc.qa.get(cid) is not None:
                break
            deadline.wait(0.05)
        assert svc.qa.get(cid) is not None
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()


def test_a_rubric_change_rescores_on_request_and_keeps_overrides(
    svc: Service, clock: Clock
) -> None:
    cid = chat(svc, "火星上有仓库吗")
    later(clock, 31)
    assert svc.qa.score_finished("demo") == 1
    before = svc.qa.get(cid)
    assert before is not None and not before.flagged and before.total == 92.5  # resolution 60
    svc.qa.override(cid, "greeting", 0, by="lead", note="模板问候不够热情")
    svc.tenants.set("demo", "qa.rubric", {"flag_below": 95})
    assert svc.qa.score_finished("demo") == 0  # a rubric change alone: only on request
    assert svc.qa.score_finished("demo", rescore=True) == 1
    after = svc.qa.get(cid)
    assert after is not None and after.rubric_hash != before.rubric_hash
    assert after.flagged and after.score_of("greeting") == 0
    assert [r["code"] for r in after.reasons] == ["total_below"]
    assert svc.qa.score_finished("demo", rescore=True) == 0


def test_concurrent_runs_store_each_score_once(
    config: Config, clock: Clock, index_cache: FaqIndexCache
) -> None:
    import threading

    services = [
        build_service(config, embedder=None, clock=clock, index_cache=index_cache) for _ in range(2)
    ]
    try:
        services[0].tenants.create("demo", {"level": "L1"})
        ids = [chat(services[0], "你好") for _ in range(12)]
        later(clock, 31)
        for s in services:
            s.qa._batch = 4
        errors: list[BaseException] = []

        def run(s: Service) -> None:
            try:
                s.qa.score_finished("demo")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(s,)) for s in services]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        items, total = services[0].qa.list("demo", limit=100)
        assert total == 12 and sorted(r.conversation_id for r in items) == sorted(ids)
    finally:
        for s in services:
            s.close()
