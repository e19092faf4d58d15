"""The merchant YAML of the HTTP connector: schema, loading, and clear errors.

A merchant file declares the merchant's REST API: the base URL, one URL template per read and
per write (``GET /orders/{order_id}``, ``POST /orders/{order_id}/cancel``), the auth header
(its value names an environment variable, ``Bearer ${MERCHANT_TOKEN}``: secrets never live in
the file), timeouts, retries, where the merchant's idempotency record of a key can be read, and
the field mapping from the merchant's JSON names to our documents' (tau-bench retail) names.
tau's seven writes are required; the shop extensions' (``refund_order``, ``refund_orders``,
``merge_orders``, ``issue_coupon``) and the shop rules read (``reads.shop_rules``) are optional.
The format is documented in ``docs/http-connector.md``; ``tests/data/merchant.yaml`` is a
complete example.

:func:`load_merchant_config` reads and checks a file; anything that does not match raises
:class:`~kefu.errors.MerchantConfigError` naming the file, the key and the problem.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kefu.errors import MerchantConfigError

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
_TEMPLATE = re.compile(r"^(GET|POST|PUT|PATCH|DELETE)\s+(/\S*)$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

# The placeholders each template may use ({tenant} is always allowed).
READ_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "order": frozenset({"order_id"}),
    "customer": frozenset({"customer_id"}),
    "customer_by_email": frozenset({"email"}),
    "customer_by_phone": frozenset({"phone"}),
    "customer_by_name_zip": frozenset({"first_name", "last_name", "zip"}),
    "orders_of_customer": frozenset({"customer_id"}),
    "product": frozenset({"product_id"}),
    "products": frozenset(),
    "variant": frozenset({"item_id"}),
    "shop_rules": frozenset(),
}
_ORDER_WRITE = frozenset({"order_id", "reason", "payment_method_id"})
WRITE_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "cancel_order": _ORDER_WRITE,
    "modify_order_address": _ORDER_WRITE,
    "modify_customer_address": frozenset({"customer_id"}),
    "modify_order_items": _ORDER_WRITE,
    "modify_order_payment": _ORDER_WRITE,
    "return_order_items": _ORDER_WRITE,
    "exchange_order_items": _ORDER_WRITE,
    # shop extensions (docs/shop-extensions.md); optional: a merchant without them cannot
    # preview or run them
    "refund_order": frozenset({"order_id", "customer_id", "reason", "payment_method_id"}),
    "refund_orders": frozenset({"order_id", "customer_id", "reason"}),
    "merge_orders": frozenset({"order_id", "customer_id"}),
    "issue_coupon": frozenset({"customer_id", "template_id", "reason"}),
}
# Documents whose field names can be mapped (merchant name -> our name), and ``request`` for the
# bodies of writes (merchant name -> our argument name).
DOCUMENTS = (
    "order",
    "order_item",
    "payment",
    "fulfillment",
    "customer",
    "payment_method",
    "address",
    "product",
    "variant",
    "request",
    # shop extensions: an order's partial_refunds[], a customer's coupons[], the lines of a
    # combined refund's body, and the shop rules document (freight table, coupon templates)
    "partial_refund",
    "coupon",
    "refund_line",
    "shop_rules",
    "freight",
    "freight_zone",
    "coupon_template",
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One URL template: ``method`` and ``path`` (relative to the base URL, with
    ``{placeholders}`` and an optional query string)."""

    method: Method
    path: str

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(
            name for _, name, _, _ in string.Formatter().parse(self.path) if name is not None
        )


