"""A real forwarding CONNECT proxy and a small TLS server behind it, for the corporate-network tests.

``TlsServer`` answers every GET with one customer payment, over TLS with a certificate from its own test CA,
for a host name that does not resolve (``.invalid``, RFC 6761). Only ``ConnectProxy`` knows where that name
lives, so a request reaches the server only through the proxy. The proxy records each CONNECT it was asked
for, and can demand a user name and password (407) like an authenticating corporate proxy.
"""

from __future__ import annotations

import base64
import json
import select
import socket
import socketserver
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

HIDDEN_HOST = "bc.behind-the-proxy.invalid"

PAYMENT = {
    "@odata.etag": 'W/"JzE7Jw=="',
    "id": "11111111-2222-3333-4444-555555555555",
    "journalId": "66666666-7777-8888-9999-000000000000",
    "journalDisplayName": "CASHRCPT",
    "lineNumber": 10000,
    "customerNumber": "10000",
    "postingDate": "2026-01-15",
    "documentNumber": "G00042",
    "amount": -1234.5,
    "description": "Through the proxy",
    "lastModifiedDateTime": "2026-01-15T10:00:00Z",
}


class TlsServer:
    """HTTPS on 127.0.0.1 with a certificate for ``HIDDEN_HOST`` (and an issuer named ``ca_name``)."""

    def __init__(self, directory: Path, ca_name: str = "Proxy Test Root CA") -> None:
        self.ca = trustme.CA(organization_name=ca_name)
        self.ca_file = directory / f"{ca_name.replace(' ', '-').lower()}.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        cert = self.ca.issue_cert(HIDDEN_HOST)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.paths.append(self.path)
                body = json.dumps({"@odata.context": "x", **PAYMENT}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"https://{HIDDEN_HOST}:{self.port}"

    def start(self) -> TlsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class ConnectProxy:
    """An HTTP proxy that only tunnels (CONNECT), resolving names from ``hosts`` (name → loopback address).

    ``credentials=(user, password)`` makes it answer 407 until the request carries them.
    """

    def __init__(self, hosts: dict[str, str], credentials: tuple[str, str] | None = None) -> None:
        self.hosts = hosts
        self.connects: list[str] = []
        self.rejected: list[str] = []
        expected = ("Basic " + base64.b64encode(":".join(credentials).encode()).decode()) if credentials else None
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = self.connection.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
                method, target = ([*lines[0].split(" "), "", ""])[:2]
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
                if method != "CONNECT":
                    self._reply("405 Method Not Allowed")
                    return
                if expected and headers.get("proxy-authorization") != expected:
                    outer.rejected.append(target)
                    self._reply('407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"')
                    return
                host, _, port = target.rpartition(":")
                address = outer.hosts.get(host)
                if address is None:
                    outer.rejected.append(target)
                    self._reply("502 Bad Gateway")
                    return
                outer.connects.append(target)
                try:
                    upstream = socket.create_connection((address, int(port)), timeout=5)
                except OSError:
                    self._reply("502 Bad Gateway")
                    return
                self.connection.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._pipe(self.connection, upstream)

            def _reply(self, status: str) -> None:
                self.connection.sendall(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())

            def _pipe(self, a: socket.socket, b: socket.socket) -> None:
                with b:
                    while True:
                        ready, _, _ = select.select([a, b], [], [], 10)
                        if not ready:
                            return
                        for source in ready:
                            data = source.recv(65536)
                            if not data:
                                return
                            (b if source is a else a).sendall(data)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ConnectProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
