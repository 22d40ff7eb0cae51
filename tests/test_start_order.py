"""What a start does first (ui/app.py): the window, the navigator and an empty payment panel paint, and Qt's loop
answers, before asyncio, the models, the schema or the form are imported; the rest follows inside the loop. Issue 12's
start-up figures are measured in tests/benchmarks/run_all.py; these tests check the order and that nothing is lost by
it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QLocale, Qt
from pytestqt.qtbot import QtBot

from tests.conftest import until
from ui.app import build_parser
from ui.controller import AppController
from ui.main_window import MainWindow
from ui.payment_panel import PaymentPanel
from viewer.loading import PaymentService
from viewer.models.payment import LoadState, PaymentModel
from viewer.profiles import OnPremProfile
from viewer.sandbox import Sandbox
from viewer.settings import LAST_PROFILE, Settings

ROOT = Path(__file__).resolve().parents[1]

# Not needed for the first paint, and each costs the start: the loop, the models, the schema, the form, the network.
LATER = ("asyncio", "viewer.models.payment", "viewer.navigation", "viewer.schema", "ui.payment_form", "ui.history",
         "ui.checks_strip", "ui.controller", "viewer.workspace", "httpx", "msal", "PySide6.QtNetwork")

FIRST_PAINT = """
import json, sys
from ui.app import lighter_pyside_import_hook
lighter_pyside_import_hook()
from PySide6.QtWidgets import QApplication
from ui.main_window import MainWindow
app = QApplication([])
window = MainWindow(deferred=True)  # as ui/app.py paints it: frame and panels at once
window.build(shell=True)
window.show()
app.processEvents()
navigator, panel = window.navigator, window.payment
print(json.dumps({
    "imported": [name for name in json.loads(sys.argv[1]) if name in sys.modules],
    "navigator": navigator.isVisible() and navigator.view.isVisible() and navigator.search_edit.isVisible(),
    "search_in": [navigator.search_field.itemText(i) for i in range(navigator.search_field.count())],
    "panel": panel.isVisible(), "title": panel.title.text(), "hint": panel.hint.isVisible(),
    "form": hasattr(panel, "form"), "watch": panel.watch_button.isVisible(),
    "payment_menu": len(window.payment_menu.actions()),
}))
"""


def run_python(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=timeout, check=False)


def test_the_first_paint_shows_the_navigator_and_an_empty_panel_without_the_heavy_imports() -> None:
    done = run_python(FIRST_PAINT, json.dumps(LATER))
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["imported"] == [], seen["imported"]
    assert seen["navigator"] and seen["search_in"] == ["Document No.", "Customer No.", "Description"]
    assert seen["panel"] and seen["title"] == "No payment open" and seen["hint"]
    assert not seen["form"] and not seen["watch"] and seen["payment_menu"] == 0  # they come with complete()


def test_the_empty_shell_panel_looks_like_the_complete_empty_panel(qtbot: QtBot) -> None:
    """Honest: the panel painted first is exactly what the finished, bound panel shows before any payment."""
    shell = PaymentPanel(deferred=True)
    full = PaymentPanel()
    full.bind(PaymentModel(PaymentService(), locale=QLocale()))
    for panel in (shell, full):
        qtbot.addWidget(panel)
        panel.resize(640, 700)
        panel.show()
    qtbot.waitExposed(full)
    assert shell.grab().toImage() == full.grab().toImage()
    shell.complete()
    shell.complete()  # once only
    assert shell.layout().indexOf(shell.form) == full.layout().indexOf(full.form)
    assert shell.layout().indexOf(shell.checks_strip) == full.layout().indexOf(full.checks_strip)
    assert not shell.form.isVisible()  # still empty until a payment comes
    assert shell.grab().toImage() == full.grab().toImage()


def test_completing_the_window_adds_the_payment_menu_once(qtbot: QtBot) -> None:
    window = MainWindow(deferred=True)
    qtbot.addWidget(window)
    window.build(shell=True)
    window.payment.focus_first_field()  # Ctrl+2 before the form exists: nothing happens
    assert window.payment_menu.actions() == []
    window.complete()
    window.complete()
    texts = [a.text() for a in window.payment_menu.actions() if a.text()]
    assert window.payment.form.raw_action in window.payment_menu.actions()
    assert {"&Export as JSON file…", "&Keep a history of payments", "&Forget history"} <= set(texts)
    assert texts.count("&Export as JSON file…") == 1
    whole = MainWindow()
    qtbot.addWidget(whole)
    assert [a.text() for a in whole.payment_menu.actions()] == [a.text() for a in window.payment_menu.actions()]


QT_LOOP_FIRST = """
import gc, json, sys
import ui.app
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

def answered():
    # Qt's loop answers this event, posted before it ran; asyncio's loop is set up only after it. The cycle collector
    # is off while the app starts (ui/app.py pause_cycle_collector).
    print(json.dumps({"asyncio": "asyncio" in sys.modules, "form": "ui.payment_form" in sys.modules,
                      "collecting": gc.isenabled()}), flush=True)
    QApplication.instance().exit(0)  # quitting this early ends the run without a shutdown to do

