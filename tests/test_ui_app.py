"""The main window on the sandbox: start-up sign-in, navigation, search, Open…, deep links, losing sign-in."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import qasync
from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QComboBox,
    QDialogButtonBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from tests.conftest import Start, payment_url, until
from ui.app import build_parser
from ui.controller import AppController
from ui.main_window import MainWindow
from ui.open_dialog import OpenDialog
from viewer import jsondata
from viewer.models.payment import LoadState
from viewer.sandbox import Sandbox
from viewer.settings import HISTORY_ENABLED, LAST_COMPANY, Settings


def test_start_signs_in_and_restores_the_navigation(start_app: Start, sandbox: Sandbox) -> None:
    window, controller = start_app()
    assert "Alex Wilber" in window.sign_in.account_label.text()
    nav = controller.navigation
    demo = sandbox.store().demo
    assert nav.environment == "production" and window.navigator.environment_combo.currentText().startswith("production")
    assert nav.company_id == demo.company_id and window.navigator.company_combo.currentText()
    assert nav.journal_id and window.navigator.journal_combo.currentText()
    assert "HTTP 200" in window.facts_label.text() and "request-id" in window.facts_label.text()
    assert window.statusBar().currentMessage() == ""


def test_choosing_a_payment_shows_every_field(start_app: Start, qloop: qasync.QEventLoop, qtbot: QtBot) -> None:
    window, controller = start_app()
    view = window.navigator.view
    view.setFocus()
    view.setCurrentIndex(view.model().index(0, 0))  # where the cursor lands when the list gets the focus
    qtbot.keyClick(view, Qt.Key.Key_Down)  # keyboard only: the second line is chosen
    assert view.selectionModel().selectedRows()[0].row() == 1
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    record = controller.payment.record
    assert record is not None
    assert window.payment.title.text().startswith("Payment ")
    labels = [controller.payment.index(r, 0).data() for r in range(controller.payment.rowCount())]
    assert {"Document No.", "Posting Date", "Amount", "Customer No."} <= set(labels)
    assert window.payment.form.isVisible() and not window.payment.hint.isVisible()


class _PaintSpy(QObject):
    def __init__(self, seen: list[QEvent.Type]) -> None:
        super().__init__()
        self.seen = seen

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.seen.append(event.type())
        return False


def test_clicking_a_column_header_sorts_on_the_server_and_the_selection_leaves_the_header_alone(
        start_app: Start, qloop: qasync.QEventLoop, qtbot: QtBot) -> None:
    window, controller = start_app()
    view = window.navigator.view
    header = view.horizontalHeader()
    payments = controller.navigation.payments
    view.selectRow(1)
    qloop.run_until_complete(asyncio.sleep(0.05))  # the payment it opens and the pending paints done
    # The whole row is selected: the header does not follow it (nothing to highlight, no repaint per click).
    painted: list[QEvent.Type] = []
    spy = _PaintSpy(painted)
    header.viewport().installEventFilter(spy)
    view.selectRow(2)
    view.viewport().repaint()  # the list's own paint happens, the header's does not
    qloop.run_until_complete(asyncio.sleep(0.05))
    header.viewport().removeEventFilter(spy)
    assert not painted and not header.highlightSections()
    amount = [payments.headerData(c, Qt.Orientation.Horizontal) for c in range(payments.columnCount())].index("Amount")
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=header.viewport().rect().topLeft() + QPoint(header.sectionViewportPosition(amount) + 5, 5))
    assert payments.params.get("$orderby", "").startswith("amount ")
    qloop.run_until_complete(until(lambda: not payments.loading and payments.rowCount() > 0))
    amounts = [payments.record(r)["amount"] for r in range(payments.rowCount())]
    assert amounts == sorted(amounts) or amounts == sorted(amounts, reverse=True)


def test_search_with_a_quote_finds_obrien(start_app: Start, qloop: qasync.QEventLoop, qtbot: QtBot,
                                          sandbox: Sandbox) -> None:
    window, controller = start_app()
    nav = window.navigator
    nav.search_field.setCurrentIndex(nav.search_field.findData("description"))
    qtbot.keyClicks(nav.search_edit, "O'Brien")
    payments = controller.navigation.payments

    def only_obrien() -> bool:
        rows = [payments.index(r, 5).data() or "" for r in range(payments.rowCount())]
        return bool(rows) and all("O'Brien" in text for text in rows)

    qloop.run_until_complete(until(only_obrien, timeout=10))
    assert "O'Brien" in (controller.navigation.payment_filter() or "").replace("''", "'")


def test_changing_company_never_shows_the_old_payments(start_app: Start, qloop: qasync.QEventLoop,
                                                       sandbox: Sandbox) -> None:
    _window, controller = start_app()
    nav = controller.navigation
    other = next(c for c in nav.companies.items() if c["id"] != nav.company_id)
    sandbox.add_fault("latency", "journals|customerPaymentJournals", latency_ms=500, count=1)

    async def switch() -> None:
        task = asyncio.ensure_future(nav.select_company(str(other["id"])))
        await asyncio.sleep(0.05)
        # At once, before anything answers: nothing of the previous company is on screen.
        assert nav.payments.rowCount() == 0 and nav.journals.rowCount() == 0 and nav.journal_id is None
        await task

    qloop.run_until_complete(switch())
    assert nav.company_id == other["id"]


def test_open_dialog_accepts_every_url_form_and_refuses_garbage(start_app: Start, qloop: qasync.QEventLoop,
                                                                qtbot: QtBot, sandbox: Sandbox) -> None:
    window, controller = start_app()
    assert sandbox.info is not None
    demo = sandbox.store().demo
    qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(OpenDialog, "openDialog")
    assert dialog is not None and dialog.isVisible()
    open_button = dialog.buttons.button(QDialogButtonBox.StandardButton.Open)
    for garbage in ("hello", "https://example.com/x", f"{sandbox.info.api_root}/v2.0/companies({demo.company_id})"):
        dialog.set_text(garbage)
        assert dialog.message.text().startswith("✗") and not open_button.isEnabled(), garbage
    root = sandbox.info.api_root
    forms = [
        payment_url(sandbox),
        payment_url(sandbox, version="beta").replace("customerPaymentJournals", "customerPaymentsJournals"),
        f"{root}/v1.0/companies({demo.company_id})/customerPayments({demo.payment_id})",
        f"{root}/v2.0/companies('{demo.company_id.upper()}')/customerPayments({{{demo.payment_id}}})",
        f"  <{payment_url(sandbox)}>  ",
        demo.payment_id,  # a bare GUID: the chosen company
        f"{demo.company_id} {demo.payment_id}",
        f"{{{demo.company_id}}}/{demo.journal_id}/{demo.payment_id}",
    ]
    for text in forms:
        controller.payment.clear()
        dialog.set_text(text)
        assert dialog.message.text().startswith("✓"), (text, dialog.message.text())
        qtbot.mouseClick(open_button, Qt.MouseButton.LeftButton)
        qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
        assert controller.payment.record is not None and controller.payment.record.values["id"] == demo.payment_id
        controller.show_open_dialog()
    foreign = payment_url(sandbox).replace(sandbox.info.base_url, "https://api.businesscentral.dynamics.com")
    dialog.set_text(foreign)
    assert "signed in to" in dialog.message.text() and not open_button.isEnabled()
    dialog.reject()
    assert window.recent_menu.isEnabled() and len(window.recent_menu.actions()) >= 3


def test_deep_link_opens_the_payment(start_app: Start, qloop: qasync.QEventLoop, sandbox: Sandbox) -> None:
    demo = sandbox.store().demo
    _window, controller = start_app(payment_url(sandbox, demo.long_text_payment_id))
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    assert controller.payment.record is not None
    assert controller.payment.record.values["id"] == demo.long_text_payment_id


def test_deep_link_requests_the_payment_before_the_navigation_restore(start_app: Start, qloop: qasync.QEventLoop,
                                                                      sandbox: Sandbox) -> None:
    """The payment is what the person asked for: its request goes out first, and the navigator is restored
    around it (its company and journal), not around the last session's choice."""
    demo = sandbox.store().demo
    Settings().set(LAST_COMPANY, demo.small_company_id)  # where a plain start would go
    url = payment_url(sandbox, demo.long_text_payment_id)
    sandbox.traffic.reset()
    _window, controller = start_app(url)
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    api = [p for p in sandbox.traffic.snapshot()["order"] if "/api/" in p or p.startswith("/environments")]
    assert api[0] == urlsplit(url).path, api[:3]
    assert any(p.endswith("/companies") for p in api[1:]), "the navigation restore still runs"
    nav = controller.navigation
    assert (nav.company_id, nav.journal_id) == (demo.company_id, demo.journal_id)
    assert not any(demo.small_company_id in p for p in api), "no list of the last session's company was loaded"


