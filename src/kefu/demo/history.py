"""A month of generated service history for the demo shop, so that the console's dashboards,
queues and quality lists mean something on the first run.

The conversations are generated, not replayed through the engine (a few thousand conversations
would take minutes): each is a script of events in the shape the engine and the desk write them
(``docs/desk.md``, the event table in ``kefu.domain.conversation``), with the demo FAQ's own
questions and answers, the demo shop's customers and orders, and timestamps spread over the
last ``days`` days with a shop's daily rhythm. Every generated conversation is marked with the
channel it came from and ``payload["generated"] = True`` on its start event, so nothing
generated is ever mistaken for a real customer.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from kefu.domain.conversation import (
    AGENT_MESSAGE,
    BOT_REPLY,
    CONVERSATION_CLOSED,
    CONVERSATION_STARTED,
    CSAT,
    CUSTOMER_MESSAGE,
    HANDOFF_RELEASED,
    HANDOFF_REQUESTED,
    HANDOFF_TAKEN,
)
from kefu.storage.llm_call_tables import LlmCallRow
from kefu.storage.models import ConversationRow, EventRow

DATA = Path(__file__).resolve().parent / "data"
AGENTS = ("小林", "阿杰", "Mia")
CHANNELS = (("web", 0.62), ("wecom", 0.2), ("wechat_mp", 0.13), ("api", 0.05))
# Hourly weights (Beijing time) of a Chinese online shop's traffic.
HOURLY = (1, 1, 0.5, 0.3, 0.3, 0.4, 0.8, 1.5, 3, 5, 6, 6, 5, 5, 6, 6, 5, 5, 5, 6, 7, 8, 6, 3)
SHANGHAI = timedelta(hours=8)

# Questions the demo FAQ does not cover, in families of paraphrases (the drafts miner finds them).
UNCOVERED: dict[str, tuple[str, ...]] = {
    "zh": (
        "能不能寄到香港|可以发香港吗|香港地址能收货吗|寄香港要多少运费",
        "有没有线下实体店|你们有实体店吗|线下门店在哪里|可以去店里试穿吗",
        "衣服可以刻字定制吗|能不能定制logo|支持个性化定制吗",
        "公司团购有优惠吗|企业采购能打折吗|买一百件有批发价吗",
        "直播间的价格为什么不一样|直播价和店铺价不同怎么回事|主播说的优惠券在哪领",
    ),
    "en": (
        "do you ship to canada|can you deliver to canada|shipping to toronto possible?",
        "is there a physical store|do you have a shop I can visit",
    ),
}
COMPLAINTS = (
    "你们的快递太慢了，等了一个星期还没到，太气人了！",
    "客服半天不回，什么破服务，我要投诉！",
    "收到的衣服是坏的，质量太差了，非常失望",
    "The parcel arrived damaged and nobody answers. This is unacceptable!",
)
HANDOFF_ASKS = ("转人工", "人工客服", "我要找人工", "真人客服在吗", "human agent please")
THANKS = ("谢谢", "好的谢谢", "明白了，谢谢", "thanks", "ok thank you")
AGENT_LINES = {
    "zh": (
        "您好，我是人工客服{agent}，很抱歉让您久等了，我来帮您处理。",
        "已经帮您查到了，我这边为您加急处理，预计今天内给您答复。",
        "给您带来不便非常抱歉，已为您申请了一张无门槛优惠券作为补偿。",
        "还有其他可以帮您的吗？",
    ),
    "en": (
        "Hi, this is {agent}. Sorry for the wait, I'll take care of this.",
        "I've found your order and escalated it; you'll hear from us today.",
        "Sorry for the trouble. I've added a coupon to your account.",
        "Is there anything else I can help with?",
    ),
}
CLOSING = {
    "zh": "我是智能助手，人工客服已处理完毕，如有其他问题随时问我。",
    "en": "I'm the assistant again. If anything else comes up, just ask.",
}


@dataclass
class Script:
    """One generated conversation: its start and its events (offset seconds from it)."""

    started: datetime
    channel: str
    language: str
    customer: str | None
    events: list[tuple[float, str, str, str | None, dict[str, Any]]] = field(default_factory=list)
    llm_calls: list[tuple[float, int, int]] = field(default_factory=list)  # at, in, out tokens
    handoff: dict[str, Any] | None = None  # the handoff object, when it was handed off
    in_hours: bool = True
    complaint: bool = False

    def add(self, at: float, type_: str, actor: str, text: str | None, **payload: Any) -> float:
        self.events.append((at, type_, actor, text, payload))
        return at


@dataclass(frozen=True)
class HistoryCounts:
    conversations: int
    events: int
    handoffs: int
    after_hours: int
    skipped: bool = False


def _faq(language: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (DATA / "faq.jsonl").read_text("utf-8").splitlines()]
    return [r for r in rows if r.get("language", "zh") == language and r.get("enabled", True)]


def _shop() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    users = json.loads((DATA / "shop" / "users.json").read_text("utf-8"))
    orders = json.loads((DATA / "shop" / "orders.json").read_text("utf-8"))
    return [{"id": k, **v} for k, v in users.items()], orders


def _reply(text: str, language: str, decision: str, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "replies": [{"text": text, "language": language, "type": "text"}],
        "decision": decision,
        "language": language,
        "intent": None,
        "confidence": 0.0,
        "faq_id": None,
        "suggestions": [],
        "handoff": False,
        "handoff_reason": None,
        "citations": [],
        "operations": [],
        "flow": None,
        "slots": {},
        "commands": [],
        "entities": [],
        "emotion": None,
    }
    payload.update(fields)
    return payload


def _emotion(score: float) -> dict[str, Any]:
    label = "negative" if score <= -0.3 else "positive" if score >= 0.4 else "neutral"
    return {"label": label, "score": round(score, 3), "anger": round(max(0.0, -score), 3)}


class Generator:
    def __init__(self, rng: random.Random, now: datetime, days: int, in_hours: Any) -> None:
        self.rng = rng
        self.now = now
        self.days = days
        self.in_hours = in_hours  # naive UTC datetime -> bool (the tenant's business hours)
        self.faq = {"zh": _faq("zh"), "en": _faq("en")}
        self.users, self.orders = _shop()
        # days ago -> weight: the oldest day has 70% of yesterday's traffic
        self.day_weights = [1.0 - 0.3 * (ago - 1) / max(1, days - 1) for ago in range(1, days + 1)]

    def start_time(self) -> datetime:
        """A moment on one of the ``days`` days before today (the shop's date, Beijing time):
        recent days a little busier (a shop that grows), the hours of the day weighted by a
        shop's rhythm. Today is left to live traffic."""
        rng = self.rng
        ago = rng.choices(range(1, self.days + 1), weights=self.day_weights)[0]
        hour = rng.choices(range(24), weights=HOURLY)[0]
        local_midnight = (self.now + SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
        local = local_midnight - timedelta(days=ago) + timedelta(hours=hour)
        local += timedelta(seconds=rng.randrange(3600))
        return local - SHANGHAI

    def script(self) -> Script:
        rng = self.rng
        language = "en" if rng.random() < 0.14 else "zh"
        channel = rng.choices([c for c, _ in CHANNELS], weights=[w for _, w in CHANNELS])[0]
        kind = rng.choices(
            ["faq", "clarify", "task", "write", "unanswered", "handoff", "complaint"],
            weights=[48, 7, 18, 6, 9, 6, 3],
        )[0]
        # the shop knows who asks about an order (or a logged-in account); others are anonymous
        known = rng.random() < (0.35 if kind in ("task", "write") else 0.03)
        user = rng.choice(self.users) if known else None
        s = Script(self.start_time(), channel, language, user["id"] if user else None)
        s.add(0, CONVERSATION_STARTED, "system", None, channel=channel, generated=True)
        welcome = "您好，欢迎光临小铺优选！" if language == "zh" else "Hi, welcome to the shop!"
        s.add(0.2, BOT_REPLY, "bot", welcome, **_reply(welcome, language, "welcome"))
        t = rng.uniform(4, 40)
        if kind == "faq":
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
                t = self._faq_turn(s, t) + rng.uniform(8, 60)
            self._ending(s, t, satisfied=0.85)
        elif kind == "clarify":
            t = self._clarify(s, t)
            self._ending(s, t, satisfied=0.75)
        elif kind == "task":
            t = self._task(s, t, user or rng.choice(self.users))
            self._ending(s, t, satisfied=0.8)
        elif kind == "write":
            t = self._write(s, t, user or rng.choice(self.users))
            self._ending(s, t, satisfied=0.8)
        elif kind == "unanswered":
            t = self._unanswered(s, t)
            if rng.random() < 0.5:
                self._handoff(s, t + rng.uniform(5, 30), "repeated_failure")
            else:
                self._ending(s, t, satisfied=0.35)
        elif kind == "handoff":
            if rng.random() < 0.5:
                t = self._faq_turn(s, t) + rng.uniform(10, 40)
            self._handoff(s, t, "customer_request")
        else:
            self._handoff(s, t, "complaint")
        return s

    # -- turns -------------------------------------------------------------------------------
    def _faq_turn(self, s: Script, t: float, confidence: float | None = None) -> float:
        rng = self.rng
        entry = rng.choice(self.faq[s.language])
        question = rng.choice([entry["question"], *entry["similar_questions"]])
        s.add(t, CUSTOMER_MESSAGE, "customer", question)
        conf = confidence if confidence is not None else rng.uniform(0.72, 0.99)
        if rng.random() < 0.12:
            s.llm_calls.append((t + 0.4, rng.randint(700, 1400), rng.randint(30, 90)))
        s.add(
            t + rng.uniform(0.05, 0.4),
            BOT_REPLY,
            "bot",
            entry["answer"],
            **_reply(
                entry["answer"],
                s.language,
                "answer",
                intent=entry["id"],
                faq_id=entry["id"],
                confidence=round(conf, 4),
                emotion=_emotion(rng.uniform(-0.1, 0.4)),
            ),
        )
        return t

    def _clarify(self, s: Script, t: float) -> float:
        rng = self.rng
        entries = rng.sample(self.faq[s.language], 3)
        vague = "那个怎么弄" if s.language == "zh" else "how does that work"
        s.add(t, CUSTOMER_MESSAGE, "customer", vague)
        ask = "您是不是想问：" if s.language == "zh" else "Did you mean:"
        suggestions = [{"faq_id": e["id"], "text": e["question"]} for e in entries]
        text = ask + " / ".join(e["question"] for e in entries)
        s.add(
            t + 0.2,
            BOT_REPLY,
            "bot",
            text,
            **_reply(text, s.language, "clarify", confidence=0.41, suggestions=suggestions),
        )
        t += rng.uniform(6, 25)
        chosen = entries[0]
        s.add(t, CUSTOMER_MESSAGE, "customer", chosen["question"])
        s.add(
            t + 0.2,
            BOT_REPLY,
            "bot",
            chosen["answer"],
            **_reply(
                chosen["answer"],
                s.language,
                "answer",
                intent=chosen["id"],
                faq_id=chosen["id"],
                confidence=0.97,
            ),
        )
        return t

    def _order_of(self, user: dict[str, Any] | None) -> dict[str, Any] | None:
        if not user or not user.get("orders"):
            return None
        order_id = self.rng.choice(user["orders"])
        return self.orders.get(order_id)

    def _task(self, s: Script, t: float, user: dict[str, Any] | None) -> float:
        rng = self.rng
        order = self._order_of(user)
        flow = rng.choice(("order_status", "track_shipment", "return_eligibility"))
        ask = {
            "order_status": ("我的订单到哪了", "where is my order"),
            "track_shipment": ("帮我查下物流", "track my parcel"),
            "return_eligibility": ("这个还能退吗", "can I still return this"),
        }[flow][0 if s.language == "zh" else 1]
        s.add(t, CUSTOMER_MESSAGE, "customer", ask)
        if order is not None and s.customer is None and user is not None:  # identify first
            need = "请提供下单用的邮箱" if s.language == "zh" else "Your email, please?"
            s.add(
                t + 0.2,
                BOT_REPLY,
                "bot",
                need,
                **_reply(need, s.language, "flow", intent=f"flow:{flow}", flow=flow),
            )
            t += rng.uniform(10, 40)
            s.add(t, CUSTOMER_MESSAGE, "customer", str(user["email"]))
        if order is None:
            need = "请提供下单用的邮箱或手机号" if s.language == "zh" else "Your email, please?"
            s.add(
                t + 0.2,
                BOT_REPLY,
                "bot",
                need,
                **_reply(need, s.language, "flow", intent=f"flow:{flow}", flow=flow),
            )
            return t
        status = order["status"]
        text = (
            f"订单 {order['order_id']} 当前状态：{status}。"
            if s.language == "zh"
            else f"Order {order['order_id']} is {status}."
        )
        s.add(
            t + rng.uniform(0.05, 0.3),
            BOT_REPLY,
            "bot",
            text,
            **_reply(
                text,
                s.language,
                "flow",
                intent=f"flow:{flow}",
                flow=flow,
                confidence=0.93,
                slots={"order_id": order["order_id"]},
            ),
        )
        return t

    def _write(self, s: Script, t: float, user: dict[str, Any] | None) -> float:
        rng = self.rng
        order = self._order_of(user)
        if order is None:
            return self._task(s, t, user)
        flow = "cancel_order" if order["status"] == "pending" else "return_items"
        ask = "帮我取消订单" if flow == "cancel_order" else "我要退货"
        s.add(t, CUSTOMER_MESSAGE, "customer", ask if s.language == "zh" else "I want to " + flow)
        amount = sum(float(i["price"]) for i in order["items"][:1])
        preview = (
            f"将为订单 {order['order_id']} 办理：{flow}，退款 ¥{amount:.2f}，确认吗？"
            if s.language == "zh"
            else f"{flow} for {order['order_id']}: refund ¥{amount:.2f}. Confirm?"
        )
        slots = {"order_id": order["order_id"]}
        s.add(
            t + 0.3,
            BOT_REPLY,
            "bot",
            preview,
            **_reply(preview, s.language, "flow", intent=f"flow:{flow}", flow=flow, slots=slots),
        )
        t += rng.uniform(5, 20)
        s.add(t, CUSTOMER_MESSAGE, "customer", "确认" if s.language == "zh" else "yes")
        done = "已办理完成。" if s.language == "zh" else "Done."
        operation = {
            "name": "cancel_pending_order" if flow == "cancel_order" else "return_items",
            "arguments": {"order_id": order["order_id"]},
            "status": "executed",
            "ledger_id": None,
            "amount": amount,
        }
        s.add(
            t + 0.4,
            BOT_REPLY,
            "bot",
            done,
            **_reply(
                done,
                s.language,
                "flow",
                intent=f"flow:{flow}",
                flow=flow,
                slots=slots,
                operations=[operation],
                confidence=0.99,
            ),
        )
        return t

    def _unanswered(self, s: Script, t: float) -> float:
        rng = self.rng
        family = rng.choice(UNCOVERED[s.language]).split("|")
        for i in range(rng.choice((1, 2))):
            question = rng.choice(family)
            s.add(t, CUSTOMER_MESSAGE, "customer", question)
            sorry = (
                "抱歉，这个问题我暂时回答不了。需要为您转人工客服吗？"
                if s.language == "zh"
                else "Sorry, I can't answer that yet. Shall I get a human agent?"
            )
            s.add(
                t + 0.2,
                BOT_REPLY,
                "bot",
                sorry,
                **_reply(sorry, s.language, "fallback", confidence=round(rng.uniform(0.1, 0.4), 4)),
            )
            if i == 0:
                s.llm_calls.append((t + 0.5, rng.randint(900, 1600), rng.randint(40, 120)))
            t += rng.uniform(8, 30)
        return t

    def _handoff(self, s: Script, t: float, reason: str) -> None:
        rng = self.rng
        if reason == "complaint":
            text = rng.choice(COMPLAINTS)
            s.language = "en" if text.isascii() else "zh"
            s.complaint = True
            emotion = _emotion(rng.uniform(-0.95, -0.55))
        else:
            text = rng.choice(HANDOFF_ASKS[:4] if s.language == "zh" else HANDOFF_ASKS[4:])
            emotion = _emotion(rng.uniform(-0.4, 0.1))
        s.add(t, CUSTOMER_MESSAGE, "customer", text)
        moment = s.started + timedelta(seconds=t)
        s.in_hours = bool(self.in_hours(moment))
        reply = (
            "正在为您转接人工客服，请稍候。"
            if s.language == "zh"
            else "I'm connecting you to a human agent."
        )
        if not s.in_hours:
            reply = (
                "现在不在人工客服工作时间，我们已记录您的问题，客服上班后会尽快联系您。"
                if s.language == "zh"
                else "Our agents are offline now; we'll get back to you when they are in."
            )
        s.add(
            t + 0.2,
            BOT_REPLY,
            "bot",
            reply,
            **_reply(
                reply,
                s.language,
                "handoff",
                intent="handoff",
                handoff=True,
                handoff_reason=reason,
                confidence=1.0,
                emotion=emotion,
            ),
        )
        summary = (
            [f"客户诉求：{text[:30]}", "机器人：已尝试自助解答", "待办：人工跟进"]
            if s.language == "zh"
            else [f"Customer: {text[:40]}", "Bot: tried self-service", "Pending: human follow-up"]
        )
        queue = "after_sales" if reason == "complaint" else "general"
        s.handoff = {
            "reason": reason,
            "intent": "handoff",
            "flow": None,
            "slots": {},
            "operations": {"done": [], "pending": []},
            "emotion": {"label": emotion["label"], "score": emotion["score"]},
            "summary": summary,
            "customer": s.customer,
            "language": s.language,
            "queue": queue,
            "order_value": None,
            "transcript_tail": [{"actor": "customer", "text": text}],
        }
        s.add(
            t + 0.3,
            HANDOFF_REQUESTED,
            "system",
            None,
            handoff_id=None,
            handoff=s.handoff,
            queue=queue,
            in_hours=s.in_hours,
            ticket_id=None,
        )
        if not s.in_hours:
            return
        agent = rng.choice(AGENTS)
        t += rng.lognormvariate(math.log(60), 0.8)  # the queue wait
        s.add(t, HANDOFF_TAKEN, "system", None, handoff_id=None, agent=agent)
        lines = AGENT_LINES[s.language]
        for i, line in enumerate(lines[: rng.choice((2, 3, 4))]):
            t += rng.uniform(15, 90) if i else rng.uniform(3, 20)
            s.add(t, AGENT_MESSAGE, "agent", line.format(agent=agent), agent=agent)
            if i == 0:
                t += rng.uniform(10, 60)
                s.add(t, CUSTOMER_MESSAGE, "customer", "好的" if s.language == "zh" else "ok")
        t += rng.uniform(20, 120)
        if rng.random() < 0.45:
            s.add(t, HANDOFF_RELEASED, "system", None, handoff_id=None, agent=agent)
            text = CLOSING[s.language]
            s.add(t + 0.1, BOT_REPLY, "bot", text, **_reply(text, s.language, "chitchat"))
        else:
            s.add(t, CONVERSATION_CLOSED, "system", None, by=f"agent:{agent}", reason="resolved")
        if rng.random() < 0.5:
            score = rng.choices((1, 2, 3, 4, 5), weights=(1, 1, 2, 4, 5))[0]
            s.add(t + rng.uniform(5, 40), CSAT, "customer", None, score=score, comment=None)

    def _ending(self, s: Script, t: float, satisfied: float) -> None:
        rng = self.rng
        if rng.random() < 0.45:
            t += rng.uniform(5, 30)
            thanks = rng.choice(THANKS[:3] if s.language == "zh" else THANKS[3:])
            s.add(t, CUSTOMER_MESSAGE, "customer", thanks)
            bye = "不客气，祝您购物愉快！" if s.language == "zh" else "You're welcome!"
            s.add(
                t + 0.1,
                BOT_REPLY,
                "bot",
                bye,
                **_reply(bye, s.language, "chitchat", intent="thanks", confidence=1.0),
            )
        if rng.random() < 0.3:
            good = rng.random() < satisfied
            score = rng.choice((4, 5, 5)) if good else rng.choice((1, 2, 3))
            s.add(t + rng.uniform(3, 20), CSAT, "customer", None, score=score, comment=None)


def has_history(svc: Any, tenant: str) -> bool:
    """Did an earlier run generate this tenant's history already?"""
    t = svc.tenants.get(tenant)
    with svc.sessions() as s:
        count = s.execute(
            select(func.count())
            .select_from(ConversationRow)
            .where(ConversationRow.tenant_id == t.id, ConversationRow.channel != "test")
            .where(ConversationRow.created_at < svc.clock() - timedelta(days=1))
        ).scalar()
    return bool(count)


def generate(
    count: int, days: int, now: datetime, in_hours: Any, seed: int = 20261122
) -> list[Script]:
    gen = Generator(random.Random(seed), now, days, in_hours)
    scripts = [gen.script() for _ in range(count)]
    scripts.sort(key=lambda s: s.started)
    return scripts


def seed_history(
    svc: Any,
    tenant: str,
    *,
    conversations: int = 3000,
    days: int = 30,
    seed: int = 20261122,
    staffed: Callable[[datetime], bool] | None = None,
) -> HistoryCounts:
    """Write ``conversations`` generated conversations over the last ``days`` days into the
    tenant's history (once: a tenant that has older conversations is left alone), with their
    handoffs and tickets. ``staffed`` says when agents were on duty (default: the tenant's
    business hours); a handoff outside it became a ticket. Returns what was written."""
    from kefu.dialogue.hours import within_business_hours

    if has_history(svc, tenant):
        return HistoryCounts(0, 0, 0, 0, skipped=True)
    settings = svc.tenants.settings(tenant)
    now = svc.clock()
    if staffed is None:  # when agents were on duty: the tenant's business hours

        def staffed(at: datetime) -> bool:
            return within_business_hours(settings, at)

    scripts = generate(conversations, days, now, staffed, seed)
    t = svc.tenants.get(tenant)
    currency = str(settings["llm_currency"])
    conv_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    call_rows: list[dict[str, Any]] = []
    for script in scripts:
        cid = str(uuid.uuid4())
        conv_rows.append(
            {
                "id": cid,
                "tenant_id": t.id,
                "channel": script.channel,
                "customer": script.customer,
                "language": script.language,
                "created_at": script.started,
            }
        )
        for seq, (at, type_, actor, text, payload) in enumerate(script.events, 1):
            event_rows.append(
                {
                    "conversation_id": cid,
                    "seq": seq,
                    "type": type_,
                    "actor": actor,
                    "text": text,
                    "payload": payload,
                    "created_at": script.started + timedelta(seconds=at),
                }
            )
        for at, prompt, completion in script.llm_calls:
            cost = Decimal(prompt * 2 + completion * 8) / Decimal(1_000_000)
            call_rows.append(
                {
                    "tenant_id": t.id,
                    "conversation_id": cid,
                    "turn": None,
                    "model": "deepseek-chat",
                    "purpose": "understanding",
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "cost": cost.quantize(Decimal("0.000001")),
                    "currency": currency,
                    "latency_s": 0.9,
                    "outcome": "ok",
                    "created_at": script.started + timedelta(seconds=at),
                }
            )
    with svc.sessions.begin() as s:
        conn = s.connection()
        for start in range(0, len(conv_rows), 2000):
            conn.execute(insert(ConversationRow), conv_rows[start : start + 2000])
        handoff_ids = _handoff_rows(s, t.id, scripts, [row["id"] for row in conv_rows])
    ticket_ids = _tickets(svc, tenant, scripts, [row["id"] for row in conv_rows], handoff_ids)
    for row in event_rows:  # the events name the handoff and ticket rows they belong to
        payload = row["payload"]
        if "handoff_id" in payload:
            payload["handoff_id"] = handoff_ids.get(row["conversation_id"])
        if row["type"] == HANDOFF_REQUESTED:
            payload["ticket_id"] = ticket_ids.get(row["conversation_id"])
    with svc.sessions.begin() as s:
        conn = s.connection()
        for rows, table in ((event_rows, EventRow), (call_rows, LlmCallRow)):
            for start in range(0, len(rows), 2000):
                conn.execute(insert(table), rows[start : start + 2000])
    handoffs = [s for s in scripts if s.handoff is not None]
    return HistoryCounts(
        conversations=len(scripts),
        events=len(event_rows),
        handoffs=len(handoffs),
        after_hours=sum(1 for s in handoffs if not s.in_hours),
    )


def _moment(script: Script, type_: str) -> datetime | None:
    for at, kind, *_ in script.events:
        if kind == type_:
            return script.started + timedelta(seconds=at)
    return None


def _handoff_rows(
    session: Any, tenant_id: int, scripts: Sequence[Script], ids: Sequence[str]
) -> dict[str, int]:
    """The desk's rows of the generated handoffs (all finished: released, closed, or turned
    into a ticket out of hours). Conversation id -> handoff id."""
    from kefu.storage.desk_tables import HandoffRow

    rows: list[tuple[str, HandoffRow]] = []
    for script, cid in zip(scripts, ids, strict=True):
        if script.handoff is None:
            continue
        requested = _moment(script, HANDOFF_REQUESTED)
        taken = _moment(script, HANDOFF_TAKEN)
        released = _moment(script, HANDOFF_RELEASED)
        closed = _moment(script, CONVERSATION_CLOSED)
        agent = next((e[4]["agent"] for e in script.events if e[1] == HANDOFF_TAKEN), None)
        status = "released" if released else "closed" if closed else "ticketed"
        row = HandoffRow(
            tenant_id=tenant_id,
            conversation_id=cid,
            status=status,
            queue=str(script.handoff["queue"]),
            reason=str(script.handoff["reason"]),
            handoff=script.handoff,
            requested_at=requested,
            taken_at=taken,
            taken_by=agent,
            released_at=released,
            closed_at=closed,
        )
        rows.append((cid, row))
    session.add_all([row for _, row in rows])
    session.flush()
    return {cid: row.id for cid, row in rows}


def _tickets(
    svc: Any,
    tenant: str,
    scripts: Sequence[Script],
    ids: Sequence[str],
    handoff_ids: dict[str, int],
) -> dict[str, int]:
    """Tickets of the generated history, opened (and mostly worked) at the times they would
    have been: an out-of-hours handoff leaves one, and so does a complaint. The service's
    clock is moved for it and put back. Conversation id -> ticket id."""
    rng = random.Random(len(scripts))
    real_clock = svc.clock
    out: dict[str, int] = {}
    try:
        for script, cid in zip(scripts, ids, strict=True):
            if script.handoff is None or (script.in_hours and not script.complaint):
                continue
            at = _moment(script, HANDOFF_REQUESTED) or script.started
            svc.clock = lambda at=at: at
            handoff = script.handoff
            source = "handoff_after_hours" if not script.in_hours else "complaint"
            summary = handoff["summary"]
            ticket = svc.tickets.open(
                tenant,
                source=source,
                subject=str(summary[0]),
                description="\n".join(summary),
                conversation_id=cid,
                customer=script.customer,
                emotion=handoff["emotion"],
                dedupe_key=f"handoff:{handoff_ids[cid]}",
                data={"handoff": handoff},
            )
            out[cid] = ticket.id
            agent = rng.choice(AGENTS)
            if rng.random() < 0.85:  # most are worked; the newest may still be open
                worked = at + timedelta(minutes=rng.lognormvariate(math.log(90), 0.9))
                if worked < real_clock():
                    svc.clock = lambda worked=worked: worked
                    svc.tickets.comment(ticket.id, "已电话联系客户处理。", actor=agent)
                    svc.tickets.update(ticket.id, actor=agent, status="resolved")
    finally:
        svc.clock = real_clock
    svc.tickets.mark_breaches()
    return out


def scripts_summary(scripts: Sequence[Script]) -> dict[str, int]:
    """How many of each kind of conversation a generation holds (for tests and the CLI)."""
    out: dict[str, int] = {"conversations": len(scripts), "handoffs": 0, "csat": 0}
    for s in scripts:
        out["handoffs"] += s.handoff is not None
        out["csat"] += any(e[1] == CSAT for e in s.events)
    return out
