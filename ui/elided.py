"""A one-line label that gives way: it shrinks with its window, eliding its text with "…" and showing the whole text
in its tooltip, instead of making the window wider (the signed-in account, the status bar's request facts).

Plain text only. ``text()`` returns the whole text, as set; what is painted is the elided form. Given a ``purpose``
it is also a status line for screen readers (as ``ui.a11y.StatusLabel``): its accessible name is the whole text,
never the elided one, and each change sends a name-change event.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

# Enough to show a few characters and the ellipsis, so a squeezed label still says that something is there.
MIN_CHARACTERS = 4


class ElidedLabel(QLabel):
    def __init__(self, text: str = "", parent: QWidget | None = None, *, purpose: str | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self._tooltip = ""
        self._status = purpose is not None
        if purpose is not None:
            self.setAccessibleDescription(purpose)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(False)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:
        if self._status and text != self._full:
            from ui import a11y

            a11y.rename(self, text)  # before QLabel.setText, which would announce only an unnamed label
        self._full = text
        self._elide()
        self.updateGeometry()

    def text(self) -> str:
        return self._full

    def setToolTip(self, tip: str) -> None:
        """A tooltip of its own; when the text is elided the whole text comes first in it."""
        self._tooltip = tip
        self._elide()

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + self._padding(), hint.height())

    def minimumSizeHint(self) -> QSize:
        width = self.fontMetrics().horizontalAdvance("M" * MIN_CHARACTERS) + self._padding()
        return QSize(min(width, self.sizeHint().width()), super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _padding(self) -> int:
        margins = self.contentsMargins()
        return margins.left() + margins.right() + 2 * self.margin() + 2

    def _elide(self) -> None:
        available = max(0, self.width() - self._padding())
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, available)
        super().setText(shown)
        elided = shown != self._full
        tip = "\n".join(part for part in ((self._full if elided else ""), self._tooltip) if part)
        super().setToolTip(tip)
