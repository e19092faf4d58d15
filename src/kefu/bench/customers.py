"""Simulated customers: an LLM playing the task's instruction, or a fixed script.

:class:`LlmCustomer` follows tau-bench's user simulation: a system prompt holding the task's
instruction and the rules (one message at a time, never everything at once, nothing made up,
``###STOP###`` when done); kefu's messages are the model's ``user`` turns and the customer's
its ``assistant`` turns. :class:`ScriptedCustomer` sends a fixed list of messages whatever kefu
says, then stops: deterministic runs and tests without a model.

A script file (YAML or JSON) maps task ids to messages (quote a message holding ``#``: in
YAML, `` #`` starts a comment)::

    "17":
      - "Hi, I'm not happy with my order #W3547545."
      - My name is Juan Smith and my zip code is 78770.
    "0": ["I want to cancel order #W5442520", "###STOP###"]
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from kefu.bench.tasks import BenchFileError, TauTask
from kefu.llm.port import ChatProvider, ChatRequest, Message, Usage

STOP = "###STOP###"


class Customer(Protocol):
    """One simulated customer for one trial."""

    def say(self, agent: str) -> str:
        """The customer's next message after kefu said ``agent`` (its welcome, first);
        ``STOP`` ends the conversation."""
        ...


CustomerFactory = Callable[[TauTask, int], Customer]  # (task, trial) -> a new customer


class ScriptedCustomer:
    """Sends ``messages`` in order, whatever kefu answers, then ``STOP``."""

    def __init__(self, messages: Sequence[str]) -> None:
        self._messages = list(messages)
        self._next = 0

    def say(self, agent: str) -> str:
        if self._next >= len(self._messages):
            return STOP
        message = self._messages[self._next]
        self._next += 1
        return message


def load_script(path: Path) -> dict[str, list[str]]:
    """Read a customer script: task id -> the customer's messages."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchFileError(file, "file", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchFileError(file, "file", f"cannot read: {exc}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise BenchFileError(file, f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "document"
        raise BenchFileError(file, where, str(getattr(exc, "problem", exc))) from None
    if not isinstance(data, dict) or not data:
        raise BenchFileError(file, "top level", "expected a mapping of task id to messages")
    script: dict[str, list[str]] = {}
    for key, messages in data.items():
        where = f"task {key}"
        if not isinstance(messages, list) or not messages:
            raise BenchFileError(file, where, "expected a non-empty list of messages")
        for j, message in enumerate(messages):
            if not isinstance(message, str) or not message.strip():
                raise BenchFileError(file, f"{where}, message {j}", "expected non-empty text")
        script[str(key)] = [str(m) for m in messages]
    return script


def scripted_customers(script: Mapping[str, Sequence[str]]) -> CustomerFactory:
    """A factory giving each trial of a task its scripted customer."""

    def make(task: TauTask, trial: int) -> Customer:
        if task.id not in script:
            raise KeyError(task.id)
        return ScriptedCustomer(script[task.id])

    return make


def system_prompt(instruction: str) -> str:
    """tau-bench's user-simulation prompt, plus two rules for small models: stop when the agent
    cannot help any further, and speak as the customer only."""
    return (
        "You are a user interacting with an agent.\n\n"
        f"Instruction: {instruction}\n\n"
        "Rules:\n"
        "- Just generate one line at a time to simulate the user's message.\n"
        "- Do not give away all the instruction at once. Only provide the information that is "
        "necessary for the current step.\n"
        "- Do not hallucinate information that is not provided in the instruction. For "
        "example, if the agent asks for the order id but it is not mentioned in the "
        "instruction, do not make up an order id, just say you do not remember or have it.\n"
        f"- If the instruction goal is satisfied, generate '{STOP}' as a standalone message "
        "without anything else to end the conversation. Also generate it if the agent "
        "cannot help you any further.\n"
        "- Do not repeat the exact instruction in the conversation. Instead, use your own "
        "words to convey the same information.\n"
        "- You are the customer, not the agent: reply in the first person, with the "
        "customer's next message only.\n"
        "- Try to make the conversation as natural as possible, and stick to the "
        "personalities in the instruction."
    )


_LABEL = re.compile(r"^\s*(?:user|customer|me)\s*:\s*", re.IGNORECASE)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


def clean_message(text: str) -> str:
    """The customer's message as sent to kefu: trimmed, without a ``User:`` label or wrapping
    quotes (small models add them) or ``<think>`` blocks (reasoning models); ``STOP`` when it
    holds the stop mark or nothing."""
    text = _THINK.sub("", text)
    if STOP in text:
        return STOP
    body = _LABEL.sub("", text.strip()).strip()
    if len(body) >= 2 and body[0] == body[-1] and body[0] in "\"'":
        body = body[1:-1].strip()
    return body or STOP


@dataclass
class LlmCustomer:
    """A customer played by an LLM through the provider port (tau-bench's user simulation)."""

    provider: ChatProvider
    instruction: str
    temperature: float | None = 1.0
    max_tokens: int = 200
    timeout_s: float | None = None
    usage: Usage = field(default_factory=Usage, init=False)  # tokens so far
    calls: int = field(default=0, init=False)
    _messages: list[Message] = field(default_factory=list, init=False, repr=False)

    def say(self, agent: str) -> str:
        if not self._messages:
            self._messages.append(Message("system", system_prompt(self.instruction)))
        self._messages.append(Message("user", agent))
        request = ChatRequest(
            messages=tuple(self._messages),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            timeout=self.timeout_s,
        )
        result = self.provider.complete(request)
        self.calls += 1
        self.usage = self.usage + result.usage
        text = result.text.strip()
        self._messages.append(Message("assistant", text))
        return clean_message(text)


def llm_customers(
    provider: ChatProvider,
    *,
    temperature: float | None = 1.0,
    max_tokens: int = 200,
    timeout_s: float | None = None,
) -> CustomerFactory:
    """A factory giving each trial a fresh LLM customer playing the task's instruction."""

    def make(task: TauTask, trial: int) -> Customer:
        return LlmCustomer(
            provider,
            task.instruction,
            temperature=temperature,
            max_tokens=max_tokens,
            timeout_s=timeout_s,
        )

    return make


def usage_of(customer: Any) -> dict[str, int]:
    """The simulator's LLM calls and tokens (zeros for a scripted customer)."""
    if isinstance(customer, LlmCustomer):
        return {
            "calls": customer.calls,
            "prompt_tokens": customer.usage.prompt_tokens,
            "completion_tokens": customer.usage.completion_tokens,
        }
    return {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
