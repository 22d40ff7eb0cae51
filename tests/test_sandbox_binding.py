"""How the sandbox takes its port, and what stays the same from one start to the next."""

from __future__ import annotations

import socket

import pytest

from viewer.sandbox import Sandbox
from viewer.sandbox.server import bind_exclusively


class _RecordingSocket:
    def __init__(self) -> None:
        self.options: list[tuple[int, int, int]] = []
        self.bound: tuple[str, int] | None = None

    def setsockopt(self, level: int, option: int, value: int, /) -> None:
        self.options.append((level, option, value))

    def bind(self, address: tuple[str, int], /) -> None:
        self.bound = address


def test_windows_binds_exclusively_and_never_shares_the_port() -> None:
    sock = _RecordingSocket()
    bind_exclusively(sock, 4711, platform="win32")
    exclusive = getattr(socket, "SO_EXCLUSIVEADDRUSE", ~socket.SO_REUSEADDR)
    assert sock.options == [(socket.SOL_SOCKET, exclusive, 1)]
    assert sock.bound == ("127.0.0.1", 4711)


def test_posix_reuses_only_time_wait() -> None:
    # POSIX SO_REUSEADDR allows binding over TIME_WAIT, never a second listener (checked below for real).
    for platform in ("linux", "darwin"):
        sock = _RecordingSocket()
        bind_exclusively(sock, 4711, platform=platform)
        assert sock.options == [(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)]


def test_a_second_sandbox_cannot_take_a_running_sandboxs_port(sandbox: Sandbox) -> None:
    assert sandbox.info is not None
    port = int(sandbox.info.base_url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        Sandbox(port=port).start()
    # Nor can a plain socket with SO_REUSEADDR.
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with pytest.raises(OSError):
            other.bind(("127.0.0.1", port))
            other.listen(1)
    finally:
        other.close()


def test_identity_is_the_same_on_every_start_with_the_same_seed() -> None:
    def facts(box: Sandbox) -> tuple[object, ...]:
        info = box.info
        assert info is not None
        store = box.store()
        return (info.tenant, info.tenant_domain, info.environment, tuple(info.environments), info.server_identity,
                info.public_client_id, info.service_principal["client_id"],
                tuple(c["id"] for c in store.companies()),
                tuple(j["id"] for j in store.journals(store.demo.company_id)), store.demo.payment_id)

    with Sandbox(seed=5) as first:
        assert first.info is not None
        one = facts(first)
    with Sandbox(seed=5) as second:
        assert second.info is not None
        assert facts(second) == one
        assert second.info.server_identity == f"bc-payment-viewer-sandbox/{second.info.tenant}"
    with Sandbox(seed=6) as third:
        assert facts(third)[0] != one[0]
