"""Emotion estimate (cues, negation, neutral questions) and the tracker across turns."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kefu.understanding.emotion import (
    NEUTRAL,
    EmotionEstimate,
    EmotionState,
    EmotionTracker,
    Label,
    estimate,
    warm_up,
)
from kefu.understanding.emotion_lexicon import TABLES, lexicon, parse_lexicon

DATA = Path(__file__).resolve().parent.parent / "benchmarks" / "data"

# --- cues, one Chinese and one English example each ------------------------------------------

CUES = [
    ("complaint_threat", "zh", "再拖着不处理，我就去投诉你们"),
    ("complaint_threat", "en", "I am going to file a formal complaint about this"),
    ("regulator_12315", "zh", "不退款的话我直接打12315"),
    ("regulator_12315", "zh", "我要去消费者协会反映"),
    ("regulator_12315", "en", "Expect a report to the Better Business Bureau"),
    ("bad_review_threat", "zh", "不给解决就差评"),
    ("bad_review_threat", "en", "Fix it or I'm leaving a one-star review"),
    ("legal_threat", "zh", "我会让律师联系你们"),
    ("legal_threat", "en", "I will take legal action"),
    ("chargeback_threat", "en", "I'm going to dispute the charge"),
    ("public_exposure", "zh", "我要把这件事曝光出去"),
    ("public_exposure", "en", "Everyone on social media will hear about this"),
    ("profanity", "zh", "他妈的又没到"),
    ("profanity", "en", "wtf is wrong with your delivery"),
    ("insult", "zh", "一群骗子"),
    ("insult", "en", "you are all completely useless"),
    ("all_caps", "en", "I WANT A REFUND TODAY"),
    ("exclamations", "zh", "包装全压扁了，太差了！！"),
    ("exclamations", "en", "This is terrible!!!"),
    ("question_marks", "zh", "人呢？？？怎么没人回复"),
    ("question_marks", "en", "where is everyone??"),
    ("repeated_contact", "zh", "同一个问题我问了五遍了"),
    ("repeated_contact", "en", "I have emailed you five times about this"),
    ("waiting_long", "zh", "等了一个多月了还没收到"),
    ("waiting_long", "en", "I've been waiting for six weeks"),
    ("urgent_words", "zh", "急用，麻烦今天就发出"),
    ("urgent_words", "en", "Please send it ASAP"),
    ("sarcasm", "zh", "呵呵，服务真周到"),
    ("sarcasm", "en", "Thanks for nothing, really"),
    ("angry_words", "zh", "我现在非常生气"),
    ("angry_words", "en", "I am furious about this"),
]


@pytest.mark.parametrize(("cue", "language", "text"), CUES)
def test_cue_fires(cue: str, language: str, text: str) -> None:
    e = estimate(text, language)
    assert cue in e.cues, (text, e)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("zh", "再拖着不处理，我就去投诉你们"),
        ("zh", "不退款的话我直接打12315"),
        ("en", "I will take legal action"),
        ("en", "Thanks for nothing, really"),
    ],
)
def test_threats_and_shouting_are_negative_and_angry(language: str, text: str) -> None:
    e = estimate(text, language)
    assert e.label == "negative" and e.angry, (text, e)


def test_shouting_is_negative_and_near_angry() -> None:
    e = estimate("I WANT A REFUND TODAY", "en")
    assert e.label == "negative" and e.urgent and e.anger >= 0.4  # anger 0.45 from caps alone
    assert estimate("WHY IS NOBODY ANSWERING, RIDICULOUS", "en").angry  # caps + another cue
    assert estimate("AMAZING!!!", "en").label == "positive"  # caps amplify, not decide


def test_repeated_question_uses_earlier_customer_messages() -> None:
    earlier = ["我的包裹到哪里了", "请问包裹到哪了"]
    alone = estimate("我的包裹到底到哪里了", "zh")
    again = estimate("我的包裹到底到哪里了", "zh", earlier)
    assert "repeated_question" not in alone.cues
    assert "repeated_question" in again.cues and again.label == "negative"
    assert again.anger >= 0.4  # twice repeated: near the angry line; one more cue crosses it
    en = estimate("when do I get my money back", "en", ["When will I get my money back?"] * 2)
    assert "repeated_question" in en.cues
    unrelated = estimate("Do you ship to Norway?", "en", ["Is the jacket waterproof?"])
    assert "repeated_question" not in unrelated.cues


def test_repeated_contact_is_negative() -> None:
    e = estimate("同一个问题我问了五遍了", "zh")
    assert e.label == "negative" and "repeated_contact" in e.cues and e.anger >= 0.4


def test_urgency_without_displeasure_is_neutral() -> None:
    for text, language in [
        ("急用，能加急发出吗", "zh"),
        ("I need this before Saturday, can you expedite?", "en"),
    ]:
        e = estimate(text, language)
        assert e.urgent and e.label == "neutral" and not e.angry, (text, e)


# --- negation and intensifiers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "label"),
    [
        ("zh", "满意", "positive"),
        ("zh", "不满意", "negative"),
        ("zh", "不是很满意", "negative"),
        ("zh", "不错", "positive"),
        ("zh", "挺不错的", "positive"),
        ("zh", "不太好用", "negative"),
        ("zh", "不喜欢这个颜色", "negative"),
        ("zh", "没毛病", "positive"),
        ("en", "happy with it", "positive"),
        ("en", "not happy with it", "negative"),
        ("en", "not bad at all", "positive"),
        ("en", "I don't like the fabric", "negative"),
        ("en", "couldn't be happier", "positive"),
    ],
)
def test_negation_flips_polarity(language: str, text: str, label: str) -> None:
    assert estimate(text, language).label == label, text


def test_negated_complaint_and_urgency() -> None:
    assert estimate("没有异味", "zh").score > 0  # a negated fault is mildly good
    assert not estimate("不急，慢慢发", "zh").urgent
    assert estimate("no rush at all", "en").urgency < 0.5
    # A-not-A questions and 不然 do not negate: still complaints and threats.
    assert estimate("能不能别再敷衍了", "zh").label == "negative"
    assert "legal_threat" in estimate("快点处理，不然我报警", "zh").cues


def test_intensifier_strengthens() -> None:
    assert estimate("太失望了", "zh").score < estimate("失望", "zh").score
    assert estimate("very disappointed", "en").score < estimate("disappointed", "en").score


def test_contrast_weighs_the_second_half() -> None:
    # Equal-strength praise then complaint leans to the complaint (label may stay neutral).
    assert estimate("东西挺好，但是物流太慢了", "zh").score < 0
    assert estimate("物流太慢，但是东西挺好", "zh").score > 0
    assert estimate("The fabric is okay but delivery was a nightmare", "en").label == "negative"


# --- neutral stays neutral --------------------------------------------------------------------

NEUTRAL_TEXTS = [
    ("zh", "退货地址是哪里"),
    ("zh", "快递还没到，请帮我查一下"),
    ("zh", "请问怎么投诉快递员"),
    ("zh", "差评可以修改吗"),
    ("zh", "不好意思，地址填错了，能改吗"),
    ("zh", "一般几天发货"),
    ("zh", "有质量问题的话怎么退"),
    ("zh", "收到的盘子裂了一个，麻烦补发"),
    ("zh", "優惠券怎麼用"),
    ("zh", "这个size有货吗"),
    ("zh", "我的order显示已签收，但没收到，帮忙看看"),
    ("en", "What is the warranty period?"),
    ("en", "My parcel hasn't arrived yet, could you check please?"),
    ("en", "How do I complain about a courier?"),
    ("en", "Could you send me the invoice?"),
    ("en", "The lid was missing, can you send one?"),
    ("en", "Quick question: do you ship to Ireland?"),
    ("en", "ok"),
]


@pytest.mark.parametrize(("language", "text"), NEUTRAL_TEXTS)
def test_neutral_questions_and_polite_reports(language: str, text: str) -> None:
    e = estimate(text, language)
    assert e.label == "neutral" and not e.angry, (text, e)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("zh", "收到了，质量很好，谢谢"),
        ("zh", "客服很耐心，点赞👍"),
        ("zh", "東西很好，下次還來"),
        ("en", "Arrived quickly, love it"),
        ("en", "Thank you so much, very helpful"),
    ],
)
def test_praise_is_positive(language: str, text: str) -> None:
    assert estimate(text, language).label == "positive", text


def test_mixed_language_and_full_width() -> None:
    assert estimate("我的order一直没到，太慢了", "zh").label == "negative"
    assert estimate("ＷＨＥＲＥ ＩＳ ＭＹ ＯＲＤＥＲ", "en").label == "negative"
    assert estimate("質量太差了", "zh").label == "negative"  # traditional script


def test_empty_and_odd_input() -> None:
    assert estimate("", "zh") == NEUTRAL
    assert estimate("   ", "en") == NEUTRAL
    assert estimate("12345", "zh").label == "neutral"
    assert estimate("😡😡", "zh").label == "negative"
    assert estimate("👍", "xx").label == "positive"  # unknown language still works


# --- serialisation ----------------------------------------------------------------------------


def test_estimate_round_trips_through_json() -> None:
    e = estimate("我要投诉！！太差了", "zh")
    back = EmotionEstimate.from_dict(json.loads(json.dumps(e.to_dict())))
    assert back == e
    assert -1 <= e.score <= 1 and 0 <= e.anger <= 1 and 0 <= e.urgency <= 1
    assert list(e.cues) == sorted(e.cues)


def test_estimate_from_dict_validates() -> None:
    assert EmotionEstimate.from_dict({}) == NEUTRAL
    assert EmotionEstimate.from_dict({"score": -3}).score == -1.0
    with pytest.raises(ValueError):
        EmotionEstimate.from_dict({"label": "furious"})
    with pytest.raises(ValueError):
        EmotionEstimate.from_dict({"anger": "high"})
    with pytest.raises(ValueError):
        EmotionEstimate.from_dict({"cues": "sarcasm"})


# --- tracker ----------------------------------------------------------------------------------


def turn(score: float, anger: float = 0.0, cues: tuple[str, ...] = ()) -> EmotionEstimate:
    label: Label = "negative" if score <= -0.4 else "positive" if score >= 0.4 else "neutral"
    return EmotionEstimate(label=label, score=score, anger=anger, cues=cues)


def test_tracker_smooths_exponentially() -> None:
    tracker = EmotionTracker(alpha=0.5)
    assert tracker.update(turn(-0.8)).smoothed == pytest.approx(-0.4)
    assert tracker.update(turn(-0.8)).smoothed == pytest.approx(-0.6)
    state = tracker.update(turn(0.8))
    assert state.smoothed == pytest.approx(0.1)
    assert state.turns == 3 and state.negative_streak == 0 and state.negativity == 0.0
    assert EmotionTracker(alpha=1.0).update(turn(-0.7)).smoothed == pytest.approx(-0.7)


def test_tracker_peak_anger_and_streak() -> None:
    tracker = EmotionTracker()
    for s, a in [(-0.5, 0.2), (-0.6, 0.7), (-0.5, 0.1)]:
        state = tracker.update(turn(s, a))
    assert state.peak_anger == 0.7 and state.negative_streak == 3


def test_escalation_on_smoothed_negativity() -> None:
    tracker = EmotionTracker(alpha=0.5)
    tracker.update(turn(-0.8))  # smoothed -0.4
    assert tracker.escalation(0.5, "offer_human") is None
    tracker.update(turn(-0.8))  # smoothed -0.6
    assert tracker.escalation_reason(0.5) == "smoothed"
    assert tracker.escalation(0.5, "offer_human") == "offer_human"
    assert tracker.escalation(0.5, "handoff") == "handoff"
    assert tracker.escalation(0.5, "off") is None
    assert tracker.escalation(0.7, "handoff") is None  # a higher tenant threshold
    tracker.update(turn(0.9))  # the customer calms down: smoothed 0.15
    assert tracker.escalation(0.5, "handoff") is None


def test_escalation_on_hard_cue_at_once() -> None:
    tracker = EmotionTracker()
    tracker.update(estimate("不给退款我就打12315", "zh"))
    assert tracker.escalation_reason(0.99) == "hard_cue:regulator_12315"
    assert tracker.escalation(0.99, "handoff") == "handoff"


def test_threat_escalates_only_when_angry() -> None:
    calm = EmotionTracker()
    calm.update(turn(-0.5, 0.3, ("complaint_threat",)))
    assert calm.escalation(0.9, "offer_human") is None
    angry = EmotionTracker()
    angry.update(turn(-0.5, 0.6, ("complaint_threat",)))
    assert angry.escalation_reason(0.9) == "threat:complaint_threat"


def test_escalation_on_negative_streak() -> None:
    tracker = EmotionTracker(alpha=0.2, streak_limit=3)
    for _ in range(2):
        tracker.update(turn(-0.45))
    assert tracker.escalation(0.9, "offer_human") is None
    tracker.update(turn(-0.45))
    assert tracker.escalation_reason(0.9) == "streak"
    assert (
        EmotionTracker(alpha=0.2, streak_limit=0, state=tracker.state).escalation_reason(0.9)
        is None
    )


def test_escalation_validates_mode_and_alpha() -> None:
    with pytest.raises(ValueError):
        EmotionTracker().escalation(0.5, "panic")
    with pytest.raises(ValueError):
        EmotionTracker(alpha=0.0)


def test_tracker_state_round_trips_through_json() -> None:
    tracker = EmotionTracker(alpha=0.3, streak_limit=4)
    for text in ["快递怎么还没到", "都一个星期了！！", "我要投诉"]:
        tracker.update(estimate(text, "zh"))
    restored = EmotionTracker.from_dict(json.loads(json.dumps(tracker.to_dict())))
    assert restored == tracker
    assert EmotionState.from_dict(json.loads(json.dumps(tracker.state.to_dict()))) == tracker.state
    nxt = estimate("算了", "zh")
    assert restored.update(nxt) == tracker.update(nxt)
    assert EmotionTracker.from_dict({}) == EmotionTracker()
    with pytest.raises(ValueError):
        EmotionState.from_dict({"turns": -1})


# --- lexicons, loading, speed, data -----------------------------------------------------------


def test_packaged_lexicons_parse() -> None:
    for name in TABLES:
        table = lexicon(name)
        assert table.terms or table.regexes


def test_bad_lexicon_row_names_the_line() -> None:
    with pytest.raises(ValueError, match="line 2"):
        parse_lexicon("zh", "好\t0.5\t0\t0\n坏\tvery\t0\t0\n", whole_words=False)
    with pytest.raises(ValueError, match="out of range"):
        parse_lexicon("zh", "好\t0.5\t2\t0\n", whole_words=False)


def test_import_does_no_work() -> None:
    code = (
        "import sys, kefu.understanding.emotion as e; "
        "print(sorted(m for m in ('snownlp', 'jieba', 'opencc') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_fast_after_warm_up() -> None:
    warm_up()
    texts = [f"第{i}次问了，订单{i}到底什么时候发货？？" for i in range(100)]
    texts += [f"Order {i} still hasn't arrived, this is ridiculous" for i in range(100)]
    started = time.perf_counter()
    for t in texts:
        estimate(t, "zh", ["订单什么时候发货"])
    assert (time.perf_counter() - started) / len(texts) < 0.005


@pytest.mark.parametrize(("split", "minimum"), [("dev", 150), ("heldout", 300)])
def test_labelled_data_schema(split: str, minimum: int) -> None:
    lines = (DATA / f"emotion_{split}.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(x) for x in lines if x.strip()]
    assert len(rows) >= minimum
    for r in rows:
        assert set(r) <= {"text", "language", "label", "anger", "urgency", "previous"}
        assert r["language"] in ("zh", "en") and r["label"] in ("negative", "neutral", "positive")
        assert isinstance(r["anger"], bool) and isinstance(r["urgency"], bool)
    dev = {json.loads(x)["text"] for x in (DATA / "emotion_dev.jsonl").open(encoding="utf-8")}
    held = {json.loads(x)["text"] for x in (DATA / "emotion_heldout.jsonl").open(encoding="utf-8")}
    assert not dev & held
