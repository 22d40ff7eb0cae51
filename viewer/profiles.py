"""Connection profiles: where Business Central is and how to sign in. Plain data; no secret fields.

Secrets (client secret, password or web service access key) live in the OS keyring under the
profile's name (``viewer.auth.load_secret``), never here and never in settings.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from viewer.net import is_loopback

MICROSOFT_LOGIN = "https://login.microsoftonline.com"
MICROSOFT_API = "https://api.businesscentral.dynamics.com"

_TENANT = re.compile(r"^([0-9a-fA-F-]{36}|[A-Za-z0-9.-]+\.[A-Za-z]{2,}|organizations|common)$")
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9_-]{1,30}$")


class ProfileKind(StrEnum):
    CLOUD_USER = "cloud"
    SERVICE_PRINCIPAL = "service_principal"
    ONPREM = "onprem"
    SANDBOX = "sandbox"


class ProfileError(ValueError):
    """A profile field is wrong; the message names the field."""


def _check_https(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname or "")):
        if not parts.hostname:
            raise ProfileError(f"{what}: {url!r} has no host name")
        return
    raise ProfileError(f"{what} must start with https:// (http only for this computer)")


def _check_proxy(url: str | None) -> None:
    """A fixed proxy address; its password goes in the keyring, never in the address (settings are plain text)."""
    if not url:
        return
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProfileError("Proxy must be an address like http://proxy.example.com:8080 (automatic "
                           "configuration scripts, .pac, are not supported)")
    if parts.password is not None:
        raise ProfileError("Proxy: put the password in the proxy password box, not in the address")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ProfileError("Proxy: the port must be a number") from None


def proxy_has_user(profile: object) -> bool:
    """Whether the profile's proxy names a user: only then is there a ``proxy_password`` in the keyring."""
    proxy = getattr(profile, "proxy", None)
    return bool(proxy) and "@" in str(proxy)


