"""Unexpected exceptions: logged (scrubbed) and shown in a dialog with "Copy details", and the app keeps going.

Every route an exception can escape by is covered: ``sys.excepthook`` (Qt slots and virtual overrides),
``threading.excepthook`` (worker threads) and the asyncio loop's exception handler (tasks nobody awaited).
The dialog opens with ``open()``, never ``exec()``: a nested event loop inside qasync would re-enter it.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from viewer.logs import scrub

logger = logging.getLogger(__name__)

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], None]

MAX_DETAILS = 50_000  # an exception storm must not grow the dialog without bound


class CrashDialog(QDialog):
    def __init__(self, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("crashDialog")
        self.setWindowTitle("Unexpected error")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(
            "Something went wrong. The app keeps running, but what you were doing may not have finished.\n"
            "The details below (secrets removed) are also in the log file; please include them in a bug report."
        ))
        self.details = QPlainTextEdit(details)
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details.setMinimumSize(560, 220)
        layout.addWidget(self.details)
        buttons = QDialogButtonBox()
        self.copy_button = QPushButton("&Copy details")
        self.copy_button.setObjectName("copyDetails")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.setDefault(True)
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details.toPlainText())
        self.copy_button.setText("Copied")

    def add(self, details: str) -> None:
        text = self.details.toPlainText() + "\n\n" + details
        self.details.setPlainText(text[-MAX_DETAILS:])


class CrashReporter(QObject):
    """Logs and shows. ``report`` may be called from any thread: the dialog part is queued to the GUI thread."""

    _show = Signal(str)

    def __init__(self, parent_getter: Callable[[], QWidget | None], *, dialog: bool) -> None:
        super().__init__()
        self.parent_getter = parent_getter
        self.dialog_enabled = dialog
        self.dialog: CrashDialog | None = None
        self._show.connect(self._show_dialog, Qt.ConnectionType.QueuedConnection)

    def report(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        details = scrub("".join(traceback.format_exception(exc_type, exc, tb)).rstrip("\n"))
        logger.error("unhandled exception\n%s", details)
        if not self.dialog_enabled:
            return
        if threading.current_thread() is threading.main_thread():
            self._show_dialog(details)
        else:
            self._show.emit(details)

    def asyncio_handler(self, loop: Any, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, BaseException):
            self.report(type(exc), exc, exc.__traceback__)
        else:
            logger.error("asyncio: %s", scrub(str(context.get("message", context))))

    def _show_dialog(self, details: str) -> None:
        try:
            if self.dialog is not None and self.dialog.isVisible():
                self.dialog.add(details)  # one dialog for a burst of errors, not a pile of them
                return
            self.dialog = CrashDialog(details, self.parent_getter())
            self.dialog.destroyed.connect(self._forget)
            self.dialog.open()
        except Exception:  # the reporter must never raise into the hook that called it
            logger.exception("cannot show the crash dialog")

    def _forget(self) -> None:
        self.dialog = None


_reporter: CrashReporter | None = None  # kept alive for the hooks' lifetime


def install_crash_handler(parent_getter: Callable[[], QWidget | None], *, dialog: bool) -> CrashReporter:
    """Route uncaught exceptions (main thread, other threads) to the reporter; returns it (for the asyncio loop)."""
    global _reporter
    reporter = CrashReporter(parent_getter, dialog=dialog)
    _reporter = reporter

    def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        reporter.report(exc_type, exc, tb)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            reporter.report(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = excepthook
    threading.excepthook = thread_hook
    return reporter
