"""Unanswered-question mining: which customer messages count, and the clustering."""

from __future__ import annotations

import numpy as np

from kefu.domain.conversation import (
    AGENT_MESSAGE,
    BOT_REPLY,
    CSAT,
    CUSTOMER_MESSAGE,
    HANDOFF_REQUESTED,
    Event,
)
from kefu.quality import mining


class Log:
    """Builds one conversation's events."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, type_: str, actor: str, text: str | None = None, **payload: object) -> Log:
        self.events.append(Event(len(self.events) + 1, type_, actor, text, dict(payload)))
        return self

    def turn(self, text: str, decision: str, confidence: float = 0.0, lang: str = "zh") -> Log:
        self.add(CUSTOMER_MESSAGE, "customer", text)
        return self.add(
            BOT_REPLY, "bot", "…", decision=decision, confidence=confidence, language=lang
        )


def found(log: Log, threshold: float = 0.7) -> list[tuple[str, str]]:
    return [(u.text, u.reason) for u in mining.unanswered("c1", log.events, threshold)]


def test_fallback_clarify_low_confidence_and_handoff_count_good_answers_do_not() -> None:
    log = (
        Log()
        .turn("你们开不开专票", "fallback", 0.1)
        .turn("新疆可以发货吗", "clarify", 0.5)
        .turn("发票抬头写错了怎么改", "answer", 0.62)
        .turn("运费怎么算", "answer", 0.99)
        .turn("你们的快递员态度太差了", "handoff", 1.0)
        .turn("帮我查一下订单", "flow", 1.0)
    )
    assert found(log) == [
        ("你们开不开专票", "fallback"),
        ("新疆可以发货吗", "clarify"),
        ("发票抬头写错了怎么改", "low_confidence"),
        ("你们的快递员态度太差了", "handoff"),
    ]
    # The tenant's threshold decides what "low" is.
    assert ("发票抬头写错了怎么改", "low_confidence") not in found(log, threshold=0.6)


def test_small_talk_handoff_requests_and_short_texts_are_skipped() -> None:
    log = (
        Log()
        .turn("你好", "fallback")
        .turn("谢谢", "fallback")
        .turn("转人工", "fallback")
        .turn("专票", "fallback")
        .turn("ok then", "fallback", lang="en")
        .turn("你好，请问可以开专票吗", "fallback")
    )
    items = mining.unanswered("c1", log.events, 0.7)
    assert [(u.text, u.norm) for u in items] == [("你好，请问可以开专票吗", "可以开专票吗")]


def test_a_confident_answer_followed_by_a_handoff_counts() -> None:
    asked_for_human = Log().turn("do you ship to Canada", "answer", 0.99, "en")
    asked_for_human.turn("转人工", "handoff", 1.0)
    assert found(asked_for_human) == [("do you ship to Canada", "handed_off")]

    desk_handoff = Log().turn("do you ship to Canada", "answer", 0.99, "en")
    desk_handoff.add(HANDOFF_REQUESTED, "system", None, handoff_id=1)
    assert found(desk_handoff) == [("do you ship to Canada", "handed_off")]

    # ... but not when the customer moved on to another question first (that one counts).
    moved_on = Log().turn("do you ship to Canada", "answer", 0.99, "en")
    moved_on.turn("How much is shipping to Toronto?", "answer", 0.99, "en")
    moved_on.turn("转人工", "handoff", 1.0)
    assert found(moved_on) == [("How much is shipping to Toronto?", "handed_off")]


def test_a_bad_rating_marks_the_answers_of_the_conversation() -> None:
    log = Log().turn("do you ship to Canada", "answer", 0.99, "en")
    log.add(CSAT, "customer", None, score=1)
    assert found(log) == [("do you ship to Canada", "bad_rating")]
    good = Log().turn("do you ship to Canada", "answer", 0.99, "en")
    good.add(CSAT, "customer", None, score=5)
    assert found(good) == []


def test_personal_data_is_masked_or_the_message_dropped() -> None:
    log = (
        Log()
        .turn("我的手机是13800138000，邮箱 a.b@qq.com", "fallback")
        .turn("你们开不开专票？我电话13800138000", "fallback")
    )
    log.add(AGENT_MESSAGE, "agent", "可以开，打 13900139000 找财务", agent="小王")
    items = mining.unanswered("c1", log.events, 0.7)
    assert [(u.text, u.norm) for u in items] == [
        ("你们开不开专票？我电话[PHONE]", "你们开不开专票 我电话")
    ]
    assert items[0].agent_answer == "可以开，打 [PHONE] 找财务"


def test_an_agent_reply_is_the_answer_of_the_question_before_it() -> None:
    log = Log().turn("可以开专票吗", "fallback").turn("转人工", "handoff", 1.0)
    log.add(AGENT_MESSAGE, "agent", "可以开专票", agent="小王")
    assert [u.agent_answer for u in mining.unanswered("c", log.events, 0.7)] == ["可以开专票"]
    # A reply after a later question answers that one.
    later = Log().turn("可以开专票吗", "fallback").turn("新疆能发货吗", "fallback")
    later.add(AGENT_MESSAGE, "agent", "新疆可以发", agent="小王")
    answers = [u.agent_answer for u in mining.unanswered("c", later.events, 0.7)]
    assert answers == [None, "新疆可以发"]


def test_deduplicate_counts_repeats_and_keeps_conversations() -> None:
    items = [
        mining.Unanswered("可以开专票吗？", "可以开专票吗", "zh", "c1", "fallback"),
        mining.Unanswered("可以开专票吗", "可以开专票吗", "zh", "c2", "clarify", "可以"),
        mining.Unanswered("可以开专票吗", "可以开专票吗", "zh", "c2", "fallback"),
        mining.Unanswered("do you ship to Canada", "do you ship to canada", "en", "c3", "handoff"),
    ]
    qs = mining.deduplicate(items)
    assert [(q.norm, q.count, q.conversations, q.agent_answers) for q in qs] == [
        ("可以开专票吗", 3, ["c1", "c2"], ["可以"]),
        ("do you ship to canada", 1, ["c3"], []),
    ]


def unit(rows: list[list[float]]) -> mining.Matrix:
    m = np.asarray(rows, dtype=np.float32)
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def test_cluster_groups_by_average_linkage_and_drops_singletons() -> None:
    v = unit([[1, 0, 0], [0.95, 0.3, 0], [0.9, 0.1, 0.1], [0, 1, 0], [0, 0.97, 0.2], [0, 0, 1]])
    assert mining.cluster(v, 0.9) == [[0, 1, 2], [3, 4]]
    assert mining.cluster(v, 0.999) == []
    assert mining.cluster(v[:1], 0.5) == []


def test_average_linkage_does_not_chain() -> None:
    # a~b and b~c are above the threshold, a~c far below: single linkage would chain all
    # three; average linkage keeps c out (its mean similarity to {a, b} is too low).
    angles = np.radians([0.0, 20.0, 40.0])
    v = unit([[float(np.cos(a)), float(np.sin(a))] for a in angles])
    assert mining.cluster(v, float(np.cos(np.radians(21)))) == [[0, 1]]


def test_medoid_is_the_most_central_member() -> None:
    v = unit([[1, 0.3], [1, 0], [1, -0.3], [0, 1]])
    assert mining.medoid(v, [0, 1, 2]) == 1


def test_lexical_vectors_separate_paraphrase_families() -> None:
    texts = [
        "可以开专票吗",
        "专票怎么开",
        "你们开不开专票",
        "支持货到付款吗",
        "可以货到付款吗",
        "今天天气怎么样",
    ]
    vectors, faq = mining.lexical_vectors(texts, ["怎么开发票", "运费怎么算"])
    assert faq.shape == (2, vectors.shape[1])
    assert mining.cluster(vectors, mining.LEXICAL_THRESHOLD) == [[0, 1, 2], [3, 4]]


def test_cluster_key_is_stable_and_order_free() -> None:
    a = mining.cluster_key("zh", ["可以开专票吗", "专票怎么开"])
    assert a == mining.cluster_key("zh", ["专票怎么开", "可以开专票吗", "专票怎么开"])
    assert a != mining.cluster_key("en", ["可以开专票吗", "专票怎么开"])
    assert len(a) == 64


def brute_force(v: mining.Matrix, threshold: float) -> list[list[int]]:
    """Average linkage by the book: merge the most similar pair of groups, recompute."""
    groups = [[i] for i in range(len(v))]
    sims = (v @ v.T).astype(np.float64)
    while True:
        best, pair = -np.inf, (0, 0)
        for x in range(len(groups)):
            for y in range(x + 1, len(groups)):
                s = float(sims[np.ix_(groups[x], groups[y])].mean())
                if s > best:
                    best, pair = s, (x, y)
        if len(groups) < 2 or best < threshold:
            break
        x, y = pair
        groups[x] += groups.pop(y)
    out = [sorted(g) for g in groups if len(g) >= 2]
    return sorted(out, key=lambda g: (-len(g), g[0]))


def test_cluster_matches_the_textbook_algorithm() -> None:
    rng = np.random.default_rng(7)
    topics = rng.normal(size=(8, 32))
    rows = [t + rng.normal(scale=0.7, size=(5, 32)) for t in topics] + [rng.normal(size=(20, 32))]
    v = unit(np.concatenate(rows).tolist())
    for threshold in (0.3, 0.45, 0.6):
        assert mining.cluster(v, threshold) == brute_force(v, threshold)
    assert len(mining.cluster(v, 0.45)) >= 5


def test_questions_differing_only_in_numbers_are_one() -> None:
    log = (
        Log()
        .turn("订单里第3号商品的编码1234是什么意思", "fallback")
        .turn("订单里第7号商品的编码98.5是什么意思", "fallback")
    )
    items = mining.unanswered("c1", log.events, 0.7)
    assert len({u.norm for u in items}) == 1
    [q] = mining.deduplicate(items)
    assert (q.text, q.count) == ("订单里第3号商品的编码1234是什么意思", 2)


def test_one_question_in_two_wordings_makes_a_group_one_wording_does_not() -> None:
    items = [
        mining.Unanswered("第3号商品编码是什么", "第0号商品编码是什么", "zh", "c1", "fallback"),
        mining.Unanswered("第7号商品编码是什么", "第0号商品编码是什么", "zh", "c2", "fallback"),
        mining.Unanswered("今天天气怎么样", "今天天气怎么样", "zh", "c3", "fallback"),
        mining.Unanswered("今天天气怎么样", "今天天气怎么样", "zh", "c4", "fallback"),
    ]
    qs = mining.deduplicate(items)
    assert [q.variants for q in qs] == [
        ["第3号商品编码是什么", "第7号商品编码是什么"],
        ["今天天气怎么样"],
    ]
    vectors = unit([[1, 0], [0, 1]])
    assert mining.draft_groups(vectors, qs, 0.9) == [[0]]
