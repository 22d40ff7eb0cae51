"""The sandbox's demo data store: deterministic, international, scalable, and safe to change from threads."""

from __future__ import annotations

import base64
import re
import threading

import pytest

from viewer.sandbox.data import BLANK_DATE, ZERO_GUID, DataError, DataStore, public


def fingerprint(store: DataStore) -> list[list[dict[str, object]]]:
    return [[public(p) | {"etag": p["_etag"]} for p in store.company_payments(c["id"])] for c in store.companies()]


def test_same_seed_same_data_and_reset_restores_it() -> None:
    a, b = DataStore(seed=3), DataStore(seed=3)
    assert a.demo == b.demo and fingerprint(a) == fingerprint(b)
    assert DataStore(seed=4).demo.payment_id != a.demo.payment_id
    a.patch_payment(a.demo.payment_id, {"amount": 1})
    a.post_journal(a.demo.company_id, a.demo.second_journal_id)
    a.activity_tick()
    assert fingerprint(a) != fingerprint(b)
    a.reset()
    assert a.demo == b.demo and fingerprint(a) == fingerprint(b)


def test_default_size_and_shape() -> None:
    store = DataStore(seed=1)
    assert 200 <= store.payment_count() <= 400
    companies = store.companies()
    assert [c["name"] for c in companies][:3] == ["CRONUS USA, Inc.", "CRONUS Deutschland GmbH", "CRONUS 日本"]
    small = store.company(store.demo.small_company_id)
    assert small is not None and len(store.company_payments(small["id"])) <= 5
    assert store.journal_payments(store.demo.empty_journal_id) == []
    # Most journals hold several payments; line numbers step by 10000 in order.
    for company in companies[:3]:
        for journal in store.journals(company["id"]):
            lines = store.journal_payments(journal["id"])
            assert len(lines) >= 3
            assert [p["lineNumber"] for p in lines] == [10000 * (i + 1) for i in range(len(lines))]
            assert all(p["journalDisplayName"] == journal["code"] for p in lines)


def test_international_names_and_edge_values() -> None:
    store = DataStore(seed=1)
    d = store.demo
    names = {c["displayName"] for c in store.customers(d.company_id)}
    for name in ("Müller & Söhne GmbH", "Société Générale Café", "株式会社山田商事", "شركة الأفق", "חברת אופק",
                 "O'Brien Ltd."):
        assert name in names
    assert any(len(n) == 100 for n in names)
    payments = store.company_payments(d.company_id)
    # Business Central's sign: payments are negative (viewer/checks.py); a few positive corrections are the odd ones.
    assert any(p["amount"] > 0 for p in payments) and any(p["amount"] <= -1_000_000 for p in payments)
    assert sum(p["amount"] < 0 for p in payments) > 10 * sum(p["amount"] > 0 for p in payments)
    blank = store.payment(d.blank_payment_id)
    assert blank is not None
    assert (blank["customerId"], blank["postingDate"], blank["appliesToInvoiceId"], blank["description"]) == (
        ZERO_GUID, BLANK_DATE, ZERO_GUID, "")
    long_text = store.payment(d.long_text_payment_id)
    assert long_text is not None and len(long_text["description"]) == 100 and len(long_text["comment"]) == 250
    first = store.payment(d.payment_id)
    assert first is not None and first["customerId"] == d.customer_id and first["appliesToInvoiceId"] == d.invoice_id
    assert re.fullmatch(r"[A-Z]+\d{5}", first["documentNumber"])
    invoices = store.invoices(d.company_id)
    assert {"Open", "Paid"} <= {i["status"] for i in invoices}


