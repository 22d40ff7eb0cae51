"""Open…: pasted text (API URL, web-client URL, GUIDs) → the payment URL to load on the current connection.

A pasted URL is only fetched when it points at the host the current profile signed in to: the bearer
token must never travel to a server the user did not sign in to (a sandbox token to Microsoft, or a
Microsoft token to a look-alike host).
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from viewer import refs
from viewer.refs import Endpoint, PaymentRef, RefError

DEFAULT_API_VERSION = "v2.0"


class ConnectionLike(Protocol):
    def api_root_for(self, environment: str | None) -> str: ...


class NavigationLike(Protocol):
    """What the opener needs of the navigator's state (``viewer.navigation.Navigation`` has it)."""

    @property
    def connection(self) -> ConnectionLike | None: ...

    @property
    def environment(self) -> str | None: ...

    @property
    def company_id(self) -> str | None: ...


def endpoint_of(api_root: str, api_version: str = DEFAULT_API_VERSION) -> Endpoint:
    """The endpoint of a connection's API root (``…/api``) for one API version."""
    # The parser already knows every URL form; a placeholder company turns the root into a URL it reads.
    probe = f"{api_root.rstrip('/')}/{api_version}/companies({refs.ZERO_GUID})"
    return refs.parse(probe).endpoint


def context(navigation: NavigationLike | None) -> PaymentRef | None:
    """The signed-in endpoint and the chosen company, which bare GUIDs are read against."""
    if navigation is None or navigation.connection is None:
        return None
    root = navigation.connection.api_root_for(navigation.environment)
    return PaymentRef(endpoint_of(root), company_id=navigation.company_id)


def require_same_server(theirs: Endpoint, ours: Endpoint) -> None:
    """Refuse a URL for another server than the signed-in one: its token or password must not travel there."""
    a, b = urlsplit(theirs.base), urlsplit(ours.base)
    if (a.hostname, a.port) != (b.hostname, b.port):
        raise RefError(
            f"This link is for {a.netloc}, but you are signed in to {b.netloc}. "
            "Switch to a profile for that server first."
        )


def _same_server(ref: PaymentRef, here: PaymentRef | None) -> None:
    if here is None:
        raise RefError("Sign in first: the payment is read with the account of the current profile.")
    require_same_server(ref.endpoint, here.endpoint)


def parse(text: str, navigation: NavigationLike | None) -> PaymentRef:
    here = context(navigation)
    ref = refs.parse(text, default=here)
    _same_server(ref, here)
    if not ref.is_payment:
        where = ref.company_name or ref.company_id or "a company"
        raise RefError(f"This link names {where} but no payment: choose the payment in the navigator.")
    return ref


def resolve(text: str, navigation: NavigationLike | None) -> str:
    """The URL to load. Raises ``RefError`` saying what is wrong with the text."""
    return refs.build_url(parse(text, navigation))


def describe(text: str, navigation: NavigationLike | None) -> str:
    """What Open… will load, in a few words (raises ``RefError`` like ``resolve``)."""
    ref = parse(text, navigation)
    endpoint = ref.endpoint
    where = (
        f"{endpoint.environment or 'production'} environment"
        if endpoint.kind == "cloud"
        else f"server instance {endpoint.instance}"
    )
    company = ref.company_name or (ref.company_id or "")[:8] + "…"
    route = "journal line" if ref.journal_id else "payment"
    return f"{route} {(ref.payment_id or '')[:8]}… in company {company}, {where}, API {endpoint.api_version}"
