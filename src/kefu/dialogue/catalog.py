"""The flow catalogue of a tenant: the built-in flows, overridden by the tenant's own file."""

from __future__ import annotations

import functools
from importlib import resources

from kefu.dialogue.flows import FlowCatalog, parse_flows
from kefu.dialogue.tasks import ShopTasks

BUILTIN = "flows_data/default.yaml"


def known_operations() -> set[str]:
    return set(ShopTasks.OPERATIONS)


def known_validators() -> set[str]:
    return set(ShopTasks.VALIDATORS)


@functools.cache
def builtin_catalog() -> FlowCatalog:
    text = resources.files("kefu.dialogue").joinpath(BUILTIN).read_text(encoding="utf-8")
    return parse_flows(
        text,
        "kefu/dialogue/" + BUILTIN,
        known_ops=known_operations(),
        known_validators=known_validators(),
    )


def parse_tenant_flows(text: str, source: str) -> FlowCatalog:
    """Validate a tenant's flow file (links may name built-in flows)."""
    return parse_flows(
        text,
        source,
        known_ops=known_operations(),
        known_validators=known_validators(),
        known_flows=set(builtin_catalog().flows),
    )


@functools.lru_cache(maxsize=64)
def tenant_catalog(text: str | None, source: str = "flows.yaml") -> FlowCatalog:
    if text is None:
        return builtin_catalog()
    return builtin_catalog().merged(parse_tenant_flows(text, source))
