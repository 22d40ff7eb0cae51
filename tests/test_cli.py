"""``main.py show`` end to end against the sandbox: stdout, stderr and exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from viewer.cli import main
from viewer.profiles import OnPremProfile, ServicePrincipalProfile
from viewer.sandbox import Sandbox
from viewer.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BCPV_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BCPV_PASSWORD", raising=False)
    monkeypatch.delenv("BCPV_CLIENT_SECRET", raising=False)
    return tmp_path


def onprem_url(sandbox: Sandbox, version: str = "v2.0") -> str:
    assert sandbox.info is not None
    demo = sandbox.store().demo
    return f"{sandbox.info.onprem_root}/{version}/companies({demo.company_id})/customerPayments({demo.payment_id})"


def cloud_url(sandbox: Sandbox, version: str = "v2.0") -> str:
    assert sandbox.info is not None
    demo = sandbox.store().demo
    return (f"{sandbox.info.api_root}/{version}/companies({demo.company_id})/customerPaymentJournals({demo.journal_id})"
            f"/customerPayments({demo.payment_id})")


def save_sp_profile(sandbox: Sandbox, name: str = "sandbox-app", credential: str = "secret") -> None:
    assert sandbox.info is not None
    Settings().save_profile(
        ServicePrincipalProfile(
            name=name,
            tenant=sandbox.info.tenant,
            client_id=sandbox.info.service_principal["client_id"],
            authority_host=sandbox.info.base_url,
            api_base=sandbox.info.base_url,
            ca_file=sandbox.info.ca_file,
            credential=credential,
        )
    )


def test_onprem_with_basic_auth_as_json(sandbox: Sandbox, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                        http: httpx.Client) -> None:
    assert sandbox.info is not None
    monkeypatch.setenv("BCPV_PASSWORD", sandbox.info.basic["password"])
    code, out, err = run("show", onprem_url(sandbox), "--user", sandbox.info.basic["user"],
                         "--ca-file", sandbox.info.ca_file, "--format", "json")
    assert (code, err) == (0, "")
    values = json.loads(out)
    expected = http.get(onprem_url(sandbox), auth=(sandbox.info.basic["user"], sandbox.info.basic["password"])).json()
    assert values == {k: v for k, v in expected.items() if not k.startswith("@odata.")}
    assert sandbox.info.basic["password"] not in out + err


def test_onprem_table_has_labels_and_blank_hints(sandbox: Sandbox, data_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox.info is not None
    monkeypatch.setenv("BCPV_PASSWORD", sandbox.info.basic["password"])
    code, out, err = run("show", onprem_url(sandbox, "beta"), "--user", sandbox.info.basic["user"],
                         "--ca-file", sandbox.info.ca_file)
    assert code == 0, err
    assert "Posting Date" in out and "Customer No." in out and "Payment" in out.splitlines()[0]
    assert "Contact Id" in out  # beta's field set


def test_wrong_password_is_exit_3_with_one_line(sandbox: Sandbox, data_dir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox.info is not None
    monkeypatch.setenv("BCPV_PASSWORD", "not-the-password")
    code, out, err = run("show", onprem_url(sandbox), "--user", "ADMIN", "--ca-file", sandbox.info.ca_file)
    assert code == 3 and out == ""
    assert err.count("\n") == 1 and err.startswith("error:") and "not-the-password" not in err


def test_cloud_with_service_principal(sandbox: Sandbox, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox.info is not None
    save_sp_profile(sandbox)
    monkeypatch.setenv("BCPV_CLIENT_SECRET", sandbox.info.service_principal["client_secret"])
    code, out, err = run("show", cloud_url(sandbox), "--profile", "sandbox-app", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["id"] == sandbox.store().demo.payment_id
    # Bare GUIDs are read against the profile's endpoint.
    demo = sandbox.store().demo
    code, out, err = run("show", f"{demo.company_id} {demo.payment_id}", "--profile", "sandbox-app",
                         "--format", "json")
    assert code == 0, err
    assert json.loads(out)["id"] == demo.payment_id


def test_not_found_after_posting_is_exit_4_with_correlation_id(sandbox: Sandbox, data_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox.info is not None
    save_sp_profile(sandbox)
    monkeypatch.setenv("BCPV_CLIENT_SECRET", sandbox.info.service_principal["client_secret"])
    demo = sandbox.store().demo
    sandbox.store().post_journal(demo.company_id, demo.journal_id)
    code, out, err = run("show", cloud_url(sandbox), "--profile", "sandbox-app")
    assert code == 4 and out == ""
    assert "posted or deleted" in err and "correlation id" in err.lower() and err.count("\n") == 1


def test_service_errors_are_exit_5(sandbox: Sandbox, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox.info is not None
    save_sp_profile(sandbox)
    monkeypatch.setenv("BCPV_CLIENT_SECRET", sandbox.info.service_principal["client_secret"])
    sandbox.add_fault("status", "customerPayments", status=500, count=10)
    code, out, err = run("show", cloud_url(sandbox), "--profile", "sandbox-app")
    assert code == 5 and out == "" and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv,words",
    [
        (["show", "not a url"], "error:"),
        (["show", "https://api.businesscentral.dynamics.com/v2.0/x/production/api/v2.0/salesInvoices(1)"], "error:"),
        (["show", "http://example.com/BC/api/v2.0/companies(1)"], "https"),
        (["show"], "error:"),
        (["show", "x", "--format", "xml"], "invalid choice"),
    ],
)
def test_bad_input_is_exit_2(argv: list[str], words: str, data_dir: Path) -> None:
    code, out, err = run(*argv)
    assert code == 2 and out == ""
    assert words in err and "Traceback" not in err and err.count("\n") == 1


def test_no_profile_for_a_cloud_url_is_exit_3(sandbox: Sandbox, data_dir: Path) -> None:
    code, _, err = run("show", cloud_url(sandbox))
    assert code == 3 and "--profile" in err


def test_url_for_another_server_is_refused_before_any_secret_is_sent(sandbox: Sandbox, data_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox.info is not None
    save_sp_profile(sandbox)
    monkeypatch.setenv("BCPV_CLIENT_SECRET", sandbox.info.service_principal["client_secret"])
    demo = sandbox.store().demo
    foreign = (f"https://api.businesscentral.dynamics.com/v2.0/{sandbox.info.tenant}/production/api/v2.0/"
               f"companies({demo.company_id})/customerPayments({demo.payment_id})")
    code, _, err = run("show", foreign, "--profile", "sandbox-app")
    assert code == 2 and "api.businesscentral.dynamics.com" in err


def test_real_entry_point_in_a_subprocess(sandbox: Sandbox, tmp_path: Path) -> None:
    assert sandbox.info is not None
    env = {**os.environ, "BCPV_DATA_DIR": str(tmp_path), "BCPV_PASSWORD": sandbox.info.basic["password"],
           "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "show", onprem_url(sandbox), "--user", "ADMIN",
         "--ca-file", sandbox.info.ca_file],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Document No." in done.stdout
    gone = onprem_url(sandbox).replace(sandbox.store().demo.payment_id, "00000000-0000-0000-0000-111111111111")
    missing = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "show", gone,
         "--user", "ADMIN", "--ca-file", sandbox.info.ca_file],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert missing.returncode == 4 and "Traceback" not in missing.stderr


def test_cloud_with_a_service_principal_certificate(sandbox: Sandbox, data_dir: Path,
                                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert sandbox.info is not None
    save_sp_profile(sandbox, "sandbox-cert", credential="certificate")
    code, _, err = run("show", cloud_url(sandbox), "--profile", "sandbox-cert")
    assert code == 3 and "BCPV_CLIENT_CERTIFICATE" in err  # nothing in the keyring here
    pem = tmp_path / "sp.pem"
    pem.write_text(sandbox.info.service_principal["certificate_pem"], encoding="utf-8")
    monkeypatch.setenv("BCPV_CLIENT_CERTIFICATE", str(pem))
    code, out, err = run("show", cloud_url(sandbox), "--profile", "sandbox-cert", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["id"] == sandbox.store().demo.payment_id


LEAN_PROBE = """
import json, sys
from ui.app import main
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "msal", "requests"))
print(json.dumps(heavy), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.parametrize("route", ["user", "profile"])
def test_show_with_basic_auth_imports_neither_qt_nor_msal(sandbox: Sandbox, tmp_path: Path, route: str) -> None:
    """Basic auth needs no MSAL, and neither reading a saved profile nor printing JSON needs Qt (their
    imports were most of the command's time: viewer/settings.py reads the shared file in plain Python)."""
    assert sandbox.info is not None
    env = {**os.environ, "BCPV_DATA_DIR": str(tmp_path), "BCPV_PASSWORD": sandbox.info.basic["password"]}
    env.pop("QT_QPA_PLATFORM", None)
    if route == "profile":
        profile = OnPremProfile(name="Server", base_url=sandbox.info.onprem_root.removesuffix("/api"),
                                user=sandbox.info.basic["user"], ca_file=sandbox.info.ca_file)
        Settings(tmp_path / "settings.ini").save_profile(profile)
        how = ["--profile", "Server"]
    else:
        how = ["--user", sandbox.info.basic["user"], "--ca-file", sandbox.info.ca_file]
    done = subprocess.run(
        [sys.executable, "-c", LEAN_PROBE, "show", onprem_url(sandbox), *how, "--format", "json"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == sandbox.store().demo.payment_id
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []
