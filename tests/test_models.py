"""The Qt models against the real sandbox over loopback https, with the real ``BcClient``.

Every model runs under ``QAbstractItemModelTester`` (Fatal) attached before any data arrives; the
scenarios are run with ``qloop.run_until_complete`` and polled with ``until`` (never qtbot waits).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QLocale, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester

from tests.conftest import until
from viewer import jsondata
from viewer.auth import BasicCredentials
from viewer.client import BcClient, RetryPolicy
from viewer.connection import Connection
from viewer.errors import ApiError, NotFound
from viewer.loading import PaymentService
from viewer.models.lists import ItemRole as ListItemRole
from viewer.models.lists import KeyRole, RecordListModel
from viewer.models.paged import Column, ItemRole, PagedTableModel
from viewer.models.payment import CHANGE_ROLES, ChangedRole, JsonNameRole, LoadState, PaymentModel, PaymentRecord
from viewer.navigation import PAYMENT_COLUMNS, Navigation
from viewer.profiles import OnPremProfile
from viewer.sandbox import Sandbox
from viewer.tasks import TaskSlot

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_total=5)
FATAL = QAbstractItemModelTester.FailureReportingMode.Fatal
ID_COLUMNS = [Column("id", "Id"), *PAYMENT_COLUMNS]

Index = QModelIndex | QPersistentModelIndex


# ---- helpers -----------------------------------------------------------------------------------------


def _client(box: Sandbox) -> BcClient:
    assert box.info is not None
    creds = BasicCredentials(box.info.basic["user"], box.info.basic["password"])
    return BcClient(creds, verify=box.ssl_context(), retry=FAST, timeout=10)


def _root(box: Sandbox) -> str:
    assert box.info is not None
    return f"{box.info.onprem_root}/v2.0"


def _payments_url(box: Sandbox, company_id: str, journal_id: str) -> str:
    return f"{_root(box)}/companies({company_id})/customerPaymentJournals({journal_id})/customerPayments"


def _payment_url(box: Sandbox, payment_id: str) -> str:
    return f"{_root(box)}/{box.store().payment_path(payment_id)}"


def _ids(model: PagedTableModel) -> list[str]:
    return [str(record["id"]) for row in range(model.rowCount()) if (record := model.record(row)) is not None]


def _tester(model: Any) -> QAbstractItemModelTester:
    return QAbstractItemModelTester(model, FATAL)


@pytest.fixture
def client(sandbox: Sandbox, qloop: qasync.QEventLoop) -> Iterator[BcClient]:
    c = _client(sandbox)
    yield c
    qloop.run_until_complete(c.aclose())


@pytest.fixture
def nav(sandbox: Sandbox, client: BcClient) -> Iterator[Navigation]:
    assert sandbox.info is not None
    profile = OnPremProfile(name="sandbox-onprem", base_url=sandbox.info.onprem_root.removesuffix("/api"),
                            user=sandbox.info.basic["user"])
    connection = Connection(profile, client.credentials, client, sandbox.info.onprem_root, None)
    navigation = Navigation(formatter=lambda field, value: "" if value is None else str(value), page_size=50)
    navigation.set_connection(connection)
    yield navigation
    navigation.set_connection(None)


# ---- PagedTableModel -----------------------------------------------------------------------------------


def test_paged_model_under_tester_load_fetch_sort_clear(
    sandbox: Sandbox, client: BcClient, qloop: qasync.QEventLoop
) -> None:
    demo = sandbox.store().demo
    expected = {p["id"] for p in sandbox.store().journal_payments(demo.journal_id)}
    assert len(expected) > 10
    model = PagedTableModel(client, ID_COLUMNS, page_size=7)
    tester = _tester(model)
    url = _payments_url(sandbox, demo.company_id, demo.journal_id)

    async def fetch_all() -> None:
        async def step() -> bool:
            await model.wait()
            model.fetchMore()  # a no-op while a page is on its way (the tester may have asked already)
            await asyncio.sleep(0.005)
            return model.rowCount() >= len(expected) and not model.loading

        deadline = time.monotonic() + 5
        while not await step():
            assert time.monotonic() < deadline, model.rowCount()
        await asyncio.sleep(0.05)  # nothing late, nothing twice
        assert not model.canFetchMore() and not model.loading

    async def scenario() -> None:
        model.load(url)
        await fetch_all()
        ids = _ids(model)
        assert len(ids) == len(expected) and set(ids) == expected
        assert not model.canFetchMore() and not model.loading and model.last_error is None

        amount = next(i for i, c in enumerate(ID_COLUMNS) if c.field == "amount")
        model.sort(amount, Qt.SortOrder.DescendingOrder)
        assert model.params["$orderby"] == "amount desc" and model.rowCount() == 0
        await fetch_all()
        amounts = [float(model.index(r, amount).data(Qt.ItemDataRole.UserRole + 1)) for r in range(model.rowCount())]
        assert amounts == sorted(amounts, reverse=True) and len(amounts) == len(expected)

        model.sort(amount, Qt.SortOrder.AscendingOrder)
        model.clear()  # cancels the sorted reload
        assert model.rowCount() == 0 and not model.loading and not model.canFetchMore()
        await asyncio.sleep(0.1)
        assert model.rowCount() == 0, "a cancelled load must not add rows"

    qloop.run_until_complete(scenario())
    assert model.headerData(0, Qt.Orientation.Horizontal) == "Id"
    del tester


def test_paged_model_pages_lazily(sandbox: Sandbox, client: BcClient, qloop: qasync.QEventLoop) -> None:
    demo = sandbox.store().demo
    expected = [p["id"] for p in sandbox.store().journal_payments(demo.journal_id)]
    page_size = 5
    assert len(expected) > 2 * page_size
    model = PagedTableModel(client, ID_COLUMNS, page_size=page_size)
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))

    async def scenario() -> None:
        assert not model.canFetchMore()
        await model.load(_payments_url(sandbox, demo.company_id, demo.journal_id))
        assert model.rowCount() == page_size
        assert model.canFetchMore()
        loading: list[bool] = []
        model.loadingChanged.connect(loading.append)
        model.fetchMore()
        model.fetchMore()  # a second call before the page arrives must not add the same page twice
        await model.wait()
        await asyncio.sleep(0.05)
        assert loading == [True, False]
        assert model.rowCount() == 2 * page_size
        assert inserted == [(0, page_size - 1), (page_size, 2 * page_size - 1)]
        while model.canFetchMore():
            model.fetchMore()
            await model.wait()
        assert not model.canFetchMore()
        assert _ids(model) == expected

    qloop.run_until_complete(scenario())


def test_paged_model_fetch_more_from_rows_inserted_adds_each_page_once(
    sandbox: Sandbox, client: BcClient, qloop: qasync.QEventLoop
) -> None:
    """A listener that asks for more as soon as rows arrive (as the model tester does) must not get a page twice."""
    demo = sandbox.store().demo
    expected = [p["id"] for p in sandbox.store().journal_payments(demo.journal_id)]
    model = PagedTableModel(client, ID_COLUMNS, page_size=10)
    model.rowsInserted.connect(lambda *_: model.fetchMore())

    async def scenario() -> None:
        first = model.load(_payments_url(sandbox, demo.company_id, demo.journal_id))
        await first
        assert not first.cancelled()
        await until(lambda: model.rowCount() >= len(expected) and not model.loading, timeout=5)
        await asyncio.sleep(0.05)
        assert _ids(model) == expected and not model.canFetchMore()

    qloop.run_until_complete(scenario())


def test_paged_model_failure_keeps_rows_and_reports(
    sandbox: Sandbox, client: BcClient, qloop: qasync.QEventLoop
) -> None:
    demo = sandbox.store().demo
    model = PagedTableModel(client, ID_COLUMNS, page_size=5)
    errors: list[object] = []
    model.failed.connect(errors.append)

    async def scenario() -> None:
        await model.load(_payments_url(sandbox, demo.company_id, demo.journal_id))
        sandbox.add_fault("status", "/customerPayments", status=500, count=None)
        model.fetchMore()
        await model.wait()
        assert model.rowCount() == 5 and not model.loading
        assert len(errors) == 1 and isinstance(errors[0], ApiError) and errors[0].status == 500
        assert model.last_error is errors[0]

    qloop.run_until_complete(scenario())


def test_paged_model_keeps_compact_rows(sandbox: Sandbox, client: BcClient, qloop: qasync.QEventLoop) -> None:
    """Rows hold the key and the displayed columns only (asked for with $select), repeated values shared;
    the full record is the payment form's to load."""
    demo = sandbox.store().demo
    stored = {p["id"]: p for p in sandbox.store().journal_payments(demo.journal_id)}
    model = PagedTableModel(client, PAYMENT_COLUMNS, page_size=len(stored))
    tester = _tester(model)
    shown = ["id", *(c.field for c in PAYMENT_COLUMNS)]

    async def scenario() -> None:
        await model.load(_payments_url(sandbox, demo.company_id, demo.journal_id))
        assert model.params["$select"] == ",".join(shown)
        assert model.rowCount() == len(stored)
        by_date: dict[str, object] = {}
        for row in range(model.rowCount()):
            record = model.record(row)
            assert record is not None and list(record) == shown
            assert model.key(row) == record["id"]
            exact = {f: stored[str(record["id"])].get(f) for f in shown}
            exact["amount"] = Decimal(str(exact["amount"]))  # the client keeps the server's digits (jsondata.py)
            assert record == exact
            assert model.index(row, 0).data(ItemRole) == record
            date = str(record["postingDate"])
            assert by_date.setdefault(date, record["postingDate"]) is record["postingDate"]
        assert len(by_date) < model.rowCount(), "the journal has repeated dates, each kept once"

    qloop.run_until_complete(scenario())
    del tester


def test_paged_model_update_item_changes_one_compact_row(sandbox: Sandbox, client: BcClient,
                                                        qloop: qasync.QEventLoop) -> None:
    demo = sandbox.store().demo
    model = PagedTableModel(client, PAYMENT_COLUMNS, page_size=20)
    tester = _tester(model)
    changed: list[tuple[int, int, int]] = []
    model.dataChanged.connect(lambda tl, br, *_: changed.append((tl.row(), tl.column(), br.column())))
    amount = next(i for i, c in enumerate(PAYMENT_COLUMNS) if c.field == "amount")

    async def scenario() -> None:
        await model.load(_payments_url(sandbox, demo.company_id, demo.journal_id))
        before = model.record(3)
        assert before is not None
        reloaded = {**before, "amount": 4321.5, "comment": "a field the list does not show"}
        assert model.update_item("id", reloaded)
        assert model.record(3) == {**before, "amount": 4321.5}
        assert changed == [(3, amount, amount)]
        assert not model.update_item("id", {**reloaded, "id": "not-a-row"})
        assert not model.update_item("comment", reloaded)

    qloop.run_until_complete(scenario())
    del tester


def test_paged_model_20000_rows(qloop: qasync.QEventLoop) -> None:
    started = time.monotonic()
    box = Sandbox(payments=20_000)
    box.start()
    client = _client(box)
    try:
        demo = box.store().demo
        total = len(box.store().journal_payments(demo.journal_id))
        assert total >= 19_000, total
        model = PagedTableModel(client, ID_COLUMNS, page_size=1000)

        async def scenario() -> None:
            await model.load(_payments_url(box, demo.company_id, demo.journal_id))
            assert model.rowCount() == 1000 and model.canFetchMore()
            while model.canFetchMore():
                before = model.rowCount()
                model.fetchMore()
                await model.wait()
                assert model.rowCount() > before
            ids = _ids(model)
            assert len(ids) == total and len(set(ids)) == total
            assert not model.canFetchMore()

        qloop.run_until_complete(scenario())
    finally:
        qloop.run_until_complete(client.aclose())
        box.stop()
    assert time.monotonic() - started < 60


