"""Request and response models of the HTTP API (they also document it at /docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConversationCreate(_Strict):
    tenant: str = Field(min_length=1, max_length=64, description="Tenant name")
    channel: str = Field("api", max_length=32, description="web, api, cli, wecom, wechat_mp")
    customer: str | None = Field(None, max_length=128, description="Customer reference")
    language: Literal["zh", "en"] | None = Field(None, description="Preferred language")


class MessageCreate(_Strict):
    text: str = Field(description="The customer's message")


class ReplyOut(BaseModel):
    text: str
    language: str
    type: str = "text"


class SuggestionOut(BaseModel):
    faq_id: str
    text: str


class LlmUsageOut(BaseModel):
    calls: int = Field(description="LLM calls made (failed ones included)")
    failed_calls: int
    unpriced_calls: int = Field(description="successful calls of a model without a price")
    prompt_tokens: int
    completion_tokens: int
    cost: str | None = Field(
        description="decimal string, rounded to 1e-6; null if in several currencies"
    )
    currency: str | None = Field(description="the tenant's llm_currency")


class LlmTotalsOut(LlmUsageOut):
    costs: dict[str, str] = Field(default_factory=dict, description="cost per currency")


class TurnOut(BaseModel):
    replies: list[ReplyOut]
    decision: str = Field(
        description="answer, clarify, fallback, handoff, chitchat, flow, queued (a holding "
        "reply while waiting for a human) or human (an agent is in charge: no replies)"
    )
    intent: str | None
    confidence: float
    faq_id: str | None
    suggestions: list[SuggestionOut]
    handoff: bool
    handoff_reason: str | None = None
    citations: list[dict[str, Any]]
    operations: list[dict[str, Any]]
    language: str
    flow: str | None = Field(None, description="L2+: the task in progress after this turn")
    slots: dict[str, Any] = Field(default_factory=dict, description="L2+: its filled slots")
    commands: list[dict[str, Any]] = Field(
        default_factory=list, description="L2+: the commands understood from the message"
    )
    entities: list[dict[str, Any]] = Field(
        default_factory=list, description="L2+: entities found in the message"
    )
    emotion: dict[str, Any] | None = Field(None, description="L2+: the emotion estimate")
    seq: int = Field(
        description="Sequence number of the bot reply event (of the customer message when "
        "decision is human)"
    )
    latency_ms: float
    llm: LlmUsageOut = Field(description="this turn's LLM calls (zeros when none)")


class ConversationOut(BaseModel):
    id: str
    tenant: str
    channel: str
    customer: str | None
    language: str | None
    created_at: datetime
    welcome: ReplyOut | None = None


class EventOut(BaseModel):
    seq: int
    type: str
    actor: str
    text: str | None
    payload: dict[str, Any]
    created_at: str | None


class TranscriptOut(ConversationOut):
    events: list[EventOut]
    llm: LlmTotalsOut | None = Field(None, description="the conversation's LLM calls in total")


class CostLineOut(LlmTotalsOut):
    key: str = Field(description="the day (UTC), conversation id, model or purpose")
    conversations: int


class CostTotalsOut(LlmTotalsOut):
    conversations: int = Field(description="conversations with at least one call")
    cost_per_conversation: str | None


class CostReportOut(BaseModel):
    tenant: str
    since: str | None
    until: str | None
    by: str
    totals: CostTotalsOut
    groups: list[CostLineOut]


class FaqIn(_Strict):
    id: str = Field(min_length=1, max_length=64)
    question: str = Field(min_length=1, max_length=500)
    similar_questions: list[str] = Field(default_factory=list, max_length=100)
    answer: str = Field(min_length=1, max_length=5000)
    category: str = Field("", max_length=64)
    language: Literal["zh", "en"] = "zh"
    tags: list[str] = Field(default_factory=list, max_length=50)
    enabled: bool = True
    valid_from: datetime | None = None
    valid_until: datetime | None = None


class FaqOut(FaqIn):
    model_config = ConfigDict(extra="ignore")


class TenantCreate(_Strict):
    name: str = Field(min_length=1, max_length=64)
    level: Literal["L1", "L2", "L3"] = "L1"
    language: Literal["zh", "en"] = "zh"


class TenantOut(BaseModel):
    name: str
    created_at: datetime
    kb_revision: int
    settings: dict[str, Any]


class SettingOut(BaseModel):
    name: str
    default: Any
    help: str
    kind: str
    choices: list[str]


class SettingPatch(_Strict):
    value: Any