def _endpoint(value: object) -> Endpoint:
    if not isinstance(value, str):
        raise ValueError("must be text such as 'GET /orders/{order_id}'")
    found = _TEMPLATE.match(value.strip())
    if found is None:
        raise ValueError(
            f"{value!r} is not 'METHOD /path' (METHOD: GET, POST, PUT, PATCH or DELETE; the path "
            "starts with /)"
        )
    method: Method = found.group(1)  # type: ignore[assignment]
    endpoint = Endpoint(method, found.group(2))
    try:
        endpoint.placeholders  # noqa: B018 - parses the braces
    except ValueError as exc:
        raise ValueError(f"{value!r}: unbalanced braces ({exc})") from None
    return endpoint


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthSpec(_Strict):
    header: str = "Authorization"
    value: str

    @field_validator("value")
    @classmethod
    def _names_a_variable(cls, value: str) -> str:
        if not _ENV_REF.search(value):
            raise ValueError(
                "must name an environment variable, e.g. 'Bearer ${MERCHANT_TOKEN}': secrets are "
                "never stored in the file"
            )
        return value


class Timeouts(_Strict):
    connect: float = Field(default=3.0, gt=0, le=60)
    read: float = Field(default=10.0, gt=0, le=300)


class Retries(_Strict):
    """Tries of a safe request (a GET, or a write carrying an idempotency key) after a
    connection error or a 502/503/504: ``attempts`` in all, waiting ``backoff_s`` doubled each
    time, at most ``max_backoff_s``."""

    attempts: int = Field(default=3, ge=1, le=10)
    backoff_s: float = Field(default=0.2, ge=0, le=10)
    max_backoff_s: float = Field(default=2.0, ge=0, le=60)


class Reads(_Strict):
    order: str
    customer: str
    product: str
    products: str
    customer_by_email: str | None = None
    customer_by_phone: str | None = None
    customer_by_name_zip: str | None = None
    orders_of_customer: str | None = None
    variant: str | None = None
    shop_rules: str | None = None


class Writes(_Strict):
    cancel_order: str
    modify_order_address: str
    modify_customer_address: str
    modify_order_items: str
    modify_order_payment: str
    return_order_items: str
    exchange_order_items: str
    refund_order: str | None = None
    refund_orders: str | None = None
    merge_orders: str | None = None
    issue_coupon: str | None = None


class IdempotencySpec(_Strict):
    """``header``: the request header carrying the key (every write has one). ``lookup``: where
    the merchant's record of a key is read (``GET /idempotency/{key}``; optional): 404 means the
    merchant never applied a write with that key, 409 that one is in progress, 200 a body whose
    ``status_field`` is the stored response's HTTP status and ``body_field`` its body."""

    header: str = "Idempotency-Key"
    lookup: str | None = None
    status_field: str = "status"
    body_field: str = "body"


class RefusalSpec(_Strict):
    """Where a 409/422 body holds the refusal: dotted paths (``error.code``)."""

    reason: str = "reason"
    message: str = "message"


