"""Greetings, thanks, goodbyes and requests for a human, recognised without any model.

Works on normalised text (lower case, simplified, no punctuation). A message is small talk only
when nothing but small-talk phrases and fillers remain, so "你好，怎么退货" is a question with a
greeting in front (``strip_greeting`` removes it) rather than a greeting.
"""

from __future__ import annotations

import re

GREETING = (
    "你好啊",
    "你好呀",
    "你好",
    "您好",
    "在吗",
    "在不在",
    "在嘛",
    "有人吗",
    "有人在吗",
    "哈喽",
    "嗨",
    "早上好",
    "上午好",
    "中午好",
    "下午好",
    "晚上好",
    "早安",
    "亲在吗",
    "客服在吗",
    "客服你好",
    "hello",
    "hi",
    "hey",
    "hiya",
    "good morning",
    "good afternoon",
    "good evening",
    "anyone there",
    "is anyone there",
    "howdy",
    "greetings",
)
THANKS = (
    "谢谢你",
    "谢谢您",
    "谢谢",
    "多谢",
    "感谢",
    "谢啦",
    "谢了",
    "非常感谢",
    "太感谢了",
    "辛苦了",
    "麻烦了",
    "thank you very much",
    "thank you so much",
    "thank you",
    "thanks a lot",
    "thanks",
    "thx",
    "ty",
    "cheers",
    "much appreciated",
    "appreciate it",
)
GOODBYE = (
    "再见",
    "拜拜",
    "拜",
    "88",
    "回头见",
    "下次见",
    "没有了",
    "没事了",
    "没问题了",
    "没别的了",
    "goodbye",
    "good bye",
    "bye bye",
    "bye",
    "see you",
    "see ya",
    "that's all",
    "thats all",
    "nothing else",
    "that is all",
)
HANDOFF = (
    "转人工客服",
    "转人工",
    "人工客服",
    "人工服务",
    "找人工",
    "要人工",
    "接人工",
    "人工",
    "真人客服",
    "真人",
    "找客服",
    "客服人员",
    "活人",
    "human agent",
    "human",
    "live agent",
    "real person",
    "real agent",
    "customer service agent",
    "talk to a human",
    "speak to a human",
    "speak with a human",
    "talk to an agent",
    "speak to an agent",
    "customer service",
    "customer support",
    "representative",
    "operator",
    "speak to someone",
    "talk to someone",
    "speak to a person",
    "talk to a person",
    "agent",
)
FILLERS = (
    "啊",
    "呀",
    "哦",
    "噢",
    "喔",
    "嗯",
    "呢",
    "吧",
    "哈",
    "哈哈",
    "亲",
    "亲亲",
    "的",
    "了",
    "好的",
    "好",
    "ok",
    "okay",
    "yes",
    "嗯嗯",
    "我要",
    "我想",
    "请",
    "帮我",
    "给我",
    "麻烦",
    "please",
    "i want",
    "i need",
    "i'd like",
    "can i",
    "can",
    "could",
    "would",
    "let me",
    "to",
    "a",
    "an",
    "the",
    "with",
    "you",
    "your",
    "客服",
    "老板",
    "掌柜",
    "呗",
    "一下",
    "下",
    "ya",
    "oh",
    "so",
    "very",
    "much",
    "去",
    "我",
    "there",
    "want",
    "talk",
    "speak",
    "connect",
    "me",
    "transfer",
    "get",
    "just",
    "now",
    "all",
    "folks",
    "team",
)

_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("handoff", HANDOFF),
    ("thanks", THANKS),
    ("goodbye", GOODBYE),
    ("greeting", GREETING),
)


def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    alts = sorted(phrases, key=len, reverse=True)
    parts = []
    for p in alts:
        escaped = re.escape(p)
        # Latin phrases must stand as whole words; Chinese ones match inside a run.
        parts.append(rf"\b{escaped}\b" if p[0].isascii() else escaped)
    return re.compile("|".join(parts))


_PATTERNS = {kind: _pattern(phrases) for kind, phrases in _KINDS}
_FILLER = _pattern(FILLERS)
_EXPLICIT_HANDOFF = re.compile(
    r"转人工|人工客服|真人客服|找人工|我要人工|human agent|real person|live agent"
    r"|talk to a human|speak to a human"
)


def _rest(text: str, kinds: set[str]) -> str:
    for kind in kinds:
        text = _PATTERNS[kind].sub(" ", text)
    text = _FILLER.sub(" ", text)
    return re.sub(r"\s+", "", text)


def classify(norm: str) -> str | None:
    """``"handoff" | "thanks" | "goodbye" | "greeting"`` or None for anything else."""
    if not norm:
        return None
    found = {kind for kind, pat in _PATTERNS.items() if pat.search(norm)}
    if not found:
        return None
    if "handoff" in found and (_EXPLICIT_HANDOFF.search(norm) or not _rest(norm, found)):
        return "handoff"
    if _rest(norm, found):
        return None
    for kind, _ in _KINDS:
        if kind in found and kind != "handoff":
            # "谢谢，再见" is a goodbye; "你好，谢谢" a thanks.
            if kind == "thanks" and "goodbye" in found:
                return "goodbye"
            return kind
    return None


_LEADING_GREETING = re.compile(r"^(?:(?:" + _PATTERNS["greeting"].pattern + r"|亲|亲亲|请问)\s*)+")


def strip_greeting(norm: str) -> str:
    """Remove greetings at the start of a question: "你好 请问运费多少" -> "运费多少"."""
    return _LEADING_GREETING.sub("", norm).strip() or norm
