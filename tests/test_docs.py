"""Docs that must not drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

from kefu.settings import SETTINGS, settings_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    for name in SETTINGS:
        assert f"`{name}`" in doc, f"setting {name} missing from docs/settings.md"
    assert settings_markdown() in doc, "regenerate the table with `kefu settings --markdown`"


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, flags=re.S)
    first = [line for line in blocks[0].splitlines() if line.strip()]
    assert len(first) == 2, first
    demo, tests = first
    assert "kefu demo" in demo and "pytest" in tests
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests.strip() in ci


def test_error_codes_are_documented() -> None:
    from kefu import errors

    doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.KefuError)
    }
    for code in codes | {"invalid_input", "not_found", "internal_error", "payload_too_large"}:
        assert f"`{code}`" in doc, f"error code {code} missing from docs/api.md"
