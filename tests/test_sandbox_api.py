"""The sandbox's Business Central API over real loopback https: URL forms, field sets, OData, writes, auth."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from viewer.sandbox import Sandbox
from viewer.sandbox.data import ZERO_GUID, DemoIds

SEED_FIELDS = {
    "id", "lineNumber", "customerId", "customerNumber", "contactId", "postingDate", "documentNumber",
    "externalDocumentNumber", "amount", "appliesToInvoiceId", "appliesToInvoiceNumber", "description", "comment",
    "lastModifiedDateTime",
}
V2_FIELDS = [
    "id", "journalId", "journalDisplayName", "lineNumber", "customerId", "customerNumber", "postingDate",
    "documentNumber", "externalDocumentNumber", "amount", "appliesToInvoiceId", "appliesToInvoiceNumber",
    "description", "comment", "lastModifiedDateTime",
]
V1_FIELDS = [
    "id", "journalDisplayName", "lineNumber", "customerId", "customerNumber", "contactId", "postingDate",
    "documentNumber", "externalDocumentNumber", "amount", "appliesToInvoiceId", "appliesToInvoiceNumber",
    "description", "comment", "dimensions", "lastModifiedDateTime",
]
CORRELATION = re.compile(r"  CorrelationId:  [0-9a-f-]{36}\.$")
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# ---- helpers -----------------------------------------------------------------------------------------


def headers(sandbox: Sandbox, **extra: str) -> dict[str, str]:
    assert sandbox.identity is not None
    return {"Authorization": f"Bearer {sandbox.identity.issue_access_token()}", **extra}


def demo(sandbox: Sandbox) -> DemoIds:
    return sandbox.store().demo


def root(sandbox: Sandbox, version: str = "v2.0") -> str:
    assert sandbox.info is not None
    return f"{sandbox.info.api_root}/{version}"


def company_url(sandbox: Sandbox, version: str = "v2.0") -> str:
    return f"{root(sandbox, version)}/companies({demo(sandbox).company_id})"


def payments_url(sandbox: Sandbox, version: str = "v2.0", journal: str | None = None) -> str:
    journal_id = journal or demo(sandbox).journal_id
    return f"{company_url(sandbox, version)}/customerPaymentJournals({journal_id})/customerPayments"


def payment_url(sandbox: Sandbox, payment_id: str | None = None, version: str = "v2.0") -> str:
    return f"{payments_url(sandbox, version)}({payment_id or demo(sandbox).payment_id})"


def get(http: httpx.Client, sandbox: Sandbox, url: str, **params: str) -> httpx.Response:
    return http.get(url, params=params or None, headers=headers(sandbox))


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def rows(http: httpx.Client, sandbox: Sandbox, url: str, **params: str) -> list[dict[str, Any]]:
    value = ok(get(http, sandbox, url, **params))["value"]
    assert isinstance(value, list)
    return value


def error(response: httpx.Response, status: int, code: str | None = None) -> str:
    """Assert the BC error shape and return the message without its correlation suffix."""
    assert response.status_code == status, response.text
    err = response.json()["error"]
    assert set(err) == {"code", "message"}
    assert CORRELATION.search(err["message"]), err["message"]
    if code is not None:
        assert err["code"] == code, err
    return str(CORRELATION.sub("", err["message"]))


def all_pages(http: httpx.Client, sandbox: Sandbox, url: str, page_size: int,
              params: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Every page of a collection, following ``@odata.nextLink`` exactly as given."""
    next_url: str | None = url
    first = True
    while next_url is not None:
        response = http.get(next_url, params=params if first else None,
                            headers=headers(sandbox, Prefer=f"odata.maxpagesize={page_size}"))
        first = False
        body = ok(response)
        assert response.headers["preference-applied"] == f"odata.maxpagesize={page_size}"
        assert len(body["value"]) <= page_size
        yield body
        next_url = body.get("@odata.nextLink")


# ---- URL forms and field sets ------------------------------------------------------------------------


def test_seed_url_on_beta_has_the_documented_fields(sandbox: Sandbox, http: httpx.Client) -> None:
    d = demo(sandbox)
    url = (f"{root(sandbox, 'beta')}/companies({d.company_id})/customerPaymentsJournals({d.journal_id})"
           f"/customerPayments({d.payment_id})")
    response = get(http, sandbox, url)
    body = ok(response)
    assert set(body) >= SEED_FIELDS
    assert "journalId" not in body
    assert body["id"] == d.payment_id and body["lineNumber"] == 10000
    assert body["@odata.context"] == (
        f"{root(sandbox, 'beta')}/$metadata#companies({d.company_id})/customerPaymentJournals({d.journal_id})"
        "/customerPayments/$entity"
    )
    assert body["@odata.etag"].startswith('W/"') and response.headers["etag"] == body["@odata.etag"]
    assert response.headers["content-type"] == "application/json; odata.metadata=minimal; odata.streaming=true"
    assert response.headers["odata-version"] == "4.0"
    assert GUID.match(response.headers["request-id"]) and GUID.match(response.headers["ms-correlation-x"])
    assert isinstance(body["amount"], int | float)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", body["lastModifiedDateTime"])


