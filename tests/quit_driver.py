"""Runs the real app (``ui.app.main``) and quits it one way once the payments list has loaded. Run as a subprocess by
tests/test_quit.py: ``python tests/quit_driver.py close|menu|key [app arguments…]``.

The driver only plays the user: it finds the main window, waits until it is in use, and closes it, picks File → Quit,
or presses Ctrl+Q. Everything else is the app's own start-up and shutdown.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from ui.app import main
from ui.main_window import MainWindow


def quit_when_ready(how: str) -> None:
    window = next((w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)), None)
    if window is None or not window.built or window.navigator.view.model() is None \
            or window.navigator.view.model().rowCount() == 0:
        QTimer.singleShot(100, lambda: quit_when_ready(how))
        return
    print("ready", flush=True)
    if how == "close":
        window.close()  # what the title bar's close button does
    elif how == "menu":
        file_menu = window.menuBar().actions()[0].menu()
        action = next(a for a in file_menu.actions() if a.text().replace("&", "") == "Quit")
        action.trigger()
    elif how == "key":
        window.activateWindow()
        QTest.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    else:
        raise SystemExit(f"unknown way to quit: {how}")


if __name__ == "__main__":
    app = QApplication(sys.argv[:1])
    QTimer.singleShot(0, lambda: quit_when_ready(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
