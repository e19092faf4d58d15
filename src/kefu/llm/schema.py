"""A small JSON-schema check for constrained output.

Providers that support ``response_format={"type": "json_schema"}`` mostly keep to the schema,
but OpenAI-compatible servers differ and small local models drift, so every parsed reply is
checked here. Supported keywords: ``type`` (one or a list), ``properties``, ``required``,
``additionalProperties: false``, ``items``, ``enum``, ``const``, ``anyOf``, ``minLength`` /
``maxLength``, ``minimum`` / ``maximum``. Unknown keywords are ignored (the check is a guard,
not a full validator).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def schema_problems(value: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema``, as ``path: problem`` strings; empty when valid."""
    problems: list[str] = []
    if "anyOf" in schema:
        options = [schema_problems(value, s, path) for s in schema["anyOf"]]
        if all(options):
            problems.append(f"{path}: matches none of anyOf")
        return problems
    if "const" in schema and value != schema["const"]:
        problems.append(f"{path}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: not one of {list(schema['enum'])!r}")
    kinds = schema.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is(value, name) for name in names):
            problems.append(f"{path}: expected {'/'.join(names)}")
            return problems
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                problems.append(f"{path}.{name}: required")
        for name, item in value.items():
            if name in props:
                problems += schema_problems(item, props[name], f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                problems.append(f"{path}.{name}: not allowed")
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            problems += schema_problems(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{path}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{path}: longer than {schema['maxLength']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{path}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{path}: above {schema['maximum']}")
    return problems


def _is(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))
