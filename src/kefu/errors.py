"""The one error hierarchy of kefu.

Every error kefu raises on purpose derives from :class:`KefuError`. Each carries a stable
machine-readable ``code`` and an HTTP ``status`` so the API can render it in the one JSON
error shape (see ``kefu.api.errors``) without ever leaking exception text from third parties.

    KefuError
    +-- NotFoundError                 404  something named does not exist
    |   +-- TenantNotFound
    |   +-- ConversationNotFound
    |   +-- FaqNotFound
    |   +-- DocumentNotFound
    |   +-- CustomerNotFound          shop customer (by id, email, name + zip or phone)
    |   +-- OrderNotFound
    |   +-- ProductNotFound           product or variant (item id)
    |   +-- OperationNotFound         an operation ledger entry (by id)
    |   +-- UserNotFound              a console user (by name)
    |   +-- HandoffNotFound           a handoff (by id, or no open one for a conversation)
    |   +-- TicketNotFound            a ticket (by id)
    |   +-- DraftNotFound             a suggested FAQ draft (by id)
    +-- InvalidInputError             422  a value supplied by the caller is wrong
    |   +-- KbImportError             a knowledge-base file is malformed (file, row, field)
    |   +-- DocumentImportError       a document is corrupt, encrypted or empty (file, place)
    |   +-- SettingError              an unknown setting or a value of the wrong type
    |   +-- ShopImportError           a shop file is malformed (file, JSON place)
    |   +-- FlowError                 a flow file is malformed (file, place)
    |   +-- ConversationFileError     a scripted conversation test file is malformed
    +-- AuthenticationError           401  no valid session or API key
    +-- PermissionDenied              403  the caller's role does not allow this action here
    +-- PayloadTooLargeError          413  a body or message exceeds a size limit
    +-- ConflictError                 409  the request conflicts with current state
    |   +-- OperationRefused          a shop write the shop's rules forbid (``reason``)
    |   +-- NotAwaitingApproval       approve/reject of an operation not waiting for it
    |   +-- AlreadyTaken              a handoff another agent took first, or not waiting
    +-- ConfigurationError            500  kefu itself is mis-configured (data dir, database URL)
    |   +-- MerchantConfigError       the HTTP connector's merchant file is malformed (file, key)
    +-- ProviderError                 502  a service at the network edge failed (embeddings ...)
        +-- MerchantError             502  the merchant's API failed or refused a request
        |   +-- WriteOutcomeUnknown   504  a write was sent but no answer says if it was applied
        +-- LlmError                  502  an LLM call failed (``retryable``: may a retry help)
            +-- LlmTimeout            504  no answer within the timeout
            +-- LlmRateLimited        503  the provider said 429 (``details.retry_after``)
            +-- LlmServerError        502  the provider answered 5xx
            +-- LlmRequestRejected    502  the provider refused the request (400/401/403/404/422)
            +-- LlmBadOutput          502  the reply is garbage, not JSON, or breaks the schema
            +-- LlmUnavailable        503  no connection, or every model of a fallback chain failed
                +-- LlmCircuitOpen    503  the circuit breaker is open for this model
"""

from __future__ import annotations

from typing import Any


class KefuError(Exception):
    """Base class of every error kefu raises on purpose."""

    code = "error"
    status = 500

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


class NotFoundError(KefuError):
    code = "not_found"
    status = 404


class TenantNotFound(NotFoundError):
    code = "tenant_not_found"

    def __init__(self, tenant: str) -> None:
        super().__init__(f"unknown tenant: {tenant!r}", field="tenant", tenant=tenant)


class ConversationNotFound(NotFoundError):
    code = "conversation_not_found"

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"unknown conversation: {conversation_id!r}", conversation=conversation_id)


class FaqNotFound(NotFoundError):
    code = "faq_not_found"

    def __init__(self, faq_id: str) -> None:
        super().__init__(f"unknown FAQ entry: {faq_id!r}", faq_id=faq_id)


class DocumentNotFound(NotFoundError):
    code = "document_not_found"

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"unknown document: {doc_id!r}", doc_id=doc_id)


class InvalidInputError(KefuError):
    code = "invalid_input"
    status = 422


