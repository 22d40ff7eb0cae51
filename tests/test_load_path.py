"""One payment, one load (docs/ARCHITECTURE.md): the load service's one answer feeds every view of a change; latest
wins with at most one payment request in flight; the form is updated in place; sign-in failures are typed."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import qasync
from PySide6.QtCore import QEvent, QLocale, QObject, Qt
from PySide6.QtWidgets import QApplication

from tests.conftest import Start, payment_url, until
from tests.http_probe import CountingTransport
from tests.test_ui_form import Harness
from viewer.auth import IdentityUnavailable
from viewer.client import BcClient
from viewer.connection import SandboxEndpoints
from viewer.errors import ViewerError
from viewer.loading import ChangeKind, Loaded, PaymentService, api_version_of
from viewer.models.payment import LoadState, PaymentModel
from viewer.profiles import SandboxProfile
from viewer.sandbox import Sandbox
from viewer.settings import Settings
from viewer.snapshots import Snapshot, SnapshotKey, SnapshotStore
from viewer.tasks import TaskSet, TaskSlot
from viewer.workspace import Workspace


class Token:
    def __init__(self, sandbox: Sandbox) -> None:
        assert sandbox.identity is not None
        self.token = sandbox.identity.issue_access_token()

    async def authorization(self, *, refresh: bool = False) -> str:
        return f"Bearer {self.token}"


@pytest.fixture
def counted(sandbox: Sandbox, qloop: qasync.QEventLoop) -> Iterator[tuple[CountingTransport, BcClient]]:
    transport = CountingTransport(httpx.AsyncHTTPTransport(verify=sandbox.ssl_context()))
    client = BcClient(Token(sandbox), transport=transport)
    yield transport, client
    qloop.run_until_complete(client.aclose())


def _dead_identity(sandbox: Sandbox, port: int) -> SandboxEndpoints:
    """The sandbox's API, but a sign-in service on a port nobody listens on."""
    assert sandbox.info is not None
    return SandboxEndpoints(authority=f"https://127.0.0.1:{port}/contoso", api_root=sandbox.info.api_root,
                            environments_url=sandbox.info.environments_url,
                            public_client_id=sandbox.info.public_client_id, ca_file=sandbox.info.ca_file)


def _url(sandbox: Sandbox, payment_id: str, version: str = "v2.0") -> str:
    return payment_url(sandbox, payment_id, version)


# ---- latest wins, one request in flight ------------------------------------------------------------------------


def test_a_new_load_waits_for_the_request_under_way_and_only_the_latest_is_shown(
    sandbox: Sandbox, qloop: qasync.QEventLoop, counted: tuple[CountingTransport, BcClient]
) -> None:
    transport, client = counted
    demo = sandbox.store().demo
    model = PaymentModel(PaymentService(client))
    slot = TaskSlot("payment")
    painted: list[str] = []
    model.loaded.connect(lambda record: painted.append(record.values["id"]))
    sandbox.add_fault("latency", demo.payment_id, latency_ms=400, count=1)

    async def scenario() -> None:
        first = model.load_in(slot, _url(sandbox, demo.payment_id))
        await until(lambda: transport.in_flight == 1)  # the slow request is on the wire
        second = model.load_in(slot, _url(sandbox, demo.blank_payment_id))
        await asyncio.gather(first, second, return_exceptions=True)
        # The first request was not interrupted (viewer/tasks.py: httpcore's pool may hang on that); it finished,
        # and its answer was dropped.
        assert first.cancelled() and not second.cancelled()
        assert len(transport.sent) == 2 and demo.payment_id in transport.sent[0]

    qloop.run_until_complete(scenario())
    assert transport.peak == 1, "the second request must wait until the first one is over"
    assert painted == [demo.blank_payment_id]
    assert model.record is not None and model.record.values["id"] == demo.blank_payment_id


