"""Change highlighting, history and watch, driven by real changes in the sandbox."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QLocale
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from tests.test_ui_form import Harness
from viewer.loading import ChangeKind, Loaded, Record
from viewer.models.payment import LoadState
from viewer.sandbox import Sandbox
from viewer.snapshots import SnapshotStore
from viewer.tracking import summary_text
from viewer.watch import Watcher


class Tracked(Harness):
    """The form harness with the load service on a snapshot store, the summary line and a watcher — wired as
    ui/changes.py wires them in the app."""

    def __init__(self, sandbox: Sandbox, qloop: qasync.QEventLoop, store: SnapshotStore,
                 started_at: datetime | None = None) -> None:
        super().__init__(sandbox, qloop)
        self.store = store
        self.service.store = store
        if started_at is not None:
            self.service.started_at = started_at
        self.summary = ""
        self.model.changesChanged.connect(self._on_loaded)
        self.panel.ack_button.clicked.connect(self.acknowledge)
        self.panel.history.source = lambda: self.service.history(self.model.record)
        self.watcher = Watcher(self.service, self._watchable, self._reload, interval=5)

    def _on_loaded(self, loaded: Loaded) -> None:
        self.summary = summary_text(loaded, datetime.now(UTC), QLocale("en_US"))
        self.panel.show_summary(self.summary, marks=bool(self.model.changes()))
        self.panel.history.follow()

    def acknowledge(self) -> None:
        self.model.clear_changes()
        self.summary = ""
        self.panel.show_summary("", marks=False)

    def _watchable(self) -> Record | None:
        return None if self.model.state in (LoadState.LOADING, LoadState.GONE) else self.model.record

    async def _reload(self) -> None:
        task = self.model.refresh_in(self.slot)
        if task is not None:
            await asyncio.wait([task])

    def load_tracked(self, url: str) -> None:
        self.load(url)
        self.wait(lambda: bool(self.summary))

    def refresh(self) -> None:
        self.summary = ""  # the next summary is this load's
        super().refresh()
        self.wait(lambda: bool(self.summary))

    def run(self, coro: object) -> object:
        return self.qloop.run_until_complete(coro)  # type: ignore[arg-type]

    def close(self) -> None:
        self.run(self.watcher.aclose())
        self.run(self.service.aclose())
        super().close()


@pytest.fixture
def tracked(sandbox: Sandbox, qloop: qasync.QEventLoop, qapp: QApplication, tmp_path: Path) -> Iterator[Tracked]:
    store = SnapshotStore(tmp_path / "history.sqlite3")
    t = Tracked(sandbox, qloop, store)
    yield t
    t.close()
    store.close()


def test_refresh_marks_changed_fields_with_glyph_background_and_old_value(tracked: Tracked, sandbox: Sandbox) -> None:
    tracked.load_tracked(tracked.url())
    assert "First time" in tracked.summary and not tracked.model.changes()
    demo = sandbox.store().demo
    sandbox.store().patch_payment(demo.payment_id, {"description": "Changed description", "amount": -1700})
    tracked.refresh()
    # lastModifiedDateTime changes with every edit in Business Central: it is marked too (it did change).
    assert set(tracked.model.changes()) == {"description", "amount", "lastModifiedDateTime"}
    amount = tracked.edit("amount")
    assert amount.property("changed") is True and amount.property("previousValue") == "-1,622.52 USD"
    assert amount.was_label.isVisible() and "was: -1,622.52 USD" in amount.was_label.text()  # type: ignore[attr-defined]
    assert amount.caption is not None and amount.caption.text().startswith("◆")  # type: ignore[attr-defined]
    assert "changed, was -1,622.52 USD" in amount.accessibleName()
    assert tracked.edit("documentNumber").property("changed") is False
    summary = tracked.panel.summary.text()
    assert summary.startswith("3 fields changed since the last refresh") and tracked.panel.ack_button.isVisible()
    # Acknowledged: the marks go, the values stay.
    tracked.panel.ack_button.click()
    assert not tracked.model.changes() and amount.property("changed") is False and not amount.was_label.isVisible()
    assert amount.text() == "-1,700.00 USD"
    # The next load with no change clears nothing new in.
    tracked.refresh()
    assert not tracked.model.changes() and "No changes since the last refresh" in tracked.summary


def test_changes_since_the_previous_visit_survive_a_restart(sandbox: Sandbox, qloop: qasync.QEventLoop,
                                                           qapp: QApplication, tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    first = Tracked(sandbox, qloop, SnapshotStore(path))
    first.load_tracked(first.url())
    first.close()
    first.store.close()
    demo = sandbox.store().demo
    sandbox.store().patch_payment(demo.payment_id, {"comment": "Added after you left"})
    # A new window on the same database, as after restarting the app.
    second = Tracked(sandbox, qloop, SnapshotStore(path), started_at=datetime.now(UTC))
    try:
        second.load_tracked(second.url())
        changes = second.model.changes()
        assert set(changes) == {"comment", "lastModifiedDateTime"} and changes["comment"].kind is ChangeKind.VISIT
        comment = second.edit("comment")
        assert comment.caption is not None and comment.caption.text().startswith("◇")  # type: ignore[attr-defined]
        assert "since " in comment.was_label.text() and "was: (blank)" in comment.was_label.text()  # type: ignore
        assert "2 fields changed since your last visit (today" in second.summary
    finally:
        second.close()
        second.store.close()


def test_history_timeline_compare_and_copy_diff(tracked: Tracked, sandbox: Sandbox) -> None:
    tracked.load_tracked(tracked.url())
    demo = sandbox.store().demo
    for text in ("First edit", "Second edit"):
        sandbox.store().patch_payment(demo.payment_id, {"description": text})
        tracked.refresh()
    history = tracked.panel.history
    tracked.panel.form.tabs.setCurrentWidget(history)  # opening the tab loads the history
    tracked.wait(lambda: history.timeline.count() == 3)
    assert "2 changes: Description, Last Modified" in history.timeline.item(0).text()  # the form's labels and order
    assert "first seen" in history.timeline.item(2).text()
    # Newest two are compared at once; pick the oldest and newest instead.
    history.timeline.clearSelection()
    history.timeline.item(0).setSelected(True)
    history.timeline.item(2).setSelected(True)
    rows = {history.compare.item(r, 0).text(): (history.compare.item(r, 1).text(), history.compare.item(r, 2).text())
            for r in range(history.compare.rowCount())}
    assert rows["◆ Description"] == ("Payment Zoë's Bakery & Café", "Second edit")
    history.copy_button.click()
    assert "Description" in QGuiApplication.clipboard().text() and "Second edit" in QGuiApplication.clipboard().text()


def test_watch_checks_cheaply_and_reloads_only_on_change(tracked: Tracked, sandbox: Sandbox) -> None:
    tracked.load_tracked(tracked.url())
    sandbox.traffic.reset()
    assert tracked.run(tracked.watcher.check()) == "same"
    assert tracked.run(tracked.watcher.check()) == "same"
    demo = sandbox.store().demo
    sandbox.store().patch_payment(demo.payment_id, {"externalDocumentNumber": "EXT-42"})
    assert tracked.run(tracked.watcher.check()) == "changed"
    tracked.wait(lambda: "externalDocumentNumber" in tracked.model.changes())
    counts = sandbox.traffic.snapshot()
    payment = [n for path, n in counts["requests"].items() if path.endswith(f"customerPayments({demo.payment_id})")]
    assert sum(payment) == 4  # three cheap checks and one full load (plus the related records, once)
    assert max(counts["peak_in_flight"].values()) == 1


def test_watch_never_has_two_requests_in_flight_and_backs_off_on_429(tracked: Tracked, sandbox: Sandbox) -> None:
    tracked.load_tracked(tracked.url())
    sandbox.traffic.reset()
    sandbox.add_fault("latency", "customerPayments", latency_ms=300, count=1)

    async def two_at_once() -> list[str]:
        return list(await asyncio.gather(tracked.watcher.check(), tracked.watcher.check()))

    assert sorted(tracked.run(two_at_once())) == ["same", "skipped"]  # type: ignore[arg-type]
    assert max(sandbox.traffic.snapshot()["peak_in_flight"].values()) == 1
    sandbox.add_fault("status", "customerPayments", status=429, retry_after="7", count=3)
    results = [tracked.run(tracked.watcher.check()) for _ in range(3)]
    assert results == ["error"] * 3
    assert tracked.watcher.backoff >= 7 and "429" in tracked.watcher.status
    assert tracked.run(tracked.watcher.check()) == "same" and tracked.watcher.backoff == 0


def test_watch_sees_a_posted_journal_and_keeps_the_last_snapshot(tracked: Tracked, sandbox: Sandbox) -> None:
    tracked.load_tracked(tracked.url())
    demo = sandbox.store().demo
    gone: list[str] = []
    tracked.watcher.changed.connect(gone.append)
    sandbox.store().post_journal(demo.company_id, demo.journal_id)
    assert tracked.run(tracked.watcher.check()) == "gone"
    assert gone == ["gone"] and tracked.model.state == LoadState.GONE
    assert tracked.edit("amount").text() == "-1,622.52 USD" and "posted or deleted" in tracked.panel.banner_text.text()
    tracked.panel.form.copy_record("json")  # the last snapshot can still be copied
    assert '"amount": -1622.52' in QGuiApplication.clipboard().text()


def test_watch_pauses_while_hidden_and_resumes(tracked: Tracked) -> None:
    watcher = tracked.watcher
    watcher.start()
    tracked.run(asyncio.sleep(0.05))  # the watch task is sleeping on its interval now
    watcher.set_paused("window hidden", True)
    assert watcher.paused and "Paused" in watcher.status
    watcher.set_paused("window hidden", False)
    assert not watcher.paused and "Watching" in watcher.status
    watcher.interval = 1
    assert watcher.interval == 5  # the minimum


def test_corrupt_database_degrades_with_a_notice_and_still_tracks(sandbox: Sandbox, qloop: qasync.QEventLoop,
                                                                  qapp: QApplication, tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    store = SnapshotStore(path)
    assert store.notice
    t = Tracked(sandbox, qloop, store)
    try:
        t.load_tracked(t.url())
        assert "First time" in t.summary
        # A fresh database took the damaged one's place (which was moved aside), private like the first.
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and store.persistent
        assert list(tmp_path.glob("history.sqlite3.corrupt-*"))
    finally:
        t.close()
        store.close()


def test_watch_pauses_when_sign_in_is_lost_and_resumes_after(tracked: Tracked, sandbox: Sandbox) -> None:
    tracked.load_tracked(tracked.url())
    tracked.token = "not-a-token"  # the service now refuses us, and a silent refresh gives the same
    assert tracked.run(tracked.watcher.check()) == "error"
    assert tracked.watcher.paused and "sign in" in tracked.watcher.status
    assert sandbox.identity is not None
    tracked.token = sandbox.identity.issue_access_token()
    tracked.watcher.set_paused("signed out", False)  # what the app does when the identity comes back
    assert not tracked.watcher.paused and tracked.run(tracked.watcher.check()) == "same"
