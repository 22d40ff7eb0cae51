"""Corporate networks: proxies (environment, system, per profile), the OS trust store, and failures that name
the proxy or the certificate's issuer. Real CONNECT proxy and TLS server: tests/proxy_servers.py."""

from __future__ import annotations

import asyncio
import io
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.proxy_servers import HIDDEN_HOST, PAYMENT, ConnectProxy, TlsServer
from viewer import auth
from viewer.auth import BasicCredentials, IdentityUnavailable, msal_http_client
from viewer.cli import main as show_main
from viewer.client import BcClient
from viewer.connection import Connection
from viewer.errors import NetworkError, ViewerError
from viewer.net import Network, bypasses, client_options, network_for, parse_proxy_url
from viewer.profiles import OnPremProfile, ProfileError, ServicePrincipalProfile
from viewer.sandbox import Sandbox

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy", "HTTP_PROXY",
              "http_proxy")
NO_SYSTEM = lambda: (None, [])  # noqa: E731


@pytest.fixture(autouse=True)
def _clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("BCPV_PASSWORD", raising=False)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TlsServer]:
    srv = TlsServer(tmp_path).start()
    yield srv
    srv.stop()


@pytest.fixture
def proxy(server: TlsServer) -> Iterator[ConnectProxy]:
    p = ConnectProxy({HIDDEN_HOST: "127.0.0.1"}).start()
    yield p
    p.stop()


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], str]:
    """The keyring, as a dict (what ``load_secret`` reads)."""
    store: dict[tuple[str, str], str] = {}
    monkeypatch.setattr(auth, "load_secret", lambda profile, kind: store.get((profile, kind)))
    import viewer.connection

    monkeypatch.setattr(viewer.connection, "load_secret", lambda profile, kind: store.get((profile, kind)))
    return store


def payment_url(server: TlsServer) -> str:
    return (f"{server.base_url}/BC/api/v2.0/companies(aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee)"
            f"/customerPayments({PAYMENT['id']})")


