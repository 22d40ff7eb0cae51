"""The sandbox process itself: standalone start-up line, loopback TLS, control API and fault injection."""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from viewer.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent


def test_standalone_prints_one_json_line_then_serves(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "viewer.sandbox", "--seed", "7", "--token-lifetime", "60"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        for key in (
            "authority", "tenant", "environment", "api_root", "onprem_root", "ca_file",
            "public_client_id", "service_principal", "basic", "scope",
        ):
            assert key in info, key
        assert info["api_root"].startswith("https://127.0.0.1:")
        assert info["api_root"].endswith(f"/v2.0/{info['tenant']}/{info['environment']}/api")
        assert info["onprem_root"].endswith("/api")
        assert info["scope"] == "https://api.businesscentral.dynamics.com/.default"
        assert set(info["service_principal"]) == {"client_id", "client_secret", "certificate_pem"}
        assert set(info["basic"]) == {"user", "password"}
        # Accepting connections as soon as the line is out, with the printed CA and nothing else.
        with httpx.Client(verify=ssl.create_default_context(cafile=info["ca_file"])) as client:
            r = client.get(f"{info['authority']}/v2.0/.well-known/openid-configuration")
            assert r.status_code == 200
        with httpx.Client(verify=True) as client, pytest.raises(httpx.ConnectError):
            client.get(info["api_root"])  # the per-run CA is not publicly trusted
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert proc.returncode == 0


def test_standalone_rejects_nonsense_arguments() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "viewer.sandbox", "--activity", "-1"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr


def test_binds_loopback_only(sandbox: Sandbox) -> None:
    assert sandbox.info is not None
    assert sandbox.info.base_url.startswith("https://127.0.0.1:")


def test_two_sandboxes_have_independent_cas() -> None:
    with Sandbox(seed=3) as a, Sandbox(seed=3) as b:
        assert a.info and b.info
        with httpx.Client(verify=a.ssl_context()) as client, pytest.raises(httpx.ConnectError):
            client.get(b.info.control_url + "/traffic")


def test_status_fault_with_retry_after_fires_count_times(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    url = sandbox.info.api_root + "/v2.0/companies"
    sandbox.add_fault("status", r"/companies$", status=429, retry_after="3", count=2)
    for _ in range(2):
        r = http.get(url)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "3"
        err = r.json()["error"]
        assert err["code"] and "CorrelationId:" in err["message"]
    assert http.get(url).status_code == 401  # fault used up; no token, so the API itself answers


def test_status_fault_without_retry_after(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    sandbox.add_fault("status", "/companies", status=503)
    r = http.get(sandbox.info.api_root + "/v2.0/companies")
    assert r.status_code == 503 and "retry-after" not in r.headers


def test_html_error_page_fault(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    sandbox.add_fault("html", "/companies", status=502)
    r = http.get(sandbox.info.api_root + "/v2.0/companies")
    assert r.status_code == 502
    assert r.headers["content-type"].startswith("text/html")
    assert "<html>" in r.text


def test_reset_fault_drops_the_connection(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    sandbox.add_fault("reset", "/companies")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.get(sandbox.info.api_root + "/v2.0/companies")


def test_latency_fault_delays(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    sandbox.add_fault("latency", "/companies", latency_ms=300)
    started = time.monotonic()
    http.get(sandbox.info.api_root + "/v2.0/companies")
    # A lower bound only: the delay must have been applied (no upper bound on wall-clock).
    assert time.monotonic() - started >= 0.3


def _authed(sandbox: Sandbox) -> dict[str, str]:
    assert sandbox.identity is not None
    return {"Authorization": f"Bearer {sandbox.identity.issue_access_token()}"}


def test_truncated_and_invalid_json_faults(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    url = sandbox.info.api_root + "/v2.0/companies"
    sandbox.add_fault("truncate", "/companies")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.get(url, headers=_authed(sandbox))
    sandbox.add_fault("invalid_json", "/companies")
    r = http.get(url, headers=_authed(sandbox))
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    assert http.get(url, headers=_authed(sandbox)).json()["value"]


def test_expire_token_fault_gives_401_with_challenge(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    url = sandbox.info.api_root + "/v2.0/companies"
    sandbox.add_fault("expire_token", "/companies")
    r = http.get(url, headers=_authed(sandbox))
    assert r.status_code == 401 and "www-authenticate" in r.headers
    assert r.json()["error"]["code"] == "Authentication_InvalidCredentials"
    assert http.get(url, headers=_authed(sandbox)).status_code == 200


def test_faults_through_the_control_endpoint(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    control = sandbox.info.control_url
    r = http.post(control + "/faults", json={"kind": "status", "pattern": "/companies", "status": 504})
    assert r.status_code == 201
    assert [f["status"] for f in http.get(control + "/faults").json()] == [504]
    assert http.get(sandbox.info.api_root + "/v2.0/companies").status_code == 504
    assert http.get(control + "/faults").json() == []  # count 1: used up
    assert http.post(control + "/faults", json={"kind": "bogus"}).status_code == 400
    http.post(control + "/faults", json={"kind": "status", "status": 500, "count": None})
    assert http.delete(control + "/faults").status_code == 204
    assert http.get(control + "/faults").json() == []


def test_traffic_counts_requests_and_peak_in_flight(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    http.delete(sandbox.info.control_url + "/traffic")
    for _ in range(3):
        http.get(sandbox.info.api_root + "/v2.0/companies", headers=_authed(sandbox))
    stats = http.get(sandbox.info.control_url + "/traffic").json()
    path = next(p for p in stats["requests"] if p.endswith("/companies"))
    assert stats["requests"][path] == 3
    assert stats["peak_in_flight"][path] == 1
    http.get(sandbox.info.api_root + "/v2.0/companies(00000000-0000-0000-0000-000000000001)", headers=_authed(sandbox))
    order = http.get(sandbox.info.control_url + "/traffic").json()["order"]
    assert order[-4:] == [path] * 3 + [path + "(00000000-0000-0000-0000-000000000001)"]


def test_control_reset_restores_seeded_state(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    sandbox.add_fault("status", ".*", status=500, count=None)
    assert http.post(sandbox.info.control_url + "/reset").status_code == 204
    assert sandbox.faults.rules() == []


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_gets_a_token_and_the_seed_payment_from_the_standalone_sandbox() -> None:
    """The issue's "done when": a client that is not ours, with only the printed JSON line."""
    proc = subprocess.Popen([sys.executable, "-m", "viewer.sandbox", "--seed", "5"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        sp = info["service_principal"]

        def curl(*args: str) -> dict[str, object]:
            done = subprocess.run(["curl", "-sS", "--fail-with-body", "--cacert", info["ca_file"], *args],
                                  capture_output=True, text=True, timeout=30, check=True)
            return dict(json.loads(done.stdout))

        token = curl(f"{info['authority']}/oauth2/v2.0/token", "-d", "grant_type=client_credentials",
                     "-d", f"client_id={sp['client_id']}", "-d", f"client_secret={sp['client_secret']}",
                     "-d", f"scope={info['scope']}")["access_token"]
        bearer = ["-H", f"Authorization: Bearer {token}"]

        def first_id(url: str) -> str:
            values = curl(*bearer, url)["value"]
            assert isinstance(values, list) and values
            return str(values[0]["id"])

        beta = f"{info['api_root']}/beta"
        company = first_id(f"{beta}/companies")
        journal = first_id(f"{beta}/companies({company})/customerPaymentsJournals")
        lines = f"{beta}/companies({company})/customerPaymentsJournals({journal})/customerPayments"
        payment = first_id(lines)
        seed = curl(*bearer, f"{lines}({payment})")
        fields = {k for k in seed if not k.startswith("@odata.")}
        assert len(fields) >= 14 and {"contactId", "appliesToInvoiceNumber", "comment"} <= fields
        v2 = curl(*bearer, f"{info['api_root']}/v2.0/companies({company})/customerPaymentJournals({journal})"
                            f"/customerPayments({payment})")
        assert {"journalId", "journalDisplayName"} <= set(v2) and "contactId" not in v2
    finally:
        proc.terminate()
        proc.wait(timeout=15)
