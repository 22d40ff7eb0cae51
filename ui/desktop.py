"""Desktop integration on Linux/BSD: a freedesktop ``.desktop`` entry and hicolor icons in the user's data dir.

The entry's file name is the app id, because Wayland compositors and docks match a running window to its
entry by ``QGuiApplication.desktopFileName()`` (set to the same id in ``ui.app``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from viewer.paths import APP_ID

__all__ = ["APP_ID", "install_desktop_entry", "uninstall_desktop_entry"]

ICON_NAME = "bc-payment-viewer"  # the files in resources/icons
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)
GUI_SCRIPT = "bc-payment-viewer"  # [project.gui-scripts] in pyproject.toml

# Characters that make the Exec key's argument need quoting (Desktop Entry Specification, "The Exec key").
_RESERVED = re.compile(r"""[\s"'\\><~|&;$*?#()`]""")


class UnsupportedPlatform(Exception):
    """Desktop entries are a freedesktop.org (Linux/BSD) thing."""


def default_data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def icon_file(size: int | None, *, ico: bool = False) -> Path:
    """A bundled icon: the PNG of ``size`` pixels, the SVG for ``None``, or the Windows ``.ico`` (all sizes;
    a ``.lnk`` cannot use a PNG)."""
    name = f"{ICON_NAME}.ico" if ico else f"{ICON_NAME}-{size}.png" if size else f"{ICON_NAME}.svg"
    return Path(str(resources.files("resources") / "icons" / name))


def exec_quote(arg: str) -> str:
    """One argument of the Exec key: quoted per the spec, then escaped as a desktop-entry string."""
    arg = arg.replace("%", "%%")
    if not arg or _RESERVED.search(arg):
        arg = '"' + re.sub(r'(["`$\\])', r"\\\1", arg) + '"'
    return arg.replace("\\", "\\\\")


def launch_command() -> list[str]:
    """How to start this installation: the gui-script next to the interpreter, else the interpreter on main.py.

    Absolute paths and the venv's own interpreter (not resolved through its symlink), so the entry starts the
    app with the packages it was installed with, whatever the desktop session's PATH is.
    """
    python = Path(os.path.abspath(sys.executable))
    if getattr(sys, "frozen", False):  # the PyInstaller bundle: the executable is the app
        return [str(python)]
    script_dir = python.parent
    for name in (GUI_SCRIPT, f"{GUI_SCRIPT}.exe"):
        if (script_dir / name).is_file():
            return [str(script_dir / name)]
    main_py = Path(__file__).resolve().parent.parent / "main.py"
    if main_py.is_file():
        return [str(python), str(main_py)]
    return [str(python), "-m", "ui.app"]


def desktop_entry_text(command: list[str] | None = None) -> str:
    exec_line = " ".join(exec_quote(part) for part in (command or launch_command()))
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=BC Payment Viewer",
        "GenericName=Payment Viewer",
        "Comment=View Business Central customer payments",
        f"Exec={exec_line} %u",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Office;Finance;",
        "Keywords=Business Central;Dynamics;payment;journal;customer;",
        # X11 matches windows by WM_CLASS, which Qt takes from the application name (viewer.paths.APP_NAME).
        "StartupWMClass=bc-payment-viewer",
        "StartupNotify=true",
        "",
    ])


def installed_paths(data_home: Path | None = None) -> list[Path]:
    home = data_home or default_data_home()
    icons = home / "icons" / "hicolor"
    return [
        home / "applications" / f"{APP_ID}.desktop",
        *(icons / f"{size}x{size}" / "apps" / f"{APP_ID}.png" for size in ICON_SIZES),
        icons / "scalable" / "apps" / f"{APP_ID}.svg",
    ]


def _check_platform() -> None:
    if sys.platform == "darwin":
        raise UnsupportedPlatform(
            "Desktop entries are for Linux and BSD desktops (Windows gets a Start-menu shortcut). On macOS, "
            "make an Automator application that runs: " + " ".join(launch_command())
        )


