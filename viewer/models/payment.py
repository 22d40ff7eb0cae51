"""One record as a Qt model: a row per field, columns Field | Value, roles for everything else.

A thin adapter (docs/ARCHITECTURE.md): ``load(url)`` awaits the load service (viewer/loading.py) and applies the
answer; the model keeps no task, no generation, no diff and no snapshot of its own. Which load still matters is
decided by the caller's ``TaskSlot`` (viewer/tasks.py). When a load fails, the last good data of the same record
stays, marked stale (or gone, for a 404), and ``failed`` says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from PySide6.QtCore import (
    SIGNAL,
    QAbstractTableModel,
    QLocale,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from viewer import odata, schema
from viewer.errors import NotFound, ViewerError
from viewer.fields import ETAG_NAME, FieldView, etag_view, field_view
from viewer.jsondata import same_json
from viewer.loading import ChangeKind, Loaded, PaymentRecord, PaymentService, Record, api_version_of
from viewer.schema import FieldSpec
from viewer.snapshots import ChangeSet
from viewer.tasks import TaskSlot

__all__ = ["LoadState", "PaymentModel", "PaymentRecord", "Record", "RecordModel", "api_version_of"]

Index = QModelIndex | QPersistentModelIndex

JsonNameRole = Qt.ItemDataRole.UserRole + 10
KindRole = Qt.ItemDataRole.UserRole + 11
RawRole = Qt.ItemDataRole.UserRole + 12
GroupRole = Qt.ItemDataRole.UserRole + 13
BlankRole = Qt.ItemDataRole.UserRole + 14
ChangedRole = Qt.ItemDataRole.UserRole + 15  # bool: changed since the previous load or the previous visit
PreviousRole = Qt.ItemDataRole.UserRole + 16  # the old value, formatted like the new one ("" when unchanged)
LabelRole = Qt.ItemDataRole.UserRole + 17
ValueRole = Qt.ItemDataRole.UserRole + 18  # the JSON value itself
ChangeKindRole = Qt.ItemDataRole.UserRole + 19  # "refresh" (since the last load), "visit" (since an earlier run) or ""
SinceRole = Qt.ItemDataRole.UserRole + 20  # datetime of the older snapshot, or None
CHANGE_ROLES = [ChangedRole, PreviousRole, ChangeKindRole, SinceRole]
_DATA_CHANGED = SIGNAL("dataChanged(QModelIndex,QModelIndex,QList<int>)")  # for asking whether any view listens


# How long a load runs before the views hear it is loading, when a record is on screen (one 60 Hz frame).
LOADING_SAID_AFTER_MS = 16


class LoadState(Enum):
    EMPTY = "empty"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"  # last good data (if any) kept, stale
    GONE = "gone"  # 404: last good data kept, marked as no longer there


@dataclass(frozen=True)
class FieldChange:
    kind: ChangeKind  # REFRESH or VISIT
    previous: str  # the old value for people ("(blank)" for a blank)
    previous_raw: Any
    since: datetime | None


def _changed_roles(old: FieldView, new: FieldView) -> list[int]:
    roles: list[int] = []
    if old.display != new.display or old.accessible != new.accessible:
        roles += [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole]
    if old.raw != new.raw or old.utc != new.utc:
        roles += [RawRole, Qt.ItemDataRole.ToolTipRole]
    if old.value != new.value:
        roles.append(ValueRole)
    if old.blank != new.blank:
        roles.append(BlankRole)
    return roles


class RecordModel(QAbstractTableModel):
    """Fields of one Business Central record (``entity`` in the schema's terms), optionally only ``only``.

    Views bind to it; they keep no record data of their own. ``PaymentModel`` is the payment's; the related
    panels (customer, invoice, journal) use plain ``RecordModel`` instances.
    """

    stateChanged = Signal(object)  # LoadState
    failed = Signal(object)  # ViewerError
    loaded = Signal(object)  # Record
    factsChanged = Signal(object)  # ResponseFacts
    # list[int]: the rows whose values or change marks changed, once per change, after each row's dataChanged. The
    # payment form follows this one signal rather than a dataChanged per row: a payment changes a dozen rows at once,
    # and each Python slot call costs more than the row's update itself (README "Performance").
    rowsChanged = Signal(object)

    COLUMNS = ("Field", "Value")

    def __init__(self, service: PaymentService | None = None, *, locale: QLocale | None = None,
                 entity: str = "customerPayment", only: tuple[str, ...] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.entity = entity
        self.only = only
        self.service = service or PaymentService()
        self.locale = locale or QLocale()
        self.record: Record | None = None
        self.state = LoadState.EMPTY
        self._loading_unsaid = False  # LOADING is set and its stateChanged not emitted yet (begin)
        self.error: ViewerError | None = None
        # One row per field: its view, built when first asked for (None until then: a load formats only what is
        # shown, and the form shows the values on screen first, ui/payment_form.py), from the field's spec and raw
        # value; the ETag's row, last, is built at once.
        self._fields: list[FieldView | None] = []
        self._specs: list[FieldSpec] = []
        self._raws: list[Any] = []
        self._names: list[str] = []
        self._rows: dict[str, int] = {}
        self._changes: dict[str, FieldChange] = {}
        self.url: str | None = None

    # ---- Qt model API --------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._fields)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < 2:
            return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._fields) or index.column() > 1:
            return None
        f = self._view(index.row())
        if role == Qt.ItemDataRole.DisplayRole:
            return f.label if index.column() == 0 else f.display
        if role == Qt.ItemDataRole.ToolTipRole:
            if index.column() == 0:
                return f"{f.json_name} ({f.type_name})"
            return f.value_description
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f.accessible
        if role == LabelRole:
            return f.label
        if role == JsonNameRole:
            return f.json_name
        if role == KindRole:
            return f.kind
        if role == RawRole:
            return f.raw
        if role == ValueRole:
            return f.value
        if role == GroupRole:
            return f.group
        if role == BlankRole:
            return f.blank
        change = self._changes.get(f.json_name)
        if role == ChangedRole:
            return change is not None
        if role == PreviousRole:
            return change.previous if change else ""
        if role == ChangeKindRole:
            return change.kind.value if change else ""
        if role == SinceRole:
            return change.since if change else None
        return None

    def field_row(self, json_name: str) -> int:
        return self._rows.get(json_name, -1)

    def field(self, json_name: str) -> FieldView | None:
        row = self._rows.get(json_name)
        return self._view(row) if row is not None else None

    def field_at(self, row: int) -> FieldView | None:
        return self._view(row) if 0 <= row < len(self._fields) else None

    def name_at(self, row: int) -> str | None:
        """The JSON name of ``row``'s field, without building its view."""
        return self._names[row] if 0 <= row < len(self._names) else None

    def _view(self, row: int) -> FieldView:
        view = self._fields[row]
        if view is None:
            view = self._fields[row] = field_view(self._specs[row], self._raws[row], self.locale)
        return view

    def change_of(self, json_name: str) -> FieldChange | None:
        return self._changes.get(json_name)

    def fields(self) -> list[FieldView]:
        return [self._view(row) for row in range(len(self._fields))]

    # ---- loading -------------------------------------------------------------------------------

    @property
    def stale(self) -> bool:
        return self.record is not None and self.state in (LoadState.FAILED, LoadState.GONE, LoadState.LOADING)

    @property
    def showing_other(self) -> bool:
        """Loading another record while the previous one is still on screen (dimmed by the views)."""
        return self.record is not None and self.state == LoadState.LOADING and self.record.url != self.url

    def load_in(self, slot: TaskSlot, url: str) -> asyncio.Task[Loaded | ViewerError]:
        """Load ``url`` through ``slot`` (latest wins): marked as loading now, shown when the answer comes — unless a
        newer load replaced this one by then. The usual way to load (viewer/tasks.py says why answers are dropped
        rather than requests interrupted).

        Until the answer comes, the previous values stay on screen (views dim them when they belong to another
        record, if that takes long); nothing is cleared, so nothing flickers.
        """
        self.begin(url)
        return slot.start(self.fetch(url), then=lambda outcome: self.deliver(url, outcome))

    def load(self, url: str) -> Coroutine[Any, Any, Record | None]:
        """Load ``url`` and show it, with no other load around (tests, one-off loads): ``await model.load(url)``."""
        self.begin(url)

        async def load() -> Record | None:
            return self.deliver(url, await self.fetch(url))

        return load()

    def begin(self, url: str) -> None:
        self.url = url
        self.error = None
        if self.state != LoadState.LOADING:
            # LOADING at once, said later: with nothing on screen on Qt's next pass, after the load's first steps
            # (ui/loop.py) have sent the request, so the views can show that something is coming; with a record on
            # screen one frame later, which a load that answers within a frame never reaches (its READY replaces it
            # unsaid). The views' reactions to LOADING (the slow-load timer, the title, the checks) change nothing
            # visible for a young load, and run while the server works, which on a busy machine delays the answer's
            # handling (README "Performance").
            self.state = LoadState.LOADING
            self._loading_unsaid = True
            # (self: nothing is said by a model already gone)
            QTimer.singleShot(0 if self.record is None else LOADING_SAID_AFTER_MS, self, self._say_loading)

    def _say_loading(self) -> None:
        if self._loading_unsaid:  # (any state set since has cleared it: _set_state)
            self._loading_unsaid = False
            self.stateChanged.emit(LoadState.LOADING)

    async def fetch(self, url: str) -> Loaded | ViewerError:
        """The answer for ``url``; failures are returned, not raised (they are shown like answers)."""
        try:
            return await self._fetch(url)
        except ViewerError as exc:
            return exc

    def deliver(self, url: str, outcome: Loaded | ViewerError) -> Record | None:
        if isinstance(outcome, ViewerError):
            self._fail(url, outcome)
            return None
        self.apply(outcome)
        return outcome.record

    async def _fetch(self, url: str) -> Loaded:
        record = await self.service.fetch(url)
        return Loaded(record, ChangeSet(), ChangeKind.FIRST)

    def refresh_in(self, slot: TaskSlot) -> asyncio.Task[Loaded | ViewerError] | None:
        return self.load_in(slot, self.url) if self.url else None

    def refresh(self) -> Coroutine[Any, Any, Record | None] | None:
        return self.load(self.url) if self.url else None

    def cancelled(self) -> None:
        """The load in flight was cancelled with nothing after it: show what is there as it was."""
        if self.state == LoadState.LOADING:
            if self.record is not None and self.record.url != self.url:
                self.url = self.record.url
            self._set_state(LoadState.READY if self.record else LoadState.EMPTY)

    def clear(self) -> None:
        self.url = None
        self.error = None
        self._set_record(None, {})
        self._set_state(LoadState.EMPTY)

    def _fail(self, url: str, exc: ViewerError) -> None:
        self.error = exc  # first: views asked to redraw below already see that this load failed
        if self.record is not None and self.record.url != url:
            # Another record failed: never show the previous one as if it were this one.
            self._set_record(None, {})
        self._set_state(LoadState.GONE if isinstance(exc, NotFound) else LoadState.FAILED)
        self.failed.emit(exc)

    def apply(self, loaded: Loaded) -> None:
        """Show ``loaded``: values and change marks in one pass, only the changed roles of the changed rows."""
        record = loaded.record
        self.error = None
        self.url = record.url
        self._set_record(record, self._marks(loaded))
        self._set_state(LoadState.READY)
        self.factsChanged.emit(record.facts)
        self.loaded.emit(record)

    def _marks(self, loaded: Loaded) -> dict[str, FieldChange]:
        """The marks ``loaded``'s ChangeSet gives each field (none for a first load)."""
        if loaded.kind is ChangeKind.FIRST or not loaded.changes:
            return {}
        version = loaded.record.api_version
        marks: dict[str, FieldChange] = {}
        for change in loaded.changes.changes:
            if change.name == odata.ETAG:
                continue
            spec = schema.spec_for(self.entity, version, change.name)
            shown = schema.format_value(spec, change.old, self.locale)
            marks[change.name] = FieldChange(loaded.kind, "(blank)" if shown.blank else shown.display, change.old,
                                             loaded.since)
        return marks

    def _set_record(self, record: Record | None, marks: dict[str, FieldChange]) -> None:
        values = self._shown(record.values) if record is not None else {}
        specs = schema.specs_of(self.entity, record.api_version, values) if record is not None else []
        raws = [values[spec.name] for spec in specs]
        etag = record.etag if record is not None and self.only is None else None
        names = [spec.name for spec in specs] + ([ETAG_NAME] if etag else [])
        # The same fields of the same API version: rows stay, and a value that did not change keeps its view (built
        # or not); the others are built when asked for (the entity and the locale are the model's own).
        same = bool(names) and names == self._names and self.record is not None and record is not None and (
            self.record.api_version == record.api_version)
        if not same:
            reset = names != self._names or self._changes != marks or bool(self._fields)
            if reset:
                self.beginResetModel()
            self._adopt(record, specs, raws, names, [None] * len(specs) + ([etag_view(etag)] if etag else []), marks)
            if reset:
                self.endResetModel()
            return
        old_fields, old_marks = self._fields, self._changes
        kept = [same_json(old, new) for old, new in zip(self._raws, raws, strict=True)]
        fields: list[FieldView | None] = [old_fields[row] if keep else None for row, keep in enumerate(kept)]
        if etag:
            old_etag = old_fields[-1]
            kept.append(old_etag is not None and old_etag.value == etag)
            fields.append(old_etag if kept[-1] else etag_view(etag))
        # Row by row, role by role, only for views that listen (a table view, QAbstractItemModelTester): the form
        # follows rowsChanged alone, and working out a payment's roles and signals costs ~0.2 ms a click.
        per_role = self.receivers(_DATA_CHANGED) > 0
        olds = [self._view(row) for row in range(len(old_fields))] if per_role else []
        self._adopt(record, specs, raws, names, fields, marks)
        rows: list[int] = []
        for row, name in enumerate(names):
            marks_changed = old_marks.get(name) != marks.get(name)
            if not per_role:
                if marks_changed or not kept[row]:
                    rows.append(row)
                continue
            roles = [] if kept[row] else _changed_roles(olds[row], self._view(row))
            if marks_changed:
                roles += CHANGE_ROLES
            if roles:
                # Only the roles that changed; the label column only when its change mark did.
                # (createIndex: these rows exist; index() would ask rowCount and columnCount each time)
                self.dataChanged.emit(self.createIndex(row, 0 if marks_changed else 1), self.createIndex(row, 1),
                                      roles)
                rows.append(row)
        if rows:
            self.rowsChanged.emit(rows)

    def _adopt(self, record: Record | None, specs: list[FieldSpec], raws: list[Any], names: list[str],
               fields: list[FieldView | None], marks: dict[str, FieldChange]) -> None:
        self.record = record
        self._specs, self._raws, self._fields, self._changes = specs, raws, fields, marks
        if names != self._names:
            self._names = names
            self._rows = {name: row for row, name in enumerate(names)}

    # ---- change marks (from the load service's ChangeSet; the form only renders them) ----------------

    def clear_changes(self) -> None:
        """The user acknowledged the marks."""
        before, self._changes = self._changes, {}
        rows = [row for row, name in enumerate(self._names) if name in before]
        for row in rows:
            self.dataChanged.emit(self.index(row, 0), self.index(row, 1), CHANGE_ROLES)
        if rows:
            self.rowsChanged.emit(rows)

    def changes(self) -> dict[str, FieldChange]:
        return dict(self._changes)

    def _shown(self, values: dict[str, Any]) -> dict[str, Any]:
        if self.only is None:
            return values
        return {name: values[name] for name in self.only if name in values}

    def _set_state(self, state: LoadState) -> None:
        if state != self.state:
            self.state = state
            self._loading_unsaid = False
            self.stateChanged.emit(state)


class PaymentModel(RecordModel):
    """The payment's fields (every field its API version returns, plus the ETag), with change marks."""

    changesChanged = Signal(object)  # Loaded: emitted with every payment load, after the marks are applied

    def __init__(self, service: PaymentService | None = None, *, locale: QLocale | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(service, locale=locale, entity="customerPayment", parent=parent)

    async def _fetch(self, url: str) -> Loaded:
        return await self.service.load(url)

    def apply(self, loaded: Loaded) -> None:
        super().apply(loaded)
        self.changesChanged.emit(loaded)

