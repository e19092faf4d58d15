"""Per-tenant settings of the desk (registered into :data:`kefu.settings.SETTINGS`): the skill
groups handoffs are queued by, and the texts the customer sees while humans are in charge."""

from __future__ import annotations

from kefu.settings import Setting


def _i18n(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "desk.skill_groups",
        {},
        "Desk: skill groups (queues) for handoffs, as JSON {group: [intents, flow names or FAQ "
        'categories]}, e.g. {"after_sales": ["return_items", "flow:exchange_items", "退换货"]}; '
        "the first group listing the conversation's intent, flow or FAQ category takes the "
        'handoff, otherwise it waits in "general".',
        "json",
    ),
    Setting(
        "desk.transcript_tail",
        6,
        "Desk: turns of the conversation copied into the handoff object (transcript_tail).",
        "int",
        minimum=1,
        maximum=50,
    ),
    Setting(
        "template.handoff_queued",
        _i18n(
            "正在为您转接人工客服，您前面还有 {position} 位，请稍候。回复“取消转人工”可以继续和"
            "智能助手对话。",
            "Connecting you to a human agent; {position} customer(s) ahead of you. Please hold "
            'on. Reply "cancel" to go back to the assistant.',
        ),
        "Desk: holding reply while a handoff waits in the queue ({position}: customers ahead).",
        "i18n",
    ),
    Setting(
        "template.handoff_cancelled",
        _i18n(
            "好的，已为您取消转人工。我是智能助手，请问还有什么可以帮您？",
            "OK, I've cancelled the transfer. I'm the assistant again; how can I help?",
        ),
        "Desk: reply when the customer cancels a waiting handoff.",
        "i18n",
    ),
    Setting(
        "template.handoff_ticket",
        _i18n("您的工单号是 #{ticket}。", "Your ticket number is #{ticket}."),
        "Desk: added to the reply when a handoff outside business hours opens a ticket.",
        "i18n",
    ),
    Setting(
        "template.handoff_taken",
        _i18n("人工客服 {agent} 为您服务。", "{agent}, a human agent, is now helping you."),
        "Desk: notice to the customer when an agent takes the conversation ({agent}).",
        "i18n",
    ),
    Setting(
        "template.handoff_released",
        _i18n(
            "我是智能助手，有其他问题随时问我。",
            "I'm the virtual assistant again. Ask me anything else any time.",
        ),
        "Desk: the bot's greeting when an agent hands the conversation back.",
        "i18n",
    ),
)
