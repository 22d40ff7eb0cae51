"""The sandbox process: https on 127.0.0.1 with a per-run CA, uvicorn in a background thread.

``Sandbox`` is the in-process API used by tests and ``main.py --sandbox``; ``python -m viewer.sandbox``
wraps it for a standalone run. The app is the identity routes, the Business Central API routes and a
loopback-only control API (``/_sandbox/…``), all wrapped by fault injection.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import trustme
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from viewer.sandbox.api import ApiContext, api_routes
from viewer.sandbox.bcerrors import BC_RESOURCE
from viewer.sandbox.data import DataStore
from viewer.sandbox.faults import FaultInjector, FaultMiddleware, FaultRule, Traffic
from viewer.sandbox.identity import Identity

logger = logging.getLogger(__name__)

ONPREM_INSTANCE = "BC"
DEFAULT_ENVIRONMENT = "production"
SECOND_ENVIRONMENT = "sandbox"
TENANT_DOMAIN = "cronus.example"


@dataclass(frozen=True)
class SandboxInfo:
    """How to connect; printed as the first stdout line by ``python -m viewer.sandbox``."""

    base_url: str
    authority: str
    tenant: str
    tenant_domain: str
    environment: str
    environments: list[str]
    api_root: str
    onprem_root: str
    environments_url: str
    control_url: str
    device_login_url: str
    ca_file: str
    public_client_id: str
    # Secrets (a client secret, a private key, passwords): never in a repr, which debug logs may print.
    service_principal: dict[str, str] = field(repr=False)
    basic: dict[str, str] = field(repr=False)
    scope: str
    users: list[dict[str, str]] = field(repr=False)
    # The same for every start with the same seed (tenant, environments, company and payment ids are too),
    # whatever port this run got: what identifies "this Business Central" to a client keeping history.
    server_identity: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def _tenant_id(seed: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"bc-payment-viewer-sandbox-tenant-{seed}"))


def server_identity(tenant_id: str) -> str:
    return f"bc-payment-viewer-sandbox/{tenant_id}"


# Windows' value of SO_EXCLUSIVEADDRUSE (winsock2.h: ~SO_REUSEADDR); Python defines it only on Windows.
_SO_EXCLUSIVEADDRUSE = getattr(socket, "SO_EXCLUSIVEADDRUSE", ~socket.SO_REUSEADDR)


class _Bindable(Protocol):
    def setsockopt(self, level: int, option: int, value: int, /) -> None: ...
    def bind(self, address: tuple[str, int], /) -> None: ...


def bind_exclusively(sock: _Bindable, port: int, platform: str = sys.platform) -> None:
    """Bind ``sock`` to 127.0.0.1:``port`` so that no other process can bind the same port while it is open.

    On Windows, SO_REUSEADDR would let another process bind the very port we listen on (and take our
    connections); SO_EXCLUSIVEADDRUSE forbids that. On POSIX, SO_REUSEADDR only allows re-binding over
    connections in TIME_WAIT (a fixed ``--port`` restarted at once) and never a second listener, so it stays.
    """
    if platform == "win32":
        sock.setsockopt(socket.SOL_SOCKET, _SO_EXCLUSIVEADDRUSE, 1)
    else:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))


class Sandbox:
    """A local Business Central + Microsoft identity emulator. ``start()`` returns once it accepts connections."""

    def __init__(
        self,
        *,
        port: int = 0,
        seed: int = 1,
        payments: int | None = None,
        token_lifetime: int = 3600,
        activity: float | None = None,
    ) -> None:
        self.seed = seed
        self.payments = payments
        self.activity = activity
        self.tenant_id = _tenant_id(seed)
        self.faults = FaultInjector()
        self.traffic = Traffic()
        self._requested_port = port
        self._token_lifetime = token_lifetime
        self._tmp: Path | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._activity_thread: threading.Thread | None = None
        self._stop_activity = threading.Event()
        self.stores: dict[str, DataStore] = {
            DEFAULT_ENVIRONMENT: DataStore(seed=seed, payments=payments),
            SECOND_ENVIRONMENT: DataStore(seed=seed + 1000, payments=min(payments or 40, 40)),
        }
        self.identity: Identity | None = None
        self.info: SandboxInfo | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 20.0) -> SandboxInfo:
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        # IPPROTO_TCP explicitly: a socket made without it gets no TCP_NODELAY from uvicorn and
        # answers in ~44 ms instead of ~2 ms (measured here).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            bind_exclusively(sock, self._requested_port)
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        port = sock.getsockname()[1]
        base = f"https://127.0.0.1:{port}"

        self._tmp = Path(tempfile.mkdtemp(prefix="bcpv-sandbox-"))
        ca = trustme.CA(organization_name="bc-payment-viewer sandbox CA")
        cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
        ca_file = self._tmp / "sandbox-ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        cert_file = self._tmp / "server.pem"
        key_file = self._tmp / "server-key.pem"
        cert.private_key_pem.write_to_path(str(key_file))
        for i, blob in enumerate(cert.cert_chain_pems):
            blob.write_to_path(str(cert_file), append=i > 0)

        self.identity = Identity(
            base_url=base,
            tenant_id=self.tenant_id,
            tenant_domain=TENANT_DOMAIN,
            token_lifetime=self._token_lifetime,
            seed=self.seed,
        )
        ctx = ApiContext(
            base_url=base,
            tenant_id=self.tenant_id,
            tenant_domain=TENANT_DOMAIN,
            stores=self.stores,
            verify_token=self._verify_bc_token,
            basic_user=self.identity.basic_user,
            basic_password=self.identity.basic_password,
            onprem_instance=ONPREM_INSTANCE,
        )
        routes: list[BaseRoute] = [*self._control_routes(), *self.identity.routes(), *api_routes(ctx)]
        app = FaultMiddleware(Starlette(routes=routes), self.faults, self.traffic, self.tenant_id)

        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_certfile=str(cert_file),
            ssl_keyfile=str(key_file),
            timeout_keep_alive=30,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="bc-sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.005)
        self._sock = sock  # uvicorn serves on this very socket; closed after the server stops

        users = [{"username": u.username, "name": u.name} for u in self.identity.users]
        env = DEFAULT_ENVIRONMENT
        self.info = SandboxInfo(
            base_url=base,
            authority=f"{base}/{self.tenant_id}",
            tenant=self.tenant_id,
            tenant_domain=TENANT_DOMAIN,
            environment=env,
            environments=list(self.stores),
            api_root=f"{base}/v2.0/{self.tenant_id}/{env}/api",
            onprem_root=f"{base}/{ONPREM_INSTANCE}/api",
            environments_url=f"{base}/environments/v1.2",
            control_url=f"{base}/_sandbox",
            device_login_url=f"{base}/devicelogin",
            ca_file=str(ca_file),
            public_client_id=self.identity.public_client_id,
            service_principal={
                "client_id": self.identity.service_principal_id,
                "client_secret": self.identity.service_principal_secret,
                "certificate_pem": self.identity.service_principal_certificate_pem,
            },
            basic={"user": self.identity.basic_user, "password": self.identity.basic_password},
            scope=f"{BC_RESOURCE}/.default",
            users=users,
            server_identity=server_identity(self.tenant_id),
        )
        if self.activity:
            self._start_activity(self.activity)
        return self.info

    def stop(self) -> None:
        self._stop_activity.set()
        if self._activity_thread is not None:
            self._activity_thread.join(timeout=5)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- helpers for clients and tests --------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this run's CA (and nothing else)."""
        assert self.info is not None, "start() the sandbox first"
        return ssl.create_default_context(cafile=self.info.ca_file)

    def store(self, environment: str = DEFAULT_ENVIRONMENT) -> DataStore:
        return self.stores[environment]

    def reset(self) -> None:
        """Back to the seeded state: data, faults, traffic counters and identity state."""
        for store in self.stores.values():
            store.reset()
        self.faults.clear()
        self.traffic.reset()
        if self.identity is not None:
            self.identity.reset()

    def add_fault(self, kind: Any, pattern: str = ".*", **options: Any) -> FaultRule:
        return self.faults.add(kind, pattern, **options)

    def _verify_bc_token(self, token: str) -> dict[str, Any]:
        assert self.identity is not None
        return self.identity.verify_access_token(token, audience=BC_RESOURCE)

    def _start_activity(self, every: float) -> None:
        def run() -> None:
            while not self._stop_activity.wait(every):
                try:
                    self.stores[DEFAULT_ENVIRONMENT].activity_tick()
                except Exception:  # an activity hiccup must never take the sandbox down
                    logger.exception("sandbox activity tick failed")

        self._activity_thread = threading.Thread(target=run, name="bc-sandbox-activity", daemon=True)
        self._activity_thread.start()

    # ---- control API (loopback only; the server binds nowhere else) ---------------------------

    def _control_routes(self) -> list[BaseRoute]:
        def loopback_only(request: Request) -> Response | None:
            host = request.client.host if request.client else ""
            if host not in ("127.0.0.1", "::1"):
                return JSONResponse({"error": "control API is loopback-only"}, status_code=403)
            return None

        async def faults(request: Request) -> Response:
            if (denied := loopback_only(request)) is not None:
                return denied
            if request.method == "POST":
                spec = await request.json()
                try:
                    rule = self.faults.add(spec.pop("kind"), spec.pop("pattern", ".*"), **spec)
                except (KeyError, TypeError, ValueError) as exc:
                    return JSONResponse({"error": str(exc)}, status_code=400)
                return JSONResponse(rule.to_json(), status_code=201)
            if request.method == "DELETE":
                self.faults.clear()
                return Response(status_code=204)
            return JSONResponse([r.to_json() for r in self.faults.rules()])

        async def traffic(request: Request) -> Response:
            if (denied := loopback_only(request)) is not None:
                return denied
            if request.method == "DELETE":
                self.traffic.reset()
                return Response(status_code=204)
            return JSONResponse(self.traffic.snapshot())

        async def reset(request: Request) -> Response:
            if (denied := loopback_only(request)) is not None:
                return denied
            self.reset()
            return Response(status_code=204)

        async def device(request: Request) -> Response:
            if (denied := loopback_only(request)) is not None:
                return denied
            assert self.identity is not None
            spec = await request.json()
            action = request.path_params["action"]
            try:
                if action == "approve":
                    self.identity.approve_device_code(spec["user_code"], spec.get("username"))
                else:
                    self.identity.deny_device_code(spec["user_code"])
            except KeyError as exc:
                return JSONResponse({"error": f"unknown user code {exc}"}, status_code=404)
            return Response(status_code=204)

        async def tokens(request: Request) -> Response:
            if (denied := loopback_only(request)) is not None:
                return denied
            assert self.identity is not None
            action = request.path_params["action"]
            if action == "revoke":
                self.identity.revoke_refresh_tokens()
            else:
                self.identity.expire_all_tokens()
            return Response(status_code=204)

        async def activity(request: Request) -> Response:
            if (denied := loopback_only(request)) is not None:
                return denied
            changed = self.stores[DEFAULT_ENVIRONMENT].activity_tick()
            return JSONResponse({"changed": changed})

        return [
            Route("/_sandbox/faults", faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sandbox/traffic", traffic, methods=["GET", "DELETE"]),
            Route("/_sandbox/reset", reset, methods=["POST"]),
            Route("/_sandbox/devicecode/{action:str}", device, methods=["POST"]),
            Route("/_sandbox/tokens/{action:str}", tokens, methods=["POST"]),
            Route("/_sandbox/activity", activity, methods=["POST"]),
        ]
