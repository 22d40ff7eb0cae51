"""Where the app keeps its files. ``BCPV_DATA_DIR`` overrides both folders (tests point it at a temp dir).

``data_dir()`` holds the settings (they may roam with a Windows profile). ``local_data_dir()`` holds what must
stay on this computer: the token cache, history, logs, protected secrets and the single-instance lock. On
Windows that is ``%LOCALAPPDATA%`` rather than the roaming ``%APPDATA%``, which RDS/Citrix often put on a
network share, where SQLite and lock files are unreliable. On Linux and macOS the two are the same folder.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

APP_NAME = "bc-payment-viewer"
ORG_NAME = "bc-payment-viewer"
# The desktop id: desktop entry and icon names, the Wayland app id (ui/app.py) and the launchers (ui/desktop.py).
APP_ID = "io.github.bc_payment_viewer"


def data_dir() -> Path:
    """The per-user app-data directory (created private to the user)."""
    return _located("AppDataLocation")


def local_data_dir() -> Path:
    """The per-user, per-computer (non-roaming) app-data directory (created private to the user)."""
    return _located("AppLocalDataLocation")


def _located(kind: str) -> Path:
    override = os.environ.get("BCPV_DATA_DIR")
    path = Path(override) if override else app_data_location(local=kind == "AppLocalDataLocation")
    make_private_dir(path)
    return path


def make_private_dir(path: Path, platform: str = sys.platform) -> None:
    """Create ``path`` readable by this user only. On Unix that is mode 0700. On Windows ``chmod`` only sets the
    read-only flag; Python 3.13 and later give a directory made with mode 0o700 an ACL for the user alone
    (and SYSTEM and Administrators); before that the folder keeps the ACL it inherits from the user's profile
    folder, which is private by default."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
    if platform != "win32":  # also an existing folder made looser by hand
        with contextlib.suppress(OSError):
            path.chmod(0o700)


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


def app_data_location(*, local: bool = False) -> Path:
    """Where ``QStandardPaths`` puts ``AppDataLocation`` (``local``: ``AppLocalDataLocation``) for this app
    (organisation, then application), computed without Qt so that the terminal command need not import it;
    ``tests/test_profiles_settings.py`` checks that both agree."""
    if sys.platform == "win32":
        variable, fallback = ("LOCALAPPDATA", "Local") if local else ("APPDATA", "Roaming")
        base = Path(os.environ.get(variable) or Path.home() / "AppData" / fallback)
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = Path(xdg) if xdg else Path.home() / ".local" / "share"  # as Qt reads it
    return base / ORG_NAME / APP_NAME
