"""The payment checks on the sandbox: every seeded case gives its documented result through the models (the window's
path, re-checked on reload) and through ``show --checks``; a related record that fails to load gives ``unknown``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from tests.conftest import Start, payment_url, until
from tests.test_cli import data_dir, run  # noqa: F401 (data_dir is a fixture used below)
from tests.test_ui_form import Harness
from viewer import schema
from viewer.checking import PaymentChecks, gather
from viewer.checks import CHECK_IDS, Check, run_checks
from viewer.sandbox import Sandbox

# Seeded case (viewer/sandbox/data.py, README "Payment checks") → the checks that are not "ok".
EXPECTED: dict[str, dict[str, str]] = {
    "settles exactly": {},
    "partial payment": {"settlement": "warning"},
    "overpayment": {"settlement": "warning"},
    "invoice already paid": {"invoiceOpen": "error", "settlement": "warning"},
    "invoice canceled": {"invoiceOpen": "error", "settlement": "warning"},
    "invoice still a draft": {"invoiceOpen": "warning"},
    "invoice in review": {"invoiceOpen": "warning"},
    "invoice of another customer": {"invoiceCustomer": "error"},
    "customer blocked (All)": {"customerBlocked": "error"},
    "customer blocked for invoicing": {"customerBlocked": "warning"},
    "posted before its invoice": {"postingDate": "warning"},
    "posting date far ahead": {"postingDate": "warning"},
    "no document number": {"documentNumber": "warning"},
    "positive amount": {"settlement": "error", "amount": "error"},
    "two lines overpay one invoice (1)": {"settlement": "warning", "duplicateApplication": "error"},
    "two lines overpay one invoice (2)": {"settlement": "warning", "duplicateApplication": "error"},
    "two lines pay part of one invoice (1)": {"settlement": "warning", "duplicateApplication": "warning"},
    "two lines pay part of one invoice (2)": {"settlement": "warning", "duplicateApplication": "warning"},
    "same external document no. (1)": {"duplicateApplication": "warning"},
    "same external document no. (2)": {"duplicateApplication": "warning"},
    "settles in EUR": {},
    "partial in EUR": {"settlement": "warning"},
}


def not_ok(checks: list[Check] | list[dict[str, str]]) -> dict[str, str]:
    pairs = [(c.id, c.severity.value) if isinstance(c, Check) else (c["id"], c["severity"]) for c in checks]
    return {i: s for i, s in pairs if s != "ok"}


def onprem(sandbox: Sandbox, payment_id: str) -> str:
    assert sandbox.info is not None
    return f"{sandbox.info.onprem_root}/v2.0/{sandbox.store().payment_path(payment_id)}"


@pytest.fixture
def harness(sandbox: Sandbox, qloop: qasync.QEventLoop, qapp: QApplication) -> Iterator[Harness]:
    h = Harness(sandbox, qloop)
    yield h
    h.close()


def reload(h: Harness, kind: str) -> None:
    """One related record reloads on its own (its panel's refresh), through its slot as the app does."""
    coro = h.related.models[kind].refresh()
    assert coro is not None
    h.related.slots[kind].start(coro)


def watch(h: Harness) -> PaymentChecks:
    return PaymentChecks(h.model, h.related, locale=QLocale("en_US"), parent=h.panel)


def settled(h: Harness, checker: PaymentChecks) -> list[Check]:
    h.qloop.run_until_complete(checker.wait())
    h.wait(lambda: len(checker.checks) == len(CHECK_IDS) and not any(
        "still loading" in c.message for c in checker.checks))
    return checker.checks


def test_every_seeded_case_through_the_models(harness: Harness, sandbox: Sandbox) -> None:
    cases = sandbox.store().check_cases
    assert set(cases) == set(EXPECTED)
    checker = watch(harness)
    for case, payment_id in cases.items():
        harness.load(harness.url(payment_id))
        assert not_ok(settled(harness, checker)) == EXPECTED[case], case
    # The blank line of the demo journal: no customer, no date, nothing to post.
    harness.load(harness.url(sandbox.store().demo.blank_payment_id))
    assert not_ok(settled(harness, checker)) == {
        "customerBlocked": "error", "postingDate": "error", "amount": "error"}


def test_messages_and_rechecking_when_the_invoice_or_the_journal_changes(harness: Harness,
                                                                        sandbox: Sandbox) -> None:
    store = sandbox.store()
    cases = store.check_cases
    checker = watch(harness)
    emitted: list[list[Check]] = []
    checker.checksChanged.connect(emitted.append)
    harness.load(harness.url(cases["two lines overpay one invoice (1)"]))
    by_id = {c.id: c for c in settled(harness, checker)}
    first, second = (store.payment(cases[f"two lines overpay one invoice ({n})"]) for n in (1, 2))
    assert first is not None and second is not None
    number = first["appliesToInvoiceNumber"]
    assert by_id["duplicateApplication"].message == (
        f"lines {first['lineNumber']} and {second['lineNumber']} together overpay invoice {number} by 5,670.65 USD")
    assert by_id["settlement"].message == (
        f"partial: leaves 1,829.35 USD open on invoice {number} (7,500.00 of 9,329.35)")
    assert emitted and emitted[-1] == checker.checks

    # The second line changes (as on Watch): the next payment reload fetches the lines again and re-checks.
    store.patch_payment(second["id"], {"amount": -1829.35})
    harness.refresh()
    harness.wait(lambda: {c.id: c for c in checker.checks}["duplicateApplication"].severity.value == "warning")
    assert {c.id: c for c in checker.checks}["duplicateApplication"].message == (
        f"lines {first['lineNumber']} and {second['lineNumber']} together settle invoice {number} "
        "(9,329.35 of 9,329.35 USD)")

    # The invoice reloads on its own (its panel's refresh): the settlement follows it.
    invoice = store.invoice(first["appliesToInvoiceId"])
    assert invoice is not None
    with store.lock:  # the sandbox has no invoice writes; replace the record as its writes do
        updated = {**invoice, "remainingAmount": 7500}
        store._invoices[invoice["_company"]] = [updated if i["id"] == invoice["id"] else i
                                                for i in store._invoices[invoice["_company"]]]
        store._invoice_by_id[invoice["id"]] = updated
    reload(harness, "invoice")
    harness.wait(lambda: {c.id: c for c in checker.checks}["settlement"].severity.value == "ok")
    assert {c.id: c for c in checker.checks}["settlement"].message == (
        f"settles invoice {number} (7,500.00 of 7,500.00 USD)")


def test_a_related_record_that_fails_to_load_gives_unknown(harness: Harness, sandbox: Sandbox) -> None:
    cases = sandbox.store().check_cases
    checker = watch(harness)
    sandbox.add_fault("status", r"/salesInvoices\(", status=500, count=100)
    sandbox.add_fault("status", r"/customers\(", status=500, count=100)
    harness.load(harness.url(cases["partial payment"]))
    checks = {c.id: c for c in settled(harness, checker)}
    for check_id in ("invoiceOpen", "invoiceCustomer", "settlement", "postingDate", "customerBlocked"):
        assert checks[check_id].severity.value == "unknown", check_id
        assert "could not be read" in checks[check_id].message and "HTTP 500" in checks[check_id].message
    assert checks["amount"].severity.value == "ok" and checks["documentNumber"].severity.value == "ok"
    # The lines could still be read; without the invoice they are compared without totals.
    assert checks["duplicateApplication"].severity.value == "ok"

    sandbox.faults.clear()
    sandbox.add_fault("status", r"/customerPayments$", status=500, count=100)  # the lines, not the payment
    reload(harness, "invoice")
    reload(harness, "customer")
    harness.refresh()
    harness.wait(lambda: {c.id: c for c in checker.checks}["duplicateApplication"].severity.value == "unknown")
    harness.wait(lambda: {c.id: c for c in checker.checks}["settlement"].severity.value == "warning")
    assert "other lines could not be read" in {c.id: c for c in checker.checks}["duplicateApplication"].message
    sandbox.faults.clear()


def test_gather_for_the_terminal_reads_everything_and_never_raises(harness: Harness, sandbox: Sandbox) -> None:
    store = sandbox.store()
    url = harness.url(store.check_cases["same external document no. (1)"])
    values = store.payment(store.check_cases["same external document no. (1)"])
    assert values is not None
    inputs = harness.qloop.run_until_complete(gather(harness.client, url, {k: v for k, v in values.items()
                                                                          if not k.startswith("_")}))
    assert isinstance(inputs.customer, dict) and isinstance(inputs.invoice, dict)
    assert isinstance(inputs.lines, list) and len(inputs.lines) == 2  # itself and its twin, by external document no.
    assert not_ok(run_checks(inputs, QLocale("en_US"))) == {"duplicateApplication": "warning"}
    sandbox.add_fault("status", r"/salesInvoices\(", status=404, count=10)
    gone = harness.qloop.run_until_complete(gather(harness.client, url, {k: v for k, v in values.items()
                                                                        if not k.startswith("_")}))
    checks = {c.id: c for c in run_checks(gone, QLocale("en_US"))}
    assert checks["invoiceOpen"].severity.value == "error" and "does not exist" in checks["invoiceOpen"].message


@pytest.mark.parametrize("case", ["settles exactly", "two lines overpay one invoice (2)", "settles in EUR",
                                  "customer blocked (All)", "positive amount"])
def test_show_checks_json(sandbox: Sandbox, data_dir: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
                          case: str) -> None:
    assert sandbox.info is not None
    monkeypatch.setenv("BCPV_PASSWORD", sandbox.info.basic["password"])
    code, out, err = run("show", onprem(sandbox, sandbox.store().check_cases[case]), "--user",
                         sandbox.info.basic["user"], "--ca-file", sandbox.info.ca_file, "--format", "json", "--checks")
    assert (code, err) == (0, "")
    body = json.loads(out)
    assert [c["id"] for c in body["checks"]] == list(CHECK_IDS)
    assert all(set(c) == {"id", "severity", "message"} for c in body["checks"])
    assert not_ok(body["checks"]) == EXPECTED[case]
    assert body["id"] == sandbox.store().check_cases[case]  # the payment's fields are still all there
    if case == "two lines overpay one invoice (2)":
        message = next(c["message"] for c in body["checks"] if c["id"] == "duplicateApplication")
        overpaid = schema.format_decimal(Decimal("5670.65"), QLocale.system())
        assert message.endswith(f"together overpay invoice {body['appliesToInvoiceNumber']} by {overpaid} USD")


def test_show_checks_table_and_exit_code_stays_the_loads(sandbox: Sandbox, data_dir: Path,  # noqa: F811
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert sandbox.info is not None
    monkeypatch.setenv("BCPV_PASSWORD", sandbox.info.basic["password"])
    url = onprem(sandbox, sandbox.store().check_cases["customer blocked (All)"])
    args = ("--user", sandbox.info.basic["user"], "--ca-file", sandbox.info.ca_file)
    code, out, err = run("show", url, *args, "--checks")
    assert (code, err) == (0, "")  # an error among the checks is not a failed load
    block = out.split("\nChecks  ", 1)[1]
    assert block.startswith("✖ Will not post as is: 1 error")
    assert "  ✖ Error    Customer blocked  customer 90030 Litware, Inc. is blocked (All)" in block
    assert "  ✔ OK       Settlement        settles invoice" in block
    _, plain, _ = run("show", url, *args)
    assert out.startswith(plain) and "\nChecks  " not in plain
    sandbox.add_fault("status", r"/customers\(", status=500, count=10)
    code, out, err = run("show", url, *args, "--checks", "--format", "json")
    assert (code, err) == (0, "")
    blocked = next(c for c in json.loads(out)["checks"] if c["id"] == "customerBlocked")
    assert blocked["severity"] == "unknown" and "HTTP 500" in blocked["message"]


def check_label(root: QWidget, check_id: str) -> QLabel:
    label = root.findChild(QLabel, f"check:{check_id}")
    assert label is not None, check_id
    return label


def test_the_panel_strip_follows_the_payment(harness: Harness, sandbox: Sandbox) -> None:
    checker = watch(harness)
    harness.panel.bind_checks(checker)
    strip = harness.panel.findChild(QWidget, "paymentChecks")
    assert strip is not None and not strip.isVisible()  # no payment yet
    cases = sandbox.store().check_cases
    harness.load(harness.url(cases["customer blocked (All)"]))
    settled(harness, checker)
    assert strip.isVisible() and strip.property("severity") == "error"
    blocked = check_label(harness.panel, "customerBlocked")
    assert blocked.property("severity") == "error"
    assert blocked.text() == "customer 90030 Litware, Inc. is blocked (All): posting the payment will be refused"
    harness.load(harness.url(cases["settles in EUR"]))
    settled(harness, checker)
    harness.wait(lambda: strip.property("severity") == "ok")
    assert check_label(harness.panel, "settlement").text().endswith("of 3,210.75 EUR)")
    harness.load(harness.url(sandbox.store().demo.blank_payment_id))
    settled(harness, checker)
    assert check_label(harness.panel, "postingDate").property("severity") == "error"


def test_the_app_checks_the_open_payment_and_rechecks_on_watch(start_app: Start,
                                                               qloop: qasync.QEventLoop, sandbox: Sandbox) -> None:
    store = sandbox.store()
    first, second = (store.payment(store.check_cases[f"two lines pay part of one invoice ({n})"]) for n in (1, 2))
    assert first is not None and second is not None
    window, controller = start_app(payment_url(sandbox, first["id"]))
    duplicates = check_label(window, "duplicateApplication")
    qloop.run_until_complete(until(lambda: "together" in duplicates.text()))  # once the invoice is there too
    assert duplicates.property("severity") == "warning"
    amount = schema.format_decimal(Decimal(1500), QLocale())  # the app formats for the system's locale
    assert duplicates.text().endswith(f"together leave {amount} USD open on invoice {first['appliesToInvoiceNumber']}")
    # A colleague raises the other line: Watch notices the payment's own change and the lines are read again.
    store.patch_payment(second["id"], {"amount": -4500})
    store.patch_payment(first["id"], {"description": "Watched edit"})
    assert qloop.run_until_complete(controller.watcher.check()) == "changed"
    qloop.run_until_complete(until(lambda: duplicates.property("severity") == "error"))
    assert duplicates.text() == (f"lines {first['lineNumber']} and {second['lineNumber']} together overpay invoice "
                                 f"{first['appliesToInvoiceNumber']} by {amount} USD")
    assert window.findChild(QWidget, "paymentChecks").isVisible()  # type: ignore[union-attr]


def test_journal_lines_url_takes_only_a_guid_from_the_response() -> None:
    from viewer.checking import journal_lines_url, line_filters

    base = ("https://bc.example.com:7048/BC/api/v2.0/companies(11111111-1111-4111-8111-111111111111)/"
            "customerPayments(22222222-2222-4222-8222-222222222222)")
    journal = "33333333-3333-4333-8333-333333333333"
    assert journal_lines_url(base, {"journalId": journal}) == (
        "https://bc.example.com:7048/BC/api/v2.0/companies(11111111-1111-4111-8111-111111111111)/"
        f"customerPaymentJournals({journal})/customerPayments")
    assert journal_lines_url(base, {"journalId": "x)/../../secret?a=("}) is None
    assert journal_lines_url(base, {}) is None  # a direct URL and no journalId (v1.0/beta): not known
    assert line_filters({"appliesToInvoiceId": "{" + journal.upper() + "}", "externalDocumentNumber": "O'Brien 1"}) == [
        f"appliesToInvoiceId eq {journal}", "externalDocumentNumber eq 'O''Brien 1'"]
