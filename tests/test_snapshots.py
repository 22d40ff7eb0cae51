"""Snapshots, field-level diff and the on-disk history store (viewer/snapshots.py). Fast: tmp_path, no network."""

from __future__ import annotations

import json
import sqlite3
import stat
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viewer import snapshots
from viewer.snapshots import (
    ETAG,
    MIGRATIONS,
    SCHEMA_VERSION,
    Change,
    ChangeSet,
    Snapshot,
    SnapshotKey,
    SnapshotStore,
    diff,
)

CID = "11111111-2222-3333-4444-555555555555"
JID = "66666666-7777-8888-9999-aaaaaaaaaaaa"
PID = "bbbbbbbb-cccc-dddd-eeee-ffffffffffff"
TENANT = "0f0f0f0f-1111-2222-3333-444444444444"
HOST = "https://api.businesscentral.dynamics.com"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

KEY = SnapshotKey("api.businesscentral.dynamics.com", "", "production", CID, PID)
OTHER = SnapshotKey("api.businesscentral.dynamics.com", "", "production", CID, JID)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


def snap(key: SnapshotKey = KEY, minutes: int = 0, etag: str | None = 'W/"1"', **values: Any) -> Snapshot:
    return Snapshot(key, T0 + timedelta(minutes=minutes), etag, {"id": key.payment_id, **values})


# ---- keys --------------------------------------------------------------------------------------------------------


def test_key_from_cloud_url() -> None:
    url = f"{HOST}/v2.0/{TENANT.upper()}/Sandbox/api/v2.0/companies({CID})/customerPayments({PID.upper()})"
    assert SnapshotKey.from_url(url) == SnapshotKey("api.businesscentral.dynamics.com", TENANT, "Sandbox", CID, PID)


def test_key_is_the_same_with_and_without_journal_and_default_port() -> None:
    direct = SnapshotKey.from_url(f"{HOST}/v2.0/production/api/v2.0/companies({CID})/customerPayments({PID})")
    nested = SnapshotKey.from_url(
        f"{HOST}:443/v2.0/production/api/v2.0/companies({CID})/customerPaymentJournals({JID})/customerPayments({PID})"
    )
    assert direct == nested == KEY


def test_key_from_onprem_url() -> None:
    url = f"https://NAV.contoso.com:7048/BC/api/v2.0/companies({CID})/customerPayments({PID})?tenant=default"
    assert SnapshotKey.from_url(url) == SnapshotKey("nav.contoso.com", "BC?tenant=default", "", CID, PID)
    loop = SnapshotKey.from_url(f"https://127.0.0.1:4443/BC/api/v2.0/companies({CID})/customerPayments({PID})")
    assert loop == SnapshotKey("127.0.0.1", "BC", "", CID, PID)


@pytest.mark.parametrize(
    "base",
    ["https://127.0.0.1:36445", "https://127.0.0.1:41873", "https://127.0.0.1", "https://[::1]:8443"],
)
def test_key_ignores_the_port(base: str) -> None:
    # The sandbox binds a new port at every start: the same tenant, environment, company and payment is the same
    # payment whatever port this run reached it on (issue 13).
    key = SnapshotKey.from_url(f"{base}/v2.0/{TENANT}/production/api/v2.0/companies({CID})/customerPayments({PID})")
    host = "[::1]" if "[" in base else "127.0.0.1"
    assert key == SnapshotKey(host, TENANT, "production", CID, PID)


def test_key_from_legacy_url() -> None:
    url = f"https://api.financials.dynamics.com/v1.0/cronus.com/api/beta/companies({CID})/customerPayments({PID})"
    assert SnapshotKey.from_url(url) == SnapshotKey("api.businesscentral.dynamics.com", "cronus.com", "production",
                                                    CID, PID)


@pytest.mark.parametrize(
    "url",
    [
        f"{HOST}/v2.0/production/api/v2.0/companies({CID})",
        f"{HOST}/v2.0/production/api/v2.0/customerPayments({PID})?company=CRONUS",
        "not a url",
        "",
    ],
)
def test_key_needs_company_and_payment_ids(url: str) -> None:
    assert SnapshotKey.from_url(url) is None


# ---- diff --------------------------------------------------------------------------------------------------------


