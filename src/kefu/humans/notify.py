"""Telling the customer what became of a write that waited for a human's approval.

The customer was told "submitted for approval; we will let you know". When a supervisor
decides (``approve`` runs the write, ``reject`` closes it), a ``notice`` event with the outcome
is appended to the conversation the write came from, and its live readers (the customer's web
chat) are woken, so the customer reads it at once if the page is open, or in the transcript
later. The notice is not a bot turn: the dialogue state of the conversation is untouched.
"""

from __future__ import annotations

from collections.abc import Callable

from kefu.domain.conversation import NOTICE, Conversation
from kefu.logs import get_logger
from kefu.operations.wording import operation_title, refusal_text
from kefu.storage.conversations import ConversationRepository
from kefu.storage.ledger import LedgerEntry, LedgerRepository

log = get_logger(__name__)

# The rows that settle an approved run (their ``ref`` is the ``approved`` row).
_SETTLED = frozenset({"executed", "refused", "failed", "unknown_outcome"})


def approval_text(entry: LedgerEntry, language: str) -> str:
    """The customer's sentence for the outcome ``entry`` of an approval decision."""
    zh = language != "en"
    target = entry.arguments.get("order_id") or ""
    what = f"{operation_title(entry.operation, language)} {target}".strip()
    status = entry.status
    if status == "rejected":
        text = f"您提交审核的「{what}」未通过人工审核。" if zh else f"“{what}” was not approved."
        if entry.note:
            text += (f"说明：{entry.note}" if zh else f" Note: {entry.note}").strip()
        return text
    if status == "executed":
        return (
            f"您提交审核的「{what}」已通过审核并办理完成。"
            if zh
            else f"“{what}” was approved and is done."
        )
    if status == "refused":
        refusal = (entry.result or {}).get("refusal") or {}
        reason = refusal_text(str(refusal.get("reason", "")), str(refusal.get("message", "")), zh)
        return (
            f"您提交审核的「{what}」已通过审核，但现在无法办理：{reason}"
            if zh
            else f"“{what}” was approved but cannot be done now: {reason}"
        )
    if status == "unknown_outcome":
        return (
            f"您提交审核的「{what}」已通过审核，正在确认办理结果，不会重复办理。"
            if zh
            else f"“{what}” was approved; we are confirming it went through (never twice)."
        )
    return (
        f"您提交审核的「{what}」已通过审核，但办理时出现问题，客服会跟进。"
        if zh
        else f"“{what}” was approved, but something went wrong; our staff will follow up."
    )


class ApprovalNotifier:
    """A ledger listener (:data:`kefu.operations.execute.LedgerListener`)."""

    def __init__(
        self,
        conversations: ConversationRepository,
        ledger: LedgerRepository,
        woken: Callable[[Conversation], None],
        language: Callable[[Conversation], str],
    ) -> None:
        self._conversations = conversations
        self._ledger = ledger
        self._woken = woken
        self._language = language

    def __call__(self, entry: LedgerEntry) -> None:
        if entry.conversation_id is None or not self._decided(entry):
            return
        conv = self._conversations.get(entry.conversation_id)
        text = approval_text(entry, self._language(conv))
        payload = {
            "kind": "approval",
            "ledger_id": entry.id,
            "operation": entry.operation,
            "status": entry.status,
        }
        self._conversations.append(conv.id, [(NOTICE, "system", text, payload)])
        self._woken(conv)

    def _decided(self, entry: LedgerEntry) -> bool:
        """Is ``entry`` a supervisor's rejection, or the outcome of an approved run?"""
        if entry.status == "rejected":
            return True
        if entry.status not in _SETTLED or entry.ref is None:
            return False
        return self._ledger.get(entry.ref).status == "approved"
