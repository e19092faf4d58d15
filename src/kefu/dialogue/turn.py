"""What one customer turn produces: the contract of the message API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# "queued" and "human" are the desk's: turns answered while a handoff waits for an agent (a
# holding reply with the queue position) or while an agent is in charge (no reply from the bot).
HISTORY_WINDOW = 12  # the newest events a turn reads (its context)
DECISIONS = ("answer", "clarify", "fallback", "handoff", "chitchat", "flow", "queued", "human")


@dataclass(frozen=True)
class Reply:
    text: str
    language: str
    type: str = "text"


@dataclass(frozen=True)
class Suggestion:
    faq_id: str
    text: str


@dataclass(frozen=True)
class TurnResult:
    replies: list[Reply]
    decision: str
    language: str
    intent: str | None = None
    confidence: float = 0.0
    faq_id: str | None = None
    suggestions: list[Suggestion] = field(default_factory=list)
    handoff: bool = False
    handoff_reason: str | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)
    operations: list[dict[str, Any]] = field(default_factory=list)
    # L2 and above: the task in progress, its slots, what was understood, the emotion estimate
    flow: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    emotion: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["confidence"] = round(self.confidence, 4)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TurnResult:
        return cls(
            replies=[Reply(**r) for r in d.get("replies", [])],
            decision=d["decision"],
            language=d["language"],
            intent=d.get("intent"),
            confidence=float(d.get("confidence", 0.0)),
            faq_id=d.get("faq_id"),
            suggestions=[Suggestion(**s) for s in d.get("suggestions", [])],
            handoff=bool(d.get("handoff", False)),
            handoff_reason=d.get("handoff_reason"),
            citations=list(d.get("citations", [])),
            operations=list(d.get("operations", [])),
            flow=d.get("flow"),
            slots=dict(d.get("slots") or {}),
            commands=list(d.get("commands") or []),
            entities=list(d.get("entities") or []),
            emotion=d.get("emotion"),
        )
