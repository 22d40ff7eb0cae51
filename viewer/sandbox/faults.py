"""Fault injection and traffic counting for the sandbox, as one outermost ASGI wrapper.

It sits outside Starlette so that it receives the server's own ``send`` and can reach the transport
to reset a connection. Rules match a request path by regular expression (``re.search``) and fire a
bounded number of times (``count``; ``None`` = until cleared).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import struct
import threading
import uuid
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from viewer.sandbox.bcerrors import error_body

FaultKind = Literal["latency", "status", "truncate", "invalid_json", "html", "reset", "expire_token"]
FAULT_KINDS: tuple[str, ...] = ("latency", "status", "truncate", "invalid_json", "html", "reset", "expire_token")


@dataclass
class FaultRule:
    """One injected fault. ``pattern`` is a regex searched in the request path (``/v2.0/.../customerPayments``)."""

    kind: FaultKind
    pattern: str = ".*"
    count: int | None = 1
    status: int = 503
    retry_after: str | None = None
    latency_ms: int = 0
    method: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {', '.join(FAULT_KINDS)}")
        re.compile(self.pattern)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultInjector:
    """Thread-safe rule list: tests add rules from their own thread while the server thread reads them."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, kind: FaultKind, pattern: str = ".*", **options: Any) -> FaultRule:
        rule = FaultRule(kind=kind, pattern=pattern, **options)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def take(self, method: str, path: str) -> list[FaultRule]:
        """The rules that fire for this request, consuming one of each rule's count."""
        fired: list[FaultRule] = []
        with self._lock:
            for rule in list(self._rules):
                if rule.method and rule.method.upper() != method.upper():
                    continue
                if not re.search(rule.pattern, path):
                    continue
                rule.fired += 1
                fired.append(rule)
                if rule.count is not None and rule.fired >= rule.count:
                    self._rules.remove(rule)
        return fired


class Traffic:
    """Counts requests per path and the peak number in flight per path (for "one request in flight" tests),
    and keeps the paths of the last requests in arrival order (for "this request before those" tests)."""

    KEEP = 500

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.order: deque[str] = deque(maxlen=self.KEEP)
        self.requests: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.peak_in_flight: Counter[str] = Counter()
        self.total = 0

    def enter(self, path: str) -> None:
        with self._lock:
            self.total += 1
            self.order.append(path)
            self.requests[path] += 1
            self.in_flight[path] += 1
            self.peak_in_flight[path] = max(self.peak_in_flight[path], self.in_flight[path])

    def leave(self, path: str) -> None:
        with self._lock:
            self.in_flight[path] -= 1

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.order.clear()
            self.peak_in_flight.clear()
            self.total = 0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "requests": dict(self.requests),
                "peak_in_flight": dict(self.peak_in_flight),
                "order": list(self.order),
            }


def _reset_connection(send: Send) -> bool:
    """Abort the TCP connection with RST. Reaches uvicorn's transport through its bound ``send``."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True


HTML_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>Service Unavailable</title></head>"
    b"<body><h1>Service Unavailable</h1><p>The service is temporarily unavailable. "
    b"Please try again later.</p></body></html>"
)


class FaultMiddleware:
    """Outermost ASGI wrapper: counts traffic, then applies any matching fault rules."""

    def __init__(self, app: ASGIApp, injector: FaultInjector, traffic: Traffic, tenant: str) -> None:
        self.app = app
        self.injector = injector
        self.traffic = traffic
        self.tenant = tenant

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        self.traffic.enter(path)
        try:
            await self._handle(scope, receive, send, path)
        finally:
            self.traffic.leave(path)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        rules = self.injector.take(scope["method"], path)
        body_rule: FaultRule | None = None
        for rule in rules:
            if rule.kind == "latency":
                await asyncio.sleep(rule.latency_ms / 1000)
            elif rule.kind == "reset":
                if _reset_connection(send):
                    return
            elif rule.kind in ("status", "html", "expire_token"):
                await self._send_fault_response(send, rule)
                return
            elif rule.kind in ("truncate", "invalid_json"):
                body_rule = rule
        if body_rule is None:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, _BodyMangler(send, body_rule.kind).send)

    async def _send_fault_response(self, send: Send, rule: FaultRule) -> None:
        cid = str(uuid.uuid4())
        headers: list[tuple[bytes, bytes]] = [(b"ms-correlation-x", cid.encode())]
        if rule.kind == "html":
            status, body, ctype = rule.status, HTML_ERROR_PAGE, b"text/html; charset=utf-8"
        elif rule.kind == "expire_token":
            status, ctype = 401, b"application/json; charset=utf-8"
            body = json.dumps(
                error_body("Authentication_InvalidCredentials", "The access token has expired", cid)
            ).encode()
            headers.append((b"www-authenticate", b'Bearer error="invalid_token", error_description="expired"'))
        else:
            status, ctype = rule.status, b"application/json; charset=utf-8"
            code = {
                429: "Application_TooManyRequests",
                503: "Internal_ServiceUnavailable",
                502: "Internal_BadGateway",
                504: "Internal_GatewayTimeout",
                500: "Internal_ServerError",
                404: "BadRequest_NotFound",
            }.get(status, "Unknown")
            body = json.dumps(error_body(code, f"Injected fault: HTTP {status}", cid)).encode()
        if rule.retry_after is not None:
            headers.append((b"retry-after", rule.retry_after.encode()))
        headers += [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _BodyMangler:
    """Wraps ``send`` to buffer the response body and deliver it truncated or made invalid."""

    def __init__(self, send: Send, kind: str) -> None:
        self._send = send
        self._kind = kind
        self._start: Message | None = None
        self._chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._start = message
            return
        if message["type"] != "http.response.body":
            await self._send(message)
            return
        self._chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(self._chunks)
        assert self._start is not None
        if self._kind == "truncate":
            # Announce the full length, send half, then drop the connection: what a cut-off
            # response looks like on the wire.
            headers = [(k, v) for k, v in self._start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await self._send({**self._start, "headers": headers})
            await self._send(
                {"type": "http.response.body", "body": body[: max(1, len(body) // 2)], "more_body": True}
            )
            _reset_connection(self._send)
            return
        body = b'{"value": [ {"id": ,,, not json'
        headers = [(k, v) for k, v in self._start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self._send({**self._start, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})