def test_v2_and_v1_field_sets_differ_as_specified(sandbox: Sandbox, http: httpx.Client) -> None:
    v2 = ok(get(http, sandbox, payment_url(sandbox)))
    assert [k for k in v2 if not k.startswith("@")] == V2_FIELDS
    for version in ("v1.0", "beta"):
        v1 = ok(get(http, sandbox, payment_url(sandbox, version=version)))
        assert [k for k in v1 if not k.startswith("@")] == V1_FIELDS
        assert all(set(dim) == {"code", "displayName", "valueCode", "valueDisplayName"} for dim in v1["dimensions"])
        assert v1["journalDisplayName"] == v2["journalDisplayName"] == demo(sandbox).journal_code
        assert {k: v1[k] for k in SEED_FIELDS - {"contactId"}} == {k: v2[k] for k in SEED_FIELDS - {"contactId"}}
    # Companies: v1.0 and beta had only five fields.
    v2_company = ok(get(http, sandbox, company_url(sandbox)))
    v1_company = ok(get(http, sandbox, company_url(sandbox, "v1.0")))
    assert {"timestamp", "systemCreatedAt", "systemModifiedBy"} <= set(v2_company)
    assert set(v1_company) - {"@odata.context"} == {"id", "systemVersion", "name", "displayName", "businessProfileId"}


def test_nested_direct_and_alias_routes_give_the_same_record(sandbox: Sandbox, http: httpx.Client) -> None:
    d = demo(sandbox)
    urls = [
        payment_url(sandbox),
        f"{company_url(sandbox)}/customerPayments({d.payment_id})",
        f"{company_url(sandbox)}/customerPaymentsJournals({d.journal_id})/customerPayments({d.payment_id})",
        f"{company_url(sandbox)}/customerPaymentJournals({d.journal_id})/customerPayments('{d.payment_id}')",
        f"{company_url(sandbox)}/customerPayments({{{d.payment_id.upper()}}})",
    ]
    bodies = [ok(get(http, sandbox, url)) for url in urls]
    for body in bodies:
        body.pop("@odata.context")
    assert all(body == bodies[0] for body in bodies)


