"""kefu's log records are PII-masked before any handler sees them."""

from __future__ import annotations

import logging

import pytest

from kefu.logs import get_logger


def test_a_log_line_never_carries_a_phone_or_an_email(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("kefu.test_logs")
    with caplog.at_level(logging.INFO, logger="kefu.test_logs"):
        log.info("rejected command %s", {"slot": "phone", "value": "13812345678"})
        log.info("customer wrote to %s about order #D1234567", "wang.li@example.com")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "13812345678" not in lines[0] and "[PHONE_1]" in lines[0]
    assert "wang.li@example.com" not in lines[1] and "[EMAIL_1]" in lines[1]
    assert "#D1234567" in lines[1]  # order ids are not PII and stay readable
    # the handlers saw the masked text too, not only the record's message
    assert "13812345678" not in caplog.text and "wang.li@example.com" not in caplog.text


def test_kefu_modules_use_masked_loggers(caplog: pytest.LogCaptureFixture) -> None:
    from kefu.dialogue import engine

    with caplog.at_level(logging.INFO, logger=engine.log.name):
        engine.log.info("slot value %s", "身份证 110101199003074578")
    assert "110101199003074578" not in caplog.text
    assert get_logger(engine.log.name) is engine.log
    assert len(engine.log.filters) == 1  # attached once, however often it is asked for
