"""What a navigation property leads to: stored records, or small records derived from them.

The sandbox keeps companies, journals, payments, customers and invoices (``data.py``). The other entities
the API pages link to (currency, payment terms, the journal's balancing account, a customer's financial
details, a payment's dimension set lines) are derived here from fields those records already hold, so
``$expand`` and navigation segments answer with consistent data. Where the sandbox has nothing to derive
from (pictures, default dimensions, invoice lines, PDF documents) the answer is an empty collection, and a
single-valued navigation with a blank id (the all-zero GUID) leads to no entity.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from viewer.sandbox.data import BLANK_DATE, ZERO_GUID, DataStore

Record = Mapping[str, Any]

_EMPTY_COLLECTIONS = frozenset({"picture", "defaultDimensions", "salesInvoiceLines", "pdfDocument"})
_OVERDUE_ON = "2025-06-30"  # the demo data's "today" (data._BASE_TIME)
_STAMP = "2025-01-02T08:00:00.000Z"


class MustFilter(Exception):
    """The company-level payment set, which Business Central refuses to list without a journal or id filter."""


def _derived_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "bcpv-sandbox/" + "/".join(parts)))


def currency(code: str, currency_id: str) -> Record | None:
    if not code or currency_id == ZERO_GUID:
        return None
    return {"id": currency_id, "code": code, "displayName": code, "symbol": "", "amountDecimalPlaces": "2:2",
            "amountRoundingPrecision": 0.01, "lastModifiedDateTime": _STAMP}


def payment_term(term_id: str) -> Record | None:
    if term_id == ZERO_GUID:
        return None
    return {"id": term_id, "code": "30 DAYS", "displayName": "Net 30 days", "dueDateCalculation": "30D",
            "discountDateCalculation": "", "discountPercent": 0, "calculateDiscountOnCreditMemos": False,
            "lastModifiedDateTime": _STAMP}


def account(journal: Record) -> Record | None:
    if journal.get("balancingAccountId", ZERO_GUID) == ZERO_GUID:
        return None
    number = str(journal.get("balancingAccountNumber", ""))
    return {"id": journal["balancingAccountId"], "number": number, "displayName": f"Bank account {number}",
            "category": "Assets", "subCategory": "Cash", "blocked": False,
            "lastModifiedDateTime": journal.get("lastModifiedDateTime", _STAMP)}


def financial_details(store: DataStore, customer: Record) -> list[Record]:
    invoices = [i for i in store.invoices(str(customer.get("_company", ""))) if i["customerId"] == customer["id"]]
    overdue = sum(float(i["remainingAmount"]) for i in invoices if BLANK_DATE < i["dueDate"] < _OVERDUE_ON)
    return [{"id": customer["id"], "number": customer["number"], "balance": customer.get("balanceDue", 0),
             "totalSalesExcludingTax": round(sum(float(i["totalAmountExcludingTax"]) for i in invoices), 2),
             "overdueAmount": round(overdue, 2)}]


def dimension_set_lines(payment: Record) -> list[Record]:
    """v2.0's ``dimensionSetLines`` of a journal line, from the v1.0 ``dimensions`` the record holds."""
    return [
        {"id": _derived_id("dimension", str(d["code"])), "code": d["code"], "parentId": payment["id"],
         "parentType": "Journal_x0020_Line", "displayName": d["displayName"],
         "valueId": _derived_id("dimension", str(d["code"]), str(d["valueCode"])), "valueCode": d["valueCode"],
         "valueDisplayName": d["valueDisplayName"]}
        for d in payment.get("dimensions") or ()
    ]


def navigate(store: DataStore, record: Record, entity: str, nav: str) -> Record | Sequence[Record] | None:
    """Follow navigation property ``nav`` of ``record`` (an entity of type ``entity``)."""
    company = str(record.get("_company", "")) if entity != "company" else str(record["id"])
    if nav in _EMPTY_COLLECTIONS:
        return []
    if entity == "company":
        if nav == "customerPayments":
            raise MustFilter
        lists = {"customerPaymentJournals": store.journals, "customers": store.customers,
                 "salesInvoices": store.invoices}
        return lists[nav](company)
    if nav == "customer":
        return store.customer(str(record.get("customerId", "")), company)
    if nav == "customerPaymentJournal":
        return store.journal(company, str(record.get("journalId", "")))
    if nav == "customerPayments":
        return store.journal_payments(str(record["id"]))
    if nav == "dimensionSetLines":
        return dimension_set_lines(record)
    if nav == "account":
        return account(record)
    if nav == "currency":
        return currency(str(record.get("currencyCode", "")), str(record.get("currencyId", ZERO_GUID)))
    if nav == "paymentTerm":
        return payment_term(str(record.get("paymentTermsId", ZERO_GUID)))
    if nav == "customerFinancialDetails":
        return financial_details(store, record)
    if nav in ("shipmentMethod", "paymentMethod"):
        return None  # every seeded customer and invoice has a blank one
    raise KeyError(nav)