def _check_guid(value: str, what: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise ProfileError(f"{what} must be a GUID like 00000000-0000-0000-0000-000000000000") from None


@dataclass(frozen=True)
class CloudUserProfile:
    """A person signing in with their Microsoft account through their own app registration."""

    name: str
    tenant: str
    client_id: str
    environment: str = "production"
    authority_host: str = MICROSOFT_LOGIN
    api_base: str = MICROSOFT_API
    ca_file: str | None = None
    proxy: str | None = None  # http://[user@]host:port; its password in the keyring as ``proxy_password``
    use_broker: bool = False  # Windows: sign in through the OS account broker (WAM), viewer.auth
    kind: ProfileKind = field(default=ProfileKind.CLOUD_USER, init=False)

    @property
    def authority(self) -> str:
        return f"{self.authority_host.rstrip('/')}/{self.tenant}"

    @property
    def api_root(self) -> str:
        return f"{self.api_base.rstrip('/')}/v2.0/{self.tenant}/{self.environment}/api"

    def validate(self) -> None:
        _check_name(self.name)
        if not _TENANT.match(self.tenant):
            raise ProfileError("Tenant must be a tenant id (GUID) or a domain like contoso.com")
        _check_guid(self.client_id, "Client id")
        if not _ENVIRONMENT.match(self.environment):
            raise ProfileError("Environment must be a name like production or sandbox")
        _check_https(self.authority_host, "Authority")
        _check_https(self.api_base, "API address")
        _check_proxy(self.proxy)


@dataclass(frozen=True)
class ServicePrincipalProfile:
    """An app registration with a client secret (kept in the keyring as ``client_secret``) or a certificate
    (``credential="certificate"``: the PEM with its private key, kept in the keyring as ``certificate``)."""

    name: str
    tenant: str
    client_id: str
    environment: str = "production"
    authority_host: str = MICROSOFT_LOGIN
    api_base: str = MICROSOFT_API
    ca_file: str | None = None
    credential: str = "secret"  # or "certificate"
    proxy: str | None = None
    kind: ProfileKind = field(default=ProfileKind.SERVICE_PRINCIPAL, init=False)

    @property
    def authority(self) -> str:
        return f"{self.authority_host.rstrip('/')}/{self.tenant}"

    @property
    def api_root(self) -> str:
        return f"{self.api_base.rstrip('/')}/v2.0/{self.tenant}/{self.environment}/api"

    def validate(self) -> None:
        _check_name(self.name)
        if not _TENANT.match(self.tenant) or self.tenant in ("organizations", "common"):
            raise ProfileError("A service principal needs a specific tenant (GUID or domain)")
        if self.credential not in ("secret", "certificate"):
            raise ProfileError("The credential must be a client secret or a certificate")
        _check_guid(self.client_id, "Client id")
        if not _ENVIRONMENT.match(self.environment):
            raise ProfileError("Environment must be a name like production or sandbox")
        _check_https(self.authority_host, "Authority")
        _check_https(self.api_base, "API address")
        _check_proxy(self.proxy)


@dataclass(frozen=True)
class OnPremProfile:
    """A Business Central server with NavUserPassword auth (password or access key in the keyring)."""

    name: str
    base_url: str  # https://host:7048/BC (server instance included)
    user: str
    tenant: str | None = None
    ca_file: str | None = None
    proxy: str | None = None
    kind: ProfileKind = field(default=ProfileKind.ONPREM, init=False)

    @property
    def api_root(self) -> str:
        return f"{self.base_url.rstrip('/')}/api"

    def validate(self) -> None:
        _check_name(self.name)
        _check_https(self.base_url, "Server address")
        if not self.user.strip():
            raise ProfileError("User name is required")
        _check_proxy(self.proxy)


SANDBOX_NAME = "Sandbox"


@dataclass(frozen=True)
class SandboxProfile:
    """The embedded sandbox, a built-in entry of every profile list; its addresses are known only once it runs."""

    name: str = SANDBOX_NAME
    kind: ProfileKind = field(default=ProfileKind.SANDBOX, init=False)

    def validate(self) -> None:
        _check_name(self.name)


Profile = CloudUserProfile | ServicePrincipalProfile | OnPremProfile | SandboxProfile

_BY_KIND: dict[ProfileKind, type[Any]] = {
    ProfileKind.CLOUD_USER: CloudUserProfile,
    ProfileKind.SERVICE_PRINCIPAL: ServicePrincipalProfile,
    ProfileKind.ONPREM: OnPremProfile,
    ProfileKind.SANDBOX: SandboxProfile,
}


def _check_name(name: str) -> None:
    if not name.strip():
        raise ProfileError("Profile name is required")
    if len(name) > 80:
        raise ProfileError("Profile name is too long (80 characters at most)")


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    data = asdict(profile)
    data["kind"] = str(profile.kind)
    return data


def profile_from_dict(data: dict[str, Any]) -> Profile:
    """Rebuild a profile; unknown keys are ignored so newer settings files still load."""
    try:
        kind = ProfileKind(data.get("kind", ""))
    except ValueError:
        raise ProfileError(f"Unknown profile kind {data.get('kind')!r}") from None
    cls = _BY_KIND[kind]
    allowed = {f.name for f in fields(cls) if f.init}
    profile: Profile = cls(**{k: v for k, v in data.items() if k in allowed})
    return profile


def check_saveable(profile: Profile) -> None:
    """``profile`` may be saved under its name: valid, and not the built-in sandbox's name (ProfileError if not)."""
    profile.validate()
    if isinstance(profile, SandboxProfile) or profile.name.strip().casefold() == SANDBOX_NAME.casefold():
        raise ProfileError(f"'{SANDBOX_NAME}' is the built-in sandbox profile; pick another name")


def secret_kind(profile: Profile) -> str:
    """Under which keyring kind the profile's secret is kept (``viewer.auth.store_secret(name, kind, value)``), or ""
    when it has none. The profile editor and ``bc-payment-viewer-cli profile add`` both store through this, and
    ``viewer.connection`` reads the same kinds back."""
    if isinstance(profile, ServicePrincipalProfile):
        return "certificate" if profile.credential == "certificate" else "client_secret"
    if isinstance(profile, OnPremProfile):
        return "password"
    return ""


def read_certificate(path: str) -> str:
    """The PEM of a certificate credential, read from ``path``: the private key and the certificate. Its content goes
    to the keyring; the path itself is not kept (the file may be removed afterwards)."""
    try:
        with open(path, encoding="utf-8") as handle:
            pem = handle.read()
    except OSError as exc:
        raise ProfileError(f"Cannot read the certificate file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ProfileError("The certificate file must be a PEM text file (not DER or PFX)") from None
    if "PRIVATE KEY-----" not in pem or "BEGIN CERTIFICATE" not in pem:
        raise ProfileError("The certificate file must hold the private key and the certificate (PEM)")
    return pem
