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
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import qasync
from PySide6.QtWidgets import QApplication

from ui.loop import EventLoop
from viewer.sandbox import Sandbox

if TYPE_CHECKING:
    from ui.controller import AppController
    from ui.main_window import MainWindow


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


# ---- the whole app on the sandbox (tests/test_ui_app.py, tests/test_load_path.py) ----------------------------

Start = Callable[..., "tuple[MainWindow, AppController]"]


@pytest.fixture
def start_app(qtbot: Any, qloop: qasync.QEventLoop, sandbox: Sandbox) -> Iterator[Start]:
    from PySide6.QtTest import QAbstractItemModelTester

    from ui.app import build_parser
    from ui.controller import AppController
    from ui.main_window import MainWindow
    from ui.sandbox_run import SandboxRun
    from viewer.models.payment import LoadState
    from viewer.settings import Settings

    running: list[AppController] = []

    def start(*argv: str, box: Sandbox | None = None) -> tuple[MainWindow, AppController]:
        # Not qtbot.addWidget: pytest-qt closes those before fixtures finalise, and the controller must shut
        # down (cancel, close the client) while its window still exists.
        window = MainWindow()
        window.show()
        args = build_parser().parse_args(["--sandbox", "--activity", "0", *argv])
        controller = AppController(window, args, settings=Settings(), sandbox=SandboxRun.attach(box or sandbox))
        running.append(controller)
        for model in (controller.navigation.environments, controller.navigation.companies,
                      controller.navigation.journals, controller.navigation.payments, controller.payment):
            QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)

        async def up() -> None:
            await controller.start()
            await until(lambda: controller.navigation.payments.rowCount() > 0, timeout=20)
            # Every test starts from a settled window: start-up work (a deep link's load) is done.
            await until(lambda: not controller.tasks and controller.payment.state != LoadState.LOADING, timeout=20)

        qloop.run_until_complete(up())
        return window, controller

    yield start
    for controller in running:
        qloop.run_until_complete(controller.shutdown())
        controller.window.close()
        controller.window.deleteLater()


def payment_url(sandbox: Sandbox, payment_id: str | None = None, version: str = "v2.0") -> str:
    assert sandbox.info is not None
    demo = sandbox.store().demo
    return (f"{sandbox.info.api_root}/{version}/companies({demo.company_id})/customerPaymentJournals({demo.journal_id})"
            f"/customerPayments({payment_id or demo.payment_id})")