# ---- RecordListModel via Navigation ---------------------------------------------------------------------


def test_record_list_models_under_tester(sandbox: Sandbox, nav: Navigation, qloop: qasync.QEventLoop) -> None:
    store = sandbox.store()
    demo = store.demo
    testers = [_tester(nav.companies), _tester(nav.journals), _tester(nav.payments)]

    async def scenario() -> None:
        await nav.load_companies()
        assert nav.companies.rowCount() == len(store.companies())
        row = nav.companies.row_of(demo.company_id)
        assert row >= 0
        index = nav.companies.index(row, 0)
        assert index.data(KeyRole) == demo.company_id
        assert index.data(ListItemRole)["id"] == demo.company_id
        assert nav.companies.data(index, Qt.ItemDataRole.EditRole) == index.data()

        await nav.select_company(demo.company_id)
        codes = {j["code"] for j in store.journals(demo.company_id)}
        assert {str(j["code"]) for j in nav.journals.items()} == codes
        assert nav.journals.row_of(demo.journal_id) >= 0

        await nav.select_company(demo.small_company_id)
        assert nav.journals.row_of(demo.journal_id) == -1
        assert nav.journals.row_of(demo.empty_journal_id) >= 0

        nav.companies.set_items([])
        assert nav.companies.rowCount() == 0 and nav.companies.item(0) is None

    qloop.run_until_complete(scenario())
    del testers