def test_losing_sign_in_while_in_use_keeps_the_data_and_says_so(start_app: Start, qloop: qasync.QEventLoop,
                                                               sandbox: Sandbox) -> None:
    window, controller = start_app(payment_url(sandbox))
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    assert sandbox.identity is not None
    sandbox.identity.revoke_refresh_tokens()
    sandbox.identity.expire_all_tokens()
    window.refresh_action.trigger()
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.FAILED, timeout=15))
    assert controller.payment.record is not None  # the last good data stays, marked stale
    assert window.payment.banner.isVisible() and "stale" in window.payment.banner_text.text().lower()
    assert "sign in" in window.statusBar().currentMessage().lower()
    assert window.sign_in.browser_button.isVisible() and window.sign_in.account_label.text() == "Not signed in"
    qloop.run_until_complete(until(lambda: controller.watcher.paused))  # no watching while signed out


def test_not_found_after_posting_keeps_the_last_data(start_app: Start, qloop: qasync.QEventLoop,
                                                     sandbox: Sandbox, tmp_path: Path) -> None:
    window, controller = start_app(payment_url(sandbox))
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    demo = sandbox.store().demo
    sandbox.store().post_journal(demo.company_id, demo.journal_id)
    window.refresh_action.trigger()
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.GONE))
    assert controller.payment.record is not None and "posted or deleted" in window.payment.banner_text.text()
    # The last snapshot can still be exported.
    from PySide6.QtWidgets import QFileDialog

    controller.changes.export_json()
    dialog = window.findChild(QFileDialog)
    assert dialog is not None
    target = tmp_path / "gone.json"
    dialog.fileSelected.emit(str(target))
    qloop.run_until_complete(until(lambda: "Saved" in window.statusBar().currentMessage()))  # written in a thread
    assert jsondata.loads(target.read_text(encoding="utf-8")) == controller.payment.record.values
    assert target.stat().st_mode & 0o777 == 0o600  # an exported payment is as private as the app's own files
    # A place that cannot be written to: a message in the status bar, no crash, nothing else changes.
    controller.changes.export_json()
    dialog = [d for d in window.findChildren(QFileDialog) if d.isVisible()][-1]
    dialog.fileSelected.emit(str(target / "inside a file.json"))  # its folder is a file
    qloop.run_until_complete(until(lambda: "Could not save" in window.statusBar().currentMessage()))
    assert controller.payment.state == LoadState.GONE


