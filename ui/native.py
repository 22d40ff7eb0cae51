"""Small platform conventions, each behind a function whose platform is a parameter (tested on Linux).

- Windows groups taskbar buttons and notifications by an AppUserModelID; without an explicit one a Python app
  shows up as "Python". The installer's Start-menu shortcut carries the same id (packaging/windows).
- A GUI launcher (``pythonw``, the bundle's windowed ``bc-payment-viewer.exe``, a macOS .app) has no console:
  ``--help``, ``--version`` and command-line errors would vanish, so they are shown in a message box instead.
- Windows 10's native style ignores dark mode; the app then draws with Fusion and a dark palette (ui.theme).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections.abc import Callable
from typing import Any, TextIO


def set_app_user_model_id(app_id: str, platform: str = sys.platform, shell32: Any = None) -> bool:
    """Tell Windows who this process is (before any window is shown). False elsewhere or when refused."""
    if platform != "win32":
        return False
    if shell32 is None:
        import ctypes

        shell32 = ctypes.windll.shell32  # type: ignore[attr-defined,unused-ignore]
    try:
        return int(shell32.SetCurrentProcessExplicitAppUserModelID(app_id)) == 0  # S_OK
    except (OSError, AttributeError):
        return False


def windows_build(platform: str = sys.platform) -> int:
    """The Windows build number (Windows 11 starts at 22000); 0 elsewhere."""
    if platform != "win32" or sys.platform != "win32":
        return 0
    return int(sys.getwindowsversion().build)


def needs_fusion_dark(platform: str, build: int, system_is_dark: bool) -> bool:
    """Windows 10 in dark mode: Qt's windowsvista style draws light whatever the system says. Windows 11 has
    a style that follows the system (``windows11``); Linux and macOS platform themes follow it too."""
    return platform == "win32" and 0 < build < 22000 and system_is_dark


def has_console(stdout: TextIO | None = None, stderr: TextIO | None = None) -> bool:
    """False under a GUI launcher, where Python sets ``sys.stdout``/``sys.stderr`` to None."""
    out = sys.stdout if stdout is None else stdout
    err = sys.stderr if stderr is None else stderr
    return out is not None and err is not None


def parse_or_show(parser: argparse.ArgumentParser, argv: list[str], *, console: bool | None = None,
                  show: Callable[[str, bool], None] | None = None) -> argparse.Namespace | int:
    """``parser.parse_args(argv)``; without a console, what argparse would print (help, version, an error)
    goes to a message box and the exit code is returned instead of raising ``SystemExit``."""
    if console if console is not None else has_console():
        return parser.parse_args(argv)
    captured = io.StringIO()
    try:
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            return parser.parse_args(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        (show or message_box)(captured.getvalue().strip(), code != 0)
        return code


def message_box(text: str, error: bool) -> None:
    """A plain, modal message box (no event loop runs yet, so ``exec()`` is fine here)."""
    from PySide6.QtGui import QFont, QFontDatabase
    from PySide6.QtWidgets import QApplication, QMessageBox

    _app = QApplication.instance() or QApplication(sys.argv[:1])
    box = QMessageBox(QMessageBox.Icon.Warning if error else QMessageBox.Icon.Information, "BC Payment Viewer",
                      text)
    font: QFont = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)  # argparse aligns with spaces
    box.setFont(font)
    box.exec()