def test_record_list_model_standalone() -> None:
    model = RecordListModel(lambda r: str(r["name"]), lambda r: str(r["id"]), tooltip=lambda r: f"#{r['id']}")
    tester = _tester(model)
    model.set_items([{"id": "1", "name": "One"}, {"id": "2", "name": "Two"}])
    assert model.index(1, 0).data() == "Two"
    assert model.index(1, 0).data(Qt.ItemDataRole.ToolTipRole) == "#2"
    assert model.row_of("2") == 1 and model.row_of("3") == -1
    model.set_items([])
    assert model.rowCount() == 0
    del tester


# ---- PaymentModel ------------------------------------------------------------------------------------


async def _refresh(model: PaymentModel) -> PaymentRecord | None:
    task = model.refresh()
    assert task is not None, "refresh needs a loaded URL"
    return await task


def _state(model: PaymentModel) -> LoadState:
    """The state read afresh (mypy would otherwise keep the narrowing of an earlier assert)."""
    return model.state


def _changed_names(model: PaymentModel, spy: list[tuple[int, int, int, int, list[int]]]) -> set[str]:
    return {str(model.index(top, 0).data(JsonNameRole)) for top, _l, bottom, _r, _roles in spy
            for top in range(top, bottom + 1)}


def test_payment_model_under_tester_full_cycle(
    sandbox: Sandbox, client: BcClient, qloop: qasync.QEventLoop
) -> None:
    store = sandbox.store()
    demo = store.demo
    model = PaymentModel(PaymentService(client), locale=QLocale(QLocale.Language.English, QLocale.Country.UnitedStates))
    tester = _tester(model)
    states: list[LoadState] = []
    model.stateChanged.connect(states.append)
    spy: list[tuple[int, int, int, int, list[int]]] = []

    def on_changed(top_left: Index, bottom_right: Index, roles: list[int]) -> None:
        spy.append((top_left.row(), top_left.column(), bottom_right.row(), bottom_right.column(), list(roles)))

    model.dataChanged.connect(on_changed)
    url = _payment_url(sandbox, demo.payment_id)

    async def scenario() -> None:
        record = await model.load(url)
        assert record is not None and model.state is LoadState.READY
        assert record.values["id"] == demo.payment_id and "@odata.etag" not in record.values
        rows = model.rowCount()
        assert rows > 5 and model.columnCount() == 2
        desc = model.field_row("description")
        assert desc >= 0 and model.index(desc, 1).data() == store.payment(demo.payment_id)["description"]  # type: ignore[index]
        all_roles = {int(r) for r in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
                                       Qt.ItemDataRole.AccessibleTextRole)} | set(range(
                                           int(Qt.ItemDataRole.UserRole) + 10, int(Qt.ItemDataRole.UserRole) + 19))

        # Refresh after a colleague's edit: only the changed rows, only the value column, not every role.
        store.patch_payment(demo.payment_id, {"description": "Changed by the test"})
        spy.clear()
        await _refresh(model)
        assert model.rowCount() == rows
        assert model.index(desc, 1).data() == "Changed by the test"
        changed = _changed_names(model, spy)
        assert "description" in changed
        assert changed <= {"description", "lastModifiedDateTime", "@odata.etag"}, changed
        # The value column only — plus the label column where a change mark came or went (it shows the glyph).
        assert all(right == 1 and (left == 1 or ChangedRole in roles) for _t, left, _b, right, roles in spy)
        for *_, roles in spy:
            assert Qt.ItemDataRole.DisplayRole in roles
            assert not all_roles <= {int(r) for r in roles}

        # A refresh with nothing changed while marks are on: only the marks go, no value role is emitted.
        marked = {model.field_row(name) for name in model.changes()}
        spy.clear()
        await _refresh(model)
        assert not model.changes() and {top for top, *_ in spy} == marked
        assert all(set(roles) == set(CHANGE_ROLES) for *_, roles in spy)

        # A refresh with nothing changed emits nothing at all (once the previous marks are acknowledged).
        model.clear_changes()
        spy.clear()
        await _refresh(model)
        assert spy == []

        # The sandbox's activity edits the demo payment (or another): refresh shows it.
        for _ in range(20):
            if store.activity_tick() == demo.payment_id:
                break
        spy.clear()
        await _refresh(model)
        assert model.record is not None
        current = store.payment(demo.payment_id)
        assert current is not None
        # The model holds exact Decimals; read back as the sandbox's floats they must be the same numbers.
        as_floats = json.loads(jsondata.dumps(model.record.values))
        assert all(as_floats[k] == current[k] for k in as_floats if k in current)
        assert model.record.values["lastModifiedDateTime"] == current["lastModifiedDateTime"]

        # Another payment: a reset, never the old values under the new URL.
        other = await model.load(_payment_url(sandbox, demo.long_text_payment_id))
        assert other is not None and model.index(model.field_row("id"), 1).data() == demo.long_text_payment_id

        model.clear()
        assert model.rowCount() == 0 and _state(model) is LoadState.EMPTY and model.record is None

        # A payment that does not exist: GONE, nothing shown.
        missing = url.replace(demo.payment_id, "00000000-0000-0000-0000-0000000000ab")
        assert await model.load(missing) is None
        assert model.state is LoadState.GONE and model.rowCount() == 0 and isinstance(model.error, NotFound)

    qloop.run_until_complete(scenario())
    assert LoadState.LOADING in states and LoadState.READY in states
    del tester


