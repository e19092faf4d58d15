"""Field mapping between a merchant's JSON and our documents (the tau-bench retail shape).

Each mapping renames keys of one kind of document, merchant name -> our name, and is identity
for every key it does not name. The mapper knows where documents nest in ours: an order's
``address``, ``items[]`` (``order_item``), ``payment_history[]`` (``payment``) and
``fulfillments[]`` (``fulfillment``); a customer's ``address`` and ``payment_methods``
(``payment_method``); a product's ``variants`` (``variant``). Where tau keys a collection by id
(``payment_methods``, ``variants``) a merchant may send a list: it is keyed by ``id`` /
``item_id`` after renaming. Writes send our arguments renamed back (``request``, and
``address`` for an address).
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

    def _keyed(self, kind: str, values: object, id_key: str) -> dict[str, Doc]:
        if isinstance(values, Mapping):
            return {str(k): self._rename(kind, v) for k, v in values.items()}
        return {str(doc[id_key]): doc for doc in self._list(kind, values)}

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
        return doc

    def customer(self, raw: object) -> Doc:
        doc = self._rename("customer", raw)
        if isinstance(doc.get("address"), Mapping):
            doc["address"] = self._rename("address", doc["address"])
        if "payment_methods" in doc:
            doc["payment_methods"] = self._keyed("payment_method", doc["payment_methods"], "id")
        return doc

    def product(self, raw: object) -> Doc:
        doc = self._rename("product", raw)
        if "variants" in doc:
            doc["variants"] = self._keyed("variant", doc["variants"], "item_id")
        return doc

    # -- ours -> merchant ---------------------------------------------------------------
    def request(self, arguments: Mapping[str, Any]) -> Doc:
        """A write's body: our arguments (JSON), an address in the merchant's names."""
        body = dict(arguments)
        if isinstance(body.get("address"), Mapping):
            body["address"] = self._back("address", body["address"])
        return self._back("request", body)
