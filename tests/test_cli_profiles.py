"""``bc-payment-viewer-cli profile add|list|remove`` against the sandbox (issue 13): every profile kind, secrets into
the keyring exactly as the app's profile editor puts them, plain-words errors with the HTTP status, bare-GUID help, and
a profile added in the terminal signing in from the window."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
import qasync
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from tests.conftest import until
from tests.test_cli import cloud_url, onprem_url
from ui.app import build_parser
from ui.controller import AppController
from ui.main_window import MainWindow
from viewer import cli_profiles, connection
from viewer.auth import KEYRING_SERVICE
from viewer.cli import main
from viewer.profiles import CloudUserProfile, OnPremProfile, ServicePrincipalProfile
from viewer.sandbox import Sandbox
from viewer.settings import LAST_PROFILE, Settings


class MemoryKeyring(KeyringBackend):
    """A keyring for the test process: the machine here has none (keyring's fail backend).

    Negative priority: keyring registers every subclass, and must never pick this one by itself."""

    priority = -1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    store = MemoryKeyring()
    keyring.set_keyring(store)
    yield store
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BCPV_PASSWORD", "BCPV_CLIENT_SECRET", "BCPV_CLIENT_CERTIFICATE"):
        monkeypatch.delenv(name, raising=False)


def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err, stdin=io.StringIO(stdin))
    return code, out.getvalue(), err.getvalue()


def add_sp(sandbox: Sandbox, name: str, *extra: str, stdin: str = "") -> tuple[int, str, str]:
    assert sandbox.info is not None
    return run("profile", "add", "service-principal", name, "--tenant", sandbox.info.tenant,
               "--client-id", sandbox.info.service_principal["client_id"], "--authority", sandbox.info.base_url,
               "--api-base", sandbox.info.base_url, "--ca-file", sandbox.info.ca_file, *extra, stdin=stdin)


def test_env_names_agree_with_the_connection() -> None:
    assert cli_profiles.ENV_CLIENT_SECRET == connection.ENV_CLIENT_SECRET
    assert cli_profiles.ENV_PASSWORD == connection.ENV_PASSWORD


def test_service_principal_secret_from_stdin_goes_to_the_keyring_and_show_uses_it(
    sandbox: Sandbox, memory_keyring: MemoryKeyring, clean_env: None
) -> None:
    assert sandbox.info is not None
    secret = sandbox.info.service_principal["client_secret"]
    code, out, err = add_sp(sandbox, "Robot", "--secret-stdin", stdin=secret + "\n")
    assert (code, err) == (0, "")
    assert "Robot" in out and "keyring" in out and secret not in out
    # The editor's place and name for it (ui/profile_dialog.py → viewer.auth.store_secret).
    assert memory_keyring.items == {(KEYRING_SERVICE, "Robot:client_secret"): secret}
    saved = Settings().profile("Robot")
    assert isinstance(saved, ServicePrincipalProfile) and saved.credential == "secret"
    settings_text = "".join(p.read_text(errors="replace") for p in Path(Settings.default_path()).parent.rglob("*")
                            if p.is_file())
    assert secret not in settings_text
    code, out, err = run("show", cloud_url(sandbox), "--profile", "Robot", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["id"] == sandbox.store().demo.payment_id


def test_service_principal_certificate_from_a_file(sandbox: Sandbox, memory_keyring: MemoryKeyring, clean_env: None,
                                                   tmp_path: Path) -> None:
    assert sandbox.info is not None
    pem = tmp_path / "robot.pem"
    pem.write_text(sandbox.info.service_principal["certificate_pem"], encoding="utf-8")
    code, _, err = add_sp(sandbox, "Robot cert", "--certificate", str(pem))
    assert code == 0, err
    assert memory_keyring.items == {(KEYRING_SERVICE, "Robot cert:certificate"):
                                    sandbox.info.service_principal["certificate_pem"]}
    pem.unlink()  # the content was kept, not the path
    code, _, err = run("show", cloud_url(sandbox), "--profile", "Robot cert", "--format", "json")
    assert code == 0, err
    code, _, err = add_sp(sandbox, "Bad cert", "--certificate", str(tmp_path / "missing.pem"))
    assert code == 2 and "Cannot read the certificate file" in err and Settings().profile("Bad cert") is None


def test_onprem_password_from_the_environment_and_a_cloud_user(sandbox: Sandbox, memory_keyring: MemoryKeyring,
                                                                clean_env: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox.info is not None
    monkeypatch.setenv("BCPV_PASSWORD", sandbox.info.basic["password"])
    server = sandbox.info.onprem_root.removesuffix("/api")
    code, _, err = run("profile", "add", "onprem", "Server", "--server", server, "--user", sandbox.info.basic["user"],
                       "--ca-file", sandbox.info.ca_file)
    assert code == 0, err
    assert memory_keyring.items == {(KEYRING_SERVICE, "Server:password"): sandbox.info.basic["password"]}
    monkeypatch.delenv("BCPV_PASSWORD")
    code, out, err = run("show", onprem_url(sandbox), "--profile", "Server", "--format", "json")
    assert code == 0, err

    code, out, err = run("profile", "add", "cloud", "Contoso", "--tenant", "contoso.com",
                         "--client-id", "11111111-2222-3333-4444-555555555555", "--environment", "sandbox")
    assert code == 0, err
    assert Settings().profile("Contoso") == CloudUserProfile("Contoso", "contoso.com",
                                                            "11111111-2222-3333-4444-555555555555", "sandbox")
    code, out, _ = run("profile", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "WHERE"]
    assert any(line.startswith("Server") and "onprem" in line for line in lines)
    assert any(line.startswith("Contoso") and "contoso.com/sandbox" in line for line in lines)
    code, out, _ = run("profile", "list", "--format", "json")
    assert {p["name"] for p in json.loads(out)} == {"Server", "Contoso"}
    assert sandbox.info.basic["password"] not in out

    code, out, err = run("profile", "remove", "Server")
    assert code == 0 and "keyring" in out
    assert memory_keyring.items == {} and Settings().profile("Server") is None
    assert run("profile", "remove", "Server")[0] == 2


def test_input_mistakes_are_one_line_and_exit_2(sandbox: Sandbox, memory_keyring: MemoryKeyring,
                                                clean_env: None) -> None:
    for argv in (
        ("profile", "add", "cloud", "X", "--tenant", "not a tenant", "--client-id", "11111111-2222-3333-4444-5555555"),
        ("profile", "add", "onprem", "Sandbox", "--server", "https://bc:7048/BC", "--user", "A"),  # the built-in's name
        ("profile", "add", "onprem", "S", "--server", "http://bc.contoso.com:7048/BC", "--user", "A"),
        ("profile", "add", "onprem", "S", "--server", "https://bc:7048/BC"),  # no --user
        ("profile", "frobnicate"),
    ):
        code, out, err = run(*argv)
        assert code == 2 and out == "" and err.startswith("error:") and err.count("\n") == 1, (argv, err)
    code, _, err = add_sp(sandbox, "Robot", "--secret-stdin", stdin="")
    assert code == 2 and "stdin" in err
    assert add_sp(sandbox, "Robot")[0] == 0
    code, _, err = add_sp(sandbox, "Robot")
    assert code == 2 and "--replace" in err
    assert add_sp(sandbox, "Robot", "--replace")[0] == 0


def test_no_keyring_saves_nothing_and_says_what_to_do(sandbox: Sandbox, clean_env: None, no_keyring: None) -> None:
    code, _, err = add_sp(sandbox, "Robot", "--secret-stdin", stdin="s3cr3t-value\n")
    assert code == 5 and "keyring" in err.lower() and "BCPV_CLIENT_SECRET" in err and "s3cr3t" not in err
    assert Settings().profile("Robot") is None
    # Without a secret, the profile is saved and `show` reads the secret from the environment (a build machine).
    code, out, err = add_sp(sandbox, "Robot")
    assert code == 0 and "BCPV_CLIENT_SECRET" in out


def test_wrong_credentials_in_plain_words_with_the_http_status(sandbox: Sandbox, memory_keyring: MemoryKeyring,
                                                               clean_env: None,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox.info is not None
    monkeypatch.setenv("BCPV_PASSWORD", "not-the-password")
    code, out, err = run("show", onprem_url(sandbox), "--user", "ADMIN", "--ca-file", sandbox.info.ca_file)
    assert code == 3 and out == ""
    assert err == "error: Wrong user name or password (HTTP 401)\n"
    assert add_sp(sandbox, "Robot", "--secret-stdin", stdin="not-the-secret\n")[0] == 0
    code, out, err = run("show", cloud_url(sandbox), "--profile", "Robot")
    assert code == 3 and out == "" and "not-the-secret" not in err
    assert "client secret is wrong" in err and "HTTP 401" in err and "AADSTS7000215" in err, err


def test_bare_guids_say_which_profile_and_company_they_need(sandbox: Sandbox, memory_keyring: MemoryKeyring,
                                                            clean_env: None) -> None:
    assert sandbox.info is not None
    demo = sandbox.store().demo
    code, out, err = run("show", demo.payment_id)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "--profile NAME" in err and "company" in err and "profile add" in err and "sign in first" not in err
    code, _, err = run("show", f"{demo.company_id} {demo.payment_id}")
    assert code == 2 and "--profile NAME" in err and "single GUID" not in err
    assert add_sp(sandbox, "Robot", "--secret-stdin", stdin=sandbox.info.service_principal["client_secret"])[0] == 0
    code, _, err = run("show", demo.payment_id, "--profile", "Robot")
    assert code == 2 and "COMPANY-GUID PAYMENT-GUID" in err and "open a company first" not in err
    code, out, err = run("show", f"{demo.company_id} {demo.payment_id}", "--profile", "Robot", "--format", "json")
    assert code == 0, err


def test_a_profile_added_in_the_terminal_signs_in_from_the_window(
    sandbox: Sandbox, memory_keyring: MemoryKeyring, clean_env: None, qloop: qasync.QEventLoop
) -> None:
    assert sandbox.info is not None
    code, _, err = add_sp(sandbox, "Robot", "--secret-stdin", stdin=sandbox.info.service_principal["client_secret"])
    assert code == 0, err
    window = MainWindow()
    window.show()
    settings = Settings()
    controller = AppController(window, build_parser().parse_args(["--profile", "Robot"]), settings=settings)
    try:
        qloop.run_until_complete(controller.start())
        qloop.run_until_complete(until(lambda: controller.navigation.payments.rowCount() > 0, timeout=20))
        assert controller.workspace is not None and controller.workspace.identity is not None
        assert controller.workspace.identity.title == "Service principal"
        assert window.sign_in.profile_combo.currentText() == "Robot"
        assert settings.get(LAST_PROFILE) == "Robot"
        # …and the window's profile list is the terminal's: the editor shows it, under the built-in sandbox.
        controller.show_profile_dialog()
        dialog = controller._profile_dialog
        assert dialog is not None
        assert [dialog.list.item(i).text() for i in range(dialog.list.count())][1:] == ["Robot"]
        dialog.reject()
    finally:
        qloop.run_until_complete(controller.shutdown())
        window.close()
        window.deleteLater()


def test_onprem_profile_kind_round_trips() -> None:
    # The list's json is profile_to_dict: what the settings file holds, so a script can read it back.
    profile = OnPremProfile(name="S", base_url="https://bc:7048/BC", user="A", tenant="t1")
    assert cli_profiles._where(profile) == "https://bc:7048/BC (tenant t1)"
