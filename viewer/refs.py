"""Parse and build every URL form that names a Business Central customer payment (SPEC §3).

Users paste whatever they have: a current cloud API URL, a link from a 2018 blog post on the old
``api.financials.dynamics.com`` host, an on-prem URL, a web-client link, or bare GUIDs copied from a
mail. ``parse`` turns all of them into one canonical :class:`PaymentRef`; ``build_url`` turns a
reference back into the one URL the client requests, so ``parse(build_url(ref)) == ref``.

Error positions are 0-based indexes into the input *after* surrounding whitespace, quotes and angle
brackets were stripped, so the UI can point at the offending part of what it shows.

Pure Python on purpose: the UI, the client and the tests all use it, and none of them should need Qt.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple
from urllib.parse import quote, unquote, unquote_plus

from viewer.errors import BadId

__all__ = [
    "API_HOST",
    "ZERO_GUID",
    "Endpoint",
    "PaymentRef",
    "RefError",
    "api_version_of",
    "build_url",
    "guid_count",
    "is_environment_name",
    "key_segment",
    "normalize_guid",
    "parse",
]

API_HOST = "https://api.businesscentral.dynamics.com"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"

ApiVersion = Literal["v2.0", "v1.0", "beta"]
_API_VERSIONS: dict[str, ApiVersion] = {"v2.0": "v2.0", "v1.0": "v1.0", "beta": "beta"}

_API_HOSTNAME = "api.businesscentral.dynamics.com"
# The pre-2018 host; it no longer answers, so its URLs are resolved onto today's host.
_OLD_API_HOSTNAME = "api.financials.dynamics.com"
_WEB_CLIENT_HOSTNAME = "businesscentral.dynamics.com"
# A pasted URL often loses its scheme (mail clients, chat); only these hosts are safe to complete.
_SCHEMELESS_PREFIXES = (_API_HOSTNAME + "/", _OLD_API_HOSTNAME + "/", _WEB_CLIENT_HOSTNAME + "/")

# ASCII-only classes: \d and \w would accept Unicode digits/letters that int() or BC reject.
_GUID_RE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_HOST_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")
_PORT_RE = re.compile(r"[0-9]{1,5}")
# BC environment names: letters, digits, hyphen, underscore (max 30 characters).
_ENV_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,29}")
# Tenant in a path: a GUID or a domain name; kept loose because the server is the judge.
_TENANT_RE = re.compile(r"[A-Za-z0-9{}][A-Za-z0-9._{}-]*")
_INSTANCE_RE = re.compile(r"[A-Za-z0-9_$][A-Za-z0-9_.$-]*")
_SEGMENT_RE = re.compile(r"(?P<name>[A-Za-z_$][A-Za-z0-9_]*)(?:\((?P<key>[^()]*)\))?")
_KEY_NAME_RE = re.compile(r"\s*[Ii][Dd]\s*=")
_GUID_SEPARATORS_RE = re.compile(r"[\s,;/]+")

# Pairs that mails and chat wrap around pasted links.
_WRAPPERS = {'"': '"', "'": "'", "<": ">", "`": "`", "“": "”", "‘": "’", "«": "»", "„": "“"}

_EMPTY_MESSAGE = "Paste a Business Central API URL, a web-client URL or GUIDs"
_HTTP_MESSAGE = "Only https URLs are accepted (plain http is allowed for loopback only)"
_WEB_NO_COMPANY_MESSAGE = "This web-client link does not name a company"

_COMPANIES = "companies"
_JOURNALS = "customerPaymentJournals"
_PAYMENTS = "customerPayments"
# The 2018 docs spell the journal set with an extra "s"; the old server accepted it, so links exist.
_ALIASES = {"customerPaymentsJournals": _JOURNALS}


class RefError(ValueError):
    """Says what is wrong and where: .message (plain words) and .position (0-based char index in the input, or None)."""

    def __init__(self, message: str, position: int | None = None) -> None:
        self.message = message
        self.position = position
        super().__init__(message if position is None else f"{message} (at character {position})")

    def __str__(self) -> str:
        return self.message if self.position is None else f"{self.message} (at character {self.position})"


@dataclass(frozen=True)
class Endpoint:
    """Where the API lives: one cloud environment or one on-prem server instance."""

    kind: Literal["cloud", "onprem"]
    base: str
    api_version: ApiVersion
    tenant: str | None = None
    environment: str | None = None
    instance: str | None = None

    @property
    def api_root(self) -> str:
        if self.kind == "onprem":
            return f"{self.base}/{self.instance}/api/{self.api_version}"
        tenant = f"/{self.tenant}" if self.tenant else ""
        return f"{self.base}/v2.0{tenant}/{self.environment or 'production'}/api/{self.api_version}"

    @property
    def query(self) -> dict[str, str]:
        # Cloud tenants travel in the path; only a multitenant on-prem server needs ?tenant=.
        if self.kind == "onprem" and self.tenant:
            return {"tenant": self.tenant}
        return {}


@dataclass(frozen=True)
class PaymentRef:
    """A customer payment, or (payment_id None) the company/journal a link points at."""

    endpoint: Endpoint
    company_id: str | None = None
    company_name: str | None = None
    journal_id: str | None = None
    payment_id: str | None = None

    @property
    def is_payment(self) -> bool:
        return self.payment_id is not None

    def path(self) -> str:
        """Path relative to ``endpoint.api_root``; a company known only by name goes in the query instead."""
        parts: list[str] = []
        if self.company_id is not None:
            parts.append(f"{_COMPANIES}({self.company_id})")
        if self.journal_id is not None:
            parts.append(f"{_JOURNALS}({self.journal_id})")
        if self.payment_id is not None:
            parts.append(f"{_PAYMENTS}({self.payment_id})")
        return "/".join(parts)

    def url(self) -> str:
        return build_url(self)


# A version segment after /api/: beta, or v<major>.<minor> (custom APIs also use v1, v2 …).
_VERSION_SEGMENT_RE = re.compile(r"beta|v[0-9]+(?:\.[0-9]+)?", re.IGNORECASE)
_PUBLISHER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def api_version_of(url: str) -> str:
    """The API version of ``url``, read from its API segment and never from the service prefix.

    Every cloud URL starts with the service's own ``/v2.0/{tenant}`` (or the old ``/v1.0``): that
    ``v2.0`` is the multi-environment URL scheme, unrelated to the API version (SPEC §3.1). The version
    is the segment after ``/api/``: ``beta``, ``v1.0`` or ``v2.0``; for a custom API
    ``/api/{publisher}/{group}/{version}`` it is that last segment (``beta``, ``v1.0``…, as written when it
    is not one of the three; ``viewer/schema.py`` lays any other version out with the v2.0 shape). A URL
    with no API segment gets ``v2.0``, today's default.
    """
    path = url.split("?", 1)[0].split("#", 1)[0]
    if "://" in path:
        path = path.split("://", 1)[1].partition("/")[2]
    segs = [unquote(part) for part in path.split("/")]
    for i, seg in enumerate(segs):
        if seg.lower() != "api":
            continue
        rest = segs[i + 1 : i + 4]
        if rest and rest[0].lower() in _API_VERSIONS:
            return _API_VERSIONS[rest[0].lower()]
        if (
            len(rest) == 3
            and _PUBLISHER_RE.fullmatch(rest[0])
            and _PUBLISHER_RE.fullmatch(rest[1])
            and _VERSION_SEGMENT_RE.fullmatch(rest[2])
        ):
            return _API_VERSIONS.get(rest[2].lower(), rest[2])
    return "v2.0"


def normalize_guid(text: str) -> str:
    """``{GUID}``, ``'GUID'``, upper case and surrounding spaces → the lower-case canonical form."""
    value = text.strip()
    # Quotes come from OData key syntax, braces from .NET/AL formatting; either may wrap the other.
    for _ in range(2):
        if len(value) >= 2 and (value[0], value[-1]) in (("'", "'"), ('"', '"'), ("{", "}")):
            value = value[1:-1].strip()
    if not _GUID_RE.fullmatch(value):
        raise RefError(f"{_show(text.strip())} is not a GUID")
    return value.lower()


def build_url(ref: PaymentRef) -> str:
    """The canonical URL: api_root + "/" + path() + query (?company= when only a name is known, ?tenant= on-prem)."""
    company_name = ref.company_name if ref.company_id is None else None
    return api_url(ref.endpoint, ref.path(), company_name=company_name)


def api_url(endpoint: Endpoint, path: str, *, company_name: str | None = None) -> str:
    """``path`` under the endpoint's API root, with the query the endpoint needs (``?tenant=`` on-prem) and
    ``?company=`` when the company is known only by name. Every URL the viewer builds goes through here."""
    params: list[tuple[str, str]] = []
    if company_name is not None:
        params.append(("company", company_name))
    params.extend(endpoint.query.items())
    url = f"{endpoint.api_root}/{path}"
    if params:
        # safe="" so "&", "=", "/", "+" and "#" inside a company name cannot break the query.
        url += "?" + "&".join(f"{key}={quote(value, safe='')}" for key, value in params)
    return url


def key_segment(entity_set: str, value: object, *, what: str = "id") -> str:
    """``entity_set(<guid>)`` for an id taken from a response: validated, then written as an OData key literal.

    Ids that come from a server (a payment's customerId, a row of the companies list) are data, not path text: a
    ``customerId`` of ``x)/../../secret?a=(`` must never turn into a request for ``/secret``. Business Central keys
    these entities by GUID, so anything else — another string, a number, an object — is refused (``BadId``).
    """
    if not isinstance(value, str) or len(value) > 64:
        raise BadId(f"The service sent a {what} that is not a GUID ({_type_name(value)}); it was not followed")
    try:
        guid = normalize_guid(value)
    except RefError:
        raise BadId(f"The service sent a {what} that is not a GUID; it was not followed") from None
    # A GUID is its own OData literal (unquoted, v4); quote() keeps this line safe even if the check above changes.
    return f"{entity_set}({quote(guid, safe='-')})"


def is_environment_name(value: object) -> bool:
    """Whether an environment name from a response may go into a path (letters, digits, ``-``, ``_``; ≤ 30)."""
    return isinstance(value, str) and _ENV_RE.fullmatch(value) is not None


def _type_name(value: object) -> str:
    return {str: "a string", bool: "true or false", type(None): "null", list: "a list", dict: "an object"}.get(
        type(value), "a number")


def parse(text: str, *, default: PaymentRef | Endpoint | None = None) -> PaymentRef:
    """Any URL form of SPEC §3, a web-client link, a relative path or bare GUIDs → a PaymentRef.

    ``default`` is the signed-in context that bare GUIDs and relative paths are resolved against.
    Raises RefError only.
    """
    s = _strip_wrappers(text)
    if not s:
        raise RefError(_EMPTY_MESSAGE)
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", s):
        return _parse_url(s, 0)
    if s.lower().startswith(_SCHEMELESS_PREFIXES):
        return _parse_url("https://" + s, len("https://"))
    if "(" in s:
        return _parse_relative(s, default)
    return _parse_guids(s, default)


def guid_count(text: str) -> int:
    """How many GUIDs ``text`` is made of when it is bare GUIDs (1 to 3, as ``parse`` reads them), else 0.

    For messages that depend on the form: bare GUIDs carry no server, and a single one no company."""
    s = _strip_wrappers(text)
    if not s or "(" in s or re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", s) or s.lower().startswith(_SCHEMELESS_PREFIXES):
        return 0
    tokens = [token for token in _GUID_SEPARATORS_RE.split(s) if token]
    if not 1 <= len(tokens) <= 3 or not all(_is_guid(token) for token in tokens):
        return 0
    return len(tokens)


# --- internals ---------------------------------------------------------------------------------


class _Seg(NamedTuple):
    text: str
    pos: int  # index in the (possibly scheme-completed) URL


class _Url(NamedTuple):
    scheme: str
    host: str
    base: str
    segs: list[_Seg]
    path_end: int
    query: dict[str, tuple[str, int]]  # lower-case name → (decoded value, position of the value)


def _show(value: str, limit: int = 40) -> str:
    # Error messages quote the input; a pasted novel should not become the message.
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


def _strip_wrappers(text: str) -> str:
    s = text.strip()
    while len(s) >= 2 and _WRAPPERS.get(s[0]) == s[-1]:
        s = s[1:-1].strip()
    return s


def _is_guid(value: str) -> bool:
    try:
        normalize_guid(value)
    except RefError:
        return False
    return True


def _looks_like_tenant(value: str) -> bool:
    # Environment names cannot contain dots and are at most 30 characters, so a domain or a GUID
    # in the single-segment position must be a tenant (SPEC §3.1, pre-environment scheme).
    return "." in value or _is_guid(value)


def _canonical_tenant(value: str) -> str:
    # GUIDs and domain names are both case-insensitive; one spelling keeps equal refs equal.
    return normalize_guid(value) if _is_guid(value) else value.lower()


def _split_segments(s: str, start: int, end: int) -> list[_Seg]:
    segs: list[_Seg] = []
    pos = start
    for piece in s[start:end].split("/"):
        if piece:  # a trailing or doubled slash names nothing
            segs.append(_Seg(piece, pos))
        pos += len(piece) + 1
    return segs


def _parse_query(s: str, start: int, end: int) -> dict[str, tuple[str, int]]:
    result: dict[str, tuple[str, int]] = {}
    pos = start
    for pair in s[start:end].split("&"):
        name, eq, value = pair.partition("=")
        key = unquote_plus(name).strip().lower()
        # The first occurrence wins; $select, page and the like are not ours to interpret.
        if key and key not in result:
            result[key] = (unquote_plus(value), pos + len(name) + len(eq))
        pos += len(pair) + 1
    return result


def _parse_authority(authority: str, start: int) -> tuple[str, str | None]:
    if "@" in authority:
        raise RefError("User names or passwords inside the URL are not supported", start)
    if not authority:
        raise RefError("The URL has no host name", start)
    if authority.startswith("["):
        close = authority.find("]")
        if close == -1:
            raise RefError("The IPv6 address is missing its closing ']'", start)
        try:
            host = ipaddress.IPv6Address(authority[1:close]).compressed
        except ValueError:
            raise RefError(f"{_show(authority[1:close])} is not an IPv6 address", start + 1) from None
        rest, rest_pos = authority[close + 1 :], start + close + 1
        if rest and not rest.startswith(":"):
            raise RefError(f"Unexpected {_show(rest)} after the host name", rest_pos)
        port = rest[1:] if rest else None
        port_pos = rest_pos + 1
    else:
        host, colon, port_text = authority.partition(":")
        port = port_text if colon else None
        port_pos = start + len(host) + 1
        host = host.lower()
        if not _HOST_RE.fullmatch(host):
            raise RefError(f"{_show(authority.partition(':')[0])} is not a valid host name", start)
    if port is not None and (not _PORT_RE.fullmatch(port) or not 0 < int(port) < 65536):
        raise RefError(f"{_show(port)} is not a valid port number", port_pos)
    return host, port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_url(s: str) -> _Url:
    m = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", s)
    assert m is not None  # callers checked the scheme
    scheme = m.group(1).lower()
    rest = m.end()
    hash_at = s.find("#", rest)
    end = hash_at if hash_at != -1 else len(s)
    q_at = s.find("?", rest, end)
    path_end = q_at if q_at != -1 else end
    slash_at = s.find("/", rest, path_end)
    auth_end = slash_at if slash_at != -1 else path_end
    host, port = _parse_authority(s[rest:auth_end], rest)
    if scheme not in ("https", "http"):
        raise RefError(f"Unsupported URL scheme {_show(scheme)}: paste an https URL", 0)
    if scheme == "http" and not _is_loopback(host):
        raise RefError(_HTTP_MESSAGE, 0)
    default_port = "443" if scheme == "https" else "80"
    shown_host = f"[{host}]" if ":" in host else host
    # The default port is dropped so that ":443" and no port give equal endpoints.
    base = f"{scheme}://{shown_host}" + (f":{int(port)}" if port and int(port) != int(default_port) else "")
    query = _parse_query(s, q_at + 1, end) if q_at != -1 else {}
    return _Url(scheme, host, base, _split_segments(s, auth_end, path_end), path_end, query)


def _parse_url(s: str, shift: int) -> PaymentRef:
    try:
        url = _split_url(s)
        if url.host == _WEB_CLIENT_HOSTNAME:
            return _parse_web_client(url)
        first = url.segs[0].text.lower() if url.segs else ""
        if url.host == _OLD_API_HOSTNAME or first in ("v2.0", "v1.0"):
            return _parse_cloud(url)
        if url.host == _API_HOSTNAME:
            if not url.segs:
                raise RefError("The URL stops after the host name; expected /v2.0/…", url.path_end)
            raise RefError(f"Expected /v2.0/ after the host name, found {_show(url.segs[0].text)}", url.segs[0].pos)
        return _parse_onprem(url)
    except RefError as err:
        if shift and err.position is not None:
            raise RefError(err.message, max(0, err.position - shift)) from None
        raise


def _company_from_query(url_query: dict[str, tuple[str, int]]) -> tuple[str | None, str | None]:
    found = url_query.get("company")
    if found is None:
        return None, None
    value, pos = found
    if not value.strip():
        raise RefError("The company parameter is empty", pos)
    # ?company= takes a GUID or a name (SPEC §3.1); a GUID-shaped value is always the id.
    if _is_guid(value):
        return normalize_guid(value), None
    return None, value


def _parse_web_client(url: _Url) -> PaymentRef:
    segs = url.segs
    if len(segs) > 2:
        raise RefError(f"Unexpected {_show(segs[2].text)} in the web-client link", segs[2].pos)
    tenant, environment = _tenant_and_environment(segs, legacy_host=False)
    if tenant is None and "tenant" in url.query:
        value, pos = url.query["tenant"]
        tenant = _check_tenant(_Seg(value, pos))
    company_id, company_name = _company_from_query(url.query)
    if company_id is None and company_name is None:
        raise RefError(_WEB_NO_COMPANY_MESSAGE)
    endpoint = Endpoint("cloud", API_HOST, "v2.0", tenant=tenant, environment=environment)
    return PaymentRef(endpoint, company_id=company_id, company_name=company_name)


def _check_tenant(seg: _Seg) -> str:
    if not _TENANT_RE.fullmatch(seg.text):
        raise RefError(f"{_show(seg.text)} is not a tenant id or domain", seg.pos)
    return _canonical_tenant(seg.text)


def _check_environment(seg: _Seg) -> str:
    if not _ENV_RE.fullmatch(seg.text):
        raise RefError(f"{_show(seg.text)} is not an environment name", seg.pos)
    return seg.text


def _tenant_and_environment(between: Sequence[_Seg], *, legacy_host: bool) -> tuple[str | None, str]:
    if not between:
        return None, "production"  # no environment in the URL meant the production environment
    if len(between) == 1:
        # The old financials host had no environments at all: its only segment is the tenant.
        if legacy_host or _looks_like_tenant(between[0].text):
            return _check_tenant(between[0]), "production"
        return None, _check_environment(between[0])
    return _check_tenant(between[0]), _check_environment(between[1])


def _api_version(segs: Sequence[_Seg], at: int, after: _Seg) -> ApiVersion:
    if at >= len(segs):
        raise RefError("Expected an API version (v2.0, v1.0 or beta) after /api/", after.pos + len(after.text))
    version = _API_VERSIONS.get(segs[at].text.lower())
    if version is None:
        raise RefError(
            f"Unsupported API route {_show(segs[at].text)}: expected v2.0, v1.0 or beta after /api/", segs[at].pos
        )
    return version


def _parse_cloud(url: _Url) -> PaymentRef:
    segs = url.segs
    legacy_host = url.host == _OLD_API_HOSTNAME
    if not segs or segs[0].text.lower() not in ("v2.0", "v1.0"):
        pos = segs[0].pos if segs else url.path_end
        raise RefError("Expected /v1.0/ after the host name", pos)
    api_at = next((i for i in range(1, len(segs)) if segs[i].text.lower() == "api"), None)
    if api_at is None:
        raise RefError("Expected /api/ in the URL path", url.path_end)
    between = segs[1:api_at]
    if len(between) > 2:
        raise RefError(f"Unexpected {_show(between[2].text)} before /api/", between[2].pos)
    tenant, environment = _tenant_and_environment(between, legacy_host=legacy_host)
    version = _api_version(segs, api_at + 1, segs[api_at])
    # The old host and a pasted :443 both resolve onto today's canonical host.
    base = API_HOST if legacy_host or url.base == API_HOST else url.base
    endpoint = Endpoint("cloud", base, version, tenant=tenant, environment=environment)
    return _parse_entities(segs[api_at + 2 :], url.query, endpoint, None, url.path_end)


def _parse_onprem(url: _Url) -> PaymentRef:
    segs = url.segs
    if not segs:
        raise RefError("Expected /{server instance}/api/… after the host name", url.path_end)
    instance = segs[0]
    if not _INSTANCE_RE.fullmatch(instance.text):
        raise RefError(f"{_show(instance.text)} is not a server instance name", instance.pos)
    if len(segs) < 2 or segs[1].text.lower() != "api":
        pos = segs[1].pos if len(segs) >= 2 else instance.pos + len(instance.text)
        raise RefError(f"Expected /api/ after the server instance {_show(instance.text)}", pos)
    version = _api_version(segs, 2, segs[1])
    tenant: str | None = None
    if "tenant" in url.query:
        value, pos = url.query["tenant"]
        if not value.strip():
            raise RefError("The tenant parameter is empty", pos)
        tenant = value
    endpoint = Endpoint("onprem", url.base, version, tenant=tenant, instance=instance.text)
    return _parse_entities(segs[3:], url.query, endpoint, None, url.path_end)


def _parse_key(raw: str, pos: int) -> str:
    value = unquote(raw)
    m = _KEY_NAME_RE.match(value)
    if m:  # OData named-key form: companies(id=…)
        value = value[m.end() :]
    try:
        return normalize_guid(value)
    except RefError:
        raise RefError(f"{_show(raw)} is not a GUID key", pos) from None


def _parse_entities(
    segs: Sequence[_Seg],
    query: dict[str, tuple[str, int]],
    endpoint: Endpoint,
    default: PaymentRef | None,
    end_pos: int,
) -> PaymentRef:
    """companies(…)/customerPaymentJournals(…)/customerPayments(…), each level optional from the right."""
    ids: dict[str, str | None] = {_COMPANIES: None, _JOURNALS: None, _PAYMENTS: None}
    allowed: tuple[str, ...] = (_COMPANIES, _JOURNALS, _PAYMENTS)
    for seg in segs:
        m = _SEGMENT_RE.fullmatch(seg.text)
        name = _ALIASES.get(m.group("name"), m.group("name")) if m else seg.text
        if m is None or name not in allowed:
            expected = " or ".join(allowed) if allowed else "nothing"
            shown = m.group("name") if m else seg.text
            raise RefError(f"Unsupported segment {_show(shown)}: expected {expected} here", seg.pos)
        raw_key = m.group("key")
        if raw_key is None:
            allowed = ()  # a collection (no key) must be the last segment
            continue
        ids[name] = _parse_key(raw_key, seg.pos + len(m.group("name")) + 1)
        allowed = {_COMPANIES: (_JOURNALS, _PAYMENTS), _JOURNALS: (_PAYMENTS,), _PAYMENTS: ()}[name]
    company_id, company_name = ids[_COMPANIES], None
    if company_id is None:
        company_id, company_name = _company_from_query(query)
    if company_id is None and company_name is None and default is not None:
        company_id, company_name = default.company_id, default.company_name
    if company_id is None and company_name is None:
        pos = segs[0].pos if segs else end_pos
        raise RefError("The URL names no company: expected companies(<id>)/… or ?company=<id or name>", pos)
    return PaymentRef(endpoint, company_id, company_name, ids[_JOURNALS], ids[_PAYMENTS])


def _split_default(default: PaymentRef | Endpoint | None) -> tuple[Endpoint, PaymentRef | None]:
    if default is None:
        raise RefError(
            "A bare GUID or path needs a signed-in environment and company: sign in first or paste a full URL"
        )
    if isinstance(default, PaymentRef):
        return default.endpoint, default
    return default, None


def _parse_relative(s: str, default: PaymentRef | Endpoint | None) -> PaymentRef:
    # e.g. "companies(…)/customerPayments(…)" copied from a log: resolved against the signed-in endpoint.
    endpoint, ref = _split_default(default)
    q_at = s.find("?")
    path_end = q_at if q_at != -1 else len(s)
    query = _parse_query(s, q_at + 1, len(s)) if q_at != -1 else {}
    return _parse_entities(_split_segments(s, 0, path_end), query, endpoint, ref, path_end)


def _parse_guids(s: str, default: PaymentRef | Endpoint | None) -> PaymentRef:
    tokens: list[_Seg] = []
    pos = 0
    for m in _GUID_SEPARATORS_RE.finditer(s + " "):
        if m.start() > pos:
            tokens.append(_Seg(s[pos : m.start()], pos))
        pos = m.end()
    if not tokens:  # only separators, e.g. a lone comma
        raise RefError(_EMPTY_MESSAGE)
    guids: list[str] = []
    for token in tokens:
        try:
            guids.append(normalize_guid(token.text))
        except RefError:
            raise RefError(f"{_show(token.text)} is neither a URL nor a GUID", token.pos) from None
    if len(guids) > 3:
        raise RefError("At most three GUIDs: company, journal and payment", tokens[3].pos)
    endpoint, ref = _split_default(default)
    if len(guids) == 1:
        if ref is None or (ref.company_id is None and ref.company_name is None):
            raise RefError(
                "A single GUID names a payment, which needs a company: open a company first, "
                "or paste the company GUID and the payment GUID"
            )
        # The direct route finds a payment in any journal, so the default's journal is not carried over.
        return PaymentRef(endpoint, ref.company_id, ref.company_name, None, guids[0])
    if len(guids) == 2:
        return PaymentRef(endpoint, company_id=guids[0], payment_id=guids[1])
    return PaymentRef(endpoint, company_id=guids[0], journal_id=guids[1], payment_id=guids[2])
