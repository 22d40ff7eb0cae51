"""The payment form against the sandbox: every field per API version, locales, copying, related panels, states."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
import qasync
from PySide6.QtCore import QLocale, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from tests.conftest import until
from ui.payment_panel import PaymentPanel
from viewer import jsondata
from viewer.client import BcClient
from viewer.loading import Loaded, PaymentService
from viewer.models.payment import LoadState, PaymentModel
from viewer.related import Related, related_urls
from viewer.sandbox import Sandbox
from viewer.tasks import TaskSlot


class Harness:
    """A payment panel bound to a real PaymentModel + Related on a real client (token minted by the sandbox)."""

    def __init__(self, sandbox: Sandbox, qloop: qasync.QEventLoop, locale: QLocale | None = None) -> None:
        assert sandbox.identity is not None
        self.sandbox = sandbox
        self.qloop = qloop
        self.token = sandbox.identity.issue_access_token()
        self.client = BcClient(self, verify=sandbox.ssl_context())
        self.service = PaymentService(self.client)
        self.slot = TaskSlot("payment")
        self.model = PaymentModel(self.service, locale=locale or QLocale("en_US"))
        self.related = Related(self.service, locale=locale or QLocale("en_US"))
        self.model.loaded.connect(lambda r: self.related.follow(r, refresh=True))
        # Every model the form binds to stays a well-behaved Qt model through loads, marks and failures.
        self.testers = [QAbstractItemModelTester(m, QAbstractItemModelTester.FailureReportingMode.Fatal)
                        for m in (self.model, *self.related.models.values())]
        self.panel = PaymentPanel()
        self.panel.bind(self.model, self.related)
        self.panel.resize(700, 900)
        self.panel.show()

    async def authorization(self, *, refresh: bool = False) -> str:
        return f"Bearer {self.token}"

    def url(self, payment_id: str | None = None, version: str = "v2.0", nested: bool = True) -> str:
        assert self.sandbox.info is not None
        demo = self.sandbox.store().demo
        journal = f"/customerPaymentJournals({demo.journal_id})" if nested else ""
        return (f"{self.sandbox.info.api_root}/{version}/companies({demo.company_id}){journal}"
                f"/customerPayments({payment_id or demo.payment_id})")

    def load(self, url: str) -> None:
        self.model.load_in(self.slot, url)
        self.wait(lambda: self.model.state in (LoadState.READY, LoadState.FAILED, LoadState.GONE))
        self.wait(lambda: all(m.state != LoadState.LOADING for m in self.related.models.values()))

    def refresh(self) -> None:
        assert self.model.refresh_in(self.slot) is not None

    def wait(self, predicate: object, timeout: float = 10) -> None:
        self.qloop.run_until_complete(until(predicate, timeout=timeout))  # type: ignore[arg-type]

    def edit(self, name: str) -> QLineEdit:
        edit = self.panel.form.field_edit(name)
        assert edit is not None, name
        return edit

    def close(self) -> None:
        self.slot.cancel()
        self.related.clear()
        self.qloop.run_until_complete(self.slot.wait())
        self.qloop.run_until_complete(self.client.aclose())
        self.panel.close()
        self.panel.deleteLater()


@pytest.fixture
def harness(sandbox: Sandbox, qloop: qasync.QEventLoop, qapp: QApplication) -> Iterator[Harness]:
    h = Harness(sandbox, qloop)
    yield h
    h.close()


T = TypeVar("T")


def _deliver_noting_first_paint(harness: Harness, loaded: Loaded, edit: QLineEdit, note: Callable[[], T]) -> T | None:
    """Apply ``loaded`` to the harness's model with no event pass in between (as the payment slot does), and return
    what ``note()`` gave when ``edit`` was first painted (None if it was not)."""
    from PySide6.QtCore import QEvent, QObject

    noted: list[T] = []

    class Spy(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and not noted:
                noted.append(note())
            return False

    spy = Spy()
    edit.installEventFilter(spy)
    try:
        harness.model.begin(loaded.record.url)
        harness.model.deliver(loaded.record.url, loaded)
    finally:
        edit.removeEventFilter(spy)
    return noted[0] if noted else None


def clipboard_text() -> str:
    return QGuiApplication.clipboard().text()


@pytest.mark.parametrize("version", ["v2.0", "v1.0", "beta"])
def test_every_field_of_each_version_renders(harness: Harness, version: str) -> None:
    harness.load(harness.url(version=version))
    record = harness.model.record
    assert record is not None
    assert harness.panel.form.objectName() == "paymentForm"
    for name in record.values:
        edit = harness.edit(name)
        assert edit.property("changed") is False and edit.property("previousValue") == ""
        assert edit.accessibleName().startswith(harness.model.index(harness.model.field_row(name), 0).data())
    names = set(record.values)
    if version == "v2.0":
        assert "journalId" in names and "contactId" not in names
    else:
        assert "contactId" in names and "journalId" not in names
    assert harness.panel.form.field_edit("@odata.etag") is not None  # the ETag row under System


@pytest.mark.parametrize(
    "locale,amount,date",
    [("en_US", "-1,622.52", "2/9/2025"), ("de_DE", "-1.622,52", "09.02.2025"), ("ja_JP", "-1,622.52", "2025/02/09")],
)
def test_values_follow_the_locale(sandbox: Sandbox, qloop: qasync.QEventLoop, qapp: QApplication, locale: str,
                                  amount: str, date: str) -> None:
    h = Harness(sandbox, qloop, QLocale(locale))
    try:
        h.load(h.url())
        assert h.edit("amount").text() == f"{amount} USD"  # the applied invoice's currency
        assert h.edit("postingDate").text() == date
        assert h.edit("amount").accessibleName() == f"Amount: {amount} USD"
        h.panel.form.raw_action.trigger()  # Ctrl+Shift+R: raw values for the whole form
        assert h.edit("amount").text() == "-1622.52" and h.edit("postingDate").text() == "2025-02-09"
        h.panel.form.raw_action.trigger()
        assert h.edit("amount").text() == f"{amount} USD"  # the applied invoice's currency
    finally:
        h.close()


def test_blanks_show_a_quiet_hint(harness: Harness, sandbox: Sandbox) -> None:
    harness.load(harness.url(sandbox.store().demo.blank_payment_id))
    edit = harness.edit("externalDocumentNumber")
    assert edit.text() == "" and edit.placeholderText() == "(blank)"
    assert edit.accessibleName().endswith(": blank")
    assert harness.edit("postingDate").text() == ""  # never "1/1/0001"


def test_field_copy_modes_and_confirmation(harness: Harness, qtbot: QtBot) -> None:
    harness.load(harness.url())
    amount = harness.edit("amount")
    amount.setFocus()
    qtbot.keyClick(amount, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard_text() == "-1,622.52"
    assert "Amount" in harness.panel.copied_label.text() and amount.hasFocus()
    form = harness.panel.form
    form._copy_payment_field("amount", "raw")
    assert clipboard_text() == "-1622.52"
    form._copy_payment_field("description", "pair")
    assert json.loads("{" + clipboard_text() + "}") == {"description": "Payment Zoë's Bakery & Café"}


def test_record_copies_and_their_mime_types(harness: Harness) -> None:
    harness.load(harness.url())
    record = harness.model.record
    assert record is not None
    form = harness.panel.form
    form.copy_record("json")
    assert jsondata.loads(clipboard_text()) == record.values  # exact: the Decimals the model holds
    form.copy_record("lines")
    assert "Document No.: G02001" in clipboard_text().splitlines()
    form.copy_record("table")
    mime = QGuiApplication.clipboard().mimeData()
    assert mime.hasHtml() and "<table" in mime.html() and "Posting Date" in mime.html()
    assert "\t" in mime.text()
    form.copy_record("url")
    assert clipboard_text() == harness.model.url
    form.copy_record("curl")
    assert "$TOKEN" in clipboard_text() and harness.token not in clipboard_text()
    form.copy_record("powershell")
    assert clipboard_text().startswith("Invoke-RestMethod") and harness.token not in clipboard_text()
    harness.panel.copy_facts.click()
    facts = clipboard_text()
    assert "Status: HTTP 200" in facts and "Request id: " in facts and "Correlation id: " in facts
    assert harness.token not in clipboard_text()


def test_related_panels_load_and_fail_alone(harness: Harness, sandbox: Sandbox) -> None:
    sandbox.add_fault("status", r"/customers\(", status=500, count=10)
    harness.load(harness.url())
    assert harness.model.state == LoadState.READY
    assert harness.related.customer.state == LoadState.FAILED
    assert harness.related.invoice.state == LoadState.READY and harness.related.journal.state == LoadState.READY
    status = harness.panel.form.related_status["customer"]
    assert status.isVisible() and "Could not load" in status.text() and "correlation id" in status.text()
    invoice = harness.panel.form.related_sections["invoice"]
    assert invoice.edits["number"].text() and invoice.edits["status"].text() in ("Open", "Paid")
    assert harness.panel.form.related_sections["journal"].edits["code"].text()
    harness.panel.form.copy_related("invoice")
    assert "No.:" in clipboard_text()


def test_related_urls_follow_the_payment_and_skip_blank_ids(sandbox: Sandbox) -> None:
    assert sandbox.info is not None
    demo = sandbox.store().demo
    url = (f"{sandbox.info.api_root}/beta/companies({demo.company_id})/customerPaymentJournals({demo.journal_id})"
           f"/customerPayments({demo.payment_id})")
    urls = related_urls(url, {"customerId": demo.customer_id, "appliesToInvoiceId": "00000000-0000-0000-0000-"
                              "000000000000"})
    root = sandbox.info.api_root
    assert urls["customer"] == f"{root}/beta/companies({demo.company_id})/customers({demo.customer_id})"
    assert urls["invoice"] is None
    assert urls["journal"] is not None and urls["journal"].endswith(f"customerPaymentJournals({demo.journal_id})")


def test_states_loading_error_gone_and_signed_out(harness: Harness, sandbox: Sandbox) -> None:
    panel = harness.panel
    assert panel.hint.isVisible() and not panel.form.isVisible()  # empty
    sandbox.add_fault("latency", "customerPayments", latency_ms=800, count=1)
    harness.model.load_in(harness.slot, harness.url())
    harness.wait(lambda: panel.form.field_edit("amount") is not None)
    assert harness.model.state == LoadState.LOADING
    assert panel.form.field_edit("amount").placeholderText() == "Loading…"  # type: ignore[union-attr]
    harness.wait(lambda: harness.model.state == LoadState.READY)

    sandbox.add_fault("status", "customerPayments", status=503, count=20)
    harness.refresh()
    harness.wait(lambda: harness.model.state == LoadState.FAILED, timeout=30)
    assert panel.banner.isVisible() and "stale" in panel.banner_text.text()
    assert "Internal_ServiceUnavailable" in panel.banner_text.text() and "orrelation" in panel.banner_text.text()
    assert harness.edit("amount").text() == "-1,622.52 USD"  # the last good data stays
    sandbox.faults.clear()

    demo = sandbox.store().demo
    sandbox.store().post_journal(demo.company_id, demo.journal_id)
    harness.refresh()
    harness.wait(lambda: harness.model.state == LoadState.GONE)
    assert "posted or deleted" in panel.banner_text.text() and harness.edit("amount").text()



def test_signed_out_keeps_the_data_with_a_note(harness: Harness) -> None:
    harness.load(harness.url())
    harness.panel.set_signed_in(False)
    assert "Signed out" in harness.panel.banner_text.text() and harness.panel.banner.isVisible()
    assert harness.edit("amount").text() == "-1,622.52 USD"
    harness.panel.set_signed_in(True)
    assert not harness.panel.banner.isVisible()


def test_keyboard_only_walk_through_the_form(harness: Harness, qtbot: QtBot) -> None:
    harness.load(harness.url())
    panel = harness.panel
    panel.focus_first_field()
    seen: list[str] = []
    for _ in range(len(panel.form.value_edits()) + 5):
        widget = QApplication.focusWidget()
        if widget is not None and widget.objectName().startswith("field:"):
            seen.append(widget.objectName())
        qtbot.keyClick(QApplication.focusWidget() or panel, Qt.Key.Key_Tab)
    expected = [e.objectName() for e in panel.form.value_edits()]
    assert seen[: len(expected)] == expected  # every value in reading order, no copy buttons in between


def test_refresh_updates_values_in_place_with_only_the_changed_roles(harness: Harness, sandbox: Sandbox) -> None:
    from viewer.models.payment import BlankRole, ValueRole

    harness.load(harness.url())
    form = harness.panel.form
    form.tabs.setCurrentWidget(form.json_page)  # the Raw JSON tab follows the refresh while it is showing
    edit = harness.edit("description")
    seen: list[tuple[int, list[int]]] = []
    harness.model.dataChanged.connect(lambda top, _bottom, roles: seen.append((top.row(), list(roles))))
    demo = sandbox.store().demo
    sandbox.store().patch_payment(demo.payment_id, {"description": "Changed while you watched"})
    harness.refresh()
    harness.wait(lambda: edit.text() == "Changed while you watched")
    assert harness.edit("description") is edit  # updated in place, not rebuilt
    assert '"description": "Changed while you watched"' in harness.panel.form.json_view.toPlainText()
    row = harness.model.field_row("description")
    roles = dict(seen)[row]
    assert Qt.ItemDataRole.DisplayRole in roles and ValueRole in roles and BlankRole not in roles
    assert all(r != harness.model.field_row("amount") for r, _ in seen)


def test_a_load_paints_its_values_first_and_is_spoken_before_the_loop_runs_again(harness: Harness,
                                                                                 sandbox: Sandbox) -> None:
    """The tooltips and accessible texts of a load wait for its paint (ui/payment_form.py, _show_value), but are
    current by the time the load's delivery returns: no event pass is needed, nobody can query the old ones."""
    demo = sandbox.store().demo
    harness.load(harness.url())
    other = next(p for p in sandbox.store().journal_payments(demo.journal_id)
                 if p["id"] != demo.payment_id and p["documentNumber"])
    loaded = harness.qloop.run_until_complete(harness.service.load(harness.url(other["id"])))
    edit = harness.edit("documentNumber")
    before = edit.accessibleName()
    at_paint = _deliver_noting_first_paint(harness, loaded, edit, lambda: (edit.text(), edit.accessibleName()))
    assert at_paint == (other["documentNumber"], before)  # painted first, still the old name
    assert edit.accessibleName() == f"Document No.: {other['documentNumber']}"
    assert edit.toolTip() == other["documentNumber"] and edit.accessibleDescription() == other["documentNumber"]
    amount = harness.edit("amount")
    assert amount.accessibleName().startswith("Amount: ") and amount.toolTip() == str(loaded.record.values["amount"])


