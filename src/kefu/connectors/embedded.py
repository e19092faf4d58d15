"""The embedded reference shop: the connector port over kefu's own database.

Each tenant's customers, orders and products are stored as the exact tau JSON documents they
were imported as (tables in :mod:`kefu.storage.shop_tables`), with indexed lookup columns
(normalised email and phone, names, zip, status) and the import position, so :meth:`dump`
gives back the imported dicts unchanged and in order.

:meth:`EmbeddedShop.load` replaces a tenant's whole shop in one transaction: the data is
validated and every row built before anything is written, so a bad file or a failure half-way
leaves the previous shop as it was. The shop rules document (``shop_rules.json``: freight table,
coupon templates) is part of the shop: given to :meth:`EmbeddedShop.load`, it is stored with
the rest (table ``shop_rules``) and returned by :meth:`EmbeddedShop.rules` and
:meth:`EmbeddedShop.dump`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Select, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from kefu.connectors.embedded_extras import EmbeddedShopExtras
from kefu.connectors.embedded_extras_rules import ShopRules
from kefu.connectors.port import (
    Customer,
    Order,
    Product,
    Shipment,
    Variant,
    filter_products,
    find_variant,
    normalise_email,
    normalise_phone,
)
from kefu.connectors.tau_schema import ShopData, ShopFiles, validate_shop
from kefu.errors import (
    ConflictError,
    CustomerNotFound,
    OrderNotFound,
    ProductNotFound,
    ShopImportError,
)
from kefu.storage.shop_tables import ShopCustomerRow, ShopOrderRow, ShopProductRow, ShopRulesRow
from kefu.storage.tenants import TenantRepository

Progress = Callable[[int, int], None]
_BATCH = 1000
_Row = TypeVar("_Row", ShopCustomerRow, ShopOrderRow, ShopProductRow)
_Table = type[ShopCustomerRow] | type[ShopOrderRow] | type[ShopProductRow]


class ShopCounts(NamedTuple):
    customers: int
    orders: int
    products: int


def _limit(column: InstrumentedAttribute[Any], value: str, file: str, place: str) -> str:
    """Values longer than the lookup column are rejected before anything is written."""
    length: int | None = getattr(column.type, "length", None)
    if length is not None and len(value) > length:
        raise ShopImportError(
            file, place, f"is {len(value)} characters long; the limit is {length}"
        )
    return value


def _customer_rows(tenant_id: int, users: dict[str, Any], file: str) -> list[dict[str, Any]]:
    rows = []
    for position, (customer_id, doc) in enumerate(users.items()):
        head = f'user "{customer_id}"'
        phone = doc.get("phone")
        rows.append(
            {
                "tenant_id": tenant_id,
                "customer_id": _limit(ShopCustomerRow.customer_id, customer_id, file, head),
                "position": position,
                "email": _limit(
                    ShopCustomerRow.email, normalise_email(doc["email"]), file, f"{head}, email"
                ),
                "first_name": _limit(
                    ShopCustomerRow.first_name,
                    doc["name"]["first_name"],
                    file,
                    f"{head}, name.first_name",
                ),
                "last_name": _limit(
                    ShopCustomerRow.last_name,
                    doc["name"]["last_name"],
                    file,
                    f"{head}, name.last_name",
                ),
                "zip": _limit(
                    ShopCustomerRow.zip, doc["address"]["zip"].strip(), file, f"{head}, address.zip"
                ),
                "phone": None
                if phone is None
                else _limit(ShopCustomerRow.phone, normalise_phone(phone), file, f"{head}, phone"),
                "doc": doc,
            }
        )
    return rows


def _order_rows(tenant_id: int, orders: dict[str, Any], file: str) -> list[dict[str, Any]]:
    rows = []
    for position, (order_id, doc) in enumerate(orders.items()):
        head = f'order "{order_id}"'
        rows.append(
            {
                "tenant_id": tenant_id,
                "order_id": _limit(ShopOrderRow.order_id, order_id, file, head),
                "position": position,
                "customer_id": doc["user_id"],  # a known user: its length was checked
                "status": _limit(ShopOrderRow.status, doc["status"], file, f"{head}, status"),
                "doc": doc,
            }
        )
    return rows


def _product_rows(tenant_id: int, products: dict[str, Any], file: str) -> list[dict[str, Any]]:
    rows = []
    for position, (product_id, doc) in enumerate(products.items()):
        head = f'product "{product_id}"'
        rows.append(
            {
                "tenant_id": tenant_id,
                "product_id": _limit(ShopProductRow.product_id, product_id, file, head),
                "position": position,
                "name": _limit(ShopProductRow.name, doc["name"], file, f"{head}, name"),
                "doc": doc,
            }
        )
    return rows


def _batches(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), _BATCH):
        yield rows[start : start + _BATCH]


def _romanised(text: str) -> str:
    """杜婉婷 -> "duwanting" (toneless pinyin, no spaces); Latin text lower-cased."""
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text.strip())).replace(" ", "").casefold()


def _same_name(first: str, last: str, given_first: str, given_last: str) -> bool:
    """The stored name equals the given one, case-insensitively; a Chinese name also matches
    its pinyin in either order ("Wanting Du", "Du Wanting", "du wanting")."""
    first, last = first.strip().casefold(), last.strip().casefold()
    if first == given_first and last == given_last:
        return True
    if not any("\u4e00" <= ch <= "\u9fff" for ch in first + last):
        return False
    wanted = {_romanised(last) + _romanised(first), _romanised(first) + _romanised(last)}
    given = (given_first + given_last).replace(" ", "").casefold()
    return given in wanted


class EmbeddedShop(EmbeddedShopExtras):
    """The reference shop stored in kefu's database; implements :class:`ShopConnector` (the
    writes are in :mod:`kefu.connectors.embedded_writes`, the shop extensions - freight,
    refunds, merges, coupons - in :mod:`kefu.connectors.embedded_extras`)."""

    def __init__(self, sessions: sessionmaker[Session], tenants: TenantRepository) -> None:
        self._sessions = sessions
        self._tenants = tenants

    # -- whole shop ------------------------------------------------------------------------
    def load(
        self,
        tenant: str,
        users: dict[str, Any],
        orders: dict[str, Any],
        products: dict[str, Any],
        *,
        files: ShopFiles | None = None,
        progress: Progress | None = None,
        rules: dict[str, Any] | None = None,
    ) -> ShopCounts:
        """Replace the tenant's shop with these tau dicts (and the rules document ``rules``,
        or none), in one transaction.

        The data is validated first (``files`` name the sources in errors). Raises
        ShopImportError (nothing written), TenantNotFound, or ConflictError when another
        import of the same tenant committed in between.
        """
        t = self._tenants.get(tenant)
        files = files or ShopFiles()
        data = validate_shop(users, orders, products, files, rules=rules)
        tables: list[tuple[_Table, list[dict[str, Any]]]] = [
            (ShopCustomerRow, _customer_rows(t.id, data.users, files.users)),
            (ShopProductRow, _product_rows(t.id, data.products, files.products)),
            (ShopOrderRow, _order_rows(t.id, data.orders, files.orders)),
        ]
        total = sum(len(rows) for _, rows in tables)
        done = 0
        if progress is not None:
            progress(0, total)
        try:
            with self._sessions.begin() as s:
                for model, _ in tables:
                    s.execute(delete(model).where(model.tenant_id == t.id))
                s.execute(delete(ShopRulesRow).where(ShopRulesRow.tenant_id == t.id))
                if data.rules is not None:
                    s.execute(insert(ShopRulesRow), [{"tenant_id": t.id, "doc": data.rules}])
                self._tenants.bump_kb_revision(s, t.id)  # the catalogue feeds the NLU
                for model, rows in tables:
                    for batch in _batches(rows):
                        s.execute(insert(model), batch)
                        done += len(batch)
                        if progress is not None:
                            progress(done, total)
        except IntegrityError as exc:
            raise ConflictError(
                f"the shop of tenant {tenant!r} was changed by another import; try again"
            ) from exc
        return ShopCounts(len(data.users), len(data.orders), len(data.products))

    def dump(self, tenant: str) -> ShopData:
        """The tenant's shop as tau dicts, in import order (empty dicts when none)."""
        t = self._tenants.get(tenant)
        with self._sessions() as s:

            def docs(model: type[_Row], key: InstrumentedAttribute[str]) -> dict[str, Any]:
                q = select(key, model.doc).where(model.tenant_id == t.id).order_by(model.position)
                return {k: doc for k, doc in s.execute(q)}

            return ShopData(
                users=docs(ShopCustomerRow, ShopCustomerRow.customer_id),
                orders=docs(ShopOrderRow, ShopOrderRow.order_id),
                products=docs(ShopProductRow, ShopProductRow.product_id),
                rules=s.scalar(select(ShopRulesRow.doc).where(ShopRulesRow.tenant_id == t.id)),
            )

    def rules(self, tenant: str) -> ShopRules | None:
        """The tenant's shop rules (freight table, coupon templates); None when it has none."""
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            return ShopRules.from_doc(self._rules_doc(s, t.id))

    def counts(self, tenant: str) -> ShopCounts:
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            return ShopCounts(
                *(
                    s.scalar(select(func.count()).where(model.tenant_id == t.id)) or 0
                    for model in (ShopCustomerRow, ShopOrderRow, ShopProductRow)
                )
            )

    # -- customers -------------------------------------------------------------------------
    def _customer(self, tenant: str, q: Select[tuple[str, Any]]) -> Customer | None:
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            q = q.where(ShopCustomerRow.tenant_id == t.id).order_by(ShopCustomerRow.position)
            for customer_id, doc in s.execute(q):
                return Customer.from_tau(customer_id, doc)
        return None

    def find_customer_by_email(self, tenant: str, email: str) -> Customer:
        q = select(ShopCustomerRow.customer_id, ShopCustomerRow.doc).where(
            ShopCustomerRow.email == normalise_email(email)
        )
        found = self._customer(tenant, q.limit(1))
        if found is None:
            raise CustomerNotFound("email")
        return found

    def find_customer_by_name_zip(
        self, tenant: str, first_name: str, last_name: str, zip: str
    ) -> Customer:
        t = self._tenants.get(tenant)
        first, last = first_name.strip().casefold(), last_name.strip().casefold()
        q = (
            select(ShopCustomerRow.customer_id, ShopCustomerRow.doc)
            .where(ShopCustomerRow.tenant_id == t.id, ShopCustomerRow.zip == zip.strip())
            .order_by(ShopCustomerRow.position)
        )
        with self._sessions() as s:
            for customer_id, doc in s.execute(q):
                name = doc["name"]
                if _same_name(name["first_name"], name["last_name"], first, last):
                    return Customer.from_tau(customer_id, doc)
        raise CustomerNotFound("name_zip")

    def find_customer_by_phone(self, tenant: str, phone: str) -> Customer:
        digits = normalise_phone(phone)
        q = select(ShopCustomerRow.customer_id, ShopCustomerRow.doc).where(
            ShopCustomerRow.phone == digits
        )
        found = self._customer(tenant, q.limit(1)) if digits else None
        if found is None:
            raise CustomerNotFound("phone")
        return found

    def customer(self, tenant: str, customer_id: str) -> Customer:
        q = select(ShopCustomerRow.customer_id, ShopCustomerRow.doc).where(
            ShopCustomerRow.customer_id == customer_id
        )
        found = self._customer(tenant, q)
        if found is None:
            raise CustomerNotFound("id", customer_id)
        return found

    # -- orders ----------------------------------------------------------------------------
    def order(self, tenant: str, order_id: str) -> Order:
        t = self._tenants.get(tenant)
        wanted = order_id.strip()
        candidates = [wanted] if wanted.startswith("#") else [wanted, "#" + wanted]
        with self._sessions() as s:
            rows = s.execute(
                select(ShopOrderRow.order_id, ShopOrderRow.doc).where(
                    ShopOrderRow.tenant_id == t.id, ShopOrderRow.order_id.in_(candidates)
                )
            )
            docs: dict[str, Any] = {key: doc for key, doc in rows}
        for candidate in candidates:
            if candidate in docs:
                return Order.from_tau(docs[candidate])
        raise OrderNotFound(order_id)

    def orders_of_customer(self, tenant: str, customer_id: str) -> list[Order]:
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            exists = s.scalar(
                select(ShopCustomerRow.pk).where(
                    ShopCustomerRow.tenant_id == t.id, ShopCustomerRow.customer_id == customer_id
                )
            )
            if exists is None:
                raise CustomerNotFound("id", customer_id)
            docs = s.scalars(
                select(ShopOrderRow.doc)
                .where(ShopOrderRow.tenant_id == t.id, ShopOrderRow.customer_id == customer_id)
                .order_by(ShopOrderRow.position)
            )
            return [Order.from_tau(doc) for doc in docs]

    def tracking(self, tenant: str, order_id: str) -> tuple[Shipment, ...]:
        return self.order(tenant, order_id).fulfillments

    # -- products --------------------------------------------------------------------------
    def product(self, tenant: str, product_id: str) -> Product:
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            doc = s.scalar(
                select(ShopProductRow.doc).where(
                    ShopProductRow.tenant_id == t.id, ShopProductRow.product_id == product_id
                )
            )
        if doc is None:
            raise ProductNotFound(product_id)
        return Product.from_tau(doc)

    def _products(self, tenant: str) -> list[Product]:
        t = self._tenants.get(tenant)
        with self._sessions() as s:
            docs = s.scalars(
                select(ShopProductRow.doc)
                .where(ShopProductRow.tenant_id == t.id)
                .order_by(ShopProductRow.position)
            )
            return [Product.from_tau(doc) for doc in docs]

    def variant(self, tenant: str, item_id: str) -> tuple[Product, Variant]:
        return find_variant(self._products(tenant), item_id)

    def list_products(
        self, tenant: str, *, name: str | None = None, in_stock: bool | None = None
    ) -> list[Product]:
        return filter_products(self._products(tenant), name=name, in_stock=in_stock)
