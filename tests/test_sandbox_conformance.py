"""Every served v1.0 entity against Microsoft's published OpenAPI for API v1.0 (``tests/data/BCOAS1.0.yaml``).

The schemas are OpenAPI 3.0 (``nullable``, ``$ref`` under ``#/components/schemas``); they are turned into
JSON Schema here and checked with ``jsonschema``. Properties that are navigation properties in the spec
(the ``$expand`` values its paths list) are validated when expanded. BCOAS types every date as
``date-time`` (a generator quirk, SPEC §7), so formats other than ``uuid`` are not checked against it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from viewer.sandbox import Sandbox

SPEC = Path(__file__).parent / "data" / "BCOAS1.0.yaml"

# Served entity set -> (BCOAS schema, BCOAS path of one entity).
SERVED = {
    "companies": ("company", "/companies({company_id})"),
    "customerPaymentJournals": ("customerPaymentJournal",
                                "/companies({company_id})/customerPaymentJournals({customerPaymentJournal_id})"),
    "customerPayments": ("customerPayment", "/companies({company_id})/customerPaymentJournals("
                         "{customerPaymentJournal_id})/customerPayments({customerPayment_id})"),
    "customers": ("customer", "/companies({company_id})/customers({customer_id})"),
    "salesInvoices": ("salesInvoice", "/companies({company_id})/salesInvoices({salesInvoice_id})"),
}


@functools.cache
def spec() -> dict[str, Any]:
    loaded = yaml.load(SPEC.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert isinstance(loaded, dict)
    return loaded


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: ``nullable: true`` admits null; everything else carries over."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k not in ("nullable", "description")}
    if node.get("nullable") is True:
        if "$ref" in out:
            return {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
        if "type" in out:
            out["type"] = [out["type"], "null"]
    return out


@functools.cache
def validator(schema_name: str) -> jsonschema.protocols.Validator:
    components = _json_schema(spec()["components"])
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": components}
    cls = jsonschema.validators.validator_for(root, default=jsonschema.Draft7Validator)
    return cls(root, format_checker=jsonschema.FormatChecker(formats=["uuid"]))  # type: ignore[no-any-return]


def expand_values(path: str) -> list[str]:
    params = spec()["paths"][path]["get"].get("parameters", [])
    for param in params:
        if isinstance(param, dict) and param.get("name") == "$expand":
            return list(param["schema"]["items"]["enum"])
    return []


def _is_navigation(prop: dict[str, Any]) -> bool:
    """A property referring to another entity's schema (complex types are the schemas named ``…type``)."""
    ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
    return isinstance(ref, str) and not ref.endswith("type")


def data_properties(schema_name: str) -> set[str]:
    """The schema's properties that are not navigation properties."""
    props = spec()["components"]["schemas"][schema_name]["properties"]
    return {name for name, prop in props.items() if not _is_navigation(prop)}


# ---- helpers ---------------------------------------------------------------------------------------------


def _get(http: httpx.Client, sandbox: Sandbox, url: str, **params: str) -> dict[str, Any]:
    assert sandbox.identity is not None
    response = http.get(url, params=params or None,
                        headers={"Authorization": f"Bearer {sandbox.identity.issue_access_token()}"})
    assert response.status_code == 200, (url, params, response.text)
    body = response.json()
    assert isinstance(body, dict)
    return body


def _root(sandbox: Sandbox) -> str:
    assert sandbox.info is not None
    return f"{sandbox.info.api_root}/v1.0"