def test_a_burst_of_selections_sends_requests_one_at_a_time_and_paints_only_the_last(
    sandbox: Sandbox, qloop: qasync.QEventLoop, counted: tuple[CountingTransport, BcClient]
) -> None:
    transport, client = counted
    demo = sandbox.store().demo
    ids = [p["id"] for p in sandbox.store().journal_payments(demo.journal_id)][:20]
    model = PaymentModel(PaymentService(client))
    slot = TaskSlot("payment")
    painted: list[str] = []
    model.loaded.connect(lambda record: painted.append(record.values["id"]))

    async def burst() -> None:
        for i in range(100):
            model.load_in(slot, _url(sandbox, ids[i % len(ids)]))
            if i % 3 == 0:
                await asyncio.sleep(0.002)  # a held arrow key: some selections arrive between event passes
        await slot.wait()

    qloop.run_until_complete(burst())
    assert transport.peak == 1
    assert len(transport.sent) < 100  # queued selections coalesce before any request
    last = ids[99 % len(ids)]
    assert model.record is not None and model.record.values["id"] == last
    assert painted[-1] == last and model.state is LoadState.READY


def test_task_set_keeps_tasks_and_cancels_them_on_close(qloop: qasync.QEventLoop) -> None:
    tasks = TaskSet()
    done: list[int] = []

    async def work(n: int) -> None:
        await asyncio.sleep(0 if n == 1 else 10)
        done.append(n)

    async def scenario() -> None:
        tasks.spawn(work(1))
        tasks.spawn(work(2))
        await until(lambda: done == [1])
        assert len(tasks) == 1
        await tasks.aclose()
        assert not tasks

    qloop.run_until_complete(scenario())
    assert done == [1]


# ---- one ChangeSet for every view --------------------------------------------------------------------------------


def test_versions_never_make_a_phantom_change(sandbox: Sandbox, qloop: qasync.QEventLoop,
                                              counted: tuple[CountingTransport, BcClient]) -> None:
    """beta has no journalId: opening the same payment through beta after v2.0 is no change at all."""
    _transport, client = counted
    demo = sandbox.store().demo
    service = PaymentService(client)

    async def scenario() -> None:
        first = await service.load(_url(sandbox, demo.payment_id, "v2.0"))
        assert first.kind is ChangeKind.FIRST  # a new service and no history file: nothing to compare with
        again = await service.load(_url(sandbox, demo.payment_id, "beta"))
        assert again.kind is ChangeKind.REFRESH and again.record.api_version == "beta"
        assert not again.changes.names(), again.changes
        back = await service.load(_url(sandbox, demo.payment_id, "v2.0"))
        assert not back.changes.names(), back.changes

    qloop.run_until_complete(scenario())


def test_api_version_comes_from_the_api_segment_never_the_service_prefix() -> None:
    root = "https://api.businesscentral.dynamics.com/v2.0/contoso.com/production/api"
    assert api_version_of(f"{root}/beta/companies(1)/customerPayments(2)") == "beta"
    assert api_version_of(f"{root}/v1.0/companies(1)/customerPayments(2)") == "v1.0"
    assert api_version_of(f"{root}/v2.0/companies(1)/customerPayments(2)") == "v2.0"
    assert api_version_of("https://bc.contoso.local:7048/BC/api/contoso/app1/beta/companies(1)") == "beta"


def test_summary_status_bar_marks_and_history_agree(start_app: Start, qloop: qasync.QEventLoop,
                                                    sandbox: Sandbox) -> None:
    window, controller = start_app(payment_url(sandbox))
    demo = sandbox.store().demo
    history = window.payment.history
    window.payment.form.tabs.setCurrentWidget(history)
    sandbox.store().patch_payment(demo.payment_id, {"description": "Counted", "comment": "Also counted"})
    assert qloop.run_until_complete(controller.watcher.check()) == "changed"
    qloop.run_until_complete(until(lambda: "changed" in window.statusBar().currentMessage()))
    marked = {name for name, _change in controller.payment.changes().items()}
    summary = window.payment.summary.text()
    status = window.statusBar().currentMessage()
    count = int(re.search(r"(\d+) fields? changed", summary).group(1))  # type: ignore[union-attr]
    assert count == len(marked) == 3  # description, comment, lastModifiedDateTime
    assert f"{count} fields changed" in status
    qloop.run_until_complete(until(lambda: history.timeline.count() >= 2))
    newest = history.timeline.item(0).text()
    assert f"{count} changes" in newest, newest


