"""Per-tenant settings of automated quality inspection (registered into
:data:`kefu.settings.SETTINGS`): the rubric (weights, pass marks, the flag rule), when a
conversation counts as finished, and the word lists the text checks use.

:class:`QaConfig` is one tenant's resolved view of them. Its :attr:`QaConfig.hash` names the
rubric version a score was computed under, so a changed rubric can be told from a current one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kefu.errors import SettingError
from kefu.settings import Setting

if TYPE_CHECKING:  # kefu.settings imports this module while it is being built
    from kefu.settings import TenantSettings

#: Bumped when a scorer's rules change, so stored scores show which rules made them.
SCORER_VERSION = "1"

#: The dimensions every finished conversation is scored on, in display order.
DIMENSIONS: tuple[str, ...] = (
    "greeting",
    "politeness",
    "correctness",
    "resolution",
    "compliance",
    "pii",
    "emotion",
    "response_time",
    "transfer",
)

#: Display names (zh, en) of the dimensions.
DIMENSION_NAMES: dict[str, tuple[str, str]] = {
    "greeting": ("问候", "greeting"),
    "politeness": ("礼貌用语", "politeness"),
    "correctness": ("回答正确性", "answer correctness"),
    "resolution": ("问题解决", "resolution"),
    "compliance": ("合规承诺", "compliance"),
    "pii": ("隐私保护", "personal data"),
    "emotion": ("情绪安抚", "emotion handling"),
    "response_time": ("响应时效", "response time"),
    "transfer": ("转人工处理", "transfer handling"),
}

DEFAULT_WEIGHTS: dict[str, float] = {
    "greeting": 5,
    "politeness": 15,
    "correctness": 20,
    "resolution": 15,
    "compliance": 15,
    "pii": 10,
    "emotion": 10,
    "response_time": 5,
    "transfer": 5,
}
# A dimension below its minimum flags the conversation, whatever the total.
DEFAULT_MINIMUMS: dict[str, float] = {
    "greeting": 0,
    "politeness": 60,
    "correctness": 50,
    "resolution": 0,
    "compliance": 60,
    "pii": 100,
    "emotion": 50,
    "response_time": 50,
    "transfer": 50,
}
DEFAULT_FLAG_BELOW = 80.0

DEFAULT_FORBIDDEN_WORDS: list[str] = [
    "滚",
    "你自己看",
    "自己看去",
    "不知道",
    "爱买不买",
    "爱要不要",
    "关我什么事",
    "关我屁事",
    "不归我管",
    "你有病",
    "神经病",
    "白痴",
    "傻逼",
    "笨蛋",
    "闭嘴",
    "少废话",
    "随便你",
    "stupid",
    "idiot",
    "dumb",
    "shut up",
    "not my problem",
    "go away",
]

DEFAULT_PROMISES: dict[str, list[str]] = {
    # always a promise beyond policy, wherever it appears
    "always": [
        "全额赔偿",
        "双倍赔偿",
        "三倍赔偿",
        "十倍赔偿",
        "假一赔十",
        "无条件退款",
        "无条件赔偿",
        "包赔",
        "full compensation",
        "double refund",
        "unconditional refund",
        "money-back guarantee",
    ],
    # a promise word in the same sentence as a money word
    "promises": [
        "保证",
        "一定",
        "肯定",
        "绝对",
        "承诺",
        "百分之百",
        "100%",
        "双倍",
        "guarantee",
        "definitely",
        "promise",
        "certainly",
        "absolutely",
    ],
    "money": [
        "退款",
        "退钱",
        "退货",
        "赔偿",
        "补偿",
        "赔付",
        "返现",
        "退还",
        "refund",
        "compensat",
        "reimburs",
        "money back",
        "cashback",
    ],
}


@dataclass(frozen=True)
class Rubric:
    """Weights of the dimensions in the total, each dimension's pass mark (minimum) and the
    total below which a conversation is flagged."""

    weights: Mapping[str, float]
    minimums: Mapping[str, float]
    flag_below: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": dict(self.weights),
            "minimums": dict(self.minimums),
            "flag_below": self.flag_below,
        }

    @classmethod
    def parse(cls, value: Any) -> Rubric:
        """A rubric from the setting's JSON: given keys over the defaults; ValueError naming
        the first problem (an unknown dimension, a weight below 0, a mark outside 0-100)."""
        if not isinstance(value, Mapping):
            raise ValueError('must be an object like {"weights": {...}, "minimums": {...}}')
        unknown = [k for k in value if k not in ("weights", "minimums", "flag_below")]
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} (use weights, minimums, flag_below)")
        weights = dict(DEFAULT_WEIGHTS)
        weights.update(_numbers(value.get("weights", {}), "weights", 0.0, 1000.0))
        minimums = dict(DEFAULT_MINIMUMS)
        minimums.update(_numbers(value.get("minimums", {}), "minimums", 0.0, 100.0))
        flag_below = value.get("flag_below", DEFAULT_FLAG_BELOW)
        if isinstance(flag_below, bool) or not isinstance(flag_below, int | float):
            raise ValueError("flag_below must be a number")
        if not 0 <= flag_below <= 100:
            raise ValueError("flag_below must be between 0 and 100")
        if not any(w > 0 for w in weights.values()):
            raise ValueError("at least one weight must be above 0")
        return cls(weights, minimums, float(flag_below))


def _numbers(value: Any, key: str, low: float, high: float) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} must be an object {{dimension: number}}")
    out: dict[str, float] = {}
    for name, number in value.items():
        if name not in DIMENSIONS:
            raise ValueError(f"unknown dimension {name!r} in {key} (use {', '.join(DIMENSIONS)})")
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ValueError(f"{key}.{name} must be a number")
        if not low <= number <= high:
            raise ValueError(f"{key}.{name} must be between {low:g} and {high:g}")
        out[name] = float(number)
    return out


def _word_list(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise ValueError("must be a JSON list of strings")
    words = [w.strip() for w in value if w.strip()]
    if any(len(w) > 100 for w in words):
        raise ValueError("each word or phrase must be at most 100 characters")
    return words


def _promises(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, Mapping):
        raise ValueError(
            'must be an object like {"always": [...], "promises": [...], "money": [...]}'
        )
    unknown = [k for k in value if k not in DEFAULT_PROMISES]
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (use always, promises, money)")
    out = {k: list(v) for k, v in DEFAULT_PROMISES.items()}
    for key, words in value.items():
        try:
            out[key] = _word_list(words)
        except ValueError as exc:
            raise ValueError(f"{key} {exc}") from None
    return out


def _rubric(value: Any) -> Any:
    Rubric.parse(value)
    return value


def _forbidden(value: Any) -> Any:
    return _word_list(value)


def _promise_setting(value: Any) -> Any:
    _promises(value)
    return value


@dataclass(frozen=True)
class CheckedSetting(Setting):
    """A JSON setting whose contents are validated when it is set (not only its type)."""

    check: Callable[[Any], Any] | None = field(default=None, compare=False)

    def parse(self, raw: Any) -> Any:
        value = super().parse(raw)
        if self.check is None:
            return value
        try:
            return self.check(value)
        except ValueError as exc:
            raise SettingError(
                f"invalid value for setting {self.name!r}: {exc}", field=self.name
            ) from exc


SETTINGS: tuple[Setting, ...] = (
    CheckedSetting(
        "qa.rubric",
        {
            "weights": DEFAULT_WEIGHTS,
            "minimums": DEFAULT_MINIMUMS,
            "flag_below": DEFAULT_FLAG_BELOW,
        },
        'QA: the rubric, as JSON {"weights": {dimension: weight}, "minimums": {dimension: '
        'pass mark 0-100}, "flag_below": total}; missing keys keep the defaults. The total is '
        "the weighted mean of the dimensions that apply; a conversation is flagged when the "
        "total is below flag_below or any dimension is below its minimum. Dimensions: "
        + ", ".join(DIMENSIONS)
        + ".",
        "json",
        check=_rubric,
    ),
    Setting(
        "qa.idle_minutes",
        30,
        "QA: a conversation without a conversation_closed event is finished (and scored) when "
        "its last event is this many minutes old and no handoff is open.",
        "int",
        minimum=1,
        maximum=10080,
    ),
    CheckedSetting(
        "qa.forbidden_words",
        DEFAULT_FORBIDDEN_WORDS,
        "QA: words and phrases the bot and agents must never write (JSON list; matched "
        "case-insensitively, full- and half-width alike); each one found costs the politeness "
        "dimension 60 points.",
        "json",
        check=_forbidden,
    ),
    CheckedSetting(
        "qa.promise_phrases",
        DEFAULT_PROMISES,
        'QA: promises beyond policy, as JSON {"always": [phrases that always count], '
        '"promises": [words such as 保证, guarantee], "money": [words such as 退款, refund]}: '
        "an always phrase, or a promise word in the same sentence as a money word (not "
        "negated, as in 不保证), costs the compliance dimension 60 points. A bot answer that is "
        "the knowledge base's own text is the shop's policy and never counts. Missing keys keep "
        "the defaults.",
        "json",
        check=_promise_setting,
    ),
    Setting(
        "qa.agent_response_s",
        30.0,
        "QA: seconds within which an agent must send the first message after taking a "
        "conversation (and answer each later customer message); slower costs the "
        "response_time dimension.",
        "float",
        minimum=1.0,
        maximum=86400.0,
    ),
    Setting(
        "qa.transfer_sla_s",
        120.0,
        "QA: seconds within which a handoff requested in business hours must be taken by an "
        "agent (the transfer dimension).",
        "float",
        minimum=1.0,
        maximum=86400.0,
    ),
    Setting(
        "qa.emotion_window",
        2,
        "QA: replies (bot or agent) after an upset customer message within which an apology, "
        "an empathy phrase or a handoff must come (the emotion dimension).",
        "int",
        minimum=1,
        maximum=10,
    ),
)


@dataclass(frozen=True)
class QaConfig:
    """One tenant's QA settings, resolved and validated (a stored value that no longer
    validates falls back to the default rather than stopping every score)."""

    rubric: Rubric
    idle_minutes: int
    forbidden_words: tuple[str, ...]
    always: tuple[str, ...]
    promises: tuple[str, ...]
    money: tuple[str, ...]
    agent_response_s: float
    transfer_sla_s: float
    emotion_window: int
    answer_threshold: float

    @classmethod
    def of(cls, settings: TenantSettings) -> QaConfig:
        try:
            rubric = Rubric.parse(settings["qa.rubric"])
        except ValueError:
            rubric = Rubric.parse({})
        try:
            words = _word_list(settings["qa.forbidden_words"])
        except ValueError:
            words = list(DEFAULT_FORBIDDEN_WORDS)
        try:
            promises = _promises(settings["qa.promise_phrases"])
        except ValueError:
            promises = {k: list(v) for k, v in DEFAULT_PROMISES.items()}
        return cls(
            rubric=rubric,
            idle_minutes=int(settings["qa.idle_minutes"]),
            forbidden_words=tuple(words),
            always=tuple(promises["always"]),
            promises=tuple(promises["promises"]),
            money=tuple(promises["money"]),
            agent_response_s=float(settings["qa.agent_response_s"]),
            transfer_sla_s=float(settings["qa.transfer_sla_s"]),
            emotion_window=int(settings["qa.emotion_window"]),
            answer_threshold=float(settings["answer_threshold"]),
        )

    @property
    def hash(self) -> str:
        """The rubric version: a digest of everything that decides a score."""
        doc = {
            "scorer": SCORER_VERSION,
            "rubric": self.rubric.to_dict(),
            "forbidden": list(self.forbidden_words),
            "always": list(self.always),
            "promises": list(self.promises),
            "money": list(self.money),
            "agent_response_s": self.agent_response_s,
            "transfer_sla_s": self.transfer_sla_s,
            "emotion_window": self.emotion_window,
            "answer_threshold": self.answer_threshold,
        }
        raw = json.dumps(doc, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(raw).hexdigest()[:16]
