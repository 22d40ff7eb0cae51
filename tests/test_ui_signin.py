"""The sign-in widget and the profile editor, driven like a person would, against the sandbox's identity."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.conftest import until
from ui.profile_dialog import SANDBOX_ENTRY, ProfileDialog
from ui.signin import SignInWidget
from viewer.auth import UNENCRYPTED_NOTICE
from viewer.connection import SandboxEndpoints
from viewer.profiles import CloudUserProfile, OnPremProfile, Profile, SandboxProfile, ServicePrincipalProfile
from viewer.sandbox import Sandbox
from viewer.sandbox.autologin import auto_browser
from viewer.settings import Settings
from viewer.workspace import Workspace


def endpoints(sandbox: Sandbox) -> SandboxEndpoints:
    assert sandbox.info is not None
    return SandboxEndpoints(
        authority=sandbox.info.authority,
        api_root=sandbox.info.api_root,
        environments_url=sandbox.info.environments_url,
        public_client_id=sandbox.info.public_client_id,
        ca_file=sandbox.info.ca_file,
    )


def cloud_profile(sandbox: Sandbox) -> CloudUserProfile:
    """A real cloud-user profile that happens to point at the sandbox (persisted token cache, like a tenant)."""
    assert sandbox.info is not None
    return CloudUserProfile(name="Cronus", tenant=sandbox.info.tenant_domain, client_id=sandbox.info.public_client_id,
                            authority_host=sandbox.info.base_url, api_base=sandbox.info.base_url,
                            ca_file=sandbox.info.ca_file)


Build = Callable[..., tuple[SignInWidget, Workspace]]


@pytest.fixture
def make_signin(qtbot: QtBot, qloop: qasync.QEventLoop, sandbox: Sandbox) -> Iterator[Build]:
    made: list[Workspace] = []

    def build(profile: Profile | None = None, browser: Callable[[str], object] | None = None,
              settings: Settings | None = None) -> tuple[SignInWidget, Workspace]:
        workspace = Workspace(settings or Settings(), sandbox=endpoints(sandbox), sandbox_browser=browser)
        widget = SignInWidget()
        qtbot.addWidget(widget)
        widget.bind(workspace)
        widget.show()
        made.append(workspace)
        qloop.run_until_complete(workspace.activate(profile or SandboxProfile(), silent=True))
        return widget, workspace

    yield build
    for workspace in made:
        qloop.run_until_complete(workspace.close())


def test_device_code_through_the_widget(make_signin: Build, qloop: qasync.QEventLoop, qtbot: QtBot,
                                        sandbox: Sandbox) -> None:
    widget, workspace = make_signin()
    assert workspace.identity is None and widget.code_button.isVisible()

    async def scenario() -> None:
        qtbot.mouseClick(widget.code_button, Qt.MouseButton.LeftButton)
        await until(widget.code_panel.isVisible)
        code = widget.code_label.text()
        assert code and widget.code_label.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
        assert "/devicelogin" in widget.link_label.text()
        assert "expires in" in widget.countdown_label.text()
        assert widget.cancel_button.isVisible() and not widget.code_button.isEnabled()
        assert sandbox.identity is not None
        sandbox.identity.approve_device_code(code)
        await until(lambda: workspace.identity is not None, timeout=15)
        await until(lambda: not widget.busy)

    qloop.run_until_complete(scenario())
    assert "Alex Wilber" in widget.account_label.text()
    assert not widget.code_panel.isVisible() and not widget.code_button.isVisible()
    assert widget.sign_out_button.isVisible()


def test_device_code_cancelled(make_signin: Build, qloop: qasync.QEventLoop, qtbot: QtBot) -> None:
    widget, workspace = make_signin()

    async def scenario() -> None:
        qtbot.mouseClick(widget.code_button, Qt.MouseButton.LeftButton)
        await until(widget.code_panel.isVisible)
        qtbot.mouseClick(widget.cancel_button, Qt.MouseButton.LeftButton)
        await until(lambda: not widget.busy)

    qloop.run_until_complete(scenario())
    assert workspace.identity is None
    assert widget.error_label.text() == "Sign-in cancelled." and not widget.code_panel.isVisible()
    assert widget.code_button.isEnabled() and widget.browser_button.isVisible()


def test_browser_sign_in_then_sign_out(make_signin: Build, qloop: qasync.QEventLoop, qtbot: QtBot,
                                      sandbox: Sandbox) -> None:
    widget, workspace = make_signin(browser=auto_browser(sandbox.ssl_context()))

    async def scenario() -> None:
        qtbot.mouseClick(widget.browser_button, Qt.MouseButton.LeftButton)
        await until(lambda: workspace.identity is not None, timeout=15)
        await until(lambda: not widget.busy)
        assert "alex.wilber@" in widget.account_label.text()
        qtbot.mouseClick(widget.sign_out_button, Qt.MouseButton.LeftButton)
        await until(lambda: workspace.identity is None)
        await until(lambda: not widget.busy)

    qloop.run_until_complete(scenario())
    assert widget.account_label.text() == "Not signed in" and widget.browser_button.isVisible()
    assert qloop.run_until_complete(workspace.accounts()) == []


def test_browser_sign_in_cancelled(make_signin: Build, qloop: qasync.QEventLoop, qtbot: QtBot) -> None:
    opened: list[str] = []
    widget, workspace = make_signin(browser=opened.append)  # a browser that never comes back

    async def scenario() -> None:
        qtbot.mouseClick(widget.browser_button, Qt.MouseButton.LeftButton)
        await until(lambda: bool(opened))
        assert widget.busy and widget.cancel_button.isVisible()
        qtbot.mouseClick(widget.cancel_button, Qt.MouseButton.LeftButton)
        await until(lambda: not widget.busy)

    qloop.run_until_complete(scenario())
    assert "/oauth2/v2.0/authorize" in opened[0]
    assert workspace.identity is None and widget.error_label.text() == "Sign-in cancelled."


def test_declined_consent_is_explained(make_signin: Build, qloop: qasync.QEventLoop, qtbot: QtBot,
                                       sandbox: Sandbox) -> None:
    widget, workspace = make_signin(browser=auto_browser(sandbox.ssl_context(), accept=False))

    async def scenario() -> None:
        qtbot.mouseClick(widget.browser_button, Qt.MouseButton.LeftButton)
        await until(lambda: not widget.busy and bool(widget.error_label.text()), timeout=15)

    qloop.run_until_complete(scenario())
    assert "declined" in widget.error_label.text().lower() and workspace.identity is None


def test_silent_start_without_flicker_and_unencrypted_notice(make_signin: Build, qloop: qasync.QEventLoop,
                                                            qtbot: QtBot, sandbox: Sandbox) -> None:
    settings = Settings()
    profile = cloud_profile(sandbox)
    settings.save_profile(profile)
    widget, workspace = make_signin(profile, settings=settings)
    assert workspace.identity is None  # nothing cached yet
    # Headless Linux has no Secret Service: the cache falls back to a 0600 file and the widget says so.
    assert widget.notice_label.isVisible() and UNENCRYPTED_NOTICE in widget.notice_label.text()

    async def sign_in() -> None:
        qtbot.mouseClick(widget.code_button, Qt.MouseButton.LeftButton)
        await until(widget.code_panel.isVisible)
        assert sandbox.identity is not None
        sandbox.identity.approve_device_code(widget.code_label.text())
        await until(lambda: workspace.identity is not None, timeout=15)

    qloop.run_until_complete(sign_in())
    qloop.run_until_complete(workspace.close())

    # Next start: silent, and the account appears without ever showing the sign-in buttons.
    again = Workspace(settings, sandbox=endpoints(sandbox))
    second = SignInWidget()
    qtbot.addWidget(second)
    second.bind(again)
    second.show()
    seen: list[object] = []
    again.identityChanged.connect(seen.append)
    buttons: list[bool] = []
    again.connectionChanged.connect(lambda _c: buttons.append(second.browser_button.isVisible()))
    qloop.run_until_complete(again.activate(profile, silent=True))
    assert again.identity is not None and len(seen) == 1 and seen[0] is not None
    assert "Alex Wilber" in second.account_label.text() and not second.browser_button.isVisible()
    qloop.run_until_complete(again.close())


def test_wrong_service_principal_secret_is_explained(qloop: qasync.QEventLoop, sandbox: Sandbox,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox.info is not None
    monkeypatch.setenv("BCPV_CLIENT_SECRET", "guess-xyz")
    workspace = Workspace(Settings())
    errors: list[object] = []
    workspace.failed.connect(errors.append)
    profile = ServicePrincipalProfile(name="app", tenant=sandbox.info.tenant,
                                      client_id=sandbox.info.service_principal["client_id"],
                                      authority_host=sandbox.info.base_url, api_base=sandbox.info.base_url,
                                      ca_file=sandbox.info.ca_file)
    with pytest.raises(Exception, match="secret"):
        qloop.run_until_complete(workspace.activate(profile))
    assert errors and "guess-xyz" not in str(errors[0])
    qloop.run_until_complete(workspace.close())


# ---- profile editor ---------------------------------------------------------------------------


@pytest.fixture
def dialog(qtbot: QtBot) -> Iterator[tuple[ProfileDialog, list[tuple[str, str, str]]]]:
    secrets: list[tuple[str, str, str]] = []
    dlg = ProfileDialog(Settings(), store_secret=lambda *a: secrets.append(a))
    qtbot.addWidget(dlg)
    dlg.open()
    yield dlg, secrets


def test_profile_editor_creates_each_kind_and_keeps_secrets_out_of_settings(
    dialog: tuple[ProfileDialog, list[tuple[str, str, str]]], qtbot: QtBot, tmp_path: Path, _isolated_app_data: Path
, qloop: qasync.QEventLoop) -> None:
    dlg, secrets = dialog
    assert dlg.objectName() == "profileDialog"
    dlg.new_profile()
    dlg.kind.setCurrentIndex(0)
    qtbot.keyClicks(dlg.name, "Contoso")
    qtbot.keyClicks(dlg.tenant, "contoso.com")
    qtbot.keyClicks(dlg.client_id, "11111111-2222-3333-4444-555555555555")
    assert qloop.run_until_complete(dlg.save_async())
    assert dlg.settings.profile("Contoso") == CloudUserProfile("Contoso", "contoso.com",
                                                              "11111111-2222-3333-4444-555555555555")

    dlg.new_profile()
    dlg.kind.setCurrentIndex(1)
    assert dlg.client_secret.isVisible()
    for edit, text in ((dlg.name, "Robot"), (dlg.tenant, "contoso.com"),
                       (dlg.client_id, "11111111-2222-3333-4444-666666666666"), (dlg.client_secret, "s3cr3t-value")):
        qtbot.keyClicks(edit, text)
    assert qloop.run_until_complete(dlg.save_async())
    assert secrets == [("Robot", "client_secret", "s3cr3t-value")] and dlg.client_secret.text() == ""

    dlg.new_profile()
    dlg.kind.setCurrentIndex(2)
    assert dlg.base_url.isVisible() and not dlg.client_secret.isVisible()
    for edit, text in ((dlg.name, "Server"), (dlg.base_url, "https://bc.contoso.local:7048/BC"), (dlg.user, "ADMIN"),
                       (dlg.password, "pa55word")):
        qtbot.keyClicks(edit, text)
    assert qloop.run_until_complete(dlg.save_async())
    assert isinstance(dlg.settings.profile("Server"), OnPremProfile)
    dlg.settings.sync()
    written = "".join(p.read_text(errors="replace") for p in _isolated_app_data.rglob("*") if p.is_file())
    assert "s3cr3t-value" not in written and "pa55word" not in written
    # The built-in sandbox heads the list (issue 13), then the saved profiles.
    assert [dlg.list.item(i).text() for i in range(dlg.list.count())] == [SANDBOX_ENTRY, "Contoso", "Robot", "Server"]


def test_profile_editor_validates_edits_renames_and_deletes(
    dialog: tuple[ProfileDialog, list[tuple[str, str, str]]], qtbot: QtBot
, qloop: qasync.QEventLoop) -> None:
    dlg, _ = dialog
    dlg.new_profile()
    qtbot.keyClicks(dlg.name, "Bad")
    qtbot.keyClicks(dlg.tenant, "not a tenant")
    qtbot.keyClicks(dlg.client_id, "11111111-2222-3333-4444-555555555555")
    assert not qloop.run_until_complete(dlg.save_async())
    assert dlg.message.text().startswith("✗") and "Tenant" in dlg.message.text()
    dlg.tenant.setText("contoso.com")
    dlg.kind.setCurrentIndex(2)
    dlg.base_url.setText("http://bc.contoso.local/BC")
    dlg.user.setText("ADMIN")
    assert not qloop.run_until_complete(dlg.save_async()) and "https" in dlg.message.text()
    dlg.base_url.setText("https://bc.contoso.local/BC")
    assert qloop.run_until_complete(dlg.save_async())
    dlg.name.setText("Renamed")
    assert qloop.run_until_complete(dlg.save_async())
    assert [p.name for p in dlg.settings.profiles()] == ["Renamed"]
    dlg.delete_profile()
    assert dlg.settings.profiles() == [] and dlg.list.count() == 1  # only the built-in sandbox is left


def test_profile_editor_takes_a_certificate_into_the_keyring(
    dialog: tuple[ProfileDialog, list[tuple[str, str, str]]], qtbot: QtBot, tmp_path: Path, sandbox: Sandbox
, qloop: qasync.QEventLoop) -> None:
    assert sandbox.info is not None
    dlg, secrets = dialog
    dlg.new_profile()
    dlg.kind.setCurrentIndex(1)
    dlg.credential.setCurrentIndex(dlg.credential.findData("certificate"))
    assert dlg.certificate_file.isVisible() and not dlg.client_secret.isVisible()
    pem = tmp_path / "sp.pem"
    pem.write_text(sandbox.info.service_principal["certificate_pem"], encoding="utf-8")
    for edit, text in ((dlg.name, "Robot cert"), (dlg.tenant, "contoso.com"),
                       (dlg.client_id, "11111111-2222-3333-4444-777777777777"), (dlg.certificate_file, str(pem))):
        qtbot.keyClicks(edit, text)
    assert qloop.run_until_complete(dlg.save_async()), dlg.message.text()
    saved = dlg.settings.profile("Robot cert")
    assert isinstance(saved, ServicePrincipalProfile) and saved.credential == "certificate"
    assert secrets == [("Robot cert", "certificate", sandbox.info.service_principal["certificate_pem"])]
    dlg.certificate_file.setText(str(tmp_path / "missing.pem"))
    assert not qloop.run_until_complete(dlg.save_async()) and "Cannot read" in dlg.message.text()