def test_payment_model_latest_wins(sandbox: Sandbox, client: BcClient, qloop: qasync.QEventLoop) -> None:
    demo = sandbox.store().demo
    model = PaymentModel(PaymentService(client))
    tester = _tester(model)
    loaded: list[str] = []
    model.loaded.connect(lambda record: loaded.append(record.values["id"]))
    url_b = _payment_url(sandbox, demo.blank_payment_id)

    slot = TaskSlot("payment")

    async def scenario() -> None:
        task_a = model.load_in(slot, _payment_url(sandbox, demo.payment_id))
        task_b = model.load_in(slot, url_b)
        await until(lambda: task_a.done() and task_b.done())
        assert task_a.cancelled()  # replaced before it began: it never ran
        assert not isinstance(task_b.result(), Exception)
        await asyncio.sleep(0.05)  # nothing late may arrive
        assert loaded == [demo.blank_payment_id]
        assert model.url == url_b and model.state is LoadState.READY
        assert model.record is not None and model.record.values["id"] == demo.blank_payment_id
        assert model.index(model.field_row("id"), 1).data() == demo.blank_payment_id

    qloop.run_until_complete(scenario())
    del tester


def test_payment_model_gone_after_posting_keeps_last_record(
    sandbox: Sandbox, client: BcClient, qloop: qasync.QEventLoop
) -> None:
    demo = sandbox.store().demo
    model = PaymentModel(PaymentService(client))
    tester = _tester(model)
    errors: list[object] = []
    model.failed.connect(errors.append)

    async def scenario() -> None:
        first = await model.load(_payment_url(sandbox, demo.payment_id))
        assert first is not None
        rows = model.rowCount()
        assert sandbox.store().post_journal(demo.company_id, demo.journal_id) > 0
        assert await _refresh(model) is None
        assert model.state is LoadState.GONE and model.stale
        assert model.record is first and model.rowCount() == rows
        assert len(errors) == 1 and isinstance(errors[0], NotFound)

    qloop.run_until_complete(scenario())
    del tester


