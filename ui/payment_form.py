"""The payment form: every field labelled and formatted, raw values one keystroke away, copy everywhere.

It binds to a ``RecordModel`` (the payment) and to ``Related`` (customer, invoice, journal); it holds no
payment data of its own — every value widget is refreshed from the model's roles. Colours come from the
palette only, so it follows light and dark themes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Literal

from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QRegularExpression, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QContextMenuEvent,
    QFocusEvent,
    QFont,
    QFontDatabase,
    QKeyEvent,
    QKeySequence,
    QPalette,
    QResizeEvent,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui import a11y
from viewer import schema
from viewer.models.payment import (
    GroupRole,
    JsonNameRole,
    LabelRole,
    LoadState,
    RecordModel,
    api_version_of,
)
from viewer.related import TITLES

if TYPE_CHECKING:
    from viewer.copying import Clip, CopyMode
    from viewer.fields import FieldView
    from viewer.loading import Record
    from viewer.related import Related

CopyHandler = Callable[["Clip"], None]

# A load that takes longer than this is "slow": only then do the views show that something is loading. Faster loads
# (most, on a LAN) go straight from the old values to the new, without a flash in between. Counted from when the form
# hears LOADING: with a payment on screen, a frame after the load began (viewer/models/payment.py).
SLOW_MS = 150


class FieldEdit(QLineEdit):
    """A read-only value: Ctrl+C with nothing selected copies the whole value; the context menu offers all three."""

    copyRequested = Signal(str, str)  # json name, mode

    def __init__(self, json_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.json_name = json_name
        self.was_label: QLabel | None = None  # the row's "was: …" label
        self.caption: QLabel | None = None
        self.holder: QWidget | None = None  # the row's field widget in the form layout
        self.caption_text = json_name
        self.subject = ""  # whose field, in a related record ("customer"): part of the spoken name
        self.focus_ring: a11y.FocusRing | None = None  # made the first time the value gets the focus
        # (text, placeholder, changed, previous, change kind, since) as last set by PaymentForm._show_value; None:
        # unknown, everything is set next time.
        self.shown: tuple[str, str, bool, str, str, object] | None = None
        self.setObjectName(f"field:{json_name}")
        self.setReadOnly(True)
        self.setFrame(False)
        # Opaque: the line edit covers its whole rectangle with the base colour anyway, and saying so lets Qt repaint
        # a new value without repainting the group box and labels under it (half of a payment's paint, measured).
        # A changed value has a rounded frame instead and is drawn the usual way (see PaymentForm._show_change).
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self.setAutoFillBackground(True)
        # Room for a GUID's first group or an amount before the row wraps (see RecordSection).
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("0" * 14))
        self.setProperty("changed", False)
        self.setProperty("previousValue", "")

    def spoken_label(self) -> str:
        """The label as a screen reader says it: "Customer's No." in the customer's section, where "No." shows —
        never the same as a payment field's ("Customer No."), which a screen reader could not tell apart."""
        return f"{self.subject.capitalize()}'s {self.caption_text}" if self.subject else self.caption_text

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        # Frameless and read-only: the style would show no focus at all (ui/a11y.py FocusRing).
        if self.focus_ring is None:
            self.focus_ring = a11y.FocusRing(self)
        self.focus_ring.follow(True)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        if self.focus_ring is not None:
            self.focus_ring.follow(False)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.focus_ring is not None and self.focus_ring.isVisible():
            self.focus_ring.setGeometry(self.rect())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy) and not self.hasSelectedText():
            self.copyRequested.emit(self.json_name, "display")
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = QMenu(self)
        for text, mode in (("Copy value", "display"), ("Copy raw value", "raw"), ('Copy "name": value', "pair")):
            menu.addAction(text, partial(self.copyRequested.emit, self.json_name, mode))
        if self.hasSelectedText():
            menu.addSeparator()
            menu.addAction("Copy selection", self.copy)
        menu.exec(event.globalPos())


def _speak(edit: FieldEdit, field: FieldView, display: str, previous: str | None) -> None:
    """A value's tooltip and accessible texts, each set only when it differs (every setter sends an event).
    ``display``: the value as shown; ``previous``: what it was, if it changed."""
    description = field.value_description
    name = f"{edit.spoken_label() if edit.subject else field.label}: {display or 'blank'}"
    spoken = f"{name}, changed, was {previous}" if previous is not None else name
    if edit.toolTip() != description:
        edit.setToolTip(description)
    a11y.set_description(edit, description)  # with its change event: re-read after F5
    if edit.accessibleName() != spoken:
        edit.setAccessibleName(spoken)


class JsonHighlighter(QSyntaxHighlighter):
    """Keys, strings, numbers and literals in colours taken from the palette (never hard-coded)."""

    def __init__(self, document: QTextDocument, palette: QPalette) -> None:
        super().__init__(document)
        key, string, number, literal = QTextCharFormat(), QTextCharFormat(), QTextCharFormat(), QTextCharFormat()
        key.setForeground(palette.color(QPalette.ColorRole.Link))
        key.setFontWeight(QFont.Weight.DemiBold)
        string.setForeground(palette.color(QPalette.ColorRole.LinkVisited))
        # Not the highlight colour: white text must read on it, so it is too dark to be text on a dark base.
        number.setForeground(palette.color(QPalette.ColorRole.BrightText))
        literal.setForeground(palette.color(QPalette.ColorRole.PlaceholderText))
        literal.setFontItalic(True)
        # Later rules win: numbers and literals first, then strings over them (digits inside a GUID stay a
        # string), then keys over strings.
        self.rules = [
            (QRegularExpression(r"(?<![\w.\"])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?"), number),
            (QRegularExpression(r"\b(?:true|false|null)\b"), literal),
            (QRegularExpression(r'"(?:[^"\\]|\\.)*"'), string),
            (QRegularExpression(r'"(?:[^"\\]|\\.)*"(?=\s*:)'), key),
        ]

    def highlightBlock(self, text: str) -> None:
        for pattern, fmt in self.rules:
            matches = pattern.globalMatch(text)
            while matches.hasNext():
                match = matches.next()
                self.setFormat(match.capturedStart(), match.capturedLength(), fmt)


class RecordSection(QGroupBox):
    """A titled group of label | value | copy rows; rows are made once and then only shown, hidden and filled."""

    def __init__(self, title: str, object_name: str, parent: QWidget | None = None, *, subject: str = "") -> None:
        super().__init__(title, parent)
        self.setObjectName(object_name)
        self.subject = subject  # a related record's rows say whose they are: "Copy customer's No."
        self.form = QFormLayout(self)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        # In a narrow window a value goes under its label instead of being squeezed to a few characters.
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.edits: dict[str, FieldEdit] = {}

    def add_row(self, name: str, label_text: str, tooltip: str, on_copy: Callable[[str, str], None]) -> FieldEdit:
        edit = FieldEdit(name)
        edit.subject = self.subject
        edit.caption_text = label_text
        spoken = edit.spoken_label()
        edit.setAccessibleName(spoken)  # until a value arrives ("Amount: 1,500.00")
        edit.copyRequested.connect(on_copy)
        label = QLabel(label_text + ":")
        label.setBuddy(edit)
        label.setToolTip(tooltip)
        copy = QToolButton()
        copy.setText("Copy")
        copy.setObjectName(f"copy:{name}")
        copy.setAccessibleName(f"Copy {spoken[0].lower()}{spoken[1:]}" if self.subject else f"Copy {label_text}")
        copy.setToolTip(f"Copy {label_text} (Ctrl+C in the field; right-click for the raw value)")
        copy.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # Tab walks the values; each value has Ctrl+C itself
        menu = QMenu(copy)
        for text, mode in (("Copy value", "display"), ("Copy raw value", "raw"), ('Copy "name": value', "pair")):
            menu.addAction(text, partial(on_copy, name, mode))
        copy.setMenu(menu)
        copy.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        copy.clicked.connect(lambda _=False, n=name: on_copy(n, "display"))
        was = QLabel()
        was.setObjectName(f"was:{name}")
        was.setTextFormat(Qt.TextFormat.PlainText)  # an old value as the server sent it, never read as HTML
        was.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        was.setWordWrap(True)  # under the value, wrapping: the old value never squeezes the new one
        # Never widens the window: a long old value wraps within the width the row already has.
        was.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        was.hide()
        holder = QWidget()
        row_layout = QHBoxLayout(holder)
        row_layout.setContentsMargins(0, 0, 0, 0)
        column = QVBoxLayout()
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(edit)
        column.addWidget(was)
        row_layout.addLayout(column, 1)
        row_layout.addWidget(copy, 0, Qt.AlignmentFlag.AlignTop)
        edit.was_label = was
        edit.caption = label
        edit.caption_text = label_text
        edit.holder = holder
        self.form.addRow(label, holder)
        self.edits[name] = edit
        return edit

    def set_row_visible(self, name: str, visible: bool) -> None:
        edit = self.edits[name]
        if edit.holder is not None and edit.holder.isVisibleTo(self) != visible:
            self.form.setRowVisible(edit.holder, visible)

    def labels(self) -> list[QLabel]:
        return [edit.caption for edit in self.edits.values() if edit.caption is not None]


class FieldPage(QWidget):
    """Every field of one (entity, API version), grouped as the schema groups them: built once, then reused.

    A payment only sets texts and properties on it; a field this version does not return is hidden, and a field
    the schema does not know gets a row under "Other" the first time it is seen.
    """

    def __init__(self, entity: str, api_version: str, on_copy: Callable[[str, str], None]) -> None:
        super().__init__()
        self.entity = entity
        self.api_version = api_version
        self.on_copy = on_copy
        self.setObjectName(f"fieldPage:{api_version}")
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.sections: dict[str, RecordSection] = {}
        self.edits: dict[str, FieldEdit] = {}
        self._spans_key: tuple[int, int] = (-1, -1)  # the size _spans was worked out for (spans)
        self._spans: dict[str, tuple[int, int]] = {}
        for spec in schema.ordered_fields(entity, api_version):
            self._add(spec.name, spec.label, spec.group, f"{spec.name} ({spec.type_name})")
        self._add("@odata.etag", "ETag", "System", "@odata.etag (Text)")

    def _add(self, name: str, label: str, group: str, tooltip: str) -> FieldEdit:
        section = self.sections.get(group)
        if section is None:
            section = RecordSection(group, f"group:{group}")
            self.sections[group] = section
            self.layout_.addWidget(section)
        edit = section.add_row(name, label, tooltip, self.on_copy)
        self.edits[name] = edit
        return edit

    def row_for(self, name: str, label: str, group: str, tooltip: str) -> FieldEdit:
        edit = self.edits.get(name)
        return edit if edit is not None else self._add(name, label, group, tooltip)

    def show_only(self, names: set[str]) -> None:
        for section in self.sections.values():
            any_shown = False
            for name in section.edits:
                shown = name in names
                section.set_row_visible(name, shown)
                any_shown = any_shown or shown
            section.setVisible(any_shown)

    def labels(self) -> list[QLabel]:
        return [label for section in self.sections.values() for label in section.labels()]

    def spans(self) -> dict[str, tuple[int, int]]:
        """Where each shown value lies, top and bottom in this page's coordinates: worked out again only when the
        page's size changes (a row shown or hidden, a "was:" line, a new width). A span gone stale some other way
        only sets a value just after the paint instead of before it (PaymentForm._on_screen)."""
        key = (self.width(), self.height())
        if key != self._spans_key:
            origin = QPoint(0, 0)
            spans: dict[str, tuple[int, int]] = {}
            for name, edit in self.edits.items():
                if edit.isVisibleTo(self):
                    y = edit.mapTo(self, origin).y()
                    spans[name] = (y, y + edit.height())
            self._spans_key, self._spans = key, spans
        return self._spans


class PaymentForm(QWidget):
    """``copied(Clip)`` for every copy so the window can confirm it; ``copy_handler`` puts clips on the clipboard.

    Widgets are built once per (entity, API version) and reused: opening another payment sets texts and
    properties only (docs/ARCHITECTURE.md, "The path of one click").
    """

    copied = Signal(object)
    chainChanged = Signal()  # rows were made: the Tab order must be laid again (focus_chain)
    slowChanged = Signal(bool)  # the load on its way has taken longer than SLOW_MS (or no longer loads)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("paymentForm")
        self.setAccessibleName("Payment form")
        self.model: RecordModel | None = None
        self.related: Related | None = None
        self.raw_values = False
        # A load's tooltips and accessible texts, set right after its values are painted (see _show_value).
        self._spoken_later: dict[FieldEdit, tuple[FieldView, str, str | None]] = {}
        # A load's rows out of sight (scrolled away, or on a tab not showing), shown right after its paint.
        self._rows_later: list[int] = []
        self.copy_handler: CopyHandler | None = None
        self.url_provider: Callable[[], str | None] = lambda: None
        self.auth_provider: Callable[[], tuple[str, str]] = lambda: ("bearer", "")

        self.tabs = QTabWidget()
        self.tabs.setObjectName("paymentTabs")
        self.tabs.setAccessibleName("Payment views")

        # Fields tab: one scroll area with the payment's field page, then the related records.
        self.fields_page = QWidget()
        self.fields_layout = QVBoxLayout(self.fields_page)
        self.fields_layout.setContentsMargins(4, 4, 4, 4)
        self.pages_box = QVBoxLayout()
        self.pages_box.setContentsMargins(0, 0, 0, 0)
        self.fields_layout.addLayout(self.pages_box)
        self.related_box = QVBoxLayout()
        self.related_box.setContentsMargins(0, 0, 0, 0)
        self.fields_layout.addLayout(self.related_box)
        self.fields_layout.addStretch(1)
        scroll = QScrollArea()
        self.fields_scroll = scroll
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.fields_page)
        scroll.setObjectName("fieldsTab")
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes from the tabs to the first value, not to a frame
        self.pages: dict[str, FieldPage] = {}
        self.page: FieldPage | None = None
        # The one place a load becomes "slow" (SLOW_MS): the form dims another payment's values, and the panel
        # (slowChanged) shows its loading title and banner.
        self.slow = False
        self._slow_timer = QTimer(self)
        self._slow_timer.setSingleShot(True)
        self._slow_timer.setInterval(SLOW_MS)
        self._slow_timer.timeout.connect(lambda: self._set_slow(True))
        # The first load's placeholders (building the version's rows, ~8 ms) follow its request out rather than
        # delay it: the payment slot's steps run first (ui/loop.py), this timer after them.
        self._placeholders = QTimer(self)
        self._placeholders.setSingleShot(True)
        self._placeholders.setInterval(0)
        self._placeholders.timeout.connect(self.refill)
        self.related_sections: dict[str, RecordSection] = {}
        self.related_status: dict[str, QLabel] = {}
        self.tabs.addTab(scroll, "Fiel&ds")  # Alt+F is the File menu

        # Raw JSON tab: the body as received, annotations included.
        json_page = QWidget()
        json_page.setObjectName("rawJsonTab")
        self.json_page = json_page
        self._json_of: Record | None = None
        self.json_view = QPlainTextEdit()
        self.json_view.setObjectName("rawJson")
        self.json_view.setAccessibleName("JSON as received")  # the tab is "Raw JSON": two names, two things
        self.json_view.setReadOnly(True)
        self.json_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.highlighter = JsonHighlighter(self.json_view.document(), self.palette())
        self.json_find = QLineEdit()
        self.json_find.setObjectName("jsonFind")
        self.json_find.setAccessibleName("Find in JSON")
        self.json_find.setPlaceholderText("Find in JSON (Enter: next)")
        self.json_find.setClearButtonEnabled(True)
        self.json_find.returnPressed.connect(self.find_in_json)
        self.json_find_status = a11y.StatusLabel("Find result", announce=True)
        self.json_find_status.setObjectName("jsonFindStatus")
        copy_json = QPushButton("Copy JSON")
        copy_json.setAccessibleName("Copy JSON")
        copy_json.setAccessibleDescription("Copy the payment's JSON as received, without annotations")
        copy_json.clicked.connect(lambda: self.copy_record("json"))
        find_row = QHBoxLayout()
        find_row.addWidget(self.json_find, 1)
        find_row.addWidget(self.json_find_status)
        find_row.addWidget(copy_json)
        json_layout = QVBoxLayout(json_page)
        json_layout.addLayout(find_row)
        json_layout.addWidget(self.json_view, 1)
        self.tabs.addTab(json_page, "Ra&w JSON")  # Alt+J is the Journal

        # Record-level actions: listed in the window's Payment menu too, with their shortcuts.
        self.raw_action = QAction("&Raw values", self)
        self.raw_action.setCheckable(True)
        # Not Ctrl+R: that is Refresh on macOS (Cmd+R) and GNOME, so neither would fire there.
        self.raw_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.raw_action.toggled.connect(self.set_raw_values)
        self.copy_actions: list[QAction] = []
        for text, kind, shortcut in (
            ("Copy record as &JSON", "json", "Ctrl+Shift+J"),
            ("Copy record as &lines (Label: value)", "lines", "Ctrl+Shift+L"),
            ("Copy record as &table (Excel, Outlook)", "table", "Ctrl+Shift+T"),
            ("Copy API &URL", "url", "Ctrl+Shift+U"),
            ("Copy as &curl command", "curl", ""),
            ("Copy as &PowerShell command", "powershell", ""),
        ):
            action = QAction(text, self)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
                action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _=False, k=kind: self.copy_record(k))
            self.copy_actions.append(action)
        self.raw_button = QToolButton()
        self.raw_button.setObjectName("rawValuesButton")
        self.raw_button.setDefaultAction(self.raw_action)
        self.raw_button.setAccessibleName("Show raw values")
        self.copy_button = QToolButton()
        self.copy_button.setObjectName("copyRecordButton")
        self.copy_button.setText("Copy record")
        self.copy_button.setAccessibleName("Copy record")  # the visible words: what a voice-control user says
        self.copy_button.setAccessibleDescription("As JSON, lines, a table, the API URL, curl or PowerShell")
        self.copy_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        copy_menu = QMenu(self.copy_button)
        copy_menu.addActions(self.copy_actions)
        self.copy_button.setMenu(copy_menu)
        bar = QHBoxLayout()
        bar.addWidget(self.raw_button)
        bar.addWidget(self.copy_button)
        bar.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.tabs, 1)

    # ---- binding -----------------------------------------------------------------------------------

    def bind(self, model: RecordModel, related: Related | None = None) -> None:
        self.model = model
        model.modelReset.connect(self.refill)
        model.rowsChanged.connect(self._on_rows_changed)  # (not dataChanged: once per change, not once per row)
        model.loaded.connect(lambda _record: self._loaded())
        self.tabs.currentChanged.connect(lambda _i: self._fill_json())
        model.stateChanged.connect(lambda _s: self._on_state())
        if related is not None:
            self.related = related
            for kind, related_model in related.models.items():
                self._build_related(kind, related_model)
                related_model.modelReset.connect(lambda k=kind: self._refresh_related(k))
                if kind in ("invoice", "customer"):
                    related_model.loaded.connect(lambda _record: self._refresh_amounts())
                related_model.rowsChanged.connect(lambda _rows, k=kind: self._refresh_related(k))
                related_model.stateChanged.connect(lambda _s, k=kind: self._related_state(k))
        self.refill()

    # ---- pages ---------------------------------------------------------------------------------------------

    def _page_for(self, api_version: str) -> FieldPage:
        page = self.pages.get(api_version)
        if page is None:
            page = FieldPage("customerPayment", api_version, self._copy_payment_field)
            self.pages[api_version] = page
            self.pages_box.addWidget(page)
            self._align_labels()
            self.chainChanged.emit()
        if self.page is not page:
            if self.page is not None:
                self.page.hide()
            page.show()
            self.page = page
        return page

    def _version(self) -> str:
        model = self.model
        if model is None:
            return "v2.0"
        if model.record is not None and not model.showing_other:
            return model.record.api_version
        return api_version_of(model.url) if model.url else "v2.0"

    def refill(self) -> None:
        """The model's rows changed shape (another payment, another API version): show the right rows, fill them."""
        model = self.model
        if model is None:
            return
        self._placeholders.stop()
        self._rows_later = []  # every row is shown below
        has_rows = model.rowCount() > 0
        loading = model.state == LoadState.LOADING and model.error is None
        self.fields_page.setVisible(has_rows or loading)
        if not has_rows and not loading:
            self._fill_json()
            return
        page = self._page_for(self._version())
        if not has_rows:
            # Loading with nothing shown yet: the layout to come, with quiet placeholders (not a blank).
            page.show_only(set(page.edits) - {"@odata.etag"})
            for edit in page.edits.values():
                edit.shown = None  # (what it shows now is none of a record's values)
                edit.clear()
                edit.setPlaceholderText("Loading…")
                edit.setAccessibleName(f"{edit.spoken_label()}: loading")
                self._show_change(edit, False, "", "", None)
            return
        names: set[str] = set()
        rows_before = len(page.edits)
        for row in range(model.rowCount()):
            index = model.index(row, 1)
            name = str(index.data(JsonNameRole))
            names.add(name)
            edit = page.row_for(name, str(index.data(LabelRole)), str(index.data(GroupRole) or "Other"),
                                str(model.index(row, 0).data(Qt.ItemDataRole.ToolTipRole)))
            self._show_value(edit, model, row)
        page.show_only(names)
        if len(page.edits) != rows_before:  # a field the schema does not know got its row
            self.chainChanged.emit()
        self._fill_json()
        for kind in self.related_sections:
            self._related_state(kind)

    def _align_labels(self) -> None:
        """One label column across all groups, so values line up down the whole form (once per page built)."""
        labels = [label for page in self.pages.values() for label in page.labels()]
        labels += [label for section in self.related_sections.values() for label in section.labels()]
        if not labels:
            return
        # Room for the change glyph too, so marking a field never shifts the column.
        width = max(label.fontMetrics().horizontalAdvance("◆ " + label.text()) + 8 for label in labels)
        for label in labels:
            label.setMinimumWidth(width)

    def _show_value(self, edit: FieldEdit, model: RecordModel, row: int, *, later: bool = False) -> None:
        """One row from the model. Reads the row's value object directly (the roles hold the same values; ten Qt
        role calls per row cost more than the rest of a payment's update).

        ``later``: the tooltip and the accessible texts wait for ``_speak_pending``, which the load calls right
        after painting the values (in the same turn of the event loop: nobody can hover or query in between).
        A payment's fields each send three Qt events for them; the eye needs none of these for the first paint."""
        field = model.field_at(row)
        if field is None:
            return
        change = model.change_of(field.json_name)
        display, blank = field.display, field.blank
        currency = self._currency_for(model) if field.kind == "decimal" else ""
        if currency and not blank:
            display = f"{display} {currency}"
        text = field.raw if self.raw_values and not blank else display
        placeholder = "(blank)" if blank else ""
        changed = change is not None
        previous = change.previous if change is not None else ""
        if currency and previous and previous != "(blank)":
            previous = f"{previous} {currency}"  # "was: -5,670.65 USD", like the value above it
        kind, since = (change.kind.value, change.since) if change is not None else ("", None)
        # Each setter below costs a Qt call and an event even when nothing changes, and most of a payment's fields
        # keep some of these between payments: only what differs from what the widget shows is set. What it shows
        # is kept on the widget itself (``FieldEdit.shown``), so comparing asks Qt nothing.
        shown = edit.shown
        if shown is None or shown[0] != text:
            edit.setText(text)
            edit.setCursorPosition(0)  # a long value shows its start
        if shown is None or shown[1] != placeholder:
            edit.setPlaceholderText(placeholder)
        if shown is None or shown[2:] != (changed, previous, kind, since):
            if shown is None or shown[2] != changed:
                edit.setProperty("changed", changed)
            if shown is None or shown[3] != previous:
                edit.setProperty("previousValue", previous)
            self._show_change(edit, changed, previous, kind, since)
        edit.shown = (text, placeholder, changed, previous, kind, since)
        if later:
            self._spoken_later[edit] = (field, display, previous if changed else None)
        else:
            self._spoken_later.pop(edit, None)  # superseded
            _speak(edit, field, display, previous if changed else None)

    def _speak_pending(self) -> None:
        """The tooltips and accessible texts a load left for after its paint (see _show_value)."""
        pending, self._spoken_later = self._spoken_later, {}
        for edit, (field, display, previous) in pending.items():
            _speak(edit, field, display, previous)

    def _currency_for(self, model: RecordModel) -> str:
        """The currency an amount of ``model`` is in, when the API says so: the applied invoice's currency for the
        payment and the invoice, the customer's for the customer (and for an unapplied payment). Business Central
        returns the local currency's code there when the document is in local currency; with neither record loaded
        there is nothing to go by, and no currency is shown rather than a guessed one."""
        if self.related is None:
            return ""
        invoice = self.related.invoice.record
        customer = self.related.customer.record
        sources = [customer] if model is self.related.customer else [invoice, customer]
        if model is self.related.journal:
            return ""
        for record in sources:
            code = record.values.get("currencyCode") if record is not None else None
            if isinstance(code, str) and code.strip():
                return code.strip()
        return ""

    def _refresh_amounts(self) -> None:
        """A related record arrived or changed: the amounts' currency may be known now."""
        self._show_rows(kind="decimal")

    def _show_change(self, edit: FieldEdit, changed: bool, previous: str, kind: str, since: object) -> None:
        """A changed value: a marker glyph on its label, a palette-derived background and "was: …" — never
        colour alone. ◆ since the last refresh, ◇ since your previous visit (with its date)."""
        was, caption = edit.was_label, edit.caption
        if was is None:
            return
        if changed:
            when = ""
            if kind == "visit" and isinstance(since, datetime):
                when = f"since {since.astimezone().strftime('%Y-%m-%d %H:%M')}, "
            was.setText(f"{when}was: {previous}")
            was.setToolTip(f"Before: {previous}")
            was.show()
            palette = edit.palette()
            base = self.palette().color(QPalette.ColorRole.Base)
            accent = self.palette().color(QPalette.ColorRole.Highlight)
            palette.setColor(QPalette.ColorRole.Base, _blend(base, accent, 0.22 if kind == "refresh" else 0.12))
            edit.setPalette(palette)
            edit.setFrame(True)
            edit.setAutoFillBackground(False)  # the frame's rounded corners show what is under them
            if caption is not None:
                caption.setText(("◆ " if kind == "refresh" else "◇ ") + edit.caption_text + ":")
        elif not was.isHidden() or edit.hasFrame():
            was.hide()
            was.clear()
            edit.setPalette(self.palette())
            edit.setFrame(False)
            edit.setAutoFillBackground(True)
            if caption is not None:
                caption.setText(edit.caption_text + ":")

    def _on_rows_changed(self, rows: list[int]) -> None:
        # While a load is being applied, the values on screen are set and painted first; the rows out of sight are
        # set right after that paint, and all of them are spoken then (_after_paint). Any other change (the marks
        # cleared, a refill) is shown and spoken at once.
        loading = self.model is not None and self.model.state == LoadState.LOADING
        first = not self._spoken_later and not self._rows_later
        if loading:
            rows = self._on_screen(rows)
        self._show_rows(rows, later=loading)
        if first and (self._spoken_later or self._rows_later):
            QTimer.singleShot(0, self._after_paint)  # in case no paint follows (nothing pending then: a no-op)

    def _on_screen(self, rows: list[int]) -> list[int]:
        """Of ``rows``, those whose values show in the scroll area now; the others wait in ``_rows_later``.

        A value set costs a format and a Qt text layout (~20 µs each, more in a click), and a payment's fields run
        past the window's height: only what the paint will show is done before it (README "Performance")."""
        model, page = self.model, self.page
        if model is None or page is None:
            return rows
        if not page.isVisible():
            self._rows_later += rows
            return []
        spans = page.spans()
        top = -self.fields_page.y() - page.y()  # (the scroll area moves its page up by what is scrolled)
        bottom = top + self.fields_scroll.viewport().height()
        now: list[int] = []
        for row in rows:
            name = model.name_at(row)
            span = spans.get(name) if name is not None else None
            if span is not None and (span[0] >= bottom or span[1] <= top):
                self._rows_later.append(row)
            elif span is None and name in page.edits:
                self._rows_later.append(row)  # a row hidden on this page
            else:
                now.append(row)
        return now

    def _after_paint(self) -> None:
        """A load's rows out of sight, then the tooltips and accessible texts of all its values."""
        self._show_later()
        self._speak_pending()

    def _show_later(self) -> None:
        rows, self._rows_later = self._rows_later, []
        if rows:
            self._show_rows(rows, later=True)

    def _show_rows(self, rows: Iterable[int] | None = None, *, kind: str | None = None, later: bool = False) -> None:
        """The payment's rows ``rows`` (all by default; only fields of ``kind`` if given) shown again."""
        model = self.model
        if model is None or self.page is None:
            return
        for row in rows if rows is not None else range(model.rowCount()):
            field = model.field_at(row)
            if (field is not None and (kind is None or field.kind == kind)
                    and (edit := self.page.edits.get(field.json_name)) is not None):
                self._show_value(edit, model, row, later=later)

    def _on_state(self) -> None:
        model = self.model
        if model is None:
            return
        # A load on its way: the previous values stay until the new ones arrive; another payment's are dimmed only
        # if that takes long enough to notice (a fast load never flashes: one repaint of the page, not three).
        if model.state == LoadState.LOADING and model.record is not None:
            if not self.slow and not self._slow_timer.isActive():
                self._slow_timer.start()
        else:
            self._slow_timer.stop()
            self._set_slow(False)
            if model.state == LoadState.READY:
                # The form is the first to hear that a load's values are in (bound before the panel, the checks and
                # the change tracking): paint them before the others update the title, the related sections' state
                # and the rest, which follow on Qt's next pass (README "Performance").
                self._paint_values()
                self._show_later()  # the rows out of sight: after the paint, before anything else hears READY
        if model.rowCount() == 0:
            if model.state == LoadState.LOADING:
                self._placeholders.start()
            else:
                self.refill()
        if model.state == LoadState.LOADING and model.record is not None:
            return  # the related sections keep showing the record on screen until the answer: nothing to redo here
        for kind in self.related_sections:
            self._related_state(kind)

    def _loaded(self) -> None:
        self._fill_json()  # once per load, not once per changed row
        self._paint_values()  # (the Raw JSON tab, when it is showing; the values were painted as the load ended)
        self._after_paint()

    def _paint_values(self) -> None:
        if self.page is not None and self.page.isVisible():
            # Paint the new values now rather than at Qt's next frame: the related records and the checks (started
            # right after) then fill in around values the user can already read.
            QCoreApplication.sendPostedEvents(self.window(), QEvent.Type.UpdateRequest)

    def _set_slow(self, slow: bool) -> None:
        if slow != self.slow:
            self.slow = slow
            self._dim(slow)
            self.slowChanged.emit(slow)

    def _dim(self, dim: bool) -> None:
        dim = dim and self.model is not None and self.model.showing_other
        for page in self.pages.values():
            if page.isEnabled() == dim:
                page.setEnabled(not dim)

    def _fill_json(self) -> None:
        """The Raw JSON tab, filled when it is showing (or shown next): highlighting a body nobody looks at would
        cost every load a millisecond."""
        record = self.model.record if self.model is not None else None
        if self.tabs.currentWidget() is not self.json_page:
            self._json_of = None  # filled when the tab is next shown
            return
        if self._json_of is record and record is not None:
            return
        self._json_of = record
        text = record.received_json() if record is not None else ""
        if self.json_view.toPlainText() != text:
            self.json_view.setPlainText(text)

    # ---- related -----------------------------------------------------------------------------------------

    def _build_related(self, kind: str, model: RecordModel) -> None:
        section = RecordSection(TITLES[kind], f"related:{kind}", subject=kind)
        status = a11y.StatusLabel(f"{TITLES[kind]} status")
        status.setObjectName(f"relatedStatus:{kind}")
        status.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # quiet, yet 4.5:1 (ui/theme.py)
        status.setWordWrap(True)
        section.form.addRow(status)
        for name in model.only or ():
            spec = schema.spec_for(model.entity, "v2.0", name)
            section.add_row(name, spec.label, f"{name} ({spec.type_name})", partial(self._copy_related_field, kind))
        copy = QPushButton(f"Copy {TITLES[kind].lower()}")
        copy.setObjectName(f"relatedCopy:{kind}")
        copy.setAccessibleName(f"Copy {TITLES[kind].lower()}")
        copy.setAccessibleDescription(f"Copy the {TITLES[kind].lower()} as lines (Label: value)")
        copy.clicked.connect(lambda _=False, k=kind: self.copy_related(k))
        copy_row = QHBoxLayout()
        copy_row.addStretch(1)
        copy_row.addWidget(copy)
        section.form.addRow(copy_row)
        self.related_sections[kind] = section
        self.related_status[kind] = status
        self.related_box.addWidget(section)
        self._refresh_related(kind)
        self._align_labels()
        self.chainChanged.emit()

    def _refresh_related(self, kind: str) -> None:
        section = self.related_sections.get(kind)
        if section is None or self.related is None:
            return
        model = self.related.models[kind]
        shown: set[str] = set()
        for row in range(model.rowCount()):
            index = model.index(row, 1)
            name = str(index.data(JsonNameRole))
            edit = section.edits.get(name)
            if edit is not None:
                self._show_value(edit, model, row)
                shown.add(name)
        for name in section.edits:
            section.set_row_visible(name, name in shown)
        self._related_state(kind)

    def _related_state(self, kind: str) -> None:
        status = self.related_status.get(kind)
        if status is None or self.related is None:
            return
        model = self.related.models[kind]
        payment = self.model
        section = self.related_sections[kind]
        section.setVisible(payment is not None and (payment.record is not None or payment.rowCount() > 0))
        if self.related.urls.get(kind) is None and model.record is None and model.state != LoadState.LOADING:
            text = {"customer": "No customer on this line.", "invoice": "Not applied to an invoice.",
                    "journal": "The journal is not named by this line."}[kind]
        elif model.state == LoadState.LOADING and model.record is None:
            text = "Loading…"
        elif model.state == LoadState.GONE:
            text = "Not found (it may have been deleted)."
        elif model.state == LoadState.FAILED and model.error is not None:
            text = f"Could not load: {model.error.details().splitlines()[0]}"
            if getattr(model.error, "correlation_id", None):
                text += f" · correlation id {model.error.correlation_id}"  # type: ignore[attr-defined]
        else:
            text = ""
        if status.text() != text:
            status.setText(text)
        status.setVisible(bool(text))

    # ---- raw values, JSON search -------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            # Another theme: a changed value's colours are blended from the palette (_show_change), so every value
            # is shown again rather than only those whose mark changes next.
            for edits in [*(page.edits for page in self.pages.values()),
                          *(section.edits for section in self.related_sections.values())]:
                for edit in edits.values():
                    edit.shown = None
            self._show_rows()
            for kind in self.related_sections:
                self._refresh_related(kind)
        super().changeEvent(event)

    def set_raw_values(self, raw: bool) -> None:
        self.raw_values = raw
        if self.raw_action.isChecked() != raw:
            self.raw_action.setChecked(raw)
        self._show_rows()
        for kind in self.related_sections:
            self._refresh_related(kind)

    def find_in_json(self) -> bool:
        text = self.json_find.text()
        if not text:
            return False
        found = self.json_view.find(text)
        if not found:  # wrap around once
            cursor = self.json_view.textCursor()
            cursor.movePosition(cursor.MoveOperation.Start)
            self.json_view.setTextCursor(cursor)
            found = self.json_view.find(text)
        self.json_find_status.setText("" if found else "Not found")
        return found

    # ---- copying -------------------------------------------------------------------------------------------

    def _emit(self, clip: Clip) -> None:
        if self.copy_handler is not None:
            self.copy_handler(clip)
        self.copied.emit(clip)

    def _copy_payment_field(self, name: str, mode: str) -> None:
        self._copy_field(self.model, name, mode)

    def _copy_related_field(self, kind: str, name: str, mode: str) -> None:
        if self.related is not None:
            self._copy_field(self.related.models[kind], name, mode)

    def _copy_field(self, model: RecordModel | None, name: str, mode: str) -> None:
        from viewer.copying import field_clip

        if model is None or model.showing_other:
            return
        field = model.field(name)
        if field is not None:
            self._emit(field_clip(field, _mode(mode)))

    def copy_related(self, kind: str) -> None:
        from viewer.copying import record_lines

        if self.related is not None and self.related.models[kind].record is not None:
            self._emit(record_lines(self.related.models[kind].fields()))

    def copy_record(self, kind: str) -> None:
        from viewer import copying

        model = self.model
        record = model.record if model is not None else None
        if model is None or record is None or model.showing_other:
            return
        url = self.url_provider() or record.url
        auth, user = self.auth_provider()
        clip: Clip
        if kind == "json":
            clip = copying.record_json(record.values)
        elif kind == "lines":
            clip = copying.record_lines(model.fields())
        elif kind == "table":
            title = f"Payment {record.values.get('documentNumber') or ''}".strip()
            clip = copying.record_table(model.fields(), title=title)
        elif kind == "url":
            clip = copying.Clip(text=url, label="API URL")
        elif kind == "curl":
            clip = copying.curl_command(url, auth=_auth(auth), user=user)
        else:
            clip = copying.powershell_command(url, auth=_auth(auth), user=user)
        self._emit(clip)

    def set_record_actions_enabled(self, enabled: bool) -> None:
        """Raw values and every Copy record action need a payment on screen."""
        for action in (self.raw_action, *self.copy_actions):
            action.setEnabled(enabled)
        self.copy_button.setEnabled(enabled)

    def field_edit(self, name: str) -> FieldEdit | None:
        return self.page.edits.get(name) if self.page is not None else None

    def value_edits(self) -> list[FieldEdit]:
        """The value widgets shown now, in visual order."""
        if self.page is None:
            return []
        return [edit for section in self.page.sections.values() if section.isVisibleTo(self.page)
                for edit in section.edits.values() if edit.holder is not None and edit.holder.isVisibleTo(self.page)]

    def focus_chain(self) -> list[QWidget]:
        """Everything Tab reaches in the form, in visual order: the actions, the tabs, each tab's controls, the
        fields in order, then each related record (its fields, then its copy button). Hidden ones are skipped
        by Qt, so the whole list stays valid whichever tab, version or rows are showing."""
        chain: list[QWidget] = [self.raw_button, self.copy_button, self.tabs]
        for index in range(self.tabs.count()):
            page = self.tabs.widget(index)
            if page is not None and index > 0:  # the Fields tab comes below, row by row
                chain += [w for w in page.findChildren(QWidget) if w.focusPolicy() & Qt.FocusPolicy.TabFocus]
        for field_page in self.pages.values():
            chain += list(field_page.edits.values())
        for section in self.related_sections.values():
            chain += list(section.edits.values())
            chain += section.findChildren(QPushButton)
        return chain

    @property
    def sections(self) -> dict[str, RecordSection]:
        """The groups of the page shown now (tests and assistive-technology checks walk them)."""
        return self.page.sections if self.page is not None else {}


def _blend(base: QColor, accent: QColor, amount: float) -> QColor:
    """``base`` tinted towards ``accent``: derived from the palette, so it suits light and dark themes."""
    return QColor(
        round(base.red() + (accent.red() - base.red()) * amount),
        round(base.green() + (accent.green() - base.green()) * amount),
        round(base.blue() + (accent.blue() - base.blue()) * amount),
    )


def _mode(mode: str) -> CopyMode:
    return "raw" if mode == "raw" else "pair" if mode == "pair" else "display"


def _auth(auth: str) -> Literal["bearer", "basic"]:
    return "basic" if auth == "basic" else "bearer"
