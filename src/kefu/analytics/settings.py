"""Per-tenant settings of the analytics module (registered into :data:`kefu.settings.SETTINGS`).

Money settings are in the tenant's ``llm_currency`` (the currency LLM costs are metered in), so
the ROI view compares like with like."""

from __future__ import annotations

from kefu.settings import Setting

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "analytics.agent_monthly_salary",
        8000.0,
        "ROI: what one human agent costs a month (salary and overheads), in llm_currency.",
        "float",
        minimum=0.0,
    ),
    Setting(
        "analytics.agent_conversations_per_day",
        80,
        "ROI: conversations one human agent handles in a working day.",
        "int",
        minimum=1,
    ),
    Setting(
        "analytics.working_days_per_month",
        22,
        "ROI: an agent's working days in a month.",
        "int",
        minimum=1,
        maximum=31,
    ),
    Setting(
        "analytics.system_monthly_cost",
        1000.0,
        "ROI: what running kefu costs a month besides LLM calls (servers, upkeep), in "
        "llm_currency.",
        "float",
        minimum=0.0,
    ),
    Setting(
        "analytics.repeat_hours",
        24,
        "A conversation is a repeat contact when the same customer starts another one within "
        "this many hours after it ended.",
        "int",
        minimum=1,
        maximum=24 * 30,
    ),
    Setting(
        "analytics.low_confidence",
        0.5,
        "Analytics: a bot answer below this confidence counts as an unanswered question.",
        "float",
        minimum=0.0,
        maximum=1.0,
    ),
)
