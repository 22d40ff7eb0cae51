"""Issue 13, the first five minutes on the real app and sandbox: Open… from the keyboard, the first-run sandbox,
window widths, the History tab."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import qasync
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QListWidget, QPlainTextEdit, QPushButton, QTableWidget
from pytestqt.qtbot import QtBot

from tests.conftest import Start, payment_url, until
from ui.app import build_parser
from ui.controller import AppController
from ui.history import HistoryView
from ui.main_window import MainWindow
from ui.open_dialog import OpenDialog
from ui.profile_dialog import SANDBOX_ENTRY, ProfileDialog
from viewer.models.payment import LoadState
from viewer.profiles import SandboxProfile
from viewer.sandbox import Sandbox
from viewer.settings import Settings


def test_open_dialog_is_keyboard_first(start_app: Start, qloop: qasync.QEventLoop, qtbot: QtBot,
                                       sandbox: Sandbox) -> None:
    window, controller = start_app()
    qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(OpenDialog, "openDialog")
    assert dialog is not None and dialog.isVisible()
    edit = dialog.findChild(QPlainTextEdit, "openInput")
    open_button = dialog.findChild(QPushButton, "openButton")
    cancel_button = dialog.findChild(QPushButton, "cancelButton")
    assert edit is not None and open_button is not None and cancel_button is not None
    assert dialog.focusWidget() is edit  # not Cancel: a paste lands in the box, a space is just a space

    # Shift+Enter is a newline; Enter with a wrong text opens nothing and keeps the dialog.
    qtbot.keyClicks(edit, "hello")
    qtbot.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(edit, "world")
    assert edit.toPlainText() == "hello\nworld"
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.message.text().startswith("✗")

    # Enter opens a valid URL.
    url = payment_url(sandbox)
    edit.selectAll()
    qtbot.keyClicks(edit, url)
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert not dialog.isVisible()
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    assert controller.payment.record is not None
    assert controller.payment.record.values["id"] == sandbox.store().demo.payment_id

    # Opened again: the focus is on the box and the previous text is selected, so typing replaces it.
    controller.show_open_dialog()
    assert dialog.isVisible() and dialog.focusWidget() is edit
    assert edit.textCursor().selectedText() == url
    qtbot.keyClicks(edit, " ")
    assert edit.toPlainText() == " " and dialog.isVisible()
    qtbot.keyClick(edit, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def _menu_action(window: MainWindow, prefix: str) -> QAction:
    return next(a for a in window.payment_menu.actions() if a.text().replace("&", "").startswith(prefix))


def test_copy_as_table_keeps_numbers_numeric_and_lines_keep_whole_timestamps(
    start_app: Start, qloop: qasync.QEventLoop, sandbox: Sandbox
) -> None:
    window, controller = start_app(payment_url(sandbox))
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    record = controller.payment.record
    assert record is not None
    _menu_action(window, "Copy record as table").trigger()
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.hasHtml()
    page = mime.html()
    amount = Decimal(str(record.values["amount"]))
    # Amount and Line No. are numeric cells carrying the exact value; the document number is a text cell.
    assert re.search(rf'x:num="{re.escape(f"{amount:f}")}">[^<]+</td><td>amount</td>', page), page
    assert re.search(rf'x:num="{record.values["lineNumber"]}">[^<]+</td><td>lineNumber</td>', page), page
    assert re.search(r"'\\@'\">[^<]*</td><td>documentNumber</td>", page), page

    _menu_action(window, "Copy record as lines").trigger()
    lines = QGuiApplication.clipboard().text().splitlines()
    modified = next(line for line in lines if line.startswith("Last Modified"))
    # Seconds and zone kept: the exact moment, as Business Central sent it, in UTC.
    assert re.fullmatch(r"Last Modified[^:]*: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", modified), modified


def test_history_survives_a_sandbox_restart(start_app: Start, qloop: qasync.QEventLoop) -> None:
    # Two real sandbox starts: each binds a new port. The second run still finds the first run's snapshot, so a
    # change made in between is marked "since your last visit".
    first = Sandbox(seed=1)
    first.start()
    try:
        window, controller = start_app(payment_url(first), box=first)
        qloop.run_until_complete(until(lambda: bool(controller.changes.summary)))
        assert controller.changes.summary.startswith("First time")
        qloop.run_until_complete(until(lambda: controller.store.persistent))
        qloop.run_until_complete(controller.shutdown())
        window.hide()
    finally:
        first.stop()
    second = Sandbox(seed=1)
    second.start()
    try:
        assert first.info is not None and second.info is not None
        assert first.info.base_url != second.info.base_url  # a new port
        demo = second.store().demo
        second.store().patch_payment(demo.payment_id, {"description": "Edited between the two runs"})
        _window, controller = start_app(payment_url(second), box=second)
        qloop.run_until_complete(until(lambda: bool(controller.changes.summary)))
        assert "since your last visit" in controller.changes.summary, controller.changes.summary
        history = qloop.run_until_complete(controller.service.history(controller.payment.record))
        assert len(history) == 2 and history[0].values["description"] == "Edited between the two runs"
    finally:
        second.stop()


def _first_start(qloop: qasync.QEventLoop) -> tuple[MainWindow, AppController]:
    """The app as the desktop launcher starts it the first time: no arguments, no profile."""
    window = MainWindow()
    window.resize(1000, 700)
    window.show()
    controller = AppController(window, build_parser().parse_args([]), settings=Settings())
    qloop.run_until_complete(controller.start())
    return window, controller


def test_first_start_offers_the_sandbox_and_it_works_without_a_terminal(qloop: qasync.QEventLoop,
                                                                        qtbot: QtBot) -> None:
    window, controller = _first_start(qloop)
    try:
        hint = window.payment.hint
        assert "Welcome" in hint.text() and hint.isVisible()
        try_button = window.findChild(QPushButton, "trySandboxButton")
        add_button = window.findChild(QPushButton, "addProfileButton")
        assert try_button is not None and add_button is not None
        assert try_button.isVisible() and add_button.isVisible() and try_button.isEnabled()
        assert "no account needed" in try_button.text()
        assert controller.sandbox is None  # nothing started behind the user's back
        # The sign-in bar's profile list offers the built-in sandbox from the start.
        combo = window.sign_in.profile_combo
        assert [combo.itemText(i) for i in range(combo.count())] == ["Sandbox"]

        qtbot.mouseClick(try_button, Qt.MouseButton.LeftButton)
        qloop.run_until_complete(until(lambda: controller.navigation.payments.rowCount() > 0, timeout=30))
        assert controller.sandbox is not None and controller.sandbox.owned
        assert controller.workspace is not None and controller.workspace.identity is not None
        assert not hint.isVisible() or "Welcome" not in hint.text()
        assert combo.currentText() == "Sandbox"
        # The next start (from the launcher again) comes back to the sandbox: it was the last profile used.
        assert controller.workspace.last_profile() == SandboxProfile()
    finally:
        qloop.run_until_complete(controller.shutdown())
        window.close()
        window.deleteLater()
    assert controller.sandbox._box._thread is None  # the shutdown stopped the sandbox it started


def test_add_a_profile_opens_the_editor_with_the_sandbox_listed_as_built_in(qloop: qasync.QEventLoop,
                                                                             qtbot: QtBot) -> None:
    window, controller = _first_start(qloop)
    try:
        add_button = window.findChild(QPushButton, "addProfileButton")
        assert add_button is not None
        qtbot.mouseClick(add_button, Qt.MouseButton.LeftButton)
        dialog = window.findChild(ProfileDialog, "profileDialog")
        assert dialog is not None and dialog.isVisible()
        assert dialog.list.item(0).text() == SANDBOX_ENTRY
        assert dialog.name.isEnabled() and dialog.focusWidget() is dialog.name  # ready for the first profile
        dialog.list.setCurrentRow(0)
        assert not dialog.name.isEnabled() and not dialog.delete_button.isEnabled()
        assert "No account needed" in dialog.message.text()
        dialog.reject()
    finally:
        qloop.run_until_complete(controller.shutdown())
        window.close()
        window.deleteLater()


def test_history_reads_like_the_form(start_app: Start, qloop: qasync.QEventLoop, sandbox: Sandbox) -> None:
    demo = sandbox.store().demo
    window, controller = start_app(payment_url(sandbox))
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    long_text = "Edited by a colleague at the other office, with a long explanation of why " * 2
    sandbox.store().patch_payment(demo.payment_id, {"description": long_text.strip(), "amount": 1234.5})
    controller.refresh()
    qloop.run_until_complete(until(lambda: "description" in controller.payment.changes()))
    history = window.findChild(HistoryView)
    assert history is not None
    history.reload()
    timeline = window.findChild(QListWidget, "historyList")
    table = window.findChild(QTableWidget, "historyDiff")
    assert timeline is not None and table is not None
    qloop.run_until_complete(until(lambda: timeline.count() == 2 and table.rowCount() > 0))
    # Labels in the form's order, not JSON names sorted.
    assert "3 changes: Amount, Description, Last Modified" in timeline.item(0).text(), timeline.item(0).text()
    rows = [table.item(r, 0).text().removeprefix("◆ ") for r in range(table.rowCount())]
    form = [f.label for f in controller.payment.fields() if f.json_name != "@odata.etag"]
    assert rows == form
    cells = {table.item(r, 0).text(): (table.item(r, 1), table.item(r, 2)) for r in range(table.rowCount())}
    _older, newer = cells["◆ Description"]
    assert newer.text() == long_text.strip()  # whole, never cut
    assert long_text.strip() in newer.toolTip() and "description" in newer.toolTip()
    assert table.wordWrap() and table.textElideMode() == Qt.TextElideMode.ElideNone
    # Formatted as the form formats it: the amount in the locale, Last Modified as local date and time, not ISO.
    amount_row = next(f for f in controller.payment.fields() if f.json_name == "amount")
    assert cells["◆ Amount"][1].text() == amount_row.display
    modified = cells["◆ Last Modified"][1]
    assert "T" not in modified.text() and "Z" not in modified.text() and "UTC" in modified.toolTip()


def _shown(window: MainWindow) -> set[str]:
    bar = window.sign_in
    controls = {"progress": bar.progress, "cancel": bar.cancel_button, "browser": bar.browser_button,
                "code": bar.code_button, "account": bar.account_button, "signOut": bar.sign_out_button,
                "help": bar.help_button}
    return {name for name, widget in controls.items() if widget.isVisibleTo(bar)}


def _settle(qloop: qasync.QEventLoop) -> None:
    qloop.run_until_complete(asyncio.sleep(0.05))


def _assert_narrow(window: MainWindow, state: str) -> None:
    # At 640 px nothing outside the payment form asks for more: the window keeps its width.
    assert window.sign_in.minimumSizeHint().width() <= 640, (state, window.sign_in.minimumSizeHint())
    assert window.statusBar().minimumSizeHint().width() <= 640, (state, window.statusBar().minimumSizeHint())
    assert window.minimumSizeHint().width() <= 640, (state, window.minimumSizeHint())
    assert window.width() == 640, (state, window.width())


def test_window_keeps_640_px_signed_in_signing_out_signed_out_and_signing_in(
    start_app: Start, qloop: qasync.QEventLoop, sandbox: Sandbox, qtbot: QtBot
) -> None:
    window, controller = start_app()
    window.resize(640, 600)
    _settle(qloop)
    workspace = controller.workspace
    assert workspace is not None and workspace.connection is not None and workspace.identity is not None
    # Signed in on the sandbox: the account line (name, user name, tenant GUID) is longer than the bar can hold.
    assert _shown(window) == {"account", "signOut"}
    assert "tenant" in window.sign_in.account_label.text() and "tenant" in window.sign_in.account_label.toolTip()
    window.facts_label.setText("HTTP 200 · 1234 ms · 56,789 bytes · request-id " + "0" * 36 + " · 3 attempts")
    _settle(qloop)
    _assert_narrow(window, "signed in")
    assert window.facts_label.text().endswith("3 attempts") and "request-id" in window.facts_label.toolTip()

    # Signing out: only the progress shows — no Cancel, no sign-in buttons, even once the identity is gone.
    user = workspace.connection.user
    assert user is not None
    sign_out = user.sign_out
    seen: list[set[str]] = []

    async def slow_sign_out() -> None:
        await asyncio.sleep(0.3)
        await sign_out()

    user.sign_out = slow_sign_out  # type: ignore[method-assign]
    workspace.identityChanged.connect(lambda _identity: seen.append(_shown(window)))
    qtbot.mouseClick(window.sign_in.sign_out_button, Qt.MouseButton.LeftButton)
    qloop.run_until_complete(until(lambda: window.sign_in.busy))
    _settle(qloop)
    assert _shown(window) == {"progress"}
    _assert_narrow(window, "signing out")
    qloop.run_until_complete(until(lambda: not window.sign_in.busy))
    assert seen and seen[0] == {"progress"}  # the moment the identity went, still mid sign-out

    # Signed out: the two ways in and the help.
    _settle(qloop)
    assert _shown(window) == {"browser", "code", "help"}
    _assert_narrow(window, "signed out")

    # Signing in (the sandbox's token endpoint made slow): progress and Cancel only.
    sandbox.add_fault("latency", "/oauth2/v2.0/token", latency_ms=1500, count=1)
    qtbot.mouseClick(window.sign_in.browser_button, Qt.MouseButton.LeftButton)
    qloop.run_until_complete(until(lambda: window.sign_in.busy))
    _settle(qloop)
    assert _shown(window) == {"progress", "cancel", "help"}
    _assert_narrow(window, "signing in")
    qloop.run_until_complete(until(lambda: workspace.identity is not None, timeout=15))
    _settle(qloop)
    assert _shown(window) == {"account", "signOut"}
    _assert_narrow(window, "signed in again")