def test_equal_records_give_empty_changeset() -> None:
    record = {"id": PID, "amount": 1500, "description": "x"}
    result = diff(record, dict(record))
    assert not result and result.changes == () and not result.etag_changed


@pytest.mark.parametrize(("old", "new"), [(1500, 1500.0), (1500, "1500.00"), ("-0.10", -0.1), ("1E+3", 1000)])
def test_numbers_compare_numerically(old: Any, new: Any) -> None:
    assert not diff({"amount": old}, {"amount": new})
    assert not diff({"lineNumber": old}, {"lineNumber": new})


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "a", "A", "1", "0001-01-01", "_x0020_"])
    | st.sampled_from([Decimal("1"), Decimal("1.0"), Decimal("1.00"), Decimal("-0")]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["id", "code", "x"]), inner,
                                                                  max_size=3),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(old=_JSON, new=_JSON, name=st.sampled_from(["amount", "lineNumber", "postingDate", "customerId",
                                                    "lastModifiedDateTime", "description", "dimensions", "x"]))
def test_the_shortcut_for_identical_values_agrees_with_the_rules(old: Any, new: Any, name: str) -> None:
    # diff says "same" at once for values identical in type and content (most fields of a refresh), and skips the
    # stripping for values known to hold no annotations: it must say what the full rules say, field by field.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(snapshots.jsondata, "same_json", lambda a, b: False)
        slow = diff({name: old}, {name: new})
    assert diff({name: old}, {name: new}) == slow == diff({name: old}, {name: new}, stripped=True)
    assert not diff({name: old}, {name: old})


def test_one_and_true_are_a_change_at_any_depth() -> None:
    assert diff({"x": 1}, {"x": True})
    assert diff({"dimensions": [{"code": "A", "x": 1}]}, {"dimensions": [{"code": "A", "x": True}]})
    assert not diff({"dimensions": [{"code": "A", "x": 1}]}, {"dimensions": [{"x": 1, "code": "A"}]})


def test_numbers_never_compared_as_floats() -> None:
    # 0.1 + 0.2 is 0.30000000000000004: compared by its exact digits, not hidden (or invented) by float rounding.
    assert diff({"amount": 0.1 + 0.2}, {"amount": "0.3"})
    assert not diff({"amount": 0.3}, {"amount": "0.30"})


def test_number_change_is_reported_with_kind() -> None:
    result = diff({"amount": 1500}, {"amount": "1500.01"})
    assert result.get("amount") == Change("amount", 1500, "1500.01", "decimal")
    assert diff({"lineNumber": 10000}, {"lineNumber": 20000}).get("lineNumber") == Change(
        "lineNumber", 10000, 20000, "int"
    )
    # A boolean is never a number, even though True == 1 in Python.
    assert diff({"amount": 1}, {"amount": True})


@pytest.mark.parametrize(
    "other",
    ["2026-11-25T10:00:00.000Z", "2026-11-25T11:00:00+01:00", "2026-11-25T10:00:00.0000000Z", "2026-11-25T10:00:00"],
)
def test_datetimes_normalised_to_utc(other: str) -> None:
    assert not diff({"lastModifiedDateTime": "2026-11-25T10:00:00Z"}, {"lastModifiedDateTime": other})


def test_datetime_change() -> None:
    result = diff({"lastModifiedDateTime": "2026-11-25T10:00:00Z"}, {"lastModifiedDateTime": "2026-11-25T10:00:01Z"})
    assert result.names() == {"lastModifiedDateTime"}
    assert result.get("lastModifiedDateTime") is not None
    assert result.changes[0].kind == "datetime"


def test_guids_case_and_braces() -> None:
    assert not diff({"customerId": CID}, {"customerId": "{" + CID.upper() + "}"})
    assert diff({"customerId": CID}, {"customerId": JID}).names() == {"customerId"}


