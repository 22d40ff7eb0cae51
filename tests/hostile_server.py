"""A small, deliberately misbehaving HTTP server for tests/test_hostile.py (raw asyncio sockets, no framework).

It plays a Business Central on-prem server at ``http://127.0.0.1:<port>/<instance>/api/v2.0/...`` over loopback.
The server instance segment names the fault (``/deep_json/api/v2.0/companies(…)/customerPayments(…)``), so one
server serves every case, and ``arm(instance, fault)`` switches an instance to another fault (first a good answer,
then a bad one, to check that the last good data stays). Every request is recorded with its headers, so a test can
check which credentials reached which server: run a second instance as the "foreign host".

Deliberately not the sandbox: the sandbox is a faithful Business Central (RULES: hostile behaviour lives in tests).
A thread with its own event loop, so both a subprocess (``show``) and the GUI's qasync loop can talk to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

COMPANY = "11111111-2222-3333-4444-555555555555"
PAYMENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
CUSTOMER = "cccccccc-0000-0000-0000-000000000001"
INVOICE = "dddddddd-0000-0000-0000-000000000002"
JOURNAL = "eeeeeeee-0000-0000-0000-000000000003"

BIG_AMOUNT = "9999999999999999.99"
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\r\nFAKE: line\x00\u202etxt.exe\x9b31m"


def payment(**changes: object) -> dict[str, object]:
    """A plausible v2.0 customer payment; ``changes`` replace or add fields (``None`` values are kept)."""
    record: dict[str, object] = {
        "@odata.etag": 'W/"JzQ0O0VnQUFBQUo3LzBJQU1BQTBBRE1BTmdBNEFBQUFBQT09MTsn"',
        "id": PAYMENT,
        "journalId": JOURNAL,
        "journalDisplayName": "GENERAL",
        "lineNumber": 10000,
        "customerId": CUSTOMER,
        "customerNumber": "10000",
        "contactId": "",
        "postingDate": "2026-11-25",
        "documentNumber": "G00001",
        "externalDocumentNumber": "",
        "amount": 1500.5,
        "appliesToInvoiceId": INVOICE,
        "appliesToInvoiceNumber": "103001",
        "description": "Payment for invoice 103001",
        "comment": "",
        "lastModifiedDateTime": "2026-11-25T10:15:00.123Z",
    }
    record.update(changes)
    return record


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"


Handler = Callable[["HostileServer", str], "Reply | Callable[[asyncio.StreamWriter], object]"]


def _json(obj: object, status: int = 200, **kw: object) -> Reply:
    return Reply(status, json.dumps(obj).encode(), **kw)  # type: ignore[arg-type]


def _raw(text: str | bytes, status: int = 200, content_type: str | None = "application/json") -> Reply:
    return Reply(status, text.encode() if isinstance(text, str) else text, content_type=content_type)


@cache
def gzip_bomb() -> bytes:
    """About 1 MB of gzip that inflates to 1 GiB of a JSON string: only a cap counted after decompression helps."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
    chunk = b"0" * (1 << 20)
    parts = [compressor.compress(b'{"description": "')]
    parts += [compressor.compress(chunk) for _ in range(1024)]
    parts.append(compressor.flush())
    return b"".join(parts)


def _error(code: str, message: str, status: int = 400) -> Reply:
    return _json({"error": {"code": code, "message": message}}, status)


