"""viewer.refs: every URL form of SPEC §3 resolves to one canonical PaymentRef, and back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viewer.refs import (
    API_HOST,
    ZERO_GUID,
    Endpoint,
    PaymentRef,
    RefError,
    api_version_of,
    build_url,
    normalize_guid,
    parse,
)

CID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
JID = "6b29fc40-ca47-1067-b31d-00dd010662da"
PID = "abcdef01-2345-6789-abcd-ef0123456789"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"

NESTED = f"companies({CID})/customerPaymentJournals({JID})/customerPayments({PID})"
DIRECT = f"companies({CID})/customerPayments({PID})"
OLD_NESTED = f"companies({CID})/customerPaymentsJournals({JID})/customerPayments({PID})"

PROD = Endpoint("cloud", API_HOST, "v2.0", environment="production")


def cloud(version: str = "v2.0", tenant: str | None = None, environment: str = "production") -> Endpoint:
    return Endpoint("cloud", API_HOST, version, tenant=tenant, environment=environment)  # type: ignore[arg-type]


# --- every form → the expected ref ---------------------------------------------------------------

FORMS: list[tuple[str, Endpoint, str | None]] = [
    # (url, endpoint, journal id)
    (f"{API_HOST}/v2.0/cronus.com/sandbox/api/v2.0/{NESTED}", cloud(tenant="cronus.com", environment="sandbox"), JID),
    (f"{API_HOST}/v2.0/{TENANT}/production/api/v2.0/{DIRECT}", cloud(tenant=TENANT), None),
    (f"{API_HOST}/v2.0/{TENANT.upper()}/production/api/v1.0/{DIRECT}", cloud("v1.0", tenant=TENANT), None),
    (f"{API_HOST}/v2.0/production/api/v2.0/{NESTED}", cloud(), JID),
    (f"{API_HOST}/v2.0/sandbox/api/beta/{DIRECT}", cloud("beta", environment="sandbox"), None),
    # pre-environment scheme on today's host
    (f"{API_HOST}/v1.0/api/v1.0/{DIRECT}", cloud("v1.0"), None),
    (f"{API_HOST}/v1.0/sandbox/api/v1.0/{DIRECT}", cloud("v1.0", environment="sandbox"), None),
    (f"{API_HOST}/v1.0/Cronus.com/api/v1.0/{DIRECT}", cloud("v1.0", tenant="cronus.com"), None),
    (f"{API_HOST}/v1.0/{TENANT}/api/v1.0/{DIRECT}", cloud("v1.0", tenant=TENANT), None),
    # the 2018 host, with the docs' typo
    (f"https://api.financials.dynamics.com/v1.0/api/beta/{OLD_NESTED}", cloud("beta"), JID),
    (f"https://api.financials.dynamics.com/v1.0/cronus.com/api/beta/{OLD_NESTED}", cloud("beta", "cronus.com"), JID),
    # key spellings
    (
        f"{API_HOST}/v2.0/production/api/v2.0/companies({{{CID.upper()}}})/customerPayments('{PID}')",
        cloud(),
        None,
    ),
    (f"{API_HOST}/v2.0/production/api/v2.0/companies(id={CID})/customerPayments(%27{PID}%27)", cloud(), None),
    (f"{API_HOST}/v2.0/production/api/v2.0/companies('{{{CID}}}')/customerPayments({PID})/", cloud(), None),
    # pasted decorations
    (f"  <{API_HOST}/v2.0/production/api/v2.0/{DIRECT}>  ", cloud(), None),
    (f'"{API_HOST}/v2.0/production/api/v2.0/{DIRECT}"', cloud(), None),
    (f"'api.businesscentral.dynamics.com/v2.0/production/api/v2.0/{DIRECT}'", cloud(), None),
    (f"{API_HOST}:443/v2.0/production/api/v2.0/{DIRECT}?$select=id,amount#frag", cloud(), None),
    (f"HTTPS://API.BusinessCentral.Dynamics.com/v2.0/production/api/v2.0/{DIRECT}", cloud(), None),
]


@pytest.mark.parametrize(("url", "endpoint", "journal"), FORMS)
def test_cloud_forms(url: str, endpoint: Endpoint, journal: str | None) -> None:
    ref = parse(url)
    assert ref == PaymentRef(endpoint, company_id=CID, journal_id=journal, payment_id=PID)
    assert ref.is_payment
    assert parse(ref.url()) == ref


def test_all_forms_name_the_same_payment() -> None:
    ids = {(r.company_id, r.payment_id) for r in (parse(url) for url, _, _ in FORMS)}
    assert ids == {(CID, PID)}


def test_api_root_and_path() -> None:
    ref = parse(f"{API_HOST}/v2.0/cronus.com/sandbox/api/v2.0/{NESTED}")
    assert ref.endpoint.api_root == f"{API_HOST}/v2.0/cronus.com/sandbox/api/v2.0"
    assert ref.path() == NESTED
    assert ref.url() == build_url(ref) == f"{API_HOST}/v2.0/cronus.com/sandbox/api/v2.0/{NESTED}"
    assert (
        parse(f"{API_HOST}/v2.0/production/api/v2.0/{DIRECT}").endpoint.api_root
        == f"{API_HOST}/v2.0/production/api/v2.0"
    )
    old = parse(f"https://api.financials.dynamics.com/v1.0/api/beta/{OLD_NESTED}")
    assert old.url() == f"{API_HOST}/v2.0/production/api/beta/{NESTED}"


def test_onprem() -> None:
    ref = parse(f"https://NAV.contoso.com:7048/BC/api/v2.0/{NESTED}?tenant=default&$expand=x")
    assert ref.endpoint == Endpoint("onprem", "https://nav.contoso.com:7048", "v2.0", tenant="default", instance="BC")
    assert (ref.company_id, ref.journal_id, ref.payment_id) == (CID, JID, PID)
    assert ref.endpoint.api_root == "https://nav.contoso.com:7048/BC/api/v2.0"
    assert ref.endpoint.query == {"tenant": "default"}
    assert ref.url() == f"https://nav.contoso.com:7048/BC/api/v2.0/{NESTED}?tenant=default"
    no_tenant = parse(f"https://nav.contoso.com:7048/bc/api/beta/{DIRECT}")
    assert no_tenant.endpoint.tenant is None and no_tenant.endpoint.query == {}
    assert no_tenant.endpoint.api_version == "beta"


@pytest.mark.parametrize(
    ("url", "kind", "base"),
    [
        (f"https://127.0.0.1:8443/v2.0/{TENANT}/production/api/v2.0/{DIRECT}", "cloud", "https://127.0.0.1:8443"),
        (f"http://localhost:8080/v2.0/production/api/v2.0/{DIRECT}", "cloud", "http://localhost:8080"),
        (f"https://[::1]:8443/v2.0/production/api/v2.0/{DIRECT}", "cloud", "https://[::1]:8443"),
        (f"https://127.0.0.1:8443/BC/api/v2.0/{DIRECT}", "onprem", "https://127.0.0.1:8443"),
        (f"http://[0:0:0:0:0:0:0:1]:7048/BC/api/v2.0/{DIRECT}", "onprem", "http://[::1]:7048"),
    ],
)
def test_loopback(url: str, kind: str, base: str) -> None:
    ref = parse(url)
    assert (ref.endpoint.kind, ref.endpoint.base) == (kind, base)
    assert (ref.company_id, ref.payment_id) == (CID, PID)
    assert parse(ref.url()) == ref


def test_company_from_query() -> None:
    root = f"{API_HOST}/v2.0/production/api/v2.0"
    by_id = parse(f"{root}/customerPayments({PID})?$select=id&company={CID.upper()}")
    assert (by_id.company_id, by_id.company_name, by_id.payment_id) == (CID, None, PID)
    by_name = parse(f"{root}/customerPayments({PID})?company=CRONUS%20USA%2C%20Inc.")
    assert (by_name.company_id, by_name.company_name) == (None, "CRONUS USA, Inc.")
    assert by_name.path() == f"customerPayments({PID})"
    assert by_name.url() == f"{root}/customerPayments({PID})?company=CRONUS%20USA%2C%20Inc."
    # the path's company wins over the query
    assert parse(f"{root}/{DIRECT}?company=Other").company_name is None


@pytest.mark.parametrize(
    ("url", "tenant", "environment"),
    [
        (
            "https://businesscentral.dynamics.com/cronus.com/sandbox?company=CRONUS%20USA%2C%20Inc.&page=22",
            "cronus.com",
            "sandbox",
        ),
        ("https://businesscentral.dynamics.com/sandbox?company=CRONUS%20USA%2C%20Inc.", None, "sandbox"),
        ("https://businesscentral.dynamics.com/?company=CRONUS%20USA%2C%20Inc.", None, "production"),
        (f"https://businesscentral.dynamics.com/{TENANT}/?company=CRONUS%20USA%2C%20Inc.", TENANT, "production"),
        ("businesscentral.dynamics.com/sandbox?company=CRONUS+USA%2C+Inc.&dc=0", None, "sandbox"),
    ],
)
def test_web_client(url: str, tenant: str | None, environment: str) -> None:
    ref = parse(url)
    assert ref == PaymentRef(cloud(tenant=tenant, environment=environment), company_name="CRONUS USA, Inc.")
    assert not ref.is_payment
    assert parse(ref.url()) == ref


def test_company_or_journal_without_payment() -> None:
    root = f"{API_HOST}/v2.0/production/api/v2.0"
    journal = parse(f"{root}/companies({CID})/customerPaymentJournals({JID})/customerPayments")
    assert (journal.company_id, journal.journal_id, journal.payment_id) == (CID, JID, None)
    assert journal.path() == f"companies({CID})/customerPaymentJournals({JID})"
    company = parse(f"{root}/companies({CID})")
    assert (company.company_id, company.journal_id, company.payment_id) == (CID, None, None)
    assert parse(f"{root}/companies({CID})/customerPaymentJournals").journal_id is None
    assert parse(company.url()) == company and parse(journal.url()) == journal


# --- bare GUIDs and relative paths ---------------------------------------------------------------


def test_bare_guids_with_default() -> None:
    assert parse(f"{CID}, {{{PID.upper()}}}", default=PROD) == PaymentRef(PROD, company_id=CID, payment_id=PID)
    assert parse(f"{CID}/{JID};{PID}", default=PROD) == PaymentRef(PROD, CID, None, JID, PID)
    context = PaymentRef(PROD, company_id=CID, journal_id=JID)
    assert parse(f" '{PID}' ", default=context) == PaymentRef(PROD, company_id=CID, payment_id=PID)
    by_name = PaymentRef(PROD, company_name="CRONUS")
    assert parse(PID, default=by_name) == PaymentRef(PROD, company_name="CRONUS", payment_id=PID)


def test_relative_path_with_default() -> None:
    assert parse(DIRECT, default=PROD) == PaymentRef(PROD, company_id=CID, payment_id=PID)
    assert parse(f"customerPayments({PID})", default=PaymentRef(PROD, company_id=CID)).company_id == CID


def test_bare_guid_errors() -> None:
    with pytest.raises(RefError, match="signed-in environment"):
        parse(PID)
    with pytest.raises(RefError, match="needs a company"):
        parse(PID, default=PROD)
    with pytest.raises(RefError, match="needs a company"):
        parse(PID, default=PaymentRef(PROD))
    with pytest.raises(RefError, match="At most three") as err:
        parse(f"{CID} {JID} {PID} {ZERO_GUID}", default=PROD)
    assert err.value.position == 3 * 37
    with pytest.raises(RefError, match="Paste a Business Central"):
        parse(" , ; / ", default=PROD)
    with pytest.raises(RefError, match="neither a URL nor a GUID") as err:
        parse(f"{CID} 12345", default=PROD)
    assert err.value.position == 37


# --- errors say what and where -------------------------------------------------------------------


ROOT = f"{API_HOST}/v2.0/production/api/v2.0"
NAV = "https://nav.contoso.com/BC/api/v2.0"


@pytest.mark.parametrize(
    ("text", "message", "marker"),
    [
        # marker: the part of the input the position must point at (None: no position)
        ("", "Paste a Business Central API URL, a web-client URL or GUIDs", None),
        ("  <> ", "Paste a Business Central API URL", None),
        (f"http://api.businesscentral.dynamics.com/v2.0/production/api/v2.0/{DIRECT}", "Only https URLs", "http"),
        (f"ftp://nav.contoso.com/BC/api/v2.0/{DIRECT}", "Unsupported URL scheme", "ftp"),
        ("https://businesscentral.dynamics.com/sandbox?page=22", "This web-client link does not name a company", None),
        (f"{ROOT}/companies({CID})/salesInvoices({PID})", "'salesInvoices'", "salesInvoices"),
        (f"{ROOT}/companies(12)/customerPayments({PID})", "'12' is not a GUID key", "12)"),
        (f"{ROOT}/companies({CID})/customerPayments({PID})/$metadata", "'$metadata'", "$metadata"),
        (f"{ROOT}/companies({CID})/customerPayments/{PID}", "expected nothing here", PID),
        (f"{ROOT}/customerPayments({PID})", "names no company", "customerPayments"),
        (f"{API_HOST}/v2.0/production/api/microsoft/automation/v2.0/{DIRECT}", "'microsoft'", "microsoft"),
        (f"{API_HOST}/v2.0/production/api", "Expected an API version", None),
        (f"{API_HOST}/v2.0/a/b/c/api/v2.0/{DIRECT}", "Unexpected 'c' before /api/", "c/"),
        (f"{API_HOST}/v2.0/prod!/api/v2.0/{DIRECT}", "not an environment name", "prod!"),
        (f"{API_HOST}/v2.0/production/companies({CID})", "Expected /api/", None),
        (f"{API_HOST}/admin/v2.15/applications", "Expected /v2.0/", "admin"),
        ("api.businesscentral.dynamics.com/admin/v2.15/applications", "Expected /v2.0/", "admin"),
        ("https://nav.contoso.com:99999/BC/api/v2.0", "not a valid port number", "99999"),
        ("https://user:pw@nav.contoso.com/BC/api/v2.0", "User names", "user"),
        ("https://nav_contoso.com/BC/api/v2.0", "not a valid host name", "nav_"),
        (f"https://nav.contoso.com/BC/ODataV4/{DIRECT}", "Expected /api/ after the server instance 'BC'", "ODataV4"),
        (f"{NAV}/{DIRECT}?tenant=", "tenant parameter is empty", None),
        (f"{NAV}/customerPayments({PID})?company=", "company parameter is empty", None),
    ],
)
def test_errors(text: str, message: str, marker: str | None) -> None:
    with pytest.raises(RefError) as err:
        parse(text)
    assert message in err.value.message
    assert isinstance(err.value, ValueError)
    if marker is not None:
        assert err.value.position == text.index(marker)
        assert str(err.value) == f"{err.value.message} (at character {err.value.position})"
    elif message.startswith(("Paste", "This web-client")):
        assert err.value.position is None
        assert str(err.value) == err.value.message


def test_error_positions_at_the_end() -> None:
    # Something missing is reported where it should have been.
    with pytest.raises(RefError) as err:
        parse(f"{API_HOST}/v2.0/production/api/")
    assert err.value.position == len(f"{API_HOST}/v2.0/production/api")
    with pytest.raises(RefError) as err:
        parse(f"{NAV}/{DIRECT}?tenant=")
    assert err.value.position == len(f"{NAV}/{DIRECT}?tenant=")


def test_error_position_ignores_pasted_wrappers() -> None:
    url = f"{ROOT}/companies({CID})/salesInvoices({PID})"
    with pytest.raises(RefError) as err:
        parse(f"  <{url}>\n")
    assert err.value.position == url.index("salesInvoices")
    # a completed scheme does not shift positions either
    bare = url.removeprefix("https://")
    with pytest.raises(RefError) as err:
        parse(bare)
    assert err.value.position == bare.index("salesInvoices")


def test_normalize_guid() -> None:
    assert normalize_guid(f" {{{CID.upper()}}} ") == CID
    assert normalize_guid(f"'{CID}'") == CID
    assert normalize_guid(f"'{{{CID}}}'") == CID
    for bad in ("", "nope", CID[:-1], CID + "0", CID.replace("-", ""), "٣" * 8 + CID[8:]):
        with pytest.raises(RefError, match="is not a GUID"):
            normalize_guid(bad)


# --- properties ----------------------------------------------------------------------------------

guids = st.uuids().map(str)
envs = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,29}", fullmatch=True).filter(
    lambda s: s.lower() not in ("api", "v2.0", "v1.0")
)
domains = st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){1,3}", fullmatch=True)
company_names = (
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=30)
    | st.sampled_from(["CRONUS USA, Inc.", "A & B", "Müller GmbH", "x=1?y#z", "a+b 100%", "日本 株式会社", " spaced "])
).filter(lambda s: bool(s.strip()) and not _is_guid(s))

cloud_endpoints = st.builds(
    Endpoint,
    kind=st.just("cloud"),
    base=st.sampled_from([API_HOST, "https://127.0.0.1:8443", "http://localhost:8080", "https://[::1]:9443"]),
    api_version=st.sampled_from(["v2.0", "v1.0", "beta"]),
    tenant=st.none() | guids | domains,
    environment=envs,
)
onprem_endpoints = st.builds(
    Endpoint,
    kind=st.just("onprem"),
    base=st.sampled_from(["https://nav.contoso.com:7048", "https://bc.local", "http://127.0.0.1:7048"]),
    api_version=st.sampled_from(["v2.0", "v1.0", "beta"]),
    tenant=st.none() | st.sampled_from(["default", "tenant 1", "a&b=c"]) | guids,
    instance=st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True),
)


def _is_guid(text: str) -> bool:
    try:
        normalize_guid(text)
    except RefError:
        return False
    return True


@st.composite
def refs(draw: st.DrawFn) -> PaymentRef:
    endpoint = draw(cloud_endpoints | onprem_endpoints)
    by_id = draw(st.booleans())
    return PaymentRef(
        endpoint,
        company_id=draw(guids) if by_id else None,
        company_name=None if by_id else draw(company_names),
        journal_id=draw(st.none() | guids),
        payment_id=draw(st.none() | guids),
    )


@settings(max_examples=200, deadline=None)
@given(refs())
def test_roundtrip(ref: PaymentRef) -> None:
    url = build_url(ref)
    assert parse(url) == ref
    assert parse(f"  <{url}> ") == ref
    assert url.startswith(ref.endpoint.api_root + "/" + ref.path())


URLISH = st.lists(
    st.sampled_from([*"abcv0129./:?&=()'{}-_%@[]#,; ", "https://", "http://", "api", "v2.0", "companies(", CID]),
    max_size=30,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200) | URLISH | URLISH.map(lambda s: API_HOST + "/" + s), st.sampled_from([None, PROD]))
def test_parse_raises_only_referror(text: str, default: Endpoint | None) -> None:
    try:
        ref = parse(text, default=default)
    except RefError as err:
        assert err.message
        assert err.position is None or 0 <= err.position <= len(text)
    else:
        assert isinstance(ref, PaymentRef)


# --- the API version comes from the API segment, never from the service's /v2.0/ prefix (issue 13) ---------

# The seed document's own URL (bc-api/seed-get-customerPayments.md) and SPEC §3's other forms, including the
# pre-2018 ones whose service prefix is /v1.0/ and whose API version is beta.
VERSION_FORMS: list[tuple[str, str]] = [
    (f"https://api.financials.dynamics.com/v1.0/api/beta/{OLD_NESTED}", "beta"),
    (f"https://api.financials.dynamics.com/v1.0/cronus.com/api/beta/{OLD_NESTED}", "beta"),
    (f"{API_HOST}/v2.0/{TENANT}/production/api/beta/{DIRECT}", "beta"),
    (f"{API_HOST}/v2.0/{TENANT}/production/api/v1.0/{DIRECT}", "v1.0"),
    (f"{API_HOST}/v2.0/{TENANT}/production/api/v2.0/{DIRECT}", "v2.0"),
    (f"{API_HOST}/v2.0/sandbox/api/beta/{NESTED}", "beta"),
    (f"{API_HOST}/v2.0/production/api/v1.0/{NESTED}?$select=id", "v1.0"),
    (f"{API_HOST}/v1.0/api/v1.0/{DIRECT}", "v1.0"),
    (f"{API_HOST}/v1.0/sandbox/api/beta/{DIRECT}", "beta"),
    (f"{API_HOST}/v1.0/cronus.com/api/v2.0/{DIRECT}", "v2.0"),
    (f"https://127.0.0.1:8443/v2.0/{TENANT}/production/api/beta/{DIRECT}", "beta"),
    # on-prem, with and without a tenant
    (f"https://nav.contoso.com:7048/BC/api/v1.0/{NESTED}?tenant=default", "v1.0"),
    (f"https://nav.contoso.com:7048/bc/api/beta/{DIRECT}", "beta"),
    (f"https://nav.contoso.com:7048/BC/API/V2.0/{DIRECT}", "v2.0"),
    # custom APIs: api/{publisher}/{group}/{version}, the version being the last of the three
    (f"{API_HOST}/v2.0/{TENANT}/production/api/contoso/payments/v1.0/{DIRECT}", "v1.0"),
    (f"https://nav.contoso.com:7048/BC/api/microsoft/automation/v2.0/{DIRECT}", "v2.0"),
    (f"{API_HOST}/v2.0/sandbox/api/contoso/app1/BETA/{DIRECT}", "beta"),
    (f"{API_HOST}/v2.0/sandbox/api/contoso/app1/v3/{DIRECT}", "v3"),
    # an environment (or instance) that happens to be called "api" is not the API segment
    (f"{API_HOST}/v2.0/{TENANT}/api/api/beta/{DIRECT}", "beta"),
    # no API segment at all: today's default
    (f"{API_HOST}/v2.0/{TENANT}/production/", "v2.0"),
]


@pytest.mark.parametrize(("url", "version"), VERSION_FORMS)
def test_api_version_of(url: str, version: str) -> None:
    assert api_version_of(url) == version


@pytest.mark.parametrize(("url", "endpoint", "journal"), FORMS)
def test_api_version_of_agrees_with_parse(url: str, endpoint: Endpoint, journal: str | None) -> None:
    # Every parsed form (cloud prefixes /v2.0/ and /v1.0/, the old host) reads the same version both ways,
    # and so does the canonical URL the client requests.
    ref = parse(url)
    assert api_version_of(url.strip().strip("<>\"'")) == endpoint.api_version
    assert api_version_of(ref.url()) == ref.endpoint.api_version
