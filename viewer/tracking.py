"""What changed: every payment load becomes a snapshot; the diff against the previous one feeds the model's
change roles (since the last refresh in this run, or since your previous visit in an earlier run).

The model only carries the marks; the form only renders them. sqlite work runs off the GUI thread.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QLocale, QObject, Signal

from viewer.snapshots import ChangeSet, Snapshot, SnapshotKey, SnapshotStore, diff

if TYPE_CHECKING:
    from viewer.models.payment import PaymentModel, PaymentRecord

logger = logging.getLogger(__name__)


def when_text(moment: datetime, now: datetime, locale: QLocale) -> str:
    """"today 14:02", "yesterday 14:02", or the locale's date and time — in local time."""
    local, today = moment.astimezone(), now.astimezone()
    clock = local.strftime("%H:%M")
    if local.date() == today.date():
        return f"today {clock}"
    if local.date() == (today - timedelta(days=1)).date():
        return f"yesterday {clock}"
    from PySide6.QtCore import QDate

    from viewer.schema import date_format

    day = locale.toString(QDate(local.year, local.month, local.day), date_format(locale))
    return f"{day} {clock}"


def summary_text(changes: ChangeSet, kind: str, older: Snapshot | None, now: datetime, locale: QLocale) -> str:
    if older is None:
        return "First time you open this payment here: changes will be marked from now on."
    when = when_text(older.fetched_at, now, locale)
    count = len(changes.names())
    if not count:
        return f"No changes since {'the last refresh' if kind == 'refresh' else 'your last visit'} ({when})."
    fields = "1 field" if count == 1 else f"{count} fields"
    return f"{fields} changed since {'the last refresh' if kind == 'refresh' else 'your last visit'} ({when})."


class ChangeTracker(QObject):
    """Listens to the payment model's loads; stores snapshots; marks changes; says so in one line."""

    summaryChanged = Signal(str)
    notice = Signal(str)

    def __init__(self, model: PaymentModel, store: SnapshotStore, *, started_at: datetime | None = None,
                 locale: QLocale | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.store = store
        self.started_at = started_at or datetime.now(UTC)
        self.locale = locale or QLocale()
        self.summary = ""
        self._last: dict[SnapshotKey, Snapshot] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._generation = 0
        model.loaded.connect(self._on_loaded)
        model.stateChanged.connect(self._on_state)

    def _on_loaded(self, record: PaymentRecord) -> None:
        self._generation += 1
        task = asyncio.ensure_future(self.track(record, self._generation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_state(self, _state: object) -> None:
        if self.model.record is None and self.summary:
            self._say("")

    async def track(self, record: PaymentRecord, generation: int | None = None) -> ChangeSet:
        key = SnapshotKey.from_url(record.url)
        if key is None:
            return ChangeSet()
        snap = Snapshot(key=key, fetched_at=record.fetched_at.astimezone(UTC), etag=record.etag,
                        values=dict(record.values), api_version=record.api_version)
        older = self._last.get(key)
        kind = "refresh"
        if older is None:
            kind = "visit"
            older = await asyncio.to_thread(self.store.before, key, self.started_at)
        changes = ChangeSet()
        if older is not None:
            changes = diff(older.values, snap.values, api_version=record.api_version, old_etag=older.etag,
                           new_etag=snap.etag, since=older.fetched_at)
        try:
            stored = await asyncio.to_thread(self.store.add, snap)
        except Exception as exc:  # history is a convenience: it must never break viewing
            logger.warning("could not store a snapshot: %s", exc)
            stored = snap
        self._last[key] = stored
        if generation is not None and generation != self._generation:
            return changes  # a newer load already took over the marks
        if self.model.record is not record:
            return changes
        marks = {c.name: (c.old, c.new) for c in changes.changes if c.name != "@odata.etag"}
        self.model.set_changes(marks, kind, older.fetched_at if older else None)
        self._say(summary_text(changes, kind, older, datetime.now(UTC), self.locale))
        if self.store.notice:
            self.notice.emit(self.store.notice)
        return changes

    def acknowledge(self) -> None:
        self.model.clear_changes()
        self._say("")

    async def history(self, record: PaymentRecord | None = None) -> list[Snapshot]:
        record = record or self.model.record
        key = SnapshotKey.from_url(record.url) if record is not None else None
        if key is None:
            return []
        return await asyncio.to_thread(self.store.history, key)

    async def forget(self) -> None:
        await asyncio.to_thread(self.store.forget, None)
        self._last.clear()

    async def aclose(self) -> None:
        """Let snapshot writes in flight finish (the store closes right after)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _say(self, text: str) -> None:
        self.summary = text
        self.summaryChanged.emit(text)
