"""The payment area: state banner + every field (label | value) of the current payment.

A plain read-only field list for now; the payment form milestone replaces the table with the form.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from viewer.errors import ApiError, ViewerError
from viewer.models.payment import LoadState, PaymentModel, PaymentRecord

HINT = (
    "Choose a payment in the list on the left, or press Ctrl+O to paste an API URL, a web-client link or GUIDs."
)


class PaymentPanel(QWidget):
    retryRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("paymentPanel")
        self.setAccessibleName("Payment")
        self.model: PaymentModel | None = None
        self.title = QLabel("No payment open")
        self.title.setObjectName("paymentTitle")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner = QFrame()
        self.banner.setObjectName("paymentBanner")
        self.banner.setFrameShape(QFrame.Shape.StyledPanel)
        # Translucent amber reads as "attention" on light and dark palettes alike; the text keeps the palette's.
        self.banner.setStyleSheet(
            "#paymentBanner { background: rgba(255, 176, 32, 0.18); border: 1px solid rgba(255, 176, 32, 0.7);"
            " border-radius: 4px; }"
        )
        self.banner_text = QLabel()
        self.banner_text.setObjectName("paymentBannerText")
        self.banner_text.setWordWrap(True)
        self.banner_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setAccessibleName("Retry loading the payment")
        self.retry_button.clicked.connect(self.retryRequested)
        banner_row = QHBoxLayout(self.banner)
        banner_row.addWidget(self.banner_text, 1)
        banner_row.addWidget(self.retry_button)
        self.banner.hide()
        self.table = QTableView()
        self.table.setObjectName("paymentFields")
        self.table.setAccessibleName("Payment fields")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(False)  # one line per field: labels never break mid-caption
        self.hint = QLabel(HINT)
        self.hint.setObjectName("paymentHint")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setEnabled(False)  # the palette's quiet (disabled) text colour, in light and dark themes
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.hint, 1)

    def bind(self, model: PaymentModel) -> None:
        self.model = model
        self.table.setModel(model)
        # Per-section modes only stick once the model has given the header its sections.
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        model.stateChanged.connect(lambda _s: self._refresh())
        model.loaded.connect(lambda _r: self._refresh())
        model.failed.connect(lambda _e: self._refresh())
        self._refresh()

    def _refresh(self) -> None:
        model = self.model
        if model is None:
            return
        record: PaymentRecord | None = model.record
        if record is not None:
            v = record.values
            self.title.setText(f"Payment {v.get('documentNumber') or ''} · line {v.get('lineNumber', '')}".strip())
        elif model.state == LoadState.LOADING:
            self.title.setText("Loading payment…")
        else:
            self.title.setText("No payment open")
        state = model.state
        empty = record is None and state in (LoadState.EMPTY, LoadState.LOADING)
        self.table.setVisible(not empty)
        self.hint.setVisible(empty)
        self.hint.setText("Loading the payment…" if state == LoadState.LOADING else HINT)
        if state == LoadState.LOADING and record is not None:
            self._banner("Refreshing…", retry=False)
        elif state == LoadState.GONE:
            self._banner(
                "⚠ No longer in the journal — probably posted or deleted. Showing the last data seen."
                if record is not None
                else _describe(model.error),
                retry=True,
            )
        elif state == LoadState.FAILED:
            prefix = (
                f"⚠ Showing the data fetched at {record.fetched_at.astimezone().strftime('%H:%M:%S')} (stale). "
                if record is not None else "⚠ "
            )
            self._banner(prefix + _describe(model.error), retry=True)
        else:
            self.banner.hide()

    def _banner(self, text: str, *, retry: bool) -> None:
        self.banner_text.setText(text)
        self.retry_button.setVisible(retry)
        self.banner.show()


def _describe(error: ViewerError | None) -> str:
    if error is None:
        return ""
    if isinstance(error, ApiError):
        return error.details().replace("\n", " · ")
    return str(error)
