"""Language detection for the two languages kefu speaks (zh, en).

Script based: any real amount of Han characters makes a message Chinese (code-switching such as
"我的order还没到" is Chinese with English words); Latin words alone make it English. Fast (a pass
over the characters) and deterministic, which matters on the L1 path.
"""

from __future__ import annotations

import re

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def detect_language(text: str, default: str | None = None) -> str | None:
    """Return ``"zh"``, ``"en"`` or ``default`` when the text has neither script."""
    han = len(_HAN.findall(text))
    words = len(_LATIN_WORD.findall(text))
    if han == 0 and words == 0:
        return default
    if han == 0:
        return "en"
    if words == 0:
        return "zh"
    # Mixed: Chinese unless a stray Han character sits in a clearly English sentence.
    return "zh" if han * 2 >= words or han >= 4 else "en"
