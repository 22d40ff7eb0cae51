"""Narrow unit tests of the client's request policy with httpx.MockTransport (no network).

The same behaviours are exercised end-to-end against the sandbox in test_client_sandbox.py.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Callable

import httpx
import pytest

from viewer.client import BcClient, Limits, RetryPolicy, parse_retry_after, require_secure
from viewer.errors import (
    ApiError,
    BadResponse,
    ForeignUrl,
    InsecureUrlError,
    NetworkError,
    NotFound,
    Redirected,
    SignInRequired,
    TooLarge,
)

FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01, max_total=5)
URL = "https://bc.example.com/v2.0/t/production/api/v2.0/companies"


class FakeCredentials:
    def __init__(self) -> None:
        self.refreshes = 0

    async def authorization(self, *, refresh: bool = False) -> str:
        if refresh:
            self.refreshes += 1
        return f"Bearer token-{self.refreshes}"


def run(
    handler: Callable[[httpx.Request], httpx.Response], policy: RetryPolicy = FAST
) -> tuple[object, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    async def go() -> object:
        async with BcClient(FakeCredentials(), transport=httpx.MockTransport(record), retry=policy) as client:
            try:
                return await client.get_json(URL)
            except Exception as exc:  # returned for inspection
                return exc

    return asyncio.run(go()), seen


def ok(body: dict[str, object] | None = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=body or {"value": []}, headers=headers)


def test_headers_sent_on_every_request() -> None:
    _result, seen = run(lambda r: ok())
    request = seen[0]
    assert request.method == "GET"
    assert request.headers["accept"] == "application/json"
    assert request.headers["data-access-intent"] == "ReadOnly"
    assert request.headers["user-agent"].startswith("bc-payment-viewer/")
    assert request.headers["authorization"] == "Bearer token-0"
    assert len(request.headers["client-request-id"]) == 36


def test_fresh_client_request_id_per_attempt() -> None:
    responses = iter([httpx.Response(503), ok()])
    _, seen = run(lambda r: next(responses))
    assert len(seen) == 2
    assert seen[0].headers["client-request-id"] != seen[1].headers["client-request-id"]


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_statuses_are_retried(status: int) -> None:
    responses = iter([httpx.Response(status), httpx.Response(status), ok({"x": 1})])
    result, seen = run(lambda r: next(responses))
    assert len(seen) == 3
    assert getattr(result, "data", None) == {"x": 1}


def test_retries_are_bounded_and_end_in_a_typed_error() -> None:
    body = {"error": {"code": "Internal_ServiceUnavailable", "message": "Down.  CorrelationId:  "
                      "0b8d5c3e-1111-2222-3333-444455556666."}}
    result, seen = run(lambda r: httpx.Response(503, json=body))
    assert len(seen) == FAST.attempts
    assert isinstance(result, ApiError)
    assert result.status == 503 and result.code == "Internal_ServiceUnavailable"
    assert result.message == "Down."
    assert result.correlation_id == "0b8d5c3e-1111-2222-3333-444455556666"


def test_retry_after_longer_than_allowed_gives_up_at_once() -> None:
    result, seen = run(lambda r: httpx.Response(429, headers={"Retry-After": "3600"}))
    assert len(seen) == 1
    assert isinstance(result, ApiError) and result.retry_after == 3600


def test_total_budget_bounds_waiting() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.001, max_delay=0.01, max_total=0.5)
    started = time.monotonic()
    result, seen = run(lambda r: httpx.Response(503, headers={"Retry-After": "0.3"}), policy)
    assert isinstance(result, ApiError)
    assert len(seen) == 2  # the second wait would pass the 0.5 s budget
    assert time.monotonic() - started < 5


def test_401_refreshes_once_then_succeeds() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer token-0":
            return httpx.Response(401)
        return ok({"ok": True})

    result, seen = run(handler)
    assert [r.headers["authorization"] for r in seen] == ["Bearer token-0", "Bearer token-1"]
    assert getattr(result, "data", None) == {"ok": True}


def test_second_401_means_sign_in_required() -> None:
    result, seen = run(lambda r: httpx.Response(401, json={"error": {"code": "Authentication_InvalidCredentials",
                                                                      "message": "Nope."}}))
    assert len(seen) == 2
    assert isinstance(result, SignInRequired)
    assert "token" not in str(result).lower()


def test_404_is_not_found_with_posted_hint() -> None:
    result, _ = run(lambda r: httpx.Response(404, json={"error": {"code": "BadRequest_NotFound", "message": "x"}}))
    assert isinstance(result, NotFound)
    assert "posted or deleted" in str(result)


def test_html_error_page_is_explained() -> None:
    result, _ = run(lambda r: httpx.Response(400, text="<html><body>Bad</body></html>",
                                             headers={"content-type": "text/html"}))
    assert isinstance(result, BadResponse)
    assert "web page" in str(result)


def test_invalid_json_on_200_is_bad_response() -> None:
    result, _ = run(lambda r: httpx.Response(200, text='{"value": [', headers={"content-type": "application/json"}))
    assert isinstance(result, BadResponse)
    assert "not valid JSON" in str(result)


def test_connection_errors_retry_then_network_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    result, seen = run(handler)
    assert len(seen) == FAST.attempts
    assert isinstance(result, NetworkError)


def test_facts_carry_ids_and_etag() -> None:
    result, _ = run(lambda r: ok({"a": 1}, **{"ETag": 'W/"abc"', "request-id": "rid", "ms-correlation-x": "cid"}))
    facts = result.facts  # type: ignore[attr-defined]
    assert facts.status == 200 and facts.etag == 'W/"abc"'
    assert facts.request_id == "rid" and facts.correlation_id == "cid"
    assert facts.size == len(json.dumps({"a": 1}).encode()) or facts.size > 0


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= (parse_retry_after(date, now=now) or 0) <= 31
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0


@pytest.mark.parametrize(
    "url,allowed",
    [
        ("https://api.businesscentral.dynamics.com/v2.0/x", True),
        ("http://127.0.0.1:8080/BC/api", True),
        ("http://localhost:7048/BC/api", True),
        ("http://[::1]:7048/BC/api", True),
        ("http://bc.contoso.com:7048/BC/api", False),
        ("ftp://bc.contoso.com/x", False),
    ],
)
def test_https_required_except_loopback(url: str, allowed: bool) -> None:
    if allowed:
        require_secure(url)
    else:
        with pytest.raises(InsecureUrlError):
            require_secure(url)


def test_absurd_retry_after_values_are_ignored_or_refused() -> None:
    assert parse_retry_after("nan") is None and parse_retry_after("inf") is None and parse_retry_after("1e400") is None
    assert parse_retry_after("-5") == 0.0
    result, seen = run(lambda r: httpx.Response(429, headers={"retry-after": "99999999999"}))
    assert isinstance(result, ApiError) and result.status == 429 and len(seen) == 1  # no waiting for ages


@pytest.mark.parametrize("status", [301, 302, 303, 304, 307, 308])
def test_every_3xx_is_an_error_naming_its_target(status: int) -> None:
    result, seen = run(lambda r: httpx.Response(status, json={"id": "redirect body"},
                                                headers={"location": "https://elsewhere.example/x"}))
    assert isinstance(result, Redirected) and "https://elsewhere.example/x" in str(result)
    assert len(seen) == 1  # not followed


def test_pinned_client_refuses_other_servers_before_asking_for_credentials() -> None:
    class Counting(FakeCredentials):
        calls = 0

        async def authorization(self, *, refresh: bool = False) -> str:
            Counting.calls += 1
            return await super().authorization(refresh=refresh)

    async def go() -> None:
        async with BcClient(Counting(), transport=httpx.MockTransport(lambda r: ok())) as client:
            client.pin(URL)
            await client.get_json(URL.replace("/companies", "/companies(x)"))  # same server: fine
            for foreign in ("https://evil.example/v2.0/companies", "https://bc.example.com:444/x",
                            "http://bc.example.com/x", "https://bc.example.com:99999/x", "https://[::1/x"):
                with pytest.raises((ForeignUrl, InsecureUrlError)):
                    await client.get_json(foreign)

    asyncio.run(go())
    assert Counting.calls == 1


def test_declared_content_length_over_the_cap_is_refused_unread() -> None:
    async def go() -> object:
        transport = httpx.MockTransport(lambda r: httpx.Response(200, content=b" " * 2000,
                                                                 headers={"content-type": "application/json"}))
        async with BcClient(FakeCredentials(), transport=transport, limits=Limits(max_record_bytes=1000)) as client:
            try:
                return await client.get_json(URL)
            except TooLarge as exc:
                return exc

    assert isinstance(asyncio.run(go()), TooLarge)
