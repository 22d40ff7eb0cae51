"""Windows and macOS code, tested here with the platform abstracted: large secrets, the token cache policy,
the single-instance lock, the broker wiring (a fake MSAL application), and the small conventions."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import qasync
from msal_extensions import FilePersistence
from msal_extensions.persistence import PersistenceDecryptionError
from PySide6.QtCore import QLockFile
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from ui import native
from ui.app import APP_ID, build_parser
from ui.desktop import ShortcutBlocked, _windows
from ui.profile_dialog import ProfileDialog
from ui.single_instance import LOCK_FILE, claim
from viewer import auth
from viewer.auth import MOVED_ASIDE_NOTICE, UNENCRYPTED_NOTICE, AuthFailed, TokenCacheLocked, TokenCacheStore
from viewer.errors import ViewerError
from viewer.paths import make_private_dir
from viewer.profiles import OnPremProfile
from viewer.settings import Settings
from viewer.vault import REFERENCE, Vault

PEM = "-----BEGIN PRIVATE KEY-----\n" + "A" * 1700 + "\n-----END PRIVATE KEY-----\n" \
      "-----BEGIN CERTIFICATE-----\n" + "B" * 1200 + "\n-----END CERTIFICATE-----\n"


# ---- large secrets ----------------------------------------------------------------------------------------


class FakeKeyring:
    def __init__(self, fail: bool = False) -> None:
        self.items: dict[tuple[str, str], str] = {}
        self.fail = fail

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.fail:
            raise RuntimeError("(1783, 'CredWrite', 'The stub received bad data.')")
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.items[(service, username)]  # KeyError when absent, as keyring raises PasswordDeleteError


class FakeProtected:
    """Stands in for DPAPI: the file holds a transformed text, never the secret as is."""

    fail = False

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, content: str) -> None:
        if self.fail:
            raise OSError("DPAPI refused")
        self.path.write_bytes(base64.b64encode(content.encode()[::-1]))

    def load(self) -> str:
        return base64.b64decode(self.path.read_bytes())[::-1].decode()


def vault(tmp_path: Path, platform: str, keyring: FakeKeyring, protector: type[FakeProtected] = FakeProtected) -> Vault:
    return Vault(lambda: tmp_path, platform=platform, keyring=lambda: keyring, protector=protector)


def test_a_certificate_too_large_for_credential_manager_goes_to_a_protected_file(tmp_path: Path) -> None:
    keyring = FakeKeyring()
    box = vault(tmp_path, "win32", keyring)
    assert not box.fits(PEM) and box.fits("short secret")
    box.store("Robot", "certificate", PEM)
    box.store("Robot", "client_secret", "short secret")
    reference = keyring.items[("bc-payment-viewer", "Robot:certificate")]
    assert reference.startswith(REFERENCE) and len(reference.encode("utf-16-le")) < 2560
    assert keyring.items[("bc-payment-viewer", "Robot:client_secret")] == "short secret"
    files = list((tmp_path / "secrets").iterdir())
    assert len(files) == 1 and "PRIVATE KEY" not in files[0].read_text()
    assert box.load("Robot", "certificate") == PEM
    assert box.load("Robot", "client_secret") == "short secret"
    assert box.delete("Robot", "certificate") and not list((tmp_path / "secrets").iterdir())
    assert box.load("Robot", "certificate") is None and not box.delete("Robot", "certificate")
    # Linux and macOS keyrings take it as it is.
    other = FakeKeyring()
    vault(tmp_path / "mac", "darwin", other).store("Robot", "certificate", PEM)
    assert other.items[("bc-payment-viewer", "Robot:certificate")] == PEM


def test_a_refused_secret_leaves_nothing_half_saved_and_says_what_to_do(tmp_path: Path) -> None:
    refusing = FakeKeyring(fail=True)
    with pytest.raises(ViewerError, match="Credential Manager"):
        vault(tmp_path, "win32", refusing).store("Robot", "certificate", PEM)
    assert not list((tmp_path / "secrets").iterdir())  # the protected file went with the failed reference
    with pytest.raises(ViewerError, match="Keychain"):
        vault(tmp_path, "darwin", refusing).store("Robot", "certificate", PEM)
    with pytest.raises(ViewerError, match="Secret Service"):
        vault(tmp_path, "linux", refusing).store("Robot", "password", "x")

    class Refusing(FakeProtected):
        fail = True

    keyring = FakeKeyring()
    with pytest.raises(ViewerError, match="DPAPI"):
        vault(tmp_path, "win32", keyring, Refusing).store("Robot", "certificate", PEM)
    assert keyring.items == {} and not list((tmp_path / "secrets").iterdir())
    # A reference whose file is gone reads as "no secret" (the app then asks for it), never as the reference.
    box = vault(tmp_path, "win32", keyring)
    box.store("Robot", "certificate", PEM)
    for path in (tmp_path / "secrets").iterdir():
        path.unlink()
    assert box.load("Robot", "certificate") is None


def test_the_profile_editor_saves_no_profile_when_the_secret_is_refused(qtbot: QtBot, qloop: qasync.QEventLoop) -> None:
    def refuse(profile: str, kind: str, value: str) -> None:
        raise ViewerError("The secret could not be saved. Windows Credential Manager did not accept it.")

    settings = Settings()

    def filled(store: Callable[[str, str, str], None]) -> ProfileDialog:
        dialog = ProfileDialog(settings, store_secret=store)
        qtbot.addWidget(dialog)
        dialog.kind.setCurrentIndex(2)
        for edit, text in ((dialog.name, "Onprem"), (dialog.base_url, "https://bc.example.com/BC"),
                           (dialog.user, "ADMIN"), (dialog.password, "pw"),
                           (dialog.proxy, "http://alice@proxy.example.com:8080"), (dialog.proxy_password, "ppw")):
            edit.setText(text)
        return dialog

    dialog = filled(refuse)
    assert not qloop.run_until_complete(dialog.save_async())
    assert "Credential Manager" in dialog.message.text()
    assert settings.profiles() == []
    stored: list[tuple[str, str, str]] = []
    threads: list[bool] = []

    def accept(*item: str) -> None:
        threads.append(threading.current_thread() is threading.main_thread())
        stored.append(item)  # type: ignore[arg-type]

    dialog = filled(accept)
    assert qloop.run_until_complete(dialog.save_async()), dialog.message.text()
    assert stored == [("Onprem", "password", "pw"), ("Onprem", "proxy_password", "ppw")]
    assert threads == [False, False]  # the keyring is never reached from the GUI thread
    saved = settings.profile("Onprem")
    assert isinstance(saved, OnPremProfile) and saved.proxy == "http://alice@proxy.example.com:8080"
    assert "ppw" not in settings.path.read_text(encoding="utf-8")


# ---- the token cache policy --------------------------------------------------------------------------------


class FakeEncrypted(FilePersistence):  # type: ignore[misc]
    """An 'encrypted' persistence: what it cannot parse, it cannot decrypt (like DPAPI after a password reset)."""

    is_encrypted = True

    def load(self) -> str:
        text = str(super().load())
        if not text.startswith("{"):
            raise PersistenceDecryptionError("cannot decrypt")
        return text


def refused(location: str) -> Any:
    raise RuntimeError("no secret store")


@pytest.mark.parametrize(("platform", "store"), [("win32", "DPAPI"), ("darwin", "Keychain")])
def test_windows_and_macos_never_fall_back_to_plain_text(tmp_path: Path, platform: str, store: str) -> None:
    with pytest.raises(AuthFailed, match=store):
        TokenCacheStore(tmp_path / "token-cache.bin", platform=platform, build=refused)
    assert list(tmp_path.iterdir()) == []


def test_linux_without_a_secret_service_keeps_the_announced_0600_file(tmp_path: Path) -> None:
    store = TokenCacheStore(tmp_path / "token-cache.bin", platform="linux", build=refused)
    assert not store.encrypted and store.notice == UNENCRYPTED_NOTICE
    assert store.path == tmp_path / "token-cache-unencrypted.bin"
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600


def test_an_undecryptable_cache_is_moved_aside_and_a_fresh_encrypted_one_started(tmp_path: Path) -> None:
    path = tmp_path / "token-cache.bin"
    path.write_bytes(b"\x01\x02 encrypted for the old password")
    store = TokenCacheStore(path, platform="win32", build=FakeEncrypted)
    assert store.encrypted and store.notice == MOVED_ASIDE_NOTICE
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("token-cache.bin.unreadable-")]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"\x01\x02")
    assert json.loads(path.read_text()) == {}
    again = TokenCacheStore(path, platform="win32", build=FakeEncrypted)  # one notice, not one per start
    assert again.encrypted and again.notice == ""


def test_a_lock_that_times_out_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import msal_extensions.token_cache as token_cache

    class Stuck:
        def __init__(self, path: str) -> None:
            pass

        def __enter__(self) -> None:
            raise token_cache.LockError("timed out")

        def __exit__(self, *exc: object) -> None:
            pass

    store = TokenCacheStore(tmp_path / "token-cache.bin", platform="win32", build=FakeEncrypted)
    monkeypatch.setattr(token_cache, "CrossPlatLock", Stuck)
    with pytest.raises(TokenCacheLocked, match=r"in use by another program.*token-cache\.bin\.lockfile"):
        store.cache.modify("AccessToken", {}, {})


# ---- one instance ---------------------------------------------------------------------------------------


def test_a_launch_waits_for_the_lock_holder_then_becomes_the_instance(tmp_path: Path, qapp: QApplication) -> None:
    other = QLockFile(str(tmp_path / LOCK_FILE))  # another launch, still starting: holds the lock, not listening
    assert other.tryLock(0)
    release = threading.Timer(0.3, other.unlock)
    release.start()
    server = claim(tmp_path, None, wait=5)
    try:
        assert server is not None and server.listening
        probe = QLockFile(str(tmp_path / LOCK_FILE))
        assert not probe.tryLock(0)  # the instance holds it while it listens
    finally:
        release.join()
        assert server is not None
        server.close()
    assert QLockFile(str(tmp_path / LOCK_FILE)).tryLock(0)  # and gives it back on close


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path, qapp: QApplication) -> None:
    code = ("import os, sys; from PySide6.QtCore import QLockFile; lock = QLockFile(sys.argv[1]); "
            "assert lock.tryLock(0); os._exit(0)")  # exits without unlocking, like a crash
    subprocess.run([sys.executable, "-c", code, str(tmp_path / LOCK_FILE)], check=True, timeout=30)
    assert (tmp_path / LOCK_FILE).exists()
    server = claim(tmp_path, None, wait=2)
    try:
        assert server is not None and server.listening
    finally:
        assert server is not None
        server.close()


# ---- the Windows broker (WAM) ------------------------------------------------------------------------------


class FakeMsalApp:
    """Records how it was built and answers an interactive sign-in like the broker does."""

    def __init__(self, client_id: str, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self._enable_broker = bool(kwargs.get("enable_broker_on_windows"))
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.broker_raises = False

    def acquire_token_interactive(self, scopes: list[str], **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("interactive", kwargs))
        if self.broker_raises:
            raise RuntimeError("pymsalruntime: WAM is broken here")
        return {"access_token": "at", "expires_in": 3600, "id_token_claims": {"preferred_username": "ada@contoso.com",
                                                                              "name": "Ada"}}

    def get_accounts(self) -> list[dict[str, Any]]:
        return [{"username": "ada@contoso.com", "home_account_id": "uid.tid", "realm": "tid"}]

    def initiate_auth_code_flow(self, scopes: list[str], **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("browser", kwargs))
        return {"error": "browser_stand_in", "error_description": "the browser flow was started"}


def user_session(authority: str, *, broker: bool, platform: str) -> auth.UserSession:
    return auth.UserSession(client_id="11111111-2222-3333-4444-555555555555", authority=authority,
                            cache=TokenCacheStore.in_memory(), broker=broker, platform=platform,
                            app_factory=FakeMsalApp, verify=False)


MICROSOFT = "https://login.microsoftonline.com/contoso.com"


def test_the_broker_only_on_windows_only_for_microsoft_hosts_only_when_opted_in() -> None:
    assert user_session(MICROSOFT, broker=True, platform="win32").app.kwargs["enable_broker_on_windows"] is True
    for authority, broker, platform in ((MICROSOFT, False, "win32"), (MICROSOFT, True, "darwin"),
                                        (MICROSOFT, True, "linux"), ("https://127.0.0.1:8443/tenant", True, "win32")):
        session = user_session(authority, broker=broker, platform=platform)
        assert "enable_broker_on_windows" not in session.app.kwargs and not session.broker_available


def test_broker_sign_in_uses_the_window_handle_off_the_gui_thread() -> None:
    import asyncio

    session = user_session(MICROSOFT, broker=True, platform="win32")
    threads: list[str] = []
    original = session.app.acquire_token_interactive

    def record(*args: Any, **kwargs: Any) -> dict[str, Any]:
        threads.append(threading.current_thread().name)
        return dict(original(*args, **kwargs))

    session.app.acquire_token_interactive = record
    account = asyncio.run(session.sign_in_browser(window_handle=4242))
    assert account.username == "ada@contoso.com"
    assert session.app.calls == [("interactive", {"parent_window_handle": 4242, "login_hint": None,
                                                  "prompt": "select_account"})]
    assert threads and threads[0] != threading.main_thread().name


@pytest.mark.parametrize("why", ["unavailable", "raises", "no window"])
def test_broker_falls_back_to_the_browser(why: str) -> None:
    import asyncio

    session = user_session(MICROSOFT, broker=True, platform="win32")
    if why == "unavailable":
        session.app._enable_broker = False  # what MSAL does when pymsalruntime is missing
    session.app.broker_raises = why == "raises"
    with pytest.raises(AuthFailed, match="browser flow was started"):
        asyncio.run(session.sign_in_browser(window_handle=None if why == "no window" else 4242))
    assert session.app.calls[-1][0] == "browser"


# ---- small conventions ---------------------------------------------------------------------------------------


def test_app_user_model_id_is_set_on_windows_only() -> None:
    calls: list[str] = []
    shell32 = SimpleNamespace(SetCurrentProcessExplicitAppUserModelID=lambda app_id: calls.append(app_id) or 0)
    assert native.set_app_user_model_id(APP_ID, "win32", shell32)
    assert calls == [APP_ID]
    assert not native.set_app_user_model_id(APP_ID, "linux", shell32) and calls == [APP_ID]


def test_fusion_dark_only_where_the_native_style_cannot_follow_the_system() -> None:
    assert native.needs_fusion_dark("win32", 19045, True)  # Windows 10 22H2, dark
    assert not native.needs_fusion_dark("win32", 19045, False)
    assert not native.needs_fusion_dark("win32", 22631, True)  # Windows 11 follows the system
    assert not native.needs_fusion_dark("darwin", 0, True) and not native.needs_fusion_dark("linux", 0, True)


def test_help_version_and_errors_go_to_a_message_box_without_a_console() -> None:
    shown: list[tuple[str, bool]] = []

    def show(text: str, error: bool) -> None:
        shown.append((text, error))

    parser = build_parser()
    assert native.parse_or_show(parser, ["--version"], console=False, show=show) == 0
    assert native.parse_or_show(parser, ["--help"], console=False, show=show) == 0
    assert native.parse_or_show(parser, ["--log-level", "chatty"], console=False, show=show) == 2
    assert shown[0][0].startswith("bc-payment-viewer ") and not shown[0][1]
    assert "--sandbox" in shown[1][0] and not shown[1][1]
    assert "chatty" in shown[2][0] and shown[2][1]
    parsed = native.parse_or_show(parser, ["--sandbox"], console=False, show=show)
    assert not isinstance(parsed, int) and parsed.sandbox and len(shown) == 3
    assert not native.has_console(None, None) or sys.stdout is not None


def test_a_blocked_powershell_is_explained(tmp_path: Path) -> None:
    def constrained(*args: Any, **kwargs: Any) -> None:
        raise subprocess.CalledProcessError(1, args[0], stderr="New-Object : Cannot create type. Only core types "
                                            "are supported in this language mode.")

    with pytest.raises(ShortcutBlocked, match=r"Constrained Language Mode.*bc-payment-viewer-setup\.exe"):
        _windows(True, tmp_path, run=constrained)

    def missing(*args: Any, **kwargs: Any) -> None:
        raise FileNotFoundError("powershell")

    with pytest.raises(ShortcutBlocked, match="FileNotFoundError"):
        _windows(True, tmp_path, run=missing)
    ran: list[list[str]] = []
    assert _windows(True, tmp_path, run=lambda argv, **kw: ran.append(argv)) == [tmp_path / "BC Payment Viewer.lnk"]
    assert ".ico" in ran[0][-1]  # a .lnk needs an .ico, not a PNG


def test_data_folders_are_private(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    make_private_dir(target, "linux")
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    target.chmod(0o755)
    make_private_dir(target, "linux")  # an existing folder made looser by hand is tightened again
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


def test_menus_follow_macos_roles_and_raw_values_does_not_clash_with_refresh(qtbot: QtBot) -> None:
    from PySide6.QtGui import QAction, QKeySequence

    from ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    assert window.profiles_action.menuRole() == QAction.MenuRole.PreferencesRole
    quit_action = next(a for a in window.findChildren(QAction) if a.text() == "&Quit")
    assert quit_action.menuRole() == QAction.MenuRole.QuitRole
    raw = window.payment.form.raw_action.shortcut()
    refresh_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Refresh)
    assert raw not in refresh_keys and raw != QKeySequence("Ctrl+R")  # Ctrl+R is Cmd+R (Refresh) on macOS
    opened: list[bool] = []
    window.sign_in.editProfilesRequested.connect(lambda: opened.append(True))
    window.profiles_action.trigger()
    assert opened == [True]


@pytest.mark.parametrize("platform", ["win32", "linux"])
def test_the_broker_is_offered_on_windows_for_microsoft_accounts(qtbot: QtBot, platform: str,
                                                                 qloop: qasync.QEventLoop) -> None:
    from viewer.profiles import CloudUserProfile

    dialog = ProfileDialog(Settings(), store_secret=lambda *item: None, platform=platform)
    qtbot.addWidget(dialog)
    dialog.kind.setCurrentIndex(0)
    assert dialog.use_broker.isEnabled() == (platform == "win32")
    dialog.name.setText("Contoso")
    dialog.tenant.setText("contoso.com")
    dialog.client_id.setText("11111111-2222-3333-4444-555555555555")
    dialog.use_broker.setChecked(True)
    assert qloop.run_until_complete(dialog.save_async()), dialog.message.text()
    saved = dialog.settings.profile("Contoso")
    assert isinstance(saved, CloudUserProfile) and saved.use_broker
