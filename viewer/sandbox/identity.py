"""The sandbox's Microsoft identity platform: the Entra ID v2.0 endpoints MSAL talks to.

MSAL is pointed at ``https://127.0.0.1:<port>/<tenant>`` with ``instance_discovery=False``; it then reads
``/<tenant>/v2.0/.well-known/openid-configuration`` and uses the endpoints listed there. Flows served:
auth code + PKCE (with a small consent page, query or form_post answers), refresh token (revocable),
device code (approved or declined on ``/devicelogin`` or through the control API) and client credentials.
Errors have Entra's shape: ``error``, ``error_description`` starting with ``AADSTS<n>:``, ``error_codes``.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from viewer.sandbox.bcerrors import BC_RESOURCE
from viewer.sandbox.tokens import TokenIssuer, b64url, self_signed_certificate

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_CODE_LIFETIME = 900
AUTH_CODE_LIFETIME = 600
# MSAL sleeps ``interval`` whole seconds between polls; 1 keeps device-code tests quick.
DEVICE_POLL_INTERVAL = 1
# Scopes MSAL adds to every user request; they never name a resource.
OIDC_SCOPES = {"openid", "profile", "offline_access", "email"}
DELEGATED_SCOPES = "Financials.ReadWrite.All user_impersonation"
MULTI_TENANT_ALIASES = ("organizations", "common")


@dataclass(frozen=True)
class User:
    oid: str
    username: str
    name: str

    def subject(self) -> dict[str, str]:
        return {"oid": self.oid, "name": self.name, "preferred_username": self.username}


@dataclass
class _AuthCode:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    nonce: str | None
    user: User
    expires_at: float


@dataclass
class _DeviceGrant:
    client_id: str
    scope: str
    user_code: str
    expires_at: float
    state: str = "pending"  # pending → approved | declined → redeemed
    user: User | None = None


@dataclass
class _RefreshGrant:
    client_id: str
    scope: str
    user: User
    revoked: bool = False
    issued_at: float = field(default_factory=time.time)


class OAuthError(Exception):
    """An Entra-shaped error answer."""

    def __init__(self, error: str, code: int, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.code = code
        self.description = description
        self.status = status

    def response(self) -> JSONResponse:
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        return JSONResponse(
            {
                "error": self.error,
                "error_description": f"AADSTS{self.code}: {self.description} Trace ID: {trace} "
                f"Correlation ID: {correlation} Timestamp: {stamp}",
                "error_codes": [self.code],
                "timestamp": stamp,
                "trace_id": trace,
                "correlation_id": correlation,
            },
            status_code=self.status,
        )


def _pkce_challenge(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def _loopback_redirect(uri: str) -> bool:
    # Entra accepts any port on a loopback redirect URI of a public client (RFC 8252 §7.3).
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")


def _resource_of(scope: str) -> str:
    """The resource a scope string asks for: ``https://host/.default`` → ``https://host``."""
    for item in scope.split():
        if item in OIDC_SCOPES:
            continue
        if "://" in item:
            return item.rsplit("/", 1)[0]
    return BC_RESOURCE