def test_twenty_thousand_payments_scroll_lazily(start_app: Start, qloop: qasync.QEventLoop) -> None:
    big = Sandbox(seed=3, payments=20000)
    big.start()
    try:
        window, controller = start_app(box=big)
        payments = controller.navigation.payments
        qloop.run_until_complete(controller.navigation.select_journal(big.store().demo.journal_id))
        total = len(big.store().journal_payments(big.store().demo.journal_id))
        assert total > 5000

        async def scroll() -> None:
            pages = 0
            while payments.canFetchMore(QModelIndex()):
                window.navigator.view.scrollToBottom()
                if not payments.loading:
                    payments.fetchMore(QModelIndex())
                await until(lambda: not payments.loading, timeout=20)
                pages += 1
                assert pages < 500
            assert payments.rowCount() == total

        qloop.run_until_complete(scroll())
        ids = {(payments.record(r) or {}).get("id") for r in range(payments.rowCount())}
        assert len(ids) == payments.rowCount() == total  # every row once
    finally:
        big.stop()


def test_every_control_has_a_name(start_app: Start) -> None:
    window, _ = start_app()
    assert window.findChild(QWidget, "signInWidget") is not None
    assert window.findChild(QWidget, "navigator") is not None
    assert window.findChild(QWidget, "paymentsView") is not None
    missing = [
        w.objectName() or type(w).__name__
        for kind in (QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit, QAbstractItemView)
        for w in window.findChildren(kind)
        if not w.accessibleName() and not _qt_internal(w)
    ]
    assert missing == []


def _qt_internal(widget: QWidget) -> bool:
    """Parts Qt builds inside our controls (they take the control's accessible name)."""
    parent = widget.parent()
    grandparent = parent.parent() if parent is not None else None
    return (
        widget.objectName().startswith("qt_")
        or isinstance(widget, QHeaderView)
        or isinstance(parent, QLineEdit | QComboBox)  # a line edit's clear button, an editable combo's edit
        or isinstance(grandparent, QComboBox)  # a combo's popup list
    )


def test_quit_cancels_work_and_closes_the_client(start_app: Start, qloop: qasync.QEventLoop,
                                                sandbox: Sandbox) -> None:
    _window, controller = start_app()
    sandbox.add_fault("latency", "customerPayments", latency_ms=1000, count=1)
    controller.open_url(payment_url(sandbox))
    assert controller.payment.state == LoadState.LOADING
    connection = controller.workspace.connection if controller.workspace else None
    assert connection is not None
    qloop.run_until_complete(controller.shutdown())
    assert connection.client.closed
    assert controller.payment.state != LoadState.LOADING
    # The sandbox is shared: its delayed answer must not still be in flight in the next test's traffic counts.
    qloop.run_until_complete(until(lambda: not +sandbox.traffic.in_flight, timeout=10))