def test_blanks() -> None:
    # Text: null, "" and BC's sentinels all show as empty.
    assert not diff({"description": None}, {"description": ""})
    assert not diff({"description": ""}, {})
    # Two spellings of a blank date-time / GUID are one blank.
    blank_dt = ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z")
    assert not diff({"lastModifiedDateTime": blank_dt[0]}, {"lastModifiedDateTime": blank_dt[1]})
    assert not diff({"appliesToInvoiceId": "00000000-0000-0000-0000-000000000000"}, {"appliesToInvoiceId": ""})
    assert not diff({"postingDate": "0001-01-01"}, {"postingDate": "0001-01-01"})
    # For typed fields null (nothing sent) is not the same as a blank value, and 0 is a real amount.
    assert diff({"postingDate": None}, {"postingDate": "0001-01-01"})
    assert diff({"amount": None}, {"amount": 0})
    assert diff({"postingDate": "0001-01-01"}, {"postingDate": "2026-11-25"})


def test_key_order_irrelevant() -> None:
    old = {"id": PID, "amount": 1, "description": "a", "dimensions": {"x": 1, "y": [1, 2]}}
    new = {"dimensions": {"y": [1, 2], "x": 1}, "description": "a", "amount": 1, "id": PID}
    assert not diff(old, new)


def test_reordered_arrays_of_objects_are_no_change() -> None:
    lines = [{"id": "a", "value": 1}, {"id": "b", "value": 2}, {"code": "c", "value": 3}]
    assert not diff({"dimensions": lines}, {"dimensions": list(reversed(lines))})
    # Duplicates count: a multiset, not a set.
    assert diff({"dimensions": [lines[0], lines[0]]}, {"dimensions": [lines[0]]})
    # A real change inside a moved element is still a change.
    moved = [{"id": "b", "value": 2}, {"id": "a", "value": 9}, {"code": "c", "value": 3}]
    assert diff({"dimensions": lines}, {"dimensions": moved}).names() == {"dimensions"}
    # Plain arrays keep their order: [1, 2] → [2, 1] is a change.
    assert diff({"tags": [1, 2]}, {"tags": [2, 1]})
    # Nested keyed arrays are bags too.
    nested_old = {"x": [{"id": 1, "sub": [{"code": "a"}, {"code": "b"}]}]}
    nested_new = {"x": [{"sub": [{"code": "b"}, {"code": "a"}], "id": 1}]}
    assert not diff({"dimensions": nested_old}, {"dimensions": nested_new})


def test_added_and_removed_fields() -> None:
    result = diff({"id": PID, "oldField": "a"}, {"id": PID, "newField": 5})
    assert result.get("newField") == Change("newField", None, 5, "text")
    assert result.get("oldField") == Change("oldField", "a", None, "text")
    assert result.names() == {"newField", "oldField"}


def test_odata_annotations_ignored() -> None:
    old = {"@odata.context": "a", "@odata.etag": 'W/"1"', "amount@odata.type": "#Decimal", "amount": 1}
    new = {"@odata.context": "b", "@odata.etag": 'W/"2"', "amount": 1}
    assert not diff(old, new)
    assert diff(old, new).changes == ()


def test_etag_only_change_is_falsy() -> None:
    result = diff({"amount": 1}, {"amount": 1}, old_etag='W/"1"', new_etag='W/"2"')
    assert not result
    assert result.etag_changed
    assert result.names() == set()
    assert result.get(ETAG) == Change(ETAG, 'W/"1"', 'W/"2"', "text")
    # An unknown ETag on one side says nothing.
    assert not diff({}, {}, old_etag=None, new_etag='W/"2"').etag_changed
    assert not diff({}, {}, old_etag='W/"2"', new_etag='W/"2"').etag_changed


def test_changes_in_schema_order_then_unknown_in_new_order() -> None:
    old = {"zeta": 1, "amount": 1, "alpha": 1, "id": PID, "gone": 1}
    new = {"alpha": 2, "amount": 2, "zeta": 2, "id": JID, "customerId": CID}
    names = [change.name for change in diff(old, new).changes]
    assert names == ["id", "customerId", "amount", "alpha", "zeta", "gone"]


def test_since_is_kept() -> None:
    assert diff({}, {}, since=T0).since == T0


def test_as_text() -> None:
    result = diff(
        {"amount": 1500, "description": "", "customerId": CID, "extra": [1]},
        {"amount": "1600.00", "description": "Rent ✓", "extra": [1, 2]},
        old_etag='W/"1"',
        new_etag='W/"2"',
    )
    assert result.as_text({"amount": "Amount", "description": "Description"}) == "\n".join(
        [
            f"customerId: {CID} → (none)",
            "Amount: 1500 → 1600.00",
            "Description: (empty) → Rent ✓",
            "extra: [1] → [1, 2]",
            'ETag: W/"1" → W/"2"',
        ]
    )
    assert ChangeSet().as_text() == ""


