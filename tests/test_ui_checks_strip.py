"""The Checks strip on its own: found by object names, severity as a property and in words, copying one or all."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from ui.checks_strip import ChecksStrip
from viewer.checks import CHECK_IDS, Check, Severity, checks_text
from viewer.copying import Clip

CHECKS = [
    Check("invoiceOpen", Severity.OK, "invoice 103005 is Open"),
    Check("settlement", Severity.WARNING, "partial: leaves 1,200.00 USD open on invoice 103005 (3,600.00 of 4,800.00)",
          "A payment is negative in Business Central: …"),
    Check("customerBlocked", Severity.ERROR, "customer 240000 Litware, Inc. is blocked (All): posting the payment "
          "will be refused"),
    Check("duplicateApplication", Severity.UNKNOWN, "the journal's other lines could not be read (HTTP 503)"),
]


def test_strip_walked_by_object_names_and_copied(qtbot: QtBot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    strip = ChecksStrip()
    QVBoxLayout(window).addWidget(strip)
    copied: list[Clip] = []
    strip.copied.connect(copied.append)
    window.show()
    assert not strip.isVisible()  # nothing to say before a payment is checked

    strip.set_checks(CHECKS)
    assert strip.objectName() == "paymentChecks" and strip.isVisible()
    assert strip.property("severity") == "error"
    headline = strip.findChild(QLabel, "checksHeadline")
    assert headline is not None
    assert headline.text() == "Will not post as is: 1 error, 1 warning, 1 unknown"  # words, not colour alone
    for check in CHECKS:
        label = strip.findChild(QLabel, f"check:{check.id}")
        assert label is not None and label.isVisible()
        assert label.text() == check.message and label.property("severity") == check.severity.value
        assert label.toolTip() == check.detail
        word = strip.findChild(QLabel, f"checkSeverity:{check.id}")
        assert word is not None and word.text() == check.severity.word
        assert label.accessibleName().startswith(f"{check.severity.word}: ")

    button = strip.findChild(QToolButton, "copyCheck:customerBlocked")
    assert button is not None
    button.click()
    assert QGuiApplication.clipboard().text() == (
        "✖ Error · Customer blocked: customer 240000 Litware, Inc. is blocked (All): posting the payment will be "
        "refused")
    copy_all = strip.findChild(QPushButton, "copyChecks")
    assert copy_all is not None
    copy_all.click()
    assert QGuiApplication.clipboard().text() == checks_text(CHECKS)
    assert [c.label for c in copied] == ["check Customer blocked", "checks"]

    # A new result updates the same rows in place; checks no longer present are hidden.
    first_label = strip.findChild(QLabel, "check:invoiceOpen")
    strip.set_checks([Check("invoiceOpen", Severity.ERROR, "invoice 103005 is Paid: nothing left to settle")])
    assert strip.findChild(QLabel, "check:invoiceOpen") is first_label
    assert first_label is not None and first_label.property("severity") == "error"
    settlement = strip.findChild(QLabel, "check:settlement")
    assert settlement is not None and not settlement.isVisible()
    assert headline.text() == "Will not post as is: 1 error"

    strip.set_checks([Check(i, Severity.OK, f"{i} fine") for i in CHECK_IDS])
    assert headline.text() == "All 8 checks OK" and strip.property("severity") == "ok"
    strip.set_checks([])
    assert not strip.isVisible()
    QGuiApplication.clipboard().clear()


def test_each_severity_has_one_icon_until_the_style_changes(qtbot: QtBot) -> None:
    """A new QIcon per payment shown filled Qt's pixmap cache (~25 KiB a payment, up to its limit)."""
    from PySide6.QtWidgets import QStyleFactory

    strip = ChecksStrip()
    qtbot.addWidget(strip)
    first = strip._icon(Severity.WARNING)
    strip.set_checks(CHECKS)
    strip.set_checks(CHECKS[:2])
    assert strip._icon(Severity.WARNING).cacheKey() == first.cacheKey()
    strip.setStyle(QStyleFactory.create("Fusion"))
    assert strip._icon(Severity.WARNING).cacheKey() != first.cacheKey()  # the new style's icon
