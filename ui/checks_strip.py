"""The "Checks" strip above the payment's fields: the worst severity at a glance, then every check with its message.

Severity is never shown by colour alone: every row and the headline carry a standard icon *and* the word ("Error",
"Warning", "OK", "Unknown"); colours come from the palette only, so light and dark themes both work. Each check can
be copied, and "Copy checks" copies them all as text for a ticket or an email.

Object names for tests and assistive technology: the strip is ``paymentChecks``; each check's message is a label
``check:<id>`` with the dynamic property ``severity`` (``ok``, ``warning``, ``error`` or ``unknown``); its copy
button is ``copyCheck:<id>``; the headline is ``checksHeadline`` and the copy-all button ``copyChecks``.
The rows are made once per check id and only their texts and properties change on a new result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from viewer.checks import TITLES, Check, Severity, checks_text, headline, worst
from viewer.copying import Clip

_ICONS = {
    Severity.OK: QStyle.StandardPixmap.SP_DialogApplyButton,
    Severity.WARNING: QStyle.StandardPixmap.SP_MessageBoxWarning,
    Severity.ERROR: QStyle.StandardPixmap.SP_MessageBoxCritical,
    Severity.UNKNOWN: QStyle.StandardPixmap.SP_MessageBoxQuestion,
}


def _plain_copy(clip: Clip) -> None:
    QGuiApplication.clipboard().setText(clip.text)


_LONG_RUN = 16  # characters without a space after which a message may break anywhere (every _CHUNK of them)
_CHUNK = 8
_BREAK = "\u200b"  # zero-width space: a line-break opportunity, invisible


def _breakable(text: str) -> str:
    """``text`` with break opportunities inside long unbroken runs (an external document no., a GUID)."""
    words = text.split(" ")
    return " ".join(
        _BREAK.join(w[i:i + _CHUNK] for i in range(0, len(w), _CHUNK)) if len(w) > _LONG_RUN else w for w in words
    )


class _Message(QLabel):
    """A check's message, wrapped. A long run without spaces may break anywhere, so one message never makes the
    window wider than a narrow screen allows (tests/test_ui_rough_edges.py); ``text()`` is the message as given."""

    def __init__(self) -> None:
        super().__init__()
        self._full = ""
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)

    def setText(self, text: str) -> None:
        self._full = text
        super().setText(_breakable(text))

    def text(self) -> str:
        return self._full


class _Row:
    """The widgets of one check: icon, severity word, title, message (``check:<id>``), copy button."""

    def __init__(self, strip: ChecksStrip, check_id: str, row: int) -> None:
        self.icon = QLabel()
        self.word = QLabel()
        self.word.setObjectName(f"checkSeverity:{check_id}")
        self.title = QLabel(TITLES.get(check_id, check_id))
        self.message = _Message()
        self.message.setObjectName(f"check:{check_id}")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy = QToolButton()
        self.copy.setObjectName(f"copyCheck:{check_id}")
        self.copy.setText("Copy")
        self.copy.setAutoRaise(True)
        self.copy.setAccessibleName(f"Copy the check {self.title.text()}")
        self.copy.clicked.connect(partial(strip.copy_check, check_id))
        grid = strip.grid
        grid.addWidget(self.icon, row, 0)
        grid.addWidget(self.word, row, 1)
        grid.addWidget(self.title, row, 2)
        grid.addWidget(self.message, row, 3)
        grid.addWidget(self.copy, row, 4)

    def widgets(self) -> tuple[QWidget, ...]:
        return (self.icon, self.word, self.title, self.message, self.copy)

    def show(self, check: Check, icon: QIcon, size: int) -> None:
        severity = check.severity
        self.icon.setPixmap(icon.pixmap(QSize(size, size)))
        self.icon.setAccessibleName(severity.word)
        self.word.setText(severity.word)
        font = self.word.font()
        font.setBold(severity in (Severity.ERROR, Severity.WARNING))
        self.word.setFont(font)
        self.message.setText(check.message)
        self.message.setProperty("severity", severity.value)
        self.message.setToolTip(check.detail)
        self.message.setAccessibleName(f"{severity.word}: {self.title.text()}: {check.message}")
        self.message.setAccessibleDescription(check.detail)
        for widget in self.widgets():
            widget.setVisible(True)


class ChecksStrip(QFrame):
    """Shows a list of ``viewer.checks.Check``; ``set_checks([])`` hides it (no payment)."""

    copied = Signal(object)  # Clip, after it went to the clipboard
    chainChanged = Signal()  # rows were added: the Tab order needs them (ui/payment_panel.py)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("paymentChecks")
        self.setAccessibleName("Checks")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.copy_handler: Callable[[Clip], None] = _plain_copy
        self.checks: list[Check] = []
        self._rows: dict[str, _Row] = {}
        self._icons: dict[Severity, QIcon] = {}  # see _icon

        self.headline_icon = QLabel()
        self.headline = QLabel()
        self.headline.setTextFormat(Qt.TextFormat.PlainText)  # may quote the server's words
        self.headline.setObjectName("checksHeadline")
        self.headline.setAccessibleName("Checks: worst result")
        font = self.headline.font()
        font.setBold(True)
        self.headline.setFont(font)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_all = QPushButton("Copy checks")
        self.copy_all.setObjectName("copyChecks")
        self.copy_all.setAccessibleName("Copy checks")
        self.copy_all.setAccessibleDescription("Copies every check as text, for a ticket or an email")
        self.copy_all.clicked.connect(self.copy_checks)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.headline_icon)
        top.addWidget(self.headline, 1)
        top.addWidget(self.copy_all)

        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(8)
        self.grid.setVerticalSpacing(2)
        self.grid.setColumnStretch(3, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addLayout(self.grid)
        self.hide()

    def set_checks(self, checks: Sequence[Check]) -> None:
        self.checks = list(checks)
        if not self.checks:
            self.hide()
            return
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        top = worst(self.checks)
        self.headline_icon.setPixmap(self._icon(top).pixmap(QSize(size, size)))
        self.headline_icon.setAccessibleName(top.word)
        self.headline.setText(headline(self.checks, glyph=False))
        self.headline.setProperty("severity", top.value)
        self.setProperty("severity", top.value)
        self.setAccessibleDescription(headline(self.checks, glyph=False))
        shown = {c.id for c in self.checks}
        added = False
        for check in self.checks:
            row = self._rows.get(check.id)
            if row is None:
                row = self._rows[check.id] = _Row(self, check.id, len(self._rows))
                added = True
            row.show(check, self._icon(check.severity), size)
        for check_id, row in self._rows.items():
            if check_id not in shown:
                for widget in row.widgets():
                    widget.setVisible(False)
        self.show()
        if added:
            self.chainChanged.emit()

    def focus_chain(self) -> list[QWidget]:
        """What Tab visits here, top to bottom: Copy checks, then each check's Copy."""
        return [self.copy_all, *(row.copy for row in self._rows.values())]

    def message_label(self, check_id: str) -> QLabel | None:
        row = self._rows.get(check_id)
        return row.message if row is not None else None

    def copy_check(self, check_id: str) -> None:
        check = next((c for c in self.checks if c.id == check_id), None)
        if check is not None:
            self._copy(Clip(check.as_text(), label=f"check {TITLES.get(check_id, check_id)}"))

    def copy_checks(self) -> None:
        if self.checks:
            self._copy(Clip(checks_text(self.checks), label="checks"))

    def _copy(self, clip: Clip) -> None:
        self.copy_handler(clip)
        self.copied.emit(clip)

    def _icon(self, severity: Severity) -> QIcon:
        """One icon per severity (until the style changes): each ``standardIcon()`` is a new QIcon whose pixmaps get
        cache entries of their own, so every payment shown added ~25 KiB to Qt's pixmap cache, up to its limit."""
        icon = self._icons.get(severity)
        if icon is None:
            icon = self._icons[severity] = self.style().standardIcon(_ICONS[severity])
        return icon

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.StyleChange:
            self._icons.clear()  # the new style's icons from now on
        super().changeEvent(event)
