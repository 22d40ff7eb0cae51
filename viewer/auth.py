"""Who you are: MSAL sign-in for users and service principals, Basic for on-prem, one persisted cache.

MSAL is synchronous, so every call runs through ``asyncio.to_thread``; the functions handed to the
thread touch no Qt object. Tokens live in MSAL's cache (encrypted where the platform can) and in
memory, never in logs, settings, error texts or the clipboard.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import re
import ssl
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx

from viewer.errors import SignInRequired, ViewerError
from viewer.net import Network, client_options, describe_failure
from viewer.vault import SERVICE as KEYRING_SERVICE  # noqa: F401 (the keyring's service name, for callers and tests)

if TYPE_CHECKING:
    import msal

logger = logging.getLogger(__name__)

BC_SCOPE = "https://api.businesscentral.dynamics.com/.default"
MICROSOFT_AUTHORITY_HOSTS = ("login.microsoftonline.com", "login.microsoft.com", "login.windows.net")

# AADSTS codes → what the person can do about it (DESIGN §5, ANCHORS §2 item 1).
AADSTS_HINTS: dict[int, str] = {
    50076: "Your organisation requires multi-factor authentication. Sign in with the browser to complete it.",
    50079: "Your organisation requires you to register for multi-factor authentication. "
    "Sign in with the browser to set it up.",
    70043: "Your administrator requires you to sign in again after a set time (sign-in frequency). "
    "Please sign in again.",
    700082: "Your sign-in expired after a long time without use. Please sign in again.",
    50173: "Your sign-in was revoked (for example after a password change). Please sign in again.",
    65001: "The app registration has not been given consent for Business Central. Ask an administrator "
    "to grant consent for the delegated permission Financials.ReadWrite.All (or user_impersonation).",
    65004: "Consent was declined, so the app cannot read Business Central for you.",
    700016: "The app registration (client id) was not found in this tenant. Check the client id and the "
    "tenant in the profile.",
    50020: "Your account is not part of this tenant (or is a guest that was not invited). Check the tenant "
    "in the profile or sign in with another account.",
    53003: "A Conditional Access policy blocked the sign-in. Contact your administrator, or sign in with "
    "the browser on a device your organisation manages.",
    50011: "The redirect URI is not registered. Add http://localhost as a 'Mobile and desktop "
    "applications' redirect URI in the app registration.",
    7000215: "The client secret is wrong. Check the service principal's secret.",
    7000222: "The client secret has expired. Create a new secret in the app registration.",
    700027: "The certificate was not accepted. Upload this certificate to the app registration "
    "(Certificates & secrets) or pick the one that is there.",
    700023: "The certificate's client assertion was for another app or tenant. Check the client id.",
    7000218: "Device-code sign-in needs 'Allow public client flows' turned on in the app registration.",
    90002: "The tenant was not found. Check the tenant id or domain in the profile.",
    50126: "Wrong user name or password.",
}

_AADSTS = re.compile(r"AADSTS(\d+)")
T = TypeVar("T")


class AuthFailed(ViewerError):
    """Sign-in did not succeed; ``str()`` is a plain instruction, ``aadsts`` the Entra code if any."""

    def __init__(self, message: str, aadsts: int | None = None) -> None:
        super().__init__(message)
        self.aadsts = aadsts


def explain(result: dict[str, Any], status: int | None = None) -> AuthFailed:
    """Turn an MSAL error result into a plain instruction (the raw description stays out of it); ``status`` is the
    token endpoint's HTTP status when known."""
    codes = [int(c) for c in result.get("error_codes") or [] if str(c).isdigit()]
    description = str(result.get("error_description") or "")
    if not codes and (m := _AADSTS.search(description)):
        codes = [int(m.group(1))]
    http = f"HTTP {status}" if status is not None and status >= 400 else ""
    for code in codes:
        if code in AADSTS_HINTS:
            return AuthFailed(f"{AADSTS_HINTS[code]} ({', '.join(filter(None, (f'AADSTS{code}', http)))})", code)
    error = str(result.get("error") or "unknown_error")
    first_line = description.split("\n", 1)[0].split(" Trace ID:", 1)[0].strip()
    text = first_line or error.replace("_", " ")
    return AuthFailed(f"Sign-in failed: {text}" + (f" ({http})" if http else ""), codes[0] if codes else None)


