"""The sandbox identity platform at the protocol level, driven by plain httpx (no MSAL, no app code)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from viewer.sandbox import Sandbox
from viewer.sandbox.autologin import form_action, form_fields

BC = "https://api.businesscentral.dynamics.com"


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _config(sandbox: Sandbox, http: httpx.Client, tenant: str | None = None) -> dict[str, str]:
    assert sandbox.info is not None
    tenant = tenant or sandbox.info.tenant
    response = http.get(f"{sandbox.info.base_url}/{tenant}/v2.0/.well-known/openid-configuration")
    response.raise_for_status()
    return dict(response.json())


def _authorize(sandbox: Sandbox, http: httpx.Client, challenge: str, *, accept: bool = True,
               account: str | None = None, response_mode: str = "query") -> dict[str, list[str]]:
    assert sandbox.info is not None
    config = _config(sandbox, http)
    params = {
        "client_id": sandbox.info.public_client_id,
        "response_type": "code",
        "redirect_uri": "http://localhost:53123",
        "scope": f"{BC}/.default openid profile offline_access",
        "state": "s-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "response_mode": response_mode,
    }
    page = http.get(config["authorization_endpoint"], params=params)
    assert page.status_code == 200 and "Accept" in page.text
    fields = form_fields(page.text)
    if account:
        fields["account"] = account
    fields["action"] = "accept" if accept else "cancel"
    answer = http.post(httpx.URL(str(page.url)).join(form_action(page.text) or ""), data=fields)
    if response_mode == "form_post":
        assert answer.status_code == 200 and form_action(answer.text) == "http://localhost:53123"
        return {k: [v] for k, v in form_fields(answer.text).items()}
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith("http://localhost:53123?")
    return parse_qs(urlsplit(location).query)


def test_discovery_for_guid_domain_and_organizations(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    base = sandbox.info.base_url
    for tenant in (sandbox.info.tenant, sandbox.info.tenant_domain):
        config = _config(sandbox, http, tenant)
        assert config["issuer"] == f"{base}/{sandbox.info.tenant}/v2.0"
        assert config["token_endpoint"] == f"{base}/{sandbox.info.tenant}/oauth2/v2.0/token"
        assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]
    # Entra's multi-tenant aliases: their own endpoints, and the issuer as a template filled from "tid".
    for alias in ("organizations", "common"):
        config = _config(sandbox, http, alias)
        assert config["issuer"] == f"{base}/{{tenantid}}/v2.0"
        assert config["token_endpoint"] == f"{base}/{alias}/oauth2/v2.0/token"
        assert config["jwks_uri"] == f"{base}/{alias}/discovery/v2.0/keys"
        assert {"client_secret_post", "client_secret_basic", "private_key_jwt"} <= set(
            config["token_endpoint_auth_methods_supported"])
    unknown = http.get(f"{sandbox.info.base_url}/contoso.example/v2.0/.well-known/openid-configuration")
    assert unknown.status_code == 400 and unknown.json()["error_codes"] == [90002]


def test_auth_code_with_pkce_gives_verifiable_tokens(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    verifier, challenge = _pkce()
    answer = _authorize(sandbox, http, challenge, account=sandbox.info.users[1]["username"])
    assert answer["state"] == ["s-1"]
    config = _config(sandbox, http)
    form = {
        "grant_type": "authorization_code",
        "client_id": sandbox.info.public_client_id,
        "code": answer["code"][0],
        "redirect_uri": "http://localhost:53123",
        "code_verifier": verifier,
        "scope": f"{BC}/.default openid profile offline_access",
        "client_info": "1",
    }
    tokens = http.post(config["token_endpoint"], data=form).json()
    assert {"access_token", "refresh_token", "id_token", "client_info", "expires_in"} <= tokens.keys()
    keys = http.get(config["jwks_uri"]).json()["keys"]
    public = jwt.PyJWK(keys[0]).key
    # Business Central's tokens are v1.0 ones (issuer sts.windows.net/{tid}/); the id token is v2.0.
    claims = jwt.decode(tokens["access_token"], public, algorithms=["RS256"], audience=BC,
                        issuer=f"https://sts.windows.net/{sandbox.info.tenant}/")
    assert claims["upn"] == sandbox.info.users[1]["username"]
    id_claims = jwt.decode(tokens["id_token"], public, algorithms=["RS256"], audience=sandbox.info.public_client_id,
                           issuer=config["issuer"])
    assert id_claims["nonce"] == "n-1" and id_claims["tid"] == sandbox.info.tenant
    # A code is good once.
    again = http.post(config["token_endpoint"], data=form)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_form_post_answer_and_cancel(sandbox: Sandbox, http: httpx.Client) -> None:
    _, challenge = _pkce()
    posted = _authorize(sandbox, http, challenge, response_mode="form_post")
    assert posted["code"][0] and posted["state"] == ["s-1"]
    declined = _authorize(sandbox, http, challenge, accept=False)
    assert declined["error"] == ["access_denied"]
    assert declined["error_description"][0].startswith("AADSTS65004")


def test_wrong_code_verifier_is_refused(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    _, challenge = _pkce()
    answer = _authorize(sandbox, http, challenge)
    response = http.post(
        _config(sandbox, http)["token_endpoint"],
        data={"grant_type": "authorization_code", "client_id": sandbox.info.public_client_id,
              "code": answer["code"][0], "redirect_uri": "http://localhost:53123", "code_verifier": "not-it"},
    )
    assert response.status_code == 400 and "Code_Verifier" in response.json()["error_description"]


def test_authorize_refuses_foreign_redirects_and_missing_pkce(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    endpoint = _config(sandbox, http)["authorization_endpoint"]
    base = {"client_id": sandbox.info.public_client_id, "response_type": "code", "scope": "openid",
            "code_challenge": "x" * 43, "code_challenge_method": "S256"}
    foreign = http.get(endpoint, params={**base, "redirect_uri": "https://evil.example/cb"})
    assert foreign.status_code == 400 and "AADSTS50011" in foreign.text
    no_pkce = http.get(endpoint, params={**base, "redirect_uri": "http://localhost", "code_challenge": ""})
    assert no_pkce.status_code == 400
    unknown_app = http.get(endpoint, params={**base, "redirect_uri": "http://localhost", "client_id": "nope"})
    assert unknown_app.status_code == 400 and "AADSTS700016" in unknown_app.text


def test_device_code_pending_then_approved_on_the_page(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    config = _config(sandbox, http)
    flow = http.post(config["device_authorization_endpoint"],
                     data={"client_id": sandbox.info.public_client_id, "scope": f"{BC}/.default offline_access"}).json()
    assert flow["verification_uri"] == sandbox.info.device_login_url and flow["interval"] >= 1
    poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": sandbox.info.public_client_id,
            "device_code": flow["device_code"]}
    pending = http.post(config["token_endpoint"], data=poll)
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    assert http.get(flow["verification_uri"]).status_code == 200
    wrong = http.post(flow["verification_uri"], data={"user_code": "WRONGCODE", "action": "accept"})
    assert wrong.status_code == 400
    page = http.post(flow["verification_uri"], data={"user_code": flow["user_code"].lower(), "action": "accept",
                                                      "account": sandbox.info.users[1]["username"]})
    assert page.status_code == 200 and "signed in" in page.text
    tokens = http.post(config["token_endpoint"], data=poll).json()
    claims = sandbox._verify_bc_token(tokens["access_token"])
    assert claims["upn"] == sandbox.info.users[1]["username"]
    assert http.post(config["token_endpoint"], data=poll).status_code == 400  # used once


def test_control_endpoint_approves_and_denies_device_codes(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None and sandbox.identity is not None
    config = _config(sandbox, http)
    flow = http.post(config["device_authorization_endpoint"],
                     data={"client_id": sandbox.info.public_client_id, "scope": f"{BC}/.default"}).json()
    assert sandbox.identity.pending_user_codes() == [flow["user_code"]]
    denied = http.post(f"{sandbox.info.control_url}/devicecode/deny", json={"user_code": flow["user_code"]})
    assert denied.status_code < 300
    poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": sandbox.info.public_client_id,
            "device_code": flow["device_code"]}
    assert http.post(config["token_endpoint"], data=poll).json()["error"] == "authorization_declined"
    with pytest.raises(KeyError):
        sandbox.identity.approve_device_code("NOSUCHCODE")


def test_client_credentials_secret_and_scope_checks(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    endpoint = _config(sandbox, http)["token_endpoint"]
    sp = sandbox.info.service_principal
    good = http.post(endpoint, data={"grant_type": "client_credentials", "client_id": sp["client_id"],
                                     "client_secret": sp["client_secret"], "scope": f"{BC}/.default"})
    claims = sandbox._verify_bc_token(good.json()["access_token"])
    assert claims["idtyp"] == "app" and "refresh_token" not in good.json()
    basic = base64.b64encode(f"{sp['client_id']}:{sp['client_secret']}".encode()).decode()
    assert http.post(endpoint, headers={"Authorization": f"Basic {basic}"},
                     data={"grant_type": "client_credentials", "scope": f"{BC}/.default"}).status_code == 200
    bad = http.post(endpoint, data={"grant_type": "client_credentials", "client_id": sp["client_id"],
                                    "client_secret": "guess", "scope": f"{BC}/.default"})
    assert bad.status_code == 401 and bad.json()["error_codes"] == [7000215] and "guess" not in bad.text
    scope = http.post(endpoint, data={"grant_type": "client_credentials", "client_id": sp["client_id"],
                                      "client_secret": sp["client_secret"], "scope": f"{BC}/user_impersonation"})
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"


def test_unsupported_grant(sandbox: Sandbox, http: httpx.Client) -> None:
    endpoint = _config(sandbox, http)["token_endpoint"]
    response = http.post(endpoint, data={"grant_type": "password", "username": "x", "password": "y"})
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