def test_history_tab_follows_the_open_payment_also_after_a_404(start_app: Start, qloop: qasync.QEventLoop,
                                                              sandbox: Sandbox) -> None:
    window, controller = start_app(payment_url(sandbox))
    demo = sandbox.store().demo
    history = window.payment.history
    window.payment.form.tabs.setCurrentWidget(history)
    qloop.run_until_complete(until(lambda: history.timeline.count() == 1))
    assert history.snapshots[0].key.payment_id == demo.payment_id

    controller.open_url(payment_url(sandbox, demo.blank_payment_id))
    qloop.run_until_complete(until(lambda: bool(history.snapshots)
                                   and history.snapshots[0].key.payment_id == demo.blank_payment_id))

    sandbox.store().post_journal(demo.company_id, demo.journal_id)
    window.refresh_action.trigger()
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.GONE))
    qloop.run_until_complete(asyncio.sleep(0.2))
    assert history.snapshots and all(s.key.payment_id == demo.blank_payment_id for s in history.snapshots)

    # Another payment that does not exist: nothing of the previous one stays in the History tab.
    controller.open_url(payment_url(sandbox, "00000000-0000-0000-0000-0000000000ab"))
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.GONE))
    qloop.run_until_complete(until(lambda: not history.snapshots and history.timeline.count() == 0))


def test_the_list_row_shows_what_the_form_shows_after_a_refresh(start_app: Start, qloop: qasync.QEventLoop,
                                                                sandbox: Sandbox) -> None:
    window, controller = start_app()
    payments = controller.navigation.payments
    first = payments.record(0)
    assert first is not None
    url = controller.navigation.payment_url(str(first["id"]))
    assert url is not None
    controller.open_url(url)
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    qloop.run_until_complete(controller.related.wait())  # the amount's currency comes from the related records
    sandbox.store().patch_payment(str(first["id"]), {"amount": 4321.5, "description": "New words"})
    window.refresh_action.trigger()
    amount = window.payment.form.field_edit("amount")
    assert amount is not None
    qloop.run_until_complete(until(lambda: controller.payment.record is not None
                                   and controller.payment.record.values["description"] == "New words"))
    qloop.run_until_complete(controller.related.wait())
    assert "4321" in amount.text().replace(",", "").replace(".", "").replace("\u00a0", "")
    columns = [c.field for c in payments.columns]
    assert amount.text().startswith(payments.index(0, columns.index("amount")).data() + " ")  # then the currency
    assert payments.index(0, columns.index("description")).data() == "New words"


def test_the_form_is_built_once_per_version_and_reused(start_app: Start, qloop: qasync.QEventLoop,
                                                      sandbox: Sandbox) -> None:
    window, controller = start_app(payment_url(sandbox))
    form = window.payment.form
    edit = form.field_edit("documentNumber")
    pages = dict(form.pages)
    demo = sandbox.store().demo
    for payment_id in (demo.blank_payment_id, demo.long_text_payment_id, demo.payment_id):
        controller.open_url(payment_url(sandbox, payment_id))
        qloop.run_until_complete(until(lambda pid=payment_id: controller.payment.record is not None  # type: ignore
                                       and controller.payment.record.values["id"] == pid))
        assert form.field_edit("documentNumber") is edit
        assert edit is not None and edit.text() == controller.payment.record.values["documentNumber"]  # type: ignore
    assert form.pages == pages


def test_another_payment_dims_the_previous_values_until_the_new_ones_arrive(
    start_app: Start, qloop: qasync.QEventLoop, sandbox: Sandbox
) -> None:
    window, controller = start_app(payment_url(sandbox))
    form = window.payment.form
    demo = sandbox.store().demo
    sandbox.add_fault("latency", demo.blank_payment_id, latency_ms=400, count=1)
    before = window.payment.title.text()
    controller.open_url(payment_url(sandbox, demo.blank_payment_id))
    qloop.run_until_complete(until(lambda: controller.payment.showing_other))
    # A young load changes nothing on screen (no flash for a fast one)...
    assert window.payment.title.text() == before and form.page is not None and form.page.isEnabled()
    # ...a slow one dims the old values (never "Loading…" placeholders) and says so in the title.
    qloop.run_until_complete(until(lambda: not form.page.isEnabled()))  # type: ignore[union-attr]
    assert form.field_edit("amount").placeholderText() != "Loading…"  # type: ignore[union-attr]
    assert window.payment.title.text() == "Loading payment…"
    QApplication.clipboard().clear()
    form.copy_record("json")  # nothing is copied from the payment being replaced
    assert QApplication.clipboard().text() == ""
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    assert form.page.isEnabled() and controller.payment.record.values["id"] == demo.blank_payment_id  # type: ignore


def test_raw_json_tab_shows_the_body_as_received(start_app: Start, qloop: qasync.QEventLoop,
                                                 sandbox: Sandbox) -> None:
    window, controller = start_app(payment_url(sandbox))
    form = window.payment.form
    assert form.json_view.toPlainText() == ""  # not highlighted while nobody looks at it
    form.tabs.setCurrentWidget(form.json_page)
    text = form.json_view.toPlainText()
    assert '"@odata.etag"' in text and '"@odata.context"' in text
    assert controller.payment.record is not None and "@odata.etag" not in controller.payment.record.values


# ---- sign-in never blocks and never escapes ------------------------------------------------------------------------


def test_an_unreachable_identity_server_gives_a_clear_message_and_a_retry(qloop: qasync.QEventLoop,
                                                                        qapp: QApplication, sandbox: Sandbox) -> None:
    import socket

    from ui.signin import SignInWidget

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workspace = Workspace(Settings(), sandbox=_dead_identity(sandbox, port))
    failures: list[ViewerError] = []
    workspace.failed.connect(failures.append)
    widget = SignInWidget()
    widget.bind(workspace)
    widget.show()
    chosen: list[object] = []
    widget.profileChosen.connect(chosen.append)

    async def scenario() -> None:
        with pytest.raises(ViewerError):  # typed, never a raw httpx.ConnectError
            await workspace.activate(SandboxProfile(), silent=True)

    qloop.run_until_complete(scenario())
    assert len(failures) == 1 and isinstance(failures[0], IdentityUnavailable)
    assert f"127.0.0.1:{port}" in str(failures[0]) and "cannot be reached" in str(failures[0])
    assert workspace.connection is None
    # The sign-in bar says so in the same words, with a way to try again.
    assert widget.error_label.text() == str(failures[0]) and widget.retry_button.isVisible()
    widget.retry_button.click()
    assert chosen and isinstance(chosen[0], SandboxProfile)
    widget.close()


def test_form_marks_come_from_the_same_load(sandbox: Sandbox, qloop: qasync.QEventLoop, qapp: QApplication) -> None:
    """The marks are exactly the load's ChangeSet: what changed, with its old value, and nothing else."""
    harness = Harness(sandbox, qloop, QLocale("en_US"))
    loads: list[Loaded] = []
    harness.model.changesChanged.connect(loads.append)
    try:
        harness.load(harness.url())
        demo = sandbox.store().demo
        before = harness.model.record.values["amount"]  # type: ignore[union-attr]
        sandbox.store().patch_payment(demo.payment_id, {"amount": 99})
        harness.refresh()
        harness.wait(lambda: len(loads) == 2)
        marks = harness.model.changes()
        assert set(marks) == {"amount", "lastModifiedDateTime"} == loads[-1].changes.names()
        assert marks["amount"].previous_raw == before and marks["amount"].kind is ChangeKind.REFRESH
    finally:
        harness.close()


def test_a_thousand_rapid_replacements_never_hang_the_client(
    sandbox: Sandbox, qloop: qasync.QEventLoop, counted: tuple[CountingTransport, BcClient]
) -> None:
    """Interrupting httpx mid-request can leave httpcore's pool waiting for ever (viewer/tasks.py); replaced loads
    are dropped instead, so the client keeps answering after any burst."""
    import random

    transport, client = counted
    demo = sandbox.store().demo
    ids = [p["id"] for p in sandbox.store().journal_payments(demo.journal_id)][:30]
    model = PaymentModel(PaymentService(client))
    slot = TaskSlot("payment")
    rng = random.Random(7)
    sandbox.add_fault("latency", "customerPayments", latency_ms=3, count=None)

    async def burst() -> None:
        for _ in range(1000):
            model.load_in(slot, _url(sandbox, rng.choice(ids)))
            await asyncio.sleep(rng.random() * 0.006)
        await asyncio.wait_for(slot.wait(), 10)
        response = await asyncio.wait_for(client.get_json(_url(sandbox, demo.payment_id)), 10)
        assert response.facts.status == 200

    qloop.run_until_complete(burst())
    assert transport.peak == 1 and model.state is LoadState.READY