class KbImportError(InvalidInputError):
    """A knowledge-base file could not be imported; nothing was written."""

    code = "kb_import_error"

    def __init__(self, file: str, row: int | None, field: str | None, problem: str) -> None:
        where = file if row is None else f"{file}, row {row}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}", field=field, file=file, row=row)
        self.file = file
        self.row = row
        self.problem = problem


class DocumentImportError(InvalidInputError):
    """A document (Markdown, HTML, PDF, DOCX, TXT) could not be imported; nothing was written.
    ``where`` names the place in the file: a page, line, paragraph or XML part."""

    code = "document_import_error"

    def __init__(self, file: str, where: str | None, problem: str) -> None:
        place = file if where is None else f"{file}, {where}"
        super().__init__(f"{place}: {problem}", file=file, where=where)
        self.file = file
        self.where = where
        self.problem = problem


class SettingError(InvalidInputError):
    code = "invalid_setting"


class ConversationFileError(InvalidInputError):
    """A scripted conversation file (``kefu test``) is malformed."""

    code = "conversation_file_error"

    def __init__(self, file: str, place: str, problem: str) -> None:
        super().__init__(f"{file}, {place}: {problem}", file=file, place=place)


class FlowError(InvalidInputError):
    """A flow definition is malformed; nothing was loaded."""

    code = "flow_error"

    def __init__(self, file: str, place: str, problem: str) -> None:
        super().__init__(f"{file}, {place}: {problem}", file=file, place=place)
        self.file = file
        self.place = place
        self.problem = problem


class UserNotFound(NotFoundError):
    code = "user_not_found"

    def __init__(self, username: str) -> None:
        super().__init__(f"unknown user: {username!r}", field="username", username=username)


class HandoffNotFound(NotFoundError):
    code = "handoff_not_found"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, **details)


class TicketNotFound(NotFoundError):
    code = "ticket_not_found"

    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"unknown ticket: {ticket_id}", ticket_id=ticket_id)


class DraftNotFound(NotFoundError):
    code = "draft_not_found"

    def __init__(self, draft_id: int) -> None:
        super().__init__(f"unknown FAQ draft: {draft_id}", draft_id=draft_id)


class AuthenticationError(KefuError):
    """No valid session cookie or API key came with a request that needs one."""

    code = "unauthorized"
    status = 401


class PermissionDenied(KefuError):
    """The caller is known but its role (for this tenant) does not allow the action; nothing
    was changed."""

    code = "forbidden"
    status = 403


class PayloadTooLargeError(KefuError):
    code = "payload_too_large"
    status = 413


class ConflictError(KefuError):
    code = "conflict"
    status = 409


class OperationRefused(ConflictError):
    """A shop write (cancel, modify, return, exchange) that the shop's rules forbid in the
    current state; nothing was written. ``reason`` is a stable machine-readable name
    (``order_not_pending``, ``item_not_in_order``, ``insufficient_gift_card_balance``, ...);
    ``message`` is the shop's own wording; for the embedded shop, tau-bench's refusal text
    without its ``Error: `` prefix (``non-pending order cannot be cancelled``)."""

    code = "operation_refused"

    def __init__(self, reason: str, message: str, **details: Any) -> None:
        super().__init__(message, reason=reason, **details)
        self.reason = reason


class NotAwaitingApproval(ConflictError):
    """Approve or reject an operation ledger entry that is not waiting for approval (already
    decided, or not a queued operation at all). ``details["status"]`` says what it is."""

    code = "not_awaiting_approval"

    def __init__(self, ledger_id: int, status: str) -> None:
        super().__init__(
            f"operation {ledger_id} is not awaiting approval (it is {status})",
            ledger_id=ledger_id,
            status=status,
        )


class AlreadyTaken(ConflictError):
    """An agent tried to take a conversation that another agent took first (or that is no
    longer waiting for a human)."""

    code = "already_taken"


class ConfigurationError(KefuError):
    code = "configuration_error"
    status = 500


class ProviderError(KefuError):
    code = "provider_error"
    status = 502


class CustomerNotFound(NotFoundError):
    """No shop customer matches. ``details["by"]`` says how the customer was looked up (``id``,
    ``email``, ``name_zip``, ``phone``); only a customer id is echoed, never contact data."""

    code = "customer_not_found"

    def __init__(self, by: str, customer_id: str | None = None) -> None:
        if customer_id is not None:
            super().__init__(
                f"unknown customer: {customer_id!r}",
                field="customer_id",
                by=by,
                customer_id=customer_id,
            )
        else:
            super().__init__(f"no customer matches the given {by.replace('_', ' + ')}", by=by)


