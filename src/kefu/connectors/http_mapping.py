"""Field mapping between a merchant's JSON and our documents (the tau-bench retail shape).

Each mapping renames keys of one kind of document, merchant name -> our name, and is identity
for every key it does not name. The mapper knows where documents nest in ours: an order's
``address``, ``items[]`` (``order_item``), ``payment_history[]`` (``payment``) and
``fulfillments[]`` (``fulfillment``); a customer's ``address`` and ``payment_methods``
(``payment_method``); a product's ``variants`` (``variant``). Where tau keys a collection by id
(``payment_methods``, ``variants``) a merchant may send a list: it is keyed by ``id`` /
``item_id`` after renaming. Writes send our arguments renamed back (``request``, and
``address`` for an address).

The shop extensions add an order's ``partial_refunds[]`` (``partial_refund``), a customer's
``coupons[]`` (``coupon``), the ``refunds[]`` lines of a combined refund's body
(``refund_line``), and the shop rules document (``shop_rules``; nested: ``freight``, its
``zones[]`` and ``default`` as ``freight_zone``, ``coupons`` as ``coupon_template``, keyed by
template id: a list is keyed by ``id``, which is then dropped, as our rules document does not
repeat it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Doc = dict[str, Any]


class FieldMap:
    """The renames of one merchant file (``fields`` of the YAML)."""

    def __init__(self, fields: Mapping[str, Mapping[str, str]]) -> None:
        self._fields = fields

    def _rename(self, kind: str, doc: object) -> Doc:
        if not isinstance(doc, Mapping):
            raise ValueError(f"{kind} is not a JSON object")
        names = self._fields.get(kind) or {}
        return {names.get(str(k), str(k)): v for k, v in doc.items()}

    def _back(self, kind: str, doc: Mapping[str, Any]) -> Doc:
        names = {ours: theirs for theirs, ours in (self._fields.get(kind) or {}).items()}
        return {names.get(k, k): v for k, v in doc.items()}

    def _list(self, kind: str, values: object) -> list[Doc]:
        if not isinstance(values, list):
            raise ValueError(f"a list of {kind} was expected")
        return [self._rename(kind, v) for v in values]

    def _keyed(
        self, kind: str, values: object, id_key: str, *, drop_id: bool = False
    ) -> dict[str, Doc]:
        if isinstance(values, Mapping):
            return {str(k): self._rename(kind, v) for k, v in values.items()}
        keyed = {str(doc[id_key]): doc for doc in self._list(kind, values)}
        if drop_id:
            for doc in keyed.values():
                doc.pop(id_key, None)
        return keyed

    # -- merchant -> ours ---------------------------------------------------------------
    def order(self, raw: object) -> Doc:
        doc = self._rename("order", raw)
        if isinstance(doc.get("address"), Mapping):
            doc["address"] = self._rename("address", doc["address"])
        if "items" in doc:
            doc["items"] = self._list("order_item", doc["items"])
        if "payment_history" in doc:
            doc["payment_history"] = self._list("payment", doc["payment_history"])
        if "fulfillments" in doc:
            doc["fulfillments"] = self._list("fulfillment", doc["fulfillments"])
        if "partial_refunds" in doc:
            doc["partial_refunds"] = self._list("partial_refund", doc["partial_refunds"])
        return doc

    def customer(self, raw: object) -> Doc:
        doc = self._rename("customer", raw)
        if isinstance(doc.get("address"), Mapping):
            doc["address"] = self._rename("address", doc["address"])
        if "payment_methods" in doc:
            doc["payment_methods"] = self._keyed("payment_method", doc["payment_methods"], "id")
        if "coupons" in doc:
            doc["coupons"] = self._list("coupon", doc["coupons"])
        return doc

    def product(self, raw: object) -> Doc:
        doc = self._rename("product", raw)
        if "variants" in doc:
            doc["variants"] = self._keyed("variant", doc["variants"], "item_id")
        return doc

    def rules(self, raw: object) -> Doc:
        """The shop rules document (``shop_rules.json``'s shape)."""
        doc = self._rename("shop_rules", raw)
        freight = doc.get("freight")
        if freight is not None:
            freight = self._rename("freight", freight)
            if "zones" in freight:
                freight["zones"] = self._list("freight_zone", freight["zones"])
            if freight.get("default") is not None:
                freight["default"] = self._rename("freight_zone", freight["default"])
            doc["freight"] = freight
        if doc.get("coupons") is not None:
            doc["coupons"] = self._keyed("coupon_template", doc["coupons"], "id", drop_id=True)
        return doc

    # -- ours -> merchant ---------------------------------------------------------------
    def request(self, arguments: Mapping[str, Any]) -> Doc:
        """A write's body: our arguments (JSON), an address in the merchant's names, the lines
        of a combined refund in theirs (``refund_line``)."""
        body = dict(arguments)
        if isinstance(body.get("address"), Mapping):
            body["address"] = self._back("address", body["address"])
        if isinstance(body.get("refunds"), list):
            body["refunds"] = [
                self._back("refund_line", line) if isinstance(line, Mapping) else line
                for line in body["refunds"]
            ]
        return self._back("request", body)
