"""The one Business Central HTTP client: GET only, polite retries, silent re-auth, typed errors.

One ``httpx.AsyncClient`` lives as long as the app (its transport injectable for tests). Every
request carries a fresh ``client-request-id`` and ``Data-Access-Intent: ReadOnly``; the answer comes
back with its facts (status, latency, ETag, request and correlation ids, size) for the status bar.

It is also the app's hardened boundary: every server is treated as hostile (README "Security").
Credentials go only to the pinned server (``pin``), never along a redirect or a foreign next link;
bodies are streamed against a byte cap counted after decompression; a whole call has a deadline on
top of the per-read timeout; only 2xx is success; and bodies are parsed by ``viewer.jsondata``
(exact decimals, bounded nesting), so every misbehaviour ends in a typed ``ViewerError``.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import ssl
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, cast
from urllib.parse import urljoin

import httpx

from viewer import __version__, odata
from viewer.errors import (
    ApiError,
    BadResponse,
    DeadlineExceeded,
    ForeignUrl,
    InsecureUrlError,
    InvalidJson,
    NetworkError,
    NotAnObject,
    Redirected,
    SignInRequired,
    TooDeep,
    TooLarge,
    WrongContentType,
    api_error_from_response,
    header,
)
from viewer.jsondata import MAX_DEPTH, BadJson, loads_object
from viewer.net import Network, client_options, describe_failure, require_secure

logger = logging.getLogger(__name__)

USER_AGENT = f"bc-payment-viewer/{__version__}"
RETRY_STATUSES = frozenset({429, 502, 503, 504})


def _remember_sniffio_is_absent() -> None:
    """httpcore tries ``import sniffio`` whenever an async request takes a lock (httpcore/_synchronization.py) and
    uses asyncio when it is not installed. Python does not remember an import that failed, so each request searched
    the whole sys.path again, four times (a few tenths of a millisecond of the click's path, measured in
    tests/benchmarks/bench_load.py). ``None`` in ``sys.modules`` is Python's way to say "not there": the import then
    fails at once, exactly as before, only without the search."""
    import importlib.util
    import sys

    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


_remember_sniffio_is_absent()


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
class Limits:
    """What one call may cost: bytes after decompression (a record, a list page), seconds overall, nesting.

    Settings ``network/max_record_mb``, ``network/max_page_mb`` and ``network/deadline_seconds`` override the
    defaults (README "Security"); the per-read ``timeout`` of the client stays on top of the deadline.
    """

    max_record_bytes: int = 5_000_000
    max_page_bytes: int = 20_000_000
    deadline: float = 60.0
    max_depth: int = MAX_DEPTH


def origin(url: str | httpx.URL) -> str:
    """``scheme://host:port`` with the default port made explicit, for same-server comparisons."""
    parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    port = parsed.port or {"https": 443, "http": 80}.get(parsed.scheme, 0)
    return f"{parsed.scheme}://{parsed.host.lower()}:{port}"


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
    # Set (and next_link None) when the server's next link was refused: the rows of this page still count.
    next_error: ForeignUrl | None = None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "nan", "inf" and 1e400 are no waiting time: ignored, the back-off applies
        return max(0.0, seconds) if math.isfinite(seconds) else None
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
        network: Network | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        accept_language: str | None = None,
        rng: random.Random | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.credentials = credentials
        self.retry = retry or RetryPolicy()
        self.limits = limits or Limits()
        # Origins (scheme://host:port) credentials may go to; empty = only the per-link checks (tests).
        self.servers: frozenset[str] = frozenset()
        self._rng = rng or random.Random()
        headers = {
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Data-Access-Intent": "ReadOnly",
        }
        if accept_language:
            headers["Accept-Language"] = accept_language
        # Trust and proxy as for MSAL's client (viewer.net.client_options); ``verify`` alone: no proxy.
        self.network = network or Network(verify=verify)
        self._http = httpx.AsyncClient(
            **client_options(self.network, asynchronous=True),
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers=headers,
            follow_redirects=False,
        )
        self.last_facts: ResponseFacts | None = None

    def pin(self, *urls: str) -> None:
        """Send credentials only to the servers of ``urls`` (the signed-in API root, its environments list)."""
        self.servers = frozenset(origin(url) for url in urls if url)

    def check_server(self, url: str | httpx.URL) -> None:
        """``ForeignUrl`` unless ``url`` is on a pinned server (called before any credentials are asked for)."""
        if not self.servers:
            return
        try:
            here = origin(url)
        except (httpx.InvalidURL, ValueError, TypeError):
            raise ForeignUrl("Refused a malformed link: your credentials are only sent to the server you signed "
                             "in to") from None
        if here not in self.servers:
            raise ForeignUrl(f"Refused a link to another server ({_short(_host(str(url)))}): your credentials are only "
                             "sent to the server you signed in to")

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
        max_bytes: int | None = None,
    ) -> ApiResponse:
        """GET ``url`` and return its JSON object; retries, re-auth and errors handled here.

        ``retry`` overrides the client's policy for this call (the watcher backs off on its own);
        ``max_bytes`` the record cap (list pages pass the page cap). The deadline covers every attempt.
        """
        policy = retry or self.retry
        require_secure(url)
        try:
            # Parsed once, here: what httpx would refuse later, outside any ViewerError (a port of 99999, …); the
            # server check and every attempt use this parse (a long URL takes tens of microseconds to parse).
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, ValueError, TypeError):
            raise InsecureUrlError("Refusing a malformed URL") from None
        self.check_server(parsed)
        deadline = self.limits.deadline
        try:
            async with asyncio.timeout(deadline):
                return await self._get_json(url, parsed, params, headers, policy,
                                            max_bytes or self.limits.max_record_bytes)
        except TimeoutError:
            logger.info("GET %s: no complete answer within %.0f s", _loggable(url), deadline)
            raise DeadlineExceeded(f"The service did not finish answering within {deadline:g} s") from None

    async def _get_json(self, url: str, parsed: httpx.URL, params: Mapping[str, str] | None,
                        headers: Mapping[str, str] | None, policy: RetryPolicy, cap: int) -> ApiResponse:
        started_total = time.monotonic()
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            if self._http.is_closed:
                # Signed out or quitting while this call waited: a plain error, not httpx's RuntimeError.
                raise NetworkError("The connection was closed (signed out or quitting)")
            request_id = str(uuid.uuid4())
            auth = await self.credentials.authorization(refresh=False)
            send_headers = {"Authorization": auth, "client-request-id": request_id, **(headers or {})}
            t0 = time.monotonic()
            try:
                response, body = await self._exchange(parsed, params, send_headers, cap)
            except (httpx.TransportError, httpx.DecodingError) as exc:
                delay = self._next_delay(attempt, started_total, None, policy)
                logger.info("GET %s failed (%s); attempt %d", _loggable(url), type(exc).__name__, attempt)
                if delay is None:
                    # Off the loop: naming a certificate's issuer takes a handshake of its own.
                    raise NetworkError(await asyncio.to_thread(describe_failure, exc, url, self.network)) from None
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
            if 300 <= response.status_code < 400:
                raise _redirected(response, facts)
            if not 200 <= response.status_code < 300:
                raise api_error_from_response(response.status_code, response.headers, body)
            return ApiResponse(_decode_object(body, response, facts, self.limits.max_depth), facts)

    async def _exchange(self, url: httpx.URL, params: Mapping[str, str] | None, headers: Mapping[str, str],
                        cap: int) -> tuple[httpx.Response, bytes]:
        """One GET, the body streamed and counted after decompression: a gzip bomb stops at ``cap`` bytes."""
        request = self._http.build_request("GET", url, params=params, headers=headers)
        response = await self._http.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                raise _too_large(response, cap)
            chunks: list[bytes] = []
            size = 0
            stream = cast(AsyncGenerator[bytes, None], response.aiter_bytes())
            try:
                async for chunk in stream:
                    size += len(chunk)
                    if size > cap:
                        raise _too_large(response, cap)
                    chunks.append(chunk)
            finally:
                # Closed here, in this task, when reading stops early (cap, deadline): not left to the garbage
                # collector (see ui/loop.py on async generators under qasync).
                await stream.aclose()
        finally:
            await response.aclose()
        return response, b"".join(chunks)

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
        spent = time.monotonic() - started
        if spent + delay > policy.max_total or spent + delay >= self.limits.deadline:
            return None  # waiting would only end in the deadline: give the real error now
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
        response = await self.get_json(url, params=params, headers=headers, max_bytes=self.limits.max_page_bytes)
        items = response.data.get("value")
        if not isinstance(items, list):
            raise BadResponse(
                status=response.facts.status,
                code="",
                message="The service sent an object where a list was expected",
                request_id=response.facts.request_id,
            )
        rows = [item for item in items if isinstance(item, dict)]
        if len(rows) != len(items):
            logger.warning("GET %s: skipped %d list entries that are not records", _loggable(url),
                           len(items) - len(rows))
        next_link, refused = _next_link(url, response.data.get(odata.NEXT_LINK))
        return Page(items=rows, next_link=next_link, facts=response.facts, next_error=refused)

    async def iter_pages(
        self, url: str, *, page_size: int = 500, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[Page]:
        """Follow ``@odata.nextLink`` (opaque, but on the same server only) until the last page.

        A refused next link raises its ``ForeignUrl`` after the pages before it were yielded.
        """
        page = await self.get_page(url, page_size=page_size, params=params)
        yield page
        while page.next_link:
            page = await self.get_page(page.next_link, page_size=page_size)
            yield page
        if page.next_error is not None:
            raise page.next_error


def _next_link(page_url: str, value: object) -> tuple[str | None, ForeignUrl | None]:
    """The next page's URL, resolved against the page's own; refused unless it is on the same server."""
    if not isinstance(value, str) or not value:
        return None, None
    try:
        link = urljoin(page_url, value)
        same = origin(link) == origin(page_url)
    except (httpx.InvalidURL, ValueError, TypeError):
        same, link = False, value
    if not same:
        logger.warning("refused a next link to another server (%s)", _short(_host(link)))
        return None, ForeignUrl(
            f"The next page is on another server ({_short(_host(link))}) and was not requested: your credentials are "
            "only sent to the server you signed in to. The rows loaded so far are shown."
        )
    return link, None


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or "?"
    except (httpx.InvalidURL, ValueError, TypeError):
        return "?"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _too_large(response: httpx.Response, cap: int) -> TooLarge:
    return TooLarge(
        status=response.status_code,
        code="",
        message=f"The answer is larger than the {cap / 1_000_000:g} MB limit and was not read further",
        request_id=header(response.headers, "request-id", "x-ms-request-id"),
    )


def _redirected(response: httpx.Response, facts: ResponseFacts) -> Redirected:
    location = _short(response.headers.get("location", ""), 200)
    target = f" to {location}" if location else ""
    return Redirected(
        status=response.status_code,
        code="",
        message=f"The service redirected{target}; redirects are not followed, so credentials stay with your server",
        request_id=facts.request_id,
        correlation_id=facts.correlation_id,
        location=location,
    )


_JSON_ERRORS: dict[str, type[BadResponse]] = {"deep": TooDeep, "not-object": NotAnObject}


def _decode_object(body: bytes, response: httpx.Response, facts: ResponseFacts, max_depth: int) -> dict[str, Any]:
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    looks_html = b"<html" in body[:500].lower() or b"<!doctype html" in body[:500].lower()
    if content_type and not (content_type == "application/json" or content_type.endswith("+json")):
        what = "a web page" if "html" in content_type or looks_html else f"{_short(content_type, 60)!r} content"
        raise WrongContentType(status=response.status_code, code="",
                               message=f"The service sent {what} instead of a Business Central answer (JSON)",
                               request_id=facts.request_id, correlation_id=facts.correlation_id)
    try:
        return loads_object(body, max_depth=max_depth)
    except BadJson as exc:
        message = exc.message
        if exc.kind == "invalid" and looks_html:
            message = "The service sent a web page instead of a Business Central answer"
        error: type[ApiError] = _JSON_ERRORS.get(exc.kind, InvalidJson)
        raise error(status=response.status_code, code="", message=message,
                   request_id=facts.request_id, correlation_id=facts.correlation_id) from None


def _loggable(url: str) -> str:
    """URLs carry no secrets here, but keep logs short: drop the query string."""
    return url.split("?", 1)[0]

