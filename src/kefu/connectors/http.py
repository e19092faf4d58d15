"""The HTTP connector: kefu's shop port over a merchant's own REST API.

The public surface of the small modules behind it:

- :mod:`kefu.connectors.http_config`: the merchant YAML (schema, :func:`load_merchant_config`,
  :class:`~kefu.errors.MerchantConfigError` naming file, key and problem);
- :mod:`kefu.connectors.http_mapping`: merchant field names <-> our document names;
- :mod:`kefu.connectors.http_client`: auth, timeouts, retries only where safe, error mapping;
- :mod:`kefu.connectors.http_shop`: :class:`HttpShop`, reads, local dry runs with the embedded
  shop's rules, guarded writes with idempotency keys, lookups of a key;
- :mod:`kefu.connectors.http_extras`: the shop extensions (freight on an address change,
  partial and combined refunds, merges, coupons) and the merchant's shop rules document.

:func:`make_shop` picks the shop a process uses from :attr:`kefu.config.Config.shop_connector`
(``KEFU_SHOP_CONNECTOR``): the embedded shop, or the HTTP shop of a merchant file. The format
is documented in ``docs/http-connector.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session, sessionmaker

from kefu.config import Config
from kefu.connectors.embedded import EmbeddedShop
from kefu.connectors.http_config import MerchantConfig, load_merchant_config
from kefu.connectors.http_shop import HttpShop
from kefu.storage.tenants import TenantRepository

__all__ = ["HttpShop", "MerchantConfig", "load_merchant_config", "make_shop"]


def make_shop(
    config: Config,
    sessions: sessionmaker[Session],
    tenants: TenantRepository,
    *,
    env: Mapping[str, str] | None = None,
) -> EmbeddedShop | HttpShop:
    """The shop of ``config.shop_connector``: ``embedded`` (kefu's own database) or the path of
    a merchant file (read now; ``env``, default the process environment, resolves the auth
    header's ``${VARIABLE}``). Raises MerchantConfigError for a bad merchant file."""
    if config.shop_connector == "embedded":
        return EmbeddedShop(sessions, tenants)
    return HttpShop(load_merchant_config(config.shop_connector, env), tenants)
