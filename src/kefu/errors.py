"""The one error hierarchy of kefu.

Every error kefu raises on purpose derives from :class:`KefuError`. Each carries a stable
machine-readable ``code`` and an HTTP ``status`` so the API can render it in the one JSON
error shape (see ``kefu.api.errors``) without ever leaking exception text from third parties.

    KefuError
    +-- NotFoundError                 404  something named does not exist
    |   +-- TenantNotFound
    |   +-- ConversationNotFound
    |   +-- FaqNotFound
    +-- InvalidInputError             422  a value supplied by the caller is wrong
    |   +-- KbImportError             a knowledge-base file is malformed (file, row, field)
    |   +-- SettingError              an unknown setting or a value of the wrong type
    +-- PayloadTooLargeError          413  a body or message exceeds a size limit
    +-- ConflictError                 409  the request conflicts with current state
    +-- ConfigurationError            500  kefu itself is mis-configured (data dir, database URL)
    +-- ProviderError                 502  a service at the network edge failed (embeddings ...)
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


class SettingError(InvalidInputError):
    code = "invalid_setting"


class PayloadTooLargeError(KefuError):
    code = "payload_too_large"
    status = 413


class ConflictError(KefuError):
    code = "conflict"
    status = 409


class ConfigurationError(KefuError):
    code = "configuration_error"
    status = 500


class ProviderError(KefuError):
    code = "provider_error"
    status = 502