def show(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = show_main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# ---- which proxy, which hosts go direct (unit) -----------------------------------------------------


def test_profile_proxy_wins_over_environment_and_system() -> None:
    env = {"HTTPS_PROXY": "http://env-proxy:3128"}
    network = network_for(None, "http://alice@profile-proxy:8080", "s3cret", environ=env,
                          system=lambda: ("sys-proxy:80", []), verify=False)
    assert network.proxy is not None and network.proxy.address == "profile-proxy:8080"
    assert (network.proxy.username, network.proxy.password, network.proxy.source) == ("alice", "s3cret", "the profile")
    assert "s3cret" not in repr(network) and "s3cret" not in str(network.proxy)


def test_environment_then_system_proxy_and_their_exceptions() -> None:
    env = {"https_proxy": "http://env-proxy:3128", "NO_PROXY": "intranet.example,.corp.example"}
    network = network_for(None, environ=env, system=lambda: ("sys-proxy:80", ["*.sys.example"]), verify=False)
    assert network.proxy is not None and str(network.proxy) == "the proxy env-proxy:3128 (from HTTPS_PROXY)"
    assert network.proxy_for("intranet.example") is None and network.proxy_for("a.corp.example") is None
    assert network.proxy_for("a.sys.example") is network.proxy  # system exceptions belong to the system proxy
    system = network_for(None, environ={}, system=lambda: ("sys-proxy:80", ["*.sys.example", "<local>"]),
                         verify=False)
    assert system.proxy is not None and system.proxy.url == "http://sys-proxy:80"
    assert "system settings" in str(system.proxy)
    assert system.proxy_for("a.sys.example") is None and system.proxy_for("printer") is None
    assert system.proxy_for("api.businesscentral.dynamics.com") is system.proxy
    assert network_for(None, environ={}, system=NO_SYSTEM, verify=False).proxy is None


@pytest.mark.parametrize("host", ["127.0.0.1", "127.3.4.5", "localhost", "::1", "[::1]"])
def test_loopback_always_goes_direct(host: str) -> None:
    network = network_for(None, "http://proxy:8080", environ={}, verify=False)
    assert network.proxy_for(host) is None
    assert bypasses(host, ())


def test_no_proxy_patterns() -> None:
    patterns = ("example.com", ".corp.test", "*.wild.test", "10.1.2.3")
    assert bypasses("example.com", patterns) and bypasses("api.example.com", patterns)
    assert not bypasses("notexample.com", patterns)
    assert bypasses("a.corp.test", patterns) and bypasses("corp.test", patterns)
    assert bypasses("x.wild.test", patterns) and bypasses("10.1.2.3", patterns)
    assert bypasses("anything", ("*",))
    assert not bypasses("login.microsoftonline.com", patterns)


def test_proxy_urls_are_checked() -> None:
    assert parse_proxy_url("proxy.corp:8080", "the system settings").url == "http://proxy.corp:8080"
    env_proxy = parse_proxy_url("http://bob:pa%40ss@proxy:3128", "HTTPS_PROXY")
    assert (env_proxy.username, env_proxy.password, env_proxy.url) == ("bob", "pa@ss", "http://proxy:3128")
    with pytest.raises(ViewerError, match="socks5://x"):
        parse_proxy_url("socks5://x:1080", "HTTPS_PROXY")
    base = dict(name="p", base_url="https://bc.example.com/BC", user="u")
    OnPremProfile(**base, proxy="http://alice@proxy.example.com:8080").validate()
    with pytest.raises(ProfileError, match="password box"):
        OnPremProfile(**base, proxy="http://alice:pw@proxy.example.com:8080").validate()
    with pytest.raises(ProfileError, match="pac"):
        OnPremProfile(**base, proxy="file:///etc/proxy.pac").validate()


def test_client_and_msal_are_built_from_the_same_network(secrets: dict[tuple[str, str], str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # MSAL's constructor would fetch the OpenID configuration: a stand-in keeps what it was given.
    import msal  # viewer/auth.py imports it where it is used (Basic auth needs none of it)

    monkeypatch.setattr(msal, "ConfidentialClientApplication", lambda *a, **kw: SimpleNamespace(**kw))
    secrets[("Robot", "proxy_password")] = "proxy-pw"
    profile = ServicePrincipalProfile(name="Robot", tenant="contoso.com",
                                      client_id="11111111-2222-3333-4444-555555555555", proxy="http://robot@proxy.example.com:8080")
    connection = Connection.open(profile, client_secret="x")
    try:
        network = connection.client.network
        msal_http = connection.credentials._http  # type: ignore[attr-defined]
        assert connection.credentials.app.http_client is msal_http  # type: ignore[attr-defined]
        assert msal_http.network is network
        assert network.proxy is not None and (network.proxy.username, network.proxy.password) == ("robot", "proxy-pw")
        # Both clients route by the same rule: Microsoft hosts through the proxy, loopback direct.
        for client in (connection.client._http, msal_http):
            router = next(iter(client._mounts.values()))
            assert router.network is network
        assert network.proxy_for("login.microsoftonline.com") is network.proxy
        assert network.proxy_for("127.0.0.1") is None
    finally:
        asyncio.run(connection.aclose())
    assert "mounts" not in client_options(Network(verify=False), asynchronous=True)


# ---- through a real proxy ------------------------------------------------------------------------------


def test_show_reaches_a_server_only_the_proxy_can_resolve(server: TlsServer, proxy: ConnectProxy,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BCPV_PASSWORD", "pw")
    argv = ("show", payment_url(server), "--user", "ADMIN", "--ca-file", str(server.ca_file), "--format", "json")
    code, out, err = show(*argv)
    assert code == 5 and f"Cannot connect to {HIDDEN_HOST}" in err, err  # no proxy: the name does not resolve
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    code, out, err = show(*argv)
    assert code == 0, err
    assert "Through the proxy" in out
    assert proxy.connects == [f"{HIDDEN_HOST}:{server.port}"]


def test_the_apps_client_goes_through_the_profiles_proxy_with_its_password(
    server: TlsServer, secrets: dict[tuple[str, str], str]
) -> None:
    guarded = ConnectProxy({HIDDEN_HOST: "127.0.0.1"}, credentials=("alice", "corp-pw")).start()
    try:
        profile = OnPremProfile(name="Behind", base_url=f"{server.base_url}/BC", user="ADMIN",
                                ca_file=str(server.ca_file), proxy=f"http://alice@127.0.0.1:{guarded.port}")

        async def fetch() -> str:
            connection = Connection.open(profile, password="pw")
            try:
                return str((await connection.client.get_json(payment_url(server))).data["description"])
            finally:
                await connection.aclose()

        with pytest.raises(NetworkError, match=rf"proxy 127\.0\.0\.1:{guarded.port} \(from the profile\) asks for"):
            asyncio.run(fetch())
        secrets[("Behind", "proxy_password")] = "corp-pw"
        assert asyncio.run(fetch()) == "Through the proxy"
        assert guarded.connects == [f"{HIDDEN_HOST}:{server.port}"]
    finally:
        guarded.stop()


def test_loopback_never_goes_through_the_proxy(sandbox: Sandbox, proxy: ConnectProxy) -> None:
    assert sandbox.info is not None
    network = network_for(environ={"HTTPS_PROXY": proxy.url}, verify=sandbox.ssl_context())
    assert network.proxy is not None
    basic = sandbox.info.basic

    async def fetch() -> int:
        async with BcClient(BasicCredentials(basic["user"], basic["password"]), network=network) as client:
            return (await client.get_json(f"{sandbox.info.onprem_root}/v2.0/companies")).facts.status  # type: ignore[union-attr]

    assert asyncio.run(fetch()) == 200
    assert proxy.connects == [] and proxy.rejected == []


def test_a_wrong_proxy_is_named(server: TlsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{dead}")
    monkeypatch.setenv("BCPV_PASSWORD", "pw")
    code, _, err = show("show", payment_url(server), "--user", "ADMIN", "--ca-file", str(server.ca_file))
    assert code == 5
    assert f"Cannot connect through the proxy 127.0.0.1:{dead} (from HTTPS_PROXY)" in err, err
    # MSAL's client says the same, as an error the sign-in bar shows.
    expected = f"Cannot sign in. Cannot connect through the proxy 127.0.0.1:{dead}"
    with msal_http_client(network_for(None, environ={"HTTPS_PROXY": f"127.0.0.1:{dead}"}, verify=False)) as client, \
            pytest.raises(IdentityUnavailable, match=expected):
        client.get("https://login.microsoftonline.com/common/discovery/instance")


def test_tls_inspection_names_the_issuer(server: TlsServer, proxy: ConnectProxy,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A certificate from a CA this computer does not trust (what TLS inspection looks like before the company's
    root is installed): the message names the issuer, and that the request went through the proxy."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("BCPV_PASSWORD", "pw")
    monkeypatch.setenv("SSL_CERT_FILE", str(Path(__file__).parent / "no-such-bundle.pem"))
    code, _, err = show("show", payment_url(server), "--user", "ADMIN")
    assert code == 5
    assert "issued by “Proxy Test Root CA”" in err and "through the proxy" in err, err


def test_the_system_trust_store_is_used(server: TlsServer, proxy: ConnectProxy,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """No CA file in the profile: the test CA is trusted because it is in the system store (on Linux, OpenSSL's
    store, which SSL_CERT_FILE points at here; truststore reads the Windows store and the Keychain the same way)."""
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("BCPV_PASSWORD", "pw")
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    code, out, err = show("show", payment_url(server), "--user", "ADMIN", "--format", "json")
    assert code == 0, err
    assert "Through the proxy" in out
    assert isinstance(network_for(environ={}, system=NO_SYSTEM).verify, ssl.SSLContext)


def test_on_linux_the_system_store_is_read_once_and_found_where_distributions_keep_it(
        server: TlsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """viewer/net.py: Linux's system store is OpenSSL's, read into the context once (truststore re-read it on every
    handshake); with OpenSSL's own default paths missing (a frozen app's OpenSSL), the distributions' bundles; read
    ahead in a thread at start-up (warm_trust_store), the next context takes that one."""
    from viewer import net

    if sys.platform in ("win32", "darwin"):
        pytest.skip("Windows and macOS trust through truststore")
    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    context = net.trust_context()
    assert any("Proxy Test Root CA" in str(c.get("subject")) for c in context.get_ca_certs())

    monkeypatch.setenv("SSL_CERT_FILE", str(server.ca_file.with_name("missing.pem")))
    monkeypatch.setenv("SSL_CERT_DIR", str(server.ca_file.with_name("missing-dir")))
    monkeypatch.setattr(net, "_LINUX_CA_FILES", ("/nonexistent/cert.pem", str(server.ca_file)))
    fallback = net.trust_context()
    assert any("Proxy Test Root CA" in str(c.get("subject")) for c in fallback.get_ca_certs())
    damaged = server.ca_file.with_name("damaged.pem")
    damaged.write_text("not a certificate", "utf-8")
    monkeypatch.setenv("SSL_CERT_FILE", str(damaged))  # unreadable as PEM: the next place, never an error
    past_damage = net.trust_context()
    assert any("Proxy Test Root CA" in str(c.get("subject")) for c in past_damage.get_ca_certs())

    net.warm_trust_store()
    warmed = net._warmed[0]
    assert net.trust_context() is warmed  # taken once...
    assert net.trust_context() is not warmed  # ...then each context reads the store itself