class _MerchantFile(_Strict):
    base_url: str
    auth: AuthSpec | None = None
    timeouts: Timeouts = Timeouts()
    retries: Retries = Retries()
    response_root: str | None = None
    refusal: RefusalSpec = RefusalSpec()
    idempotency: IdempotencySpec = IdempotencySpec()
    reads: Reads
    writes: Writes
    fields: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("fields")
    @classmethod
    def _known_documents(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for name, mapping in value.items():
            if name not in DOCUMENTS:
                raise ValueError(f"unknown document {name!r}; one of {', '.join(DOCUMENTS)}")
            ours = list(mapping.values())
            twice = sorted({v for v in ours if ours.count(v) > 1})
            if twice:
                raise ValueError(f"{name}: several merchant fields map to {', '.join(twice)}")
        return value


@dataclass(frozen=True, slots=True)
class MerchantConfig:
    """A checked merchant file, with the auth header's value resolved from the environment."""

    file: str
    base_url: str
    auth_header: str | None
    auth_value: str | None
    connect_timeout: float
    read_timeout: float
    retries: Retries
    response_root: str | None
    refusal: RefusalSpec
    idempotency_header: str
    lookup: Endpoint | None
    lookup_status_field: str
    lookup_body_field: str
    reads: Mapping[str, Endpoint]
    writes: Mapping[str, Endpoint]
    fields: Mapping[str, Mapping[str, str]]


def _check_endpoints(
    file: str, section: str, templates: Mapping[str, str | None], allowed: dict[str, frozenset[str]]
) -> dict[str, Endpoint]:
    endpoints: dict[str, Endpoint] = {}
    for name, template in templates.items():
        if template is None:
            continue
        key = f"{section}.{name}"
        try:
            endpoint = _endpoint(template)
        except ValueError as exc:
            raise MerchantConfigError(file, key, str(exc)) from None
        if section == "reads" and endpoint.method != "GET":
            raise MerchantConfigError(file, key, f"a read must be a GET, not {endpoint.method}")
        if section == "writes" and endpoint.method == "GET":
            raise MerchantConfigError(file, key, "a write cannot be a GET")
        unknown = sorted(endpoint.placeholders - allowed[name] - {"tenant"})
        if unknown:
            known = ", ".join(sorted(allowed[name] | {"tenant"}))
            raise MerchantConfigError(
                file, key, f"unknown placeholder {{{unknown[0]}}}; this template may use {known}"
            )
        endpoints[name] = endpoint
    return endpoints


def _resolve(file: str, value: str, env: Mapping[str, str]) -> str:
    def variable(found: re.Match[str]) -> str:
        name = found.group(1)
        resolved = env.get(name)
        if not resolved:
            raise MerchantConfigError(
                file, "auth.value", f"the environment variable {name} is not set"
            )
        return resolved

    return _ENV_REF.sub(variable, value)


def _place(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def parse_merchant_config(
    raw: object, file: str, env: Mapping[str, str] | None = None
) -> MerchantConfig:
    """Check the parsed YAML ``raw`` of ``file``; ``env`` (default: the process environment)
    resolves ``${NAME}`` in the auth header. Raises MerchantConfigError."""
    env = os.environ if env is None else env
    if not isinstance(raw, Mapping):
        raise MerchantConfigError(file, None, "must be a YAML mapping (key: value lines)")
    try:
        spec = _MerchantFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = _place(first["loc"]) or None
        problem = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            problem = "unknown key (a typo?)"
        raise MerchantConfigError(file, place, problem) from None
    reads = _check_endpoints(file, "reads", spec.reads.model_dump(), READ_PLACEHOLDERS)
    writes = _check_endpoints(file, "writes", spec.writes.model_dump(), WRITE_PLACEHOLDERS)
    lookup = None
    if spec.idempotency.lookup is not None:
        lookup = _check_endpoints(
            file,
            "idempotency",
            {"lookup": spec.idempotency.lookup},
            {"lookup": frozenset({"key"})},
        )["lookup"]
        if lookup.method != "GET":
            raise MerchantConfigError(file, "idempotency.lookup", "the lookup must be a GET")
    return MerchantConfig(
        file=file,
        base_url=spec.base_url,
        auth_header=None if spec.auth is None else spec.auth.header,
        auth_value=None if spec.auth is None else _resolve(file, spec.auth.value, env),
        connect_timeout=spec.timeouts.connect,
        read_timeout=spec.timeouts.read,
        retries=spec.retries,
        response_root=spec.response_root,
        refusal=spec.refusal,
        idempotency_header=spec.idempotency.header,
        lookup=lookup,
        lookup_status_field=spec.idempotency.status_field,
        lookup_body_field=spec.idempotency.body_field,
        reads=reads,
        writes=writes,
        fields={name: dict(mapping) for name, mapping in spec.fields.items()},
    )


def load_merchant_config(path: str | Path, env: Mapping[str, str] | None = None) -> MerchantConfig:
    """Read and check the merchant file at ``path``. Raises MerchantConfigError naming the file,
    the key and the problem (unreadable file, broken YAML, unknown or missing key, a bad
    template, an unset environment variable)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MerchantConfigError(
            file, None, f"cannot read the file ({type(exc).__name__})"
        ) from None
    try:
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        raise MerchantConfigError(file, None, f"not valid YAML{where}") from None
    return parse_merchant_config(raw, file, env)
