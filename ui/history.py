"""The History tab: this payment's snapshots as a timeline; pick two to compare side by side; copy the diff."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.a11y import StatusLabel
from viewer import schema
from viewer.tasks import TaskSlot

if TYPE_CHECKING:
    from viewer.copying import Clip
    from viewer.snapshots import ChangeSet, Snapshot

SnapshotSource = Callable[[], Awaitable[list["Snapshot"]]]


class HistoryView(QWidget):
    """``copied(Clip)`` when a diff is copied; ``forgetRequested`` for "Forget history"."""

    copied = Signal(object)
    forgetRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyView")
        self.setAccessibleName("History")
        self.source: SnapshotSource | None = None
        self.snapshots: list[Snapshot] = []
        self._slot = TaskSlot("history")
        self._stale = True
        self.timeline = QListWidget()
        self.timeline.setObjectName("historyTimeline")
        self.timeline.setAccessibleName("Snapshots, newest first (select two to compare)")
        self.timeline.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.timeline.itemSelectionChanged.connect(self.compare_selected)
        self.compare = QTableWidget(0, 3)
        self.compare.setObjectName("historyCompare")
        self.compare.setAccessibleName("Comparison")
        self.compare.setHorizontalHeaderLabels(["Field", "Older", "Newer"])
        self.compare.verticalHeader().hide()
        self.compare.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.compare.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.compare.horizontalHeader().setStretchLastSection(True)
        self.compare.setWordWrap(False)
        self.info = StatusLabel("History status")  # its name is its text: a screen reader reads the comparison
        self.info.setText("Select two snapshots to compare them (Ctrl+click); one compares it with the one before.")
        self.info.setObjectName("historyInfo")
        self.info.setWordWrap(True)
        self.copy_button = QPushButton("Copy diff")
        self.copy_button.setAccessibleName("Copy diff")  # the visible words; the rest is the description
        self.copy_button.setAccessibleDescription("Copy the differences as text")
        self.copy_button.clicked.connect(self.copy_diff)
        self.refresh_button = QPushButton("Reload history")
        self.refresh_button.setAccessibleName("Reload history")
        self.refresh_button.clicked.connect(self.reload)
        self.forget_button = QPushButton("Forget history")
        self.forget_button.setObjectName("forgetHistory")
        self.forget_button.setAccessibleName("Forget history")
        self.forget_button.setAccessibleDescription("Forget all stored history")
        self.forget_button.clicked.connect(self.forgetRequested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.copy_button)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.forget_button)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.timeline)
        splitter.addWidget(self.compare)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.info)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)
        self._changes: ChangeSet | None = None
        self._pair: tuple[Snapshot, Snapshot] | None = None

    def reload(self) -> None:
        if self.source is None:
            return
        self._stale = False
        self._slot.start(self._reload(self.source))

    def follow(self) -> None:
        """The open payment changed or was reloaded: show its history now if visible, else when next shown.

        Never keeps another payment's snapshots on screen: a stale list is emptied at once.
        """
        if self.isVisible():
            self.reload()
        else:
            self._stale = True
            self._slot.cancel()
            self.show_snapshots([])

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.reload()

    async def _reload(self, source: SnapshotSource) -> None:
        self.show_snapshots(await source())

    def show_snapshots(self, snapshots: list[Snapshot]) -> None:
        from viewer.snapshots import diff

        self.snapshots = snapshots
        self.timeline.blockSignals(True)
        self.timeline.clear()
        for i, snap in enumerate(snapshots):
            older = snapshots[i + 1] if i + 1 < len(snapshots) else None
            when = snap.fetched_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
            if older is None:
                what = "first seen"
            else:
                names = diff(older.values, snap.values, api_version=snap.api_version).names()
                what = f"{len(names)} change{'s' if len(names) != 1 else ''}: {', '.join(sorted(names))}" if names \
                    else "no field changes"
            item = QListWidgetItem(f"{when} · {what}")
            item.setData(Qt.ItemDataRole.UserRole, i)
            item.setToolTip(f"ETag {snap.etag or '—'}")
            self.timeline.addItem(item)
        self.timeline.blockSignals(False)
        self.compare.setRowCount(0)
        if len(snapshots) >= 2:
            self.timeline.item(0).setSelected(True)
            self.timeline.item(1).setSelected(True)
        elif not snapshots:
            self.info.setText("No history for this payment yet (or history is turned off).")

    def compare_selected(self) -> None:
        rows = sorted(int(item.data(Qt.ItemDataRole.UserRole)) for item in self.timeline.selectedItems())
        if len(rows) == 1 and rows[0] + 1 < len(self.snapshots):
            rows.append(rows[0] + 1)
        if len(rows) < 2:
            return
        newer, older = self.snapshots[rows[0]], self.snapshots[rows[-1]]
        self.show_pair(older, newer)

    def show_pair(self, older: Snapshot, newer: Snapshot) -> None:
        from viewer.snapshots import diff

        changes = diff(older.values, newer.values, api_version=newer.api_version, old_etag=older.etag,
                       new_etag=newer.etag, since=older.fetched_at)
        self._changes, self._pair = changes, (older, newer)
        names = list(dict.fromkeys([*older.values, *newer.values]))
        self.compare.setRowCount(len(names))
        bold = QFont(self.font())
        bold.setBold(True)
        for row, name in enumerate(names):
            spec = schema.spec_for("customerPayment", newer.api_version, name)
            changed = name in changes.names()
            cells = [("◆ " if changed else "") + spec.label,
                     _text(older.values.get(name)), _text(newer.values.get(name))]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{name}: {text}")
                if changed:
                    item.setFont(bold)
                self.compare.setItem(row, column, item)
        when = (older.fetched_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                newer.fetched_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"))
        count = len(changes.names())
        self.info.setText(f"{when[0]} → {when[1]}: {count} field{'s' if count != 1 else ''} changed (marked ◆).")

    def copy_diff(self) -> None:
        from viewer.copying import Clip

        if self._changes is None or self._pair is None:
            return
        older, newer = self._pair
        labels = {n: schema.spec_for("customerPayment", newer.api_version, n).label for n in self._changes.names()}
        header = (f"{older.fetched_at.astimezone().strftime('%Y-%m-%d %H:%M:%S')} → "
                  f"{newer.fetched_at.astimezone().strftime('%Y-%m-%d %H:%M:%S')}\n")
        clip: Clip = Clip(text=header + (self._changes.as_text(labels) or "No field changes."), label="the diff")
        self.copied.emit(clip)


def _text(value: object) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else schema.raw_text(value)
