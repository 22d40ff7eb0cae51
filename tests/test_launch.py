"""Launching from the desktop: the menu entry and icons, one instance per user, command-line flags, the log
file (private, scrubbed) and the crash handler. The single-instance and log tests run the real app in
separate processes, as a desktop would start it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDir
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from ui.app import APP_ID, build_parser, main
from ui.crash import CrashDialog, install_crash_handler
from ui.desktop import ICON_SIZES, desktop_entry_text, exec_quote, install_desktop_entry, uninstall_desktop_entry
from ui.single_instance import InstanceServer, server_name
from viewer.logs import LOG_FILE_NAME, scrub, setup_logging
from viewer.paths import data_dir
from viewer.settings import LAST_PROFILE, Settings

ROOT = Path(__file__).resolve().parent.parent
MAIN = str(ROOT / "main.py")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def app_env(data: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "BCPV_DATA_DIR": str(data), **extra}
    for name in ("BCPV_BENCH_EXIT", "BCPV_SCREENSHOT"):
        if name not in extra:
            env.pop(name, None)
    return env


def run_app(*args: str, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, MAIN, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def log_text(data: Path) -> str:
    path = data / "logs" / LOG_FILE_NAME
    return path.read_text("utf-8") if path.exists() else ""


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.fixture
def restore_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)


# ---- desktop entry and icons ------------------------------------------------------------------------------


def test_desktop_entry_installs_validates_and_uninstalls(tmp_path: Path) -> None:
    home = tmp_path / "xdg"
    written = install_desktop_entry(home)
    entry = home / "applications" / f"{APP_ID}.desktop"
    assert written[0] == entry
    text = entry.read_text("utf-8")
    assert f"Icon={APP_ID}\n" in text and "Terminal=false\n" in text and "Categories=Office;Finance;\n" in text
    assert re.search(r"^Exec=\S.* %u$", text, re.MULTILINE)
    if validator := shutil.which("desktop-file-validate"):
        result = subprocess.run([validator, str(entry)], capture_output=True, text=True)
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
    for size in ICON_SIZES:
        png = home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        assert QImage(str(png)).size().width() == size, png
    assert (home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").read_text().lstrip().startswith("<?xml")
    assert len(written) == len(ICON_SIZES) + 2

    removed = uninstall_desktop_entry(home)
    assert sorted(removed) == sorted(written)
    assert not any(path.exists() for path in written)
    assert uninstall_desktop_entry(home) == []


def test_exec_arguments_are_quoted_for_the_desktop_spec(tmp_path: Path) -> None:
    assert exec_quote("/usr/bin/python3") == "/usr/bin/python3"
    assert exec_quote("/home/a b/main.py") == '"/home/a b/main.py"'
    # $ and " escaped for the Exec quoting, then every backslash doubled for the desktop-entry string.
    assert exec_quote('/x/$HOME "q"') == r'"/x/\\$HOME \\"q\\""'
    assert exec_quote("100%") == "100%%"
    odd = tmp_path / "dir with spaces & $dollar"
    odd.mkdir()
    entry = tmp_path / f"{APP_ID}.desktop"
    entry.write_text(desktop_entry_text([sys.executable, str(odd / "main.py")]))
    if validator := shutil.which("desktop-file-validate"):
        assert subprocess.run([validator, str(entry)], capture_output=True).returncode == 0


def test_install_desktop_entry_flag(tmp_path: Path) -> None:
    home = tmp_path / "xdg"
    result = run_app("--install-desktop-entry", env=app_env(tmp_path / "data", XDG_DATA_HOME=str(home)))
    assert result.returncode == 0, result.stderr
    assert f"wrote {home / 'applications' / APP_ID}.desktop" in result.stdout
    result = run_app("--uninstall-desktop-entry", env=app_env(tmp_path / "data", XDG_DATA_HOME=str(home)))
    assert result.returncode == 0 and "removed" in result.stdout
    assert not (home / "applications" / f"{APP_ID}.desktop").exists()


# ---- command-line flags ------------------------------------------------------------------------------------


def test_version_and_help(tmp_path: Path) -> None:
    result = run_app("--version", env=app_env(tmp_path))
    assert result.returncode == 0
    assert re.fullmatch(r"bc-payment-viewer \d+\.\d+\S*\n", result.stdout)
    for action in build_parser()._actions:
        if action.dest != "help":
            assert action.help and "e.g." in action.help, action.option_strings or action.dest
    result = run_app("--help", env=app_env(tmp_path))
    assert result.returncode == 0
    for flag in ("--new-window", "--log-level", "--reset-settings", "--install-desktop-entry", "--version"):
        assert flag in result.stdout


def test_log_level_choices() -> None:
    assert build_parser().parse_args(["--log-level", "DEBUG"]).log_level == "debug"
    assert build_parser().parse_args([]).log_level == "info"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--log-level", "chatty"])


def test_reset_settings_removes_only_the_settings_file(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings()
    assert settings.path == data_dir() / "settings.ini"  # the path --reset-settings removes
    settings.set(LAST_PROFILE, "Contoso")
    settings.sync()
    del settings
    others = [data_dir() / "msal_token_cache.bin", data_dir() / "logs" / LOG_FILE_NAME]
    for path in others:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("keep")
    assert main(["--reset-settings"]) == 0
    assert "removed" in capsys.readouterr().out
    assert not (data_dir() / "settings.ini").exists()
    assert all(path.read_text() == "keep" for path in others)
    assert main(["--reset-settings"]) == 0
    assert "nothing to do" in capsys.readouterr().out


# ---- single instance -------------------------------------------------------------------------------------


def test_second_launch_forwards_to_the_first_and_new_window_does_not(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = app_env(data)
    first = subprocess.Popen([sys.executable, MAIN, "--sandbox", "--activity", "0", "--log-level", "info",
                              "--no-crash-dialog"], env=env, cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: "single-instance server listening" in log_text(data) or first.poll() is not None,
                 20, "the first instance to listen")
        assert first.poll() is None, first.stderr.read() if first.stderr else ""

        started = time.monotonic()
        second = run_app("not a payment", env=env, timeout=10)
        assert second.returncode == 0, second.stderr
        assert "Sent to the window already open" in second.stdout
        assert time.monotonic() - started < 5
        wait_for(lambda: "received forwarded text" in log_text(data), 10, "the first instance to receive it")

        third = run_app("--new-window", env={**env, "BCPV_BENCH_EXIT": "shown"}, timeout=20)
        assert third.returncode == 0 and "shown" in third.stdout, third.stderr
        assert log_text(data).count("received forwarded") == 1

        first.send_signal(signal.SIGTERM)  # what a session logout or `kill` sends: a clean shutdown
        assert first.wait(timeout=15) == 0
        assert "stopped" in log_text(data)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        if first.stderr:
            first.stderr.close()


@pytest.mark.skipif(sys.platform == "win32", reason="Unix socket files only")
def test_stale_socket_from_a_crashed_instance_is_replaced(tmp_path: Path, qapp: QApplication) -> None:
    name = server_name(tmp_path)
    path = Path(QDir.tempPath()) / name
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # a socket file nobody listens on, as a killed instance leaves behind
    stale.close()
    server = InstanceServer(name)
    try:
        assert server.listen() and server.listening
    finally:
        server.close()
    assert server_name(tmp_path) != server_name(tmp_path / "other")


# ---- logging and crashes ----------------------------------------------------------------------------------


def test_scrub_masks_secrets() -> None:
    text = ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2ln  Basic dXNlcjpwYXNz  client_secret=s3cr3t&code=abc&"
            'status_code=200 {"refresh_token": "rt", "access_token": "at"} password=hunter2')
    clean = scrub(text)
    for secret in ("eyJ", "dXNlcjpwYXNz", "s3cr3t", "code=abc", '"rt"', '"at"', "hunter2"):
        assert secret not in clean
    assert "status_code=200" in clean


def test_scrub_masks_pem_blocks_raw_in_reprs_and_cut_off() -> None:
    key = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n"
           "-----END PRIVATE KEY-----\n")
    cert = "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----"
    for text in (key + cert, repr({"certificate_pem": key + cert}), repr(key[:60]), f"info={key!r} tail"):
        clean = scrub(text)
        assert "MIIE" not in clean and "MIID" not in clean and "BKcw" not in clean, clean
        assert "[PEM PRIVATE KEY ***]" in clean
    assert scrub(f"info={key!r} tail").endswith(" tail")


def test_sandbox_info_repr_holds_no_secret() -> None:
    from dataclasses import fields

    from viewer.sandbox.server import SandboxInfo

    values: dict[str, object] = {f.name: f"plain-{f.name}" for f in fields(SandboxInfo)}
    values.update(environments=["production"], users=[{"password": "user-pw"}],
                  service_principal={"client_secret": "sp-secret", "certificate_pem": "-----BEGIN PRIVATE KEY-----x"},
                  basic={"user": "u", "password": "basic-pw"})
    shown = repr(SandboxInfo(**values))  # type: ignore[arg-type]
    for secret in ("sp-secret", "PRIVATE KEY", "basic-pw", "user-pw"):
        assert secret not in shown
    assert "plain-api_root" in shown


@pytest.mark.usefixtures("restore_logging", "restore_hooks")
def test_crash_handler_logs_scrubbed_traceback(tmp_path: Path) -> None:
    log = setup_logging("info", tmp_path / "logs")
    reporter = install_crash_handler(lambda: None, dialog=False)
    try:
        raise RuntimeError("request failed: Bearer eyJabc.def.ghi with client_secret=xyz")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]

    worker = threading.Thread(target=lambda: 1 / 0)
    worker.start()
    worker.join()
    reporter.asyncio_handler(None, {"message": "Task exception was never retrieved",
                                    "exception": ValueError("password=hunter2")})
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log.read_text("utf-8")
    assert "Traceback (most recent call last)" in text and "RuntimeError: request failed" in text
    assert "ZeroDivisionError" in text and "ValueError" in text
    for secret in ("eyJabc", "xyz", "hunter2"):
        assert secret not in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


@pytest.mark.usefixtures("restore_logging", "restore_hooks")
def test_crash_dialog_shows_scrubbed_details_and_copies_them(tmp_path: Path, qtbot: QtBot) -> None:
    setup_logging("warning", tmp_path / "logs")
    reporter = install_crash_handler(lambda: None, dialog=True)
    try:
        raise RuntimeError("Bearer eyJabc.def.ghi client_secret=xyz")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
    dialog = reporter.dialog
    assert isinstance(dialog, CrashDialog) and dialog.isVisible()
    details = dialog.details.toPlainText()
    assert "RuntimeError" in details and "eyJabc" not in details and "xyz" not in details

    # A second error joins the open dialog instead of opening another.
    try:
        raise KeyError("second")
    except KeyError:
        sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
    assert reporter.dialog is dialog and "KeyError" in dialog.details.toPlainText()

    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == dialog.details.toPlainText()
    dialog.close()
    qtbot.waitUntil(lambda: reporter.dialog is None)


def test_full_run_log_has_no_secrets(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shot = tmp_path / "shot.png"
    result = run_app("--sandbox", "--activity", "0", "--log-level", "debug", "--new-window",
                     env=app_env(data, BCPV_SCREENSHOT=f"{shot}:4"), timeout=40)
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.exists()
    log = data / "logs" / LOG_FILE_NAME
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text("utf-8")
    assert "HTTP Request" in text  # debug logging really ran through the sign-in and the API calls
    assert not JWT.findall(text) and "Bearer ey" not in text and "eyJ" not in text
    # The sandbox's service-principal secret and Basic password (viewer/sandbox/identity.py, seed 1).
    assert "sbx~" not in text
    assert hashlib.sha256(b"1-key").hexdigest()[:44] not in text
    assert not re.search(r"""code_verifier["']?\s*[:=]\s*["'](?!\*\*\*)""", text)
    # No PEM block either: the service principal's private key travels in the sandbox info (issue 11).
    assert "-----BEGIN" not in text and "PRIVATE KEY-----" not in text
    # Every file the app wrote is private, in private folders.
    assert stat.S_IMODE((data / "settings.ini").stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700 and stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_windows_start_menu_shortcut_script_quotes_paths(tmp_path: Path) -> None:
    from ui.desktop import shortcut_script, start_menu_shortcut

    target = start_menu_shortcut(tmp_path / "Programs")
    assert target.name == "BC Payment Viewer.lnk"
    script = shortcut_script(target, [r"C:\Users\O'Brien\venv\Scripts\pythonw.exe", r"C:\My Apps\main.py"],
                             Path(r"C:\icons\icon.png"))
    assert "CreateShortcut('" in script and "O''Brien" in script  # PowerShell single-quote escaping
    assert "$s.Arguments = '\"C:\\My Apps\\main.py\"'" in script and script.endswith("$s.Save()")


PYSIDE_HOOK_PROBE = """
import inspect, json, linecache, sys
from ui.app import lighter_pyside_import_hook
lighter_pyside_import_hook()
import PySide6.QtCore
import calendar, ui.theme, viewer.query  # imported after PySide6: each goes through the feature hook
feature = sys.modules["shibokensupport.feature"]
mods = [calendar, ui.theme, viewer.query, inspect]
ours = [feature._mod_uses_pyside(m) for m in mods]
cached = sorted(m.__name__ for m in mods if m.__file__ in linecache.cache)
upstream = ["PySide6" in inspect.getsource(m) for m in mods]
print(json.dumps({"ours": ours, "upstream": upstream, "cached": cached}))
"""


def test_pyside_feature_hook_answers_alike_without_keeping_sources() -> None:
    """ui/app.py answers PySide's "does this module use PySide6?" from the file, as PySide would from
    inspect.getsource, but leaves no module source in linecache (~12 MiB in a session)."""
    done = subprocess.run([sys.executable, "-c", PYSIDE_HOOK_PROBE], capture_output=True, text=True, cwd=ROOT,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["ours"] == got["upstream"] == [False, True, False, False]
    assert got["cached"] == []
