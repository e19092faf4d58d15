"""Per-tenant settings: one table of names, defaults and help texts.

The CLI (``kefu tenant set``), the API and ``docs/settings.md`` all read :data:`SETTINGS`, and a
test fails when a setting is missing from the docs. Values are stored per tenant as JSON; a tenant
without a stored value gets the default.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kefu.errors import SettingError

LEVELS = ("L1", "L2", "L3")
LANGUAGES = ("zh", "en")
_HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    # "choice", "float", "int", "text", "i18n", "hours", "days", "timezone", "prices", "json"
    kind: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, raw: Any) -> Any:
        """Validate (and coerce strings from the CLI) into the stored value."""
        value = raw
        try:
            if self.kind == "choice":
                value = str(raw).strip()
                if self.name == "level":
                    value = value.upper()
                if value not in self.choices:
                    raise ValueError(f"must be one of {', '.join(self.choices)}")
            elif self.kind in ("float", "int"):
                if isinstance(raw, bool):
                    raise ValueError("must be a number")
                value = float(raw) if self.kind == "float" else int(raw)
                if not math.isfinite(value):
                    raise ValueError("must be a finite number")
                if self.minimum is not None and value < self.minimum:
                    raise ValueError(f"must be >= {self.minimum:g}")
                if self.maximum is not None and value > self.maximum:
                    raise ValueError(f"must be <= {self.maximum:g}")
            elif self.kind == "text":
                value = str(raw)
            elif self.kind == "i18n":
                if isinstance(raw, str):
                    raw = json.loads(raw) if raw.strip().startswith("{") else {"zh": raw}
                if not isinstance(raw, Mapping) or not raw:
                    raise ValueError('must be an object like {"zh": "...", "en": "..."}')
                bad = [k for k in raw if k not in LANGUAGES]
                if bad:
                    raise ValueError(f"unknown language {bad[0]!r} (use zh, en)")
                value = {str(k): str(v) for k, v in raw.items()}
            elif self.kind == "prices":
                value = str(raw).strip()
                parse_prices(value)
            elif self.kind == "hours":
                value = str(raw).strip()
                if not _HOURS.match(value):
                    raise ValueError("must look like 09:00-21:00")
            elif self.kind == "days":
                items = raw if isinstance(raw, list) else str(raw).replace(" ", "").split(",")
                value = [str(d).lower() for d in items if str(d)]
                if not value or any(d not in _DAYS for d in value):
                    raise ValueError("must be a comma-separated list of mon,tue,...,sun")
            elif self.kind == "json":
                value = json.loads(raw) if isinstance(raw, str) else raw
                if not isinstance(value, dict | list):
                    raise ValueError("must be a JSON object or list")
                value = json.loads(json.dumps(value))  # plain JSON types only
            elif self.kind == "timezone":
                from zoneinfo import ZoneInfo

                value = str(raw).strip()
                ZoneInfo(value)
        except SettingError:
            raise
        except Exception as exc:  # any parse failure is the caller's bad value
            raise SettingError(
                f"invalid value for setting {self.name!r}: {exc}", field=self.name
            ) from exc
        return value


_PRICE = re.compile(r"^([^=\s,]+)\s*=\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)$")


def parse_prices(text: str) -> dict[str, dict[str, str]]:
    """``"deepseek-chat=2/8, qwen-*=0.8/2"`` -> ``{"deepseek-chat": {"input": "2", "output":
    "8"}, ...}`` (per 1M tokens); ValueError naming the bad entry."""
    out: dict[str, dict[str, str]] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        m = _PRICE.match(entry)
        if m is None:
            raise ValueError(f"price entry {entry!r} must look like MODEL=INPUT/OUTPUT, e.g. m=2/8")
        out[m[1]] = {"input": m[2], "output": m[3]}
    return out


def _i18n(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "level",
            "L1",
            "Service level: L1 answers FAQs; L2 adds dialogue, documents and "
            "read-only tasks; L3 adds write operations.",
            "choice",
            LEVELS,
        ),
        Setting(
            "language",
            "zh",
            "Default language when a message does not show one.",
            "choice",
            LANGUAGES,
        ),
        Setting("brand_name", "小铺优选", "Shop name used in templates as {brand}.", "text"),
        Setting(
            "currency_symbol",
            "¥",
            "Currency symbol before amounts in templates ({currency}); e.g. $ for a US shop.",
            "text",
        ),
        Setting(
            "answer_threshold",
            0.70,
            "Calibrated confidence at or above which the bot answers directly.",
            "float",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "clarify_threshold",
            0.30,
            "Confidence at or above which (and below "
            "answer_threshold) the bot asks 'did you mean' with up to three suggestions; "
            "below it the question is treated as out of scope.",
            "float",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "handoff_after_failures",
            2,
            "Consecutive out-of-scope turns after which the bot "
            "hands off to a human instead of apologising again (0 disables).",
            "int",
            minimum=0,
            maximum=20,
        ),
        Setting(
            "max_message_chars",
            2000,
            "Longest customer message accepted, in characters.",
            "int",
            minimum=1,
            maximum=100_000,
        ),
        Setting(
            "transcript_pii",
            "keep",
            "Stored transcripts: keep stores messages as written; mask replaces phone numbers, "
            "ID-card and bank-card numbers, e-mails, street addresses and shop customers' names "
            "with placeholders ([PHONE_1]) in stored customer messages and bot replies (the "
            "current turn is still understood from the original text).",
            "choice",
            ("keep", "mask"),
        ),
        Setting(
            "business_hours",
            "09:00-21:00",
            "Hours when human agents are available (HH:MM-HH:MM, tenant time zone).",
            "hours",
        ),
        Setting(
            "business_days",
            ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "Days when human agents are available.",
            "days",
        ),
        Setting("timezone", "Asia/Shanghai", "IANA time zone of the shop.", "timezone"),
        Setting(
            "max_slot_retries",
            2,
            "L2: times a missing or rejected value is asked for again (with the reason) "
            "before the bot hands off.",
            "int",
            minimum=0,
            maximum=10,
        ),
        Setting(
            "flow_step_cap",
            50,
            "L2: most flow steps executed in one turn; a flow that loops ends here with a handoff.",
            "int",
            minimum=5,
            maximum=1000,
        ),
        Setting(
            "return_window_days",
            7,
            "L2: days after delivery during which an item can be returned or exchanged "
            "without a reason (七天无理由).",
            "int",
            minimum=0,
            maximum=365,
        ),
        Setting(
            "delivery_promise_days",
            4,
            "L3: an order not delivered this many days after it was placed is late: the "
            "delay_compensation flow offers the shop's delay coupon (a coupon template allowing "
            "delay_compensation); 0 turns it off.",
            "int",
            minimum=0,
            maximum=365,
        ),
        Setting(
            "price_protection_days",
            7,
            "L3: days after an order is placed during which a price drop of its items is "
            "refunded on request (价保, the price_protection flow); 0 turns it off.",
            "int",
            minimum=0,
            maximum=365,
        ),
        Setting(
            "doc_answer_threshold",
            0.5,
            "L2: calibrated confidence at or above which a document passage is quoted as the "
            "answer (documents and FAQ compete on confidence).",
            "float",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "emotion_escalation",
            "offer_human",
            "L2: what the bot does when the customer's frustration crosses "
            "emotion_threshold (or a hard cue such as 12315 appears): off, offer_human "
            "(offer a human and carry on) or handoff.",
            "choice",
            ("off", "offer_human", "handoff"),
        ),
        Setting(
            "emotion_threshold",
            0.6,
            "L2: smoothed negativity (0-1) at which emotion_escalation applies.",
            "float",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "llm_base_url",
            "",
            "LLM: OpenAI-compatible endpoint for this tenant (e.g. https://api.deepseek.com/v1); "
            "empty uses KEFU_LLM_BASE_URL. The API key is read from KEFU_LLM_API_KEY only.",
            "text",
        ),
        Setting(
            "llm_model",
            "",
            "LLM: model name at that endpoint; empty uses KEFU_LLM_MODEL.",
            "text",
        ),
        Setting(
            "llm_fallback_models",
            "",
            "LLM: comma-separated models at the same endpoint tried in order when the model "
            "fails; after the last one the offline engine answers.",
            "text",
        ),
        Setting(
            "llm_timeout_s",
            8.0,
            "LLM: deadline for one call, retries included; past it the offline engine answers.",
            "float",
            minimum=0.5,
            maximum=120.0,
        ),
        Setting(
            "llm_max_calls_per_turn",
            2,
            "LLM: at most this many LLM calls in one turn (0 switches the LLM off).",
            "int",
            minimum=0,
            maximum=5,
        ),
        Setting(
            "llm_breaker_failures",
            5,
            "LLM: consecutive provider failures (timeouts, 429, 5xx, garbage) that open the "
            "circuit breaker for a model.",
            "int",
            minimum=1,
            maximum=100,
        ),
        Setting(
            "llm_breaker_cool_down_s",
            30.0,
            "LLM: seconds an open circuit breaker waits before one trial call.",
            "float",
            minimum=1.0,
            maximum=3600.0,
        ),
        Setting(
            "llm_prices",
            "",
            "LLM: prices per 1M tokens as MODEL=INPUT/OUTPUT, comma-separated (a trailing * "
            "matches a prefix), e.g. deepseek-chat=2/8, qwen-*=0.8/2; in llm_currency.",
            "prices",
        ),
        Setting(
            "llm_currency",
            "CNY",
            "LLM: currency of llm_prices (a code such as CNY or USD).",
            "text",
        ),
        Setting(
            "llm_grounded_docs",
            "on",
            "LLM: on writes document answers with the LLM from the retrieved passages only, "
            "each sentence cited and every number checked against its passage; any failed "
            "check keeps the extractive answer (L2 and up, only when an LLM is configured).",
            "choice",
            ("on", "off"),
        ),
        Setting(
            "llm_candidate_floor",
            0.05,
            "LLM: FAQ candidates whose offline confidence is below this are not offered to the "
            "model (0 offers the top three whatever their score). Chosen on the demo dev set: "
            "0.05 keeps the right FAQ on offer for 56 of 68 unsure answerable questions and "
            "offers nothing for 33 of 63 out-of-scope ones, which small models otherwise answer.",
            "float",
            minimum=0.0,
            maximum=1.0,
        ),
        Setting(
            "llm_tool_calls",
            "off",
            "LLM: on asks the model for its reading through a native tool call (OpenAI, "
            "DeepSeek, Qwen and other hosted APIs); off uses JSON-schema constrained output, "
            "which small local models manage and tool calls do not.",
            "choice",
            ("on", "off"),
        ),
        Setting(
            "llm_rephrase",
            "off",
            "LLM: on rephrases the bot's template replies in llm_brand_voice; a rewrite that "
            "changes or adds a number, amount, id, date, time, e-mail, URL, policy word or "
            "negation is dropped for the template (L2 and up, only when an LLM is configured).",
            "choice",
            ("on", "off"),
        ),
        Setting(
            "llm_brand_voice",
            "",
            "LLM: a short description of the shop's voice for llm_rephrase, e.g. 亲切活泼，"
            "称呼顾客为“亲” or 'friendly, concise, no emoji' (empty: warm, polite, concise).",
            "text",
        ),
        Setting(
            "approval_amount_threshold",
            2000.0,
            "L3: a confirmed write that moves more money than this (its payments or its refunds "
            "in total, in the shop's currency) waits for a human's approval before it runs; 0 "
            "sends every write that moves money to approval. Read at each preview and "
            "confirmation.",
            "float",
            minimum=0.0,
            maximum=1e12,
        ),
        Setting(
            "template.welcome",
            _i18n(
                "您好，欢迎光临{brand}！我是智能客服，请问有什么可以帮您？",
                "Hi, welcome to {brand}! I'm the virtual assistant. How can I help you?",
            ),
            "First message of a conversation.",
            "i18n",
        ),
        Setting(
            "template.greeting",
            _i18n("您好！请问有什么可以帮您？", "Hello! How can I help you today?"),
            "Reply to a greeting.",
            "i18n",
        ),
        Setting(
            "template.thanks",
            _i18n(
                "不客气，很高兴能帮到您！还有其他问题随时问我哦。",
                "You're welcome! Anything else I can help with?",
            ),
            "Reply to thanks.",
            "i18n",
        ),
        Setting(
            "template.goodbye",
            _i18n("感谢您的咨询，祝您购物愉快，再见！", "Thanks for contacting {brand}. Goodbye!"),
            "Reply to a goodbye.",
            "i18n",
        ),
        Setting(
            "template.clarify",
            _i18n("您是不是想问以下问题？", "Did you mean one of these?"),
            "Lead-in before 'did you mean' suggestions.",
            "i18n",
        ),
        Setting(
            "template.fallback",
            _i18n(
                "抱歉，这个问题我暂时回答不了。您可以换个说法，或者回复“转人工”联系人工客服。",
                'Sorry, I can\'t answer that yet. You can rephrase it, or type "agent" to reach a '
                "human.",
            ),
            "Reply when a question is out of scope.",
            "i18n",
        ),
        Setting(
            "template.handoff",
            _i18n(
                "好的，正在为您转接人工客服，请稍候。",
                "Sure, I'm connecting you to a human agent. Please hold on.",
            ),
            "Reply when handing off during business hours.",
            "i18n",
        ),
        Setting(
            "template.handoff_failures",
            _i18n(
                "抱歉没能解决您的问题，正在为您转接人工客服，请稍候。",
                "Sorry I couldn't solve this. I'm connecting you to a human agent.",
            ),
            "Reply when handing off after repeated failures.",
            "i18n",
        ),
        Setting(
            "template.handoff_closed",
            _i18n(
                "人工客服的工作时间是{hours}，现在不在工作时间。我们已记录您的问题，客服上班后会"
                "尽快联系您。",
                "Our agents work {hours}. They are offline now; we have noted your question and "
                "will get back to you as soon as they are in.",
            ),
            "Reply when a handoff is requested outside business hours.",
            "i18n",
        ),
        Setting(
            "template.unreadable",
            _i18n(
                "抱歉，我没看懂您的消息，能用文字描述一下您的问题吗？",
                "Sorry, I couldn't read that. Could you describe your question in words?",
            ),
            "Reply to a message with no words (only symbols or emoji).",
            "i18n",
        ),
    )
}


def _dialogue_templates() -> None:
    from kefu.dialogue.templates import DIALOGUE_TEMPLATES

    for name, (zh, en, help_text) in DIALOGUE_TEMPLATES.items():
        key = f"template.{name}"
        SETTINGS[key] = Setting(key, _i18n(zh, en), help_text, "i18n")


_dialogue_templates()

# Settings of the humans-in-the-loop modules, each kept beside the code that reads it.
_AREA_SETTINGS = (
    "kefu.humans.desk_settings",
    "kefu.humans.ticket_settings",
    "kefu.quality.qa_settings",
    "kefu.analytics.settings",
)


def _area_settings() -> None:
    import importlib

    for module in _AREA_SETTINGS:
        for setting in importlib.import_module(module).SETTINGS:
            SETTINGS[setting.name] = setting


_area_settings()


def get_setting(name: str) -> Setting:
    try:
        return SETTINGS[name]
    except KeyError:
        raise SettingError(f"unknown setting {name!r}", field=name) from None


def parse_cli_value(name: str, raw: str) -> Any:
    """Parse a value typed on the command line (JSON allowed for structured settings)."""
    setting = get_setting(name)
    if setting.kind == "json":
        return setting.parse(raw)
    if setting.kind in ("i18n", "days") and raw.strip().startswith(("{", "[")):
        try:
            return setting.parse(json.loads(raw))
        except json.JSONDecodeError as exc:
            raise SettingError(f"invalid JSON for {name!r}: {exc.msg}", field=name) from exc
    return setting.parse(raw)


class TenantSettings:
    """Resolved settings of one tenant: stored values over defaults."""

    def __init__(self, stored: Mapping[str, Any]) -> None:
        self._values = {name: stored.get(name, s.default) for name, s in SETTINGS.items()}
        self._stored = frozenset(n for n in stored if n in SETTINGS)

    def is_stored(self, name: str) -> bool:
        """True when the tenant set this value itself (not the default)."""
        return name in self._stored

    def __getitem__(self, name: str) -> Any:
        return self._values[get_setting(name).name]

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def template(self, name: str, language: str, **values: str) -> str:
        texts: Mapping[str, str] = self[f"template.{name}"]
        text = texts.get(language) or texts.get("zh") or next(iter(texts.values()))
        fields: dict[str, str] = {"brand": str(self["brand_name"]), "hours": self.hours_text()}
        fields.update(values)
        return _SafeFormat(fields).format(text)

    def hours_text(self) -> str:
        return str(self["business_hours"])


class _SafeFormat:
    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def format(self, text: str) -> str:
        return re.sub(r"\{(\w+)\}", self._sub, text)

    def _sub(self, m: re.Match[str]) -> str:
        return self._values.get(m.group(1), m.group(0))


def settings_markdown() -> str:
    """The settings table for ``docs/settings.md`` (kept in sync by a test)."""
    lines = ["| setting | default | help |", "|---|---|---|"]
    for s in SETTINGS.values():
        default = json.dumps(s.default, ensure_ascii=False).replace("|", "\\|")
        lines.append(f"| `{s.name}` | `{default}` | {s.help} |")
    return "\n".join(lines)
