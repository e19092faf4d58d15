"""The flow catalogue of a tenant: the built-in flows (L2 reads, L3 writes), overridden by the
tenant's own file."""

from __future__ import annotations

import functools
from importlib import resources

from kefu.dialogue.flows import FlowCatalog, parse_flows
from kefu.dialogue.tasks import ShopTasks
from kefu.dialogue.write_tasks import WriteTasks
from kefu.operations.requests import ALL_OPERATIONS

BUILTIN = ("flows_data/default.yaml", "flows_data/operations.yaml")


def known_operations() -> set[str]:
    return set(ShopTasks.OPERATIONS) | set(WriteTasks.WRITE_OPERATIONS)


def known_validators() -> set[str]:
    return set(ShopTasks.VALIDATORS) | set(WriteTasks.WRITE_VALIDATORS)


def known_writes() -> set[str]:
    return set(ALL_OPERATIONS)


@functools.cache
def builtin_catalog() -> FlowCatalog:
    catalog: FlowCatalog | None = None
    for name in BUILTIN:
        text = resources.files("kefu.dialogue").joinpath(name).read_text(encoding="utf-8")
        part = parse_flows(
            text,
            "kefu/dialogue/" + name,
            known_ops=known_operations(),
            known_validators=known_validators(),
            known_writes=known_writes(),
        )
        catalog = part if catalog is None else catalog.merged(part)
    assert catalog is not None
    return catalog


def parse_tenant_flows(text: str, source: str) -> FlowCatalog:
    """Validate a tenant's flow file (links may name built-in flows)."""
    return parse_flows(
        text,
        source,
        known_ops=known_operations(),
        known_validators=known_validators(),
        known_flows=set(builtin_catalog().flows),
        known_writes=known_writes(),
    )


@functools.lru_cache(maxsize=64)
def tenant_catalog(text: str | None, source: str = "flows.yaml") -> FlowCatalog:
    if text is None:
        return builtin_catalog()
    return builtin_catalog().merged(parse_tenant_flows(text, source))
