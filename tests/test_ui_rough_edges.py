"""The window never changes its own width: with a payment open, changed or gone, at 640 px (issue: rough edges)."""

from __future__ import annotations

import asyncio

import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from tests.conftest import Start, payment_url, until
from ui.main_window import MainWindow
from viewer.models.payment import LoadState
from viewer.sandbox import Sandbox


def _narrow(window: MainWindow, state: str, qloop: qasync.QEventLoop) -> None:
    qloop.run_until_complete(asyncio.sleep(0.05))
    assert window.minimumSizeHint().width() <= 640, (state, window.minimumSizeHint(),
                                                     window.payment.minimumSizeHint())
    assert window.width() == 640, (state, window.width())


def test_window_keeps_640_px_with_a_payment_open_changed_and_gone(start_app: Start, qloop: qasync.QEventLoop,
                                                                  sandbox: Sandbox) -> None:
    window, controller = start_app()
    window.resize(640, 600)
    demo = sandbox.store().demo
    controller.open_url(payment_url(sandbox, demo.long_text_payment_id))
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    _narrow(window, "a payment with long values open", qloop)
    sandbox.store().patch_payment(demo.long_text_payment_id, {"description": "A much longer description " * 8})
    window.refresh_action.trigger()
    qloop.run_until_complete(until(lambda: bool(controller.payment.changes())))
    _narrow(window, "a changed payment open", qloop)
    sandbox.store().post_journal(demo.company_id, demo.journal_id)
    window.refresh_action.trigger()
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.GONE))
    _narrow(window, "a gone payment", qloop)


def test_a_gone_payment_has_one_message_and_nothing_to_copy_from_nothing(
    start_app: Start, qloop: qasync.QEventLoop, sandbox: Sandbox
) -> None:
    window, controller = start_app(payment_url(sandbox))
    form = window.payment.form
    assert form.copy_button.isEnabled() and form.raw_action.isEnabled()
    demo = sandbox.store().demo
    sandbox.store().post_journal(demo.company_id, demo.journal_id)
    messages: list[str] = []
    window.statusBar().messageChanged.connect(lambda text: messages.append(text) if text else None)
    assert qloop.run_until_complete(controller.watcher.check()) == "gone"
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.GONE))
    # The last good values stay under the gone banner and can still be copied; one status message says so.
    assert window.payment.banner.isVisible() and "no longer in the journal" in window.payment.banner_text.text()
    assert form.field_edit("documentNumber").text() and form.copy_button.isEnabled()  # type: ignore[union-attr]
    assert [m for m in messages if "journal" in m or "Not found" in m] == [window.statusBar().currentMessage()]
    assert qloop.run_until_complete(controller.watcher.check()) == "skipped"  # gone: no more taking turns
    # "Will it post?" is moot for a line that has left the journal: no checks under the gone banner.
    qloop.run_until_complete(until(lambda: controller.checks.checks == []))
    assert not window.payment.checks_strip.isVisibleTo(window)

    # A payment that is gone with nothing shown before: no placeholders, nothing to copy or switch.
    controller.open_url(payment_url(sandbox, "00000000-0000-0000-0000-0000000000cd"))
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.GONE
                                   and controller.payment.record is None))
    assert not form.fields_page.isVisible()
    edits = [edit for page in form.pages.values() for edit in page.edits.values()]
    assert edits and all(edit.placeholderText() != "Loading…" for edit in edits)
    assert not form.copy_button.isEnabled() and not form.raw_action.isEnabled()
    assert not window.payment.copy_facts.isEnabled()
    assert window.payment.banner.isVisible() and "Not found" in window.payment.banner_text.text()


def test_watch_confirming_no_change_updates_the_facts_and_reads_as_active(
    start_app: Start, qloop: qasync.QEventLoop, sandbox: Sandbox
) -> None:
    from PySide6.QtGui import QPalette

    window, controller = start_app(payment_url(sandbox))
    panel = window.payment
    assert panel.facts.text().startswith("Fetched ")
    assert qloop.run_until_complete(controller.watcher.check()) == "same"
    assert panel.facts.text().startswith("Checked ") and " · unchanged since " in panel.facts.text()
    assert panel.watch_status.foregroundRole() == QPalette.ColorRole.WindowText
    assert "no change" in panel.watch_status.text()


def test_amounts_show_their_currency_and_never_a_guessed_one(start_app: Start, qloop: qasync.QEventLoop,
                                                            sandbox: Sandbox) -> None:
    window, controller = start_app(payment_url(sandbox))
    form = window.payment.form
    qloop.run_until_complete(controller.related.wait())
    invoice = controller.related.invoice.record
    assert invoice is not None
    code = str(invoice.values["currencyCode"])
    amount = form.field_edit("amount")
    assert amount is not None
    qloop.run_until_complete(until(lambda: amount.text().endswith(" " + code)))
    remaining = form.related_sections["invoice"].edits["remainingAmount"]
    assert remaining.text().endswith(" " + code)
    # Nothing to go by (no customer, no invoice): the amount stands alone.
    controller.related.clear()
    form._refresh_amounts()
    assert not amount.text().endswith(code) and amount.text()


def test_object_names_for_tests_and_assistive_technology(start_app: Start, sandbox: Sandbox) -> None:
    from PySide6.QtWidgets import QWidget

    window, _controller = start_app(payment_url(sandbox))
    for name in ("statusBar", "rawValuesButton", "copyRecordButton", "fieldsTab", "rawJsonTab", "historyTab",
                 "historyList", "historyDiff", "watchInterval"):
        assert window.findChild(QWidget, name) is not None, name


def test_server_text_is_shown_as_written_never_as_html(start_app: Start, qloop: qasync.QEventLoop,
                                                       sandbox: Sandbox) -> None:
    """A document number or description with markup in it is shown literally in the title, the "was:" line and the
    status lines (Qt's automatic format would render it: bold, images, links)."""
    markup = "<b>G9</b><img src='x'>"
    window, controller = start_app()
    demo = sandbox.store().demo
    sandbox.store().patch_payment(demo.payment_id, {"documentNumber": markup, "description": "<i>before</i>"})
    controller.open_url(payment_url(sandbox, demo.payment_id))
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    sandbox.store().patch_payment(demo.payment_id, {"description": "<h1>after</h1>"})
    window.refresh_action.trigger()
    qloop.run_until_complete(until(lambda: bool(controller.payment.changes())))
    title = window.payment.title
    was = window.payment.form.findChild(QLabel, "was:description")
    assert was is not None and was.isVisibleTo(window)
    assert markup in title.text() and "<i>before</i>" in was.text()
    for label in (title, was, window.payment.facts, window.payment.summary, window.payment.banner_text):
        assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName()
    qloop.run_until_complete(controller.related.wait())