class OrderNotFound(NotFoundError):
    code = "order_not_found"

    def __init__(self, order_id: str) -> None:
        super().__init__(f"unknown order: {order_id!r}", field="order_id", order_id=order_id)


class ProductNotFound(NotFoundError):
    code = "product_not_found"

    def __init__(self, product_id: str, *, field: str = "product_id") -> None:
        super().__init__(f"unknown product: {product_id!r}", field=field, product_id=product_id)


class OperationNotFound(NotFoundError):
    """No operation ledger entry has this id (in this tenant, when one is named)."""

    code = "operation_not_found"

    def __init__(self, ledger_id: int) -> None:
        super().__init__(f"unknown operation: {ledger_id}", field="id", ledger_id=ledger_id)


class ShopImportError(InvalidInputError):
    """A shop file could not be imported; nothing was written.

    ``file`` names the file, ``place`` the spot inside it (a JSON path such as
    ``order "#W2611340", items[1].price``, or ``line 3, column 5`` for broken JSON).
    """

    code = "shop_import_error"

    def __init__(self, file: str, place: str | None, problem: str) -> None:
        where = file if place is None else f"{file}, {place}"
        super().__init__(f"{where}: {problem}", file=file, place=place)
        self.file = file
        self.place = place
        self.problem = problem


class LlmError(ProviderError):
    """An LLM call failed. Raised by the adapters in ``kefu.llm`` only: every third-party
    exception is converted at the edge, and provider response text never goes into ``message``.
    ``retryable`` says whether trying the same call again may help; ``outage`` whether the
    failure counts towards opening the circuit breaker."""

    code = "llm_error"
    retryable = False
    outage = True

    def __init__(self, message: str, *, model: str | None = None, **details: Any) -> None:
        super().__init__(message, model=model, **details)
        self.model = model


class LlmTimeout(LlmError):
    code = "llm_timeout"
    status = 504
    retryable = True


class LlmRateLimited(LlmError):
    code = "llm_rate_limited"
    status = 503
    retryable = True

    def __init__(
        self, message: str, *, model: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, model=model, retry_after=retry_after)
        self.retry_after = retry_after


class LlmServerError(LlmError):
    code = "llm_server_error"
    retryable = True


class LlmRequestRejected(LlmError):
    """The provider refused the request itself (bad request, bad key, unknown model): retrying
    the same request cannot help, and it says nothing about the provider being down."""

    code = "llm_request_rejected"
    outage = False


class LlmBadOutput(LlmError):
    code = "llm_bad_output"


class LlmUnavailable(LlmError):
    code = "llm_unavailable"
    status = 503
    retryable = True


class LlmCircuitOpen(LlmUnavailable):
    code = "llm_circuit_open"
    retryable = False
    outage = False


class MerchantConfigError(ConfigurationError):
    """A merchant connector file (the HTTP connector's YAML) does not match its schema, or names
    an environment variable that is not set. ``file`` names the file, ``key`` the place in it
    (``writes.cancel_order``, ``auth.value``), ``problem`` what is wrong."""

    code = "merchant_config_error"

    def __init__(self, file: str, key: str | None, problem: str) -> None:
        where = file if key is None else f"{file}, key {key!r}"
        super().__init__(f"{where}: {problem}", file=file, key=key)
        self.file = file
        self.key = key
        self.problem = problem


class MerchantError(ProviderError):
    """The merchant's API (HTTP connector) failed or refused the request itself: bad
    credentials, a malformed request, an unusable reply, or no answer after the retries of a
    read. Raised from a write only when the merchant's answer says it did not apply it (a 4xx
    that is not a refusal). Merchant response text never goes into ``message``."""

    code = "merchant_error"

    def __init__(self, message: str, *, http_status: int | None = None, **details: Any) -> None:
        super().__init__(message, http_status=http_status, **details)
        self.http_status = http_status


class WriteOutcomeUnknown(MerchantError):
    """A write was sent to the merchant but no answer says whether it was applied (a timeout, a
    5xx, a connection reset): it may or may not have happened. The operation layer records
    ``unknown_outcome`` with the idempotency key and reconciles before any retry; the key makes
    the merchant apply it at most once."""

    code = "write_outcome_unknown"
    status = 504