def test_etags_are_weak_opaque_and_change_with_the_record() -> None:
    store = DataStore(seed=1)
    d = store.demo
    before = store.payment(d.payment_id)
    assert before is not None
    match = re.fullmatch(r'W/"([A-Za-z0-9+/=]+)"', before["_etag"])
    assert match and re.fullmatch(r"'\d+;\d+;00;'", base64.b64decode(match.group(1)).decode())
    after = store.patch_payment(d.payment_id, {"description": "Changed"}, if_match=before["_etag"])
    assert after["_etag"] != before["_etag"]
    assert after["lastModifiedDateTime"] > before["lastModifiedDateTime"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", after["lastModifiedDateTime"])
    assert before["description"] != "Changed"  # records are replaced, never changed in place
    with pytest.raises(DataError) as stale:
        store.patch_payment(d.payment_id, {"description": "Again"}, if_match=before["_etag"])
    assert (stale.value.status, stale.value.code) == (409, "Request_EntityChanged")


def test_activity_tick_edits_one_payment() -> None:
    store = DataStore(seed=1)
    before = {p["id"]: p for p in store.company_payments(store.demo.company_id)}
    for _ in range(20):
        changed = store.activity_tick()
        assert changed is not None
        now = store.payment(changed)
        assert now is not None and now["_etag"] != before[changed]["_etag"]
        differing = {k for k in ("amount", "description", "comment", "externalDocumentNumber")
                     if now[k] != before[changed][k]}
        assert differing <= {"amount", "description", "comment", "externalDocumentNumber"}
        before[changed] = now


def test_twenty_thousand_payments_in_one_journal() -> None:
    store = DataStore(seed=1, payments=20000)
    assert store.payment_count() == 20000
    lines = store.journal_payments(store.demo.journal_id)
    assert len(lines) > 19_000
    assert len({p["documentNumber"] for p in lines}) == len(lines)
    assert lines[-1]["lineNumber"] == 10000 * len(lines)


def test_small_sizes() -> None:
    assert DataStore(seed=2, payments=40).payment_count() == 40
    empty = DataStore(seed=2, payments=0)
    assert empty.payment_count() == 0 and empty.demo.payment_id == ZERO_GUID


def test_writes_and_reads_from_threads() -> None:
    store = DataStore(seed=1, payments=2000)
    stop = threading.Event()
    failures: list[BaseException] = []

    def churn() -> None:
        try:
            while not stop.wait(0.0005):
                store.activity_tick()
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(30):
            lines = store.journal_payments(store.demo.journal_id)
            assert [p["lineNumber"] for p in lines] == sorted(p["lineNumber"] for p in lines)
            assert all(store.payment(p["id"]) is not None for p in lines[:50])
    finally:
        stop.set()
        thread.join()
    assert not failures


def test_create_delete_and_post() -> None:
    store = DataStore(seed=1)
    d = store.demo
    created = store.create_payment(d.company_id, d.journal_id, {"customerNumber": "10000", "amount": 10})
    assert created["lineNumber"] == store.journal_payments(d.journal_id)[-2]["lineNumber"] + 10000
    assert created["customerId"] != ZERO_GUID
    store.delete_payment(created["id"], if_match=created["_etag"])
    assert store.payment(created["id"]) is None
    count = len(store.journal_payments(d.journal_id))
    assert store.post_journal(d.company_id, d.journal_id) == count
    assert store.journal_payments(d.journal_id) == [] and store.payment(d.payment_id) is None
    with pytest.raises(DataError) as missing:
        store.patch_payment(d.payment_id, {"amount": 1})
    assert missing.value.status == 404


def test_activity_changes_only_the_text_of_the_payment_checks_seeded_cases() -> None:
    store = DataStore(seed=1)
    case = store.check_cases["two lines overpay one invoice (1)"]
    before = store.payment(case)
    assert before is not None
    store.note_read(case, now=100.0)  # opened in the app: the next tick edits it
    assert store.activity_tick(now=101.0) == case
    after = store.payment(case)
    assert after is not None and after["_etag"] != before["_etag"]
    differing = {k for k in public(after) if after[k] != before[k]}
    assert "description" in differing  # an edit that shows …
    assert differing <= {"description", "lastModifiedDateTime"}  # … while amount, invoice, external document no. stay


def test_payment_checks_cases_have_the_document_numbers_the_readme_names() -> None:
    store = DataStore(seed=1)
    numbers = {case: store.payment(pid)["documentNumber"] for case, pid in store.check_cases.items()}  # type: ignore[index]
    assert numbers["settles exactly"] == "G02007" and numbers["partial payment"] == "G02008"
    assert (numbers["two lines overpay one invoice (1)"], numbers["two lines overpay one invoice (2)"]) == (
        "G02021", "G02022")
    assert numbers["no document number"] == "" and numbers["partial in EUR"] == "G02028"
    general = store.journal_payments(store.demo.journal_id)
    assert all(p["journalId"] == store.demo.journal_id for p in (store.payment(i) for i in store.check_cases.values())
               if p is not None)
    assert len(general) >= 28
    # Small journals are left alone rather than half seeded.
    assert DataStore(seed=2, payments=40).check_cases == {}
