"""Transport rules shared by every network path: https only, except loopback. (No heavy imports.)"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from viewer.errors import InsecureUrlError


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
