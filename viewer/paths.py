"""Where the app keeps its files. ``BCPV_DATA_DIR`` overrides (tests point it at a temp dir)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

APP_NAME = "bc-payment-viewer"
ORG_NAME = "bc-payment-viewer"
# The desktop id: desktop entry and icon names, the Wayland app id (ui/app.py) and the launchers (ui/desktop.py).
APP_ID = "io.github.bc_payment_viewer"


def data_dir() -> Path:
    """The per-user app-data directory (created 0700)."""
    override = os.environ.get("BCPV_DATA_DIR")
    if override:
        path = Path(override)
    else:
        from PySide6.QtCore import QCoreApplication, QStandardPaths

        if not QCoreApplication.applicationName():
            QCoreApplication.setApplicationName(APP_NAME)
            QCoreApplication.setOrganizationName(ORG_NAME)
        location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        path = Path(location) if location else Path.home() / ".local" / "share" / APP_NAME
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` 0600 (if missing) in a 0700 folder, and tighten an existing one; returns it.

    Called before anyone writes: Qt's and SQLite's atomic saves keep the mode of the file they replace, so a
    file born private stays private. Every file the app writes with user data goes through here (README "Security").
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
    with contextlib.suppress(OSError):
        path.chmod(0o600)  # an older or copied file may be wider
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to a 0600 file, e.g. an exported payment."""
    private_file(path)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
