"""A profile made live: its credentials, the one ``BcClient``, and where its API lives.

Built once per active profile by the app (or the ``show`` command); closed on quit or on switching.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from viewer.auth import AppSession, AuthFailed, BasicCredentials, TokenCacheStore, UserSession, load_secret
from viewer.client import BcClient, Credentials, RetryPolicy
from viewer.errors import SignInRequired, ViewerError
from viewer.net import Network, network_for
from viewer.paths import local_data_dir
from viewer.profiles import (
    CloudUserProfile,
    OnPremProfile,
    Profile,
    SandboxProfile,
    ServicePrincipalProfile,
    proxy_has_user,
)

ENV_PASSWORD = "BCPV_PASSWORD"
ENV_CLIENT_SECRET = "BCPV_CLIENT_SECRET"
ENV_CLIENT_CERTIFICATE = "BCPV_CLIENT_CERTIFICATE"  # a path: the PEM itself never goes into the environment


def _certificate_from_env() -> str | None:
    path = os.environ.get(ENV_CLIENT_CERTIFICATE)
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise SignInRequired(f"Cannot read the certificate file {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class SandboxEndpoints:
    """What a running sandbox tells us (kept free of the sandbox package: only plain values)."""

    authority: str
    api_root: str
    environments_url: str
    public_client_id: str
    ca_file: str


def network_of(profile: Profile, ca_file: str | None) -> Network:
    """Trust (the OS store plus ``ca_file``) and proxy (the profile's, with its password from the keyring;
    else the environment's or the system's) for both the client and MSAL: see ``viewer.net``."""
    password = load_secret(profile.name, "proxy_password") if proxy_has_user(profile) else None
    try:
        return network_for(ca_file, getattr(profile, "proxy", None), password)
    except ViewerError as exc:
        raise SignInRequired(str(exc)) from None


def token_cache_for(profile: Profile, directory: Path | None = None) -> TokenCacheStore:
    """One persisted cache for real tenants, and a separate one for the sandbox (MSAL keys its cache
    on the host without the port, so a new sandbox must not meet an old sandbox's tokens)."""
    base = directory or local_data_dir()
    if isinstance(profile, SandboxProfile):
        path = base / "sandbox-token-cache.bin"
        path.unlink(missing_ok=True)
        return TokenCacheStore(path, force_plaintext=True)
    return TokenCacheStore(base / "token-cache.bin")


class Connection:
    """Credentials + client for one profile. ``api_root`` ends in ``/api`` (the version follows)."""

    def __init__(
        self,
        profile: Profile,
        credentials: Credentials,
        client: BcClient,
        api_root: str,
        environments_url: str | None,
    ) -> None:
        self.profile = profile
        self.credentials = credentials
        self.client = client
        self.api_root = api_root
        self.environments_url = environments_url
        # Credentials go to this server only: a link in a response pointing elsewhere is refused (client.pin).
        client.pin(api_root, environments_url or "")

    @property
    def cloud_shaped(self) -> bool:
        """Cloud (and sandbox) roots name an environment; on-prem roots do not."""
        return self.environments_url is not None

    @property
    def environment(self) -> str | None:
        if not self.cloud_shaped:
            return None
        return self.api_root.rstrip("/").split("/")[-2]

    def api_root_for(self, environment: str | None) -> str:
        """The API root of another environment of the same tenant (on-prem: always the one root)."""
        if not self.cloud_shaped or not environment:
            return self.api_root
        parts = self.api_root.rstrip("/").split("/")
        parts[-2] = environment
        return "/".join(parts)

    @property
    def user(self) -> UserSession | None:
        return self.credentials if isinstance(self.credentials, UserSession) else None

    async def aclose(self) -> None:
        await self.client.aclose()
        close = getattr(self.credentials, "close", None)
        if callable(close):
            close()

    @classmethod
    def open(
        cls,
        profile: Profile,
        *,
        sandbox: SandboxEndpoints | None = None,
        password: str | None = None,
        client_secret: str | None = None,
        client_certificate: str | None = None,
        cache: TokenCacheStore | None = None,
        retry: RetryPolicy | None = None,
        open_browser: object = None,
    ) -> Connection:
        """Build the connection. Secrets come from the arguments, the environment or the keyring."""
        if isinstance(profile, SandboxProfile):
            if sandbox is None:
                raise SignInRequired("The sandbox is not running.")
            network = network_of(profile, sandbox.ca_file)
            user = UserSession(
                client_id=sandbox.public_client_id,
                authority=sandbox.authority,
                cache=cache or token_cache_for(profile),
                network=network,
                open_browser=open_browser,  # type: ignore[arg-type]
            )
            return cls(profile, user, BcClient(user, network=network, retry=retry), sandbox.api_root,
                       sandbox.environments_url)
        if isinstance(profile, CloudUserProfile):
            network = network_of(profile, profile.ca_file)
            user = UserSession(
                client_id=profile.client_id,
                authority=profile.authority,
                cache=cache or token_cache_for(profile),
                network=network,
                open_browser=open_browser,  # type: ignore[arg-type]
                broker=profile.use_broker,
            )
            return cls(profile, user, BcClient(user, network=network, retry=retry), profile.api_root,
                       f"{profile.api_base.rstrip('/')}/environments/v1.2")
        if isinstance(profile, ServicePrincipalProfile):
            network = network_of(profile, profile.ca_file)
            if profile.credential == "certificate":
                pem = client_certificate or _certificate_from_env() or load_secret(profile.name, "certificate")
                if not pem:
                    raise SignInRequired(
                        f"No certificate for '{profile.name}': store it in the keyring (profile editor) or set "
                        f"{ENV_CLIENT_CERTIFICATE} to the path of a PEM file with the private key and the certificate."
                    )
                try:
                    app = AppSession(client_id=profile.client_id, client_certificate=pem,
                                     authority=profile.authority, network=network)
                except AuthFailed as exc:
                    raise SignInRequired(str(exc)) from None
            else:
                secret = (client_secret or os.environ.get(ENV_CLIENT_SECRET)
                          or load_secret(profile.name, "client_secret"))
                if not secret:
                    raise SignInRequired(
                        f"No client secret for '{profile.name}': store it in the keyring (profile editor) "
                        f"or set {ENV_CLIENT_SECRET}."
                    )
                app = AppSession(client_id=profile.client_id, client_secret=secret, authority=profile.authority,
                                 network=network)
            return cls(profile, app, BcClient(app, network=network, retry=retry), profile.api_root,
                       f"{profile.api_base.rstrip('/')}/environments/v1.2")
        if isinstance(profile, OnPremProfile):
            secret = password or os.environ.get(ENV_PASSWORD) or load_secret(profile.name, "password")
            if not secret:
                raise SignInRequired(
                    f"No password or web service access key for {profile.user}: store it in the keyring "
                    f"(profile editor) or set {ENV_PASSWORD}."
                )
            network = network_of(profile, profile.ca_file)
            basic = BasicCredentials(profile.user, secret)
            return cls(profile, basic, BcClient(basic, network=network, retry=retry), profile.api_root, None)
        raise TypeError(f"unknown profile type {type(profile).__name__}")
