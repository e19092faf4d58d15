"""The HTTP transport of the merchant connector: auth, timeouts, safe retries, error mapping.

Retries only where a repeat cannot do harm:

- a GET is retried after a connection error, a timeout or a 502/503/504;
- a write always carries an idempotency key (``Idempotency-Key``), so it is retried after a
  connection error (refused, reset, closed without an answer) or a 502/503/504: the merchant
  answers a repeated key with its stored first response instead of writing again. A write is
  never retried after a read timeout (the merchant may still be working on it) nor after a 500.

Attempts and backoff (doubled each time, bounded) come from the merchant file. Errors are ours
at this edge: a write with no answer saying whether it was applied raises
:class:`~kefu.errors.WriteOutcomeUnknown`; other failures :class:`~kefu.errors.MerchantError`
(the merchant's text never goes into the message). 404, 409 and 422 are returned to the caller,
which knows what was asked for.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from kefu.connectors.http_config import Endpoint, MerchantConfig
from kefu.errors import MerchantError, WriteOutcomeUnknown

_RETRY_STATUS = frozenset({502, 503, 504})
_RETURNED_STATUS = frozenset({404, 409, 422})
# No connection was made: the request never reached the merchant.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The connection broke after the request may have been sent (reset, closed without an answer).
_BROKEN = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


@dataclass(frozen=True, slots=True)
class Reply:
    """A merchant answer the caller interprets: its status and JSON body (None when empty or
    not JSON)."""

    status: int
    body: Any


def dig(body: Any, path: str | None) -> Any:
    """The value at a dotted ``path`` in a JSON body (the body itself for None); None when
    absent."""
    if path is None:
        return body
    for part in path.split("."):
        if not isinstance(body, Mapping):
            return None
        body = body.get(part)
    return body


class MerchantClient:
    """Sends the merchant file's requests. ``transport`` replaces httpx's network transport
    (tests use real local servers, not this)."""

    def __init__(self, config: MerchantConfig, transport: httpx.BaseTransport | None = None):
        self.config = config
        headers = {"Accept": "application/json", "User-Agent": "kefu-http-connector"}
        if config.auth_header and config.auth_value:
            headers[config.auth_header] = config.auth_value
        self._http = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(
                connect=config.connect_timeout,
                read=config.read_timeout,
                write=config.read_timeout,
                pool=config.connect_timeout,
            ),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def url(self, endpoint: Endpoint, params: Mapping[str, Any]) -> str:
        values = {k: quote(str(v), safe="") for k, v in params.items()}
        return self.config.base_url + endpoint.path.format(**values)

    def _pause(self, attempt: int) -> None:
        retries = self.config.retries
        delay = min(retries.backoff_s * (2**attempt), retries.max_backoff_s)
        if delay > 0:
            time.sleep(delay)  # bounded backoff between tries of a safe request

    @staticmethod
    def _reply(response: httpx.Response) -> Reply:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        return Reply(response.status_code, body)

    def get(self, endpoint: Endpoint, params: Mapping[str, Any], what: str) -> Reply:
        """A GET, retried after connection errors, timeouts and 502/503/504. Returns 2xx, 404,
        409 and 422 answers; raises MerchantError for anything else."""
        url = self.url(endpoint, params)
        attempts = self.config.retries.attempts
        problem = "no answer"
        status: int | None = None
        for attempt in range(attempts):
            if attempt:
                self._pause(attempt - 1)
            try:
                response = self._http.request(endpoint.method, url)
            except (*_NOT_SENT, *_BROKEN, httpx.TimeoutException) as exc:
                problem, status = type(exc).__name__, None
                continue
            except httpx.HTTPError as exc:  # anything else at this edge: ours, not retried
                raise MerchantError(
                    f"the merchant API could not be asked for {what} ({type(exc).__name__})"
                ) from None
            if response.status_code in _RETRY_STATUS:
                problem, status = f"HTTP {response.status_code}", response.status_code
                continue
            if response.is_success or response.status_code in _RETURNED_STATUS:
                return self._reply(response)
            raise MerchantError(
                f"the merchant API answered HTTP {response.status_code} to {what}",
                http_status=response.status_code,
            )
        raise MerchantError(
            f"the merchant API did not answer {what} after {attempts} tries ({problem})",
            http_status=status,
        )

    def write(
        self,
        endpoint: Endpoint,
        params: Mapping[str, Any],
        body: Mapping[str, Any],
        idempotency_key: str,
        what: str,
    ) -> Reply:
        """A write with its idempotency key, retried (same key) after connection errors and
        502/503/504. Returns 2xx, 404, 409 and 422 answers. Raises WriteOutcomeUnknown when it
        may have been applied and no answer says so (a timeout, a 500, a broken connection or a
        502/503/504 after the last try), MerchantError when it certainly was not."""
        url = self.url(endpoint, params)
        headers = {self.config.idempotency_header: idempotency_key}
        attempts = self.config.retries.attempts
        maybe_sent = False
        problem = "no answer"
        for attempt in range(attempts):
            if attempt:
                self._pause(attempt - 1)
            try:
                response = self._http.request(endpoint.method, url, json=body, headers=headers)
            except _NOT_SENT as exc:
                problem = type(exc).__name__
                continue
            except _BROKEN as exc:
                maybe_sent, problem = True, type(exc).__name__
                continue
            except (httpx.TimeoutException, httpx.HTTPError) as exc:  # not retried
                raise WriteOutcomeUnknown(
                    f"{what}: no usable answer ({type(exc).__name__}); it may have been applied",
                    idempotency_key=idempotency_key,
                    cause=type(exc).__name__,
                ) from None
            status = response.status_code
            if status in _RETRY_STATUS:
                maybe_sent, problem = True, f"HTTP {status}"
                continue
            if status >= 500:
                raise WriteOutcomeUnknown(
                    f"{what}: the merchant API answered HTTP {status}; it may have been applied",
                    http_status=status,
                    idempotency_key=idempotency_key,
                )
            if response.is_success or status in _RETURNED_STATUS:
                return self._reply(response)
            raise MerchantError(
                f"the merchant API refused {what} with HTTP {status}; nothing was written",
                http_status=status,
            )
        if maybe_sent:
            raise WriteOutcomeUnknown(
                f"{what}: no usable answer after {attempts} tries ({problem}); it may have been "
                "applied",
                idempotency_key=idempotency_key,
                cause=problem,
            )
        raise MerchantError(
            f"the merchant API could not be reached for {what} after {attempts} tries "
            f"({problem}); nothing was sent"
        )