def test_payment_model_failure_keeps_stale_data(sandbox: Sandbox, client: BcClient, qloop: qasync.QEventLoop) -> None:
    demo = sandbox.store().demo
    model = PaymentModel(PaymentService(client))
    tester = _tester(model)

    async def scenario() -> None:
        first = await model.load(_payment_url(sandbox, demo.payment_id))
        assert first is not None
        description = model.index(model.field_row("description"), 1).data()
        sandbox.add_fault("status", "/customerPayments", status=500, count=1)
        assert await _refresh(model) is None
        assert model.state is LoadState.FAILED and model.stale
        assert isinstance(model.error, ApiError) and model.error.status == 500
        assert model.record is first
        assert model.index(model.field_row("description"), 1).data() == description
        # The fault is used up: the next refresh recovers.
        assert await _refresh(model) is not None
        assert _state(model) is LoadState.READY and not model.stale and model.error is None

    qloop.run_until_complete(scenario())
    del tester


# ---- Navigation -------------------------------------------------------------------------------------


def test_navigation_levels_and_search(sandbox: Sandbox, nav: Navigation, qloop: qasync.QEventLoop) -> None:
    store = sandbox.store()
    demo = store.demo
    lines = store.journal_payments(demo.journal_id)
    bank = store.journal_payments(demo.second_journal_id)
    obrien = store.customer(demo.quote_customer_id)
    assert obrien is not None
    # The O'Brien text is in a description ("Payment O'Brien Ltd.") of the BANK journal; the customer field
    # holds the customer's number, so the customer search uses O'Brien's number.
    by_description = sorted(p["id"] for p in bank if "O'Brien" in p["description"])
    # The search is contains(): O'Brien's 50000 also finds 150000.
    by_customer = sorted(p["id"] for p in lines if obrien["number"] in p["customerNumber"])
    assert by_description and by_customer
    # No tester on the payments here: it asks for more rows after every insert, and this test counts pages.
    testers = [_tester(nav.companies), _tester(nav.journals)]

    async def scenario() -> None:
        await nav.load_companies()
        await nav.select_company(demo.company_id)
        assert nav.journals.rowCount() == len(store.journals(demo.company_id))
        assert nav.payments.rowCount() == 0

        await nav.select_journal(demo.journal_id)
        await until(lambda: not nav.payments.loading)
        assert nav.payments.rowCount() == min(50, len(lines))
        assert nav.payment_url(demo.payment_id) == _payment_url(sandbox, demo.payment_id)

        await nav.select_journal(demo.second_journal_id)
        await nav.search("  O'Brien ", "description")
        assert nav.payment_filter() == "contains(description,'O''Brien')"
        assert nav.payments.params["$filter"] == nav.payment_filter()
        assert nav.payments.last_error is None and not nav.payments.canFetchMore()
        assert sorted(_ids(nav.payments)) == by_description
        assert all("O'Brien" in str(nav.payments.record(r)["description"])  # type: ignore[index]
                   for r in range(nav.payments.rowCount()))

        await nav.select_journal(demo.journal_id)
        assert nav.search_text == "O'Brien" and nav.payments.rowCount() == 0  # still filtered: nothing here
        await nav.search(obrien["number"], "customerNumber")
        await until(lambda: not nav.payments.loading and not nav.payments.canFetchMore())
        assert sorted(_ids(nav.payments)) == by_customer

        with pytest.raises(ValueError):
            await nav.search("x", "comment")

        await nav.search("")
        await until(lambda: not nav.payments.loading)
        assert nav.payments.rowCount() > 0

    qloop.run_until_complete(scenario())
    del testers


