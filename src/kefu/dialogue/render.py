"""Rendering templates with dotted variables (``{order.order_id}``) in the customer's language.

Precedence for a template name: the tenant's own ``template.NAME`` setting, then the flow file's
``templates`` section, then the built-in default. Unknown variables are left as written so a typo
in a template shows up in testing instead of raising mid-conversation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kefu.dialogue.flows import lookup
from kefu.settings import SETTINGS, TenantSettings

_VAR = re.compile(r"\{([\w.]+)\}")


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


class Renderer:
    def __init__(
        self, settings: TenantSettings, flow_templates: Mapping[str, Mapping[str, str]]
    ) -> None:
        self.settings = settings
        self.flow_templates = flow_templates

    def texts(self, name: str) -> Mapping[str, str]:
        """The zh/en texts of a template (raises KeyError when nobody defines it)."""
        key = f"template.{name}"
        if key in SETTINGS and (self.settings.is_stored(key) or name not in self.flow_templates):
            texts: Mapping[str, str] = self.settings[key]
            return texts
        return self.flow_templates[name]

    def has(self, name: str) -> bool:
        try:
            self.texts(name)
        except KeyError:
            return False
        return True

    def __call__(self, name: str, language: str, values: Mapping[str, Any] | None = None) -> str:
        texts = self.texts(name)
        text = texts.get(language) or texts.get("zh") or next(iter(texts.values()))
        return self.format(text, values or {})

    def format(self, text: str, values: Mapping[str, Any]) -> str:
        """Fill ``{dotted.names}`` in any string from ``values`` (plus brand and hours)."""
        env: dict[str, Any] = {"brand": self.settings["brand_name"]}
        env["hours"] = self.settings.hours_text()
        env["currency"] = self.settings["currency_symbol"]
        env.update(values)

        def sub(m: re.Match[str]) -> str:
            found, value = lookup(env, m.group(1))
            return format_value(value) if found else m.group(0)

        return _VAR.sub(sub, text)
