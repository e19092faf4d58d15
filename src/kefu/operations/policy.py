"""Which writes a human must approve first (the approval queue of L3).

A policy in code, evaluated on a preview the shop's rules accept:

- ``amount_over_threshold``: the money the write moves (:attr:`Preview.amount`: the larger of
  its payments and its refunds) exceeds ``amount_threshold`` (default 2000 in the shop's
  currency);
- ``address_after_shipping``: an order's shipping address changes while the order is not
  ``pending``. (The embedded shop, with tau-bench's rules, refuses that change itself; the rule
  is for connectors whose shops allow it.)

The threshold is a constructor parameter; it is meant to become a tenant setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kefu.connectors.port import OrderStatus
from kefu.operations.preview import Preview
from kefu.operations.requests import ModifyOrderAddress

DEFAULT_AMOUNT_THRESHOLD = Decimal("2000")


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    amount_threshold: Decimal = DEFAULT_AMOUNT_THRESHOLD

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