class Identity:
    """Users, app registrations and grants of the sandbox tenant, with the Starlette routes serving them."""

    def __init__(self, *, base_url: str, tenant_id: str, tenant_domain: str, token_lifetime: int, seed: int) -> None:
        self.base_url = base_url
        self.tenant_id = tenant_id
        self.tenant_domain = tenant_domain
        self.issuer = f"{base_url}/{tenant_id}/v2.0"
        self.tokens = TokenIssuer(issuer=self.issuer, tenant_id=tenant_id, token_lifetime=token_lifetime,
                                  v1_audiences=frozenset({BC_RESOURCE}))
        self._initial_lifetime = token_lifetime
        ns = uuid.uuid5(uuid.NAMESPACE_URL, f"bcpv-identity-{seed}")
        self.public_client_id = str(uuid.uuid5(ns, "public-client"))
        self.service_principal_id = str(uuid.uuid5(ns, "service-principal"))
        self.service_principal_secret = "sbx~" + hashlib.sha256(f"{seed}-secret".encode()).hexdigest()[:36]
        # The same app may also authenticate with a certificate (a signed client assertion), as in Entra.
        self.service_principal_certificate_pem, self._sp_public_key = _make_certificate(self.service_principal_id)
        self.basic_user = "ADMIN"
        self.basic_password = hashlib.sha256(f"{seed}-key".encode()).hexdigest()[:44]
        self.users = [
            User(str(uuid.uuid5(ns, "user-1")), f"alex.wilber@{tenant_domain}", "Alex Wilber"),
            User(str(uuid.uuid5(ns, "user-2")), f"megan.bowen@{tenant_domain}", "Megan Bowen"),
        ]
        # Grants are touched from uvicorn's thread and from tests/control calls on others.
        self._lock = threading.Lock()
        self._codes: dict[str, _AuthCode] = {}
        self._devices: dict[str, _DeviceGrant] = {}
        self._refresh: dict[str, _RefreshGrant] = {}
        # How many tokens each grant type has served (tests and demos: "did that start reach the token endpoint?").
        self.grants: collections.Counter[str] = collections.Counter()
        self.discoveries = 0  # OpenID configurations served (tests: a start that has a fresh copy asks for none)

    # -- settings --------------------------------------------------------------------------------------

    @property
    def token_lifetime(self) -> int:
        return self.tokens.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: int) -> None:
        self.tokens.token_lifetime = int(seconds)

    def user(self, username: str | None) -> User:
        if username is None:
            return self.users[0]
        for user in self.users:
            if user.username.lower() == username.lower():
                return user
        raise KeyError(username)

    # -- Python API (tests, control endpoint) ----------------------------------------------------------

    def issue_access_token(
        self,
        *,
        audience: str = BC_RESOURCE,
        username: str | None = None,
        app: bool = False,
        lifetime: int | None = None,
    ) -> str:
        if app:
            token, _ = self.tokens.issue_access_token(
                audience=audience, client_id=self.service_principal_id, roles=["API.ReadWrite.All"], lifetime=lifetime,
                client_auth="1",
            )
            return token
        token, _ = self.tokens.issue_access_token(
            audience=audience,
            client_id=self.public_client_id,
            subject=self.user(username).subject(),
            scopes=DELEGATED_SCOPES,
            lifetime=lifetime,
        )
        return token

    def verify_access_token(self, token: str, audience: str) -> dict[str, Any]:
        return self.tokens.verify(token, audience)

    def pending_user_codes(self) -> list[str]:
        with self._lock:
            now = time.time()
            return [g.user_code for g in self._devices.values() if g.state == "pending" and g.expires_at > now]

    def _device_by_user_code(self, user_code: str) -> _DeviceGrant:
        wanted = user_code.strip().upper()
        for grant in self._devices.values():
            if grant.user_code == wanted and grant.state == "pending":
                return grant
        raise KeyError(user_code)

    def approve_device_code(self, user_code: str, username: str | None = None) -> None:
        """Sign in on the device-code page as ``username`` (default: the first demo user)."""
        user = self.user(username)
        with self._lock:
            grant = self._device_by_user_code(user_code)
            grant.state, grant.user = "approved", user

    def deny_device_code(self, user_code: str) -> None:
        with self._lock:
            self._device_by_user_code(user_code).state = "declined"

    def revoke_refresh_tokens(self, username: str | None = None) -> None:
        """Like a password reset or "revoke sessions": every refresh token (of one user) stops working."""
        with self._lock:
            for grant in self._refresh.values():
                if username is None or grant.user.username.lower() == username.lower():
                    grant.revoked = True

    def expire_all_tokens(self) -> None:
        self.tokens.expire_all()

    def reset(self) -> None:
        self.tokens.reset()
        self.tokens.token_lifetime = self._initial_lifetime
        with self._lock:
            self._codes.clear()
            self._devices.clear()
            self._refresh.clear()

    # -- HTTP -------------------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/{tenant}/v2.0/.well-known/openid-configuration", self._discovery, methods=["GET"]),
            Route("/{tenant}/discovery/v2.0/keys", self._keys, methods=["GET"]),
            Route("/{tenant}/oauth2/v2.0/authorize", self._authorize, methods=["GET"]),
            Route("/{tenant}/oauth2/v2.0/authorize", self._consent_answer, methods=["POST"]),
            Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
            Route("/{tenant}/oauth2/v2.0/devicecode", self._devicecode, methods=["POST"]),
            Route("/devicelogin", self._devicelogin_page, methods=["GET"]),
            Route("/devicelogin", self._devicelogin_answer, methods=["POST"]),
        ]

    def _check_tenant(self, request: Request) -> None:
        tenant = str(request.path_params["tenant"]).lower()
        if tenant not in (self.tenant_id, self.tenant_domain, *MULTI_TENANT_ALIASES):
            raise OAuthError(
                "invalid_tenant", 90002, f"Tenant '{request.path_params['tenant']}' not found. Check to make sure "
                "you have the correct tenant ID and are signing into the correct cloud."
            )

    def _endpoints(self, tenant: str) -> dict[str, str]:
        root = f"{self.base_url}/{tenant}/oauth2/v2.0"
        return {
            "authorization_endpoint": f"{root}/authorize",
            "token_endpoint": f"{root}/token",
            "device_authorization_endpoint": f"{root}/devicecode",
        }

    async def _discovery(self, request: Request) -> Response:
        try:
            self._check_tenant(request)
        except OAuthError as exc:
            return exc.response()
        # As Entra: the multi-tenant aliases keep their own endpoints and give the issuer as a template
        # ("{tenantid}", filled from the token's tid); a tenant's id or domain gives that tenant's.
        alias = str(request.path_params["tenant"]).lower()
        with self._lock:
            self.discoveries += 1
        multi = alias in MULTI_TENANT_ALIASES
        tenant = alias if multi else self.tenant_id
        return JSONResponse(
            {
                **self._endpoints(tenant),
                "issuer": f"{self.base_url}/{{tenantid}}/v2.0" if multi else self.issuer,
                "jwks_uri": f"{self.base_url}/{tenant}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post", "private_key_jwt", "client_secret_basic"],
                "code_challenge_methods_supported": ["S256"],
                "tenant_region_scope": "EU",
                "cloud_instance_name": "sandbox.local",
            }
        )

    async def _keys(self, request: Request) -> Response:
        return JSONResponse(self.tokens.jwks())

    # auth code + PKCE ----------------------------------------------------------------------------------

    def _check_authorize(self, params: dict[str, str]) -> None:
        if params.get("client_id") != self.public_client_id:
            raise OAuthError(
                "unauthorized_client", 700016, f"Application with identifier '{params.get('client_id')}' was not "
                f"found in the directory '{self.tenant_domain}'."
            )
        if not _loopback_redirect(params.get("redirect_uri", "")):
            raise OAuthError(
                "invalid_request", 50011, "The redirect URI specified in the request does not match the redirect "
                "URIs configured for the application."
            )
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", 700054, "Only response_type=code is enabled.")
        if not params.get("code_challenge") or params.get("code_challenge_method") != "S256":
            raise OAuthError("invalid_request", 9002325, "Proof Key for Code Exchange is required (S256).")

    async def _authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        try:
            self._check_tenant(request)
            self._check_authorize(params)
        except OAuthError as exc:
            return self._error_page(exc)
        hint = (params.get("login_hint") or "").lower()
        chosen = next((u for u in self.users if u.username.lower() == hint), self.users[0])
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in params.items()
        )
        accounts = "".join(
            f'<label><input type="radio" name="account" value="{html.escape(u.username)}"'
            f'{" checked" if u is chosen else ""}> {html.escape(u.name)} ({html.escape(u.username)})</label><br>'
            for u in self.users
        )
        return HTMLResponse(
            _page(
                "Permissions requested",
                f"<p><b>bc-payment-viewer</b> wants to read Business Central data for you in "
                f"<b>{html.escape(self.tenant_domain)}</b> (sandbox).</p>"
                f'<form method="post" action="{html.escape(request.url.path)}">{hidden}'
                f"<p>Pick an account:</p>{accounts}"
                '<p><button type="submit" name="action" value="accept">Accept</button> '
                '<button type="submit" name="action" value="cancel">Cancel</button></p></form>',
            )
        )

    async def _consent_answer(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            self._check_tenant(request)
            self._check_authorize(form)
            user = self.user(form.get("account") or None)
        except OAuthError as exc:
            return self._error_page(exc)
        except KeyError:
            return self._error_page(OAuthError("invalid_request", 50034, "The user account does not exist."))
        answer: dict[str, str]
        if form.get("action") == "accept":
            code = secrets.token_urlsafe(32)
            with self._lock:
                self._codes[code] = _AuthCode(
                    client_id=form["client_id"],
                    redirect_uri=form["redirect_uri"],
                    challenge=form["code_challenge"],
                    scope=form.get("scope", ""),
                    nonce=form.get("nonce"),
                    user=user,
                    expires_at=time.time() + AUTH_CODE_LIFETIME,
                )
            answer = {"code": code, "session_state": str(uuid.uuid4())}
        else:
            answer = {
                "error": "access_denied",
                "error_subcode": "cancel",
                "error_description": "AADSTS65004: User declined to consent to access the app.",
            }
        if "state" in form:
            answer["state"] = form["state"]
        if form.get("response_mode") == "form_post":
            fields = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in answer.items()
            )
            return HTMLResponse(
                "<!doctype html><html><body onload=\"document.forms[0].submit()\">"
                f'<form method="post" action="{html.escape(form["redirect_uri"])}">{fields}'
                "<noscript><button type=\"submit\">Continue</button></noscript></form></body></html>"
            )
        separator = "&" if "?" in form["redirect_uri"] else "?"
        return RedirectResponse(form["redirect_uri"] + separator + urlencode(answer), status_code=302)

    # token endpoint ---------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):  # client_secret_basic
            try:
                cid, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
                form.setdefault("client_id", cid)
                form.setdefault("client_secret", secret)
            except (ValueError, UnicodeDecodeError):
                pass
        try:
            self._check_tenant(request)
            grant = form.get("grant_type", "")
            if grant == "authorization_code":
                body = self._redeem_code(form)
            elif grant == "refresh_token":
                body = self._redeem_refresh(form)
            elif grant == "urn:ietf:params:oauth:grant-type:device_code":
                body = self._redeem_device(form)
            elif grant == "client_credentials":
                body = self._client_credentials(form)
            else:
                raise OAuthError("unsupported_grant_type", 70003, f"The app requested an unsupported grant type "
                                 f"'{grant}'.")
        except OAuthError as exc:
            return exc.response()
        with self._lock:
            self.grants[grant] += 1
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _user_tokens(self, form: dict[str, str], client_id: str, scope: str, user: User, nonce: str | None = None
                     ) -> dict[str, Any]:
        requested = form.get("scope") or scope
        access, expires_in = self.tokens.issue_access_token(
            audience=_resource_of(requested), client_id=client_id, subject=user.subject(), scopes=DELEGATED_SCOPES
        )
        resource = _resource_of(requested)
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(f"{resource}/{s}" for s in DELEGATED_SCOPES.split()),
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": access,
        }
        words = set(requested.split()) | set(scope.split())
        if "offline_access" in words:
            refresh = secrets.token_urlsafe(48)
            with self._lock:
                self._refresh[refresh] = _RefreshGrant(client_id=client_id, scope=scope, user=user)
            body["refresh_token"] = refresh
        if "openid" in words:
            body["id_token"] = self.tokens.issue_id_token(client_id=client_id, subject=user.subject(), nonce=nonce)
        if form.get("client_info") == "1":
            info = {"uid": user.oid, "utid": self.tenant_id}
            body["client_info"] = b64url(json.dumps(info).encode())
        return body

    def _public_client(self, form: dict[str, str]) -> str:
        client_id = form.get("client_id", "")
        if client_id != self.public_client_id:
            raise OAuthError("unauthorized_client", 700016, f"Application with identifier '{client_id}' was not "
                             f"found in the directory '{self.tenant_domain}'.")
        return client_id

    def _redeem_code(self, form: dict[str, str]) -> dict[str, Any]:
        client_id = self._public_client(form)
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if grant is None:
            raise OAuthError("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed or is unknown.")
        if grant.expires_at < time.time():
            raise OAuthError("invalid_grant", 70008, "The provided authorization code or refresh token has expired.")
        if grant.client_id != client_id or grant.redirect_uri != form.get("redirect_uri"):
            raise OAuthError("invalid_grant", 50148, "The code was issued to another client or redirect URI.")
        if _pkce_challenge(form.get("code_verifier", "")) != grant.challenge:
            raise OAuthError("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied "
                             "in the authorization request.")
        return self._user_tokens(form, client_id, grant.scope, grant.user, grant.nonce)

    def _redeem_refresh(self, form: dict[str, str]) -> dict[str, Any]:
        client_id = self._public_client(form)
        with self._lock:
            grant = self._refresh.get(form.get("refresh_token", ""))
        if grant is None or grant.client_id != client_id:
            raise OAuthError("invalid_grant", 9002313, "Invalid request. The refresh token is malformed or unknown.")
        if grant.revoked:
            raise OAuthError("invalid_grant", 50173, "The provided grant has expired due to it being revoked, a "
                             "fresh auth token is needed. The user might have changed or reset their password.")
        return self._user_tokens(form, client_id, grant.scope, grant.user)

    def _redeem_device(self, form: dict[str, str]) -> dict[str, Any]:
        client_id = self._public_client(form)
        with self._lock:
            grant = self._devices.get(form.get("device_code", ""))
            if grant is None or grant.client_id != client_id:
                raise OAuthError("invalid_grant", 70000, "The provided device code is unknown.")
            if grant.expires_at < time.time() and grant.state == "pending":
                raise OAuthError("expired_token", 70019, "Verification code expired.")
            if grant.state == "pending":
                raise OAuthError("authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is "
                                 "pending. Continue polling.")
            if grant.state == "declined":
                raise OAuthError("authorization_declined", 70000, "The user declined the sign-in request.")
            if grant.state == "redeemed" or grant.user is None:
                raise OAuthError("bad_verification_code", 70000, "The device code was already used.")
            grant.state = "redeemed"
            user = grant.user
        return self._user_tokens(form, client_id, grant.scope, user)

    def _client_credentials(self, form: dict[str, str]) -> dict[str, Any]:
        client_id = form.get("client_id", "")
        if client_id != self.service_principal_id:
            raise OAuthError("unauthorized_client", 700016, f"Application with identifier '{client_id}' was not "
                             f"found in the directory '{self.tenant_domain}'.")
        if form.get("client_assertion_type") == ASSERTION_TYPE:
            self._check_assertion(form.get("client_assertion", ""), client_id)
            client_auth = "2"  # appidacr: a certificate
        # Compare in constant time, and never echo the secret back.
        elif not secrets.compare_digest(form.get("client_secret", ""), self.service_principal_secret):
            raise OAuthError("invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being "
                             "sent in the request is the client secret value, not the client secret ID.", status=401)
        else:
            client_auth = "1"  # appidacr: a client secret
        scope = form.get("scope", "")
        if not scope.endswith("/.default"):
            raise OAuthError("invalid_scope", 1002012, "The provided value for scope is not valid. Client "
                             "credential flows must have a scope value with /.default suffixed to the resource "
                             "identifier.")
        access, expires_in = self.tokens.issue_access_token(
            audience=_resource_of(scope), client_id=client_id, roles=["API.ReadWrite.All", "Automation.ReadWrite.All"],
            client_auth=client_auth,
        )
        return {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
                "access_token": access}

    def _check_assertion(self, assertion: str, client_id: str) -> None:
        """A client assertion: signed with the registered certificate's key, for this token endpoint, not expired."""
        try:
            claims = jwt.decode(
                assertion,
                self._sp_public_key,
                algorithms=["RS256", "PS256"],
                audience=[f"{self.base_url}/{t}/oauth2/v2.0/token" for t in (self.tenant_id, self.tenant_domain,
                                                                             "organizations", "common")],
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise OAuthError("invalid_client", 700027, "Client assertion failed signature validation.",
                             status=401) from exc
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise OAuthError("invalid_client", 700023, "Client assertion audience or issuer is not valid.",
                             status=401)

    # device code ---------------------------------------------------------------------------------------

    async def _devicecode(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            self._check_tenant(request)
            client_id = self._public_client(form)
        except OAuthError as exc:
            return exc.response()
        device_code = secrets.token_urlsafe(40)
        alphabet = "BCDFGHJKLMNPQRSTVWXZ23456789"  # no vowels: codes never spell words, no 0/O or 1/I confusion
        with self._lock:
            user_code = "".join(secrets.choice(alphabet) for _ in range(9))
            self._devices[device_code] = _DeviceGrant(
                client_id=client_id,
                scope=form.get("scope", ""),
                user_code=user_code,
                expires_at=time.time() + DEVICE_CODE_LIFETIME,
            )
        uri = f"{self.base_url}/devicelogin"
        return JSONResponse(
            {
                "user_code": user_code,
                "device_code": device_code,
                "verification_uri": uri,
                "expires_in": DEVICE_CODE_LIFETIME,
                "interval": DEVICE_POLL_INTERVAL,
                "message": f"To sign in, use a web browser to open the page {uri} and enter the code {user_code} "
                "to authenticate.",
            }
        )

    async def _devicelogin_page(self, request: Request) -> Response:
        accounts = "".join(
            f'<label><input type="radio" name="account" value="{html.escape(u.username)}"'
            f'{" checked" if i == 0 else ""}> {html.escape(u.name)} ({html.escape(u.username)})</label><br>'
            for i, u in enumerate(self.users)
        )
        return HTMLResponse(
            _page(
                "Enter code",
                '<form method="post" action="/devicelogin">'
                '<p><label>Code <input type="text" name="user_code" autocomplete="off" autofocus></label></p>'
                f"<p>Sign in as:</p>{accounts}"
                '<p><button type="submit" name="action" value="accept">Sign in</button> '
                '<button type="submit" name="action" value="cancel">Decline</button></p></form>',
            )
        )

    async def _devicelogin_answer(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        code = form.get("user_code", "")
        try:
            if form.get("action") == "accept":
                self.approve_device_code(code, form.get("account") or None)
                text = "You have signed in to bc-payment-viewer. You can close this window."
            else:
                self.deny_device_code(code)
                text = "Sign-in was declined. You can close this window."
        except KeyError:
            return HTMLResponse(_page("Enter code", "<p>That code is not valid or has expired. "
                                      '<a href="/devicelogin">Try again</a>.</p>'), status_code=400)
        return HTMLResponse(_page("Done", f"<p>{text}</p>"))

    def _error_page(self, exc: OAuthError) -> HTMLResponse:
        return HTMLResponse(
            _page("Sign-in error", f"<p>AADSTS{exc.code}: {html.escape(exc.description)}</p>"), status_code=exc.status
        )


def _make_certificate(client_id: str) -> tuple[str, Any]:
    """A self-signed certificate for the service principal: PEM with its private key, and the public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed_certificate(key, f"sandbox service principal {client_id[:8]}")
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode() + cert.public_bytes(serialization.Encoding.PEM).decode()
    return pem, key.public_key()


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)} – sandbox sign-in</title>"
        "<style>body{font-family:sans-serif;max-width:36em;margin:3em auto}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
