"""The payment area's empty state: the "choose a payment" hint, or on a first start (no profile yet) the welcome
with its two ways in — "Try the sandbox (no account needed)" and "Add a profile".

Both buttons speak through ``linkActivated`` (``"sandbox"`` / ``"profiles"``), the channel the rich-text link
already used, so the panel passes one signal on and the controller decides what each does.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

WELCOME = (
    "<p><b>Welcome.</b> Connect to your Business Central with a profile: a Microsoft account (tenant, environment, "
    "app registration), a service principal, or an on-premises server.</p>"
    "<p>Or look around first in the built-in sandbox: a Business Central of its own on this computer, with demo "
    "payments that change by themselves. No account, no terminal.</p>"
)

SANDBOX_LINK = "sandbox"
PROFILES_LINK = "profiles"


class WelcomeHint(QWidget):
    """Text (the hint or the welcome) and, on a first start, the two buttons under it."""

    linkActivated = Signal(str)

    def __init__(self, hint: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._hint = hint
        self.label = QLabel(hint)
        self.label.setObjectName("welcomeText")
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.linkActivated.connect(self.linkActivated)
        self.sandbox_button = QPushButton("Try the &sandbox (no account needed)")
        self.sandbox_button.setObjectName("trySandboxButton")
        self.sandbox_button.setAccessibleName("Try the sandbox, no account needed")
        self.sandbox_button.clicked.connect(lambda: self.linkActivated.emit(SANDBOX_LINK))
        self.profile_button = QPushButton("&Add a profile…")
        self.profile_button.setObjectName("addProfileButton")
        self.profile_button.setAccessibleName("Add a profile")
        self.profile_button.clicked.connect(lambda: self.linkActivated.emit(PROFILES_LINK))
        self.buttons = QWidget()
        row = QHBoxLayout(self.buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.addStretch(1)
        row.addWidget(self.sandbox_button)
        row.addWidget(self.profile_button)
        row.addStretch(1)
        self.buttons.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addStretch(1)
        layout.addWidget(self.label)
        layout.addWidget(self.buttons)
        layout.addStretch(1)

    # The QLabel calls the panel makes on its hint.
    def setWordWrap(self, on: bool) -> None:
        self.label.setWordWrap(on)

    def setAlignment(self, alignment: Qt.AlignmentFlag) -> None:
        self.label.setAlignment(alignment)

    def text(self) -> str:
        return self.label.text()

    def set_welcome(self, welcome: bool) -> None:
        """First start (no profile yet): the welcome and its buttons; otherwise the quiet hint."""
        self.label.setText(WELCOME if welcome else self._hint)
        self.label.setTextFormat(Qt.TextFormat.RichText if welcome else Qt.TextFormat.PlainText)
        # The guide reads as body text; the short hint is quiet — the placeholder colour, which ui/theme.py keeps at
        # 4.5:1 (a disabled label's colour would not be readable enough).
        self.label.setForegroundRole(QPalette.ColorRole.WindowText if welcome else QPalette.ColorRole.PlaceholderText)
        self.buttons.setVisible(welcome)
        if welcome:
            self.sandbox_button.setDefault(True)