# ---- the request leaves first ------------------------------------------------------------------------------------


def test_a_first_visit_reads_history_only_for_payments_that_have_some(
    sandbox: Sandbox, qloop: qasync.QEventLoop, counted: tuple[CountingTransport, BcClient], tmp_path: Path
) -> None:
    """The store's index (viewer/snapshots.py) spares a read for a payment with no earlier snapshot; one with history
    is still compared with it ("since your previous visit")."""
    _transport, client = counted
    demo = sandbox.store().demo
    store = SnapshotStore(tmp_path / "history.sqlite3")
    seen_url = _url(sandbox, demo.payment_id)
    key = SnapshotKey.from_url(seen_url)
    assert key is not None
    started = datetime.now(UTC)
    store.add(Snapshot(key, started - timedelta(days=1), None, {"id": demo.payment_id, "description": "Long ago"}))
    service = PaymentService(client, store, started_at=started)
    service.index_history()  # what the app does when it opens the history file (ui/changes.py), in a thread
    reads: list[SnapshotKey] = []
    real_before = store.before
    store.before = lambda k, moment: reads.append(k) or real_before(k, moment)  # type: ignore[method-assign]

    fresh = qloop.run_until_complete(service.load(_url(sandbox, demo.blank_payment_id)))
    assert fresh.kind is ChangeKind.FIRST and reads == []  # nothing to read, nothing read
    seen = qloop.run_until_complete(service.load(seen_url))
    assert reads == [key]
    assert seen.kind is ChangeKind.VISIT and "description" in seen.changes.names()
    qloop.run_until_complete(service.flush())
    store.close()


def test_a_load_while_the_history_file_opens_sends_its_request_at_once_and_still_compares(
    sandbox: Sandbox, qloop: qasync.QEventLoop, counted: tuple[CountingTransport, BcClient], tmp_path: Path
) -> None:
    """A start opens the history file alongside its sign-in (viewer/loading.py ``open_store``): a deep link's load
    meanwhile sends its request without waiting, then waits for the file to compare ("since your previous visit")
    and to keep the new snapshot there, not in the stand-in."""
    transport, client = counted
    demo = sandbox.store().demo
    url = _url(sandbox, demo.payment_id)
    key = SnapshotKey.from_url(url)
    assert key is not None
    started = datetime.now(UTC)
    path = tmp_path / "history.sqlite3"
    with SnapshotStore(path) as earlier:
        earlier.add(Snapshot(key, started - timedelta(days=1), None, {"id": demo.payment_id, "description": "Then"}))
    service = PaymentService(client, started_at=started)
    release = asyncio.Event()

    async def scenario() -> Loaded:
        def slow_open() -> SnapshotStore:  # in a thread: the file opens only once the answer has come back
            asyncio.run_coroutine_threadsafe(release.wait(), qloop).result(timeout=30)
            return SnapshotStore(path)

        opening = asyncio.ensure_future(service.open_store(slow_open))
        loading = asyncio.ensure_future(service.load(url))
        await until(lambda: len(transport.sent) == 1 and transport.in_flight == 0)  # asked and answered...
        await asyncio.sleep(0.05)
        assert not opening.done() and not loading.done()  # ...while the file is still opening: it waits to compare
        release.set()
        await opening
        return await loading

    loaded = qloop.run_until_complete(scenario())
    assert loaded.kind is ChangeKind.VISIT and "description" in loaded.changes.names()
    qloop.run_until_complete(service.flush())
    assert len(service.store.history(key)) == 2  # kept in the file that opened, next to the earlier one
    service.store.close()


