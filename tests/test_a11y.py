"""Accessibility through Qt's accessibility API (what Orca, Narrator and VoiceOver get): keyboard paths, names,
label relations, status texts and their events, mnemonics; and WCAG contrast of the palettes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit, QTableView
from pytestqt.qtbot import QtBot

from tests import a11y
from tests.test_ui_app import Start, start_app  # noqa: F401 - a fixture
from ui import theme
from ui.open_dialog import OpenDialog
from ui.profile_dialog import ProfileDialog
from viewer.profiles import CloudUserProfile, OnPremProfile
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


def test_tab_leaves_the_payments_table_and_arrows_move_inside(start_app: Start) -> None:  # noqa: F811
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


def test_mnemonics_are_unique_per_window(start_app: Start, qtbot: QtBot) -> None:  # noqa: F811
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


def test_every_combo_box_and_input_says_what_it_is_for(start_app: Start) -> None:  # noqa: F811
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


def test_status_texts_are_readable_with_change_events(start_app: Start, log: a11y.EventLog) -> None:  # noqa: F811
    window, _ = start_app()
    account = window.sign_in.account_label
    assert "Alex Wilber" in a11y.name(account) and "<b>" not in a11y.name(account)
    assert a11y.description(account) == "Signed-in account"
    window.facts_label.setText("HTTP 200 · 12 ms")
    assert a11y.name(window.facts_label) == "HTTP 200 · 12 ms"
    assert log.texts("name", window.facts_label)[-1] == "HTTP 200 · 12 ms"
    count = window.navigator.count_label
    assert a11y.name(count) == count.text() and count.text().endswith(" payments")


def test_profile_dialog_has_no_unnamed_control_and_speaks_its_problems(qtbot: QtBot, log: a11y.EventLog) -> None:
    dialog = ProfileDialog(Settings())
    qtbot.addWidget(dialog)
    dialog.show()
    for profile in (CloudUserProfile(name="x", tenant="t", environment="e", client_id="c"),
                    OnPremProfile(name="y", base_url="https://h/BC", user="u")):
        dialog.kind.setCurrentIndex(dialog.kind.findData(type(profile)))
        assert a11y.unnamed_interactive(dialog) == [], profile
    dialog.name.clear()
    dialog.save()
    assert log.announcements() and log.announcements()[-1] == dialog.message.text() == a11y.name(dialog.message)
