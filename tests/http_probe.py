"""A transport that counts payment requests in flight, from the client's side (tests and tests/benchmarks)."""

from __future__ import annotations

import httpx


class CountingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport: payment requests in flight from sending until the whole body is read, their peak, and
    the paths sent."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.in_flight = 0
        self.peak = 0
        self.sent: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        counted = "/customerPayments(" in request.url.path
        if counted:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.sent.append(request.url.path)
        try:
            response = await self.inner.handle_async_request(request)
            body = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=body, request=request)
        finally:
            if counted:
                self.in_flight -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()