async def _drip(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n")
    await writer.drain()
    for _ in range(10_000):  # one byte every 0.2 s: each read succeeds, the whole never ends
        writer.write(b" ")
        await writer.drain()
        await asyncio.sleep(0.2)


async def _stall_before_headers(writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


async def _stall_after_headers(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{\"id\"")
    await writer.drain()
    await asyncio.sleep(3600)


async def _reset_mid_body(writer: asyncio.StreamWriter) -> None:
    body = json.dumps(payment()).encode()
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body))
    writer.write(body[: len(body) // 3])
    await writer.drain()
    sock = writer.get_extra_info("socket")
    if sock is not None:  # SO_LINGER 0: close sends RST, a real reset rather than a polite FIN
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _plain_50mb_chunked(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
    chunk = b" " * 65536
    for _ in range(800):  # 50 MB, no content-length: only counting while reading stops it
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()


def _bomb(server: HostileServer, path: str) -> Reply:
    return Reply(200, gzip_bomb(), headers=[("content-encoding", "gzip")])


def _next_link(server: HostileServer, path: str) -> Reply:
    foreign = server.foreign_base or "https://evil.example"
    rows = [payment(id=f"aaaaaaaa-bbbb-cccc-dddd-00000000000{i}", documentNumber=f"G0000{i}") for i in range(3)]
    return _json({"value": rows, "@odata.nextLink": f"{foreign}/steal/api/v2.0/companies({COMPANY})/next?$skiptoken=1"})


FAULTS: dict[str, Handler] = {
    "ok": lambda s, p: _json(payment()),
    "custom": lambda s, p: s.custom,  # whatever the test put there (the property test's random strings)
    "big_decimal": lambda s, p: _raw(json.dumps(payment()).replace("1500.5", BIG_AMOUNT)),
    "nan": lambda s, p: _raw(json.dumps(payment(amount=float("nan")))),
    "infinity": lambda s, p: _raw(json.dumps(payment(amount=float("inf")))),
    "huge_int": lambda s, p: _raw(json.dumps(payment()).replace("10000,", "9" * 5000 + ",")),
    "deep_json": lambda s, p: _raw(b"[" * 100_000 + b"]" * 100_000),
    "deep_inside": lambda s, p: _raw(json.dumps(payment(comment="X")).replace('"X"', "[" * 5000 + "]" * 5000)),
    "truncated_json": lambda s, p: _raw(json.dumps(payment())[:120]),
    "invalid_json": lambda s, p: _raw("{id: 'single quotes', amount: 1,}"),
    "non_object": lambda s, p: _raw("[1, 2, 3]"),
    "string_body": lambda s, p: _raw('"just a string"'),
    "empty_200": lambda s, p: _raw(""),
    "invalid_utf8": lambda s, p: _raw(b'{"description": "\xff\xfe"}'),
    "duplicate_keys": lambda s, p: _raw(json.dumps(payment())[:-1] + ', "amount": -99999.99}'),
    "html_200": lambda s, p: _raw("<!DOCTYPE html><html><body>Sign in to continue</body></html>", 200,
                                  "text/html; charset=utf-8"),
    "wrong_content_type": lambda s, p: _raw(json.dumps(payment()), 200, "application/octet-stream"),
    "lone_surrogate": lambda s, p: _raw(json.dumps(payment()).replace("Payment for invoice", "\\ud800 lone")),
    "escape_values": lambda s, p: _json(payment(description=ESCAPES, customerNumber="\x1b[31mRED", comment="a\rb")),
    "unknown_fields": lambda s, p: _json(payment(**{"newField\x1b[2J": "x\u202ey", "nested": {"a": [1, 2.5]}})),
    "wrong_types": lambda s, p: _json(payment(amount="not a number", postingDate=42, lineNumber="x",
                                              customerId=12345, description={"an": "object"})),
    "missing_fields": lambda s, p: _json({"id": PAYMENT}),
    "error_code_newline": lambda s, p: _error("Bad\ncode\x1b[2J", "First line\r\nsecond line\u202e"),
    "redirect_302": lambda s, p: Reply(302, json.dumps(payment(description="redirect body")).encode(),
                                       headers=[("location", f"{s.foreign_base}/BC/api/v2.0/stolen")]),
    "redirect_301": lambda s, p: Reply(301, b"", headers=[("location", "https://evil.example/login?next=%1B")]),
    "retry_after_absurd": lambda s, p: Reply(429, b"", headers=[("retry-after", "99999999999")]),
    "retry_after_date": lambda s, p: Reply(503, b"", headers=[("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")]),
    "huge_headers": lambda s, p: Reply(200, json.dumps(payment()).encode(), headers=[("x-filler", "a" * 200_000)]),
    "big_plain": lambda s, p: Reply(200, b" " * 50_000_000),
    "gzip_bomb": _bomb,
    "id_injection": lambda s, p: _json(payment(customerId="x)/../../secret?a=(", appliesToInvoiceId=12345,
                                               journalId={"x": 1})),
    "foreign_next_link": _next_link,
    # Raw-socket behaviours: these write their own bytes.
    "drip": lambda s, p: _drip,
    "stall_before_headers": lambda s, p: _stall_before_headers,
    "stall_after_headers": lambda s, p: _stall_after_headers,
    "reset_mid_body": lambda s, p: _reset_mid_body,
    "plain_50mb_chunked": lambda s, p: _plain_50mb_chunked,
}


class HostileServer:
    """``with HostileServer() as server:`` — ``server.base`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, foreign_base: str | None = None) -> None:
        self.foreign_base = foreign_base
        self.seen: list[Seen] = []
        self.armed: dict[str, str] = {}
        self.custom = Reply()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hostile-server", daemon=True)
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, instance: str, tail: str | None = None) -> str:
        path = tail or f"companies({COMPANY})/customerPayments({PAYMENT})"
        return f"{self.base}/{instance}/api/v2.0/{path}"

    def arm(self, instance: str, fault: str) -> None:
        self.armed[instance] = fault

    def __enter__(self) -> HostileServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        with contextlib.suppress(Exception):
            self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        target = [*lines[0].split(" "), "", ""][1]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        self.seen.append(Seen(target, headers))
        instance = target.lstrip("/").split("/", 1)[0]
        fault = self.armed.get(instance, instance)
        handler = FAULTS.get(fault)
        try:
            if handler is None:
                await self._send(writer, _error("BadRequest_NotFound", f"no fault {fault!r}", 404))
                return
            reply = handler(self, target)
            if isinstance(reply, Reply):
                await self._send(writer, reply)
            else:
                await reply(writer)  # type: ignore[misc]
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, reply: Reply) -> None:
        reason = {200: "OK", 301: "Moved", 302: "Found", 400: "Bad Request", 404: "Not Found", 429: "Too Many",
                  503: "Unavailable"}.get(reply.status, "X")
        head = [f"HTTP/1.1 {reply.status} {reason}", f"content-length: {len(reply.body)}", "connection: close"]
        if reply.content_type:
            head.append(f"content-type: {reply.content_type}")
        head += [f"{name}: {value}" for name, value in reply.headers]
        writer.write("\r\n".join(head).encode("latin-1", "replace") + b"\r\n\r\n")
        view = memoryview(reply.body)
        for start in range(0, len(view), 1 << 20):  # a slow reader must not make us buffer 50 MB at once
            writer.write(view[start:start + (1 << 20)])
            await writer.drain()
        await writer.drain()


