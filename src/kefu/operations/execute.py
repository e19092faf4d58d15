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
  an executed write always ran on records hashing to the confirmed fingerprint.
- :meth:`Operations.approve` / :meth:`Operations.reject` decide a queued operation; the
  decision is claimed the same way (one decision per operation), and an approved write is
  fingerprint-checked again, the same two ways, as it runs.

The approval policy is the tenant's (setting ``approval_amount_threshold``, read at each
preview and confirmation) unless an :class:`ApprovalPolicy` is given to :class:`Operations`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kefu.connectors.embedded_writes import DryRun, Expect
from kefu.errors import ConflictError, InvalidInputError, KefuError, NotAwaitingApproval
from kefu.errors import OperationRefused as Refused
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
from kefu.operations.requests import Request, request_from_args
from kefu.storage.ledger import LedgerEntry, LedgerRepository, NewEntry

# Statuses that end a confirmed attempt (or park it, awaiting approval).
_SETTLED = frozenset(
    {"refused", "awaiting_approval", "rejected", "executed", "failed", "unknown_outcome"}
)
_FIRST_POLL_S = 0.002
_MAX_POLL_S = 0.05
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
    ``replayed`` is True when it is an earlier call's recorded outcome."""

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


class Operations:
    """Previews, confirmed writes, the approval queue and their ledger over one shop.
    ``policy`` fixes the approval policy for every tenant; None (the default) reads each
    tenant's settings (:meth:`ApprovalPolicy.from_settings`) at every preview and
    confirmation, so a changed threshold applies to the next one."""

    def __init__(
        self,
        shop: OperationsShop,
        ledger: LedgerRepository,
        policy: ApprovalPolicy | None = None,
        *,
        wait_s: float = 30.0,
    ) -> None:
        self._shop = shop
        self._ledger = ledger
        self._policy = policy
        self._wait_s = wait_s

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
        entry = self._ledger.append(
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
        claimed = self._ledger.claim(
            attempt.tenant,
            "confirm:" + key,
            attempt.entry(
                "confirmed",
                confirmation.actor,
                preview=preview.to_dict(),
                confirmation=confirmation.to_dict(key),
                ref=preview.ledger_id,
            ),
        )
        if claimed is None:
            return self._replay(attempt)
        return self._run(attempt, claimed.id, confirmation.actor, approved=False)

    def _replay(self, attempt: _Attempt) -> Outcome:
        """The recorded outcome of a key another call claimed, once it has one (waiting up to
        ``wait_s``; then the ``confirmed`` row: still in progress)."""
        deadline = time.monotonic() + self._wait_s
        pause = _FIRST_POLL_S
        while True:
            rows = self._ledger.by_key(attempt.tenant, attempt.key)
            confirmed = next((r for r in rows if r.status == "confirmed"), None)
            if confirmed is not None and confirmed.fingerprint != attempt.fingerprint:
                raise ConflictError(
                    "this idempotency key was used to confirm another preview",
                    field="idempotency_key",
                )
            settled = [r for r in rows if r.status in _SETTLED]
            if settled:
                return _outcome(settled[-1], replayed=True)
            if time.monotonic() >= deadline and confirmed is not None:
                return _outcome(confirmed, replayed=True)
            time.sleep(pause)  # the claimer is writing: wait without holding anything
            pause = min(pause * 2, _MAX_POLL_S)

    def _run(self, attempt: _Attempt, ref: int, actor: str, *, approved: bool) -> Outcome:
        """Re-read, check the fingerprint and the policy; write, checking the fingerprint again
        under the write's locks; record."""
        request, tenant = attempt.request, attempt.tenant
        try:
            run = self._shop.dry_run(tenant, request.name, request.dry_run_args())
        except KefuError as exc:  # the order or customer is gone: nothing was written
            return self._failed(attempt, actor, ref, exc)
        current = from_dry_run(tenant, request, run)
        if current.fingerprint != attempt.fingerprint:
            return self._stale(attempt, actor, ref, run)
        reasons = self.policy(tenant).review(current)
        if reasons and not approved:
            entry = self._ledger.append(
                tenant,
                attempt.entry(
                    "awaiting_approval",
                    actor,
                    ref=ref,
                    preview=current.with_(needs_approval=reasons).to_dict(),
                    result={"reasons": list(reasons)},
                    note=", ".join(reasons),
                ),
            )
            return _outcome(entry)
        # Records that still hash to the fingerprint give the same preview, so the policy's
        # answer above holds for the write as long as the guard lets it through.
        guard = PreviewGuard(tenant, request, attempt.fingerprint)
        try:
            written = self._shop.write(tenant, request.name, request.dry_run_args(), expect=guard)
        except Refused as exc:
            if exc.reason == STALE.reason and guard.seen is not None:
                return self._stale(attempt, actor, ref, guard.seen)
            result = {"refusal": {"reason": exc.reason, "message": exc.message}}
            return _outcome(
                self._ledger.append(tenant, attempt.entry("refused", actor, ref=ref, result=result))
            )
        except KefuError as exc:  # a known error: the shop's transaction wrote nothing
            return self._failed(attempt, actor, ref, exc)
        except Exception as exc:
            result = {"error": {"code": "internal_error", "message": type(exc).__name__}}
            self._ledger.append(
                tenant, attempt.entry("unknown_outcome", actor, ref=ref, result=result)
            )
            raise
        entry = self._ledger.append(
            tenant,
            attempt.entry(
                "executed",
                actor,
                ref=ref,
                result={"record": _record(written)},
                before=records(written, after=False),
                after=records(written, after=True),
            ),
        )
        return _outcome(entry)

    def _stale(self, attempt: _Attempt, actor: str, ref: int, run: DryRun) -> Outcome:
        """Refused: the records ``run`` read no longer hash to the confirmed fingerprint."""
        entry = self._ledger.append(
            attempt.tenant,
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
        return _outcome(entry)

    def _failed(self, attempt: _Attempt, actor: str, ref: int, exc: KefuError) -> Outcome:
        result = {"error": {"code": exc.code, "message": exc.message}}
        return _outcome(
            self._ledger.append(
                attempt.tenant, attempt.entry("failed", actor, ref=ref, result=result)
            )
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
        decided = self._ledger.claim(
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


def operations_of(service: Any, policy: ApprovalPolicy | None = None) -> Operations:
    """The operation layer over a :class:`kefu.service.Service`'s shop and database (the
    tenants' own approval policies unless ``policy`` is given)."""
    from kefu.storage.db import session_factory

    ledger = LedgerRepository(session_factory(service.engine), service.tenants)
    return Operations(service.shop, ledger, policy)