def test_a_request_searches_for_no_modules(sandbox: Sandbox, qloop: qasync.QEventLoop,
                                          counted: tuple[CountingTransport, BcClient]) -> None:
    """Once warm, a payment's GET imports nothing: httpcore asks for sniffio on every request, and a failed import
    is searched for again each time unless its absence is remembered (viewer/client.py)."""
    _transport, client = counted
    url = _url(sandbox, sandbox.store().demo.payment_id)
    qloop.run_until_complete(client.get_json(url))  # warm: the connection, and whatever its first use imports
    searched: list[str] = []

    class Recorder:
        @staticmethod
        def find_spec(name: str, path: object = None, target: object = None) -> None:
            searched.append(name)

    sys.meta_path.insert(0, Recorder)  # type: ignore[arg-type]
    try:
        for _ in range(3):
            qloop.run_until_complete(client.get_json(url))
    finally:
        sys.meta_path.remove(Recorder)  # type: ignore[arg-type]
    assert searched == []


def test_foreground_steps_run_ahead_of_pending_paints_in_order_and_report_failures(
    qloop: qasync.QEventLoop, qapp: QApplication
) -> None:
    """ui/loop.py: a foreground task's steps go ahead of low-priority posted events (paints); other callbacks keep
    qasync's order; a foreground callback that raises is reported like any other."""
    order: list[str] = []

    class Late(QObject):
        def event(self, event: QEvent) -> bool:
            if event.type() == QEvent.Type.User:
                order.append("paint")
                return True
            return super().event(event)

    late = Late()
    failures: list[BaseException | None] = []
    qloop.set_exception_handler(lambda _loop, context: failures.append(context.get("exception")))

    async def work(name: str) -> None:
        order.append(f"{name} 1")
        await asyncio.sleep(0)
        order.append(f"{name} 2")

    async def broken() -> None:
        raise RuntimeError("boom")

    async def scenario() -> None:
        QApplication.postEvent(late, QEvent(QEvent.Type.User), Qt.EventPriority.LowEventPriority.value)
        background = asyncio.ensure_future(work("background"))
        foreground = TaskSlot("payment", foreground=True)
        first = foreground.start(work("foreground"))
        await asyncio.wait([first, background])
        failed = TaskSlot("x", foreground=True).start(broken())
        await asyncio.wait([failed])

    try:
        qloop.run_until_complete(scenario())
    finally:
        qloop.set_exception_handler(None)
    assert order.index("foreground 2") < order.index("paint")
    assert order.index("background 1") < order.index("background 2")
    assert any(isinstance(exc, RuntimeError) for exc in failures)


def test_a_ready_socket_is_read_without_a_trip_through_qt_timers(qloop: qasync.QEventLoop) -> None:
    """ui/loop.py: qasync hands a ready socket's callback to a zero-length Qt timer, one more pass of Qt's loop (and
    a timer started and killed) for every network read; the loop runs it from a high-priority posted event instead.
    Other callbacks still take qasync's timers."""
    timed: list[str] = []
    timer = qloop._timer  # qasync's _SimpleTimer: every call_soon/call_later of qasync's own goes through it
    original = timer.add_callback

    def add_callback(handle: asyncio.Handle, delay: float = 0) -> asyncio.Handle:
        timed.append(getattr(handle._callback, "__name__", repr(handle._callback)))
        return original(handle, delay)

    a, b = socket.socketpair()
    a.setblocking(False)
    read: list[bytes] = []

    async def scenario() -> None:
        done = asyncio.get_running_loop().create_future()

        def readable() -> None:
            read.append(a.recv(16))
            qloop.remove_reader(a)
            done.set_result(None)

        qloop.add_reader(a, readable)
        qloop.call_soon(lambda: None)  # an ordinary callback, for contrast
        b.send(b"answer")
        await done

    timer.add_callback = add_callback
    try:
        qloop.run_until_complete(scenario())
    finally:
        timer.add_callback = original
        a.close()
        b.close()
    assert read == [b"answer"]
    assert "<lambda>" in timed
    assert not [name for name in timed if "notifier" in name]


