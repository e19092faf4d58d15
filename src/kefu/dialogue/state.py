"""The dialogue state of one conversation: a stack of flow frames plus context.

The state is plain JSON: after each turn it is stored on the bot's reply event
(``payload["state"]``), and the next turn starts from the newest one, so the append-only event
log is the only store and a transcript replays exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Frame:
    """One flow in progress."""

    flow: str
    step: int = 0
    slots: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    awaiting: str | None = None  # "collect" or "confirm" while waiting for the customer
    retries: int = 0


@dataclass
class DialogueState:
    frames: list[Frame] = field(default_factory=list)
    customer_id: str | None = None
    # identity details collected so far while identifying (email, name, zip, phone, order_id)
    identity: dict[str, Any] = field(default_factory=dict)
    identify_failures: int = 0
    # what "it", "that order", "the second one" refer to
    context: dict[str, Any] = field(default_factory=dict)
    emotion: dict[str, Any] = field(default_factory=dict)
    fallbacks: int = 0
    suggestions: list[dict[str, str]] = field(default_factory=list)
    language: str | None = None

    @property
    def active(self) -> Frame | None:
        return self.frames[-1] if self.frames else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DialogueState:
        if not data:
            return cls()
        frames = [Frame(**f) for f in data.get("frames", [])]
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "frames"}
        return cls(frames=frames, **known)
