"""The one Business Central HTTP client: GET only, polite retries, silent re-auth, typed errors.

One ``httpx.AsyncClient`` lives as long as the app (its transport injectable for tests). Every
request carries a fresh ``client-request-id`` and ``Data-Access-Intent: ReadOnly``; the answer comes
back with its facts (status, latency, ETag, request and correlation ids, size) for the status bar.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import ssl
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from viewer import __version__
from viewer.errors import (
    BadResponse,
    NetworkError,
    SignInRequired,
    api_error_from_response,
    header,
)
from viewer.net import require_secure

logger = logging.getLogger(__name__)

USER_AGENT = f"bc-payment-viewer/{__version__}"
RETRY_STATUSES = frozenset({429, 502, 503, 504})


class Credentials(Protocol):
    """Supplies the ``Authorization`` header; ``refresh=True`` asks for a new one after a 401."""

    async def authorization(self, *, refresh: bool = False) -> str: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with full jitter, bounded in count and in total waiting time."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_total: float = 30.0
    max_retry_after: float = 60.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


@dataclass(frozen=True)
class ResponseFacts:
    """What a person may want to know about the last request (never a token)."""

    method: str
    url: str
    status: int
    elapsed_ms: float
    fetched_at: datetime
    size: int
    attempts: int
    client_request_id: str
    request_id: str | None = None
    correlation_id: str | None = None
    etag: str | None = None


@dataclass(frozen=True)
class ApiResponse:
    data: dict[str, Any]
    facts: ResponseFacts


@dataclass
class Page:
    """One page of a collection, with the link to the next page (``None`` on the last)."""

    items: list[dict[str, Any]]
    next_link: str | None
    facts: ResponseFacts
    extra: dict[str, Any] = field(default_factory=dict)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else time.time()
    return max(0.0, when.timestamp() - current)


class BcClient:
    """GET-only access to Business Central. Create once; ``await aclose()`` on quit."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        accept_language: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.credentials = credentials
        self.retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Data-Access-Intent": "ReadOnly",
        }
        if accept_language:
            headers["Accept-Language"] = accept_language
        self._http = httpx.AsyncClient(
            verify=verify,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers=headers,
            follow_redirects=False,
            trust_env=False,
        )
        self.last_facts: ResponseFacts | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    async def __aenter__(self) -> BcClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- the one request path ------------------------------------------------------------------

    async def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
    ) -> ApiResponse:
        """GET ``url`` and return its JSON object; retries, re-auth and errors handled here.

        ``retry`` overrides the client's policy for this call (the watcher backs off on its own).
        """
        policy = retry or self.retry
        require_secure(url)
        started_total = time.monotonic()
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            request_id = str(uuid.uuid4())
            auth = await self.credentials.authorization(refresh=False)
            send_headers = {"Authorization": auth, "client-request-id": request_id, **(headers or {})}
            t0 = time.monotonic()
            try:
                response = await self._http.get(url, params=params, headers=send_headers)
                body = response.content
            except (httpx.TransportError, httpx.DecodingError) as exc:
                delay = self._next_delay(attempt, started_total, None, policy)
                logger.info("GET %s failed (%s); attempt %d", _loggable(url), type(exc).__name__, attempt)
                if delay is None:
                    raise NetworkError(_network_message(exc)) from None
                await asyncio.sleep(delay)
                continue
            elapsed_ms = (time.monotonic() - t0) * 1000
            facts = self._facts(url, response, body, elapsed_ms, attempt, request_id)
            self.last_facts = facts
            logger.debug("GET %s -> %d in %.0f ms", _loggable(url), response.status_code, elapsed_ms)

            if response.status_code == 401:
                if not refreshed:
                    # One silent refresh, one retry; a second 401 means a real sign-in is needed.
                    refreshed = True
                    await self.credentials.authorization(refresh=True)
                    continue
                if auth.startswith("Basic "):
                    # NavUserPassword: BC's own text ("rejected the client credentials") is protocol jargon.
                    raise SignInRequired("Wrong user name or password (HTTP 401)")
                err = api_error_from_response(401, response.headers, body)
                raise SignInRequired(f"Sign-in required (HTTP 401): {err.message}")
            if response.status_code in RETRY_STATUSES:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                delay = self._next_delay(attempt, started_total, retry_after, policy)
                if delay is None:
                    raise api_error_from_response(response.status_code, response.headers, body, retry_after)
                logger.info("GET %s -> %d; retrying in %.2f s", _loggable(url), response.status_code, delay)
                await asyncio.sleep(delay)
                continue
            if response.status_code >= 400:
                raise api_error_from_response(response.status_code, response.headers, body)
            return ApiResponse(_decode_object(body, response, facts), facts)

    def _next_delay(self, attempt: int, started: float, retry_after: float | None,
                    policy: RetryPolicy | None = None) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` when the budget is spent."""
        policy = policy or self.retry
        if attempt >= policy.attempts:
            return None
        if retry_after is not None:
            if retry_after > policy.max_retry_after:
                return None
            delay = retry_after
        else:
            delay = policy.backoff(attempt - 1, self._rng)
        if time.monotonic() - started + delay > policy.max_total:
            return None
        return delay

    def _facts(
        self,
        url: str,
        response: httpx.Response,
        body: bytes,
        elapsed_ms: float,
        attempts: int,
        client_request_id: str,
    ) -> ResponseFacts:
        etag = response.headers.get("etag")
        return ResponseFacts(
            method="GET",
            url=url,
            status=response.status_code,
            elapsed_ms=elapsed_ms,
            fetched_at=datetime.now(UTC),
            size=len(body),
            attempts=attempts,
            client_request_id=client_request_id,
            request_id=header(response.headers, "request-id", "x-ms-request-id"),
            correlation_id=header(response.headers, "ms-correlation-x", "x-ms-correlation-id"),
            etag=etag,
        )

    # ---- collections -----------------------------------------------------------------------------

    async def get_page(
        self, url: str, *, page_size: int | None = None, params: Mapping[str, str] | None = None
    ) -> Page:
        headers = {"Prefer": f"odata.maxpagesize={page_size}"} if page_size else None
        response = await self.get_json(url, params=params, headers=headers)
        items = response.data.get("value")
        if not isinstance(items, list):
            raise BadResponse(
                status=response.facts.status,
                code="",
                message="The service sent an object where a list was expected",
                request_id=response.facts.request_id,
            )
        next_link = response.data.get("@odata.nextLink")
        link = next_link if isinstance(next_link, str) else None
        return Page(items=items, next_link=link, facts=response.facts)

    async def iter_pages(
        self, url: str, *, page_size: int = 500, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[Page]:
        """Follow ``@odata.nextLink`` (opaque: used as given) until the last page."""
        page = await self.get_page(url, page_size=page_size, params=params)
        yield page
        while page.next_link:
            page = await self.get_page(page.next_link, page_size=page_size)
            yield page


def _decode_object(body: bytes, response: httpx.Response, facts: ResponseFacts) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        kind = "a web page" if b"<html" in body[:500].lower() else "data that is not valid JSON"
        raise BadResponse(
            status=response.status_code,
            code="",
            message=f"The service sent {kind} instead of a Business Central answer",
            request_id=facts.request_id,
            correlation_id=facts.correlation_id,
        ) from None
    if not isinstance(data, dict):
        raise BadResponse(
            status=response.status_code,
            code="",
            message="The service sent JSON that is not an object",
            request_id=facts.request_id,
        )
    return data


def _network_message(exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return "Cannot connect: the server's certificate is not trusted"
        return "Cannot connect to the service: check the address and your network"
    if isinstance(exc, httpx.TimeoutException):
        return "The service did not answer in time"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return "The connection broke before the answer was complete"
    return f"Network error: {type(exc).__name__}"


def _loggable(url: str) -> str:
    """URLs carry no secrets here, but keep logs short: drop the query string."""
    return url.split("?", 1)[0]

