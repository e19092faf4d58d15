"""Tenants, conversations and their append-only events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Event types written by kefu.
CUSTOMER_MESSAGE = "customer_message"
BOT_REPLY = "bot_reply"
CONVERSATION_STARTED = "conversation_started"
# Humans in the loop (kefu.humans): payloads are documented in docs/desk.md.
AGENT_MESSAGE = "agent_message"  # actor "agent"; payload {"agent": display name}
HANDOFF_REQUESTED = "handoff_requested"  # system; {"handoff_id", "handoff", "queue", "in_hours"}
HANDOFF_TAKEN = "handoff_taken"  # system; {"handoff_id", "agent"}
HANDOFF_RELEASED = "handoff_released"  # system; {"handoff_id", "agent"}
CONVERSATION_CLOSED = "conversation_closed"  # system; {"by", "reason"}
TICKET_OPENED = "ticket_opened"  # system; {"ticket_id", "source"}
CSAT = "csat"  # actor "customer"; {"score": 1..5, "comment"}
NOTICE = "notice"  # system; text for the customer; {"kind", ...} (e.g. an approval's outcome)


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