def test_the_payment_request_leaves_first_and_the_list_repaints_its_selection_with_the_payment(
    start_app: Start, qloop: qasync.QEventLoop
) -> None:
    """The payment slot's tasks are foreground (ui/loop.py): the request goes out ahead of pending paints. The list
    holds its new highlight until the payment's values are painted (ui/navigator.py, _PaymentsView), so a fast
    answer never waits for the list's paint; the highlight follows in the same frame."""
    window, controller = start_app()
    view = window.navigator.view
    order: list[str] = []
    row = 2
    wanted = str(controller.navigation.payments.record(row)["documentNumber"])  # type: ignore[index]

    class Paints(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint and "selected" in order:
                if watched is view.viewport() and "list painted" not in order:
                    order.append("list painted")
                elif (watched is window.payment.form.field_edit("documentNumber") and "payment painted" not in order
                      and watched.text() == wanted):  # type: ignore[attr-defined]
                    order.append("payment painted")
            return False

    paints = Paints()
    view.setCurrentIndex(view.model().index(1, 0))  # a first payment: the page is built
    qloop.run_until_complete(until(lambda: controller.payment.state == LoadState.READY))
    edit = window.payment.form.field_edit("documentNumber")
    assert edit is not None
    view.viewport().installEventFilter(paints)
    edit.installEventFilter(paints)
    connection = controller.workspace.connection if controller.workspace else None
    assert connection is not None
    transport = connection.client._http._transport
    real = transport.handle_async_request

    async def recorded(request: httpx.Request) -> httpx.Response:
        if "/customerPayments(" in request.url.path and "request sent" not in order:
            order.append("request sent")
        return await real(request)

    transport.handle_async_request = recorded  # type: ignore[method-assign]
    try:
        async def scenario() -> None:
            await asyncio.sleep(0.05)  # settled: nothing pending
            order.append("selected")
            view.setCurrentIndex(view.model().index(row, 0))
            await until(lambda: controller.payment.state == LoadState.READY and "list painted" in order)

        qloop.run_until_complete(scenario())
    finally:
        transport.handle_async_request = real  # type: ignore[method-assign]
        view.viewport().removeEventFilter(paints)
        edit.removeEventFilter(paints)
    assert order == ["selected", "request sent", "payment painted", "list painted"]
    assert view.selectionModel().isRowSelected(row)


def test_a_selection_that_opens_nothing_is_painted_within_a_frame(qloop: qasync.QEventLoop) -> None:
    """No payment paint to wait for (no list bound to a journal, a payment that never answers): the list paints its
    highlight on its own a frame later."""
    from PySide6.QtGui import QStandardItem, QStandardItemModel

    from ui.navigator import NavigatorWidget

    navigator = NavigatorWidget()
    model = QStandardItemModel(5, 2)
    for r in range(5):
        model.setItem(r, 0, QStandardItem(f"row {r}"))
    view = navigator.view
    view.setModel(model)
    navigator.resize(400, 400)
    navigator.show()
    painted: list[int] = []

    class Paints(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                painted.append(1)
            return False

    paints = Paints()

    async def scenario() -> None:
        await asyncio.sleep(0.05)
        view.viewport().installEventFilter(paints)
        view.setCurrentIndex(model.index(3, 0))
        await asyncio.sleep(0)
        assert view.selectionModel().isRowSelected(3)  # selected at once; only its paint waits
        await until(lambda: bool(painted), timeout=5)

    try:
        qloop.run_until_complete(scenario())
    finally:
        view.viewport().removeEventFilter(paints)
        navigator.close()


def test_the_request_leaves_before_the_views_hear_that_the_payment_is_loading(
    start_app: Start, qloop: qasync.QEventLoop
) -> None:
    """``begin`` sets LOADING at once (the model answers ``state`` correctly) but emits it on Qt's next pass, after
    the load's first steps (viewer/models/payment.py): the views' reactions do not hold the request up."""
    window, controller = start_app()
    view = window.navigator.view
    order: list[str] = []
    controller.payment.stateChanged.connect(lambda state: order.append(state.name))
    connection = controller.workspace.connection if controller.workspace else None
    assert connection is not None
    transport = connection.client._http._transport
    real = transport.handle_async_request

    async def recorded(request: httpx.Request) -> httpx.Response:
        if "/customerPayments(" in request.url.path:
            order.append("request sent")
        return await real(request)

    transport.handle_async_request = recorded  # type: ignore[method-assign]
    try:
        async def scenario() -> None:
            await asyncio.sleep(0.05)
            view.setCurrentIndex(view.model().index(2, 0))
            assert controller.payment.state == LoadState.LOADING and order == []
            await until(lambda: controller.payment.state == LoadState.READY)

        qloop.run_until_complete(scenario())
    finally:
        transport.handle_async_request = real  # type: ignore[method-assign]
    assert order == ["request sent", "LOADING", "READY"]
