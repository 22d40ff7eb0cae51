"""Path segments after an entity or a collection, other verbs and content negotiation, as Business Central
answers them: a navigation property leads to the related entity or collection, ``/$count`` is the count as
plain text, anything else is a 404 with Business Central's JSON error body. Both the nested route
(``companies(c)/customerPaymentJournals(j)/customerPayments``) and the direct one (``companies(c)/customerPayments``).
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_sandbox_api import company_url, demo, error, get, headers, ok, payment_url, payments_url, root
from viewer.sandbox import Sandbox
from viewer.sandbox.data import ZERO_GUID


def direct_url(sandbox: Sandbox, payment_id: str | None = None, version: str = "v2.0") -> str:
    return f"{company_url(sandbox, version)}/customerPayments({payment_id or demo(sandbox).payment_id})"


def count(http: httpx.Client, sandbox: Sandbox, url: str, **params: str) -> int:
    response = get(http, sandbox, url, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return int(response.text)


@pytest.mark.parametrize("version", ["v2.0", "v1.0", "beta"])
def test_count_segment_on_both_routes(sandbox: Sandbox, http: httpx.Client, version: str) -> None:
    d = demo(sandbox)
    store = sandbox.store()
    in_journal = store.journal_payments(d.journal_id)
    assert count(http, sandbox, f"{payments_url(sandbox, version)}/$count") == len(in_journal)
    positive = sum(1 for p in in_journal if p["amount"] > 0)
    assert count(http, sandbox, f"{payments_url(sandbox, version)}/$count", **{"$filter": "amount gt 0"}) == positive
    direct = f"{company_url(sandbox, version)}/customerPayments/$count"
    if version == "v2.0":
        assert count(http, sandbox, direct, **{"$filter": f"journalId eq {d.journal_id}"}) == len(in_journal)
    assert count(http, sandbox, direct, **{"$filter": f"id eq {d.payment_id}"}) == 1
    # The direct set still wants a journal or id filter, as its page does.
    error(get(http, sandbox, direct), 400, "Application_DialogException")
    assert count(http, sandbox, f"{root(sandbox, version)}/companies/$count") == len(store.companies())
    assert count(http, sandbox, f"{company_url(sandbox, version)}/customers/$count") == len(
        store.customers(d.company_id))


@pytest.mark.parametrize("route", ["nested", "direct"])
def test_navigation_segment_returns_the_related_entity(sandbox: Sandbox, http: httpx.Client, route: str) -> None:
    d = demo(sandbox)
    url = payment_url(sandbox) if route == "nested" else direct_url(sandbox)
    customer = ok(get(http, sandbox, f"{url}/customer"))
    assert customer["id"] == d.customer_id and "displayName" in customer and "amount" not in customer
    assert customer["@odata.context"].endswith(f"/customerPayments({d.payment_id})/customer/$entity")
    journal = ok(get(http, sandbox, f"{url}/customerPaymentJournal"))
    assert journal["id"] == d.journal_id and journal["code"] == d.journal_code
    # Navigation continues from there, and takes query options.
    currency_less = get(http, sandbox, f"{url}/customer/currency")
    assert currency_less.status_code in (200, 204)
    selected = ok(get(http, sandbox, f"{url}/customer", **{"$select": "number"}))
    assert set(selected) == {"@odata.context", "@odata.etag", "number"}
    lines = ok(get(http, sandbox, f"{url}/dimensionSetLines"))["value"]
    dims = sandbox.store().payment(d.payment_id)["dimensions"]  # type: ignore[index]
    assert [line["code"] for line in lines] == [dim["code"] for dim in dims]
    assert count(http, sandbox, f"{url}/dimensionSetLines/$count") == len(dims)


@pytest.mark.parametrize("route", ["nested", "direct"])
def test_unknown_segments_are_404_with_a_business_central_body(sandbox: Sandbox, http: httpx.Client,
                                                               route: str) -> None:
    url = payment_url(sandbox) if route == "nested" else direct_url(sandbox)
    collection = payments_url(sandbox) if route == "nested" else f"{company_url(sandbox)}/customerPayments"
    assert error(get(http, sandbox, f"{url}/foo"), 404, "BadRequest_ResourceNotFound") == (
        "Resource not found for the segment 'foo'.")
    for bad in (f"{url}/$count", f"{url}/customer/foo", f"{url}/customer(1)", f"{collection}/foo",
                f"{collection}/$count/more", f"{url}/customerPayments", f"{url}/Microsoft.NAV.post"):
        error(get(http, sandbox, bad), 404, "BadRequest_ResourceNotFound")
    # v1.0 has no journal navigation on a payment.
    v1 = payment_url(sandbox, version="v1.0") if route == "nested" else direct_url(sandbox, version="v1.0")
    error(get(http, sandbox, f"{v1}/customerPaymentJournal"), 404, "BadRequest_ResourceNotFound")
    error(get(http, sandbox, f"{v1}/dimensionSetLines"), 404, "BadRequest_ResourceNotFound")


def test_v2_payment_expands_dimension_set_lines(sandbox: Sandbox, http: httpx.Client) -> None:
    d = demo(sandbox)
    for url in (payment_url(sandbox), direct_url(sandbox)):
        body = ok(get(http, sandbox, url, **{"$expand": "dimensionSetLines"}))
        dims = sandbox.store().payment(d.payment_id)["dimensions"]  # type: ignore[index]
        assert [(x["code"], x["valueCode"]) for x in body["dimensionSetLines"]] == [
            (dim["code"], dim["valueCode"]) for dim in dims]
        assert all(x["parentId"] == d.payment_id for x in body["dimensionSetLines"])
    listed = ok(get(http, sandbox, payments_url(sandbox), **{"$expand": "dimensionSetLines($select=code)"}))
    assert all(set(x) <= {"code"} for p in listed["value"] for x in p["dimensionSetLines"])


def test_keys_inside_navigation_collections(sandbox: Sandbox, http: httpx.Client) -> None:
    d = demo(sandbox)
    journal = f"{company_url(sandbox)}/customerPaymentJournals({d.journal_id})"
    assert ok(get(http, sandbox, f"{journal}/customerPayments({d.payment_id})/customer"))["id"] == d.customer_id
    customer = f"{company_url(sandbox)}/customers({d.customer_id})"
    details = ok(get(http, sandbox, f"{customer}/customerFinancialDetails({d.customer_id})"))
    assert details["id"] == d.customer_id
    error(get(http, sandbox, f"{customer}/customerFinancialDetails({ZERO_GUID})"), 404, "Internal_RecordNotFound")
    assert ok(get(http, sandbox, f"{customer}/picture"))["value"] == []


def test_a_single_navigation_with_nothing_behind_it_is_204(sandbox: Sandbox, http: httpx.Client) -> None:
    d = demo(sandbox)
    blank = get(http, sandbox, f"{payment_url(sandbox, d.blank_payment_id)}/customer")
    assert blank.status_code == 204 and blank.content == b""
    assert ok(get(http, sandbox, payment_url(sandbox, d.blank_payment_id)))["customerId"] == ZERO_GUID


# ---- verbs ---------------------------------------------------------------------------------------------


def test_options_and_unsupported_verbs_get_a_json_405_naming_what_is_allowed(sandbox: Sandbox,
                                                                            http: httpx.Client) -> None:
    d = demo(sandbox)
    read_only = [f"{root(sandbox)}/companies", company_url(sandbox), f"{company_url(sandbox)}/customers",
                 f"{company_url(sandbox)}/salesInvoices({d.invoice_id})", f"{root(sandbox)}/$metadata",
                 f"{payment_url(sandbox)}/customer", f"{payments_url(sandbox)}/$count"]
    for url in read_only:
        for method in ("OPTIONS", "POST", "PUT", "PATCH", "DELETE"):
            response = http.request(method, url, headers=headers(sandbox, **{"If-Match": "*"}), json={})
            error(response, 405, "BadRequest_MethodNotAllowed")
            assert response.headers["allow"] == "GET", (method, url)
            assert response.headers["content-type"].startswith("application/json")
    # Payments are writable in Business Central; their 405s say so.
    options = http.options(payment_url(sandbox), headers=headers(sandbox))
    error(options, 405, "BadRequest_MethodNotAllowed")
    assert options.headers["allow"] == "GET, PATCH, DELETE"
    assert http.put(payment_url(sandbox), json={}, headers=headers(sandbox)).headers["allow"] == "GET, PATCH, DELETE"
    assert http.options(payments_url(sandbox), headers=headers(sandbox)).headers["allow"] == "GET, POST"
    # Without credentials the answer is the 401 challenge first, as for any other request.
    assert http.options(payment_url(sandbox)).status_code == 401


# ---- content negotiation ---------------------------------------------------------------------------------


def test_an_unsupported_accept_is_406_and_json_is_always_fine(sandbox: Sandbox, http: httpx.Client) -> None:
    url = payment_url(sandbox)
    for accept in ("application/xml", "text/html", "application/atom+xml", "application/json;q=0"):
        response = http.get(url, headers=headers(sandbox, Accept=accept))
        assert error(response, 406, "BadRequest").startswith(f"The requested media type '{accept}'")
    for accept in ("application/json", "*/*", "application/*", "text/html, application/xml;q=0.9, */*;q=0.8",
                   "application/json;odata.metadata=minimal", "APPLICATION/JSON"):
        assert ok(http.get(url, headers=headers(sandbox, Accept=accept)))["id"] == demo(sandbox).payment_id
    # $format takes precedence over Accept.
    assert http.get(url, params={"$format": "json"}, headers=headers(sandbox, Accept="application/xml")
                    ).status_code == 200
    metadata = f"{root(sandbox)}/$metadata"
    assert http.get(metadata, headers=headers(sandbox, Accept="application/xml")).status_code == 200
    error(http.get(metadata, headers=headers(sandbox, Accept="application/json")), 406)
    counted = http.get(f"{payments_url(sandbox)}/$count", headers=headers(sandbox, Accept="text/plain"))
    assert counted.status_code == 200 and counted.text.isdigit()


_SEGMENTS = ["customerPaymentJournals", "customerPaymentsJournals", "customerPayments", "customers", "salesInvoices",
             "customer", "customerPaymentJournal", "dimensionSetLines", "currency", "account", "paymentTerm",
             "customerFinancialDetails", "salesInvoiceLines", "picture", "$count", "$metadata", "$value", "foo",
             "Microsoft.NAV.post", "companies", "amount", "", "%24count", "customers(x)", "customerPayments('a')"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tail=st.lists(st.sampled_from([*_SEGMENTS, "KEY"]), max_size=4),
       method=st.sampled_from(["GET", "OPTIONS", "HEAD", "PUT", "MERGE"]),
       version=st.sampled_from(["v2.0", "v1.0", "beta"]))
def test_no_path_gets_a_server_error(sandbox: Sandbox, http: httpx.Client, tail: list[str], method: str,
                                     version: str) -> None:
    d = demo(sandbox)
    keys = {"customerPaymentJournals": d.journal_id, "customerPayments": d.payment_id, "customers": d.customer_id,
            "salesInvoices": d.invoice_id}
    parts: list[str] = []
    for segment in tail:
        if segment == "KEY" and parts and parts[-1] in keys:
            parts[-1] = f"{parts[-1]}({keys[parts[-1]]})"
        elif segment != "KEY":
            parts.append(segment)
    url = "/".join([company_url(sandbox, version), *parts])
    response = http.request(method, url, headers=headers(sandbox))
    assert response.status_code < 500, (method, url, response.text)
    if response.status_code >= 400 and method != "HEAD":
        error(response, response.status_code)  # always Business Central's JSON error body