ui.app.bench_ready = lambda: QTimer.singleShot(0, answered)
code = ui.app.main(["--new-window"])
print(json.dumps({"collecting": gc.isenabled()}), flush=True)  # never left off, however the start ended
sys.exit(code)
"""


def test_qt_answers_a_posted_event_before_asyncio_is_imported_and_an_early_quit_is_clean(tmp_path: Path) -> None:
    env_data = str(tmp_path / "data")
    code = f"import os; os.environ['BCPV_DATA_DIR'] = {env_data!r}; os.environ['BCPV_BENCH_EXIT'] = 'ready'\n"
    done = run_python(code + QT_LOOP_FIRST)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert json.loads(lines[-2]) == {"asyncio": False, "form": False, "collecting": False}
    assert json.loads(lines[-1]) == {"collecting": True}
    assert "Traceback" not in done.stderr


QUIT_FROM_OUTSIDE = """
import sys
import ui.app
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

def started(_bench, controller):
    print("started", flush=True)
    QTimer.singleShot(0, QApplication.instance().quit)  # as a session's logout does: Qt's loop ends under asyncio's

ui.app.bench_markers = started
sys.exit(ui.app.main(["--new-window", "--no-crash-dialog"]))
"""


def test_qt_quitting_under_the_running_app_still_runs_its_shutdown(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code = f"import os; os.environ['BCPV_DATA_DIR'] = {str(data)!r}; os.environ['BCPV_BENCH_EXIT'] = 'started'\n"
    done = run_python(code + QUIT_FROM_OUTSIDE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "started"
    log = next((data / "logs").glob("*.log")).read_text()
    assert "ended from outside; shutting down" in log
    assert "stopped (log:" in log and "unexpected error" not in log


# ---- a deep link's start ----------------------------------------------------------------------------------


def onprem(sandbox: Sandbox, name: str = "Server") -> OnPremProfile:
    assert sandbox.info is not None
    return OnPremProfile(name=name, base_url=sandbox.info.onprem_root.removesuffix("/api"),
                         user=sandbox.info.basic["user"], ca_file=sandbox.info.ca_file)


@pytest.fixture
def saved(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> OnPremProfile:
    """An on-prem profile on the sandbox, the last one used, with its password in the environment."""
    assert sandbox.info is not None
    monkeypatch.setenv("BCPV_PASSWORD", sandbox.info.basic["password"])
    profile = onprem(sandbox)
    settings = Settings()
    settings.save_profile(profile)
    settings.set(LAST_PROFILE, profile.name)
    return profile


def test_a_deep_link_start_in_steps_requests_the_payment_first(
        saved: OnPremProfile, sandbox: Sandbox, qloop: qasync.QEventLoop, qtbot: QtBot) -> None:
    """The start as ui/app.py runs it for a deep link (the empty window, then the form, then the controller): the
    payment's request goes out before the navigation restore's, and the form shows it."""
    assert sandbox.info is not None
    demo = sandbox.store().demo
    url = (f"{sandbox.info.onprem_root}/v2.0/companies({demo.company_id})/customerPaymentJournals({demo.journal_id})"
           f"/customerPayments({demo.payment_id})")
    window = MainWindow(deferred=True)
    window.show()
    window.build(shell=True)
    window.complete()
    sandbox.traffic.reset()
    controller = AppController(window, build_parser().parse_args([url]), settings=Settings())
    try:
        qloop.run_until_complete(controller.start())
        qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY
                                       and controller.navigation.payments.rowCount() > 0, timeout=20))
        assert controller.workspace is not None and controller.workspace.connection is not None
        api = [p for p in sandbox.traffic.snapshot()["order"] if "/api/" in p or p.startswith("/environments")]
        assert api[0].endswith(f"/customerPayments({demo.payment_id})"), api[:3]
        assert any(p.endswith("/companies") for p in api[1:]), "the navigation restore still runs"
        assert window.payment.form.isVisible() and window.payment.title.text().startswith("Payment ")
    finally:
        qloop.run_until_complete(controller.shutdown())
        window.close()
        window.deleteLater()


def test_the_window_says_when_it_is_shown_minimised_or_hidden(qtbot: QtBot) -> None:
    """(Told by a filter complete() installs, not by event handlers that would slow the first paint.)"""
    window = MainWindow()
    qtbot.addWidget(window)
    seen: list[bool] = []
    window.visibleChanged.connect(seen.append)
    window.show()
    qtbot.waitExposed(window)
    assert seen and seen[-1] is True
    window.setWindowState(Qt.WindowState.WindowMinimized)
    assert seen[-1] is False
    window.setWindowState(Qt.WindowState.WindowNoState)
    assert seen[-1] is True
    window.hide()
    assert seen[-1] is False
