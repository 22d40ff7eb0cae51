"""Token shapes: what the sandbox issues for Business Central looks like what Entra issues for it.

Entra issues v1.0 access tokens for the Business Central resource (its app registration accepts v1.0):
issuer ``https://sts.windows.net/{tid}/``, whole-second times, ``appid``/``appidacr`` and no ``azp``,
``scp`` for users, ``roles`` for apps. Its JWKS carries each key's certificate (``x5c``) and the
certificate's SHA-1 thumbprint as ``x5t``. Checked here with PyJWT and cryptography, not the sandbox's code.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from viewer.sandbox import Sandbox
from viewer.sandbox.tokens import TokenError

BC = "https://api.businesscentral.dynamics.com"


def _keys(sandbox: Sandbox, http: httpx.Client) -> list[dict[str, Any]]:
    assert sandbox.info is not None
    config = http.get(f"{sandbox.info.authority}/v2.0/.well-known/openid-configuration").json()
    keys = http.get(config["jwks_uri"]).json()["keys"]
    assert isinstance(keys, list)
    return keys


def _decode(sandbox: Sandbox, http: httpx.Client, token: str) -> dict[str, Any]:
    key = jwt.PyJWK(_keys(sandbox, http)[0]).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=BC,
                        issuer=f"https://sts.windows.net/{sandbox.tenant_id}/")
    assert isinstance(claims, dict)
    return claims


def test_jwks_has_the_certificate_and_its_thumbprint(sandbox: Sandbox, http: httpx.Client) -> None:
    keys = _keys(sandbox, http)
    assert len(keys) == 1
    key = keys[0]
    der = base64.b64decode(key["x5c"][0])
    cert = x509.load_der_x509_certificate(der)
    thumbprint = base64.urlsafe_b64encode(hashlib.sha1(der, usedforsecurity=False).digest()).rstrip(b"=").decode()
    assert key["x5t"] == thumbprint and key["kid"] == thumbprint
    assert key["kty"] == "RSA" and key["use"] == "sig"
    # The certificate holds the very key the JWK describes.
    jwk_public = jwt.PyJWK(key).key
    pem = serialization.Encoding.PEM
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert cert.public_key().public_bytes(pem, spki) == jwk_public.public_bytes(pem, spki)
    # Tokens name the key in their header the way Entra's do.
    assert sandbox.identity is not None
    header = jwt.get_unverified_header(sandbox.identity.issue_access_token())
    assert header["kid"] == thumbprint and header["x5t"] == thumbprint and header["alg"] == "RS256"


def test_user_token_for_business_central_is_v1_shaped(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.identity is not None and sandbox.info is not None
    claims = _decode(sandbox, http, sandbox.identity.issue_access_token())
    assert claims["ver"] == "1.0" and claims["aud"] == BC
    assert claims["iss"] == f"https://sts.windows.net/{sandbox.tenant_id}/"
    for name in ("iat", "nbf", "exp"):
        assert type(claims[name]) is int, name
    assert claims["appid"] == sandbox.info.public_client_id and claims["appidacr"] == "0"
    assert "azp" not in claims and "azpacr" not in claims and "preferred_username" not in claims
    assert claims["scp"] == "Financials.ReadWrite.All user_impersonation" and "roles" not in claims
    assert claims["upn"] == claims["unique_name"] == sandbox.info.users[0]["username"]
    assert claims["tid"] == sandbox.tenant_id and claims["oid"] == claims["sub"]


@pytest.mark.parametrize("with_certificate", [False, True])
def test_app_token_for_business_central_is_v1_shaped(sandbox: Sandbox, http: httpx.Client,
                                                     with_certificate: bool) -> None:
    assert sandbox.info is not None
    sp = sandbox.info.service_principal
    token_url = f"{sandbox.info.authority}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": sp["client_id"], "scope": f"{BC}/.default"}
    if with_certificate:
        key = serialization.load_pem_private_key(sp["certificate_pem"].encode(), password=None)
        assertion = jwt.encode({"aud": token_url, "iss": sp["client_id"], "sub": sp["client_id"],
                                "exp": 4102444800, "jti": "t-1"}, key, algorithm="RS256")  # type: ignore[arg-type]
        form |= {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                 "client_assertion": assertion}
    else:
        form["client_secret"] = sp["client_secret"]
    answer = http.post(token_url, data=form)
    assert answer.status_code == 200, answer.text
    claims = _decode(sandbox, http, answer.json()["access_token"])
    assert claims["ver"] == "1.0" and claims["appid"] == sp["client_id"]
    assert claims["appidacr"] == ("2" if with_certificate else "1")
    assert "azp" not in claims and "scp" not in claims
    assert "API.ReadWrite.All" in claims["roles"] and claims["idtyp"] == "app"
    assert claims["idp"] == claims["iss"] and type(claims["iat"]) is int


def test_forced_expiry_spares_tokens_issued_right_after(sandbox: Sandbox) -> None:
    # Whole-second iat must not make a token fetched in the same second as the forced expiry look expired.
    assert sandbox.identity is not None
    before = sandbox.identity.issue_access_token()
    sandbox.identity.expire_all_tokens()
    after = sandbox.identity.issue_access_token()
    with pytest.raises(TokenError, match="expired"):
        sandbox._verify_bc_token(before)
    assert sandbox._verify_bc_token(after)["tid"] == sandbox.tenant_id
    sandbox.reset()
    assert sandbox._verify_bc_token(before)["tid"] == sandbox.tenant_id