def test_navigation_other_company_clears_at_once(
    sandbox: Sandbox, nav: Navigation, qloop: qasync.QEventLoop
) -> None:
    demo = sandbox.store().demo
    testers = [_tester(nav.journals), _tester(nav.payments)]

    async def scenario() -> None:
        await nav.load_companies()
        await nav.select_company(demo.company_id)
        await nav.select_journal(demo.journal_id)
        await until(lambda: not nav.payments.loading)
        assert nav.journals.rowCount() > 0 and nav.payments.rowCount() > 0

        task = asyncio.ensure_future(nav.select_company(demo.small_company_id))
        await asyncio.sleep(0)  # the coroutine ran up to its request; no answer can be here yet
        assert nav.company_id == demo.small_company_id and nav.journal_id is None
        assert nav.journals.rowCount() == 0 and nav.payments.rowCount() == 0
        assert not task.done()
        await task
        keys = {str(j["id"]) for j in nav.journals.items()}
        assert keys == {str(j["id"]) for j in sandbox.store().journals(demo.small_company_id)}
        assert nav.payments.rowCount() == 0 and nav.payments.url is None

        # An empty journal: no rows, nothing more to fetch.
        await nav.select_journal(demo.empty_journal_id)
        await until(lambda: not nav.payments.loading)
        assert nav.payments.rowCount() == 0 and not nav.payments.canFetchMore()

        # Changing company twice quickly: the first answer is dropped.
        first = asyncio.ensure_future(nav.select_company(demo.company_id))
        second = asyncio.ensure_future(nav.select_company(demo.small_company_id))
        await asyncio.gather(first, second, return_exceptions=True)
        assert nav.company_id == demo.small_company_id
        assert {str(j["id"]) for j in nav.journals.items()} == keys

    qloop.run_until_complete(scenario())
    del testers


def test_paged_cells_are_formatted_once_per_value_and_other_roles_are_none(qapp: Any) -> None:
    """Repainting a row formats nothing again (viewer/models/paged.py ``_cell``); what the model does not set is
    None, and an unhashable value is still shown."""
    calls: list[tuple[str, Any]] = []

    def formatter(field: str, value: Any) -> str:
        calls.append((field, value))
        return f"<{value}>"

    model = PagedTableModel(None, [Column("documentNumber", "No."), Column("amount", "Amount", align_right=True)],
                            formatter=formatter)
    model._append([{"id": "a", "documentNumber": "G1", "amount": 5},
                   {"id": "b", "documentNumber": "G1", "amount": [1]}])
    tester = _tester(model)
    texts = [[model.index(r, c).data() for c in range(2)] for r in range(2)]
    assert texts == [["<G1>", "<5>"], ["<G1>", "<[1]>"]]
    calls.clear()
    again = [[model.index(r, c).data() for c in range(2)] for r in range(2)]
    assert again == texts
    assert calls == [("amount", [1])]  # only the unhashable value is formatted again
    assert model.index(0, 1).data(Qt.ItemDataRole.AccessibleTextRole) == "Amount: <5>"
    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert model.index(0, 1).data(Qt.ItemDataRole.TextAlignmentRole) == right
    for role in (Qt.ItemDataRole.FontRole, Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.BackgroundRole):
        assert model.index(0, 0).data(role) is None
    assert model.index(1, 1).data(Qt.ItemDataRole.UserRole + 1) == [1]
    assert model.index(0, 0).data(Qt.ItemDataRole.UserRole) == {"id": "a", "documentNumber": "G1", "amount": 5}
    # A row replaced in place shows its new text (the remembered texts are keyed by value, not by row).
    assert model.update_item("id", {"id": "a", "documentNumber": "G2"})
    assert model.index(0, 0).data() == "<G2>"
    del tester


def _counting(build: Any, names: list[str]) -> Any:
    def counted(spec: Any, raw: Any, locale: QLocale) -> Any:
        names.append(spec.name)
        return build(spec, raw, locale)

    return counted