def test_diff_unknown_entity_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        diff({}, {}, entity="nope")


def test_snapshot_from_record_drops_annotations() -> None:
    record = {"@odata.context": "ctx", "@odata.etag": 'W/"7"', "amount": 1, "amount@odata.type": "#Decimal"}
    made = Snapshot.from_record(KEY, record, fetched_at=T0)
    assert made.values == {"amount": 1}
    assert made.etag == 'W/"7"'
    assert made.fetched_at == T0


# ---- store -------------------------------------------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


def rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT id, payment_id, values_json FROM snapshots ORDER BY id").fetchall()


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_default_path_honours_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BCPV_DATA_DIR", str(tmp_path / "d"))
    assert snapshots.default_path() == tmp_path / "d" / "history.sqlite3"


def test_add_latest_history_get(db: Path) -> None:
    store = SnapshotStore(db)
    assert store.persistent and store.notice is None
    assert store.latest(KEY) is None and store.history(KEY) == []
    first = store.add(snap(minutes=0, amount=1, description="Ünïcode"))
    second = store.add(snap(minutes=5, etag='W/"2"', amount=2))
    other = store.add(snap(OTHER, minutes=1, amount=3))
    assert first.id is not None and second.id is not None and other.id is not None
    assert store.latest(KEY) == second
    assert [s.id for s in store.history(KEY)] == [second.id, first.id]
    assert [s.id for s in store.history(KEY, limit=1)] == [second.id]
    assert store.get(first.id) == first
    assert store.get(10_000) is None
    assert first.values == {"id": PID, "amount": 1, "description": "Ünïcode"}
    assert first.fetched_at.tzinfo is not None
    store.close()
    # Survives a restart; values are JSON text, non-ASCII kept as is.
    again = SnapshotStore(db)
    assert again.latest(KEY) == second
    assert again.get(first.id) == first
    assert "Ünïcode" in rows(db)[0][2]
    again.close()


def test_decimals_are_stored_and_read_back_exactly(db: Path) -> None:
    amount = Decimal("9999999999999999.99")
    with SnapshotStore(db) as store:
        first = store.add(snap(amount=amount, lines=[{"id": "a", "amount": Decimal("0.10")}]))
    assert '"amount": 9999999999999999.99' in rows(db)[0][2]  # a JSON number with the server's digits
    with SnapshotStore(db) as store:
        again = store.latest(KEY)
    assert again is not None and again.values["amount"] == amount and isinstance(again.values["amount"], Decimal)
    assert str(again.values["lines"][0]["amount"]) == "0.10"
    assert not diff(first.values, again.values)
    changed = diff({"amount": amount}, {"amount": amount + Decimal("0.01")})
    assert changed.as_text() == "amount: 9999999999999999.99 → 10000000000000000.00"


@pytest.mark.parametrize("column, bad", [("values_json", "{not json"), ("values_json", "[1, 2]"),
                                         ("values_json", "[" * 5000 + "]" * 5000), ("values_json", "NaN"),
                                         ("fetched_at", "yesterday-ish"), ("fetched_at", None)])
