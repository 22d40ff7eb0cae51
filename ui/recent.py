"""File → Open Recent: what the user opened, newest first, kept as a typed list in the settings."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from viewer.settings import Settings

MAX_RECENT = 10


class RecentUrls:
    """Fills ``menu``; choosing an entry calls ``open_text`` with it."""

    def __init__(self, settings: Settings, menu: QMenu, open_text: Callable[[str], None]) -> None:
        self.settings = settings
        self.menu = menu
        self.open_text = open_text
        self.fill()

    def items(self) -> list[str]:
        return self.settings.recent_urls()

    def remember(self, text: str) -> None:
        self.settings.set_recent_urls([text, *[i for i in self.items() if i != text]][:MAX_RECENT])
        self.fill()

    def fill(self) -> None:
        self.menu.clear()
        for text in self.items():
            action = QAction(text if len(text) < 90 else text[:40] + "…" + text[-45:], self.menu)
            action.setToolTip(text)
            action.triggered.connect(lambda _=False, t=text: self.open_text(t))
            self.menu.addAction(action)
        self.menu.setEnabled(bool(self.menu.actions()))