def test_with_no_view_listening_to_datachanged_rowschanged_still_names_every_changed_row(
    sandbox: Sandbox, client: BcClient, qloop: qasync.QEventLoop
) -> None:
    """The model skips its per-role dataChanged work when no view listens (the app's form follows rowsChanged);
    the rows it names are the same either way."""
    import viewer.models.payment as payment_module
    from viewer.fields import field_views
    from viewer.models.payment import _DATA_CHANGED

    store = sandbox.store()
    demo = store.demo
    other = next(p for p in store.journal_payments(demo.journal_id) if p["id"] != demo.payment_id)
    named: dict[bool, list[list[int]]] = {False: [], True: []}
    for listening in (False, True):
        model = PaymentModel(PaymentService(client), locale=QLocale(QLocale.Language.English,
                                                                    QLocale.Country.UnitedStates))
        if listening:
            model.dataChanged.connect(lambda *_args: None)
        assert (model.receivers(_DATA_CHANGED) > 0) is listening
        qloop.run_until_complete(model.load(_payment_url(sandbox, demo.payment_id)))
        before = model.fields()
        model.rowsChanged.connect(named[listening].append)
        built: list[str] = []
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(payment_module, "field_view", _counting(payment_module.field_view, built))
            qloop.run_until_complete(model.load(_payment_url(sandbox, str(other["id"]))))
            # With no listener a changed row's view is built when first asked for (the form asks for the rows on
            # screen first); a listener is told each changed role, so every changed view is built at once.
            assert (built == []) is not listening
            after = model.fields()
        assert named[listening] == [[row for row, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]]
        # Built once each, only for what changed, and the same as building the whole record afresh.
        assert sorted(built) == sorted(a.json_name for a, b in zip(before, after, strict=True)
                                       if a != b and a.json_name != "@odata.etag")
        assert model.record is not None
        assert after == field_views(model.record.values, "v2.0", model.locale, etag=model.record.etag)
        assert model.field("documentNumber") is not None
    assert named[False] == named[True] and len(named[False][0]) > 3


def test_a_load_keeps_the_views_of_unchanged_values_and_they_are_what_a_fresh_load_builds(qapp: Any) -> None:
    # A payment after another keeps the views of the values they share (viewer/models/payment.py, same_json in
    # viewer/jsondata.py): what it shows must be exactly what formatting it from scratch shows, and a value that merely
    # compares equal in Python is formatted again.
    from datetime import UTC, datetime

    from viewer.client import ResponseFacts
    from viewer.fields import field_views
    from viewer.jsondata import same_json
    from viewer.loading import ChangeKind, Loaded, Record
    from viewer.snapshots import ChangeSet

    def loaded(values: dict[str, Any]) -> Loaded:
        facts = ResponseFacts("GET", "https://bc.example/p", 200, 1.0, datetime.now(UTC), 1, 1, "r")
        return Loaded(Record("https://bc.example/p", values, None, facts, "v2.0"), ChangeSet(), ChangeKind.FIRST)

    locale = QLocale(QLocale.Language.German, QLocale.Country.Germany)
    first = {"id": "A", "lineNumber": 10000, "amount": Decimal("1.0"), "description": "x", "comment": True,
             "postingDate": "2026-01-02", "lastModifiedDateTime": "2026-01-02T10:00:00Z", "dimensions": [],
             "unknownField": 1}
    second = {**first, "id": "B", "amount": Decimal("1.00"), "comment": 1, "unknownField": True}
    model = PaymentModel(locale=locale)
    model.apply(loaded(first))
    before = {view.json_name: view for view in model.fields()}
    rows: list[list[int]] = []
    model.rowsChanged.connect(rows.append)
    model.apply(loaded(second))
    after = model.fields()
    assert after == field_views(second, "v2.0", locale)
    kept = {view.json_name for view in after if view is before[view.json_name]}
    # Same value, same types: kept (lists and objects too). 1.0 and 1.00, true and 1 compare equal in Python but
    # show differently.
    assert kept == {"lineNumber", "description", "postingDate", "lastModifiedDateTime", "dimensions"}
    assert rows == [sorted(row for row, view in enumerate(after) if view.json_name not in kept)]
    assert model.field("amount").display == "1,00"  # type: ignore[union-attr]
    assert not same_json({"a": 1, "b": 2}, {"b": 2, "a": 1})  # the same object, written in another order
    assert not same_json([1], [True]) and same_json([{"a": Decimal("1.0")}], [{"a": Decimal("1.0")}])
