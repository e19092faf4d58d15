"""Conversations for the FAQ-draft tests: customers ask paraphrases of questions the small
knowledge base does not cover (a special VAT invoice, 专票; shipping to Canada), plus noise."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.kb_small import small_kb

from kefu.domain.conversation import AGENT_MESSAGE, CSAT, HANDOFF_REQUESTED
from kefu.service import Service

TENANT = "shop"
AGENT_REPLY = "可以开增值税专用发票，请把公司抬头和税号发给我们，或致电 13900139000 联系财务。"

ZH_FAMILY = ("你们开不开专票？我电话13800138000", "专票怎么开", "可以开专票吗")
EN_FAMILY = ("do you ship to Canada", "Can you ship to Canada?", "do you deliver to canada")
NOISE = (
    "你好",
    "谢谢",
    "转人工",
    "今天天气怎么样",
    "我的手机是13800138000，邮箱 a.b@qq.com",
    "运费怎么算",
    "is cash on delivery available",
)
PII = ("13800138000", "13900139000", "a.b@qq.com")


@dataclass
class Scenario:
    zh: list[str] = field(default_factory=list)  # conversation ids, in ZH_FAMILY order
    en: list[str] = field(default_factory=list)
    noise: list[str] = field(default_factory=list)


def converse(svc: Service, messages: tuple[str, ...] | list[str], tenant: str = TENANT) -> str:
    conv, _ = svc.start_conversation(tenant, "api")
    for text in messages:
        svc.handle_message(conv.id, text)
    return conv.id


def append(
    svc: Service, conversation_id: str, type_: str, actor: str, text: Any, payload: Any
) -> None:
    svc.conversations.append(conversation_id, [(type_, actor, text, payload)])


def setup_tenant(svc: Service, tenant: str = TENANT) -> None:
    svc.tenants.create(tenant, {"level": "L1", "language": "zh"})
    svc.faqs.upsert_many(tenant, small_kb())


def play(svc: Service, tenant: str = TENANT) -> Scenario:
    """The scenario's conversations. Each paraphrase goes unanswered in one of the ways the
    miner recognises, whatever the bot answered: a fallback (or a clarification), a request
    for a human right after it, a handoff the desk recorded, a bad rating."""
    sc = Scenario()
    # zh: the first is a fallback; after the others the customer asks for a human, and an
    # agent answers the last one.
    sc.zh.append(converse(svc, ["你好", ZH_FAMILY[0]], tenant))
    sc.zh.append(converse(svc, [ZH_FAMILY[1], "转人工"], tenant))
    cid = converse(svc, [ZH_FAMILY[2], "转人工"], tenant)
    append(svc, cid, AGENT_MESSAGE, "agent", AGENT_REPLY, {"agent": "小王"})
    sc.zh.append(cid)
    # en: the bot answers them with the shipping-fee FAQ (wrongly): the customers ask for a
    # human, the desk records a handoff, a customer rates it 1.
    sc.en.append(converse(svc, [EN_FAMILY[0], "转人工"], tenant))
    cid = converse(svc, [EN_FAMILY[1]], tenant)
    append(svc, cid, CSAT, "customer", "not what I asked", {"score": 1, "comment": ""})
    sc.en.append(cid)
    cid = converse(svc, [EN_FAMILY[2]], tenant)
    append(svc, cid, HANDOFF_REQUESTED, "system", None, {"handoff_id": 1, "queue": "default"})
    sc.en.append(cid)
    # noise: small talk, a handoff request, an off-topic question, personal data, a
    # question the bot answers well, a lone uncovered question.
    sc.noise.append(converse(svc, list(NOISE[:4]), tenant))
    sc.noise.append(converse(svc, list(NOISE[4:]), tenant))
    return sc
