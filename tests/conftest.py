"""Test set-up: offscreen Qt before anything imports it, one sandbox per session, isolated app data.

Async GUI tests run their scenario with ``qloop.run_until_complete(...)`` and poll with ``until``
(an ``asyncio.sleep`` loop); they never call ``qtbot.waitUntil``/``waitSignal`` inside a running
coroutine, which would re-enter the loop.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")  # qasync picks its binding from this, whatever the import order

import asyncio
import gc
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import qasync
from PySide6.QtWidgets import QApplication

from ui.loop import EventLoop
from viewer.sandbox import Sandbox


@pytest.fixture(autouse=True)
def _isolated_app_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings, token caches and snapshots go to a per-test directory, never the user's."""
    data = tmp_path / "app-data"
    monkeypatch.setenv("BCPV_DATA_DIR", str(data))
    return data


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


@pytest.fixture(scope="session", autouse=True)
def _clear_clipboard_at_exit(qapp: QApplication) -> Iterator[None]:
    """Qt's offscreen platform crashes at exit when the clipboard still holds QMimeData (measured with
    PySide6 6.11; xcb is fine): empty it before the QApplication goes."""
    yield
    QApplication.clipboard().clear()


@pytest.fixture(scope="session")
def _qloop_session(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    # qasync: one loop per process. Never stop() it from a fixture; close it once, at the end,
    # and collect garbage on this (GUI) thread right after: a later collection on a worker thread
    # segfaults.
    loop = EventLoop(qapp)
    yield loop
    loop.close()
    gc.collect()


@pytest.fixture
def qloop(_qloop_session: qasync.QEventLoop) -> qasync.QEventLoop:
    """The process's qasync loop, installed as the current loop (``asyncio.run`` elsewhere unsets it)."""
    asyncio.set_event_loop(_qloop_session)
    return _qloop_session


async def until(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.01) -> None:
    """Poll ``predicate`` on the running loop until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
