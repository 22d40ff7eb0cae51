"""A table model over a Business Central collection, paged lazily through ``@odata.nextLink``.

The view asks ``canFetchMore``/``fetchMore`` as it scrolls; each page is one GET on the qasync loop.
``load()`` starts over (new URL, filter or order) and cancels the previous load: latest wins, and a
page that arrives for an older load is dropped.

Rows are kept compact, column by column (``$select`` asks the server for just the key and the displayed
columns): each field is one packed array chosen from the first page's values — ids as 16 raw bytes, whole
numbers and decimals as machine integers, unique texts as UTF-8 in one buffer, repeated texts (dates,
customers) as a code into one list of the values. A value that does not fit its field's packing is kept aside
as it is, so every value reads back exactly (same type, same digits). The sandbox's 20,000-payment journal
then holds ~90 bytes a row (the distinct descriptions included) instead of ~440 as a tuple of Python objects
or ~2 KB as a dict of every field, ~7 MiB less in all (tests/test_paged_packing.py bounds it); texts and
decimals are made when a cell is shown, and the full record is what the payment form loads when a row is
chosen. ``record(row)`` gives a row as a small dict.
"""

from __future__ import annotations

import asyncio
import logging
import re
from array import array
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from decimal import Decimal
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


# ---- packed columns ----------------------------------------------------------------------------------------

_ABSENT = object()


class _Packed:
    """One field of every row, packed. A value the packing cannot hold exactly (another type, out of range) is
    kept aside as it is in ``odd``, so every value reads back as it came; the usual ones cost a few bytes."""

    def __init__(self) -> None:
        self.odd: dict[int, Any] = {}
        self.count = 0

    def extend(self, values: Sequence[Any]) -> None:
        for value in values:
            if not self._push(value):
                self.odd[self.count] = value
            self.count += 1

    def get(self, row: int) -> Any:
        if self.odd:
            value = self.odd.get(row, _ABSENT)
            if value is not _ABSENT:
                return value
        return self._unpack(row)

    def set(self, row: int, value: Any) -> None:
        if self._repack(row, value):
            self.odd.pop(row, None)
        else:
            self.odd[row] = value

    def find(self, value: Any) -> int:
        """The first row holding ``value`` (compared with ``==``), or -1."""
        return next((row for row in range(self.count) if self.get(row) == value), -1)

    # Each packing: ``_push`` appends the value packed (True) or a placeholder (False: the value goes to ``odd``);
    # ``_unpack`` reads a packed row back; ``_repack`` overwrites a row in place, when the packing allows it.
    def _push(self, value: Any) -> bool:
        raise NotImplementedError

    def _unpack(self, row: int) -> Any:
        raise NotImplementedError

    def _repack(self, row: int, value: Any) -> bool:
        return False


class _Objects(_Packed):
    """Anything else: the values themselves."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[Any] = []

    def _push(self, value: Any) -> bool:
        self.values.append(value)
        return True

    def _unpack(self, row: int) -> Any:
        return self.values[row]

    def _repack(self, row: int, value: Any) -> bool:
        self.values[row] = value
        return True


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NO_UUID = bytes(16)


def _uuid_bytes(value: Any) -> bytes | None:
    """16 bytes for a GUID in Business Central's form (lower case, hyphens), None for anything else."""
    if type(value) is str and len(value) == 36 and _UUID.fullmatch(value):
        return bytes.fromhex(value.replace("-", ""))
    return None


class _Uuids(_Packed):
    """GUIDs (``id``): 16 bytes each instead of a 36-character string (~85 bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()

    def _push(self, value: Any) -> bool:
        packed = _uuid_bytes(value)
        self.data += _NO_UUID if packed is None else packed
        return packed is not None

    def _unpack(self, row: int) -> Any:
        h = self.data[16 * row:16 * row + 16].hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _repack(self, row: int, value: Any) -> bool:
        packed = _uuid_bytes(value)
        if packed is None:
            return False
        self.data[16 * row:16 * row + 16] = packed
        return True

    def find(self, value: Any) -> int:
        """A byte search (a reloaded payment finds its row among 20,000 at C speed)."""
        rows = [row for row, odd in self.odd.items() if odd == value]
        packed = _uuid_bytes(value)
        if packed is not None:
            at = self.data.find(packed)
            while at >= 0 and (at % 16 or at // 16 in self.odd):  # not on a row's boundary, or a placeholder
                at = self.data.find(packed, at + 1)
            if at >= 0:
                rows.append(at // 16)
        return min(rows, default=-1)


_INT_RANGE = range(-(2**63), 2**63)
_WHOLE = -128  # the exponent that marks a whole number (an int) in _Numbers
_DIGITS = 18  # at most this many digits fit a 64-bit coefficient


class _Numbers(_Packed):
    """Whole numbers and decimals (``lineNumber``, ``amount``, as viewer/jsondata.py parses them): a 64-bit
    coefficient and an exponent, 9 bytes instead of an int (~32) or a Decimal (~104). A decimal reads back with
    the server's digits (``Decimal("1622.50")`` stays ``1622.50``)."""

    def __init__(self) -> None:
        super().__init__()
        self.coefficients = array("q")
        self.exponents = array("b")

    @staticmethod
    def _split(value: Any) -> tuple[int, int] | None:
        if type(value) is int:
            return (value, _WHOLE) if value in _INT_RANGE else None
        if type(value) is Decimal and value.is_finite():
            sign, digits, exponent = value.as_tuple()
            if not isinstance(exponent, int) or not (_WHOLE < exponent <= 127) or len(digits) > _DIGITS:
                return None
            coefficient = int("".join(map(str, digits)))
            if sign and not coefficient:
                return None  # -0.00: its sign would be lost
            return (-coefficient if sign else coefficient), exponent
        return None

    def _push(self, value: Any) -> bool:
        split = self._split(value)
        self.coefficients.append(0 if split is None else split[0])
        self.exponents.append(0 if split is None else split[1])
        return split is not None

    def _unpack(self, row: int) -> Any:
        coefficient, exponent = self.coefficients[row], self.exponents[row]
        return coefficient if exponent == _WHOLE else Decimal(f"{coefficient}E{exponent}")

    def _repack(self, row: int, value: Any) -> bool:
        split = self._split(value)
        if split is None:
            return False
        self.coefficients[row], self.exponents[row] = split
        return True


class _Texts(_Packed):
    """Texts that rarely repeat (``documentNumber``): UTF-8 in one buffer and where each ends (~4 bytes and the
    text's own bytes, instead of a string object of ~50 bytes more). A lone surrogate, which JSON allows, reads
    back as it came."""

    def __init__(self) -> None:
        super().__init__()
        self.data = bytearray()
        self.ends = array("I")

    def _push(self, value: Any) -> bool:
        if type(value) is str:
            self.data += value.encode("utf-8", "surrogatepass")
        self.ends.append(len(self.data))
        return type(value) is str

    def _unpack(self, row: int) -> Any:
        start = self.ends[row - 1] if row else 0
        return self.data[start:self.ends[row]].decode("utf-8", "surrogatepass")

    def _repack(self, row: int, value: Any) -> bool:
        if type(value) is not str:
            return False
        start = self.ends[row - 1] if row else 0
        encoded = value.encode("utf-8", "surrogatepass")
        if len(encoded) != self.ends[row] - start:
            return False  # another length: kept aside, the buffer is not rewritten
        self.data[start:self.ends[row]] = encoded
        return True


class _Shared(_Packed):
    """Texts that repeat (dates, customer numbers, descriptions): one string per distinct value, each row a
    4-byte code into them."""

    def __init__(self) -> None:
        super().__init__()
        self.codes = array("I")
        self.values: list[str] = []
        self.index: dict[str, int] = {}

    def _code(self, value: str) -> int:
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.values)
            self.values.append(value)
        return code

    def _push(self, value: Any) -> bool:
        text = type(value) is str
        self.codes.append(self._code(value) if text else 0)
        return text

    def _unpack(self, row: int) -> Any:
        return self.values[self.codes[row]]

    def _repack(self, row: int, value: Any) -> bool:
        if type(value) is not str:
            return False
        self.codes[row] = self._code(value)
        return True


def _packing(values: list[Any]) -> _Packed:
    """The packing for a field, chosen from its values on the first page of a load: the first that holds most of
    them (the others, and later values that do not fit, are kept aside as they are)."""
    usual = [v for v in values if v is not None] or values
    most = len(usual) // 2 + 1
    if sum(_uuid_bytes(v) is not None for v in usual) >= most:
        return _Uuids()
    if sum(_Numbers._split(v) is not None for v in usual) >= most:
        return _Numbers()
    texts = [v for v in usual if type(v) is str]
    if len(texts) >= most:
        return _Shared() if len(set(texts)) < len(texts) else _Texts()  # one repeat already: a repeating field
    return _Objects()


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
        self._columns: list[_Packed] = []  # one per field, in ``fields`` order; chosen by a load's first page
        self._count = 0
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
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # Painting a row asks about ten roles per cell, most of them ones this model never sets (font, colours,
        # icon, check state): those are answered first, without touching the index.
        if role not in _ROLES:
            return None
        row, col = index.row(), index.column()
        if not (0 <= row < self._count and 0 <= col < len(self.columns)):
            return None
        if role == _ALIGNMENT:
            return _RIGHT if self.columns[col].align_right else _LEFT
        if role == ItemRole:
            return self.record(row)
        value = self._columns[self._at[col]].get(row)
        if role == _DISPLAY:
            return self._cell(col, value)
        if role == _ACCESSIBLE:
            return f"{self.columns[col].title}: {self._cell(col, value)}"
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
        if not 0 <= row < self._count:
            return None
        return {field: column.get(row) for field, column in zip(self.fields, self._columns, strict=True)}

    def key(self, row: int) -> Any:
        return self._columns[0].get(row) if 0 <= row < self._count else None

    def update_item(self, key: str, values: dict[str, Any]) -> bool:
        """Replace the row whose ``key`` field equals ``values[key]`` (a record reloaded elsewhere); only the cells
        that changed are announced. False when no row has it (or ``key`` is not a field the rows keep)."""
        wanted = values.get(key)
        if wanted is None or key not in self.fields:
            return False
        row = self._columns[self.fields.index(key)].find(wanted) if self._count else -1
        if row < 0:
            return False
        changed = [c for c, column in enumerate(self.columns)
                   if column.field in values and self._columns[self._at[c]].get(row) != values[column.field]]
        for field, column in zip(self.fields, self._columns, strict=True):
            if field in values:
                column.set(row, values[field])
        if changed:
            self.dataChanged.emit(self.index(row, min(changed)), self.index(row, max(changed)))
        return True

    def load(self, url: str, params: dict[str, str] | None = None) -> asyncio.Task[None]:
        """Start over at ``url``; cancels whatever was loading. Returns the task (tests await it)."""
        self.url = url
        self.params = dict(params or {})
        self.params.setdefault("$select", ",".join(self.fields))
        self._generation += 1
        self.beginResetModel()
        self._columns, self._count = [], 0
        self._next_link = None
        self.endResetModel()
        return self._start(self._fetch(url, self._generation, first=True))

    def clear(self) -> None:
        self.cancel()
        self._generation += 1
        self.url = None
        self.beginResetModel()
        self._columns, self._count = [], 0
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
            self.pageLoaded.emit(self._count)
            return
        first = self._count
        by_field = [[item.get(field) for item in items] for field in self.fields]
        if not self._columns:  # a load's first rows choose each field's packing
            self._columns = [_packing(values) for values in by_field]
        self.beginInsertRows(QModelIndex(), first, first + len(items) - 1)  # last is inclusive
        for column, values in zip(self._columns, by_field, strict=True):
            column.extend(values)
        self._count += len(items)
        self.endInsertRows()
        self.pageLoaded.emit(self._count)

    def _emit_facts(self, facts: ResponseFacts) -> None:
        self.factsChanged.emit(facts)

    def _set_loading(self, value: bool) -> None:
        if value != self._loading:
            self._loading = value
            self.loadingChanged.emit(value)