def test_next_start_restores_company_journal_and_window(start_app: Start, qloop: qasync.QEventLoop,
                                                        sandbox: Sandbox) -> None:
    demo = sandbox.store().demo
    window, controller = start_app()
    nav = controller.navigation
    qloop.run_until_complete(nav.select_journal(demo.second_journal_id))
    qloop.run_until_complete(until(lambda: nav.payments.rowCount() > 0))
    first = nav.payments.record(0)
    assert first is not None
    controller.open_url(str(nav.payment_url(str(first["id"]))))
    window.splitter.setSizes([400, 800])  # (the navigator keeps its minimum width in a smaller restored window)
    sizes = window.splitter.sizes()
    qloop.run_until_complete(controller.shutdown())
    # A new window, same settings file: the last environment, company and journal come back, as does the layout.
    window2, controller2 = start_app()
    assert controller2.navigation.journal_id == demo.second_journal_id
    assert controller2.navigation.company_id == demo.company_id
    restored = window2.splitter.sizes()
    assert abs(restored[0] / sum(restored) - sizes[0] / sum(sizes)) < 0.02  # same split (widths follow the window)


def test_opening_a_payment_of_another_journal_moves_the_navigator_there(start_app: Start, qloop: qasync.QEventLoop,
                                                                        sandbox: Sandbox) -> None:
    _window, controller = start_app()
    demo = sandbox.store().demo
    nav = controller.navigation
    if nav.journal_id == demo.journal_id:
        qloop.run_until_complete(nav.select_journal(demo.second_journal_id))
    qloop.run_until_complete(controller.open_text(payment_url(sandbox)))  # a GENERAL-journal payment
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    assert nav.journal_id == demo.journal_id
    assert controller.window.navigator.journal_combo.currentIndex() == nav.journals.row_of(demo.journal_id)


def test_bare_guids_move_the_navigator_to_the_payments_journal(start_app: Start, qloop: qasync.QEventLoop,
                                                               sandbox: Sandbox) -> None:
    _window, controller = start_app()
    demo = sandbox.store().demo
    nav = controller.navigation
    qloop.run_until_complete(nav.select_journal(demo.second_journal_id))
    qloop.run_until_complete(controller.open_text(f"{demo.company_id} {demo.payment_id}"))
    assert controller.payment.state == LoadState.READY and nav.journal_id == demo.journal_id


def test_first_start_without_profiles_welcomes_and_leads_to_the_profile_editor(qtbot: QtBot,
                                                                               qloop: qasync.QEventLoop) -> None:
    window = MainWindow()
    window.show()
    controller = AppController(window, build_parser().parse_args([]), settings=Settings())
    try:
        qloop.run_until_complete(controller.start())
        assert "Welcome" in window.payment.hint.text() and window.payment.hint.isVisible()
        window.payment.hint.linkActivated.emit("profiles")
        dialog = window.findChild(QWidget, "profileDialog")
        assert dialog is not None and dialog.isVisible()
    finally:
        qloop.run_until_complete(controller.shutdown())
        window.close()
        window.deleteLater()


def test_watched_change_is_announced_and_history_can_be_forgotten_or_turned_off(
    start_app: Start, qloop: qasync.QEventLoop, sandbox: Sandbox
) -> None:
    from viewer.snapshots import SnapshotKey

    window, controller = start_app(payment_url(sandbox))
    qloop.run_until_complete(until(lambda: bool(controller.changes.summary)))
    demo = sandbox.store().demo
    sandbox.store().patch_payment(demo.payment_id, {"description": "Watched edit"})
    assert qloop.run_until_complete(controller.watcher.check()) == "changed"
    qloop.run_until_complete(until(lambda: "changed" in window.statusBar().currentMessage()))
    key = SnapshotKey.from_url(payment_url(sandbox))
    qloop.run_until_complete(controller.service.flush())  # snapshots are written in the background
    assert controller.store.persistent and key is not None and len(controller.store.history(key)) == 2
    actions = {a.text().replace("&", ""): a for a in window.payment_menu.actions()}
    actions["Forget history"].trigger()
    qloop.run_until_complete(until(lambda: not controller.store.history(key)))
    actions["Keep a history of payments"].trigger()  # off (switched in a worker thread)
    qloop.run_until_complete(until(lambda: not controller.store.enabled))
    assert controller.settings.get(HISTORY_ENABLED) is False