def test_a_new_title_repaints_only_itself(harness: Harness, sandbox: Sandbox) -> None:
    """The title is opaque (ui/payment_panel.py): a payment's new title does not repaint the panel under it, which
    every click used to do before painting the payment's values."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QWidget

    harness.load(harness.url())
    harness.wait(lambda: True)
    QApplication.processEvents()  # pending paints done
    painted: list[QWidget] = []

    class Paints(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and isinstance(watched, QWidget):
                painted.append(watched)
            return False

    paints = Paints()
    panel, title = harness.panel, harness.panel.title
    for widget in (panel, title):
        widget.installEventFilter(paints)
    try:
        title.setText("Payment G99999 · line 10000")
        title.repaint()
    finally:
        for widget in (panel, title):
            widget.removeEventFilter(paints)
    assert painted == [title]


def test_a_load_tells_the_form_its_changed_rows_once(harness: Harness, sandbox: Sandbox) -> None:
    """One ``rowsChanged`` per load, naming every changed row, after their dataChanged signals (which other views
    use): the form updates a dozen rows in one call rather than in one slot call per row."""
    demo = sandbox.store().demo
    harness.load(harness.url())
    other = next(p for p in sandbox.store().journal_payments(demo.journal_id)
                 if p["id"] != demo.payment_id and p["documentNumber"])
    per_row: list[int] = []
    once: list[list[int]] = []
    harness.model.dataChanged.connect(lambda top, _bottom, _roles: per_row.append(top.row()))
    harness.model.rowsChanged.connect(once.append)
    harness.load(harness.url(str(other["id"])))
    assert len(once) == 1 and once[0] == per_row and len(per_row) > 3
    assert harness.edit("documentNumber").text() == other["documentNumber"]
    harness.model.clear_changes()  # no marks: nothing changes, nothing is said
    assert len(once) == 1


def test_a_loads_values_are_painted_before_the_rest_of_the_window_hears_it_ended(harness: Harness,
                                                                               sandbox: Sandbox) -> None:
    """The form paints a load's values in its own READY handler, the first one bound (ui/payment_form.py): the
    handlers bound after it (the panel's title, the checks, the change tracking) run after that paint."""
    from PySide6.QtCore import QEvent, QObject

    from viewer.models.payment import LoadState

    demo = sandbox.store().demo
    harness.load(harness.url())
    other = next(p for p in sandbox.store().journal_payments(demo.journal_id)
                 if p["id"] != demo.payment_id and p["documentNumber"])
    edit = harness.edit("documentNumber")
    painted: list[str] = []
    when_ready: list[list[str]] = []

    class Paints(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                painted.append(edit.text())
            return False

    paints = Paints()
    edit.installEventFilter(paints)
    harness.model.stateChanged.connect(
        lambda state: when_ready.append(list(painted)) if state == LoadState.READY else None)
    try:
        harness.load(harness.url(str(other["id"])))
    finally:
        edit.removeEventFilter(paints)
    assert when_ready and other["documentNumber"] in when_ready[0]
    assert harness.panel.title.text().startswith(f"Payment {other['documentNumber']}")


def test_a_changed_values_colours_follow_a_new_theme(harness: Harness, sandbox: Sandbox) -> None:
    """A changed value's background is blended from the palette; the form remembers what each value shows
    (``FieldEdit.shown``) to skip setters, and a new palette makes it show every value again."""
    from PySide6.QtGui import QColor, QPalette

    demo = sandbox.store().demo
    harness.load(harness.url())
    sandbox.store().patch_payment(demo.payment_id, {"description": "Changed while you watched"})
    harness.refresh()
    edit = harness.edit("description")
    harness.wait(lambda: edit.property("changed") is True)
    before = edit.palette().color(QPalette.ColorRole.Base)
    palette = QPalette(harness.panel.form.palette())
    palette.setColor(QPalette.ColorRole.Base, QColor("#202020"))
    palette.setColor(QPalette.ColorRole.Highlight, QColor("#00a000"))
    harness.panel.form.setPalette(palette)
    after = edit.palette().color(QPalette.ColorRole.Base)
    assert after != before and after.green() > after.red()  # blended from the new base and highlight
    assert edit.text() == "Changed while you watched" and edit.property("changed") is True



def test_values_out_of_sight_are_formatted_and_set_right_after_the_paint(harness: Harness, sandbox: Sandbox,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A load formats and sets the values on screen, paints them, and only then the ones scrolled out of sight
    (ui/payment_form.py, _on_screen; the model builds a row's view when first asked, viewer/models/payment.py).
    By the time the load's delivery returns, every value is the new one."""
    import shiboken6

    import viewer.models.payment as payment_model
    from viewer.fields import FieldView
    from viewer.schema import FieldSpec

    demo = sandbox.store().demo
    harness.panel.resize(700, 420)
    harness.load(harness.url())
    QApplication.processEvents()  # laid out at the new size
    others = [p for p in sandbox.store().journal_payments(demo.journal_id)
              if p["id"] != demo.payment_id and p["documentNumber"]]
    loaded = harness.qloop.run_until_complete(harness.service.load(harness.url(others[0]["id"])))
    form = harness.panel.form
    page = form.page
    assert page is not None
    viewport = form.fields_scroll.viewport()
    bottom = viewport.mapTo(form.fields_page, viewport.rect().bottomLeft()).y() - page.y()
    out_of_sight = next(name for name, (top, _end) in page.spans().items() if top > bottom
                        and name in loaded.record.values and name != "@odata.etag"
                        and harness.edit(name).text() != str(loaded.record.values[name]).lower())
    # The app's case: no view listens to the payment model's dataChanged (a listener is told every changed role, for
    # which every view is built at once; viewer/models/payment.py).
    shiboken6.delete(harness.testers[0])
    far, near = harness.edit(out_of_sight), harness.edit("documentNumber")
    before = far.text()
    formatted: list[str] = []
    build = payment_model.field_view

    def counted(spec: FieldSpec, raw: object, locale: QLocale) -> FieldView:
        formatted.append(spec.name)
        return build(spec, raw, locale)

    monkeypatch.setattr(payment_model, "field_view", counted)
    at_paint = _deliver_noting_first_paint(harness, loaded, near, lambda: (near.text(), far.text(), list(formatted)))
    assert at_paint is not None and at_paint[:2] == (others[0]["documentNumber"], before)
    assert "documentNumber" in at_paint[2] and out_of_sight not in at_paint[2]
    assert far.text() != before and out_of_sight in formatted
    assert far.text() == harness.model.field(out_of_sight).display  # type: ignore[union-attr]

    # With the Raw JSON tab showing, nothing of the fields is painted: all of them are set after, all the same.
    form.tabs.setCurrentWidget(form.json_page)
    harness.load(harness.url(others[1]["id"]))
    form.tabs.setCurrentIndex(0)
    assert near.text() == others[1]["documentNumber"]
    assert all(edit.text() == (harness.model.field(name).display or "")  # type: ignore[union-attr]
               for name, edit in page.edits.items() if harness.model.field(name) is not None
               and name not in ("amount",))  # (the amount has its currency appended)


def test_a_load_that_answers_within_a_frame_is_never_said_to_be_loading(harness: Harness, sandbox: Sandbox) -> None:
    """With a payment on screen, the views hear LOADING only once a load has run for a frame
    (viewer/models/payment.py ``LOADING_SAID_AFTER_MS``): a quick load goes straight to READY, and its views do no
    work for a state nobody would see while the server is answering."""
    from viewer.models.payment import LOADING_SAID_AFTER_MS, LoadState

    demo = sandbox.store().demo
    harness.load(harness.url())
    others = [p for p in sandbox.store().journal_payments(demo.journal_id) if p["id"] != demo.payment_id]
    said: list[LoadState] = []
    harness.model.stateChanged.connect(said.append)
    quick = harness.qloop.run_until_complete(harness.service.load(harness.url(others[0]["id"])))
    harness.model.begin(quick.record.url)
    assert harness.model.state == LoadState.LOADING  # at once, for anyone who asks
    harness.qloop.run_until_complete(asyncio.sleep(0))  # Qt's next pass: still unsaid
    harness.model.deliver(quick.record.url, quick)
    assert said == [LoadState.READY]

    slow = harness.qloop.run_until_complete(harness.service.load(harness.url(others[1]["id"])))
    harness.model.begin(slow.record.url)
    harness.qloop.run_until_complete(asyncio.sleep(LOADING_SAID_AFTER_MS / 1000 * 4))
    assert said == [LoadState.READY, LoadState.LOADING]
    assert harness.panel.title.text().startswith(f"Payment {quick.record.values['documentNumber']}")  # still shown
    harness.model.deliver(slow.record.url, slow)
    assert said == [LoadState.READY, LoadState.LOADING, LoadState.READY]
