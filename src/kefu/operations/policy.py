"""Which writes a human must approve first (the approval queue of L3).

A policy in code, evaluated on a preview the shop's rules accept:

- ``amount_over_threshold``: the money the write moves (:attr:`Preview.amount`: the larger of
  its payments and its refunds; for the shop extensions, the freight charged or refunded, a
  partial or combined refund's total, the freight a merge refunds - not the payments it moves
  between orders - and the face value of a coupon: its amount, or a percentage coupon's
  ``max_value``) exceeds ``amount_threshold`` (in the shop's currency; strictly more, so 0
  queues every write that moves money and none that moves none);
- ``address_after_shipping``: an order's shipping address changes while the order is not
  ``pending``. (The embedded shop, with tau-bench's rules, refuses that change itself; the rule
  is for connectors whose shops allow it.)

The threshold is the tenant setting ``approval_amount_threshold`` (default 2000):
:meth:`ApprovalPolicy.from_settings` builds a tenant's policy, and the operation layer reads it
at every preview and confirmation.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kefu.connectors.port import OrderStatus
from kefu.operations.preview import Preview
from kefu.operations.requests import ModifyOrderAddress
from kefu.settings import SETTINGS, TenantSettings

THRESHOLD_SETTING = "approval_amount_threshold"


def _threshold(value: object) -> Decimal:
    """A stored threshold (a JSON number) as the Decimal it reads as (``4079.45``, not the
    binary float's expansion)."""
    return Decimal(str(value))


DEFAULT_AMOUNT_THRESHOLD = _threshold(SETTINGS[THRESHOLD_SETTING].default)


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    amount_threshold: Decimal = DEFAULT_AMOUNT_THRESHOLD

    @classmethod
    def from_settings(cls, settings: TenantSettings) -> ApprovalPolicy:
        """A tenant's policy, from its ``approval_amount_threshold``."""
        return cls(amount_threshold=_threshold(settings[THRESHOLD_SETTING]))

    def review(self, preview: Preview) -> tuple[str, ...]:
        """Why ``preview`` needs a human's approval (empty: it does not)."""
        if not preview.ok:
            return ()
        reasons = []
        if preview.amount > self.amount_threshold:
            reasons.append("amount_over_threshold")
        if isinstance(preview.request, ModifyOrderAddress):
            order = preview.before.get("order") or {}
            if order.get("status") != OrderStatus.PENDING:
                reasons.append("address_after_shipping")
        return tuple(reasons)
