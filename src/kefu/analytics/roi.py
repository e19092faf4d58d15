"""The ROI view: what the automated conversations would have cost in agents' time, against
what kefu costs (a fixed monthly system cost plus the metered LLM calls), per month."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

DAYS_PER_MONTH = 30


@dataclass(frozen=True, slots=True)
class RoiInputs:
    agent_monthly_salary: float
    agent_conversations_per_day: int
    working_days_per_month: int
    system_monthly_cost: float
    currency: str


def roi(inputs: RoiInputs, automated: int, llm_cost: Decimal, period_days: int) -> dict[str, Any]:
    """Scale the period's figures to a 30-day month: agents saved (FTE) = automated
    conversations a month / (conversations per agent-day x working days); money saved = those
    conversations x the agent cost of one conversation; net = money saved - (system cost +
    LLM cost a month); roi = net / (system cost + LLM cost)."""
    days = max(1, period_days)
    factor = DAYS_PER_MONTH / days
    capacity = inputs.agent_conversations_per_day * inputs.working_days_per_month
    per_conversation = inputs.agent_monthly_salary / capacity
    automated_month = automated * factor
    saved = automated_month * per_conversation
    llm_month = float(llm_cost) * factor
    system = inputs.system_monthly_cost + llm_month
    net = saved - system
    return {
        "period_days": days,
        "automated_conversations": automated,
        "automated_per_month": round(automated_month, 1),
        "agent_cost_per_conversation": round(per_conversation, 4),
        "agents_saved_fte": round(automated_month / capacity, 2),
        "money_saved_per_month": round(saved, 2),
        "llm_cost_per_month": round(llm_month, 2),
        "system_cost_per_month": round(system, 2),
        "net_saving_per_month": round(net, 2),
        "roi": round(net / system, 2) if system > 0 else None,
        "currency": inputs.currency,
        "assumptions": {
            "agent_monthly_salary": inputs.agent_monthly_salary,
            "agent_conversations_per_day": inputs.agent_conversations_per_day,
            "working_days_per_month": inputs.working_days_per_month,
            "system_monthly_cost": inputs.system_monthly_cost,
        },
    }