class IdentityUnavailable(AuthFailed):
    """The sign-in service could not be reached (DNS, connection, TLS, timeout, a broken discovery answer)."""


def identity_error(exc: BaseException, authority: str = "") -> ViewerError:
    """Anything MSAL, its HTTP client or the keyring raised, as a typed error with a plain message.

    MSAL raises plain ``ValueError``s and lets its HTTP client's errors through; none of them may reach the crash
    dialog (docs/ARCHITECTURE.md, "Sign-in never blocks and never escapes").
    """
    if isinstance(exc, ViewerError):
        return exc
    host = authority.split("://", 1)[-1].split("/", 1)[0] or "the sign-in service"
    text = str(exc)
    if isinstance(exc, httpx.ConnectError):
        if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(exc.__cause__, ssl.SSLError):
            return IdentityUnavailable(f"Cannot sign in: the certificate of {host} is not trusted (TLS). If your "
                                       "network inspects TLS, give the profile your organisation's CA file.")
        if any(word in text.lower() for word in ("name or service not known", "nodename nor servname",
                                                  "getaddrinfo", "name resolution", "no address")):
            return IdentityUnavailable(f"Cannot sign in: the name {host} could not be found (DNS). Check the "
                                       "address and your network.")
        return IdentityUnavailable(f"Cannot sign in: {host} cannot be reached. Check your network or proxy.")
    if isinstance(exc, httpx.TimeoutException):
        return IdentityUnavailable(f"Cannot sign in: {host} did not answer in time.")
    if isinstance(exc, httpx.HTTPError | OSError):
        return IdentityUnavailable(f"Cannot sign in: the connection to {host} failed ({type(exc).__name__}).")
    if isinstance(exc, ValueError) and ("authority" in text.lower() or "openid" in text.lower()):
        return IdentityUnavailable(f"Cannot sign in: {host} did not describe itself as a Microsoft sign-in "
                                   "service (OpenID discovery failed). Check the tenant and the address.")
    return AuthFailed(f"Sign-in failed: {type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": "))


async def in_thread(authority: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking MSAL/keyring call off the GUI thread; its failures come back as ``ViewerError``."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except ViewerError:
        raise
    except Exception as exc:
        raise identity_error(exc, authority) from None


@dataclass(frozen=True)
class Account:
    username: str
    name: str
    tenant_id: str
    home_account_id: str

    @classmethod
    def from_msal(cls, raw: dict[str, Any], claims: dict[str, Any] | None = None) -> Account:
        claims = claims or {}
        return cls(
            username=str(raw.get("username") or claims.get("preferred_username") or ""),
            name=str(claims.get("name") or raw.get("name") or raw.get("username") or ""),
            tenant_id=str(raw.get("realm") or claims.get("tid") or ""),
            home_account_id=str(raw.get("home_account_id") or ""),
        )


@dataclass(frozen=True)
class DeviceCode:
    user_code: str
    verification_uri: str
    expires_at: float
    message: str


# ---- the token cache -------------------------------------------------------------------------------


UNENCRYPTED_NOTICE = (
    "Sign-in is remembered in a file only you can read, but it is not encrypted: this computer has no "
    "unlocked secret store (keyring). Install or unlock one to encrypt it."
)
MOVED_ASIDE_NOTICE = (
    "Your saved sign-in could not be unlocked (after a password reset, or when access was denied) and was set "
    "aside. Please sign in again."
)


class TokenCacheLocked(ViewerError):
    """Another process holds the token cache's lock for too long (msal-extensions waits 5 s)."""


def _secure_store_name(platform: str) -> str:
    return {"win32": "Windows data protection (DPAPI)", "darwin": "the macOS Keychain"}.get(
        platform, "a Secret Service keyring (GNOME Keyring or KWallet)")


class TokenCacheStore:
    """MSAL's cache, persisted with msal-extensions' encrypted persistence (DPAPI, Keychain, libsecret).

    The policy (README, "Windows and macOS"): on Windows and macOS there is always an encrypted store, so a
    failure is an error, never a plain-text file. A cache that exists but cannot be decrypted is moved aside
    and a fresh encrypted one started, with ``notice`` saying so once. Only on Linux without a Secret Service
    does it fall back to a 0600 file — under its own name, so a keyring that appears later never meets
    plain text where it expects its own data. ``platform`` and ``build`` are injectable for tests.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        allow_plaintext: bool = True,
        force_plaintext: bool = False,
        platform: str = sys.platform,
        build: Callable[[str], Any] | None = None,
    ) -> None:
        self.path = path
        self.encrypted = False
        self.persistent = path is not None
        self.notice = ""
        self.cache: msal.TokenCache
        self._persistence: Any = None
        import msal  # here, not at the top: Basic auth (``show`` on-prem) needs none of MSAL's ~150 ms

        if path is None:
            self.cache = msal.SerializableTokenCache()
            return
        from msal_extensions import FilePersistence, build_encrypted_persistence

        path.parent.mkdir(parents=True, exist_ok=True)
        persistence: Any = None
        if not force_plaintext:
            persistence = self._encrypted(path, build or build_encrypted_persistence, platform,
                                          allow_plaintext and not platform.startswith(("win", "darwin")))
        if persistence is None:
            if not allow_plaintext:
                raise AuthFailed("No secure storage for sign-in tokens is available on this computer.")
            plain = path if force_plaintext else path.with_name(path.stem + "-unencrypted" + path.suffix)
            fd = os.open(str(plain), os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
            os.chmod(plain, 0o600)
            self.path = plain
            persistence = FilePersistence(str(plain))
            if not force_plaintext:
                self.notice = UNENCRYPTED_NOTICE
        self._persistence = persistence
        self.cache = _lock_safe_cache(persistence)

    def _encrypted(self, path: Path, build: Callable[[str], Any], platform: str, may_fall_back: bool) -> Any:
        from msal_extensions.persistence import PersistenceNotFound

        try:
            persistence = build(str(path))
        except Exception as exc:  # no secret store (headless Linux, no D-Bus; a broken Keychain)
            return self._unavailable(exc, platform, may_fall_back)
        try:
            content = persistence.load()
            json.loads(content or "{}")
        except PersistenceNotFound:
            content = "{}"
        except Exception as exc:  # DPAPI after a password reset, a Keychain "Deny", damaged contents
            if not path.exists():  # nothing to move aside: the store itself does not work
                return self._unavailable(exc, platform, may_fall_back)
            aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
            logger.warning("token cache could not be read (%s); moved aside to %s", type(exc).__name__, aside.name)
            path.replace(aside)
            content = "{}"
            self.notice = MOVED_ASIDE_NOTICE
        try:
            # Libsecret needs a running, unlocked keyring: prove it works before trusting it.
            persistence.save(content)
        except Exception as exc:
            return self._unavailable(exc, platform, may_fall_back)
        self.encrypted = True
        return persistence

    def _unavailable(self, exc: Exception, platform: str, may_fall_back: bool) -> None:
        logger.info("encrypted token cache unavailable (%s)", type(exc).__name__)
        if may_fall_back:
            return None
        raise AuthFailed(f"Sign-in cannot be remembered safely: {_secure_store_name(platform)} refused to store it "
                         f"({type(exc).__name__}). Sign out of Windows or macOS and back in, then try again.") from None

    @classmethod
    def in_memory(cls) -> TokenCacheStore:
        return cls(None)

    def clear(self) -> None:
        """Forget every account and token in this cache."""
        if self._persistence is not None:
            self._persistence.save("{}")
        self.cache.deserialize("{}")


def _lock_safe_cache(persistence: Any) -> msal.TokenCache:
    """msal-extensions' cache, whose lock-file timeout (a stale ``.lockfile`` on a network share, another program
    holding it) becomes a ``TokenCacheLocked`` with a plain instruction instead of an unhandled ``LockError``."""
    from msal_extensions import PersistedTokenCache
    from msal_extensions.token_cache import LockError

    lock = f"{persistence.get_location()}.lockfile"

    def locked() -> TokenCacheLocked:
        return TokenCacheLocked(
            "The sign-in cache is in use by another program and stayed locked. Close other copies of "
            f"bc-payment-viewer and try again; if none is running, delete {lock}."
        )

    class LockSafeCache(PersistedTokenCache):  # type: ignore[misc]
        # Only writes take the lock (msal-extensions reads optimistically, without it).
        def modify(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().modify(*args, **kwargs)
            except LockError:
                raise locked() from None

    cache: msal.TokenCache = LockSafeCache(persistence)
    return cache


class _MsalHttpClient(httpx.Client):
    """MSAL was written against requests, which form-encodes bytes values as text; httpx would send
    ``str(b"…")`` instead — and MSAL passes a certificate's signed client assertion as bytes.
    Transport failures become an ``IdentityUnavailable`` that names the proxy or the certificate's issuer."""

    def __init__(self, network: Network, discovery: DiscoveryCache | None = None) -> None:
        super().__init__(**client_options(network, asynchronous=False), timeout=30)
        self.network = network
        self.discovery = discovery

    def get(self, url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        """MSAL's GETs; the authority's OpenID configuration comes from ``discovery`` while it is fresh."""
        target = str(url)
        discovery = self.discovery if target.endswith(OPENID_CONFIGURATION) and not args \
            and not kwargs.get("params") else None
        if discovery is not None and (text := discovery.get(target)) is not None:
            return httpx.Response(200, text=text, headers={"content-type": "application/json"},
                                  request=httpx.Request("GET", target))
        response = super().get(url, *args, **kwargs)
        if discovery is not None and response.status_code == 200:
            discovery.put(target, response.text)
        return response

    def send(self, request: httpx.Request, *args: Any, **kwargs: Any) -> httpx.Response:
        try:
            return super().send(request, *args, **kwargs)
        except httpx.TransportError as exc:  # MSAL runs in a worker thread: describing may take a handshake
            raise IdentityUnavailable(f"Cannot sign in. {describe_failure(exc, str(request.url), self.network)}.") \
                from None

    # The HTTP status of the last token request: MSAL's result dict drops it, and an error is clearer with it.
    last_status: int | None = None

    def post(self, url: Any, *args: Any, data: Any = None, **kwargs: Any) -> httpx.Response:
        if isinstance(data, dict):
            data = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
        response = super().post(url, *args, data=data, **kwargs)
        self.last_status = response.status_code
        return response


def msal_http_client(network: Network, discovery: DiscoveryCache | None = None) -> _MsalHttpClient:
    """MSAL's HTTP client, with the same trust and proxy as the Business Central client
    (``viewer.net.client_options``). ``REQUESTS_CA_BUNDLE`` would override MSAL's own ``verify=``; an
    httpx client with an explicit context is used as given."""
    return _MsalHttpClient(network, discovery)


OPENID_CONFIGURATION = "/.well-known/openid-configuration"


class DiscoveryCache:
    """Authorities' OpenID configurations, kept a day in a JSON file beside the token cache.

    MSAL fetches the configuration (where the token endpoint is) whenever its app object is built, so every start
    paid a round trip to the identity server, with its own TLS handshake, before the cached token could be used —
    the deep link's first request waited for it. MSAL keeps such GETs a day itself, in memory (its ``http_cache``);
    this keeps them across starts, in a format of our own rather than MSAL's pickles. The documents are public:
    no tokens, nothing personal. A file that cannot be read or written only costs the round trip."""

    LIFETIME = 24 * 3600.0
    KEPT = 8  # authorities (the sandbox's change with its port): the oldest go first

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def beside(cls, cache: TokenCacheStore) -> DiscoveryCache | None:
        return cls(cache.path.with_name("openid-configurations.json")) if cache.persistent and cache.path else None

    def _fresh(self, now: float) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {url: entry for url, entry in data.items()
                if isinstance(entry, dict) and isinstance(entry.get("text"), str)
                and isinstance(entry.get("at"), int | float) and 0 <= now - entry["at"] < self.LIFETIME}

    def get(self, url: str, *, now: float | None = None) -> str | None:
        entry = self._fresh(time.time() if now is None else now).get(url)
        return str(entry["text"]) if entry else None

    def put(self, url: str, text: str, *, now: float | None = None) -> None:
        when = time.time() if now is None else now
        try:
            if not isinstance(json.loads(text), dict):
                return
        except ValueError:
            return
        entries = self._fresh(when)
        entries[url] = {"at": when, "text": text}
        kept = dict(sorted(entries.items(), key=lambda item: item[1]["at"])[-self.KEPT:])
        scratch = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            scratch.write_text(json.dumps(kept), "utf-8")
            os.replace(scratch, self.path)  # whole or not at all, also when two windows start together
        except OSError:
            with contextlib.suppress(OSError):
                scratch.unlink(missing_ok=True)


def _instance_discovery(authority: str) -> bool:
    host = urlsplit(authority).hostname or ""
    return host in MICROSOFT_AUTHORITY_HOSTS


class _TokenMemo:
    """The current access token in memory, so each request does not hop to a thread."""

    def __init__(self) -> None:
        self._token: str | None = None
        self._expires_at = 0.0

    def get(self) -> str | None:
        if self._token and time.time() < self._expires_at - 60:
            return self._token
        return None

    def put(self, result: dict[str, Any]) -> str:
        token = str(result["access_token"])
        self._token = token
        self._expires_at = time.time() + float(result.get("expires_in") or 0)
        return token

    def clear(self) -> None:
        self._token = None
        self._expires_at = 0.0


# ---- signed-in user ------------------------------------------------------------------------------


class UserSession:
    """A user signing in with MSAL's public client: silent first, then browser or device code."""

    def __init__(
        self,
        *,
        client_id: str,
        authority: str,
        cache: TokenCacheStore,
        scopes: list[str] | None = None,
        verify: ssl.SSLContext | bool = True,
        network: Network | None = None,
        open_browser: Callable[[str], object] | None = None,
        broker: bool = False,
        platform: str = sys.platform,
        app_factory: Callable[..., Any] | None = None,
    ) -> None:
        """``broker``: the profile opted in to the Windows account broker (WAM). It is used only on Windows and
        only with Microsoft's sign-in hosts (never the sandbox); ``app_factory`` stands in for MSAL in tests."""
        self.scopes = scopes or [BC_SCOPE]
        self.cache = cache
        self.authority = authority
        import msal

        self._http = msal_http_client(network or Network(verify=verify), DiscoveryCache.beside(cache))
        self.broker = broker and platform == "win32" and _instance_discovery(authority)
        extra = {"enable_broker_on_windows": True} if self.broker else {}
        self.app = (app_factory or msal.PublicClientApplication)(
            client_id,
            authority=authority,
            token_cache=cache.cache,
            http_client=self._http,
            instance_discovery=_instance_discovery(authority),
            **extra,
        )
        self.account: Account | None = None
        self._raw_account: dict[str, Any] | None = None
        self._memo = _TokenMemo()
        self._open_browser = open_browser or webbrowser.open

    def close(self) -> None:
        self._http.close()

    async def accounts(self) -> list[Account]:
        return [account for account, _raw in await in_thread(self.authority, self._known)]

    def _known(self) -> list[tuple[Account, dict[str, Any]]]:
        """The cache's accounts, with their names (in a worker thread: reading the cache may read its file)."""
        return [(Account.from_msal(raw, self._claims_for(raw)), raw) for raw in self.app.get_accounts()]

    def _claims_for(self, raw: dict[str, Any]) -> dict[str, Any]:
        import msal

        for idt in self.cache.cache.search(
            msal.TokenCache.CredentialType.ID_TOKEN, query={"home_account_id": raw.get("home_account_id")}
        ):
            # Only for display: the id token came to MSAL over TLS from the authority and sits in our own
            # cache. (MSAL's decode_id_token is deprecated and warns; the payload is all we need.)
            try:
                payload = str(idt["secret"]).split(".")[1]
                claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
                return dict(claims) if isinstance(claims, dict) else {}
            except (IndexError, ValueError, KeyError):  # a damaged id token only costs us the display name
                return {}
        return {}

    async def select(self, account: Account) -> None:
        raws = await in_thread(self.authority, self.app.get_accounts)
        for raw in raws:
            if raw.get("home_account_id") == account.home_account_id:
                self._raw_account, self.account = raw, account
                self._memo.clear()
                return
        raise SignInRequired(f"{account.username} is no longer signed in here. Please sign in again.")

    async def try_silent(self) -> Account | None:
        """Sign in from the cache with no UI (start-up), in one trip to a worker thread (each trip is a wait a
        start pays). ``None`` when interaction is needed."""
        preferred = self.account.home_account_id if self.account is not None else None
        found = await in_thread(self.authority, self._first_silent, preferred)
        if found is None:
            return None
        account, raw, result = found
        self._raw_account, self.account = raw, account
        self._memo.put(result)
        return account

    def _first_silent(self, preferred: str | None) -> tuple[Account, dict[str, Any], dict[str, Any]] | None:
        """The first cached account (``preferred`` first) that has a token without interaction, with it."""
        known = sorted(self._known(), key=lambda pair: pair[0].home_account_id != preferred)
        for account, raw in known:
            result = self._silent(raw, False)
            if result and "access_token" in result:
                return account, raw, result
        return None

    def _silent(self, raw: dict[str, Any], force_refresh: bool) -> dict[str, Any] | None:
        """A token from the cache, else redeemed with the refresh token (in a worker thread: MSAL may do I/O).

        Entra answers a ``{resource}/.default`` request with the permissions it granted (``…/user_impersonation
        …/Financials.ReadWrite.All``) and MSAL files the access token under those, so asking the cache for
        ``.default`` again never finds it: every start would redeem the refresh token, a round trip to Microsoft.
        Asking for the granted scopes of a cached token for the same resource finds it; ``.default`` stays the
        fallback (a token of another tenant may have been granted other permissions)."""
        granted = self._granted_scopes(raw)
        if granted:
            result: dict[str, Any] | None = self.app.acquire_token_silent_with_error(
                granted, raw, force_refresh=force_refresh)
            if result and "access_token" in result:
                return result
        return self.app.acquire_token_silent_with_error(self.scopes, raw, force_refresh=force_refresh)  # type: ignore[no-any-return]

    def _granted_scopes(self, raw: dict[str, Any]) -> list[str]:
        if len(self.scopes) != 1 or not self.scopes[0].endswith("/.default"):
            return []
        import msal

        resource = self.scopes[0][: -len(".default")]
        for token in self.cache.cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN,
                                             query={"home_account_id": raw.get("home_account_id")}):
            target = str(token.get("target") or "").split()
            if target and all(scope.startswith(resource) for scope in target):
                return target
        return []

    async def authorization(self, *, refresh: bool = False) -> str:
        if not refresh and (token := self._memo.get()):
            return f"Bearer {token}"
        if self._raw_account is None:
            raise SignInRequired("Please sign in to Business Central.")
        result = await in_thread(self.authority, self._silent, self._raw_account, refresh)
        if result and "access_token" in result:
            return f"Bearer {self._memo.put(result)}"
        self._memo.clear()
        if result:
            failure = explain(result)
            raise SignInRequired(str(failure), failure.aadsts)
        raise SignInRequired("Your sign-in has expired. Please sign in again.")

    def _accept(self, result: dict[str, Any]) -> Account:
        if "access_token" not in result:
            raise explain(result)
        claims = dict(result.get("id_token_claims") or {})
        home = None
        if client_info := result.get("client_info"):
            try:
                import json

                info = json.loads(base64.urlsafe_b64decode(client_info + "=" * (-len(client_info) % 4)))
                home = f"{info['uid']}.{info['utid']}"
            except (ValueError, KeyError):
                home = None
        raws = self.app.get_accounts()
        raw = next((r for r in raws if home and r.get("home_account_id") == home), None)
        if raw is None:
            raw = next((r for r in raws if r.get("username") == claims.get("preferred_username")), None)
        if raw is None:
            raise AuthFailed("Signed in, but the account did not reach the token cache.")
        self._raw_account = raw
        self.account = Account.from_msal(raw, claims)
        self._memo.put(result)
        return self.account

    @property
    def broker_available(self) -> bool:
        """Opted in, and MSAL found the broker (``pymsalruntime``); MSAL turns it off when it is missing."""
        return self.broker and bool(getattr(self.app, "_enable_broker", False))

    async def sign_in_browser(self, *, login_hint: str | None = None, timeout: float = 600,
                              window_handle: int | None = None) -> Account:
        """Interactive sign-in. With the broker (opted in, on Windows, available, and a window to parent its
        dialog): WAM's own account picker, in a worker thread. Otherwise, or when the broker fails: auth code +
        PKCE through the system browser and our own loopback receiver (cancellable)."""
        if self.broker_available and window_handle is not None:
            try:
                result = await asyncio.to_thread(
                    self.app.acquire_token_interactive, self.scopes, parent_window_handle=window_handle,
                    login_hint=login_hint, prompt="select_account",
                )
            except Exception as exc:  # pymsalruntime raises when WAM itself is broken: the browser still works
                logger.warning("broker sign-in failed (%s); using the browser", type(exc).__name__)
            else:
                return self._accept(dict(result or {}))
        receiver = LoopbackReceiver()
        await receiver.start()
        try:
            flow = await in_thread(
                self.authority,
                self.app.initiate_auth_code_flow,
                self.scopes,
                redirect_uri=receiver.redirect_uri,
                login_hint=login_hint,
                prompt="select_account",
                # The code arrives in a POST body, not in a URL that lands in browser history (RFC 9700 §4.3.1).
                response_mode="form_post",
            )
            if "auth_uri" not in flow:
                raise explain(flow)
            await asyncio.to_thread(self._open_browser, flow["auth_uri"])
            params = await asyncio.wait_for(receiver.result(), timeout)
        except TimeoutError:
            raise AuthFailed("Sign-in timed out: the browser did not come back.") from None
        finally:
            await receiver.close()
        if "error" in params and "code" not in params:
            raise explain({"error": params.get("error"), "error_description": params.get("error_description")})
        result = await in_thread(self.authority, self._finish_auth_code, flow, params)
        return self._accept(result)

    def _finish_auth_code(self, flow: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        try:
            return dict(self.app.acquire_token_by_auth_code_flow(flow, params))
        except ValueError as exc:  # state mismatch etc.: MSAL raises rather than returns
            return {"error": "invalid_request", "error_description": str(exc)}

    async def sign_in_device_code(self, on_code: Callable[[DeviceCode], None]) -> Account:
        """Device code: ``on_code`` shows the code; cancelling the task stops MSAL's polling."""
        flow = await in_thread(self.authority, self.app.initiate_device_flow, self.scopes)
        if "user_code" not in flow:
            raise explain(flow)
        on_code(
            DeviceCode(
                user_code=str(flow["user_code"]),
                verification_uri=str(flow["verification_uri"]),
                expires_at=float(flow.get("expires_at") or time.time() + float(flow.get("expires_in", 900))),
                message=str(flow.get("message") or ""),
            )
        )
        done = threading.Event()

        def poll() -> dict[str, Any]:
            try:
                return dict(self.app.acquire_token_by_device_flow(flow))
            finally:
                done.set()

        try:
            result = await in_thread(self.authority, poll)
        except asyncio.CancelledError:
            # MSAL polls until "expires_at"; moving it into the past ends the loop at its next tick.
            flow["expires_at"] = 0
            raise
        if result.get("error") == "authorization_declined":
            raise AuthFailed("Sign-in was declined on the device-code page.")
        if result.get("error") == "expired_token" or ("access_token" not in result and not result.get("error")):
            raise AuthFailed("The code expired before sign-in finished. Please try again.")
        return self._accept(result)

    async def sign_out(self, account: Account | None = None) -> None:
        target = account or self.account
        if target is None:
            return
        raws = await in_thread(self.authority, self.app.get_accounts)
        for raw in raws:
            if raw.get("home_account_id") == target.home_account_id:
                await in_thread(self.authority, self.app.remove_account, raw)
        if self.account and self.account.home_account_id == target.home_account_id:
            self.account = None
            self._raw_account = None
            self._memo.clear()


# ---- loopback redirect receiver ------------------------------------------------------------------

_DONE_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>bc-payment-viewer</title></head>"
    "<body style='font-family:sans-serif;margin:3em'><h2>{title}</h2><p>{text}</p></body></html>"
)


class LoopbackReceiver:
    """One-shot HTTP server on 127.0.0.1 that receives the authorization response (query or form_post)."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._future: asyncio.Future[dict[str, str]] | None = None
        self.port = 0

    @property
    def redirect_uri(self) -> str:
        return f"http://localhost:{self.port}"

    async def start(self) -> None:
        self._future = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def result(self) -> dict[str, str]:
        assert self._future is not None
        return await self._future

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            params = dict(parse_qsl(urlsplit(target).query))
            if method == "POST":
                length = min(int(headers.get("content-length", "0") or 0), 1 << 20)
                body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
                params.update(parse_qsl(body.decode("utf-8", "replace")))
            if "code" in params or "error" in params:
                ok = "code" in params
                page = _DONE_PAGE.format(
                    title="Signed in" if ok else "Sign-in did not complete",
                    text="You can close this tab and return to bc-payment-viewer."
                    if ok
                    else "Return to bc-payment-viewer for details.",
                )
                status = "200 OK"
                if self._future is not None and not self._future.done():
                    self._future.set_result(params)
            else:
                page, status = "Not found", "404 Not Found"
            data = page.encode()
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


# ---- service principal and Basic ---------------------------------------------------------------


_PEM_KEY = re.compile(
    r"-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----.+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----",
    re.DOTALL,
)
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def certificate_credential(pem: str) -> dict[str, str]:
    """MSAL's certificate credential from one PEM text (private key + certificate); MSAL derives the SHA-256
    thumbprint from the certificate."""
    key, cert = _PEM_KEY.search(pem), _PEM_CERT.search(pem)
    if key is None or cert is None:
        raise AuthFailed("The certificate file must hold both the private key and the certificate (PEM).")
    return {"private_key": key.group(0), "public_certificate": cert.group(0)}


class AppSession:
    """A service principal (client credentials). The secret comes from the keyring, never settings."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str | None = None,
        client_certificate: str | None = None,
        authority: str,
        scopes: list[str] | None = None,
        verify: ssl.SSLContext | bool = True,
        network: Network | None = None,
    ) -> None:
        """One of ``client_secret`` or ``client_certificate`` (PEM text holding the private key and the
        certificate, as the keyring keeps it)."""
        self.scopes = scopes or [BC_SCOPE]
        self.client_id = client_id
        self.authority = authority
        credential: str | dict[str, str]
        if client_certificate:
            credential = certificate_credential(client_certificate)
        elif client_secret:
            credential = client_secret
        else:
            raise AuthFailed("A service principal needs a client secret or a certificate.")
        self._args = (client_id, credential, authority)
        self._http = msal_http_client(network or Network(verify=verify))
        self._memo = _TokenMemo()
        self.app = self._build()

    def __repr__(self) -> str:  # never the secret or the key
        return f"AppSession(client_id={self.client_id!r})"

    def _build(self) -> msal.ConfidentialClientApplication:
        import msal

        client_id, secret, authority = self._args
        return msal.ConfidentialClientApplication(
            client_id,
            client_credential=secret,
            authority=authority,
            http_client=self._http,
            instance_discovery=_instance_discovery(authority),
            token_cache=msal.TokenCache(),
        )

    def close(self) -> None:
        self._http.close()

    async def authorization(self, *, refresh: bool = False) -> str:
        if not refresh and (token := self._memo.get()):
            return f"Bearer {token}"
        if refresh:
            self.app = self._build()  # a fresh cache: MSAL has no force_refresh for app tokens
        result = await in_thread(self.authority, self.app.acquire_token_for_client, self.scopes)
        if result and "access_token" in result:
            return f"Bearer {self._memo.put(result)}"
        failure = explain(result or {}, self._http.last_status)
        raise SignInRequired(str(failure), failure.aadsts)


class BasicCredentials:
    """On-prem NavUserPassword: user name + password or web service access key."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self._header = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")

    async def authorization(self, *, refresh: bool = False) -> str:
        return self._header

    def __repr__(self) -> str:  # never show the password, not even in a debugger's repr
        return f"BasicCredentials(user={self.user!r})"


def load_secret(profile: str, kind: str) -> str | None:
    """A secret from the OS keyring, or from the protected file it points to (``None`` when absent or when
    there is no keyring): see ``viewer.vault``."""
    from viewer.vault import default_vault

    return default_vault().load(profile, kind)


def delete_secret(profile: str, kind: str) -> bool:
    """Removes a secret (and a protected file it points to); True when there was one (False when absent or no
    keyring)."""
    from viewer.vault import default_vault

    return default_vault().delete(profile, kind)


def store_secret(profile: str, kind: str, value: str) -> None:
    """Keep a secret in a form this platform can hold; ``ViewerError`` says what to do when it cannot."""
    from viewer.vault import default_vault

    default_vault().store(profile, kind, value)
