"""What a screen reader gets besides names: status texts it can read, change events, announcements, tab chains.

Qt sends accessibility events straight to the platform bridge (AT-SPI, UI Automation, NSAccessibility), and
PySide6 does not wrap ``QAccessible::installUpdateHandler``, so nothing in Python can watch them. Every change the
app makes on purpose — a name (``StatusLabel``), a description (``set_description``; Qt sends those two events
itself) or an announcement (``announce``) — goes through here and is also reported on ``events.sent``: the tests
(tests/a11y.py) record that, and ``scripts/a11y-tree.sh`` checks the real bridge end to end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QPaintEvent, QPalette, Qt
from PySide6.QtWidgets import QFocusFrame, QLabel, QWidget

# QAccessible, QPainter and QTextDocumentFragment are imported where they are used: PySide6 sets each class up on
# first use (QAccessible's enums ~1.5 ms), and the first paint's status labels need none of them (ui/app.py).


@dataclass(frozen=True)
class Sent:
    """One event the app sent: ``kind`` is "announcement", "name" or "description"."""

    kind: str
    target: QObject
    text: str


class _Events(QObject):
    sent = Signal(object)  # Sent


events = _Events()


def _observed(kind: str, target: QObject, text: str) -> None:
    events.sent.emit(Sent(kind, target, text))


def announce(target: QObject, text: str, *, assertive: bool = False) -> None:
    """Spoken unasked, without moving the focus (a live region): copy confirmations, errors, "payment gone".

    Assertive interrupts what is being read; polite (the default) waits for it."""
    if not text:
        return
    from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent

    event = QAccessibleAnnouncementEvent(target, text)
    if assertive:
        event.setPoliteness(QAccessible.AnnouncementPoliteness.Assertive)
    QAccessible.updateAccessibility(event)
    _observed("announcement", target, text)


def set_description(widget: QWidget, text: str) -> None:
    """The accessible description, with the change event a screen reader needs to re-read it."""
    if widget.accessibleDescription() != text:
        widget.setAccessibleDescription(text)  # sends DescriptionChanged
        _observed("description", widget, text)


def rename(widget: QWidget, text: str) -> None:
    """A status widget's accessible name becomes ``text`` (its visible text), with the name-change event."""
    spoken = plain(text)
    if widget.accessibleName() != spoken:
        widget.setAccessibleName(spoken)  # sends NameChanged
        _observed("name", widget, spoken)


def plain(text: str) -> str:
    """What a rich-text label reads as (tags and entities resolved)."""
    if not Qt.mightBeRichText(text):
        return text
    from PySide6.QtGui import QTextDocumentFragment

    return QTextDocumentFragment.fromHtml(text).toPlainText()


class StatusLabel(QLabel):
    """A status line whose accessible name *is* its visible text (a fixed name would hide it), with what the
    line is for as the description. Each change sends a name-change event; ``announce`` also speaks it."""

    def __init__(self, purpose: str, *, announce: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.announces = announce
        self.setAccessibleDescription(purpose)
        # Status lines carry what servers say (error messages, ETags, request ids): shown as written, never
        # interpreted as HTML (Qt's automatic format would render "<img src=…>" in a payment's description).
        self.setTextFormat(Qt.TextFormat.PlainText)

    def setText(self, text: str) -> None:
        if text == self.text():
            return
        spoken = text if self.textFormat() == Qt.TextFormat.PlainText else plain(text)
        # Named after its text, so name == visible text. setAccessibleName sends the NameChanged event; set first,
        # so QLabel.setText (which sends one only for an unnamed label) does not send a second.
        self.setAccessibleName(spoken)
        super().setText(text)
        _observed("name", self, spoken)
        if self.announces:
            announce(self, spoken)

    def clear(self) -> None:
        self.setText("")


def tab_chain(widgets: Iterable[QWidget | None]) -> None:
    """Tab visits ``widgets`` in this order (missing ones skipped): the visual order, not creation order."""
    previous: QWidget | None = None
    for widget in widgets:
        if widget is None:
            continue
        if previous is not None:
            QWidget.setTabOrder(previous, widget)
        previous = widget


class FocusRing(QFocusFrame):
    """The focus indicator of a widget the style draws none for (a frameless read-only value, "(blank)" ones
    included): a 2 px frame in the highlight colour over the widget while it has the focus. The highlight colour
    reaches 3:1 against the backgrounds (ui/theme.py).

    A child of the widget, shown only while it has the focus, so the widget itself keeps Qt's own paint: a Python
    ``paintEvent`` on every value cost each repaint of the form a call into Python per value (README "Performance").
    A focus frame is left out of the accessibility tree by Qt, and lets the mouse through."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__(widget)  # (not setWidget: that places the frame outside the widget, on its parent)
        self.owner = widget
        self.hide()

    def follow(self, focused: bool) -> None:
        """Shown over the whole widget while it has the focus, hidden when it loses it."""
        if focused:
            self.setGeometry(self.owner.rect())
            self.raise_()
            self.show()
        else:
            self.hide()

    def paintEvent(self, event: QPaintEvent) -> None:
        from PySide6.QtGui import QPainter, QPen

        painter = QPainter(self)
        painter.setPen(QPen(self.owner.palette().color(QPalette.ColorRole.Highlight), 2))
        painter.drawRect(self.rect().adjusted(1, 1, -1, -1))
        painter.end()
