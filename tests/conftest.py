"""Test set-up: offscreen Qt before anything imports it, one sandbox per session, isolated settings."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402

from viewer.sandbox import Sandbox  # noqa: E402


@pytest.fixture(scope="session")
def sandbox_session() -> Iterator[Sandbox]:
    box = Sandbox(seed=1)
    box.start()
    yield box
    box.stop()


@pytest.fixture
def sandbox(sandbox_session: Sandbox) -> Iterator[Sandbox]:
    """The session sandbox, reset to its seeded state after each test (data, faults, tokens)."""
    yield sandbox_session
    sandbox_session.reset()


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A plain httpx client trusting the sandbox CA (no app code involved)."""
    with httpx.Client(verify=sandbox.ssl_context(), timeout=10) as client:
        yield client
