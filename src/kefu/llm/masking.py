"""PII masking at the port boundary.

:class:`MaskingProvider` wraps any provider: every outgoing message (system, user, assistant,
tool; tool-call arguments too) is masked with the conversation's :class:`Vault`, and the reply
(text, parsed JSON, tool-call arguments, streamed pieces) is unmasked on the way back. Build
providers for a conversation with :func:`guarded`, so no adapter ever sees raw PII.

Tool definitions and JSON schemas are written by kefu, not by customers, and are sent as they
are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from kefu.llm.port import ChatProvider, ChatRequest, ChatResult, Message, StreamEvent, TextDelta
from kefu.understanding.pii import Vault, mask, mask_json

# Longest placeholder: "[ADDRESS_999999]"; a streamed piece may end inside one.
_MAX_PLACEHOLDER = 18
_OPENERS = "[［【"
_CLOSERS = "]］】"


Names = Iterable[str] | Callable[[], Iterable[str]]


class MaskingProvider:
    """``known_names`` may be a function: it is then called once, at the first request, so a
    turn that never reaches the model never pays for finding names."""

    def __init__(self, inner: ChatProvider, vault: Vault, known_names: Names = ()) -> None:
        self.inner = inner
        self.vault = vault
        self._names = known_names
        self._resolved: tuple[str, ...] | None = None

    @property
    def known_names(self) -> tuple[str, ...]:
        if self._resolved is None:
            source = self._names
            self._resolved = tuple(source() if callable(source) else source)
        return self._resolved

    @property
    def model(self) -> str:
        return self.inner.model

    def mask_request(self, request: ChatRequest) -> ChatRequest:
        return request.with_messages([self._mask_message(m) for m in request.messages])

    def _mask_message(self, message: Message) -> Message:
        calls = tuple(
            replace(c, arguments=self._mask_args(c.arguments)) for c in message.tool_calls
        )
        return replace(
            message,
            content=mask(message.content, self.vault, self.known_names),
            tool_calls=calls,
        )

    def _mask_args(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        masked = mask_json(dict(arguments), self.vault, self.known_names)
        assert isinstance(masked, dict)
        return masked

    def unmask_result(self, result: ChatResult) -> ChatResult:
        calls = tuple(
            replace(c, arguments=self.vault.unmask_json(dict(c.arguments)))
            for c in result.tool_calls
        )
        return replace(
            result,
            text=self.vault.unmask(result.text),
            parsed=self.vault.unmask_json(result.parsed),
            tool_calls=calls,
        )

    def complete(self, request: ChatRequest) -> ChatResult:
        return self.unmask_result(self.inner.complete(self.mask_request(request)))

    def stream(self, request: ChatRequest) -> Iterator[StreamEvent]:
        unmasker = StreamUnmasker(self.vault)
        for event in self.inner.stream(self.mask_request(request)):
            if isinstance(event, TextDelta):
                text = unmasker.feed(event.text)
                if text:
                    yield TextDelta(text)
            else:
                rest = unmasker.flush()
                if rest:
                    yield TextDelta(rest)
                yield self.unmask_result(event)


class StreamUnmasker:
    """Unmasks streamed text, holding back a tail that may be the start of a placeholder."""

    def __init__(self, vault: Vault) -> None:
        self.vault = vault
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        cut = len(text)
        opener = max(text.rfind(ch) for ch in _OPENERS)
        open_tail = opener >= 0 and not any(ch in text[opener:] for ch in _CLOSERS)
        if open_tail and len(text) - opener < _MAX_PLACEHOLDER:
            cut = opener
        self._held = text[cut:]
        return self.vault.unmask(text[:cut])

    def flush(self) -> str:
        text, self._held = self._held, ""
        return self.vault.unmask(text)


def guarded(provider: ChatProvider, vault: Vault, known_names: Names = ()) -> ChatProvider:
    """``provider`` behind the masking boundary of one conversation."""
    return MaskingProvider(provider, vault, known_names)
