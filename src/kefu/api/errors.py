"""The one JSON error shape of the API, for every error:

    {"error": {"code": "tenant_not_found", "message": "unknown tenant: 'x'",
               "field": "tenant", "details": {...}}}

``field`` and ``details`` appear only when known. Unexpected exceptions become a 500 with code
``internal_error`` and no exception text (it is logged server side instead).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kefu.errors import KefuError
from kefu.logs import get_logger

log = get_logger("kefu.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}


def error_body(
    code: str, message: str, field: str | None = None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    if details:
        err["details"] = details
    return {"error": err}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    details: dict[str, Any] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, field, details), status_code=status)


def _field(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


async def _kefu_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KefuError)
    if exc.status >= 500:
        log.error("kefu error %s: %s", exc.code, exc.message)
    return JSONResponse({"error": exc.to_dict()}, status_code=exc.status)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    field = _field(first.get("loc", ()))
    kind = first.get("type", "")
    if kind == "json_invalid":
        message = "request body is not valid JSON"
        field = None
    elif kind == "missing":
        message = f"missing field {field!r}" if field else "request body is missing"
    else:
        msg = str(first.get("msg", "invalid value"))
        message = f"{field}: {msg}" if field else msg
    problems = [{"field": _field(e.get("loc", ())), "problem": str(e.get("msg"))} for e in errors]
    return error_response(422, "invalid_input", message, field, {"problems": problems})


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = str(exc.detail) if exc.detail else code.replace("_", " ")
    if exc.status_code == 404 and message == "Not Found":
        message = "no such endpoint"
    return error_response(exc.status_code, code, message)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(KefuError, _kefu_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
