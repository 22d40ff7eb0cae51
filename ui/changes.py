"""Change tracking in the window: the history store, Watch, the tray, the summary line and the History tab.

One piece (split out of the controller): everything here reads the load service's ``Loaded`` through the payment
model, so the form's marks, the summary, the status bar, the screen-reader announcement and the History tab all
come from the same ``ChangeSet`` (docs/ARCHITECTURE.md, "Who owns what").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QLocale, QObject

from viewer.loading import Loaded, PaymentService, Record
from viewer.models.payment import LoadState, PaymentModel
from viewer.paths import write_private
from viewer.settings import HISTORY_ENABLED, WATCH_INTERVAL, Settings
from viewer.tasks import TaskSet, TaskSlot
from viewer.tracking import summary_text
from viewer.watch import Watcher, WatchResult

if TYPE_CHECKING:
    from ui.main_window import MainWindow


class ChangeTracking(QObject):
    """Owns the snapshot store's life, the watcher and the History actions of the window."""

    def __init__(self, window: MainWindow, model: PaymentModel, service: PaymentService, settings: Settings,
                 reload: Callable[[], Awaitable[object]], tasks: TaskSet) -> None:
        super().__init__(window)
        self.window = window
        self.model = model
        self.service = service
        self.settings = settings
        self.tasks = tasks
        self.locale = QLocale()
        self.summary = ""
        self._tray: Any = None
        self._switch = TaskSlot("history on/off")
        enabled = bool(settings.get(HISTORY_ENABLED))
        # In memory until open_store() has opened the file off the GUI thread (opening may migrate or move a
        # damaged file aside); nothing is loaded before then.
        from viewer.snapshots import SnapshotStore

        service.store = SnapshotStore(None, enabled=enabled)
        panel = window.payment
        model.changesChanged.connect(self._on_loaded)
        model.stateChanged.connect(self._on_state)
        panel.ack_button.clicked.connect(self.acknowledge)
        panel.history.source = lambda: service.history(self._shown_record())
        panel.history.forgetRequested.connect(lambda: self.tasks.spawn(self.forget()))

        self.watcher = Watcher(service, self._watchable, reload, interval=float(settings.get(WATCH_INTERVAL)),
                               parent=self)
        row = panel.watch_interval.findData(int(self.watcher.interval))
        if row >= 0:
            panel.watch_interval.setCurrentIndex(row)
        panel.watch_button.toggled.connect(lambda on: self.watcher.start() if on else self.watcher.stop())
        panel.watch_interval.currentIndexChanged.connect(self._watch_interval)
        self.watcher.statusChanged.connect(panel.set_watch_status)
        self.watcher.changed.connect(self._watched_change)
        self.watcher.unchanged.connect(panel.note_checked)
        window.visibleChanged.connect(lambda shown: self.watcher.set_paused("window hidden", not shown))

        window.keep_history_action.setChecked(enabled)
        window.keep_history_action.toggled.connect(self.keep_history)
        window.forgetHistoryRequested.connect(lambda: self.tasks.spawn(self.forget()))
        window.exportRequested.connect(self.export_json)

    @property
    def store(self) -> Any:
        return self.service.store

    async def open_store(self) -> None:
        from viewer.snapshots import SnapshotStore, default_path

        # Indexed as it opens: which payments have history, so opening one that has none reads nothing
        # (viewer/loading.py). A load meanwhile waits for it only to compare.
        enabled = self.service.store.enabled
        store = await self.service.open_store(lambda: SnapshotStore(default_path(), enabled=enabled))
        if notice := store.take_notice():
            self.window.statusBar().showMessage(notice, 15000)

    def _shown_record(self) -> Record | None:
        model = self.model
        return None if model.showing_other else model.record

    def _watchable(self) -> Record | None:
        """What Watch checks: the payment on screen, when no load is in flight and it is not gone."""
        if self.model.state in (LoadState.LOADING, LoadState.GONE, LoadState.EMPTY):
            return None
        return self.model.record

    # ---- what changed -----------------------------------------------------------------------------------

    def _on_loaded(self, loaded: Loaded) -> None:
        text = summary_text(loaded, datetime.now(UTC), self.locale)
        self._say(text)
        self.window.payment.history.follow()
        if notice := self.service.take_notice():
            self.window.statusBar().showMessage(notice, 15000)

    def _on_state(self, state: LoadState) -> None:
        # Loading another payment changes nothing here until it arrives (its Loaded replaces the summary): clearing
        # the line now would re-lay the whole panel out twice per click. Only when nothing of this payment is left
        # on screen do the summary and the History tab let go of it.
        if state is LoadState.EMPTY or (state in (LoadState.GONE, LoadState.FAILED) and self.model.record is None):
            self._say("")
            self.window.payment.history.follow()
        elif state in (LoadState.GONE, LoadState.FAILED):
            self.window.payment.history.follow()

    def acknowledge(self) -> None:
        self.model.clear_changes()
        self._say("")

    def _say(self, text: str) -> None:
        self.summary = text
        self.window.payment.show_summary(text, marks=bool(self.model.changes()))

    # ---- watch --------------------------------------------------------------------------------------------

    def _watch_interval(self, _row: int) -> None:
        seconds = int(self.window.payment.watch_interval.currentData())
        self.watcher.interval = seconds
        self.settings.set(WATCH_INTERVAL, seconds)

    def _watched_change(self, kind: str) -> None:
        """A desktop notification where there is a tray; the status bar otherwise. Same words as the form."""
        record = self.model.record
        name = f"Payment {record.values.get('documentNumber') or ''}".strip() if record else "The payment"
        text = (f"{name} changed: {self.summary}" if kind == WatchResult.CHANGED
                else f"{name} is no longer in the journal — probably posted or deleted.")
        self.window.statusBar().showMessage(text, 15000)
        from PySide6.QtWidgets import QSystemTrayIcon

        if QSystemTrayIcon.isSystemTrayAvailable():
            if self._tray is None:
                self._tray = QSystemTrayIcon(self.window.windowIcon(), self.window)
                self._tray.show()
            self._tray.showMessage("BC Payment Viewer", text)

    # ---- history actions ------------------------------------------------------------------------------------

    def keep_history(self, on: bool) -> None:
        self.settings.set(HISTORY_ENABLED, on)
        # Off the GUI thread both ways: turning it on opens the file, and either way the store's lock may be held by
        # a snapshot write. One slot, so quick toggles end in the last choice.
        self._switch.start(asyncio.to_thread(setattr, self.service.store, "enabled", on))
        self.window.statusBar().showMessage(
            "History is kept (in the app-data folder, readable only by you)." if on
            else "History is off: nothing new is stored; changes since the last refresh are still marked.", 10000)

    async def forget(self) -> None:
        await self.service.forget()
        self.window.payment.history.show_snapshots([])
        self.window.statusBar().showMessage("History forgotten: no snapshots are kept on this computer now.", 10000)

    def export_json(self) -> None:
        """Save the payment as received (without annotations) — also after it was posted and is gone."""
        from PySide6.QtWidgets import QFileDialog

        record = self._shown_record()
        if record is None:
            return
        dialog = QFileDialog(self.window, "Export payment as JSON")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("JSON (*.json)")
        dialog.setDefaultSuffix("json")
        dialog.selectFile(f"payment-{record.values.get('documentNumber') or record.values.get('id')}.json")

        dialog.fileSelected.connect(lambda path: self.tasks.spawn(self._export(Path(path), record.as_json() + "\n")))
        dialog.open()  # not exec(): no nested event loop inside the qasync loop

    async def _export(self, path: Path, text: str) -> None:
        """Written off the GUI thread (a network drive may take its time); a refusal is a message, not a crash."""
        try:
            await asyncio.to_thread(write_private, path, text)  # 0600, like every file the app writes
        except OSError as exc:
            self.window.statusBar().showMessage(f"Could not save {path}: {exc.strerror or exc}", 15000)
            return
        self.window.statusBar().showMessage(f"Saved {path}", 10000)

    async def aclose(self) -> None:
        await self.watcher.aclose()
        await self.service.aclose()
        self.service.store.close()
