"""The turn path's part for humans in the loop: a handoff the bot decided on (the handoff
object, the queue or a ticket, the events that announce it), and a customer message while a
handoff is open (a holding reply, a cancel, or nothing from the bot while an agent is in
charge). Used by :class:`kefu.service.Service` inside a conversation's turn lock."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import replace as dataclass_replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from kefu.dialogue.state import DialogueState
from kefu.dialogue.turn import HISTORY_WINDOW, Reply, TurnResult
from kefu.domain.conversation import (
    BOT_REPLY,
    CUSTOMER_MESSAGE,
    HANDOFF_REQUESTED,
    TICKET_OPENED,
    Conversation,
    Event,
)
from kefu.humans.desk import Handoff
from kefu.settings import TenantSettings
from kefu.storage.conversations import NewEvent

if TYPE_CHECKING:
    from kefu.service import Service

# a customer asking for a human again outside business hours within this time gets the same
# ticket (not one ticket per request)
TICKET_REUSE = timedelta(hours=12)


class DeskTurns:
    def __init__(self, svc: Service) -> None:
        self._svc = svc

    def request_handoff(
        self,
        conv: Conversation,
        settings: TenantSettings,
        result: TurnResult,
        before: dict[str, Any] | None,
        stored: Callable[[Any], Any],
    ) -> tuple[TurnResult, Handoff, list[NewEvent]]:
        """The bot decided to hand off: build the handoff object, queue it (in business hours)
        or open a ticket (outside them: the reply then names the ticket), and a complaint
        ticket for a complaint or an upset customer. Returns the reply (with the ticket number)
        and the events to append after it."""
        from kefu.dialogue.hours import within_business_hours
        from kefu.humans.handoff import HandoffContext, build_handoff

        svc = self._svc
        events = svc.conversations.events(conv.id)
        state = DialogueState.from_dict(before)
        reply_text = "\n".join(r.text for r in result.replies)
        groups = settings["desk.skill_groups"]
        obj = build_handoff(
            HandoffContext(
                result=result,
                events=events,
                reply_text=reply_text,
                resume=state,
                tenant_language=str(settings["language"]),
                customer=conv.customer,
                catalog=svc.catalog(conv.tenant) if settings["level"] != "L1" else None,
                faq=functools.partial(self._faq_of, conv.tenant, result.language),
                ledger=svc.operations.ledger.list(conv.tenant, conversation_id=conv.id, limit=200),
                order_value=functools.partial(self._order_value, conv.tenant),
                skill_groups=groups if isinstance(groups, dict) else {},
                tail=int(settings["desk.transcript_tail"]),
            )
        )
        obj = stored(obj)
        in_hours = within_business_hours(settings, svc.clock())
        reason = result.handoff_reason or "customer_request"
        handoff = svc.desk.create(
            conv,
            status="waiting" if in_hours else "ticketed",
            queue=str(obj["queue"]),
            reason=reason,
            handoff=obj,
            resume_state=before,
        )
        try:
            result, extra = self.handoff_events(
                conv, settings, result, handoff, obj, reason, in_hours
            )
        except BaseException:
            svc.desk.discard(handoff.id)  # nothing was shown: no half-made handoff stays open
            raise
        return result, handoff, extra

    def handoff_events(
        self,
        conv: Conversation,
        settings: TenantSettings,
        result: TurnResult,
        handoff: Handoff,
        obj: dict[str, Any],
        reason: str,
        in_hours: bool,
    ) -> tuple[TurnResult, list[NewEvent]]:
        """The tickets of a new handoff (outside hours; for a complaint) and the events that
        announce it, appended after the bot's reply (which names the ticket outside hours)."""
        svc = self._svc
        events = svc.conversations.events(conv.id)
        extra: list[NewEvent] = []
        ticket_id: int | None = None
        subject = str(obj["summary"][0]) if obj.get("summary") else reason
        description = "\n".join(str(line) for line in obj.get("summary") or [])
        announced = {e.payload.get("ticket_id") for e in events if e.type == TICKET_OPENED}

        def open_ticket(source: str, dedupe_key: str) -> int:
            ticket = svc.tickets.open(
                conv.tenant,
                source=source,
                subject=subject,
                description=description,
                conversation_id=conv.id,
                customer=obj.get("customer"),
                emotion=obj.get("emotion") or None,
                order_value=obj.get("order_value"),
                dedupe_key=dedupe_key,
                data=obj,
            )
            return int(ticket.id)

        if not in_hours:
            # asked again the same night: the ticket opened for the earlier request is the one
            ticket_key = handoff.id
            earlier = [
                h
                for h in svc.desk.of_conversation(conv.id)
                if h.status == "ticketed" and h.ticket_id is not None and h.id != handoff.id
            ]
            if earlier and handoff.requested_at - earlier[-1].requested_at < TICKET_REUSE:
                ticket_key = earlier[-1].id
            ticket_id = open_ticket("handoff_after_hours", f"handoff:{ticket_key}")
            svc.desk.set_ticket(handoff.id, ticket_id)
            note = settings.template("handoff_ticket", result.language, ticket=str(ticket_id))
            replies = list(result.replies)
            last = replies[-1]
            replies[-1] = Reply(f"{last.text} {note}".strip(), last.language, last.type)
            result = dataclass_replace(result, replies=replies)
        extra.append(
            (
                HANDOFF_REQUESTED,
                "system",
                None,
                {
                    "handoff_id": handoff.id,
                    "handoff": obj,
                    "queue": obj["queue"],
                    "in_hours": in_hours,
                    "ticket_id": ticket_id,
                },
            )
        )
        if ticket_id is not None and ticket_id not in announced:
            announced.add(ticket_id)
            extra.append(
                (
                    TICKET_OPENED,
                    "system",
                    None,
                    {"ticket_id": ticket_id, "source": "handoff_after_hours"},
                )
            )
        if reason in ("complaint", "emotion"):
            complaint = open_ticket("complaint", f"complaint:{conv.id}")
            if complaint not in announced:
                extra.append(
                    (TICKET_OPENED, "system", None, {"ticket_id": complaint, "source": "complaint"})
                )
        return result, extra

    def desk_turn(
        self,
        conv: Conversation,
        settings: TenantSettings,
        text: str,
        handoff: Handoff,
    ) -> tuple[TurnResult, Event, Event]:
        """A customer message while a handoff is open: recorded, and answered without the
        bot's understanding. Waiting: a holding reply with the queue position (decision
        ``queued``), or, when the customer calls it off ("不用了", "cancel"), the handoff is
        cancelled and the bot is back. Taken: nothing from the bot (decision ``human``, no
        replies, no bot_reply event); the agent sees the message live."""
        from kefu.humans.desk import resume
        from kefu.humans.handoff import is_cancel

        svc = self._svc
        stored = svc._transcript_mask(conv, settings, text)
        customer_event = svc.conversations.append(
            conv.id, [(CUSTOMER_MESSAGE, "customer", stored(text), {})]
        )[0]
        recent = svc.conversations.events(conv.id, last=HISTORY_WINDOW)
        lang = reply_language(recent, text, conv.language or str(settings["language"]))
        result: TurnResult | None = None
        state: dict[str, Any] | None = last_state(recent)
        if handoff.status == "waiting":
            if is_cancel(text) and svc.desk.cancel(handoff):
                result = TurnResult(
                    [Reply(settings.template("handoff_cancelled", lang), lang)],
                    "chitchat",
                    lang,
                    intent="handoff_cancelled",
                    confidence=1.0,
                )
                if handoff.resume_state is not None:
                    state = resume(handoff.resume_state)
            else:
                current = svc.desk.open_for(conv.id)
                if current is not None and current.status == "waiting":
                    position = svc.desk.position(current)
                    result = TurnResult(
                        [
                            Reply(
                                settings.template("handoff_queued", lang, position=str(position)),
                                lang,
                            )
                        ],
                        "queued",
                        lang,
                        intent="handoff",
                        confidence=1.0,
                    )
        if result is None:  # an agent holds the conversation
            result = TurnResult([], "human", lang, intent="human", confidence=1.0)
            bot_event = customer_event
        else:
            payload = stored(result.to_dict())
            if state is not None:
                payload["state"] = state
            reply = stored("\n".join(r.text for r in result.replies))
            bot_event = svc.conversations.append(conv.id, [(BOT_REPLY, "bot", reply, payload)])[0]
        svc.desk.notify(conv)
        return result, customer_event, bot_event

    def _faq_of(self, tenant: str, language: str, faq_id: str) -> tuple[str, str] | None:
        """(question, category) of a FAQ, for the handoff object."""
        svc = self._svc
        group = svc.index(tenant).groups.get(faq_id)
        if group is None:
            return None
        entry = group.version(language)
        return entry.question, entry.category

    def _order_value(self, tenant: str, order_id: str) -> float | None:
        """The order's total when the shop knows the order (the handoff's order_value)."""
        from kefu.errors import KefuError

        svc = self._svc
        try:
            return float(svc.connector.order(tenant, order_id).total)
        except (KefuError, ValueError, KeyError):
            return None


def last_state(events: Sequence[Event]) -> dict[str, Any] | None:
    """The dialogue state stored on the newest bot reply (None at L1 or before any)."""
    for e in reversed(events):
        if e.type == BOT_REPLY:
            found = e.payload.get("state")
            return dict(found) if isinstance(found, dict) else None
    return None


def reply_language(events: Sequence[Event], text: str, default: str) -> str:
    """The language to answer a message in without the bot's understanding: the message's
    own when it shows one, else the conversation's so far."""
    from kefu.understanding.language import detect_language

    fallback = default
    for e in reversed(events):
        if e.type == BOT_REPLY and e.payload.get("language") in ("zh", "en"):
            fallback = str(e.payload["language"])
            break
    return detect_language(text, fallback) or fallback
