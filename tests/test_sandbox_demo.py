"""The activity mode as a newcomer meets it: the payment they open changes within a tick or two.

``main.py --sandbox`` opens the first journal of the first company (ui/controller.py
``_restore_navigation``) with Watch on every 10 s and an activity tick every 5 s; README promises a change
within 15 s of opening any payment of that journal.
"""

from __future__ import annotations

import itertools

import httpx

from viewer.sandbox import Sandbox
from viewer.sandbox.data import RECENT_READ_SECONDS, DataStore


def test_first_journal_is_the_first_one_the_api_lists(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.identity is not None and sandbox.info is not None
    headers = {"Authorization": f"Bearer {sandbox.identity.issue_access_token()}"}
    root = f"{sandbox.info.api_root}/v2.0"
    companies = http.get(f"{root}/companies", headers=headers).json()["value"]
    journals = http.get(f"{root}/companies({companies[0]['id']})/customerPaymentJournals", headers=headers)
    first = sandbox.store().first_journal()
    assert first is not None and journals.json()["value"][0]["id"] == first["id"]
    assert first["code"] == "BANK"


def test_every_payment_of_the_first_journal_changes_on_the_next_tick_after_it_is_read() -> None:
    store = DataStore(seed=1)
    journal = store.first_journal()
    assert journal is not None
    now = 1000.0
    for payment in store.journal_payments(str(journal["id"])):
        before = store.payment(str(payment["id"]))
        assert before is not None
        store.note_read(str(payment["id"]), now=now)
        assert store.activity_tick(now=now + 5) == payment["id"]  # the first tick after opening it
        after = store.payment(str(payment["id"]))
        assert after is not None and after["_etag"] != before["_etag"]
        now += 10


def test_a_watched_payment_keeps_changing_every_few_ticks() -> None:
    store = DataStore(seed=3)
    journal = store.first_journal()
    assert journal is not None
    watched = str(store.journal_payments(str(journal["id"]))[3]["id"])
    now = 0.0
    hits: list[int] = []
    for tick in range(40):
        if tick % 2 == 0:
            store.note_read(watched, now=now)  # Watch re-reads it every 10 s, ticks come every 5 s
        if store.activity_tick(now=now) == watched:
            hits.append(tick)
        now += 5
    assert hits[0] == 0
    gaps = [b - a for a, b in itertools.pairwise(hits)]
    assert len(hits) >= 10 and max(gaps) <= 8, hits


def test_without_readers_the_first_journal_gets_the_edits() -> None:
    store = DataStore(seed=1)
    journal = store.first_journal()
    assert journal is not None
    ids = {str(p["id"]) for p in store.journal_payments(str(journal["id"]))}
    changed = [store.activity_tick(now=float(i)) for i in range(20)]
    assert set(changed) <= ids and len(set(changed)) > 5


def test_old_reads_stop_attracting_edits() -> None:
    store = DataStore(seed=1)
    journal = store.first_journal()
    assert journal is not None
    other = str(store.journal_payments(store.demo.journal_id)[0]["id"])  # in GENERAL, not the first journal
    store.note_read(other, now=0.0)
    assert store.activity_tick(now=1.0) == other
    later = RECENT_READ_SECONDS + 10
    ids = {str(p["id"]) for p in store.journal_payments(str(journal["id"]))}
    assert all(store.activity_tick(now=later + i) in ids for i in range(20))


def test_the_api_notes_single_payment_reads(sandbox: Sandbox, http: httpx.Client) -> None:
    assert sandbox.identity is not None and sandbox.info is not None
    store = sandbox.store()
    journal = store.first_journal()
    assert journal is not None
    payment = store.journal_payments(str(journal["id"]))[-1]
    company = payment["_company"]
    url = (f"{sandbox.info.api_root}/v2.0/companies({company})/customerPaymentJournals({journal['id']})"
           f"/customerPayments({payment['id']})")
    response = http.get(url, headers={"Authorization": f"Bearer {sandbox.identity.issue_access_token()}"})
    assert response.status_code == 200
    assert store.activity_tick() == payment["id"]
    # The control API's tick is the same tick.
    second = store.journal_payments(str(journal["id"]))[0]
    direct = f"{sandbox.info.api_root}/v1.0/companies({company})/customerPayments({second['id']})"
    assert http.get(direct, headers={"Authorization": f"Bearer {sandbox.identity.issue_access_token()}"}
                    ).status_code == 200
    assert http.post(f"{sandbox.info.control_url}/activity").json() == {"changed": second["id"]}