def _entities(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "value" in body:
        yield from body["value"]
    else:
        yield body


def _check(entity: dict[str, Any], set_name: str) -> None:
    schema_name, path = SERVED[set_name]
    payload = {k: v for k, v in entity.items() if not k.startswith("@odata.")}
    errors = sorted(validator(schema_name).iter_errors(payload), key=lambda e: list(e.absolute_path))
    assert not errors, f"{set_name}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    # Exactly the spec's data properties, plus only navigation properties the spec lists for $expand.
    assert set(payload) - set(expand_values(path)) == data_properties(schema_name), set_name


# ---- the tests -------------------------------------------------------------------------------------------


def test_the_spec_copy_is_the_published_one() -> None:
    assert SPEC.read_text(encoding="utf-8").startswith("# Source: github.com/MicrosoftDocs/dynamics365smb-devitpro-pb")
    assert spec()["openapi"] == "3.0.0" and set(SERVED).isdisjoint({"vendors"})
    for schema_name, path in SERVED.values():
        assert schema_name in spec()["components"]["schemas"] and path in spec()["paths"]


def test_every_served_v1_entity_is_schema_valid(sandbox: Sandbox, http: httpx.Client) -> None:
    root = _root(sandbox)
    companies = _get(http, sandbox, f"{root}/companies")["value"]
    checked = dict.fromkeys(SERVED, 0)
    for company in companies:
        _check(company, "companies")
        checked["companies"] += 1
        base = f"{root}/companies({company['id']})"
        for set_name in ("customerPaymentJournals", "customers", "salesInvoices"):
            for entity in _get(http, sandbox, f"{base}/{set_name}")["value"]:
                _check(entity, set_name)
                checked[set_name] += 1
        for journal in _get(http, sandbox, f"{base}/customerPaymentJournals")["value"]:
            for payment in _get(http, sandbox, f"{base}/customerPaymentJournals({journal['id']})/customerPayments"
                                )["value"]:
                _check(payment, "customerPayments")
                checked["customerPayments"] += 1
    assert checked["companies"] == 4 and checked["customerPayments"] >= 250 and all(checked.values()), checked


@pytest.mark.parametrize("set_name", ["customerPaymentJournals", "customerPayments", "customers", "salesInvoices"])
def test_every_bcoas_expand_value_answers_and_validates(sandbox: Sandbox, http: httpx.Client, set_name: str) -> None:
    d = sandbox.store().demo
    base = f"{_root(sandbox)}/companies({d.company_id})"
    key = {"customerPaymentJournals": d.second_journal_id, "customerPayments": d.payment_id,
           "customers": d.customer_id, "salesInvoices": d.invoice_id}[set_name]
    collection = (f"{base}/customerPaymentJournals({d.journal_id})/customerPayments" if set_name == "customerPayments"
                  else f"{base}/{set_name}")
    values = expand_values(SERVED[set_name][1])
    assert values, set_name
    for value in values:
        one = _get(http, sandbox, f"{collection}({key})", **{"$expand": value})
        assert value in one
        _check(one, set_name)
        many = _get(http, sandbox, collection, **{"$expand": value})
        for entity in many["value"]:
            _check(entity, set_name)
    everything = _get(http, sandbox, f"{collection}({key})", **{"$expand": ",".join(values)})
    assert set(values) <= set(everything)
    _check(everything, set_name)


def test_expanded_related_records_hold_data_where_the_sandbox_has_it(sandbox: Sandbox, http: httpx.Client) -> None:
    d = sandbox.store().demo
    base = f"{_root(sandbox)}/companies({d.company_id})"
    bank = _get(http, sandbox, f"{base}/customerPaymentJournals({d.second_journal_id})", **{"$expand": "account"})
    assert bank["account"]["id"] == bank["balancingAccountId"] and bank["account"]["number"] == "2910"
    customer = _get(http, sandbox, f"{base}/customers({d.quote_customer_id})",
                    **{"$expand": "currency,paymentTerm,customerFinancialDetails,picture"})
    assert customer["currency"]["code"] == "EUR" and customer["currency"]["id"] == customer["currencyId"]
    assert customer["paymentTerm"]["id"] == customer["paymentTermsId"]
    details = customer["customerFinancialDetails"]
    assert len(details) == 1 and details[0]["number"] == customer["number"]
    assert customer["picture"] == []
    payment = _get(http, sandbox, f"{base}/customerPaymentJournals({d.journal_id})/customerPayments({d.payment_id})",
                   **{"$expand": "customer"})
    assert payment["customer"]["id"] == payment["customerId"]
