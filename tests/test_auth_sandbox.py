"""viewer.auth against the sandbox's identity platform: real MSAL over loopback https."""

from __future__ import annotations

import asyncio
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from viewer.auth import (
    AppSession,
    AuthFailed,
    BasicCredentials,
    DeviceCode,
    TokenCacheStore,
    UserSession,
    explain,
)
from viewer.errors import SignInRequired
from viewer.sandbox import Sandbox
from viewer.sandbox.autologin import auto_browser


def scripted_browser(sandbox: Sandbox, *, accept: bool = True, username: str | None = None) -> Callable[[str], None]:
    """Stands in for the system browser: clicks the consent page and follows the redirect."""
    return auto_browser(sandbox.ssl_context(), accept=accept, username=username)


def user_session(sandbox: Sandbox, tmp_path: Path, **kw: object) -> UserSession:
    assert sandbox.info is not None
    return UserSession(
        client_id=sandbox.info.public_client_id,
        authority=sandbox.info.authority,
        cache=TokenCacheStore(tmp_path / "cache.bin", force_plaintext=True),
        verify=sandbox.ssl_context(),
        **kw,  # type: ignore[arg-type]
    )


def test_browser_sign_in_then_authorization(sandbox: Sandbox, tmp_path: Path) -> None:
    session = user_session(sandbox, tmp_path, open_browser=scripted_browser(sandbox))

    async def go() -> str:
        account = await session.sign_in_browser(timeout=20)
        assert account.username == sandbox.info.users[0]["username"]  # type: ignore[union-attr]
        assert account.name == sandbox.info.users[0]["name"]  # type: ignore[union-attr]
        assert account.tenant_id == sandbox.tenant_id
        return await session.authorization()

    header = asyncio.run(go())
    assert header.startswith("Bearer ")
    assert sandbox.identity is not None
    claims = sandbox.identity.verify_access_token(header[7:], "https://api.businesscentral.dynamics.com")
    assert claims["tid"] == sandbox.tenant_id
    session.close()


def test_browser_sign_in_cancelled_is_explained(sandbox: Sandbox, tmp_path: Path) -> None:
    session = user_session(sandbox, tmp_path, open_browser=scripted_browser(sandbox, accept=False))
    with pytest.raises(AuthFailed) as info:
        asyncio.run(session.sign_in_browser(timeout=20))
    assert info.value.aadsts == 65004
    assert "declined" in str(info.value).lower()
    session.close()


def test_browser_sign_in_can_be_cancelled_by_the_user(sandbox: Sandbox, tmp_path: Path) -> None:
    session = user_session(sandbox, tmp_path, open_browser=lambda url: None)  # browser never returns

    async def go() -> None:
        task = asyncio.ensure_future(session.sign_in_browser(timeout=60))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert session.account is None
    session.close()


def test_device_code_approved_then_silent_on_next_start(sandbox: Sandbox, tmp_path: Path) -> None:
    assert sandbox.identity is not None
    codes: list[DeviceCode] = []

    def on_code(code: DeviceCode) -> None:
        codes.append(code)
        threading.Timer(0.2, sandbox.identity.approve_device_code, args=(code.user_code,)).start()  # type: ignore[union-attr]

    session = user_session(sandbox, tmp_path)
    account = asyncio.run(session.sign_in_device_code(on_code))
    assert codes and codes[0].verification_uri.endswith("/devicelogin")
    assert account.username
    session.close()

    # A new start with the same (persisted) cache signs in silently — from the cached access token: Entra files it
    # under the granted scopes, not ".default", and a start must not redeem the refresh token every time; nor does
    # it fetch the OpenID configuration again (kept beside the token cache for a day: viewer.auth.DiscoveryCache).
    redeemed = sandbox.identity.grants["refresh_token"]
    discovered = sandbox.identity.discoveries
    assert discovered >= 1
    again = user_session(sandbox, tmp_path)
    assert sandbox.identity.discoveries == discovered
    readers: list[threading.Thread] = []
    real_search = again.cache.cache.search

    def search(*args: object, **kwargs: object) -> object:
        readers.append(threading.current_thread())
        return real_search(*args, **kwargs)

    again.cache.cache.search = search  # type: ignore[method-assign]
    silent = asyncio.run(again.try_silent())
    assert readers and threading.main_thread() not in readers  # the cache is read in a worker thread, never here
    assert silent is not None and silent.username == account.username
    token = asyncio.run(again.authorization())
    sandbox.identity.verify_access_token(token[7:], "https://api.businesscentral.dynamics.com")
    assert sandbox.identity.grants["refresh_token"] == redeemed
    # A forced refresh (after a 401) still redeems it.
    asyncio.run(again.authorization(refresh=True))
    assert sandbox.identity.grants["refresh_token"] == redeemed + 1
    again.close()


