"""Transport rules shared by every network path: https only except loopback, which proxy, which trust.

One ``Network`` value says how to reach servers for a profile (the trust store plus the profile's CA file,
the proxy and the hosts that bypass it); ``client_options`` turns it into the keyword arguments of both the
Business Central client (``httpx.AsyncClient``) and MSAL's ``httpx.Client``, so the two never disagree.
``describe_failure`` turns a transport error into a sentence that names the proxy or the certificate's issuer.
(No heavy imports at module level: the launcher imports this before the first paint.)
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from viewer.errors import InsecureUrlError, ViewerError

if TYPE_CHECKING:  # ssl and httpx only when a connection is made: the launcher imports this before its first paint
    import ssl

    import httpx

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_secure(url: str) -> None:
    """https only, except loopback (the sandbox, local on-prem test servers)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # "https://[::1/x" and the like: a link from a response is never trusted to parse
        raise InsecureUrlError("Refusing a malformed URL") from None
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and is_loopback(host):
        return
    raise InsecureUrlError(
        f"Refusing {parts.scheme or 'a schemeless'} URL to {host or '?'}: "
        "only https is allowed (http only to this computer)"
    )


# ---- trust ---------------------------------------------------------------------------------------


def trust_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Verify against the operating system's trust store (Windows certificate store, macOS Keychain,
    OpenSSL's store on Linux), plus the profile's own CA file if it names one.

    A company that inspects TLS installs its root in the OS store, so managed PCs need nothing here;
    ``ssl.create_default_context()`` would miss the Keychain and has no CA bundle in a frozen app.
    Windows and macOS go through ``truststore``. On Linux the system store *is* OpenSSL's, and truststore
    re-reads it on every TLS handshake (~25 ms a connection here, measured in the deep link's
    tests/benchmarks/run_all.py): ``_openssl_store`` reads it once per context instead.
    """
    import ssl

    if sys.platform in ("win32", "darwin"):
        import truststore

        context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    else:
        context = _take_warmed() or _openssl_store()
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ViewerError(f"Cannot use the CA file {ca_file}: {getattr(exc, 'strerror', None) or exc}") from None
    return context


# Where Linux distributions keep the system's CA bundle, for an OpenSSL whose own default paths are missing (a
# frozen app carries an OpenSSL built elsewhere): the list truststore searches too.
_LINUX_CA_FILES = (
    "/etc/ssl/cert.pem",  # Alpine, Arch, Fedora 34+, RHEL 9+, BSD
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # Fedora 44+, RHEL 11+
    "/etc/pki/tls/cert.pem",  # older Fedora, RHEL, CentOS
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu
    "/etc/ssl/ca-bundle.pem",  # SUSE
)


_warmed: list[ssl.SSLContext] = []  # at most one, parsed ahead by warm_trust_store and taken by the next caller
_warmed_lock = threading.Lock()


def warm_trust_store() -> None:
    """Read the system store now, in a thread (ui/app.py's start with a deep link, while the window builds): the
    next ``trust_context`` takes that context instead of reading the store again. Linux only: Windows and
    macOS ask the system per handshake."""
    if sys.platform in ("win32", "darwin"):
        return
    context = _openssl_store()
    with _warmed_lock:
        _warmed[:] = [context]


def _take_warmed() -> ssl.SSLContext | None:
    with _warmed_lock:
        return _warmed.pop() if _warmed else None


def _openssl_store() -> ssl.SSLContext:
    """A client context that trusts OpenSSL's default locations (``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured), or
    else the first bundle of ``_LINUX_CA_FILES`` — what truststore does on Linux, done once. Read with
    ``load_verify_locations``, which parses the bundle without holding the interpreter (a sign-in thread does
    it while the window works)."""
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # hostname checked, certificate required
    paths = ssl.get_default_verify_paths()
    capath = paths.capath if paths.capath and _holds_hashed_certs(paths.capath) else None
    places: list[tuple[str | None, str | None]] = [(paths.cafile, capath)] if paths.cafile or capath else []
    places += [(path, None) for path in _LINUX_CA_FILES if os.path.isfile(path)]
    for cafile, directory in places:
        try:
            context.load_verify_locations(cafile=cafile, capath=directory)
            break
        except (OSError, ssl.SSLError) as exc:  # unreadable or not PEM: the next place; none trusts nothing, and
            logger.warning("cannot read the CA store %s: %s", cafile or directory, exc)  # a handshake says so
    return context


def _holds_hashed_certs(directory: str) -> bool:
    """OpenSSL looks certificates up in a directory by subject hash (``1a2b3c4d.0``)."""
    import re

    try:
        return any(re.fullmatch(r"[0-9a-fA-F]{8}\.[0-9]", name) for name in os.listdir(directory))
    except OSError:
        return False


# ---- proxies -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proxy:
    """An HTTP(S) proxy. ``url`` has no credentials; the password comes from the keyring."""

    url: str
    source: str  # "the profile", "HTTPS_PROXY", "the system settings": said in messages
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"

    def __str__(self) -> str:
        return f"the proxy {self.address} (from {self.source})"

    def httpx_proxy(self) -> httpx.Proxy:
        import httpx

        auth = (self.username, self.password or "") if self.username else None
        return httpx.Proxy(self.url, auth=auth)


def parse_proxy_url(url: str, source: str, password: str | None = None) -> Proxy:
    """``http://[user@]host:port`` → a ``Proxy``; a scheme-less ``host:port`` (as Windows stores it) means http."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ViewerError(f"The proxy {url!r} from {source} is not an http:// or https:// address with a host name")
    try:
        port = parts.port
    except ValueError:
        raise ViewerError(f"The proxy {url!r} from {source} has an invalid port") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    clean = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    username = unquote(parts.username) if parts.username else None
    if parts.password is not None:
        password = unquote(parts.password)  # from the environment: the user put it there
    return Proxy(clean, source, username, password)


def proxy_url_with_user(url: str, username: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{quote(username, safe='')}@{parts.netloc.rsplit('@', 1)[-1]}").geturl()


def _env(environ: Mapping[str, str], name: str) -> str:
    # curl and urllib accept both spellings; the lower-case one wins (as in urllib.request.getproxies_environment).
    return environ.get(name.lower()) or environ.get(name.upper()) or ""


def system_proxy_settings(platform: str = sys.platform) -> tuple[str | None, list[str]]:
    """The proxy the OS is set to (Windows: Internet Options; macOS: Network settings) and its exceptions.

    Only what Python can read: a fixed proxy. Automatic configuration scripts (PAC/WPAD) are not evaluated.
    """
    import urllib.request

    proxies: dict[str, str] = {}
    bypass: list[str] = []
    if platform == "win32":
        proxies = urllib.request.getproxies_registry()  # type: ignore[attr-defined,unused-ignore]
        bypass = _windows_proxy_override()
    elif platform == "darwin":
        proxies = urllib.request.getproxies_macosx_sysconf()  # type: ignore[attr-defined,unused-ignore]
        bypass = _macos_proxy_exceptions()
    url = proxies.get("https") or proxies.get("http")
    return url, bypass


def _windows_proxy_override() -> list[str]:
    """``ProxyOverride`` from Internet Settings: ``*.corp;<local>`` (the registry is the only source)."""
    if sys.platform != "win32":
        return []
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER,
                            r"Software\Microsoft\Windows\CurrentVersion\Internet Settings") as key:
            value = str(winreg.QueryValueEx(key, "ProxyOverride")[0])
    except OSError:
        return []
    return [item.strip() for item in value.split(";") if item.strip()]


def _macos_proxy_exceptions() -> list[str]:
    if sys.platform != "darwin":
        return []
    try:
        from _scproxy import _get_proxy_settings  # type: ignore[import-not-found]
    except ImportError:
        return []
    settings = _get_proxy_settings()
    out = [str(item) for item in settings.get("exceptions") or []]
    if settings.get("exclude_simple"):
        out.append("<local>")
    return out


def bypasses(host: str, patterns: tuple[str, ...]) -> bool:
    """Whether ``host`` goes direct: loopback always; else NO_PROXY / ProxyOverride patterns (``*``,
    ``example.com`` and its subdomains, ``.example.com``, ``*.example.com``, ``<local>`` for dot-less names)."""
    host = host.lower().rstrip(".").strip("[]")
    if is_loopback(host):
        return True
    for raw in patterns:
        pattern = raw.strip().lower()
        if not pattern:
            continue
        if pattern == "*":
            return True
        if pattern == "<local>":
            if "." not in host and ":" not in host:
                return True
            continue
        pattern = pattern.split(":", 1)[0] if pattern.count(":") == 1 else pattern  # host:port → host
        if pattern.startswith("*."):
            pattern = pattern[1:]
        if pattern.startswith("."):
            if host.endswith(pattern) or host == pattern[1:]:
                return True
        elif host == pattern or host.endswith("." + pattern):
            return True
        elif "*" in pattern:
            import fnmatch

            if fnmatch.fnmatch(host, pattern):
                return True
    return False


@dataclass(frozen=True)
class Network:
    """How to reach servers: what to trust, which proxy, which hosts go direct (loopback always)."""

    verify: ssl.SSLContext | bool = True
    proxy: Proxy | None = None
    bypass: tuple[str, ...] = ()

    def proxy_for(self, host: str) -> Proxy | None:
        if self.proxy is None or bypasses(host, self.bypass):
            return None
        return self.proxy


def network_for(
    ca_file: str | None = None,
    proxy_url: str | None = None,
    proxy_password: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    system: Callable[[], tuple[str | None, list[str]]] = system_proxy_settings,
    verify: ssl.SSLContext | bool | None = None,
) -> Network:
    """The profile's proxy if it has one, else ``HTTPS_PROXY``/``ALL_PROXY`` (with ``NO_PROXY``), else the OS's.

    ``verify`` replaces the trust store (tests, the sandbox's own CA); otherwise ``trust_context(ca_file)``.
    """
    env = os.environ if environ is None else environ
    no_proxy = tuple(item for item in _env(env, "NO_PROXY").split(",") if item.strip())
    proxy: Proxy | None = None
    bypass: tuple[str, ...] = no_proxy
    if proxy_url:
        proxy = parse_proxy_url(proxy_url, "the profile", proxy_password)
    elif url := _env(env, "HTTPS_PROXY"):
        proxy = parse_proxy_url(url, "HTTPS_PROXY")
    elif url := _env(env, "ALL_PROXY"):
        proxy = parse_proxy_url(url, "ALL_PROXY")
    else:
        system_url, system_bypass = system()
        if system_url:
            proxy = parse_proxy_url(system_url, "the system settings")
            bypass = no_proxy + tuple(system_bypass)
    return Network(verify=trust_context(ca_file) if verify is None else verify, proxy=proxy, bypass=bypass)


def client_options(network: Network, *, asynchronous: bool) -> dict[str, Any]:
    """Keyword arguments for ``httpx.AsyncClient`` (``asynchronous=True``) or ``httpx.Client`` (MSAL's).

    ``trust_env=False``: httpx's own reading of the environment would also apply ``.netrc`` and
    ``SSL_CERT_FILE`` behind our back; proxies come from ``network_for`` instead. With a proxy, one routing
    transport sends each request direct or through the proxy by its host (loopback is always direct).
    """
    options: dict[str, Any] = {"verify": network.verify, "trust_env": False}
    if network.proxy is not None:
        sync_router, async_router = _make_routers()  # classes made on first use: httpx is not free to import
        options["mounts"] = {"all://": (async_router if asynchronous else sync_router)(network)}
    return options


def _transports(network: Network, cls: Any) -> tuple[Any, Any]:
    assert network.proxy is not None
    return cls(verify=network.verify), cls(verify=network.verify, proxy=network.proxy.httpx_proxy())


@functools.cache
def _make_routers() -> tuple[type[Any], type[Any]]:
    import httpx

    class SyncRouter(httpx.BaseTransport):
        def __init__(self, network: Network) -> None:
            self.network = network
            self._direct, self._proxied = _transports(network, httpx.HTTPTransport)

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            use = self._proxied if self.network.proxy_for(request.url.host) else self._direct
            response: httpx.Response = use.handle_request(request)
            return response

        def close(self) -> None:
            self._direct.close()
            self._proxied.close()

    class AsyncRouter(httpx.AsyncBaseTransport):
        def __init__(self, network: Network) -> None:
            self.network = network
            self._direct, self._proxied = _transports(network, httpx.AsyncHTTPTransport)

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            use = self._proxied if self.network.proxy_for(request.url.host) else self._direct
            response: httpx.Response = await use.handle_async_request(request)
            return response

        async def aclose(self) -> None:
            await self._direct.aclose()
            await self._proxied.aclose()

    return SyncRouter, AsyncRouter


# ---- failures in words ---------------------------------------------------------------------------


def describe_failure(exc: BaseException, url: str, network: Network | None) -> str:
    """A transport error as one sentence that names the proxy (when one was used) or the certificate's issuer."""
    import httpx

    parts = urlsplit(url)
    host = parts.hostname or "?"
    proxy = network.proxy_for(host) if network else None
    where = f"{host}:{parts.port}" if parts.port else host  # the port tells two local services apart
    text = str(exc)
    if isinstance(exc, httpx.ProxyError):
        if "407" in text:
            return (f"{_cap(proxy)} asks for a user name and password: enter them in the profile (Proxy) "
                    "and check them with your IT department")
        return f"{_cap(proxy)} refused the connection to {where} ({text or 'no reason given'})"
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in text:
        issuer = certificate_issuer(host, parts.port or 443, network)
        via = f" through {proxy}" if proxy else ""
        if issuer:
            return (f"Cannot connect to {where}{via}: its certificate was issued by “{issuer}”, which this computer "
                    "does not trust. If your organisation inspects TLS, install its root certificate in the system's "
                    "trust store (or name it as the profile's CA file)")
        return f"Cannot connect to {where}{via}: the server's certificate is not trusted"
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) and proxy is not None:
        return f"Cannot connect through {proxy}: check the proxy address, or ask your IT department which proxy to use"
    if isinstance(exc, httpx.ConnectError) and any(
            word in text.lower() for word in ("name or service not known", "nodename nor servname", "getaddrinfo",
                                              "name resolution", "no address")):
        return f"Cannot connect to {where}: the name could not be found (DNS). Check the address and your network"
    if isinstance(exc, httpx.ConnectError):
        return f"Cannot connect to {where}: it cannot be reached. Check the address and your network"
    if isinstance(exc, httpx.TimeoutException):
        return "The service did not answer in time" + (f" (through {proxy})" if proxy else "")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return "The connection broke before the answer was complete"
    return f"Network error: {type(exc).__name__}"


def _cap(proxy: Proxy | None) -> str:
    return str(proxy)[:1].upper() + str(proxy)[1:] if proxy else "The proxy"


def certificate_issuer(host: str, port: int, network: Network | None, timeout: float = 5.0) -> str | None:
    """Who issued the certificate ``host`` presents (through the proxy, as the real request went): a TLS
    handshake without verification that sends no request, only to name the issuer in an error message."""
    import socket
    import ssl

    try:
        proxy = network.proxy_for(host) if network else None
        if proxy is not None:
            sock = socket.create_connection(_host_port(proxy.address), timeout=timeout)
            sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                head += chunk
            if b" 200" not in head.split(b"\r\n", 1)[0]:
                sock.close()
                return None
        else:
            sock = socket.create_connection((host, port), timeout=timeout)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with context.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ValueError):
        return None
    if not der:
        return None
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    issuer = x509.load_der_x509_certificate(der).issuer
    names = issuer.get_attributes_for_oid(NameOID.COMMON_NAME) or issuer.get_attributes_for_oid(
        NameOID.ORGANIZATION_NAME)
    return str(names[0].value) if names else issuer.rfc4514_string()


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)