def test_a_bad_row_is_skipped_logged_kept_and_told_once(db: Path, column: str, bad: object,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    with SnapshotStore(db) as store:
        good = store.add(snap(minutes=0, amount=1))
        broken = store.add(snap(minutes=5, amount=2))
    assert broken.id is not None
    with sqlite3.connect(db) as conn:
        if bad is None:  # NOT NULL on the column: a hand-edited file may still hold anything; use a blob instead
            bad = b"\xff\xfe"
        conn.execute(f"UPDATE snapshots SET {column} = ? WHERE id = ?", (bad, broken.id))
    with SnapshotStore(db) as store:
        assert store.latest(KEY) == good  # the bad newest row is skipped, the good one still counts
        assert [s.id for s in store.history(KEY)] == [good.id]
        assert store.get(broken.id) is None
        assert store.before(KEY, T0 + timedelta(hours=1)) == good
        assert store.take_notice() is not None and store.take_notice() is None  # told once
        store.history(KEY)
        assert store.take_notice() is None
        # A new snapshot is still stored, and the bad row is kept in the file for inspection.
        newest = store.add(snap(minutes=10, amount=3))
        assert newest.id is not None and store.latest(KEY) == newest
    assert broken.id in [row[0] for row in rows(db)]
    assert sum(f"history entry {broken.id}" in r.getMessage() for r in caplog.records) == 1  # logged once


def test_add_strips_annotations(db: Path) -> None:
    with SnapshotStore(db) as store:
        stored = store.add(Snapshot(KEY, T0, None, {"@odata.etag": "x", "amount": 1}))
        assert stored.values == {"amount": 1}
    assert json.loads(rows(db)[0][2]) == {"amount": 1}


def test_the_index_says_which_payments_have_earlier_snapshots(db: Path) -> None:
    """A first visit to a payment the index knows has no history reads nothing (viewer/loading.py); the index never
    says "none" where before() would find one."""
    started = T0 + timedelta(minutes=30)
    with SnapshotStore(db) as store:
        store.add(snap(minutes=0, amount=1))
        store.add(snap(OTHER, minutes=40, amount=2))  # after the start: not "earlier"
        assert not store.indexed_for(started)
        assert store.may_have_before(KEY, started) and store.may_have_before(OTHER, started)  # not indexed yet
        store.index_earlier(started)
        assert store.indexed_for(started) and not store.indexed_for(T0)
        assert store.may_have_before(KEY, started) and store.before(KEY, started) is not None
        assert not store.may_have_before(OTHER, started) and store.before(OTHER, started) is None
        assert store.may_have_before(OTHER, T0)  # another moment: not indexed for it, so "maybe"
        store.forget(KEY)
        assert not store.may_have_before(KEY, started) and store.before(KEY, started) is None
        store.add(snap(minutes=1, amount=3))
        store.enabled = False  # what before() sees changed: the index is dropped
        assert not store.indexed_for(started) and store.may_have_before(KEY, started)
        store.enabled = True
        store.index_earlier(started)
        assert store.may_have_before(KEY, started)
        store.forget()
        assert not store.may_have_before(KEY, started) and store.indexed_for(started)


def test_before_is_strictly_before(db: Path) -> None:
    with SnapshotStore(db) as store:
        a = store.add(snap(minutes=0, amount=1))
        b = store.add(snap(minutes=10, amount=2))
        assert store.before(KEY, T0) is None
        assert store.before(KEY, T0 + timedelta(minutes=10)) == a
        assert store.before(KEY, T0 + timedelta(minutes=11)) == b
        # Any zone: the same instant expressed at +01:00.
        plus_one = datetime(2026, 11, 25, 11, 10, 1, tzinfo=timezone(timedelta(hours=1)))
        assert store.before(KEY, plus_one) == b
        assert store.before(OTHER, T0 + timedelta(days=1)) is None


def test_duplicate_is_not_stored(db: Path) -> None:
    with SnapshotStore(db) as store:
        first = store.add(snap(minutes=0, amount=1, description="a"))
        # Same values (other key order) and ETag, fetched later: the latest is returned, nothing new stored.
        same = {"description": "a", "amount": 1, "id": PID}
        again = store.add(Snapshot(KEY, T0 + timedelta(minutes=3), 'W/"1"', same))
        assert again == first
        assert len(store.history(KEY)) == 1
        assert first.id is not None
        assert store.last_seen(first.id) == T0 + timedelta(minutes=3)
        # A changed ETag alone is stored: the server says something was written.
        assert store.add(snap(minutes=4, etag='W/"2"', amount=1, description="a")).id != first.id
        assert len(store.history(KEY)) == 2


def test_forget_one_and_all(db: Path) -> None:
    with SnapshotStore(db) as store:
        store.add(snap(amount=1))
        store.add(snap(OTHER, amount=2))
        store.forget(KEY)
        assert store.latest(KEY) is None and store.latest(OTHER) is not None
        store.forget()
        assert store.latest(OTHER) is None
    assert rows(db) == []


def test_bound_per_payment(db: Path) -> None:
    with SnapshotStore(db, max_per_payment=3) as store:
        for i in range(6):
            store.add(snap(minutes=i, amount=i))
        store.add(snap(OTHER, amount=99))
        assert [s.values["amount"] for s in store.history(KEY)] == [5, 4, 3]
        assert store.latest(OTHER) is not None


def test_bound_total_bytes(db: Path) -> None:
    payload = "x" * 1000
    with SnapshotStore(db, max_total_bytes=3500) as store:
        for i in range(3):
            store.add(snap(OTHER, minutes=i, amount=i, description=payload))
        for i in range(3, 6):
            store.add(snap(KEY, minutes=i, amount=i, description=payload))
        remaining = [s.values["amount"] for s in store.history(KEY) + store.history(OTHER)]
        # Oldest first across keys, until the payload fits.
        assert remaining == [5, 4, 3]
        # A single snapshot bigger than the limit is still kept (it is the one just fetched).
        huge = store.add(snap(OTHER, minutes=10, description="y" * 5000))
        assert store.latest(OTHER) == huge
        assert store.latest(KEY) is None


@posix_only
def test_file_and_directory_modes(db: Path) -> None:
    with SnapshotStore(db) as store:
        store.add(snap(amount=1))
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


@posix_only
def test_existing_wide_file_is_tightened(db: Path) -> None:
    SnapshotStore(db).close()
    db.chmod(0o644)
    SnapshotStore(db).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_migrations_cover_every_version() -> None:
    assert sorted(MIGRATIONS) == list(range(SCHEMA_VERSION))
    assert SCHEMA_VERSION >= 2


def test_migration_from_version_1_keeps_rows(db: Path) -> None:
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.executescript(
            """
            CREATE TABLE snapshots (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                host TEXT NOT NULL, tenant TEXT NOT NULL, environment TEXT NOT NULL,
                company_id TEXT NOT NULL, payment_id TEXT NOT NULL, api_version TEXT NOT NULL,
                fetched_at TEXT NOT NULL, etag TEXT, values_json TEXT NOT NULL
            );
            PRAGMA user_version = 1;
            """
        )
        conn.execute(
            "INSERT INTO snapshots (host, tenant, environment, company_id, payment_id, api_version, fetched_at, etag,"
            " values_json) VALUES (?, ?, ?, ?, ?, 'v1.0', ?, 'W/\"9\"', ?)",
            (*KEY.__dict__.values(), T0.isoformat(timespec="microseconds"), json.dumps({"amount": 42})),
        )
    with SnapshotStore(db) as store:
        assert store.notice is None and store.persistent
        old = store.latest(KEY)
        assert old is not None
        assert (old.values, old.etag, old.api_version, old.fetched_at) == ({"amount": 42}, 'W/"9"', "v1.0", T0)
        assert old.id is not None and store.last_seen(old.id) == T0
        store.add(snap(minutes=1, amount=43))
        assert len(store.history(KEY)) == 2
    assert user_version(db) == SCHEMA_VERSION
    with sqlite3.connect(db) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(snapshots)")}
    assert "last_seen_at" in columns


def test_migration_to_version_3_drops_ports_and_joins_the_histories(db: Path) -> None:
    # Two sandbox runs on two ports wrote one payment's snapshots under two hosts; after the migration they are one
    # history under the port-less key, and a third run (on yet another port) finds it.
    SnapshotStore(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 2")
        for minutes, host in ((0, "127.0.0.1:36445"), (5, "127.0.0.1:41873"), (6, "[::1]:7048"),
                              (7, "nav.contoso.com:7048"), (8, "api.businesscentral.dynamics.com")):
            conn.execute(
                "INSERT INTO snapshots (host, tenant, environment, company_id, payment_id, api_version, fetched_at,"
                " etag, values_json, last_seen_at) VALUES (?, ?, 'production', ?, ?, 'v2.0', ?, NULL, ?, ?)",
                (host, TENANT, CID, PID, (T0 + timedelta(minutes=minutes)).isoformat(timespec="microseconds"),
                 json.dumps({"amount": minutes}), (T0 + timedelta(minutes=minutes)).isoformat(timespec="microseconds")),
            )
    run3 = SnapshotKey.from_url(
        f"https://127.0.0.1:50001/v2.0/{TENANT}/production/api/v2.0/companies({CID})/customerPayments({PID})"
    )
    assert run3 is not None
    with SnapshotStore(db) as store:
        assert store.persistent and store.notice is None
        def amounts(host: str) -> list[int]:
            return [s.values["amount"] for s in store.history(replace(run3, host=host))]

        assert [s.values["amount"] for s in store.history(run3)] == [5, 0]
        assert amounts("[::1]") == [6]
        assert amounts("nav.contoso.com") == [7]
        assert amounts("api.businesscentral.dynamics.com") == [8]
    assert user_version(db) == SCHEMA_VERSION


def test_failed_migration_rolls_back_and_keeps_the_file(db: Path) -> None:
    # A version-1 file that already has the column version 2 adds: the migration fails half-way.
    SnapshotStore(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 1")
    before = db.read_bytes()
    with SnapshotStore(db) as store:
        assert not store.persistent and store.notice
        assert store.add(snap(amount=1)).id is not None
    assert db.read_bytes() == before
    assert user_version(db) == 1


def test_corrupt_file_is_moved_aside(db: Path) -> None:
    db.parent.mkdir(parents=True)
    garbage = b"this is not a database, just some bytes " * 100
    db.write_bytes(garbage)
    with SnapshotStore(db) as store:
        assert store.persistent
        assert store.notice is not None and "damaged" in store.notice
        stored = store.add(snap(amount=1))
        assert store.latest(KEY) == stored
    aside = list(db.parent.glob("history.sqlite3.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == garbage
    assert user_version(db) == SCHEMA_VERSION


def test_newer_database_is_left_untouched(db: Path) -> None:
    SnapshotStore(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = db.read_bytes()
    with SnapshotStore(db) as store:
        assert not store.persistent
        assert store.notice is not None and "newer version" in store.notice
        assert store.add(snap(amount=1)).id is not None  # still works, in memory
        assert store.latest(KEY) is not None
    assert db.read_bytes() == before
    assert not list(db.parent.glob("*.corrupt-*"))


def test_locked_database_falls_back_to_memory(db: Path) -> None:
    SnapshotStore(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with SnapshotStore(db) as store:
            assert not store.persistent
            assert store.notice is not None and "in use" in store.notice
            store.add(snap(amount=1))
            assert store.latest(KEY) is not None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert rows(db) == []


def test_unusable_directory_falls_back_to_memory(tmp_path: Path) -> None:
    # A file where the directory should be fails for root too (chmod 0500 would not).
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with SnapshotStore(blocker / "history.sqlite3") as store:
        assert not store.persistent and store.notice
        store.add(snap(amount=1))
        assert store.latest(KEY) is not None


def test_memory_store(tmp_path: Path) -> None:
    with SnapshotStore() as store:
        assert not store.persistent and store.notice is None
        stored = store.add(snap(amount=1))
        assert stored.id is not None and store.get(stored.id) == stored


def test_disabled_store_writes_nothing(db: Path) -> None:
    store = SnapshotStore(db, enabled=False)
    first = snap(minutes=0, amount=1)
    assert store.add(first) == first and first.id is None
    assert not db.exists()
    # This run's latest still answers, for "since last refresh".
    assert store.latest(KEY) == first
    assert store.before(KEY, T0 + timedelta(minutes=1)) == first
    assert store.before(KEY, T0) is None
    assert store.history(KEY) == [first]
    store.forget(KEY)
    assert store.latest(KEY) is None
    store.close()
    assert not db.exists()


def test_forget_while_disabled_erases_the_file(db: Path) -> None:
    with SnapshotStore(db) as store:
        store.add(snap(amount=1))
    with SnapshotStore(db, enabled=False) as store:
        store.forget()
    assert rows(db) == []


def test_enabling_later_opens_the_file(db: Path) -> None:
    with SnapshotStore(db, enabled=False) as store:
        store.enabled = True
        assert store.persistent
        assert store.add(snap(amount=1)).id is not None
    assert len(rows(db)) == 1


def test_store_is_thread_safe(db: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with SnapshotStore(db, max_per_payment=500) as store, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: store.add(snap(minutes=i, amount=i)), range(100)))
        assert len(store.history(KEY, limit=500)) == 100
