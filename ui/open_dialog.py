"""Open… (Ctrl+O, Ctrl+L): paste an API URL, a web-client URL or GUIDs; validated as you type.

Keyboard-first: each time it opens, the text box has the focus with the previous text selected (so a paste
replaces it), Enter opens and Shift+Enter inserts a newline (GUIDs may come one per line).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from ui.a11y import StatusLabel, announce
from viewer.errors import ViewerError


class _InputEdit(QPlainTextEdit):
    """Enter (and keypad Enter) submits; Shift+Enter is the newline."""

    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            event.accept()
            self.submitted.emit()
            return
        if enter:  # Shift+Enter: a plain newline, not the paragraph separator Qt inserts for it
            self.insertPlainText("\n")
            return
        super().keyPressEvent(event)


class OpenDialog(QDialog):
    """Non-blocking: shown with ``open()``; emits ``accepted_text`` with the text to open."""

    accepted_text = Signal(str)

    def __init__(self, validate: Callable[[str], str], parent: QWidget | None = None) -> None:
        """``validate(text)`` returns a short description of what will open, or raises ValueError/ViewerError."""
        super().__init__(parent)
        self.setObjectName("openDialog")
        self.setWindowTitle("Open payment")
        self.setAccessibleName("Open payment")
        self._validate = validate
        self.edit = _InputEdit()
        self.edit.setObjectName("openInput")
        self.edit.setAccessibleName("Payment URL or GUIDs")
        self.edit.setPlaceholderText(
            "https://api.businesscentral.dynamics.com/v2.0/<tenant>/<environment>/api/v2.0/companies(…)/"
            "customerPaymentJournals(…)/customerPayments(…)\n…or a web-client link, or company/journal/payment GUIDs"
        )
        self.edit.setTabChangesFocus(True)
        self.message = StatusLabel("Validation")  # readable: its name is the message itself
        self.message.setObjectName("openMessage")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.open_button = self.buttons.button(QDialogButtonBox.StandardButton.Open)
        self.open_button.setObjectName("openButton")
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setObjectName("cancelButton")
        # Neither button takes the focus from the text box or answers a stray space typed into the dialog.
        for button in (self.open_button, self.cancel_button):
            button.setAutoDefault(False)
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.edit.submitted.connect(self._accept)
        layout = QVBoxLayout(self)
        intro = QLabel("Paste a payment's API URL, a Business Central link, or GUIDs:")
        intro.setBuddy(self.edit)  # the edit's label relation
        layout.addWidget(intro)
        layout.addWidget(self.edit)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.edit.textChanged.connect(self._check)
        self.resize(720, 220)
        self._check()

    def set_text(self, text: str) -> None:
        self.edit.setPlainText(text)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.edit.selectAll()
        self.edit.setFocus(Qt.FocusReason.ActiveWindowFocusReason)

    def _check(self) -> bool:
        text = self.edit.toPlainText().strip()
        ok = False
        if not text:
            self.message.setText("")
        else:
            try:
                self.message.setText("✓ " + self._validate(text))
                ok = True
            except (ValueError, ViewerError) as exc:
                error = f"✗ {exc}"
                if error != self.message.text():
                    self.message.setText(error)
                    announce(self.message, error)  # spoken while typing goes on; the focus stays in the edit
        self.open_button.setEnabled(ok)
        return ok

    def _accept(self) -> None:
        if self._check():
            self.accepted_text.emit(self.edit.toPlainText().strip())
            self.accept()
