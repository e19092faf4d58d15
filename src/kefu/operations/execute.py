"""Confirm and execute: a write runs only with a confirmation bound to its preview, once per
idempotency key, and every step lands in the operation ledger.

:class:`Operations` is the operation layer over a shop and the ledger:

- :meth:`Operations.preview` computes a :class:`~kefu.operations.preview.Preview` (nothing
  written), asks the approval policy, and records a ``previewed`` (or ``refused``) row.
- :meth:`Operations.execute` takes the preview and a :class:`Confirmation` naming the
  preview's fingerprint and an idempotency key (by default derived from the conversation and
  the fingerprint, :func:`idempotency_key`). It first *claims* the key: it appends a
  ``confirmed`` row under a unique database constraint, so of any number of calls with one key
  (a repeated 确认, a client retry, a double click, two workers) exactly one goes on; the others
  wait for and return that call's recorded outcome (``replayed``). The claimer reads the
  records again: a different fingerprint refuses with ``stale_preview`` (show a new preview);
  a high-risk write is queued (``awaiting_approval``); otherwise it writes and appends
  ``executed`` with the records before and after (or ``refused``, ``failed``,
  ``unknown_outcome``). The write checks the fingerprint once more inside its own
  transaction, after it has locked and read the records (:class:`PreviewGuard`), so a change
  landing after the first check is refused with ``stale_preview`` too and nothing is written:
  an executed write always ran on records hashing to the confirmed fingerprint. (Over HTTP the
  second check runs on a fresh read just before the request: best effort, no lock spans the
  merchant's API; see :mod:`kefu.connectors.http_shop`.)
- :meth:`Operations.approve` / :meth:`Operations.reject` decide a queued operation; the
  decision is claimed the same way (one decision per operation), and an approved write is
  fingerprint-checked again, the same two ways, as it runs.

Unknown outcomes and reconciliation. A *run* is a row after which the shop is written: the
``confirmed`` row, an ``approved`` row, or the ``confirmed`` row of a reconciliation. Each run
is settled by exactly one row, appended under the claim ``settle:<run id>``. When the shop
cannot say whether a write was applied (:class:`~kefu.errors.WriteOutcomeUnknown`: a timeout, a
5xx, a dropped connection) the run is settled ``unknown_outcome`` with the key. A run left
without a settlement for ``wait_s`` (its process died) is settled ``unknown_outcome`` by the
first caller that finds it so. Before the key is used again - a repeated confirmation that
replays to an ``unknown_outcome`` row, or :meth:`Operations.reconcile` - the outcome is
reconciled: one caller claims ``retry:<unknown row id>`` with a new ``confirmed`` row (the same
confirmation; note ``reconcile``) and asks the shop what happened:

1. a shop that keeps a record per idempotency key (the HTTP shop with ``idempotency.lookup``,
   :class:`KeyedShop`) says ``applied`` (with the record), ``refused``, ``absent`` or
   ``pending``;
2. otherwise the records are read again: hashing to the confirmed fingerprint means the write
   did not happen (``absent``); showing every change the preview predicted (each key of the
   order - or the customer's address - that the write changes holds its predicted value)
   means it did (``applied``); anything else cannot be told apart (``pending``).

``applied`` appends ``executed`` (``result.reconciled``), ``refused`` a refusal; ``absent`` runs
the write once more, fingerprint-checked as always and with the *same* idempotency key (the
shop's key handling makes a write that is still in flight count once); ``pending`` appends
``unknown_outcome`` again, to be reconciled later. Nothing is ever applied twice by this layer:
one process per run writes, and every write of a key carries that key.

The approval policy is the tenant's (setting ``approval_amount_threshold``, read at each
preview and confirmation) unless an :class:`ApprovalPolicy` is given to :class:`Operations`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from kefu.connectors.embedded_writes import DryRun, Expect
from kefu.errors import (
    ConflictError,
    InvalidInputError,
    KefuError,
    NotAwaitingApproval,
    WriteOutcomeUnknown,
)
from kefu.errors import OperationRefused as Refused
from kefu.logs import get_logger
from kefu.operations.policy import ApprovalPolicy
from kefu.operations.preview import (
    Preview,
    PreviewableShop,
    Refusal,
    fingerprint,
    from_dry_run,
    records,
)
from kefu.operations.preview import preview as compute_preview
from kefu.operations.requests import (
    IssueCoupon,
    ModifyCustomerAddress,
    Request,
    request_from_args,
)
from kefu.storage.ledger import LedgerEntry, LedgerRepository, NewEntry
from kefu.storage.tenants import utcnow

log = get_logger(__name__)
# Called with each ledger row the operation layer records, once it is committed (tickets hook
# in here). A listener's exception is logged and never breaks the write.
LedgerListener = Callable[[LedgerEntry], None]

# Rows after which the shop is written (each is settled by one row).
_RUNS = frozenset({"confirmed", "approved"})
_FIRST_POLL_S = 0.002
_MAX_POLL_S = 0.05
RECONCILER = "reconcile"  # the actor of the rows reconciliation appends
STALE = Refusal(
    "stale_preview", "the records changed since the preview was shown; show a new preview"
)


class OperationsShop(PreviewableShop, Protocol):
    """A shop the operation layer can preview and write (the embedded shop): a write whose
    ``expect`` sees the records under the write's own locks, before anything is stored
    (:meth:`~kefu.connectors.embedded_writes.EmbeddedShopWrites.write`)."""

    def write(
        self,
        tenant: str,
        operation: str,
        arguments: Mapping[str, Any],
        *,
        expect: Expect | None = None,
    ) -> DryRun: ...


@dataclass(frozen=True, slots=True)
class KeyLookup:
    """What a shop recorded for a write sent with an idempotency key: ``applied`` (``record``:
    the order or customer document it returned), ``refused`` (``refusal``), ``absent`` (no
    write with that key was applied; sending it again with the key is safe) or ``pending``
    (in progress, or the shop cannot tell yet)."""

    state: Literal["applied", "refused", "absent", "pending"]
    record: dict[str, Any] | None = None
    refusal: Refusal | None = None


@runtime_checkable
class KeyedShop(Protocol):
    """A shop across a network (the HTTP shop): its writes carry the idempotency key, and it
    may say what it recorded for a key (None: it keeps no readable record). The operation
    layer passes the key to such a shop only; the embedded shop needs none (its write is one
    atomic transaction in kefu's own database)."""

    def dry_run(self, tenant: str, operation: str, arguments: Mapping[str, Any]) -> DryRun: ...

    def write(
        self,
        tenant: str,
        operation: str,
        arguments: Mapping[str, Any],
        *,
        expect: Expect | None = None,
        idempotency_key: str | None = None,
    ) -> DryRun: ...

    def recorded_write(
        self, tenant: str, operation: str, arguments: Mapping[str, Any], idempotency_key: str
    ) -> KeyLookup | None: ...


class PreviewGuard:
    """The guard of a confirmed write, run inside the write's transaction on the records as
    locked and read: refuses with ``stale_preview`` unless they hash (with the preview's own
    :func:`~kefu.operations.preview.fingerprint`) to the confirmed fingerprint. ``seen`` keeps
    the last dry run it was given."""

    def __init__(self, tenant: str, request: Request, confirmed: str) -> None:
        self.tenant = tenant
        self.request = request
        self.confirmed = confirmed
        self.seen: DryRun | None = None

    def __call__(self, run: DryRun) -> None:
        self.seen = run
        current = fingerprint(self.tenant, self.request, run)
        if current != self.confirmed:
            raise Refused(STALE.reason, STALE.message, fingerprint=current)


def idempotency_key(conversation_id: str | None, fingerprint: str) -> str:
    """The default key: one per conversation and preview, so a repeated 确认 of the same
    preview in the same conversation executes once."""
    text = f"{conversation_id or '-'}\n{fingerprint}"
    return "op-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Confirmation:
    """The customer's explicit yes to one preview (named by its fingerprint)."""

    fingerprint: str
    idempotency_key: str | None = None
    actor: str = "customer"
    text: str | None = None  # the customer's words, e.g. 确认

    def to_dict(self, key: str) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "idempotency_key": key,
            "actor": self.actor,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """What came of a confirmation (or an approval). ``ledger_id`` is the row recording it;
    ``replayed`` is True when it is an earlier call's recorded outcome. ``unknown_outcome``:
    the shop did not say whether the write was applied; it is reconciled before the key is
    used again, and never applied twice."""

    status: str
    operation: str
    ledger_id: int
    idempotency_key: str
    refusal: Refusal | None = None
    result: dict[str, Any] | None = None
    replayed: bool = False

    @property
    def executed(self) -> bool:
        return self.status == "executed"

    def summary(self, language: str = "zh") -> str:
        from kefu.operations.wording import outcome_text

        return outcome_text(self, language)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "operation": self.operation,
            "ledger_id": self.ledger_id,
            "idempotency_key": self.idempotency_key,
            "refusal": None if self.refusal is None else self.refusal.to_dict(),
            "result": self.result,
            "replayed": self.replayed,
        }


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One confirmed operation, as the ledger knows it."""

    tenant: str
    request: Request
    fingerprint: str
    key: str
    conversation_id: str | None
    customer_id: str | None

    def entry(self, status: str, actor: str, **fields: Any) -> NewEntry:
        return NewEntry(
            operation=self.request.name,
            status=status,
            arguments=self.request.to_args(),
            actor=actor,
            conversation_id=self.conversation_id,
            customer_id=self.customer_id,
            fingerprint=self.fingerprint,
            idempotency_key=self.key,
            **fields,
        )


def _outcome(entry: LedgerEntry, *, replayed: bool = False) -> Outcome:
    result = entry.result or {}
    refusal = result.get("refusal")
    return Outcome(
        status=entry.status,
        operation=entry.operation,
        ledger_id=entry.id,
        idempotency_key=entry.idempotency_key or "",
        refusal=None if refusal is None else Refusal(refusal["reason"], refusal["message"]),
        result=result.get("record"),
        replayed=replayed,
    )


def _record(run: DryRun) -> dict[str, Any]:
    """The written record, as the outcome names it."""
    if run.order_after is None:
        return {"customer_id": run.customer_id}
    return {"order_id": run.order_after["order_id"], "status": run.order_after["status"]}


def _first_confirmed(rows: Sequence[LedgerEntry]) -> LedgerEntry | None:
    return next((r for r in rows if r.status == "confirmed"), None)


def _effects_present(request: Request, confirmed: LedgerEntry, current: DryRun) -> bool:
    """The current records show every change the confirmed preview predicted: each key of the
    order (the customer's address, for a customer address change) that the write changes
    holds its predicted value. False when the write changes nothing visible."""
    before, after = confirmed.before or {}, confirmed.after or {}
    if isinstance(request, IssueCoupon):  # the new coupons are on the customer's record
        old_coupons = (before.get("customer") or {}).get("coupons") or []
        new_coupons = (after.get("customer") or {}).get("coupons") or []
        added = [c.get("coupon_id") for c in new_coupons if c not in old_coupons]
        held = {c.get("coupon_id") for c in current.customer_before.get("coupons") or []}
        return bool(added) and all(coupon in held for coupon in added)
    if isinstance(request, ModifyCustomerAddress):
        old, new = before.get("customer") or {}, after.get("customer") or {}
        return old.get("address") != new.get("address") and (
            current.customer_before.get("address") == new.get("address")
        )
    old, new = before.get("order") or {}, after.get("order") or {}
    changed = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
    now = current.order_before or {}
    return bool(changed) and all(now.get(k) == new.get(k) for k in changed)


class Operations:
    """Previews, confirmed writes, the approval queue and their ledger over one shop.
    ``policy`` fixes the approval policy for every tenant; None (the default) reads each
    tenant's settings (:meth:`ApprovalPolicy.from_settings`) at every preview and
    confirmation, so a changed threshold applies to the next one. ``wait_s``: how long a
    repeated confirmation waits for the first one's outcome, and how old a run without an
    outcome must be before it is taken for crashed and reconciled. ``listeners`` are called
    with every row recorded, after it is committed (:data:`LedgerListener`)."""

    def __init__(
        self,
        shop: OperationsShop | KeyedShop,
        ledger: LedgerRepository,
        policy: ApprovalPolicy | None = None,
        *,
        wait_s: float = 30.0,
        listeners: list[LedgerListener] | None = None,
    ) -> None:
        self._shop = shop
        self._ledger = ledger
        self._policy = policy
        self._wait_s = wait_s
        self.listeners: list[LedgerListener] = [] if listeners is None else listeners

    def _append(self, tenant: str, new: NewEntry) -> LedgerEntry:
        entry = self._ledger.append(tenant, new)
        self._notify(entry)
        return entry

    def _claim(self, tenant: str, claim_key: str, new: NewEntry) -> LedgerEntry | None:
        entry = self._ledger.claim(tenant, claim_key, new)
        if entry is not None:
            self._notify(entry)
        return entry

    def _notify(self, entry: LedgerEntry) -> None:
        for listener in list(self.listeners):
            try:
                listener(entry)
            except Exception:
                log.exception("ledger listener failed on row %s (%s)", entry.id, entry.status)

    @property
    def ledger(self) -> LedgerRepository:
        return self._ledger

    def policy(self, tenant: str) -> ApprovalPolicy:
        """The approval policy for ``tenant``: the one given to the constructor, else the
        tenant's settings as they are now."""
        if self._policy is not None:
            return self._policy
        return ApprovalPolicy.from_settings(self._ledger.tenants.settings(tenant))

    # -- preview ---------------------------------------------------------------------------
    def preview(
        self,
        tenant: str,
        request: Request,
        *,
        conversation_id: str | None = None,
        actor: str = "bot",
    ) -> Preview:
        """What ``request`` would change now, with the policy's approval reasons; recorded as
        a ``previewed`` (or ``refused``) row."""
        shown = compute_preview(self._shop, tenant, request)
        shown = shown.with_(
            needs_approval=self.policy(tenant).review(shown), conversation_id=conversation_id
        )
        refusal = shown.refusal
        entry = self._append(
            tenant,
            NewEntry(
                operation=request.name,
                status="previewed" if refusal is None else "refused",
                arguments=request.to_args(),
                actor=actor,
                conversation_id=conversation_id,
                customer_id=shown.customer_id,
                preview=shown.to_dict(),
                fingerprint=shown.fingerprint,
                result=None if refusal is None else {"refusal": refusal.to_dict()},
                before=shown.before,
            ),
        )
        return shown.with_(ledger_id=entry.id)

    def preview_args(
        self,
        tenant: str,
        operation: str,
        arguments: Mapping[str, Any],
        *,
        conversation_id: str | None = None,
        actor: str = "bot",
    ) -> Preview:
        """:meth:`preview` of an operation named by text with JSON arguments."""
        request = request_from_args(operation, arguments)
        return self.preview(tenant, request, conversation_id=conversation_id, actor=actor)

    # -- confirm and execute ---------------------------------------------------------------
    def execute(self, preview: Preview, confirmation: Confirmation) -> Outcome:
        """Run the write of ``preview`` once per idempotency key (see the module docstring).
        Raises InvalidInputError when the confirmation names another preview,
        OperationRefused for a refused preview, ConflictError when the key was used for
        another preview."""
        if confirmation.fingerprint != preview.fingerprint:
            raise InvalidInputError(
                "the confirmation names another preview; confirm the preview shown",
                field="fingerprint",
            )
        if preview.refusal is not None:
            raise Refused(preview.refusal.reason, preview.refusal.message)
        key = confirmation.idempotency_key or idempotency_key(
            preview.conversation_id, preview.fingerprint
        )
        attempt = _Attempt(
            preview.tenant,
            preview.request,
            preview.fingerprint,
            key,
            preview.conversation_id,
            preview.customer_id,
        )
        # The confirmed row also keeps the preview's records before and after: reconciling an
        # unknown outcome compares the shop's records with them.
        claimed = self._claim(
            attempt.tenant,
            "confirm:" + key,
            attempt.entry(
                "confirmed",
                confirmation.actor,
                preview=preview.to_dict(),
                confirmation=confirmation.to_dict(key),
                ref=preview.ledger_id,
                before=preview.before,
                after=preview.after,
            ),
        )
        if claimed is None:
            return self._replay(attempt)
        return self._run(attempt, claimed.id, confirmation.actor, approved=False)

    def _check_same_preview(self, attempt: _Attempt, rows: Sequence[LedgerEntry]) -> None:
        confirmed = _first_confirmed(rows)
        if confirmed is not None and confirmed.fingerprint != attempt.fingerprint:
            raise ConflictError(
                "this idempotency key was used to confirm another preview",
                field="idempotency_key",
            )

    def _overdue(self, run: LedgerEntry) -> bool:
        return (utcnow() - run.created_at).total_seconds() >= self._wait_s

    def _replay(self, attempt: _Attempt) -> Outcome:
        """The recorded outcome of a key another call claimed, once it has one. An
        ``unknown_outcome`` is reconciled first; a run without an outcome after ``wait_s``
        (ours, or since it began) is taken for crashed: settled ``unknown_outcome`` and
        reconciled."""
        watching, started = -1, time.monotonic()
        pause = _FIRST_POLL_S
        while True:
            rows = self._ledger.by_key(attempt.tenant, attempt.key)
            self._check_same_preview(attempt, rows)
            if not rows:  # pragma: no cover - the claim that sent us here is a row
                raise InvalidInputError("unknown idempotency key", field="idempotency_key")
            last = rows[-1]
            if last.status == "unknown_outcome":
                reconciled = self._reconcile_unknown(attempt, rows, last)
                if reconciled is not None:
                    return reconciled
                continue  # another caller claimed its reconciliation: wait for that one
            if last.status not in _RUNS:
                return _outcome(last, replayed=True)
            if last.id != watching:  # a run we have not waited on yet
                watching, started = last.id, time.monotonic()
            if time.monotonic() - started >= self._wait_s or self._overdue(last):
                self._declare_unknown(attempt, last)  # (or settled meanwhile)
                continue  # read again: reconciled on the next pass
            time.sleep(pause)  # the claimer is writing: wait without holding anything
            pause = min(pause * 2, _MAX_POLL_S)

    def _write(self, attempt: _Attempt, guard: PreviewGuard) -> DryRun:
        """The shop's guarded write; a :class:`KeyedShop` gets the idempotency key."""
        request, shop = attempt.request, self._shop
        if isinstance(shop, KeyedShop):
            return shop.write(
                attempt.tenant,
                request.name,
                request.dry_run_args(),
                expect=guard,
                idempotency_key=attempt.key,
            )
        return shop.write(attempt.tenant, request.name, request.dry_run_args(), expect=guard)

    def _settle(self, attempt: _Attempt, run_id: int, new: NewEntry) -> Outcome:
        """Append the one row settling the run ``run_id``; when another caller settled it
        first (it took this run for crashed), that call's outcome, reconciled."""
        entry = self._claim(attempt.tenant, f"settle:{run_id}", new)
        if entry is None:
            return self._replay(attempt)
        return _outcome(entry)

    def _run(
        self,
        attempt: _Attempt,
        ref: int,
        actor: str,
        *,
        approved: bool,
        reconciling: LedgerEntry | None = None,
    ) -> Outcome:
        """Re-read, check the fingerprint and the policy; write, checking the fingerprint again
        under the write's locks; record. ``reconciling``: the confirmed row of an operation
        whose earlier outcome was unknown (a stale read then may be that earlier write, landed
        since: it is recorded as executed when the records show its effects)."""
        request, tenant = attempt.request, attempt.tenant
        try:
            run = self._shop.dry_run(tenant, request.name, request.dry_run_args())
        except KefuError as exc:  # the order or customer is gone: nothing was written
            return self._failed(attempt, actor, ref, exc)
        current = from_dry_run(tenant, request, run)
        if current.fingerprint != attempt.fingerprint:
            return self._stale(attempt, actor, ref, run, reconciling)
        reasons = self.policy(tenant).review(current)
        if reasons and not approved:
            return self._settle(
                attempt,
                ref,
                attempt.entry(
                    "awaiting_approval",
                    actor,
                    ref=ref,
                    preview=current.with_(needs_approval=reasons).to_dict(),
                    result={"reasons": list(reasons)},
                    note=", ".join(reasons),
                ),
            )
        # Records that still hash to the fingerprint give the same preview, so the policy's
        # answer above holds for the write as long as the guard lets it through.
        guard = PreviewGuard(tenant, request, attempt.fingerprint)
        try:
            written = self._write(attempt, guard)
        except Refused as exc:
            if exc.reason == STALE.reason and guard.seen is not None:
                return self._stale(attempt, actor, ref, guard.seen, reconciling)
            result = {"refusal": {"reason": exc.reason, "message": exc.message}}
            return self._settle(
                attempt, ref, attempt.entry("refused", actor, ref=ref, result=result)
            )
        except WriteOutcomeUnknown as exc:  # maybe written: reconciled before any retry
            result = {"error": {"code": exc.code, "message": exc.message}}
            return self._settle(
                attempt,
                ref,
                attempt.entry(
                    "unknown_outcome",
                    actor,
                    ref=ref,
                    result=result,
                    note=f"idempotency key {attempt.key}: reconcile before retrying",
                ),
            )
        except KefuError as exc:  # a known error: the shop's transaction wrote nothing
            return self._failed(attempt, actor, ref, exc)
        except Exception as exc:
            result = {"error": {"code": "internal_error", "message": type(exc).__name__}}
            self._claim(
                tenant,
                f"settle:{ref}",
                attempt.entry("unknown_outcome", actor, ref=ref, result=result),
            )
            raise
        return self._settle(
            attempt,
            ref,
            attempt.entry(
                "executed",
                actor,
                ref=ref,
                result={"record": _record(written)},
                before=records(written, after=False),
                after=records(written, after=True),
            ),
        )

    def _stale(
        self,
        attempt: _Attempt,
        actor: str,
        ref: int,
        run: DryRun,
        reconciling: LedgerEntry | None = None,
    ) -> Outcome:
        """Refused: the records ``run`` read no longer hash to the confirmed fingerprint (or,
        when reconciling, executed: they show the earlier write's effects)."""
        if reconciling is not None and _effects_present(attempt.request, reconciling, run):
            return self._reconciled(attempt, ref, reconciling, run_records(run), "records")
        return self._settle(
            attempt,
            ref,
            attempt.entry(
                "refused",
                actor,
                ref=ref,
                result={
                    "refusal": STALE.to_dict(),
                    "fingerprint": fingerprint(attempt.tenant, attempt.request, run),
                },
                before=records(run, after=False),
            ),
        )

    def _failed(self, attempt: _Attempt, actor: str, ref: int, exc: KefuError) -> Outcome:
        result = {"error": {"code": exc.code, "message": exc.message}}
        return self._settle(attempt, ref, attempt.entry("failed", actor, ref=ref, result=result))

    # -- unknown outcomes --------------------------------------------------------------------
    def reconcile(self, target: int | str, *, tenant: str | None = None) -> Outcome:
        """Settle an operation whose outcome is unknown: ``target`` is a ledger id (any row of
        the operation) or an idempotency key (then ``tenant`` is needed). An
        ``unknown_outcome`` is reconciled with the shop (see the module docstring); a run
        without an outcome older than ``wait_s`` is taken for crashed and reconciled the same
        way; a reconciliation under way is waited for. Anything else returns the recorded
        outcome (``replayed``; ``confirmed``: a write still in progress). Raises
        OperationNotFound, InvalidInputError (a row without an idempotency key, an unknown
        key)."""
        if isinstance(target, int):
            row = self._ledger.get(target, tenant)
            if row.idempotency_key is None:
                raise InvalidInputError(
                    f"operation {target} was never confirmed: nothing to reconcile", field="id"
                )
            tenant, key = row.tenant, row.idempotency_key
        elif tenant is None:
            raise InvalidInputError("name the tenant of the idempotency key", field="tenant")
        else:
            key = target
        rows = self._ledger.by_key(tenant, key)
        confirmed = _first_confirmed(rows)
        if confirmed is None:
            raise InvalidInputError(
                f"no confirmed operation has the idempotency key {key!r}", field="idempotency_key"
            )
        attempt = _Attempt(
            tenant,
            request_from_args(confirmed.operation, confirmed.arguments),
            confirmed.fingerprint or "",
            key,
            confirmed.conversation_id,
            confirmed.customer_id,
        )
        last = rows[-1]
        if last.status == "unknown_outcome" or (
            last.status in _RUNS and (self._overdue(last) or last.actor == RECONCILER)
        ):  # to reconcile, or being reconciled: wait for that outcome
            return self._replay(attempt)
        return _outcome(last, replayed=True)

    def _declare_unknown(self, attempt: _Attempt, run: LedgerEntry) -> LedgerEntry | None:
        """Settle the run ``run``, left without an outcome, as ``unknown_outcome`` (None when it
        was settled meanwhile)."""
        return self._claim(
            attempt.tenant,
            f"settle:{run.id}",
            attempt.entry(
                "unknown_outcome",
                RECONCILER,
                ref=run.id,
                result={
                    "error": {
                        "code": "no_outcome_recorded",
                        "message": f"no outcome was recorded within {self._wait_s:g} s; the "
                        "process writing it may have stopped",
                    }
                },
                note=f"idempotency key {attempt.key}: reconcile before retrying",
            ),
        )

    def _reconcile_unknown(
        self, attempt: _Attempt, rows: Sequence[LedgerEntry], unknown: LedgerEntry
    ) -> Outcome | None:
        """Claim the reconciliation of ``unknown`` (a new ``confirmed`` row) and settle it from
        what the shop says. None when another caller claimed it first."""
        confirmed = _first_confirmed(rows)
        assert confirmed is not None  # every key's first row is its confirmed row
        run = self._claim(
            attempt.tenant,
            f"retry:{unknown.id}",
            attempt.entry(
                "confirmed",
                RECONCILER,
                ref=unknown.id,
                preview=confirmed.preview,
                confirmation=confirmed.confirmation,
                before=confirmed.before,
                after=confirmed.after,
                note=f"reconcile: the outcome of #{unknown.ref} is unknown; asking the shop",
            ),
        )
        if run is None:
            return None
        found, how, current = self._lookup(attempt, confirmed)
        if found.state == "applied":
            return self._reconciled(attempt, run.id, confirmed, found.record or current, how)
        if found.state == "refused" and found.refusal is not None:
            result = {"refusal": found.refusal.to_dict(), "reconciled": how}
            return self._settle(
                attempt, run.id, attempt.entry("refused", RECONCILER, ref=run.id, result=result)
            )
        if found.state == "absent":
            approved = any(r.status == "approved" for r in rows)
            return self._run(attempt, run.id, RECONCILER, approved=approved, reconciling=confirmed)
        return self._settle(
            attempt,
            run.id,
            attempt.entry(
                "unknown_outcome",
                RECONCILER,
                ref=run.id,
                result={"error": {"code": "outcome_unknown", "message": how}},
                note=f"idempotency key {attempt.key}: still unknown; reconcile again later",
            ),
        )

    def _lookup(
        self, attempt: _Attempt, confirmed: LedgerEntry
    ) -> tuple[KeyLookup, str, dict[str, Any] | None]:
        """What happened to the write of ``attempt``: the shop's record of the key when it
        keeps one, else a comparison of the records now with the confirmed preview's. Returns
        the finding, how it was found (or why it could not be), and the current record."""
        request, tenant, shop = attempt.request, attempt.tenant, self._shop
        if isinstance(shop, KeyedShop):
            try:
                recorded = shop.recorded_write(
                    tenant, request.name, request.dry_run_args(), attempt.key
                )
            except KefuError as exc:
                return (
                    KeyLookup("pending"),
                    f"the shop's record could not be read: {exc.code}",
                    None,
                )
            if recorded is not None:
                return recorded, "idempotency_record", None
        try:
            run = shop.dry_run(tenant, request.name, request.dry_run_args())
        except KefuError as exc:
            return KeyLookup("pending"), f"the records could not be read: {exc.code}", None
        if fingerprint(tenant, request, run) == attempt.fingerprint:
            return KeyLookup("absent"), "records", None
        if _effects_present(request, confirmed, run):
            return KeyLookup("applied"), "records", run_records(run)
        return (
            KeyLookup("pending"),
            "the records changed since the preview in a way the write does not explain; "
            "check the shop",
            None,
        )

    def _reconciled(
        self,
        attempt: _Attempt,
        run_id: int,
        confirmed: LedgerEntry,
        record: dict[str, Any] | None,
        how: str,
    ) -> Outcome:
        """``executed``, found so by reconciliation: ``after`` is the preview's, with the
        shop's current record in place of the order (or customer)."""
        on_customer = isinstance(attempt.request, ModifyCustomerAddress | IssueCoupon)
        target = "customer" if on_customer else "order"
        after = dict(confirmed.after or {})
        if record:
            after[target] = record
        doc = after.get(target) or {}
        shown = (
            {"customer_id": attempt.request.target}
            if target == "customer"
            else {"order_id": doc.get("order_id"), "status": doc.get("status")}
        )
        return self._settle(
            attempt,
            run_id,
            attempt.entry(
                "executed",
                RECONCILER,
                ref=run_id,
                result={"record": shown, "reconciled": how},
                before=confirmed.before,
                after=after,
                note="reconciled: the write had been applied",
            ),
        )

    # -- the approval queue ----------------------------------------------------------------
    def _decide(
        self, ledger_id: int, approver: str, status: str, note: str | None, tenant: str | None
    ) -> tuple[LedgerEntry, LedgerEntry]:
        if not approver.strip():
            raise InvalidInputError("approver must be named", field="approver")
        queued = self._ledger.get(ledger_id, tenant)
        if queued.status != "awaiting_approval" or queued.idempotency_key is None:
            raise NotAwaitingApproval(ledger_id, queued.status)
        decided = self._claim(
            queued.tenant,
            "decide:" + queued.idempotency_key,
            NewEntry(
                operation=queued.operation,
                status=status,
                arguments=queued.arguments,
                actor=approver.strip(),
                conversation_id=queued.conversation_id,
                customer_id=queued.customer_id,
                fingerprint=queued.fingerprint,
                idempotency_key=queued.idempotency_key,
                ref=queued.id,
                note=note,
            ),
        )
        if decided is None:
            rows = self._ledger.by_key(queued.tenant, queued.idempotency_key)
            decision = next(r.status for r in rows if r.status in ("approved", "rejected"))
            raise NotAwaitingApproval(ledger_id, decision)
        return queued, decided

    def approve(
        self, ledger_id: int, approver: str, *, note: str | None = None, tenant: str | None = None
    ) -> Outcome:
        """Approve the queued operation ``ledger_id`` (its ``awaiting_approval`` row) and run
        it: fingerprint-checked again, once. Raises OperationNotFound, NotAwaitingApproval
        (decided already, or not a queued operation)."""
        queued, decided = self._decide(ledger_id, approver, "approved", note, tenant)
        attempt = _Attempt(
            queued.tenant,
            request_from_args(queued.operation, queued.arguments),
            queued.fingerprint or "",
            queued.idempotency_key or "",
            queued.conversation_id,
            queued.customer_id,
        )
        return self._run(attempt, decided.id, decided.actor, approved=True)

    def reject(
        self, ledger_id: int, approver: str, note: str | None = None, *, tenant: str | None = None
    ) -> LedgerEntry:
        """Reject the queued operation ``ledger_id``: closed, nothing written."""
        return self._decide(ledger_id, approver, "rejected", note, tenant)[1]


def run_records(run: DryRun) -> dict[str, Any] | None:
    """The record a write targets as ``run`` read it now: the order, or the customer for a
    customer address change."""
    return run.order_before if run.order_before is not None else run.customer_before


def operations_of(service: Any, policy: ApprovalPolicy | None = None) -> Operations:
    """The operation layer over a :class:`kefu.service.Service`'s shop connector and database
    (the service's own, with the tenants' approval policies, unless ``policy`` is given)."""
    if policy is None:
        operations: Operations = service.operations
        return operations
    shared: Operations = service.operations
    return Operations(service.connector, shared.ledger, policy, listeners=shared.listeners)
