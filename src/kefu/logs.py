"""kefu's loggers: every record is PII-masked before any handler sees it.

Log lines quote commands, slot values and error details, which can carry a customer's phone,
email or address. :func:`get_logger` returns a logger whose records pass through
:class:`PiiMaskingFilter` (phones, ID and card numbers, emails, street addresses become
placeholders such as ``[PHONE_1]``), so no handler -- console, file or a log shipper -- ever
receives them. Use it instead of ``logging.getLogger`` everywhere in kefu.
"""

from __future__ import annotations

import logging

from kefu.understanding.pii import Vault, mask


class PiiMaskingFilter(logging.Filter):
    """Replaces a record's message with its masked text (each record gets its own vault: log
    lines never map back)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):  # a malformed format string: keep logging's behaviour
            return True
        masked = mask(text, Vault())
        if masked != text or record.args:
            record.msg = masked
            record.args = None
        return True


_FILTER = PiiMaskingFilter()


def get_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` with PII masking attached (once)."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger
