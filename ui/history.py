"""The History tab: this payment's snapshots as a timeline; pick two to compare side by side; copy the diff.

The comparison reads like the form: its fields in the form's order (``viewer.schema.describe``: groups, then schema
order, then unknown fields), with its labels and its locale formatting; whole values, wrapped, with a tooltip giving
the raw value (and UTC for date-times).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QLocale, Qt, Signal
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

ENTITY = "customerPayment"


@dataclass(frozen=True)
class DiffRow:
    name: str
    label: str
    older: str  # as the form shows it ("—" when the snapshot lacks the field)
    newer: str
    older_tip: str
    newer_tip: str
    changed: bool


def _shown(values: Mapping[str, Any], api_version: str, locale: QLocale) -> dict[str, schema.DisplayField]:
    """The form's view of ``values``, in the form's order (dicts keep insertion order)."""
    return {item.spec.name: item for item in schema.describe(ENTITY, api_version, values, locale)}


def _cell(item: schema.DisplayField | None) -> tuple[str, str]:
    """(text, tooltip) of one value: the form's display ("(blank)" for a blank), the raw value behind it."""
    if item is None:
        return "—", "not in this snapshot"
    text = "(blank)" if item.blank else item.display
    tip = f"{item.spec.name}: {item.raw_text}" + (f" (UTC {item.utc})" if item.utc else "")
    return text, tip


def diff_rows(older: Snapshot, newer: Snapshot, changed: set[str], locale: QLocale) -> list[DiffRow]:
    """Every field of either snapshot, in the form's order (the newer snapshot's, then fields only the older had)."""
    new_view = _shown(newer.values, newer.api_version, locale)
    old_view = _shown(older.values, older.api_version, locale)
    names = [*new_view, *(name for name in old_view if name not in new_view)]
    rows = []
    for name in names:
        label = (new_view.get(name) or old_view[name]).spec.label
        (old_text, old_tip), (new_text, new_tip) = _cell(old_view.get(name)), _cell(new_view.get(name))
        rows.append(DiffRow(name, label, old_text, new_text, old_tip, new_tip, name in changed))
    return rows


def changed_labels(names: set[str], values: Mapping[str, Any], api_version: str, locale: QLocale) -> list[str]:
    """The labels of ``names``, in the form's order (no value is formatted: only the order and labels are needed)."""
    if not names:
        return []
    known = [spec.name for spec in schema.ordered_fields(ENTITY, api_version) if spec.name in names]
    ordered = known + [name for name in values if name in names and name not in known]
    ordered += sorted(names - set(ordered))
    return [schema.spec_for(ENTITY, api_version, name).label for name in ordered]


class HistoryView(QWidget):
    """``copied(Clip)`` when a diff is copied; ``forgetRequested`` for "Forget history"."""

    copied = Signal(object)
    forgetRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyTab")
        self.setAccessibleName("History")
        self.source: SnapshotSource | None = None
        self.value_locale = QLocale()  # the form's (system) locale, as PaymentModel(locale=QLocale())
        self.snapshots: list[Snapshot] = []
        self._slot = TaskSlot("history")
        self._stale = True
        self.timeline = QListWidget()
        self.timeline.setObjectName("historyList")
        self.timeline.setWordWrap(True)  # a long "what changed" wraps instead of being cut
        self.timeline.setAccessibleName("Snapshots, newest first (select two to compare)")
        self.timeline.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.timeline.itemSelectionChanged.connect(self.compare_selected)
        self.compare = QTableWidget(0, 3)
        self.compare.setObjectName("historyDiff")
        self.compare.setAccessibleName("Comparison")
        self.compare.setHorizontalHeaderLabels(["Field", "Older", "Newer"])
        self.compare.verticalHeader().hide()
        self.compare.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # Whole values: the two value columns share the width and wrap (rows grow to fit), never cut short.
        header = self.compare.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.sectionResized.connect(lambda *_: self.compare.resizeRowsToContents())
        self.compare.setWordWrap(True)
        self.compare.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.compare.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
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
        self._rows: list[DiffRow] = []

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
                labels = changed_labels(names, snap.values, snap.api_version, self.value_locale)
                what = f"{len(names)} change{'s' if len(names) != 1 else ''}: {', '.join(labels)}" if names \
                    else "no field changes"
            item = QListWidgetItem(f"{when} · {what}")
            item.setData(Qt.ItemDataRole.UserRole, i)
            item.setToolTip(f"{when} · {what}\nETag {snap.etag or '—'}")
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
        self._rows = diff_rows(older, newer, changes.names(), self.value_locale)
        self.compare.setRowCount(len(self._rows))
        bold = QFont(self.font())
        bold.setBold(True)
        for row, line in enumerate(self._rows):
            cells = [(("◆ " if line.changed else "") + line.label, line.name),
                     (line.older, line.older_tip), (line.newer, line.newer_tip)]
            for column, (text, tip) in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{text}\n{tip}" if column else tip)
                if line.changed:
                    item.setFont(bold)
                self.compare.setItem(row, column, item)
        self.compare.resizeRowsToContents()
        when = (older.fetched_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                newer.fetched_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"))
        count = len(changes.names())
        self.info.setText(f"{when[0]} → {when[1]}: {count} field{'s' if count != 1 else ''} changed (marked ◆).")

    def copy_diff(self) -> None:
        from viewer.copying import Clip
        from viewer.snapshots import ETAG

        if self._changes is None or self._pair is None:
            return
        older, newer = self._pair
        header = (f"{older.fetched_at.astimezone().strftime('%Y-%m-%d %H:%M:%S')} → "
                  f"{newer.fetched_at.astimezone().strftime('%Y-%m-%d %H:%M:%S')}\n")
        # What the table shows, changed rows only: the form's labels, order and formatting.
        lines = [f"{row.label}: {row.older} → {row.newer}" for row in self._rows if row.changed]
        if etag := self._changes.get(ETAG):
            lines.append(f"ETag: {etag.old} → {etag.new}")
        clip: Clip = Clip(text=header + ("\n".join(lines) or "No field changes."), label="the diff")
        self.copied.emit(clip)

