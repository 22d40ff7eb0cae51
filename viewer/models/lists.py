"""A small list model over records (environments, companies, journals): display text + the record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt

ItemRole = Qt.ItemDataRole.UserRole  # the record dict
KeyRole = Qt.ItemDataRole.UserRole + 1  # its id (or name, for environments)

Index = QModelIndex | QPersistentModelIndex


class RecordListModel(QAbstractListModel):
    """Records shown by a text function; ``key`` picks the identity used to reselect after reloads."""

    def __init__(
        self,
        text: Callable[[dict[str, Any]], str],
        key: Callable[[dict[str, Any]], str],
        *,
        tooltip: Callable[[dict[str, Any]], str] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._text = text
        self._key = key
        self._tooltip = tooltip
        self._items: list[dict[str, Any]] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        # EditRole too: an editable QComboBox reads its line-edit text (and itemText) through EditRole.
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole, Qt.ItemDataRole.AccessibleTextRole):
            return self._text(item)
        if role == Qt.ItemDataRole.ToolTipRole and self._tooltip is not None:
            return self._tooltip(item)
        if role == ItemRole:
            return item
        if role == KeyRole:
            return self._key(item)
        return None

    def set_items(self, items: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def items(self) -> list[dict[str, Any]]:
        return list(self._items)

    def row_of(self, key: str) -> int:
        return next((i for i, item in enumerate(self._items) if self._key(item) == key), -1)

    def item(self, row: int) -> dict[str, Any] | None:
        return self._items[row] if 0 <= row < len(self._items) else None