def test_device_code_denied(sandbox: Sandbox, tmp_path: Path) -> None:
    def on_code(code: DeviceCode) -> None:
        threading.Timer(0.2, sandbox.identity.deny_device_code, args=(code.user_code,)).start()  # type: ignore[union-attr]

    session = user_session(sandbox, tmp_path)
    with pytest.raises(AuthFailed, match="declined"):
        asyncio.run(session.sign_in_device_code(on_code))
    session.close()


def test_device_code_cancelled_stops_polling(sandbox: Sandbox, tmp_path: Path) -> None:
    session = user_session(sandbox, tmp_path)

    async def go() -> None:
        task = asyncio.ensure_future(session.sign_in_device_code(lambda code: None))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    session.close()


def _signed_in(sandbox: Sandbox, tmp_path: Path) -> UserSession:
    def on_code(code: DeviceCode) -> None:
        threading.Timer(0.1, sandbox.identity.approve_device_code, args=(code.user_code,)).start()  # type: ignore[union-attr]

    session = user_session(sandbox, tmp_path)
    asyncio.run(session.sign_in_device_code(on_code))
    return session


def test_silent_refresh_after_expiry(sandbox: Sandbox, tmp_path: Path) -> None:
    assert sandbox.identity is not None
    sandbox.identity.token_lifetime = 1
    session = _signed_in(sandbox, tmp_path)
    first = asyncio.run(session.authorization())
    time.sleep(1.2)
    with pytest.raises(Exception, match="expired"):
        sandbox.identity.verify_access_token(first[7:], "https://api.businesscentral.dynamics.com")
    # Token times are whole seconds, as Entra's are: a 1 s token may already be gone by the time it is checked.
    sandbox.identity.token_lifetime = 3600
    second = asyncio.run(session.authorization(refresh=True))
    assert second != first
    sandbox.identity.verify_access_token(second[7:], "https://api.businesscentral.dynamics.com")
    session.close()


def test_revoked_refresh_token_means_sign_in_required(sandbox: Sandbox, tmp_path: Path) -> None:
    assert sandbox.identity is not None
    session = _signed_in(sandbox, tmp_path)
    sandbox.identity.revoke_refresh_tokens()
    with pytest.raises(SignInRequired) as info:
        asyncio.run(session.authorization(refresh=True))
    assert "sign in again" in str(info.value).lower()
    session.close()


def test_sign_out_forgets_the_account(sandbox: Sandbox, tmp_path: Path) -> None:
    session = _signed_in(sandbox, tmp_path)
    assert asyncio.run(session.accounts())
    asyncio.run(session.sign_out())
    assert asyncio.run(session.accounts()) == []
    with pytest.raises(SignInRequired):
        asyncio.run(session.authorization())
    session.close()


def test_service_principal_and_wrong_secret(sandbox: Sandbox) -> None:
    assert sandbox.info is not None
    sp = sandbox.info.service_principal
    good = AppSession(client_id=sp["client_id"], client_secret=sp["client_secret"],
                      authority=sandbox.info.authority, verify=sandbox.ssl_context())
    header = asyncio.run(good.authorization())
    assert header.startswith("Bearer ")
    assert asyncio.run(good.authorization()) == header  # memoised, no new request
    assert asyncio.run(good.authorization(refresh=True)) != header
    good.close()
    bad = AppSession(client_id=sp["client_id"], client_secret="wrong", authority=sandbox.info.authority,
                     verify=sandbox.ssl_context())
    with pytest.raises(SignInRequired) as info:
        asyncio.run(bad.authorization())
    assert "secret" in str(info.value).lower()
    assert "wrong" not in str(info.value).split("secret")[0]  # the secret itself is never echoed
    bad.close()


def test_plaintext_cache_fallback_is_0600_and_flagged(tmp_path: Path) -> None:
    store = TokenCacheStore(tmp_path / "cache.bin", force_plaintext=True)
    assert store.persistent and not store.encrypted
    mode = stat.S_IMODE(os.stat(tmp_path / "cache.bin").st_mode)
    assert mode == 0o600


