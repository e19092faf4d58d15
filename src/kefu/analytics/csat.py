"""Customer satisfaction ratings: one ``csat`` event per conversation.

The check for an earlier rating and the append happen while holding the conversation's turn
lock (:mod:`kefu.storage.turn_locks`, across threads and processes), so two ratings sent at
once cannot both be stored: the second gets 409 and nothing is appended."""

from __future__ import annotations

from typing import Any

from kefu.domain.conversation import CSAT, Event
from kefu.errors import ConflictError, InvalidInputError
from kefu.storage.conversations import ConversationRepository
from kefu.storage.turn_locks import TurnLocks

COMMENT_CHARS = 500


class AlreadyRated(ConflictError):
    """A second rating of one conversation (409, the generic ``conflict`` code)."""


def record_csat(
    conversations: ConversationRepository,
    locks: TurnLocks,
    conversation_id: str,
    score: int,
    comment: str | None = None,
) -> Event:
    """Append the customer's rating (1-5, optional comment) to the conversation; 404 for an
    unknown conversation, 422 for a bad score, 409 when it was already rated."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise InvalidInputError("score must be an integer from 1 to 5", field="score")
    text = (comment or "").strip()
    if len(text) > COMMENT_CHARS:
        raise InvalidInputError(
            f"comment must be at most {COMMENT_CHARS} characters", field="comment"
        )
    conversations.get(conversation_id)  # ConversationNotFound: 404
    with locks.hold(conversation_id):
        if any(e.type == CSAT for e in conversations.events(conversation_id)):
            raise AlreadyRated("this conversation was already rated", conversation=conversation_id)
        payload: dict[str, Any] = {"score": score, "comment": text or None}
        return conversations.append(conversation_id, [(CSAT, "customer", text or None, payload)])[0]
