"""Issue 13, the first five minutes on the real app and sandbox: Open… from the keyboard, the first-run sandbox,
window widths, the History tab."""

from __future__ import annotations

import re
from decimal import Decimal

import qasync
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QPlainTextEdit, QPushButton
from pytestqt.qtbot import QtBot

from tests.conftest import until
from tests.test_ui_app import Start, payment_url
from tests.test_ui_app import start_app as start_app  # the fixture, shared with the main window's tests
from ui.main_window import MainWindow
from ui.open_dialog import OpenDialog
from viewer.models.payment import LoadState
from viewer.sandbox import Sandbox


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
        qloop.run_until_complete(until(lambda: bool(controller.tracker.summary)))
        assert controller.tracker.summary.startswith("First time")
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
        qloop.run_until_complete(until(lambda: bool(controller.tracker.summary)))
        assert "since your last visit" in controller.tracker.summary, controller.tracker.summary
        history = qloop.run_until_complete(controller.tracker.history())
        assert len(history) == 2 and history[0].values["description"] == "Edited between the two runs"
    finally:
        second.stop()
