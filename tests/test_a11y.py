"""Accessibility through Qt's accessibility API (what Orca, Narrator and VoiceOver get): keyboard paths, names,
label relations, status texts and their events, mnemonics; and WCAG contrast of the palettes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit, QPushButton, QTableView, QToolButton, QWidget
from pytestqt.qtbot import QtBot

from tests import a11y
from tests.conftest import Start, payment_url, until
from ui import theme
from ui.controller import AppController
from ui.main_window import MainWindow
from ui.open_dialog import OpenDialog
from ui.payment_form import _blend
from ui.profile_dialog import ProfileDialog
from viewer.models.payment import LoadState
from viewer.profiles import CloudUserProfile, OnPremProfile
from viewer.sandbox import Sandbox
from viewer.settings import Settings

Role = QPalette.ColorRole
Group = QPalette.ColorGroup


@pytest.fixture
def log() -> Iterator[a11y.EventLog]:
    recorder = a11y.EventLog()
    yield recorder
    recorder.close()


# ---- contrast -----------------------------------------------------------------------------------------------

# (foreground, background) pairs the app draws text with: window and form text, table rows (plain, alternate,
# selected), buttons, the quiet "(blank)" and status hints, tooltips and the stale/gone banner, links.
TEXT_PAIRS = [
    (Role.WindowText, Role.Window), (Role.Text, Role.Base), (Role.Text, Role.AlternateBase),
    (Role.ButtonText, Role.Button), (Role.HighlightedText, Role.Highlight),
    (Role.PlaceholderText, Role.Base), (Role.PlaceholderText, Role.Window), (Role.PlaceholderText, Role.AlternateBase),
    (Role.ToolTipText, Role.ToolTipBase), (Role.Link, Role.Base), (Role.Link, Role.Window),
    (Role.LinkVisited, Role.Base), (Role.BrightText, Role.Base),
]
# Disabled text is exempt in WCAG, but a greyed-out control should still say what it is.
DISABLED_PAIRS = [(Role.WindowText, Role.Window), (Role.Text, Role.Base), (Role.ButtonText, Role.Button)]
# UI boundaries (3:1): the focus indicator and a selected row's band, drawn in the highlight colour.
BOUNDARY_PAIRS = [(Role.Highlight, Role.Base), (Role.Highlight, Role.Window), (Role.Highlight, Role.AlternateBase)]


@pytest.mark.parametrize("high_contrast", [False, True], ids=["normal", "high-contrast"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_palettes_reach_wcag_aa(qapp: QApplication, scheme: str, high_contrast: bool) -> None:
    palette = theme.palette(scheme, high_contrast=high_contrast)
    text_minimum = 7.0 if high_contrast else 4.5  # high contrast: AAA
    failures = []
    for group in (Group.Active, Group.Inactive):  # a selected row keeps its contrast when the list loses focus
        for fg, bg, minimum in [*((f, b, text_minimum) for f, b in TEXT_PAIRS),
                                *((f, b, 3.0) for f, b in BOUNDARY_PAIRS)]:
            ratio = a11y.contrast(palette.color(group, fg), palette.color(group, bg))
            if ratio < minimum:
                failures.append(f"{group.name} {fg.name} on {bg.name}: {ratio:.2f}:1 < {minimum}")
    # A changed field's tint (ui/payment_form.py: the base blended towards the highlight) under its text.
    for amount in (0.12, 0.22):
        tint = _blend(palette.color(Role.Base), palette.color(Role.Highlight), amount)
        if (ratio := a11y.contrast(palette.color(Role.Text), tint)) < text_minimum:
            failures.append(f"Text on the change tint {amount}: {ratio:.2f}:1")
    for fg, bg in DISABLED_PAIRS:
        ratio = a11y.contrast(palette.color(Group.Disabled, fg), palette.color(Group.Disabled, bg))
        if ratio < 4.5:
            failures.append(f"disabled {fg.name} on {bg.name}: {ratio:.2f}:1")
    assert failures == []


def test_contrast_formula_matches_wcag_examples() -> None:
    from PySide6.QtGui import QColor

    assert a11y.contrast(QColor("#000000"), QColor("#ffffff")) == pytest.approx(21.0)
    assert a11y.contrast(QColor("#777777"), QColor("#ffffff")) == pytest.approx(4.48, abs=0.01)
    # The measurements of the old colours, reproduced: Fusion's selected row, the old dark disabled text.
    assert a11y.contrast(QColor("#ffffff"), QColor("#308cc6")) == pytest.approx(3.69, abs=0.01)
    assert a11y.contrast(QColor("#80868b"), QColor("#202124")) == pytest.approx(4.37, abs=0.01)


def test_forced_scheme_follows_the_high_contrast_setting(qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> None:
    before = qapp.palette()
    try:
        monkeypatch.setattr(theme, "high_contrast_preferred", lambda: True)
        theme.apply(qapp, "dark")
        assert qapp.palette().color(Role.Window) == theme.palette("dark", high_contrast=True).color(Role.Window)
        monkeypatch.setattr(theme, "high_contrast_preferred", lambda: False)
        theme.apply(qapp, "light")
        assert qapp.palette().color(Role.Highlight) == theme.palette("light").color(Role.Highlight)
        # No scheme asked and no desktop palette (Qt's own Fusion colours, as on Xvfb): ours replace them.
        qapp.setPalette(qapp.style().standardPalette())
        theme.apply(qapp, "")
        assert qapp.palette().color(Role.Highlight) != qapp.style().standardPalette().color(Role.Highlight)
        assert a11y.contrast(qapp.palette().color(Role.HighlightedText), qapp.palette().color(Role.Highlight)) >= 4.5
    finally:
        qapp.setPalette(before)


# ---- keyboard ----------------------------------------------------------------------------------------------


def test_tab_leaves_the_payments_table_and_arrows_move_inside(start_app: Start) -> None:
    window, _ = start_app()
    view = window.navigator.view
    view.setFocus()
    view.setCurrentIndex(view.model().index(0, 0))
    QTest.keyClick(view, Qt.Key.Key_Right)
    QTest.keyClick(view, Qt.Key.Key_Down)
    assert window.focusWidget() is view and (view.currentIndex().row(), view.currentIndex().column()) == (1, 1)

    forward = a11y.tab_walk(window, view)
    assert len(forward) > 5, a11y.spoken(forward)  # it went on to the payment panel's controls
    assert sum(isinstance(w, QTableView) for w in forward) == 1  # the table is one stop, never its cells
    backward = a11y.tab_walk(window, view, backwards=True)
    assert backward[1] is window.navigator.search_edit
    for key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
        view.setFocus()
        QTest.keyClick(view, key)
        assert window.focusWidget() is not view


def test_mnemonics_are_unique_per_window(start_app: Start, qtbot: QtBot) -> None:
    window, controller = start_app()
    assert a11y.clashes(window) == {}
    controller.window.navigator.select_first_payment()
    assert a11y.clashes(window) == {}
    assert a11y.mnemonics(window)["Alt+J"] == ["Journal"]

    dialog = ProfileDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.show()
    for kind in range(dialog.kind.count()):
        dialog.kind.setCurrentIndex(kind)
        assert a11y.clashes(dialog) == {}, dialog.kind.currentText()


# ---- names, relations, status texts -------------------------------------------------------------------------


def test_every_combo_box_and_input_says_what_it_is_for(start_app: Start) -> None:
    window, _ = start_app()
    nav = window.navigator
    assert a11y.labelled_by(nav.search_field) == ["Search in:"]
    assert a11y.labelled_by(nav.journal_combo) == ["Journal:"]
    assert a11y.labelled_by(window.sign_in.profile_combo) == ["Profile:"]
    assert a11y.role(nav.search_field) == a11y.Role.ComboBox
    for widget in [*window.findChildren(QComboBox), *window.findChildren(QLineEdit)]:
        if widget.isVisibleTo(window) and not isinstance(widget.parent(), QComboBox):
            assert a11y.name(widget) or a11y.labelled_by(widget), widget.objectName()
    assert a11y.unnamed_interactive(window) == []


def test_open_dialog_reads_and_announces_its_validation(qtbot: QtBot, log: a11y.EventLog) -> None:
    def validate(text: str) -> str:
        if text.startswith("https://"):
            return "a payment on this server"
        raise ValueError(f"'{text}' is neither a URL nor a GUID")

    dialog = OpenDialog(validate)
    qtbot.addWidget(dialog)
    dialog.show()
    assert a11y.labelled_by(dialog.edit) == ["Paste a payment's API URL, a Business Central link, or GUIDs:"]
    dialog.set_text("notaurl")
    shown = dialog.message.text()
    assert shown == "✗ 'notaurl' is neither a URL nor a GUID"
    assert a11y.name(dialog.message) == shown and a11y.description(dialog.message) == "Validation"
    assert log.texts("name", dialog.message) == [shown] and log.announcements() == [shown]
    dialog.set_text("https://example")
    assert a11y.name(dialog.message) == "✓ a payment on this server"
    assert log.announcements() == [shown]  # a valid text is read on request, not spoken unasked
    assert a11y.unnamed_interactive(dialog) == []


def test_status_texts_are_readable_with_change_events(start_app: Start, log: a11y.EventLog) -> None:
    window, _ = start_app()
    account = window.sign_in.account_label
    assert "Alex Wilber" in a11y.name(account) and "<b>" not in a11y.name(account)
    assert a11y.description(account) == "Signed-in account"
    window.facts_label.setText("HTTP 200 · 12 ms")
    assert a11y.name(window.facts_label) == "HTTP 200 · 12 ms"
    assert log.texts("name", window.facts_label)[-1] == "HTTP 200 · 12 ms"
    count = window.navigator.count_label
    assert a11y.name(count) == count.text() and count.text().endswith(" payments")


def test_profile_dialog_has_no_unnamed_control_and_speaks_its_problems(qtbot: QtBot, log: a11y.EventLog,
                                                                   qloop: qasync.QEventLoop) -> None:
    dialog = ProfileDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.show()
    for profile in (CloudUserProfile(name="x", tenant="t", environment="e", client_id="c"),
                    OnPremProfile(name="y", base_url="https://h/BC", user="u")):
        dialog.kind.setCurrentIndex(dialog.kind.findData(type(profile)))
        assert a11y.unnamed_interactive(dialog) == [], profile
    dialog.name.clear()
    qloop.run_until_complete(dialog.save_async())
    assert log.announcements() and log.announcements()[-1] == dialog.message.text() == a11y.name(dialog.message)


# ---- the payment: Tab order, names, status texts, announcements, focus --------------------------------------


def _open_demo(start: Start, qloop: qasync.QEventLoop, sandbox: Sandbox) -> tuple[MainWindow, AppController]:
    window, controller = start(payment_url(sandbox))

    def settled() -> bool:
        return controller.payment.state == LoadState.READY and all(
            m.state != LoadState.LOADING for m in controller.related.models.values())

    qloop.run_until_complete(until(settled))
    return window, controller


def _expected_path(window: MainWindow) -> list[QWidget]:
    """The visual order, top to bottom, of what is on screen in the payment panel."""
    panel, form = window.payment, window.payment.form
    path: list[QWidget] = [w for w in (panel.retry_button, panel.ack_button, panel.watch_button,
                                       panel.watch_interval) if w.isVisibleTo(window)]
    path += [w for w in panel.checks_strip.focus_chain() if w.isVisibleTo(window)]  # the Checks strip, above the form
    path += [form.raw_button, form.copy_button, form.tabs.tabBar(), *form.value_edits()]
    for section in form.related_sections.values():
        if section.isVisibleTo(window):
            path += [e for e in section.edits.values() if e.isVisibleTo(window)]
            path += [b for b in section.findChildren(QPushButton) if b.isVisibleTo(window)]
    return [*path, panel.copy_facts]


def test_tab_walks_the_window_in_visual_order(start_app: Start, qloop: qasync.QEventLoop,
                                              sandbox: Sandbox) -> None:
    window, _ = _open_demo(start_app, qloop, sandbox)
    walk = a11y.tab_walk(window, window.navigator.view)
    spoken = a11y.spoken(walk)
    expected = _expected_path(window)
    assert walk[1: len(expected) + 1] == expected, "\n".join(spoken)
    # Then round to the top: the sign-in bar, the navigator's combos and search, back to the list.
    after = walk[len(expected) + 1:]
    assert after[0] is window.sign_in.profile_combo and after[-1] is window.navigator.search_edit, spoken
    # What a screen reader says along the way (the head of the list, as a readable record of the order).
    assert spoken[:6] == [
        "Table: Payments", "CheckBox: Watch this payment for changes", "ComboBox: every 30 s",
        "Button: Copy checks", "Button: Copy the check Invoice open", "Button: Copy the check Invoice customer",
    ]
    after_checks = spoken.index("Button: Copy the check Other lines") + 1
    assert spoken[after_checks: after_checks + 4] == [
        "CheckBox: Show raw values", "ButtonMenu: Copy record", "PageTabList: Fields", "EditableText: Line No.: 10000",
    ]
    fields = [s.split(": ")[1] for s in spoken if s.startswith("EditableText: ")]
    assert fields.index("Amount") < fields.index("Customer No.") < fields.index("Customer's No.")
    assert fields.index("Customer's No.") < fields.index("Invoice's No.") < fields.index("Journal's Name")
    assert spoken.index("Button: Copy customer") < spoken.index("EditableText: Invoice's No.: 103060")
    assert spoken[len(expected)] == "Button: Copy facts"
    # Shift+Tab walks the same path backwards.
    back = a11y.tab_walk(window, window.payment.copy_facts, backwards=True)
    assert back[: len(expected)] == expected[::-1]


def test_names_match_labels_and_are_unique(start_app: Start, qloop: qasync.QEventLoop,
                                           sandbox: Sandbox) -> None:
    window, _ = _open_demo(start_app, qloop, sandbox)
    form = window.payment.form
    for tab in reversed(range(form.tabs.count())):  # History, Raw JSON, then Fields, which the rest looks at
        form.tabs.setCurrentIndex(tab)
        where = form.tabs.tabText(tab)
        assert a11y.unnamed_interactive(window) == [], where
        assert a11y.duplicate_names(window) == [], where
        assert a11y.label_not_in_name(window) == [], where
        assert a11y.clashes(window) == {}, where
    copies = {a11y.name(b) for b in window.findChildren(QToolButton) if b.objectName().startswith("copy:")}
    assert {"Copy customer's No.", "Copy invoice's No.", "Copy Customer No.", "Copy journal's Name"} <= copies
    assert a11y.name(form.copy_button) == "Copy record" and a11y.description(form.copy_button)
    assert a11y.labelled_by(window.payment.watch_interval) == ["Interval:"]
    customer = form.related_sections["customer"]
    assert a11y.name(customer.edits["number"]).startswith("Customer's No.: ")
    assert a11y.labelled_by(customer.edits["number"]) == ["No.:"]


def test_descriptions_are_words_and_send_change_events(start_app: Start, qloop: qasync.QEventLoop,
                                                       sandbox: Sandbox, log: a11y.EventLog) -> None:
    window, _ = _open_demo(start_app, qloop, sandbox)
    form = window.payment.form
    blocked = form.related_sections["customer"].edits["blocked"]
    assert blocked.text() and "_x0020_" not in blocked.text()
    for edit in [*form.value_edits(), *(e for s in form.related_sections.values() for e in s.edits.values())]:
        assert not re.search(r"_x[0-9A-Fa-f]{4}_", a11y.description(edit)), edit.objectName()
    amount = form.field_edit("amount")
    assert amount is not None and a11y.description(amount) == "-1622.52"  # a payment is negative (viewer/checks.py)

    demo = sandbox.store().demo
    sandbox.store().patch_payment(demo.payment_id, {"amount": 1700})
    window.refresh_action.trigger()
    qloop.run_until_complete(until(lambda: a11y.description(amount) == "1700"))
    assert log.texts("description", amount)[-1] == "1700"
    assert a11y.name(amount) == f"Amount: {amount.text()}, changed, was {amount.property('previousValue')}"
    assert "-1622.52" in a11y.name(amount).replace(",", "")
    summary = window.payment.summary
    assert a11y.name(summary) == summary.text() and summary.text() in log.announcements()


def test_copy_from_the_keyboard_is_confirmed_and_announced(start_app: Start, qloop: qasync.QEventLoop,
                                                           sandbox: Sandbox, log: a11y.EventLog) -> None:
    window, _ = _open_demo(start_app, qloop, sandbox)
    amount = window.payment.form.field_edit("amount")
    assert amount is not None
    amount.setFocus()
    for _ in range(2):  # the same copy twice is announced twice
        QTest.keyClick(amount, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    confirmation = window.payment.copied_label
    assert confirmation.text() == "✓ Copied Amount" == a11y.name(confirmation)
    assert a11y.description(confirmation) == "Copy confirmation"
    assert log.announcements().count("✓ Copied Amount") == 2
    assert window.focusWidget() is amount  # the focus stays where it was
    facts = window.payment.facts
    assert a11y.name(facts) == facts.text() and facts.text().startswith("Fetched ")


def test_gone_is_announced_and_every_state_has_named_controls(start_app: Start, qloop: qasync.QEventLoop,
                                                              sandbox: Sandbox, log: a11y.EventLog) -> None:
    window, controller = start_app()
    assert a11y.unnamed_interactive(window) == [] and a11y.duplicate_names(window) == []  # nothing open
    sandbox.add_fault("latency", "customerPayments", latency_ms=800, count=1)
    controller.open_url(payment_url(sandbox))
    qloop.run_until_complete(until(lambda: window.payment.form.field_edit("amount") is not None))
    assert controller.payment.state == LoadState.LOADING
    assert a11y.unnamed_interactive(window) == [] and a11y.duplicate_names(window) == []  # loading
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))

    sandbox.add_fault("status", "customerPayments", status=503, count=20)
    window.refresh_action.trigger()
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.FAILED, timeout=30))
    banner = window.payment.banner_text
    assert a11y.name(banner) == banner.text() and "stale" in banner.text()
    assert a11y.unnamed_interactive(window) == [] and a11y.duplicate_names(window) == []  # failed
    sandbox.faults.clear()

    demo = sandbox.store().demo
    sandbox.store().post_journal(demo.company_id, demo.journal_id)
    window.refresh_action.trigger()
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.GONE))
    assert banner.text() in log.announcements() and "posted or deleted" in banner.text()
    assert a11y.unnamed_interactive(window) == [] and a11y.duplicate_names(window) == []  # gone
    window.payment.set_signed_in(False)
    assert a11y.unnamed_interactive(window) == [] and a11y.duplicate_names(window) == []  # signed out


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_read_only_values_show_their_focus(start_app: Start, qloop: qasync.QEventLoop, sandbox: Sandbox,
                                           qapp: QApplication, scheme: str) -> None:
    before = qapp.palette()
    qapp.setPalette(theme.palette(scheme))
    try:
        window, _ = _open_demo(start_app, qloop, sandbox)
        window.activateWindow()
        assert QTest.qWaitForWindowActive(window)
        form = window.payment.form
        blank = next(e for e in form.value_edits() if e.placeholderText() == "(blank)")
        amount = form.field_edit("amount")
        assert amount is not None
        highlight = theme.palette(scheme).color(Role.Highlight)
        for focused, other in ((amount, blank), (blank, amount)):  # a "(blank)" field shows its focus too
            focused.setFocus()
            assert focused.hasFocus()
            edge = focused.grab().toImage().pixelColor(1, focused.height() // 2)
            assert edge == highlight, (scheme, focused.objectName(), edge.name())
            assert other.grab().toImage().pixelColor(1, other.height() // 2) != highlight
    finally:
        qapp.setPalette(before)
