"""Open… (Ctrl+O, Ctrl+L): paste an API URL, a web-client URL or GUIDs; validated as you type."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from ui.a11y import StatusLabel, announce
from viewer.errors import ViewerError


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
        self.edit = QPlainTextEdit()
        self.edit.setObjectName("openText")
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
        self.buttons.button(QDialogButtonBox.StandardButton.Open).setEnabled(ok)
        return ok

    def _accept(self) -> None:
        if self._check():
            self.accepted_text.emit(self.edit.toPlainText().strip())
            self.accept()