def start_menu_shortcut(programs: Path | None = None) -> Path:
    """Where the Windows Start-menu shortcut goes (``%APPDATA%\\Microsoft\\Windows\\Start Menu\\Programs``)."""
    base = programs or Path(os.environ.get("APPDATA", str(Path.home() / "AppData" / "Roaming"))) / (
        "Microsoft/Windows/Start Menu/Programs"
    )
    return base / "BC Payment Viewer.lnk"


def _ps_quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def shortcut_script(target: Path, command: list[str], icon: Path) -> str:
    """PowerShell that makes the .lnk through the WScript.Shell COM object (no extra Python packages)."""
    arguments = " ".join(f'"{a}"' if " " in a else a for a in command[1:])
    return "; ".join([
        "$s = (New-Object -ComObject WScript.Shell).CreateShortcut(" + _ps_quote(str(target)) + ")",
        "$s.TargetPath = " + _ps_quote(command[0]),
        "$s.Arguments = " + _ps_quote(arguments),
        "$s.IconLocation = " + _ps_quote(str(icon)),
        "$s.Description = " + _ps_quote("View Business Central customer payments"),
        "$s.Save()",
    ])


class ShortcutBlocked(UnsupportedPlatform):
    """Windows would not run the PowerShell that makes the shortcut."""


BLOCKED_ADVICE = (
    "Windows did not let PowerShell create the Start-menu shortcut{reason}. Managed PCs often run PowerShell in "
    "Constrained Language Mode (AppLocker or WDAC), which forbids the WScript.Shell object the shortcut needs. "
    "Install with bc-payment-viewer-setup.exe instead: it creates the shortcut itself. Or ask your IT department."
)


def _windows(install: bool, programs: Path | None = None, run: Callable[..., Any] | None = None) -> list[Path]:
    import subprocess

    target = start_menu_shortcut(programs)
    if not install:
        if target.exists():
            target.unlink()
            return [target]
        return []
    target.parent.mkdir(parents=True, exist_ok=True)
    command = launch_command()
    if command[0].endswith("python.exe"):  # pythonw.exe: no console window behind the app
        command[0] = command[0][: -len("python.exe")] + "pythonw.exe"
    script = shortcut_script(target, command, icon_file(None, ico=True))
    try:
        (run or subprocess.run)(["powershell", "-NoProfile", "-NonInteractive", "-Command", script], check=True,
                                capture_output=True, timeout=60, text=True)
    except subprocess.CalledProcessError as exc:
        language_mode = "language mode" in (exc.stderr or "").lower()
        raise ShortcutBlocked(BLOCKED_ADVICE.format(
            reason=" (Constrained Language Mode)" if language_mode else f" (exit code {exc.returncode})")) from None
    except (OSError, subprocess.TimeoutExpired) as exc:  # no powershell.exe, or blocked from starting at all
        raise ShortcutBlocked(BLOCKED_ADVICE.format(reason=f" ({type(exc).__name__})")) from None
    return [target]


def install_desktop_entry(data_home: Path | None = None) -> list[Path]:
    """Write the entry and the icons under ``data_home`` (default ``$XDG_DATA_HOME``); returns the files.

    On Windows: a Start-menu shortcut instead.
    """
    _check_platform()
    if sys.platform == "win32":
        return _windows(True)
    entry, *icons = installed_paths(data_home)
    written: list[Path] = []
    for size, target in zip((*ICON_SIZES, None), icons, strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(icon_file(size), target)
        written.append(target)
    entry.parent.mkdir(parents=True, exist_ok=True)
    # Written last and atomically: a menu that sees the entry also finds its icon.
    tmp = entry.with_suffix(".desktop.tmp")
    tmp.write_text(desktop_entry_text(), encoding="utf-8")
    tmp.chmod(0o644)
    tmp.replace(entry)
    written.insert(0, entry)
    return written


def uninstall_desktop_entry(data_home: Path | None = None) -> list[Path]:
    """Remove what ``install_desktop_entry`` wrote; returns the files that were there."""
    _check_platform()
    if sys.platform == "win32":
        return _windows(False)
    removed: list[Path] = []
    for path in installed_paths(data_home):
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed
