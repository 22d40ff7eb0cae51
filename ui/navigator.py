"""Environment → company → journal → payments, all from the keyboard; binds to ``Navigation``."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelection, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.a11y import StatusLabel
from viewer.search_fields import SEARCH_FIELDS

# The navigation, its models, the schema and asyncio are imported when they are bound, not for the first paint:
# the widget is drawn (empty, as it is until its lists arrive) before they load (ui/app.py's start-up order).
if TYPE_CHECKING:
    from viewer.navigation import Navigation
    from viewer.tasks import TaskSet, TaskSlot


class _PlainHeader(QHeaderView):
    """The list's column header, never highlighted by the selection. A whole row is always selected, so a
    highlighted header would only mark every column at once; and Qt would repaint the whole header on every click
    (about half of the list's paint per selection, measured), while the payment's request is out."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setHighlightSections(False)
        self.setSectionsClickable(True)  # sorting (QTableView's own header is clickable; a new one is not)

    def selectionChanged(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        pass  # nothing in the header shows the selection (see above)


class _PaymentsView(QTableView):
    """The payments list. A click's new highlight is painted together with the payment it opens, within a frame:
    the list marks the rows it repaints ``FRAME_MS`` later, or as soon as the payment is painted
    (``paint_selection``, ui/controller.py). Painting the rows at once (~1 ms) ran while the payment's request was
    out, and on a fast server its answer waited for that paint (README "Performance"). A screen shows one frame every
    16 ms anyway: the highlight and the values now appear in the same one instead of two paints a few ms apart."""

    FRAME_MS = 16

    def __init__(self) -> None:
        super().__init__()
        self._held: list[tuple[QItemSelection, QItemSelection]] = []
        self._current: tuple[QPersistentModelIndex, QPersistentModelIndex] | None = None
        self._frame = QTimer(self)
        self._frame.setSingleShot(True)
        self._frame.setInterval(self.FRAME_MS)
        self._frame.timeout.connect(self.paint_selection)

    def selectionChanged(self, selected: QItemSelection, deselected: QItemSelection) -> None:
        if not self.isVisible():
            super().selectionChanged(selected, deselected)
            return
        # Copies: Qt's arguments live only as long as this call. Their ranges hold persistent indexes, so a list
        # re-sorted or reset meanwhile repaints where the rows are then (or nothing, for rows that are gone).
        self._held.append((QItemSelection(selected), QItemSelection(deselected)))
        if not self._frame.isActive():
            self._frame.start()

    def currentChanged(self, current: QModelIndex | QPersistentModelIndex,
                       previous: QModelIndex | QPersistentModelIndex) -> None:
        if not self.isVisible():
            super().currentChanged(current, previous)
            return
        # The current row's focus frame (and, for the keyboard, scrolling to it): held like the highlight.
        first = self._current[1] if self._current is not None else QPersistentModelIndex(previous)
        self._current = (QPersistentModelIndex(current), first)
        if not self._frame.isActive():
            self._frame.start()

    def paint_selection(self) -> None:
        """Mark the held selection changes for repainting (Qt paints them on its next pass)."""
        self._frame.stop()
        held, self._held = self._held, []
        current, self._current = self._current, None
        if current is not None:
            super().currentChanged(current[0], current[1])
        for selected, deselected in held:
            super().selectionChanged(selected, deselected)


class NavigatorWidget(QWidget):
    """Emits ``paymentChosen(url)`` when a payment row becomes current."""

    paymentChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("navigator")
        self.setAccessibleName("Navigator")
        self.navigation: Navigation | None = None

        self.environment_combo = QComboBox()
        self.environment_combo.setObjectName("environmentCombo")
        self.environment_combo.setAccessibleName("Environment")
        self.environment_combo.setEditable(True)  # typed in when the environments list does not answer
        self.environment_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        environment_edit = self.environment_combo.lineEdit()
        assert environment_edit is not None  # editable
        environment_edit.setAccessibleName("Environment")  # where the typing goes: the focus lands on the edit
        self.company_combo = QComboBox()
        self.company_combo.setObjectName("companyCombo")
        self.company_combo.setAccessibleName("Company")
        self.journal_combo = QComboBox()
        self.journal_combo.setObjectName("journalCombo")
        self.journal_combo.setAccessibleName("Customer payment journal")

        self.search_field = QComboBox()
        self.search_field.setObjectName("searchField")
        self.search_field.setAccessibleName("Search in")
        for name, label in SEARCH_FIELDS.items():
            self.search_field.addItem(label, name)
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("searchEdit")
        self.search_edit.setAccessibleName("Search payments")
        self.search_edit.setPlaceholderText("Search (contains)…")
        self.search_edit.setClearButtonEnabled(True)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(350)
        self._debounce.timeout.connect(self._search_now)
        self.search_edit.textChanged.connect(lambda _t: self._debounce.start())
        self.search_field.currentIndexChanged.connect(lambda _i: self._debounce.start())

        self.view = _PaymentsView()
        self.view.setObjectName("paymentsView")
        self.view.setAccessibleName("Payments")
        self.view.setHorizontalHeader(_PlainHeader(self.view))  # before sorting is enabled: it connects the header
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setSortingEnabled(True)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        # Tab and Shift+Tab leave the table (the arrow keys move inside it): without this Tab walked all the
        # cells, opening each row's payment, and never reached the payment panel.
        self.view.setTabKeyNavigation(False)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumHeight(6)
        self.progress.setTextVisible(False)
        self.progress.setAccessibleName("Loading")
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelLoad")
        self.cancel_button.setAccessibleName("Cancel loading")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel)
        self.count_label = StatusLabel("Payments loaded")
        self.count_label.setObjectName("paymentCount")

        form = QFormLayout()
        for caption, combo in (("&Environment:", self.environment_combo), ("&Company:", self.company_combo),
                               ("&Journal:", self.journal_combo)):
            buddy = QLabel(caption)
            buddy.setBuddy(combo)
            form.addRow(buddy, combo)
        search_row = QHBoxLayout()
        search_label = QLabel("Search &in:")
        search_label.setBuddy(self.search_field)  # the combo's label relation: what it chooses
        search_row.addWidget(search_label)
        search_row.addWidget(self.search_field)
        search_row.addWidget(self.search_edit, 1)
        status_row = QHBoxLayout()
        status_row.addWidget(self.count_label, 1)
        status_row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addLayout(search_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.view, 1)
        layout.addLayout(status_row)

    def bind(self, navigation: Navigation) -> None:
        from viewer.tasks import TaskSet, TaskSlot

        self._tasks: TaskSet = TaskSet()
        self._search: TaskSlot = TaskSlot("search")  # typing on replaces the search before it
        self.navigation = navigation
        self.environment_combo.setModel(navigation.environments)
        self.company_combo.setModel(navigation.companies)
        self.journal_combo.setModel(navigation.journals)
        self.view.setModel(navigation.payments)
        self.view.horizontalHeader().setSortIndicatorShown(True)
        # Columns as wide as their captions need, so Description gets the rest without a horizontal scrollbar.
        header_metrics = self.view.horizontalHeader().fontMetrics()
        cell_metrics = self.view.fontMetrics()
        samples = ("1000000", "G03000-000", "2025-12-31", "C0000000", "-98,765,432.10")
        for column, sample in enumerate(samples[: navigation.payments.columnCount() - 1]):
            caption = str(navigation.payments.headerData(column, Qt.Orientation.Horizontal))
            width = max(header_metrics.horizontalAdvance(caption) + 28, cell_metrics.horizontalAdvance(sample) + 12)
            self.view.setColumnWidth(column, width)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.view.selectionModel().selectionChanged.connect(self._on_selection)
        self.environment_combo.activated.connect(self._on_environment)
        line_edit = self.environment_combo.lineEdit()
        assert line_edit is not None  # the combo is editable
        line_edit.returnPressed.connect(self._on_environment_typed)
        self.company_combo.activated.connect(self._on_company)
        self.journal_combo.activated.connect(self._on_journal)
        navigation.busyChanged.connect(self._show_busy)
        navigation.payments.loadingChanged.connect(self._show_busy)
        navigation.payments.pageLoaded.connect(self._show_count)
        navigation.payments.modelReset.connect(lambda: self._show_count(0))

    # ---- user actions ------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self._tasks.spawn(coro)  # each level's latest-wins lives in Navigation's own slots

    def _on_environment(self, row: int) -> None:
        assert self.navigation is not None
        key = self.navigation.environments.item(row)
        self._spawn(self.navigation.select_environment(key["name"] if key else None))

    def _on_environment_typed(self) -> None:
        assert self.navigation is not None
        text = self.environment_combo.currentText().split(" (")[0].strip()
        if text:
            self._spawn(self.navigation.select_environment(text))

    def _on_company(self, row: int) -> None:
        from viewer.models.lists import KeyRole

        assert self.navigation is not None
        self._spawn(self.navigation.select_company(self.company_combo.itemData(row, KeyRole)))

    def _on_journal(self, row: int) -> None:
        from viewer.models.lists import KeyRole

        assert self.navigation is not None
        self._spawn(self.navigation.select_journal(self.journal_combo.itemData(row, KeyRole)))

    def _search_now(self) -> None:
        if self.navigation is None:
            return  # typed in the first moments of a start, before the lists are bound: nothing to search yet
        self._search.start(self.navigation.search(self.search_edit.text(), self.search_field.currentData()))

    def cancel(self) -> None:
        if self.navigation is not None:
            self.navigation.payments.cancel()

    def _on_selection(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        if selected.isEmpty() or self.navigation is None:
            return
        # The row's key only: the whole row (every column unpacked) is not needed to name the payment, and this
        # runs before the request of every click.
        key = self.navigation.payments.key(selected.first().top())
        if key is not None and (url := self.navigation.payment_url(str(key))):
            self.paymentChosen.emit(url)

    # ---- reflecting state ----------------------------------------------------------------------

    def sync_from_navigation(self) -> None:
        """Show the navigation's current choices in the combos (after programmatic selection)."""
        nav = self.navigation
        if nav is None:
            return
        if nav.environment:
            row = nav.environments.row_of(nav.environment)
            if row >= 0:
                self.environment_combo.setCurrentIndex(row)
            # An editable combo keeps an emptied edit text after its model resets, even at the same index.
            self.environment_combo.setEditText(self.environment_combo.itemText(row) if row >= 0 else nav.environment)
        self.company_combo.setCurrentIndex(nav.companies.row_of(nav.company_id or ""))
        self.journal_combo.setCurrentIndex(nav.journals.row_of(nav.journal_id or ""))

    def select_first_payment(self) -> None:
        if self.view.model() is not None and self.view.model().rowCount() > 0:
            self.view.selectRow(0)

    def _show_busy(self, _busy: bool) -> None:
        nav = self.navigation
        busy = bool(nav and nav.busy)
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(bool(nav and nav.payments.loading))

    def _show_count(self, rows: int) -> None:
        nav = self.navigation
        more = " (scroll for more)" if nav is not None and nav.payments.canFetchMore(QModelIndex()) else ""
        self.count_label.setText(f"{rows} payments{more}" if rows or (nav and nav.journal_id) else "")
