"""Typed commands: what an understanding engine says a customer message means.

Both understanding engines (the offline NLU engine and, later, an LLM) produce a list of these;
the dialogue engine validates and executes them, so flows, guards and tests never care which
engine ran. Every command is a small frozen dataclass that serialises to
``{"command": name, ...fields}`` and back (:func:`command_from_dict`), so commands can be stored
on events and replayed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from kefu.errors import InvalidInputError


@dataclass(frozen=True)
class Command:
    name: ClassVar[str] = "command"

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.name, **asdict(self)}


@dataclass(frozen=True)
class StartFlow(Command):
    """Begin a flow (a task such as order status), suspending any flow in progress."""

    name: ClassVar[str] = "start_flow"
    flow: str
    confidence: float = 1.0


@dataclass(frozen=True)
class SetSlot(Command):
    """Fill a slot of the active flow (``value`` is JSON-serialisable)."""

    name: ClassVar[str] = "set_slot"
    slot: str
    value: Any


@dataclass(frozen=True)
class CorrectSlot(Command):
    """Replace a slot filled earlier ("不对，是另一个订单"); steps after it are re-run."""

    name: ClassVar[str] = "correct_slot"
    slot: str
    value: Any


@dataclass(frozen=True)
class Confirm(Command):
    name: ClassVar[str] = "confirm"


@dataclass(frozen=True)
class Deny(Command):
    name: ClassVar[str] = "deny"


@dataclass(frozen=True)
class Cancel(Command):
    """Abandon the active flow."""

    name: ClassVar[str] = "cancel"


@dataclass(frozen=True)
class AnswerFaq(Command):
    name: ClassVar[str] = "answer_faq"
    faq_id: str
    confidence: float = 1.0


@dataclass(frozen=True)
class SearchDocs(Command):
    name: ClassVar[str] = "search_docs"
    query: str


@dataclass(frozen=True)
class Handoff(Command):
    """Hand the conversation to a human (``reason``: customer_request, repeated_failure,
    emotion, step_cap, validation_failed, …)."""

    name: ClassVar[str] = "handoff"
    reason: str


@dataclass(frozen=True)
class Clarify(Command):
    """Ask which of several readings was meant; ``options`` are FAQ ids or ``flow:NAME``."""

    name: ClassVar[str] = "clarify"
    options: tuple[str, ...] = ()
    confidence: float = 0.0


@dataclass(frozen=True)
class ChitChat(Command):
    """Greeting, thanks or goodbye (``kind``)."""

    name: ClassVar[str] = "chitchat"
    kind: str


@dataclass(frozen=True)
class OutOfScope(Command):
    name: ClassVar[str] = "out_of_scope"
    confidence: float = 0.0


@dataclass(frozen=True)
class Unreadable(Command):
    """No words at all (only symbols, emoji or junk)."""

    name: ClassVar[str] = "unreadable"


@dataclass(frozen=True)
class Noop(Command):
    """An invalid command turned harmless; ``problem`` says why it was rejected."""

    name: ClassVar[str] = "noop"
    problem: str = ""
    original: dict[str, Any] = field(default_factory=dict)


COMMANDS: dict[str, type[Command]] = {
    c.name: c
    for c in (
        StartFlow,
        SetSlot,
        CorrectSlot,
        Confirm,
        Deny,
        Cancel,
        AnswerFaq,
        SearchDocs,
        Handoff,
        Clarify,
        ChitChat,
        OutOfScope,
        Unreadable,
        Noop,
    )
}


def command_from_dict(data: dict[str, Any]) -> Command:
    """Rebuild a command from :meth:`Command.to_dict` output (raises InvalidInputError)."""
    name = data.get("command")
    cls = COMMANDS.get(str(name))
    if cls is None:
        raise InvalidInputError(f"unknown command {name!r}", field="command")
    known = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in data.items() if k != "command"}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise InvalidInputError(f"command {name!r} has no field {unknown[0]!r}", field=unknown[0])
    if cls is Clarify and "options" in kwargs:
        kwargs["options"] = tuple(kwargs["options"])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise InvalidInputError(f"command {name!r}: {exc}", field="command") from exc
