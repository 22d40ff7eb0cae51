"""Typed errors with the facts a person needs: plain text, Business Central code, HTTP status, ids.

Every error a user can meet is a ``ViewerError``; its ``str()`` is a one-line plain-language message
that never contains a token or secret. ``details()`` adds code, status and ids for a support ticket.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from viewer.jsondata import BadJson, loads

_CORRELATION_SUFFIX = re.compile(r"\s*CorrelationId:\s*([0-9a-fA-F-]{36})\.?\s*$")


class ViewerError(Exception):
    """Base for every expected failure; the message is meant for people."""

    def details(self) -> str:
        return str(self)


class InsecureUrlError(ViewerError):
    """An http:// URL to a host that is not loopback: tokens must never travel in clear text."""


class NetworkError(ViewerError):
    """The service could not be reached, or the connection broke (after retries)."""


class CancelledLoad(ViewerError):
    """Not an error for users: a newer load replaced this one."""


@dataclass(eq=False)
class ApiError(ViewerError):
    """Business Central answered with an error."""

    status: int
    code: str
    message: str
    correlation_id: str | None = None
    request_id: str | None = None
    retry_after: float | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        prefix = f"{self.code}: " if self.code else ""
        return f"{prefix}{self.message} (HTTP {self.status})"

    def details(self) -> str:
        parts = [str(self)]
        if self.correlation_id:
            parts.append(f"Correlation id: {self.correlation_id}")
        if self.request_id:
            parts.append(f"Request id: {self.request_id}")
        return "\n".join(parts)


class NotFound(ApiError):
    """404: for a journal line this usually means it was posted or deleted."""

    def __str__(self) -> str:
        return (
            "Not found: the payment may have been posted or deleted, or the link is wrong "
            f"({self.code or 'HTTP 404'}: {self.message})"
        )


class BadResponse(ApiError):
    """A response that is not the JSON Business Central sends (HTML error page, cut-off body, …)."""


class InvalidJson(BadResponse):
    """The body is not valid JSON (cut off, an HTML page, NaN/Infinity, a duplicated field)."""


class TooDeep(BadResponse):
    """JSON nested deeper than any Business Central answer (a parser bomb)."""


class NotAnObject(BadResponse):
    """Valid JSON, but a list, string or number where an object was expected."""


class WrongContentType(BadResponse):
    """A 2xx answer that says it is not JSON (an HTML login page from a proxy, a file download)."""


class TooLarge(BadResponse):
    """The answer (counted after decompression) is bigger than the configured cap."""


@dataclass(eq=False)
class Redirected(BadResponse):
    """A 3xx answer: never followed (it would carry credentials elsewhere); ``location`` names the target."""

    location: str = ""


class DeadlineExceeded(NetworkError):
    """The whole exchange took longer than the overall deadline (e.g. a server dripping one byte at a time)."""


class ForeignUrl(ViewerError):
    """A URL taken from a response points at another server; following it would hand over the credentials."""


class BadId(ViewerError):
    """An id taken from a response is not the GUID Business Central uses: it never goes into a URL."""


@dataclass(eq=False)
class SignInRequired(ViewerError):
    """No usable credentials: the user has to sign in (again). ``reason`` says why, plainly."""

    reason: str
    aadsts: int | None = None

    def __post_init__(self) -> None:
        super().__init__(self.reason)

    def __str__(self) -> str:
        return self.reason


def split_correlation(message: str) -> tuple[str, str | None]:
    """``"Text.  CorrelationId:  <guid>."`` → ``("Text.", "<guid>")``."""
    match = _CORRELATION_SUFFIX.search(message)
    if not match:
        return message.strip(), None
    return message[: match.start()].strip(), match.group(1).lower()


def header(headers: Mapping[str, str], *names: str) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in names:
        if (value := lowered.get(name.lower())) is not None:
            return value
    return None


def api_error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    retry_after: float | None = None,
) -> ApiError:
    """Build the typed error for a non-2xx response, whatever its body looks like."""
    request_id = header(headers, "request-id", "x-ms-request-id", "client-request-id")
    header_correlation = header(headers, "ms-correlation-x", "x-ms-correlation-id")
    content_type = (header(headers, "content-type") or "").lower()
    code, message, correlation = "", "", None
    try:
        payload = loads(body) if body else None
    except (BadJson, ValueError, UnicodeDecodeError):
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        err = payload["error"]
        code = str(err.get("code") or "")
        message, correlation = split_correlation(str(err.get("message") or ""))
    elif "html" in content_type or body.lstrip()[:1] == b"<":
        message = f"The service answered HTTP {status} with a web page instead of data"
    else:
        message = _plain_status(status)
    if not message:
        message = _plain_status(status)
    kind: type[ApiError] = NotFound if status == 404 else ApiError
    if kind is ApiError and "html" in content_type:
        kind = BadResponse
    return kind(
        status=status,
        code=code,
        message=message,
        correlation_id=correlation or header_correlation,
        request_id=request_id,
        retry_after=retry_after,
    )


def _plain_status(status: int) -> str:
    return {
        400: "The request was not accepted",
        401: "The service did not accept the credentials",
        403: "You do not have permission to read this",
        404: "Not found",
        405: "The API is not enabled on this server",
        408: "The operation timed out on the server",
        413: "The response would be too large",
        429: "Too many requests: Business Central asks to slow down",
        500: "Business Central had an internal error",
        502: "Bad gateway between you and Business Central",
        503: "Business Central is temporarily unavailable",
        504: "Business Central did not answer in time",
    }.get(status, f"Unexpected HTTP status {status}")