def test_tenant_domain_and_tenant_from_token_forms(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    base, d = sandbox.info.base_url, demo(sandbox)
    for prefix in (f"{base}/v2.0/{sandbox.info.tenant_domain}/production", f"{base}/v2.0/production",
                   f"{base}/v2.0/{sandbox.tenant_id.upper()}/Production"):
        body = ok(get(http, sandbox, f"{prefix}/api/v2.0/companies({d.company_id})"))
        assert body["name"] == d.company_name
        assert body["@odata.context"].startswith(f"{prefix}/api/v2.0/$metadata#companies")


def test_second_environment_has_its_own_data(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    url = f"{sandbox.info.base_url}/v2.0/{sandbox.tenant_id}/sandbox/api/v2.0/companies"
    companies = rows(http, sandbox, url)
    assert companies and {c["id"] for c in companies}.isdisjoint({demo(sandbox).company_id})


def test_direct_list_needs_a_journal_or_id_filter(sandbox: Sandbox, http: httpx.Client) -> None:
    d = demo(sandbox)
    direct = f"{company_url(sandbox)}/customerPayments"
    message = error(get(http, sandbox, direct), 400, "Application_DialogException")
    assert message == "You must specify a journal batch ID or a journal ID to get a journal line."
    error(get(http, sandbox, direct, **{"$filter": "amount gt 0"}), 400, "Application_DialogException")
    by_journal = rows(http, sandbox, direct, **{"$filter": f"journalId eq {d.journal_id}"})
    assert by_journal == rows(http, sandbox, payments_url(sandbox))
    assert {p["journalId"] for p in by_journal} == {d.journal_id}
    by_id = rows(http, sandbox, direct, **{"$filter": f"id eq {d.payment_id}"})
    assert [p["id"] for p in by_id] == [d.payment_id]
    # v1.0 has no journalId: only an id filter opens the direct set there.
    error(get(http, sandbox, f"{company_url(sandbox, 'v1.0')}/customerPayments",
              **{"$filter": f"journalId eq {d.journal_id}"}), 400, "BadRequest")


def test_companies_journals_customers_and_invoices(sandbox: Sandbox, http: httpx.Client) -> None:
    d = demo(sandbox)
    companies = rows(http, sandbox, f"{root(sandbox)}/companies")
    names = [c["name"] for c in companies]
    assert names[0] == "CRONUS USA, Inc." and "CRONUS Deutschland GmbH" in names and "CRONUS 日本" in names
    assert all("@odata.etag" not in c for c in companies)

    journals = rows(http, sandbox, f"{company_url(sandbox)}/customerPaymentJournals")
    assert {"GENERAL", "BANK", "CASH"} <= {j["code"] for j in journals}
    general = next(j for j in journals if j["id"] == d.journal_id)
    assert set(general) == {"@odata.etag", "id", "code", "displayName", "lastModifiedDateTime",
                            "balancingAccountId", "balancingAccountNumber"}
    assert general["balancingAccountId"] == ZERO_GUID and general["balancingAccountNumber"] == ""
    single = ok(get(http, sandbox, f"{company_url(sandbox)}/customerPaymentJournals({d.journal_id})"))
    assert single["@odata.context"].endswith(f"#companies({d.company_id})/customerPaymentJournals/$entity")

    customers = rows(http, sandbox, f"{company_url(sandbox)}/customers")
    display = {c["displayName"] for c in customers}
    assert {"Müller & Söhne GmbH", "Société Générale Café", "株式会社山田商事", "شركة الأفق", "חברת אופק",
            "O'Brien Ltd."} <= display
    customer = ok(get(http, sandbox, f"{company_url(sandbox)}/customers({d.customer_id})"))
    assert customer["id"] == d.customer_id and "balanceDue" in customer and "address" not in customer
    assert "address" in ok(get(http, sandbox, f"{company_url(sandbox, 'v1.0')}/customers({d.customer_id})"))

    invoices = rows(http, sandbox, f"{company_url(sandbox)}/salesInvoices")
    assert {"Open", "Paid"} <= {i["status"] for i in invoices}
    assert all(i["remainingAmount"] == 0 for i in invoices if i["status"] == "Paid")
    invoice = ok(get(http, sandbox, f"{company_url(sandbox)}/salesInvoices({d.invoice_id})"))
    assert invoice["id"] == d.invoice_id and "totalAmountIncludingTax" in invoice

    # The company can also come from ?company= (id or name).
    by_query = rows(http, sandbox, f"{root(sandbox)}/customerPaymentJournals", company=d.company_id)
    assert [j["id"] for j in by_query] == [j["id"] for j in journals]
    assert rows(http, sandbox, f"{root(sandbox)}/customerPaymentJournals", company=d.company_name) == by_query

    small = rows(http, sandbox, f"{root(sandbox)}/companies({d.small_company_id})/customerPaymentJournals"
                 f"({d.empty_journal_id})/customerPayments")
    assert small == []


def test_unknown_ids_segments_versions_and_environments(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    missing = "11111111-2222-3333-4444-555555555555"
    error(get(http, sandbox, f"{root(sandbox)}/companies({missing})"), 404, "Internal_RecordNotFound")
    error(get(http, sandbox, payment_url(sandbox, missing)), 404, "Internal_RecordNotFound")
    error(get(http, sandbox, f"{company_url(sandbox)}/customerPaymentJournals({missing})"), 404,
          "Internal_RecordNotFound")
    # A payment of another journal is not found under this one.
    other = sandbox.store().journal_payments(demo(sandbox).second_journal_id)[0]["id"]
    error(get(http, sandbox, payment_url(sandbox, other)), 404, "Internal_RecordNotFound")
    message = error(get(http, sandbox, f"{company_url(sandbox)}/vendors"), 404, "BadRequest_ResourceNotFound")
    assert message == "Resource not found for the segment 'vendors'."
    error(get(http, sandbox, f"{company_url(sandbox)}/customerPayments(not-a-guid)"), 400, "BadRequest")
    error(get(http, sandbox, f"{sandbox.info.api_root}/v3.0/companies"), 404, "BadRequest_NotFound")
    error(get(http, sandbox, f"{sandbox.info.base_url}/v2.0/{sandbox.tenant_id}/nope/api/v2.0/companies"), 404)


def test_environments_list(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    envs = rows(http, sandbox, sandbox.info.environments_url)
    assert [e["name"] for e in envs] == ["production", "sandbox"]
    assert [e["type"] for e in envs] == ["Production", "Sandbox"]
    for env in envs:
        assert env["aadTenantId"] == sandbox.tenant_id and env["applicationFamily"] == "BusinessCentral"
        assert {"countryCode", "webServiceUrl", "webClientLoginUrl", "ringName"} <= set(env)
        ok(get(http, sandbox, f"{env['webServiceUrl']}/api/v2.0/companies"))
    assert http.get(sandbox.info.environments_url).status_code == 401


# ---- OData -------------------------------------------------------------------------------------------


def test_paging_follows_next_links_and_gets_every_row_once(sandbox: Sandbox, http: httpx.Client) -> None:
    everything = rows(http, sandbox, payments_url(sandbox))
    assert len(everything) > 25
    pages = list(all_pages(http, sandbox, payments_url(sandbox), 10))
    assert len(pages) == -(-len(everything) // 10)
    assert [p["id"] for page in pages for p in page["value"]] == [p["id"] for p in everything]
    assert "@odata.nextLink" not in pages[-1]
    assert all("$skiptoken=" in page["@odata.nextLink"] for page in pages[:-1])


def test_paging_keeps_filter_select_and_order(sandbox: Sandbox, http: httpx.Client) -> None:
    # Payments are negative (Business Central's sign, viewer/checks.py), so "more than 100 paid" is lt -100.
    params = {"$filter": "amount lt -100 and contains(description,'a')", "$select": "id,amount",
              "$orderby": "amount desc,lineNumber"}
    expected = rows(http, sandbox, payments_url(sandbox), **params)
    assert len(expected) > 7
    collected = [p for page in all_pages(http, sandbox, payments_url(sandbox), 7, params) for p in page["value"]]
    assert collected == expected
    assert all(set(p) == {"@odata.etag", "id", "amount"} and p["amount"] < -100 for p in collected)
    amounts = [p["amount"] for p in collected]
    assert amounts == sorted(amounts, reverse=True)


def test_paging_is_stable_when_a_row_before_the_page_disappears(sandbox: Sandbox, http: httpx.Client) -> None:
    first = ok(http.get(payments_url(sandbox), headers=headers(sandbox, Prefer="odata.maxpagesize=5")))
    seen = [p["id"] for p in first["value"]]
    store, d = sandbox.store(), demo(sandbox)
    store.delete_payment(seen[0])
    rest = [p["id"] for page in all_pages(http, sandbox, first["@odata.nextLink"], 5) for p in page["value"]]
    assert not set(seen) & set(rest)
    assert seen[1:] + rest == [p["id"] for p in store.journal_payments(d.journal_id)]


def test_server_page_size_applies_without_prefer(sandbox: Sandbox, http: httpx.Client) -> None:
    response = get(http, sandbox, payments_url(sandbox))
    assert "preference-applied" not in response.headers
    assert "@odata.nextLink" not in ok(response)


FilterCase = tuple[str, Callable[[dict[str, Any]], bool]]
FILTERS: list[FilterCase] = [
    ("amount gt 1000", lambda p: p["amount"] > 1000),
    ("amount le 0", lambda p: p["amount"] <= 0),
    ("amount eq 0", lambda p: p["amount"] == 0),
    ("amount ge -12345.67 and amount lt 500.5", lambda p: -12345.67 <= p["amount"] < 500.5),
    ("amount ne 0", lambda p: p["amount"] != 0),
    ("postingDate ge 2025-03-01 and postingDate lt 2025-04-01",
     lambda p: "2025-03-01" <= p["postingDate"] < "2025-04-01"),
    ("postingDate eq 0001-01-01", lambda p: p["postingDate"] == "0001-01-01"),
    ("lastModifiedDateTime gt 2025-05-01T00:00:00Z", lambda p: p["lastModifiedDateTime"] > "2025-05-01T00:00:00"),
    (f"customerId eq {ZERO_GUID}", lambda p: p["customerId"] == ZERO_GUID),
    (f"appliesToInvoiceId ne {ZERO_GUID}", lambda p: p["appliesToInvoiceId"] != ZERO_GUID),
    ("startswith(documentNumber,'G0200')", lambda p: p["documentNumber"].startswith("G0200")),
    ("endswith(documentNumber,'1')", lambda p: p["documentNumber"].endswith("1")),
    ("contains(description,'invoice')", lambda p: "invoice" in p["description"]),
    ("contains(tolower(description),'payment')", lambda p: "payment" in p["description"].lower()),
    ("toupper(description) eq 'DOWN PAYMENT'", lambda p: p["description"].upper() == "DOWN PAYMENT"),
    ("not (amount gt 0)", lambda p: not p["amount"] > 0),
    ("customerNumber eq '10000' or customerNumber eq '20000'", lambda p: p["customerNumber"] in ("10000", "20000")),
    ("description eq ''", lambda p: p["description"] == ""),
    ("externalDocumentNumber ne '' and amount gt 0", lambda p: p["externalDocumentNumber"] != "" and p["amount"] > 0),
    ("lineNumber le 50000", lambda p: p["lineNumber"] <= 50000),
    ("substring(documentNumber,0,4) eq 'G020'", lambda p: p["documentNumber"][:4] == "G020"),
    ("indexof(description,'Payment') eq 0", lambda p: p["description"].find("Payment") == 0),
    ("length(description) gt 20", lambda p: len(p["description"]) > 20),
    ("customerNumber in ('10000','30000')", lambda p: p["customerNumber"] in ("10000", "30000")),
]


@pytest.mark.parametrize(("expression", "expected"), FILTERS, ids=[f[0] for f in FILTERS])
def test_filter_operators(sandbox: Sandbox, http: httpx.Client, expression: str,
                          expected: Callable[[dict[str, Any]], bool]) -> None:
    everything = rows(http, sandbox, payments_url(sandbox))
    got = [p["id"] for p in rows(http, sandbox, payments_url(sandbox), **{"$filter": expression})]
    assert got == [p["id"] for p in everything if expected(p)]


def test_filters_find_something_and_compare_by_type(sandbox: Sandbox, http: httpx.Client) -> None:
    d = demo(sandbox)
    assert rows(http, sandbox, payments_url(sandbox), **{"$filter": "amount gt 1000"})
    assert rows(http, sandbox, payments_url(sandbox), **{"$filter": "postingDate eq 0001-01-01"})
    # GUIDs compare case-insensitively; decimals numerically (1500 = 1500.00).
    upper = rows(http, sandbox, payments_url(sandbox), **{"$filter": f"id eq {d.payment_id.upper()}"})
    assert [p["id"] for p in upper] == [d.payment_id]
    record = sandbox.store().payment(d.payment_id)
    assert record is not None
    amount = record["amount"]
    same = rows(http, sandbox, payments_url(sandbox), **{"$filter": f"amount eq {amount:.4f}"})
    assert d.payment_id in [p["id"] for p in same]


def test_quotes_in_filters_cannot_widen_them(sandbox: Sandbox, http: httpx.Client) -> None:
    d = demo(sandbox)
    assert rows(http, sandbox, payments_url(sandbox), **{"$filter": "description eq 'x'' or 1 eq 1'"}) == []
    # Unescaped, the same text is a different filter, and Business Central has no field-less comparisons.
    error(get(http, sandbox, payments_url(sandbox), **{"$filter": "description eq 'x' or 1 eq 1"}), 400, "BadRequest")
    customers = rows(http, sandbox, f"{company_url(sandbox)}/customers",
                     **{"$filter": "contains(displayName,'O''Brien')"})
    assert [c["displayName"] for c in customers] == ["O'Brien Ltd."]
    assert customers[0]["id"] == d.quote_customer_id
    exact = rows(http, sandbox, f"{company_url(sandbox)}/customers", **{"$filter": "displayName eq 'O''Brien Ltd.'"})
    assert exact == customers
    number = customers[0]["number"]
    direct = rows(http, sandbox, f"{company_url(sandbox)}/customerPayments",
                  **{"$filter": f"journalId eq {d.journal_id} and customerNumber eq '{number}'"})
    assert all(p["customerId"] == d.quote_customer_id for p in direct)
    expected = [p["id"] for p in sandbox.store().journal_payments(d.journal_id) if p["customerNumber"] == number]
    assert [p["id"] for p in direct] == expected
    # International text round-trips through the filter.
    assert rows(http, sandbox, f"{company_url(sandbox)}/customers",
                **{"$filter": "displayName eq '株式会社山田商事'"})[0]["displayName"] == "株式会社山田商事"


@pytest.mark.parametrize(("params", "needle"), [
    ({"$filter": "nope eq 1"}, "Could not find a property named 'nope' on type 'Microsoft.NAV.customerPayment'."),
    ({"$select": "id,nope"}, "Could not find a property named 'nope' on type 'Microsoft.NAV.customerPayment'."),
    ({"$orderby": "nope desc"}, "Could not find a property named 'nope' on type 'Microsoft.NAV.customerPayment'."),
    ({"$expand": "vendor"}, "Could not find a property named 'vendor' on type 'Microsoft.NAV.customerPayment'."),
    ({"$filter": "journalId eq 1"}, "incompatible types"),
    ({"$filter": "amount eq 'ten'"}, "incompatible types"),
    ({"$filter": "postingDate gt 'yesterday'"}, "incompatible types"),
    ({"$filter": "amount gt"}, "Syntax error"),
    ({"$filter": "description eq 'unterminated"}, "Syntax error"),
    ({"$filter": "amount gt 0 or description eq 'x'"}, "The 'OR' operator is not supported on distinct fields"),
    ({"$filter": "nofunction(description)"}, "An unknown function with name 'nofunction' was found."),
    ({"$filter": "round(amount) eq 1"}, "An unknown function with name 'round' was found."),
    ({"$filter": "true"}, "constant"),
    ({"$filter": "postingDate gt 2025-13-45"}, ""),
    ({"$filter": "customer/displayName eq 'x'"}, "navigation"),
    ({"$top": "-1"}, "$top"),
    ({"$skip": "x"}, "$skip"),
    ({"$orderby": "amount sideways"}, "$orderby"),
    ({"$bogus": "1"}, "The query parameter '$bogus' is not supported."),
    ({"$skiptoken": "%%%"}, "skip token"),
])
def test_bad_queries_are_400_with_a_useful_message(sandbox: Sandbox, http: httpx.Client,
                                                   params: dict[str, str], needle: str) -> None:
    message = error(get(http, sandbox, payments_url(sandbox), **params), 400)
    assert needle in message


def test_select_top_skip_orderby(sandbox: Sandbox, http: httpx.Client) -> None:
    everything = rows(http, sandbox, payments_url(sandbox))
    selected = rows(http, sandbox, payments_url(sandbox), **{"$select": "id,amount"})
    assert all(list(p) == ["@odata.etag", "id", "amount"] for p in selected)
    top = rows(http, sandbox, payments_url(sandbox), **{"$top": "5"})
    assert [p["id"] for p in top] == [p["id"] for p in everything[:5]]
    window = rows(http, sandbox, payments_url(sandbox), **{"$skip": "3", "$top": "4"})
    assert [p["id"] for p in window] == [p["id"] for p in everything[3:7]]
    ordered = rows(http, sandbox, payments_url(sandbox), **{"$orderby": "customerNumber asc,amount desc"})
    keys = [(p["customerNumber"], -p["amount"]) for p in ordered]
    assert keys == sorted(keys)
    by_date = rows(http, sandbox, payments_url(sandbox), **{"$orderby": "postingDate desc"})
    assert [p["postingDate"] for p in by_date] == sorted((p["postingDate"] for p in everything), reverse=True)
    counted = ok(get(http, sandbox, payments_url(sandbox), **{"$count": "true", "$top": "2"}))
    assert counted["@odata.count"] == len(everything) and len(counted["value"]) == 2
    single = ok(get(http, sandbox, payment_url(sandbox), **{"$select": "amount,description"}))
    assert set(single) == {"@odata.context", "@odata.etag", "amount", "description"}
    assert single["@odata.context"].endswith("/customerPayments(amount,description)/$entity")


def test_expand_customer(sandbox: Sandbox, http: httpx.Client) -> None:
    expanded = rows(http, sandbox, payments_url(sandbox), **{"$expand": "customer"})
    assert any(p["customer"] is None for p in expanded)  # the line with a blank customer
    for payment in expanded:
        if payment["customerId"] == ZERO_GUID:
            assert payment["customer"] is None
        else:
            assert payment["customer"]["id"] == payment["customerId"]
            assert payment["customer"]["number"] == payment["customerNumber"]
            assert payment["customer"]["@odata.etag"].startswith('W/"')
    narrow = ok(get(http, sandbox, payment_url(sandbox), **{"$expand": "customer($select=number,displayName)"}))
    assert set(narrow["customer"]) == {"@odata.etag", "number", "displayName"}
    journal = ok(get(http, sandbox, f"{company_url(sandbox)}/customerPaymentJournals({demo(sandbox).journal_id})",
                     **{"$expand": "customerPayments"}))
    assert len(journal["customerPayments"]) == len(sandbox.store().journal_payments(demo(sandbox).journal_id))


# ---- writes and ETags --------------------------------------------------------------------------------


def test_patch_changes_the_etag_and_needs_if_match(sandbox: Sandbox, http: httpx.Client) -> None:
    url = payment_url(sandbox)
    before = ok(get(http, sandbox, url))
    message = error(http.patch(url, json={"amount": 1.5}, headers=headers(sandbox)), 400, "BadRequest_InvalidToken")
    assert message == ("Could not validate the client concurrency token required by the service. Please provide a "
                       "valid token in the client request.")
    response = http.patch(url, json={"amount": 1234.56, "comment": "Geprüft ✓"},
                          headers=headers(sandbox, **{"If-Match": before["@odata.etag"]}))
    after = ok(response)
    assert after["amount"] == 1234.56 and after["comment"] == "Geprüft ✓"
    assert after["@odata.etag"] != before["@odata.etag"] == before["@odata.etag"]
    assert response.headers["etag"] == after["@odata.etag"]
    assert after["lastModifiedDateTime"] > before["lastModifiedDateTime"]
    assert ok(get(http, sandbox, url))["@odata.etag"] == after["@odata.etag"]
    stale = http.patch(url, json={"amount": 1}, headers=headers(sandbox, **{"If-Match": before["@odata.etag"]}))
    assert error(stale, 409, "Request_EntityChanged") == "Another user has already changed the record."
    star = http.patch(url, json={"description": "Any version"}, headers=headers(sandbox, **{"If-Match": "*"}))
    assert ok(star)["description"] == "Any version"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"nope": 1}, 400, "BadRequest"),
    ({"id": ZERO_GUID}, 400, "BadRequest_InvalidOperation"),
    ({"description": "x" * 101}, 400, "Application_StringExceededLength"),
    ({"amount": "ten"}, 400, "BadRequest"),
    ({"postingDate": "31.12.2025"}, 400, "BadRequest"),
    ({"journalId": "11111111-2222-3333-4444-555555555555"}, 400, "Application_DialogException"),
    ({"customerId": "11111111-2222-3333-4444-555555555555"}, 400, "Application_DialogException"),
])
def test_invalid_patches_are_refused(sandbox: Sandbox, http: httpx.Client, body: dict[str, Any], status: int,
                                     code: str) -> None:
    response = http.patch(payment_url(sandbox), json=body, headers=headers(sandbox, **{"If-Match": "*"}))
    error(response, status, code)


def test_patch_customer_number_fills_the_customer_id(sandbox: Sandbox, http: httpx.Client) -> None:
    store, d = sandbox.store(), demo(sandbox)
    quote = store.customer(d.quote_customer_id)
    assert quote is not None
    after = ok(http.patch(payment_url(sandbox), json={"customerNumber": quote["number"]},
                          headers=headers(sandbox, **{"If-Match": "*"})))
    assert after["customerId"] == d.quote_customer_id


def test_v1_journal_display_name_is_read_only(sandbox: Sandbox, http: httpx.Client) -> None:
    response = http.patch(payment_url(sandbox, version="v1.0"), json={"journalDisplayName": "BANK"},
                          headers=headers(sandbox, **{"If-Match": "*"}))
    assert error(response, 400, "Application_DialogException") == "The Journal Batch Display Name isn't editable."


def test_activity_tick_changes_a_payment_and_its_etag(sandbox: Sandbox, http: httpx.Client) -> None:
    store = sandbox.store()
    before = {p["id"]: p["_etag"] for p in store.company_payments(demo(sandbox).company_id)}
    changed = store.activity_tick()
    assert changed is not None and changed in before
    record = store.payment(changed)
    assert record is not None
    url = f"{company_url(sandbox)}/customerPayments({changed})"
    body = ok(get(http, sandbox, url))
    assert body["@odata.etag"] != before[changed]
    assert body["journalId"] == record["journalId"]


def test_create_and_delete_a_payment(sandbox: Sandbox, http: httpx.Client) -> None:
    d = demo(sandbox)
    lines_before = sandbox.store().journal_payments(d.journal_id)
    response = http.post(payments_url(sandbox), json={"customerNumber": "10000", "amount": 250, "description": "Neu"},
                         headers=headers(sandbox))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["lineNumber"] == lines_before[-1]["lineNumber"] + 10000
    assert created["journalId"] == d.journal_id and created["customerId"] != ZERO_GUID
    assert response.headers["location"].endswith(f"/customerPayments({created['id']})")
    url = payment_url(sandbox, created["id"])
    assert ok(get(http, sandbox, url))["description"] == "Neu"
    # The direct set takes journalId in the body.
    direct = http.post(f"{company_url(sandbox)}/customerPayments", json={"journalId": d.second_journal_id, "amount": 5},
                       headers=headers(sandbox))
    assert direct.status_code == 201 and direct.json()["journalDisplayName"] == "BANK"
    error(http.post(f"{company_url(sandbox)}/customerPayments", json={"amount": 5}, headers=headers(sandbox)),
          400, "Application_DialogException")
    error(http.delete(url, headers=headers(sandbox)), 400, "BadRequest_InvalidToken")
    error(http.delete(url, headers=headers(sandbox, **{"If-Match": 'W/"stale"'})), 409, "Request_EntityChanged")
    deleted = http.delete(url, headers=headers(sandbox, **{"If-Match": created["@odata.etag"]}))
    assert deleted.status_code == 204
    error(get(http, sandbox, url), 404, "Internal_RecordNotFound")


def test_posting_a_journal_removes_its_lines(sandbox: Sandbox, http: httpx.Client) -> None:
    d = demo(sandbox)
    store = sandbox.store()
    journal = f"{company_url(sandbox)}/customerPaymentJournals({d.journal_id})"
    assert ok(get(http, sandbox, payment_url(sandbox)))["id"] == d.payment_id
    invoice_url = f"{company_url(sandbox)}/salesInvoices({d.invoice_id})"
    remaining = ok(get(http, sandbox, invoice_url))["remainingAmount"]
    paid = sum(-p["amount"] for p in store.journal_payments(d.journal_id)  # payments are negative
               if p["appliesToInvoiceId"] == d.invoice_id and p["amount"] < 0)
    error(get(http, sandbox, f"{journal}/Microsoft.NAV.post"), 405, "BadRequest_MethodNotAllowed")
    response = http.post(f"{journal}/Microsoft.NAV.post", headers=headers(sandbox))
    assert response.status_code == 204
    error(get(http, sandbox, payment_url(sandbox)), 404, "Internal_RecordNotFound")
    error(get(http, sandbox, f"{company_url(sandbox)}/customerPayments({d.payment_id})"), 404)
    assert rows(http, sandbox, payments_url(sandbox)) == []
    # The invoices the lines applied to are settled.
    invoice = ok(get(http, sandbox, invoice_url))
    assert invoice["remainingAmount"] == pytest.approx(max(0.0, remaining - paid), abs=0.01)
    assert invoice["status"] == ("Paid" if invoice["remainingAmount"] == 0 else "Open")


def test_reads_only_where_business_central_reads_only(sandbox: Sandbox, http: httpx.Client) -> None:
    error(http.delete(f"{root(sandbox)}/companies({demo(sandbox).company_id})", headers=headers(sandbox)), 405,
          "BadRequest_MethodNotAllowed")
    error(http.post(f"{company_url(sandbox)}/customers", json={}, headers=headers(sandbox)), 405)
    error(http.put(payment_url(sandbox), json={}, headers=headers(sandbox)), 405)


# ---- authentication ----------------------------------------------------------------------------------


def assert_bearer_challenge(response: httpx.Response) -> str:
    assert response.headers["www-authenticate"].startswith("Bearer authorization_uri=")
    return error(response, 401, "Authentication_InvalidCredentials")


def test_missing_expired_and_foreign_tokens_are_401(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.identity is not None
    url = payment_url(sandbox)
    messages = [
        assert_bearer_challenge(http.get(url)),
        assert_bearer_challenge(http.get(url, headers={"Authorization": "Bearer not.a.jwt"})),
        assert_bearer_challenge(http.get(url, headers={
            "Authorization": f"Bearer {sandbox.identity.issue_access_token(lifetime=0)}"})),
        assert_bearer_challenge(http.get(url, headers={
            "Authorization": f"Bearer {sandbox.identity.issue_access_token(audience='https://graph.microsoft.com')}"})),
        assert_bearer_challenge(http.get(url, headers={"Authorization": "Basic QURNSU46cGFzcw=="})),
    ]
    assert len(set(messages)) >= 4  # distinct reasons get distinct messages
    assert any("expired" in m for m in messages)


def test_expire_all_tokens_makes_issued_tokens_fail(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.identity is not None
    token = {"Authorization": f"Bearer {sandbox.identity.issue_access_token()}"}
    ok(http.get(payment_url(sandbox), headers=token))
    sandbox.identity.expire_all_tokens()
    assert "expired" in assert_bearer_challenge(http.get(payment_url(sandbox), headers=token))


def test_wrong_tenant_in_url_is_401(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    for tenant in ("11111111-2222-3333-4444-555555555555", "contoso.example"):
        url = f"{sandbox.info.base_url}/v2.0/{tenant}/production/api/v2.0/companies"
        assert_bearer_challenge(get(http, sandbox, url))


def test_app_tokens_are_accepted(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.identity is not None
    token = sandbox.identity.issue_access_token(app=True)
    ok(http.get(payment_url(sandbox), headers={"Authorization": f"Bearer {token}"}))


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_onprem_basic_auth(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.info is not None
    user, password = sandbox.info.basic["user"], sandbox.info.basic["password"]
    d = demo(sandbox)
    url = (f"{sandbox.info.onprem_root}/v2.0/companies({d.company_id})/customerPaymentJournals({d.journal_id})"
           "/customerPayments")
    response = http.get(url, headers=basic(user, password), params={"tenant": "default"})
    body = ok(response)
    assert body["@odata.context"].startswith(f"{sandbox.info.onprem_root}/v2.0/$metadata#companies(")
    assert [p["id"] for p in body["value"]] == [p["id"] for p in sandbox.store().journal_payments(d.journal_id)]
    paged = ok(http.get(url, headers={**basic(user, password), "Prefer": "odata.maxpagesize=5"},
                        params={"tenant": "default"}))
    assert "tenant=default" in paged["@odata.nextLink"]
    ok(http.get(paged["@odata.nextLink"], headers=basic(user, password)))
    beta = ok(http.get(f"{sandbox.info.onprem_root}/beta/companies({d.company_id})/customerPaymentsJournals"
                       f"({d.journal_id})/customerPayments({d.payment_id})", headers=basic(user, password)))
    assert set(beta) >= SEED_FIELDS
    for wrong in (basic(user, password + "x"), {}, basic("nobody", password), {"Authorization": "Basic !!!"},
                  headers(sandbox)):
        response = http.get(url, headers=wrong)
        assert response.headers["www-authenticate"].startswith("Basic realm=")
        error(response, 401, "Authentication_InvalidCredentials")


# ---- a 20,000-payment store --------------------------------------------------------------------------


def test_twenty_thousand_payments_page_through() -> None:
    with Sandbox(seed=5, payments=20000) as big:
        assert big.info is not None and big.identity is not None
        d = big.store().demo
        expected = [p["id"] for p in big.store().journal_payments(d.journal_id)]
        assert len(expected) > 19_000 and big.store().payment_count() == 20000
        url = (f"{big.info.api_root}/v2.0/companies({d.company_id})/customerPaymentJournals({d.journal_id})"
               "/customerPayments")
        auth = {"Authorization": f"Bearer {big.identity.issue_access_token()}"}
        with httpx.Client(verify=big.ssl_context(), timeout=30) as client:
            collected: list[str] = []
            next_url: str | None = url
            while next_url:
                response = client.get(next_url, headers={**auth, "Prefer": "odata.maxpagesize=5000"})
                body = ok(response)
                collected += [p["id"] for p in body["value"]]
                next_url = body.get("@odata.nextLink")
            assert collected == expected
            whole = ok(client.get(url, headers=auth, params={"$select": "id"}))
            assert len(whole["value"]) == len(expected) and "@odata.nextLink" not in whole
            last = ok(client.get(url, headers=auth, params={"$filter": f"lineNumber eq {len(expected) * 10000}"}))
            assert [p["id"] for p in last["value"]] == expected[-1:]
