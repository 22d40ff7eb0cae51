"""One payment as a Qt model: a row per field, columns Field | Value, roles for everything else.

``load(url)`` is latest-wins: a newer load cancels the older one and a late answer is dropped. When a
load fails, the last good data stays, marked stale (or gone, for a 404), and ``failed`` says why.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QLocale, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from viewer import schema
from viewer.errors import NotFound, ViewerError
from viewer.fields import FieldView, field_views

if TYPE_CHECKING:  # type-only: keeps httpx/msal out of the window's start-up imports
    from viewer.client import BcClient, ResponseFacts


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


class LoadState(Enum):
    EMPTY = "empty"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"  # last good data (if any) kept, stale
    GONE = "gone"  # 404: last good data kept, marked as no longer there


@dataclass(frozen=True)
class FieldChange:
    kind: str  # "refresh" or "visit"
    previous: str  # the old value for people ("(blank)" for a blank)
    previous_raw: Any
    since: datetime | None


@dataclass(frozen=True)
class PaymentRecord:
    """A payment as received: field values (annotations removed), ETag, the URL and the facts."""

    url: str
    values: dict[str, Any]
    etag: str | None
    facts: ResponseFacts
    api_version: str

    @property
    def fetched_at(self) -> datetime:
        return self.facts.fetched_at

    def as_json(self) -> str:
        return json.dumps(self.values, ensure_ascii=False, indent=2)


def api_version_of(url: str) -> str:
    for part in url.split("/"):
        if part in ("v2.0", "v1.0", "beta"):
            return part
    return "v2.0"


def strip_annotations(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not k.startswith("@odata.")}


def _changed_roles(old: FieldView, new: FieldView) -> list[int]:
    roles: list[int] = []
    if old.display != new.display:
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
    loaded = Signal(object)  # PaymentRecord
    factsChanged = Signal(object)  # ResponseFacts

    COLUMNS = ("Field", "Value")

    def __init__(self, client: BcClient | None = None, *, locale: QLocale | None = None,
                 entity: str = "customerPayment", only: tuple[str, ...] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.entity = entity
        self.only = only
        self.client = client
        self.locale = locale or QLocale()
        self.record: PaymentRecord | None = None
        self.state = LoadState.EMPTY
        self.error: ViewerError | None = None
        self._fields: list[FieldView] = []
        self._changes: dict[str, FieldChange] = {}
        self.change_kind = ""
        self.change_since: datetime | None = None
        self._task: asyncio.Task[PaymentRecord | None] | None = None
        self._generation = 0
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
        f = self._fields[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f.label if index.column() == 0 else f.display
        if role == Qt.ItemDataRole.ToolTipRole:
            if index.column() == 0:
                return f"{f.json_name} ({f.type_name})"
            return f"{f.raw}\nUTC: {f.utc}" if f.utc else f.raw
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
        if role == ChangedRole:
            return f.json_name in self._changes
        if role == PreviousRole:
            return self._changes[f.json_name].previous if f.json_name in self._changes else ""
        if role == ChangeKindRole:
            return self._changes[f.json_name].kind if f.json_name in self._changes else ""
        if role == SinceRole:
            return self._changes[f.json_name].since if f.json_name in self._changes else None
        return None

    def field_row(self, json_name: str) -> int:
        return next((i for i, f in enumerate(self._fields) if f.json_name == json_name), -1)

    def fields(self) -> list[FieldView]:
        return list(self._fields)

    # ---- loading -------------------------------------------------------------------------------

    @property
    def stale(self) -> bool:
        return self.record is not None and self.state in (LoadState.FAILED, LoadState.GONE, LoadState.LOADING)

    def load(self, url: str) -> asyncio.Task[PaymentRecord | None]:
        """Start loading ``url``; cancels the previous load. Returns the task (tests await it)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._generation += 1
        if url != self.url:
            # Another payment: never show the previous one as if it were this one.
            self._set_record(None)
        self.url = url
        self._set_state(LoadState.LOADING)
        self._task = asyncio.ensure_future(self._load(url, self._generation))
        return self._task

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            self._set_state(LoadState.READY if self.record else LoadState.EMPTY)

    def clear(self) -> None:
        self.cancel()
        self._generation += 1
        self.url = None
        self.error = None
        self._set_record(None)
        self._set_state(LoadState.EMPTY)

    async def wait(self) -> PaymentRecord | None:
        """Wait for the load in flight (if any); the record shown afterwards."""
        task = self._task
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        return self.record

    def refresh(self) -> asyncio.Task[PaymentRecord | None] | None:
        return self.load(self.url) if self.url else None

    async def _load(self, url: str, generation: int) -> PaymentRecord | None:
        assert self.client is not None, "PaymentModel needs a client"
        try:
            response = await self.client.get_json(url)
        except ViewerError as exc:
            if generation != self._generation:
                return None
            self.error = exc
            self._set_state(LoadState.GONE if isinstance(exc, NotFound) else LoadState.FAILED)
            self.failed.emit(exc)
            return None
        if generation != self._generation:
            return None
        record = PaymentRecord(
            url=url,
            values=strip_annotations(response.data),
            etag=response.data.get("@odata.etag") or response.facts.etag,
            facts=response.facts,
            api_version=api_version_of(url),
        )
        self.error = None
        self._set_record(record)
        self._set_state(LoadState.READY)
        self.factsChanged.emit(response.facts)
        self.loaded.emit(record)
        return record

    def _set_record(self, record: PaymentRecord | None) -> None:
        new_fields = (
            field_views(self._shown(record.values), record.api_version, self.locale,
                        etag=record.etag if self.only is None else None, entity=self.entity)
            if record else []
        )
        self.record = record
        same_shape = [f.json_name for f in new_fields] == [f.json_name for f in self._fields]
        if same_shape and new_fields:
            old_fields, self._fields = self._fields, new_fields
            for row, (old, new) in enumerate(zip(old_fields, new_fields, strict=True)):
                roles = _changed_roles(old, new)
                if roles:
                    # Only the value column changes on a refresh of the same payment, and only these roles.
                    self.dataChanged.emit(self.index(row, 1), self.index(row, 1), roles)
            return
        self.beginResetModel()
        self._fields = new_fields
        self._changes = {}
        self.change_kind, self.change_since = "", None
        self.endResetModel()

    # ---- change marks (fed by the change tracker; the form only renders them) ------------------------

    def set_changes(self, changes: Mapping[str, tuple[Any, Any]], kind: str, since: datetime | None) -> None:
        """Mark ``changes`` (JSON name → (old, new)) as changed ``kind`` ("refresh" or "visit"); the rest unmarked."""
        api_version = self.record.api_version if self.record is not None else "v2.0"
        marks: dict[str, FieldChange] = {}
        for name, (old, _new) in changes.items():
            spec = schema.spec_for(self.entity, api_version, name)
            shown = schema.format_value(spec, old, self.locale)
            previous = "(blank)" if shown.blank else shown.display
            marks[name] = FieldChange(kind, previous, old, since)
        self._apply_marks(marks)
        self.change_kind, self.change_since = (kind, since) if marks else ("", None)

    def clear_changes(self) -> None:
        """The user acknowledged the marks."""
        self._apply_marks({})
        self.change_kind, self.change_since = "", None

    def changes(self) -> dict[str, FieldChange]:
        return dict(self._changes)

    def _apply_marks(self, marks: dict[str, FieldChange]) -> None:
        before, self._changes = self._changes, marks
        for row, field in enumerate(self._fields):
            if before.get(field.json_name) != marks.get(field.json_name):
                for column in (0, 1):
                    self.dataChanged.emit(self.index(row, column), self.index(row, column), CHANGE_ROLES)

    def _shown(self, values: dict[str, Any]) -> dict[str, Any]:
        if self.only is None:
            return values
        return {name: values[name] for name in self.only if name in values}

    def _set_state(self, state: LoadState) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)


class PaymentModel(RecordModel):
    """The payment's fields (every field its API version returns, plus the ETag)."""

    def __init__(self, client: BcClient | None = None, *, locale: QLocale | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(client, locale=locale, entity="customerPayment", parent=parent)
