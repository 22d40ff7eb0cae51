"""The payment checks as pure functions: every check in every severity, exact decimals, two currencies and locales."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtCore import QLocale

from viewer.checks import (
    CHECK_IDS,
    Check,
    Inputs,
    Severity,
    Unavailable,
    checks_text,
    headline,
    related_lines,
    run_checks,
    worst,
)

US = QLocale("en_US")
DE = QLocale("de_DE")
TODAY = date(2025, 6, 15)
ZERO = "00000000-0000-0000-0000-000000000000"
CUSTOMER_ID = "0b3c9a77-5d1e-4a4f-9a0e-2f6f3d1c0a01"
OTHER_ID = "0b3c9a77-5d1e-4a4f-9a0e-2f6f3d1c0a02"
INVOICE_ID = "5e0c1f0a-7a9b-4c1d-8e2f-3a4b5c6d7e01"


def payment(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "aaaaaaaa-0000-4000-8000-000000000001", "lineNumber": 30000, "customerId": CUSTOMER_ID,
        "customerNumber": "10000", "postingDate": "2025-06-02", "documentNumber": "G02003",
        "externalDocumentNumber": "", "amount": -10598.48, "appliesToInvoiceId": INVOICE_ID,
        "appliesToInvoiceNumber": "103005",
    }
    return base | values


def customer(**values: Any) -> dict[str, Any]:
    return {"id": CUSTOMER_ID, "number": "10000", "displayName": "Adatum Corporation", "blocked": "_x0020_"} | values


def invoice(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": INVOICE_ID, "number": "103005", "status": "Open", "postingDate": "2025-05-05",
        "customerId": CUSTOMER_ID, "customerNumber": "10000", "customerName": "Adatum Corporation",
        "billToCustomerId": CUSTOMER_ID, "billToCustomerNumber": "10000", "billToName": "Adatum Corporation",
        "currencyCode": "USD", "totalAmountIncludingTax": 10598.48, "remainingAmount": 10598.48,
    }
    return base | values


def line(number: int, amount: object, **values: Any) -> dict[str, Any]:
    return {"id": f"aaaaaaaa-0000-4000-8000-{number:012d}", "lineNumber": number, "documentNumber": f"G{number}",
            "externalDocumentNumber": "", "amount": amount, "appliesToInvoiceId": ZERO,
            "appliesToInvoiceNumber": ""} | values


def run(p: Mapping[str, Any] | None = None, *, cust: object = "default", inv: object = "default",
        lines: object = (), locale: QLocale = US) -> dict[str, Check]:
    inputs = Inputs(
        p if p is not None else payment(),
        customer=customer() if cust == "default" else cust,  # type: ignore[arg-type]
        invoice=invoice() if inv == "default" else inv,  # type: ignore[arg-type]
        lines=list(lines) if isinstance(lines, tuple | list) else lines,  # type: ignore[arg-type]
    )
    result = run_checks(inputs, locale, today=TODAY)
    assert [c.id for c in result] == list(CHECK_IDS)
    return {c.id: c for c in result}


def sev(check: Check) -> str:
    return check.severity.value


def test_an_ordinary_payment_passes_everything_with_the_numbers_in_the_messages() -> None:
    checks = run()
    assert {sev(c) for c in checks.values()} == {"ok"}
    assert checks["settlement"].message == "settles invoice 103005 (10,598.48 of 10,598.48 USD)"
    assert checks["invoiceOpen"].message == "invoice 103005 is Open"
    assert checks["invoiceCustomer"].message == (
        "invoice 103005 belongs to the payment's customer 10000 Adatum Corporation")
    assert checks["customerBlocked"].message == "customer 10000 Adatum Corporation is not blocked"
    assert checks["postingDate"].message == "posting date 6/2/2025"
    assert checks["documentNumber"].message == "document no. G02003"
    assert checks["amount"].message == "payment of 10,598.48 USD (amount -10,598.48)"
    assert checks["duplicateApplication"].message == "no other line in the journal applies to invoice 103005"
    assert headline(list(checks.values())) == "✔ All 8 checks OK"


# ---- invoiceOpen ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "severity", "text"), [
    ("Open", "ok", "invoice 103005 is Open"),
    ("Paid", "error", "invoice 103005 is Paid: nothing left to settle"),
    ("Canceled", "error", "invoice 103005 is Canceled: nothing to settle"),
    ("Corrective", "error", "invoice 103005 is Corrective: corrected by a credit memo"),
    ("Draft", "warning", "invoice 103005 is a Draft: not posted yet, so there is no entry to apply to"),
    ("In_x0020_Review", "warning", "invoice 103005 is In Review: not posted yet, so there is no entry to apply to"),
    ("_x0020_", "unknown", "invoice 103005 has the status '(blank)'"),
])
def test_invoice_open_by_status(status: str, severity: str, text: str) -> None:
    check = run(inv=invoice(status=status))["invoiceOpen"]
    assert (sev(check), check.message) == (severity, text)


def test_not_applied_says_so_and_the_invoice_checks_pass() -> None:
    checks = run(payment(appliesToInvoiceId=ZERO, appliesToInvoiceNumber=""), inv=None)
    assert (sev(checks["invoiceOpen"]), checks["invoiceOpen"].message) == (
        "ok", "not applied: will post as an unapplied payment")
    assert sev(checks["invoiceCustomer"]) == sev(checks["settlement"]) == "ok"
    assert checks["settlement"].message == "not applied: settles no invoice"
    assert checks["amount"].message == "payment of 10,598.48 (amount -10,598.48)"  # no invoice, no currency
    assert checks["duplicateApplication"].message == "nothing to compare: not applied and no external document no."


def test_an_invoice_that_failed_or_is_gone() -> None:
    failed = run(inv=Unavailable("HTTP 503: Service unavailable"))
    for check_id in ("invoiceOpen", "invoiceCustomer", "settlement", "postingDate"):
        assert sev(failed[check_id]) == "unknown", check_id
        assert "invoice 103005 could not be read (HTTP 503: Service unavailable)" in failed[check_id].message
    gone = run(inv=Unavailable("The Sales Invoice does not exist.", not_found=True))
    assert (sev(gone["invoiceOpen"]), gone["invoiceOpen"].message) == ("error", "invoice 103005 does not exist")
    assert "does not exist" in gone["invoiceOpen"].detail


# ---- invoiceCustomer ------------------------------------------------------------------------------------------------

def test_invoice_of_another_customer_names_both() -> None:
    other = invoice(customerId=OTHER_ID, customerNumber="20000", customerName="Trey Research",
                    billToCustomerId=OTHER_ID, billToCustomerNumber="20000", billToName="Trey Research")
    check = run(inv=other)["invoiceCustomer"]
    assert sev(check) == "error"
    assert check.message == ("invoice 103005 belongs to 20000 Trey Research, not to the payment's customer "
                             "10000 Adatum Corporation")
    assert check.detail == f"customer id {CUSTOMER_ID} ≠ {OTHER_ID}; customer no. 10000 ≠ 20000"


def test_invoice_customer_compared_by_id_and_by_number_and_bill_to_first() -> None:
    assert sev(run(inv=invoice(billToCustomerNumber="20000"))["invoiceCustomer"]) == "error"  # same id, other no.
    assert sev(run(inv=invoice(billToCustomerId=OTHER_ID))["invoiceCustomer"]) == "error"  # same no., other id
    # Sell-to differs but the bill-to (whose ledger entry the invoice is) is the payment's customer: fine.
    assert sev(run(inv=invoice(customerId=OTHER_ID, customerNumber="20000"))["invoiceCustomer"]) == "ok"
    # Braces and case in GUIDs do not matter.
    assert sev(run(inv=invoice(billToCustomerId="{" + CUSTOMER_ID.upper() + "}"))["invoiceCustomer"]) == "ok"
    blank = run(payment(customerId=ZERO, customerNumber=""), cust=None)["invoiceCustomer"]
    assert (sev(blank), blank.message) == (
        "error", "the payment has no customer; invoice 103005 belongs to 10000 Adatum Corporation")


# ---- settlement -----------------------------------------------------------------------------------------------------

def test_settlement_exact_partial_and_overpaid_in_exact_decimals() -> None:
    # 0.1 + 0.2 style traps: these would not compare equal as binary floats.
    exact = run(payment(amount=-0.3), inv=invoice(remainingAmount=Decimal("0.30")))["settlement"]
    assert (sev(exact), exact.message) == ("ok", "settles invoice 103005 (0.30 of 0.30 USD)")
    partial = run(payment(amount=-9398.48))["settlement"]
    assert (sev(partial), partial.message) == (
        "warning", "partial: leaves 1,200.00 USD open on invoice 103005 (9,398.48 of 10,598.48)")
    over = run(payment(amount=Decimal("-10610.48")))["settlement"]
    assert (sev(over), over.message) == (
        "warning", "overpays by 12.00 USD: invoice 103005 has 10,598.48 open, the payment is 10,610.48")
    tiny = run(payment(amount=-10598.49))["settlement"]
    assert tiny.message.startswith("overpays by 0.01 USD")


def test_settlement_with_float_and_decimal_input_alike() -> None:
    as_float = run(payment(amount=-1234.1), inv=invoice(remainingAmount=1234.1))
    as_decimal = run(payment(amount=Decimal("-1234.10")), inv=invoice(remainingAmount=Decimal("1234.1")))
    assert as_float["settlement"] == as_decimal["settlement"]
    assert as_float["settlement"].message == "settles invoice 103005 (1,234.10 of 1,234.10 USD)"


def test_settlement_in_euro_with_german_formatting() -> None:
    eur = invoice(currencyCode="EUR", remainingAmount=Decimal("5000.00"))
    partial = run(payment(amount=Decimal("-4250.00")), inv=eur, locale=DE)["settlement"]
    assert (sev(partial), partial.message) == (
        "warning", "partial: leaves 750,00 EUR open on invoice 103005 (4.250,00 of 5.000,00)")
    exact = run(payment(amount=-3210.75), inv=invoice(currencyCode="EUR", remainingAmount=3210.75), locale=DE)
    assert exact["settlement"].message == "settles invoice 103005 (3.210,75 of 3.210,75 EUR)"
    assert exact["amount"].message == "payment of 3.210,75 EUR (amount -3.210,75)"


def test_the_sign_rule_a_positive_amount_settles_nothing() -> None:
    checks = run(payment(amount=300))
    assert sev(checks["settlement"]) == "error"
    assert checks["settlement"].message == (
        "a positive amount (300.00) cannot settle invoice 103005: a payment must be negative")
    assert "pays -300.00 off invoice 103005" in checks["settlement"].detail
    zero = run(payment(amount=0))["settlement"]
    assert (sev(zero), zero.message) == (
        "warning", "settles nothing: the amount is 0.00 and invoice 103005 has 10,598.48 USD open")


def test_settlement_unknown_without_numbers() -> None:
    assert sev(run(payment(amount="ten"))["settlement"]) == "unknown"
    assert sev(run(inv=invoice(remainingAmount=None))["settlement"]) == "unknown"


# ---- customerBlocked ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("blocked", "severity", "text"), [
    ("_x0020_", "ok", "customer 10000 Adatum Corporation is not blocked"),
    ("", "ok", "customer 10000 Adatum Corporation is not blocked"),
    ("Ship", "warning", "customer 10000 Adatum Corporation is blocked for shipping (Ship): payments still post"),
    ("Invoice", "warning", "customer 10000 Adatum Corporation is blocked for invoicing (Invoice): payments still post"),
    ("All", "error", "customer 10000 Adatum Corporation is blocked (All): posting the payment will be refused"),
    ("Privacy", "unknown", "customer 10000 Adatum Corporation has the Blocked value 'Privacy'"),
])
def test_customer_blocked(blocked: str, severity: str, text: str) -> None:
    check = run(cust=customer(blocked=blocked))["customerBlocked"]
    assert (sev(check), check.message) == (severity, text)


def test_customer_missing_or_failed() -> None:
    none = run(payment(customerId=ZERO, customerNumber=""), cust=None)["customerBlocked"]
    assert (sev(none), none.message) == (
        "error", "no customer: Business Central does not post a line without an account")
    failed = run(cust=Unavailable("The service did not answer in time"))["customerBlocked"]
    assert (sev(failed), failed.message) == (
        "unknown", "blocked unknown: customer 10000 could not be read (The service did not answer in time)")


# ---- postingDate ----------------------------------------------------------------------------------------------------

def test_posting_date_blank_early_late_and_configurable() -> None:
    blank = run(payment(postingDate="0001-01-01"))["postingDate"]
    assert (sev(blank), blank.message) == ("error", "no posting date: Business Central will not post the line")
    early = run(payment(postingDate="2025-05-04"))["postingDate"]
    assert (sev(early), early.message) == (
        "warning", "posting date 5/4/2025 is before invoice 103005's posting date 5/5/2025")
    same_day = run(payment(postingDate="2025-05-05"))["postingDate"]
    assert sev(same_day) == "ok"
    late = run(payment(postingDate="2025-07-16"))["postingDate"]  # 31 days after TODAY
    assert (sev(late), late.message) == ("warning", "posting date 7/16/2025 is 31 days ahead (more than 30)")
    assert sev(run(payment(postingDate="2025-07-15"))["postingDate"]) == "ok"  # exactly 30 days
    inputs = Inputs(payment(postingDate="2025-06-25"), customer=customer(), invoice=invoice(), lines=[])
    strict = {c.id: c for c in run_checks(inputs, US, today=TODAY, future_days=7)}["postingDate"]
    assert strict.message == "posting date 6/25/2025 is 10 days ahead (more than 7)"
    german = run(payment(postingDate="2025-05-04"), locale=DE)["postingDate"]
    assert german.message == "posting date 04.05.2025 is before invoice 103005's posting date 05.05.2025"


def test_posting_date_v1_invoice_uses_its_document_date_and_bad_dates_are_unknown() -> None:
    v1 = invoice(invoiceDate="2025-05-10")
    del v1["postingDate"]
    assert sev(run(payment(postingDate="2025-05-09"), inv=v1)["postingDate"]) == "warning"
    assert sev(run(payment(postingDate="2025-02-30"))["postingDate"]) == "unknown"


# ---- documentNumber and amount --------------------------------------------------------------------------------------

def test_document_number_blank_is_a_warning() -> None:
    check = run(payment(documentNumber=""))["documentNumber"]
    assert (sev(check), check.message) == ("warning", "no document number")


@pytest.mark.parametrize(("amount", "severity", "text"), [
    (-1500, "ok", "payment of 1,500.00 USD (amount -1,500.00)"),
    (Decimal("-0.01"), "ok", "payment of 0.01 USD (amount -0.01)"),
    (0, "error", "the amount is 0.00: there is nothing to post"),
    (0.0, "error", "the amount is 0.00: there is nothing to post"),
    (1500, "error",
     "the amount 1,500.00 is positive: Business Central refuses a customer payment that is not negative"),
    (None, "unknown", "the amount None is not a number"),
])
def test_amount(amount: object, severity: str, text: str) -> None:
    check = run(payment(amount=amount))["amount"]
    assert (sev(check), check.message) == (severity, text)


# ---- duplicateApplication -------------------------------------------------------------------------------------------

def test_two_lines_together_overpay_settle_or_leave_open() -> None:
    me = payment(lineNumber=30000, amount=-7500)
    other = line(70000, -7500.0, appliesToInvoiceId=INVOICE_ID, appliesToInvoiceNumber="103005")
    inv = invoice(remainingAmount=9329.35)
    over = run(me, inv=inv, lines=[me, other])["duplicateApplication"]  # the payment itself is skipped by id
    assert (sev(over), over.message) == (
        "error", "lines 30000 and 70000 together overpay invoice 103005 by 5,670.65 USD")
    assert over.detail == ("line 30000 · G02003 · -7,500.00 · invoice 103005; "
                           "line 70000 · G70000 · -7,500.00 · invoice 103005")
    settle = run(me, inv=invoice(remainingAmount=Decimal("15000.00")), lines=[other])["duplicateApplication"]
    assert (sev(settle), settle.message) == (
        "warning", "lines 30000 and 70000 together settle invoice 103005 (15,000.00 of 15,000.00 USD)")
    three = [other, line(50000, -1000, appliesToInvoiceId=INVOICE_ID)]
    under = run(me, inv=invoice(remainingAmount=20000), lines=three)["duplicateApplication"]
    assert (sev(under), under.message) == (
        "warning", "lines 30000, 50000 and 70000 together leave 4,000.00 USD open on invoice 103005")


def test_same_invoice_by_number_when_ids_are_blank_and_same_external_document_number() -> None:
    me = payment(externalDocumentNumber="REM-2025-0042", amount=-500)
    by_number = line(40000, -100, appliesToInvoiceNumber="103005")
    same_ext = line(90000, -385, externalDocumentNumber="rem-2025-0042 ", appliesToInvoiceNumber="103099")
    unrelated = line(60000, -1, appliesToInvoiceNumber="103006", externalDocumentNumber="X")
    assert related_lines(me, [me, by_number, same_ext, unrelated]) == [by_number, same_ext]
    check = run(me, lines=[by_number, same_ext, unrelated])["duplicateApplication"]
    assert sev(check) == "warning"
    assert check.message == ("lines 30000 and 40000 together leave 9,998.48 USD open on invoice 103005; "
                             "line 90000 carries the same external document no. REM-2025-0042: entered twice?")


def test_duplicates_none_or_unreadable() -> None:
    me = payment(externalDocumentNumber="TRX-1")
    ok = run(me, lines=[line(40000, -1, appliesToInvoiceNumber="103006")])["duplicateApplication"]
    assert (sev(ok), ok.message) == (
        "ok", "no other line in the journal applies to invoice 103005 or carries the external document no. TRX-1")
    failed = run(me, lines=Unavailable("HTTP 429: Too many requests"))["duplicateApplication"]
    assert (sev(failed), failed.message) == (
        "unknown", "the journal's other lines could not be read (HTTP 429: Too many requests)")
    assert sev(run(me, lines=None)["duplicateApplication"]) == "unknown"
    # The invoice failed: the lines are still named, without totals.
    blind = run(payment(amount=-1), inv=Unavailable("timeout"),
                lines=[line(70000, -2, appliesToInvoiceId=INVOICE_ID)])["duplicateApplication"]
    assert (sev(blind), blind.message) == ("warning", "lines 30000 and 70000 all apply to invoice 103005")


# ---- summaries ------------------------------------------------------------------------------------------------------

def test_worst_headline_and_text_for_a_ticket() -> None:
    checks = list(run(payment(amount=300, documentNumber=""), cust=Unavailable("offline")).values())
    assert worst(checks) is Severity.ERROR
    assert headline(checks) == "✖ Will not post as is: 2 errors, 1 warning, 1 unknown"
    assert headline(checks, glyph=False) == "Will not post as is: 2 errors, 1 warning, 1 unknown"
    text = checks_text(checks)
    assert text.splitlines()[0] == headline(checks)
    assert "✖ Error · Amount: the amount 300.00 is positive: Business Central refuses" in text
    assert "⚠ Warning · Document no.: no document number\n    The journal's number series" in text
    assert worst([]) is Severity.OK and headline([]) == "? No checks yet"
    unknown_only = list(run(cust=Unavailable("offline")).values())
    assert headline(unknown_only) == "? Could not check everything: 1 unknown"
    assert checks[0].as_json() == {"id": "invoiceOpen", "severity": "ok", "message": "invoice 103005 is Open"}
