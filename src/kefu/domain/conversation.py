"""Tenants, conversations and their append-only events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Event types written by kefu.
CUSTOMER_MESSAGE = "customer_message"
BOT_REPLY = "bot_reply"
CONVERSATION_STARTED = "conversation_started"


@dataclass(frozen=True)
class Tenant:
    id: int
    name: str
    kb_revision: int
    created_at: datetime


@dataclass(frozen=True)
class Conversation:
    id: str
    tenant: str
    channel: str
    customer: str | None
    language: str | None
    created_at: datetime


@dataclass(frozen=True)
class Event:
    seq: int
    type: str
    actor: str  # "customer", "bot", "agent", "system"
    text: str | None
    payload: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "actor": self.actor,
            "text": self.text,
            "payload": self.payload,
            "created_at": self.created_at.isoformat() + "Z" if self.created_at else None,
        }