def test_encrypted_cache_falls_back_when_no_secret_store(tmp_path: Path) -> None:
    # Headless Linux has no unlocked Secret Service: the store must still work, flagged unencrypted.
    store = TokenCacheStore(tmp_path / "cache.bin")
    if not store.encrypted:
        # Under its own name: a keyring that appears later must not meet plain text where its data would be.
        assert store.path == tmp_path / "cache-unencrypted.bin" and store.notice
        assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    with pytest.raises(AuthFailed):
        if not store.encrypted:
            TokenCacheStore(tmp_path / "other.bin", allow_plaintext=False)
        else:
            raise AuthFailed("encrypted store available here; nothing to fall back from")


def test_basic_credentials_never_show_the_password() -> None:
    creds = BasicCredentials("ADMIN", "p@ss")
    assert "p@ss" not in repr(creds)
    assert asyncio.run(creds.authorization()).startswith("Basic ")


@pytest.mark.parametrize(
    "code,words",
    [(50076, "multi-factor"), (70043, "sign in again"), (700082, "expired"), (65001, "consent"),
     (700016, "client id"), (50020, "tenant"), (53003, "Conditional Access"), (50079, "multi-factor")],
)
def test_aadsts_codes_become_plain_instructions(code: int, words: str) -> None:
    failure = explain({"error": "invalid_grant", "error_description": f"AADSTS{code}: raw text. Trace ID: x"})
    assert words.lower() in str(failure).lower()
    assert failure.aadsts == code
    assert "Trace ID" not in str(failure)


def test_service_principal_with_a_certificate(sandbox: Sandbox) -> None:
    assert sandbox.info is not None
    sp = sandbox.info.service_principal
    app = AppSession(client_id=sp["client_id"], client_certificate=sp["certificate_pem"],
                     authority=sandbox.info.authority, verify=sandbox.ssl_context())
    header = asyncio.run(app.authorization())
    claims = sandbox._verify_bc_token(header[7:])
    assert claims["idtyp"] == "app" and claims["appid"] == sp["client_id"]
    assert "PRIVATE KEY" not in repr(app)
    app.close()


def test_a_certificate_the_app_does_not_know_is_explained() -> None:
    # Another sandbox's certificate: well-formed, but not registered for this app.
    with Sandbox(seed=9) as other, Sandbox(seed=1) as box:
        assert other.info is not None and box.info is not None
        app = AppSession(client_id=box.info.service_principal["client_id"],
                         client_certificate=other.info.service_principal["certificate_pem"],
                         authority=box.info.authority, verify=box.ssl_context())
        with pytest.raises(SignInRequired) as info:
            asyncio.run(app.authorization())
        assert info.value.aadsts == 700027 and "certificate" in str(info.value).lower()
        app.close()


def test_certificate_text_needs_key_and_certificate() -> None:
    with pytest.raises(AuthFailed, match="private key and the certificate"):
        AppSession(client_id="x", client_certificate="-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----",
                   authority="https://login.microsoftonline.com/contoso.com")


def test_the_openid_configuration_is_kept_a_day(tmp_path: Path) -> None:
    """viewer.auth.DiscoveryCache: fresh copies only, JSON objects only, a few authorities, and a damaged file
    is a miss (the next start asks the authority again), never an error."""
    from viewer.auth import DiscoveryCache

    cache = DiscoveryCache(tmp_path / "openid-configurations.json")
    url = "https://login.example/tenant/v2.0/.well-known/openid-configuration"
    assert cache.get(url) is None
    cache.put(url, '{"token_endpoint": "https://login.example/token"}', now=1000.0)
    assert cache.get(url, now=1000.0 + 3600) == '{"token_endpoint": "https://login.example/token"}'
    assert cache.get(url, now=1000.0 + DiscoveryCache.LIFETIME + 1) is None  # a day old: asked again
    cache.put(url + "?x", "<html>not json</html>", now=1000.0)
    assert cache.get(url + "?x", now=1000.0) is None
    for n in range(DiscoveryCache.KEPT + 2):
        cache.put(f"https://login.example/t{n}/v2.0/.well-known/openid-configuration", "{}", now=2000.0 + n)
    assert cache.get(url, now=2100.0) is None  # the oldest went first
    assert cache.get(f"https://login.example/t{DiscoveryCache.KEPT + 1}/v2.0/.well-known/openid-configuration",
                     now=2100.0) == "{}"
    (tmp_path / "openid-configurations.json").write_text("[not, json", "utf-8")
    assert cache.get(url) is None
    assert not list(tmp_path.glob("*.tmp"))
    assert DiscoveryCache.beside(TokenCacheStore(None)) is None  # an in-memory token cache keeps nothing on disk
