"""A table model over a Business Central collection, paged lazily through ``@odata.nextLink``.

The view asks ``canFetchMore``/``fetchMore`` as it scrolls; each page is one GET on the qasync loop.
``load()`` starts over (new URL, filter or order) and cancels the previous load: latest wins, and a
page that arrives for an older load is dropped.

Rows are kept compact: one tuple of the key and the displayed columns per row (``$select`` asks the
server for just those), with repeated values (dates, customer numbers) shared. A 20,000-row journal
then costs a few hundred bytes a row instead of a dict of every field; the full record is what the
payment form loads when a row is chosen. ``record(row)`` gives a row as a small dict.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from viewer.errors import ViewerError
from viewer.tasks import TaskSlot

if TYPE_CHECKING:  # type-only: keeps httpx/msal out of the window's start-up imports
    from viewer.client import BcClient, Page, ResponseFacts


logger = logging.getLogger(__name__)

ItemRole = Qt.ItemDataRole.UserRole  # the row as a dict of the key and the displayed columns
RawRole = Qt.ItemDataRole.UserRole + 1  # the JSON value of the cell
SortRole = Qt.ItemDataRole.UserRole + 2

Index = QModelIndex | QPersistentModelIndex

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole)
_ROLES = frozenset({_DISPLAY, _ALIGNMENT, _ACCESSIBLE, int(ItemRole), int(RawRole), int(SortRole)})
_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_TEXTS_KEPT = 1024  # cell texts remembered (a screenful of rows is ~150 cells)


@dataclass(frozen=True)
class Column:
    field: str
    title: str
    align_right: bool = False


Formatter = Callable[[str, Any], str]


def _plain(field: str, value: Any) -> str:
    return "" if value is None else str(value)


class PagedTableModel(QAbstractTableModel):
    """Rows of one collection. Emits ``loadingChanged``, ``failed`` and ``factsChanged``."""

    loadingChanged = Signal(bool)
    failed = Signal(object)  # ViewerError
    factsChanged = Signal(object)  # ResponseFacts
    pageLoaded = Signal(int)  # rows now held

    def __init__(
        self,
        client: BcClient | None,
        columns: list[Column],
        *,
        page_size: int = 200,
        formatter: Formatter | None = None,
        key: str = "id",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.columns = columns
        self.page_size = page_size
        self.formatter = formatter or _plain
        # The fields a row keeps, key first; each column reads its value at ``self._at[column]``.
        self.fields: tuple[str, ...] = tuple(dict.fromkeys([key, *(c.field for c in columns)]))
        self._at = [self.fields.index(c.field) for c in columns]
        self._rows: list[tuple[Any, ...]] = []
        self._shared: dict[Any, Any] = {}  # one object per repeated value (dates, customers), per load
        self._texts: dict[tuple[int, Any], str] = {}  # (column, value) -> cell text; see _cell
        self._next_link: str | None = None
        self._slot = TaskSlot("list")
        self._generation = 0  # which load the pages belong to (a sort or a search starts a new one)
        self._loading = False
        self.url: str | None = None
        self.params: dict[str, str] = {}
        self.last_error: ViewerError | None = None

    # ---- Qt model API ------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Painting a row asks about ten roles per cell, most of them ones this model never sets (font, colours,
        # icon, check state): those are answered first, without touching the index.
        if role not in _ROLES:
            return None
        row, col = index.row(), index.column()
        if not (0 <= row < len(self._rows) and 0 <= col < len(self.columns)):
            return None
        value = self._rows[row][self._at[col]]
        if role == _DISPLAY:
            return self._cell(col, value)
        if role == _ALIGNMENT:
            return _RIGHT if self.columns[col].align_right else _LEFT
        if role == _ACCESSIBLE:
            return f"{self.columns[col].title}: {self._cell(col, value)}"
        if role == ItemRole:
            return dict(zip(self.fields, self._rows[row], strict=True))
        return value  # RawRole, SortRole

    def _cell(self, col: int, value: Any) -> str:
        """A cell's text. Formatting is a pure function of the column and the value, and values repeat (dates,
        customers): the texts are remembered, within a bound, so repainting a row formats nothing."""
        try:
            return self._texts[col, value]
        except KeyError:
            pass
        except TypeError:  # an unhashable value (a list): formatted every time
            return self.formatter(self.columns[col].field, value)
        if len(self._texts) >= _TEXTS_KEPT:
            self._texts.clear()
        text = self._texts[col, value] = self.formatter(self.columns[col].field, value)
        return text

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns):
            if role == Qt.ItemDataRole.DisplayRole:
                return self.columns[section].title
            if role == Qt.ItemDataRole.ToolTipRole:
                return self.columns[section].field
        return None

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._next_link is not None and not self._loading

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        link = self._next_link
        assert link is not None
        self._start(self._fetch(link, self._generation, first=False))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorting is the server's job: reload with ``$orderby`` (all rows, not just the loaded ones)."""
        if not (0 <= column < len(self.columns)) or self.url is None:
            return
        direction = "desc" if order == Qt.SortOrder.DescendingOrder else "asc"
        params = dict(self.params)
        params["$orderby"] = f"{self.columns[column].field} {direction}"
        self.load(self.url, params)

    # ---- loading -----------------------------------------------------------------------------------

    @property
    def loading(self) -> bool:
        return self._loading

    def record(self, row: int) -> dict[str, Any] | None:
        """The row's key and displayed columns (not the whole record: the payment form loads that)."""
        return dict(zip(self.fields, self._rows[row], strict=True)) if 0 <= row < len(self._rows) else None

    def key(self, row: int) -> Any:
        return self._rows[row][0] if 0 <= row < len(self._rows) else None

    def update_item(self, key: str, values: dict[str, Any]) -> bool:
        """Replace the row whose ``key`` field equals ``values[key]`` (a record reloaded elsewhere); only the cells
        that changed are announced. False when no row has it (or ``key`` is not a field the rows keep)."""
        wanted = values.get(key)
        if wanted is None or key not in self.fields:
            return False
        at = self.fields.index(key)
        for row, item in enumerate(self._rows):
            if item[at] == wanted:
                changed = [c for c, column in enumerate(self.columns)
                           if column.field in values and item[self._at[c]] != values[column.field]]
                kept = dict(zip(self.fields, item, strict=True))
                self._rows[row] = self._compact({**kept, **values})
                if changed:
                    self.dataChanged.emit(self.index(row, min(changed)), self.index(row, max(changed)))
                return True
        return False

    def load(self, url: str, params: dict[str, str] | None = None) -> asyncio.Task[None]:
        """Start over at ``url``; cancels whatever was loading. Returns the task (tests await it)."""
        self.url = url
        self.params = dict(params or {})
        self.params.setdefault("$select", ",".join(self.fields))
        self._generation += 1
        self.beginResetModel()
        self._rows = []
        self._shared = {}
        self._next_link = None
        self.endResetModel()
        return self._start(self._fetch(url, self._generation, first=True))

    def clear(self) -> None:
        self.cancel()
        self._generation += 1
        self.url = None
        self.beginResetModel()
        self._rows = []
        self._shared = {}
        self._next_link = None
        self.endResetModel()

    def cancel(self) -> None:
        self._slot.cancel()
        self._set_loading(False)

    def abort(self) -> None:
        """Quitting: interrupt the page on its way (the client closes right after)."""
        self._slot.abort()
        self._set_loading(False)

    async def wait(self) -> None:
        """Wait for the current load (if any) to finish; errors are reported via ``failed``."""
        await self._slot.wait()

    def _start(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = self._slot.start(coro)
        # Loading from this moment, not from when the task first runs: a view calling fetchMore again before
        # then must see canFetchMore() == False, or it would restart the same page.
        self._set_loading(True)
        return task

    async def _fetch(self, url: str, generation: int, *, first: bool) -> None:
        if self.client is None:
            self._set_loading(False)
            return
        try:
            page: Page = await self.client.get_page(
                url, page_size=self.page_size, params=self.params if first else None
            )
        except asyncio.CancelledError:
            raise
        except ViewerError as exc:
            if generation == self._generation:
                self.last_error = exc
                self.failed.emit(exc)
            return
        finally:
            if generation == self._generation:
                self._set_loading(False)
        if generation != self._generation:
            return  # an older load: its rows would be wrong now
        self.last_error = None
        # The link first: a rowsInserted listener (a view, the model tester) may call fetchMore at once.
        self._next_link = page.next_link
        self._append(page.items)
        self._emit_facts(page.facts)
        if page.next_error is not None:  # a next link to another server: these rows stay, the link is refused
            self.last_error = page.next_error
            self.failed.emit(page.next_error)

    def _append(self, items: list[dict[str, Any]]) -> None:
        if not items:
            self.pageLoaded.emit(len(self._rows))
            return
        first = len(self._rows)
        rows = [self._compact(item) for item in items]
        self.beginInsertRows(QModelIndex(), first, first + len(items) - 1)  # last is inclusive
        self._rows.extend(rows)
        self.endInsertRows()
        self.pageLoaded.emit(len(self._rows))

    def _compact(self, item: dict[str, Any]) -> tuple[Any, ...]:
        shared = self._shared.setdefault
        key, *rest = (item.get(field) for field in self.fields)
        # The key is unique, so sharing it saves nothing; other values repeat across a journal.
        return (key, *(shared(v, v) if isinstance(v, str) else v for v in rest))

    def _emit_facts(self, facts: ResponseFacts) -> None:
        self.factsChanged.emit(facts)

    def _set_loading(self, value: bool) -> None:
        if value != self._loading:
            self._loading = value
            self.loadingChanged.emit(value)
