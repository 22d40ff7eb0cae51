"""The payment area: title, state banner, the payment form, and the facts of the last fetch.

States: empty (a hint), loading (the form's placeholder layout), ready, failed (last data kept, marked stale,
with its age), gone (404: probably posted or deleted, last data kept) and signed out (last data kept).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from ui import a11y
from ui.a11y import StatusLabel, tab_chain
from ui.welcome import WelcomeHint

# The form, the checks strip and the History tab (with the models and the schema behind them) are imported by
# ``complete()``: an empty panel shows none of them, so the first paint need not wait for them (ui/app.py).
if TYPE_CHECKING:
    from datetime import datetime

    from ui.checks_strip import ChecksStrip
    from ui.history import HistoryView
    from ui.payment_form import PaymentForm
    from viewer.checking import PaymentChecks
    from viewer.copying import Clip
    from viewer.errors import ViewerError
    from viewer.models.payment import LoadState, PaymentModel, PaymentRecord
    from viewer.related import Related

HINT = (
    "Choose a payment in the list on the left, or press Ctrl+O to paste an API URL, a web-client link or GUIDs."
)


def put_on_clipboard(clip: Clip) -> None:
    """Plain text always; HTML too when the clip has a table (Excel and Outlook paste it as a table)."""
    mime = QMimeData()
    mime.setText(clip.text)
    if clip.html is not None:
        mime.setHtml(clip.html)
    QGuiApplication.clipboard().setMimeData(mime)


class PaymentPanel(QWidget):
    retryRequested = Signal()
    linkActivated = Signal(str)
    # Made by complete(): a deferred panel has them from then on.
    checks_strip: ChecksStrip
    form: PaymentForm
    history: HistoryView

    def __init__(self, parent: QWidget | None = None, *, deferred: bool = False) -> None:
        """``deferred``: only what an empty panel shows (title and hint); ``complete()`` adds the rest."""
        super().__init__(parent)
        self.setObjectName("paymentPanel")
        self.setAccessibleName("Payment")
        self.model: PaymentModel | None = None
        self.signed_in = True
        self.checked_at: datetime | None = None  # the last time Watch confirmed the payment unchanged
        self._shown: tuple[object, ...] | None = None  # what _refresh last drew from
        self.title = QLabel("No payment open")
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # the document number is the server's text
        self.title.setObjectName("paymentTitle")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)  # a long document number wraps rather than widening the window
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Opaque, in the panel's own colour: a new title repaints only itself, not the window, splitter and panel
        # under it (they were painted on every click before the payment's values; README "Performance").
        self.title.setAutoFillBackground(True)

        self.banner = QFrame()
        self.banner.setObjectName("paymentBanner")
        self.banner.setFrameShape(QFrame.Shape.StyledPanel)
        # Tooltip colours: the palette's own "note" colours, right in light and dark themes alike.
        self.banner.setAutoFillBackground(True)
        self.banner.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.banner.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.banner_text = StatusLabel("Payment status")
        self.banner_text.setObjectName("paymentBannerText")
        self.banner_text.setWordWrap(True)
        self.banner_text.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.banner_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setAccessibleName("Retry loading the payment")
        self.retry_button.clicked.connect(self.retryRequested)
        banner_row = QHBoxLayout(self.banner)
        banner_row.addWidget(self.banner_text, 1)
        banner_row.addWidget(self.retry_button)
        self.banner.hide()

        # What changed: one line (announced to screen readers) and a way to acknowledge the marks.
        self.summary = StatusLabel("What changed")
        self.summary.setObjectName("changeSummary")
        self.summary.setWordWrap(True)
        self.ack_button = QPushButton("Mark as seen")
        self.ack_button.setObjectName("ackChanges")
        self.ack_button.setAccessibleName("Mark as seen")
        self.ack_button.setAccessibleDescription("Clear the marks of the changed fields")
        summary_row = QHBoxLayout()
        summary_row.addWidget(self.summary, 1)
        summary_row.addWidget(self.ack_button)
        # Showing and hiding the button must not move everything below it on every load.
        policy = self.ack_button.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.ack_button.setSizePolicy(policy)
        self.ack_button.hide()

        # Watch: a cheap check every N seconds; full reload only on a change.
        self.watch_button = QPushButton("Watch")
        self.watch_button.setObjectName("watchToggle")
        self.watch_button.setCheckable(True)
        self.watch_button.setAccessibleName("Watch this payment for changes")
        self.watch_interval = QComboBox()
        self.watch_interval.setObjectName("watchInterval")
        self.watch_interval.setAccessibleName("Watch interval")
        for seconds in (5, 10, 30, 60, 300):
            self.watch_interval.addItem(f"every {seconds} s" if seconds < 60 else f"every {seconds // 60} min",
                                        seconds)
        self.watch_interval.setCurrentIndex(2)
        # The combo's label relation: on Linux a combo box is named after its value ("every 30 s"), so the label
        # is what says what it chooses.
        self.watch_interval_label = QLabel("Interval:")
        self.watch_interval_label.setBuddy(self.watch_interval)
        self.watch_status = StatusLabel("Watch status")
        self.watch_status.setObjectName("watchStatus")
        # Quiet but readable (4.5:1, ui/theme.py); the disabled colour made it look unavailable.
        # Body text, not the quiet colour: "Watching every 10 s" is an active state and must not look disabled.
        self.watch_status.setForegroundRole(QPalette.ColorRole.WindowText)
        watch_row = QHBoxLayout()
        watch_row.addWidget(self.watch_button)
        watch_row.addWidget(self.watch_interval_label)
        watch_row.addWidget(self.watch_interval)
        watch_row.addWidget(self.watch_status, 1)

        self.facts = StatusLabel("Facts of the last fetch")
        self.facts.setObjectName("paymentFacts")
        self.facts.setWordWrap(True)
        # Never widens the window: an ETag or a request id is one long word; it wraps at the " · " between facts
        # and the whole text stays in the tooltip, the accessible name and Copy facts.
        self.facts.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_facts = QPushButton("Copy facts")
        self.copy_facts.setAccessibleName("Copy facts")
        self.copy_facts.setAccessibleDescription("Copy the facts of the last fetch for a support ticket")
        self.copy_facts.clicked.connect(self._copy_facts)
        self.copied_label = StatusLabel("Copy confirmation")
        self.copied_label.setObjectName("copiedConfirmation")
        self._copied_timer = QTimer(self)
        self._copied_timer.setSingleShot(True)
        self._copied_timer.timeout.connect(self.copied_label.clear)
        facts_row = QHBoxLayout()
        facts_row.addWidget(self.facts, 1)
        facts_row.addWidget(self.copied_label)
        facts_row.addWidget(self.copy_facts)
        self._age_timer = QTimer(self)
        self._age_timer.setInterval(1000)
        self._age_timer.timeout.connect(self._show_facts)
        # The facts line follows the values by one event pass: the paint that shows a payment's values need not
        # also lay out and draw this two-line status (the status bar's request facts wait the same way).
        self._facts_timer = QTimer(self)
        self._facts_timer.setSingleShot(True)
        self._facts_timer.setInterval(0)
        self._facts_timer.timeout.connect(self._show_facts)

        self.hint = WelcomeHint(HINT)  # ui/welcome.py: the hint, or the first start's welcome with its buttons
        self.hint.setObjectName("paymentHint")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # quiet, yet 4.5:1 (ui/theme.py)
        self.hint.linkActivated.connect(self.linkActivated)

        self._layout = layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.banner)
        layout.addLayout(summary_row)
        layout.addLayout(watch_row)
        # (the checks strip and the form go here: complete())
        layout.addLayout(facts_row)
        layout.addWidget(self.hint, 1)
        self.completed = False
        if deferred:  # drawn as an empty panel is (``_refresh`` shows these once there is a payment)
            for widget in (self.watch_button, self.watch_interval_label, self.watch_interval, self.watch_status,
                           self.facts, self.copy_facts):
                widget.hide()
        else:
            self.complete()

    def complete(self) -> None:
        """Add the checks strip, the form and its History tab (once; before ``bind``)."""
        if self.completed:
            return
        from ui.checks_strip import ChecksStrip
        from ui.history import HistoryView
        from ui.payment_form import PaymentForm

        # Will it post, what does it settle: above the fields (ui/checks_strip.py), filled by bind_checks().
        self.checks_strip = ChecksStrip()
        self.checks_strip.copy_handler = put_on_clipboard
        self.checks_strip.copied.connect(self._confirm_copy)
        self.checks_strip.chainChanged.connect(self._chain)

        self.form = PaymentForm()
        self.form.copy_handler = put_on_clipboard
        self.form.copied.connect(self._confirm_copy)
        self.history = HistoryView()
        self.history.copied.connect(self._copied_elsewhere)
        self.form.tabs.addTab(self.history, "&History")
        self.form.tabs.currentChanged.connect(
            lambda i: self.history.reload() if self.form.tabs.widget(i) is self.history else None
        )
        if self.facts.isHidden():  # a deferred panel: empty until bound, as _refresh would show it
            self.form.hide()
        self._layout.insertWidget(4, self.checks_strip)  # below the watch row, above the facts
        self._layout.insertWidget(5, self.form, 1)
        self.form.chainChanged.connect(self._chain)
        self.completed = True
        self._chain()

    def _chain(self) -> None:
        """Tab follows what is seen, top to bottom: Retry, Mark as seen, Watch and its interval, the checks' Copy
        buttons, the form's actions, tabs, fields and related records, then Copy facts (tests/test_a11y.py walks it)."""
        tab_chain([self.retry_button, self.ack_button, self.watch_button, self.watch_interval,
                   *self.checks_strip.focus_chain(), *self.form.focus_chain(), self.copy_facts])

    def bind(self, model: PaymentModel, related: Related | None = None) -> None:
        self.model = model
        self.form.bind(model, related)
        model.stateChanged.connect(self._on_state)
        self.form.slowChanged.connect(lambda _slow: self._refresh())  # the loading look, once a load is slow
        model.loaded.connect(lambda _r: self._refresh())
        model.failed.connect(lambda _e: self._refresh())
        self._refresh()

    def _on_state(self, _state: LoadState) -> None:
        self._refresh()

    def bind_checks(self, checks: PaymentChecks) -> None:
        checks.checksChanged.connect(self.checks_strip.set_checks)
        self.checks_strip.set_checks(checks.checks)

    def set_welcome(self, welcome: bool) -> None:
        """First start (no profile yet): a short guide instead of the "choose a payment" hint."""
        self.hint.set_welcome(welcome)

    def set_signed_in(self, signed_in: bool) -> None:
        self.signed_in = signed_in
        self._refresh()

    def focus_first_field(self) -> None:
        if not self.completed:
            return  # Ctrl+2 in the first moments of a start: nothing to focus yet
        edits = self.form.value_edits()
        if edits:
            edits[0].setFocus()
        else:
            self.form.setFocus()

    # ---- state ------------------------------------------------------------------------------------------

    def _refresh(self) -> None:
        from viewer.models.payment import LoadState

        model = self.model
        if model is None:
            return
        state = model.state
        # While a load is young, show what is there as it is: no "Loading…" title or banner for a fast load.
        quiet = state == LoadState.LOADING and not self.form.slow and model.record is not None
        record: PaymentRecord | None = None if model.showing_other and not quiet else model.record
        if quiet:
            state = LoadState.READY
        # A load's state changes and its ``loaded`` signal each ask for a refresh, and a young load looks like the
        # payment before it: what is shown depends only on these, so the same ones are not drawn twice.
        shown = (state, record, model.record, model.error, self.signed_in, self.form.slow, self.checked_at)
        if self._shown is not None and all(a is b for a, b in zip(shown, self._shown, strict=True)):
            return
        self._shown = shown
        if record is not None:
            v = record.values
            self.title.setText(f"Payment {v.get('documentNumber') or '(no document no.)'} · line "
                               f"{v.get('lineNumber', '')}".strip())
        elif state == LoadState.LOADING:
            self.title.setText("Loading payment…")
        else:
            self.title.setText("No payment open")
        empty = model.record is None and state == LoadState.EMPTY
        self.form.setVisible(not empty)
        # Nothing to copy or switch without data of this payment (nothing shown, or another one on its way).
        self.form.set_record_actions_enabled(record is not None)
        self.copy_facts.setEnabled(record is not None)
        for widget in (self.watch_button, self.watch_interval_label, self.watch_interval, self.watch_status):
            widget.setVisible(record is not None)
        self.hint.setVisible(empty)
        self.facts.setVisible(record is not None)
        self.copy_facts.setVisible(record is not None)
        if record is not None:
            self._age_timer.start()
        else:
            self._age_timer.stop()
        self._facts_timer.start()
        fetched = record.fetched_at.astimezone().strftime("%H:%M:%S") if record is not None else ""
        if state == LoadState.LOADING and record is not None:
            self._banner("Refreshing…", retry=False)
        elif state == LoadState.GONE:
            self._banner(
                "⚠ This payment is no longer in the journal — it may have been posted or deleted. "
                f"Showing the last data seen (fetched at {fetched})." if record is not None
                else "⚠ " + _describe(model.error),
                retry=True, announce=True,
            )
        elif state == LoadState.FAILED:
            prefix = f"⚠ Showing the data fetched at {fetched} (stale). " if record is not None else "⚠ "
            self._banner(prefix + _describe(model.error), retry=True)
        elif not self.signed_in and record is not None:
            self._banner(f"Signed out — showing the data fetched at {fetched}. Sign in to refresh.", retry=False)
        else:
            self.banner.hide()

    def _banner(self, text: str, *, retry: bool, announce: bool = False) -> None:
        """``announce``: spoken unasked too (a payment gone), once per text."""
        if announce and text != self.banner_text.text():
            a11y.announce(self.banner_text, text, assertive=True)
        self.banner_text.setText(text)
        self.retry_button.setVisible(retry)
        self.banner.show()

    def _show_facts(self) -> None:
        from datetime import UTC, datetime  # (not at import: ~2 ms of the first paint)

        from viewer.copying import age_text

        model = self.model
        record = model.record if model is not None and not (model.showing_other and self.form.slow) else None
        if record is None:
            self.facts.clear()
            return
        f = record.facts
        now = datetime.now(UTC)
        fetched = f.fetched_at.astimezone().strftime("%H:%M:%S")
        checked = self.checked_at if self.checked_at is not None and self.checked_at > f.fetched_at else None
        if checked is not None:
            # Watch confirmed it: the data is as fresh as the last check, not as old as the last full load.
            first = f"checked {age_text((now - checked).total_seconds())} · unchanged since {fetched}"
        else:
            first = f"Fetched {age_text((now - f.fetched_at).total_seconds())} ({fetched})"
        parts = [first, f"HTTP {f.status}", f"{f.elapsed_ms:.0f} ms"]
        if record.etag:
            parts.append(f"ETag {record.etag}")
        if f.request_id:
            parts.append(f"request id {f.request_id}")
        if f.correlation_id:
            parts.append(f"correlation id {f.correlation_id}")
        text = " · ".join(parts)
        self.facts.setText(text[0].upper() + text[1:])
        self.facts.setToolTip(text[0].upper() + text[1:])

    def _copy_facts(self) -> None:
        from viewer.copying import facts_clip

        record = self.model.record if self.model is not None else None
        if record is not None:
            clip = facts_clip(record.facts)
            put_on_clipboard(clip)
            self._confirm_copy(clip)

    def show_summary(self, text: str, *, marks: bool) -> None:
        self.summary.setText(text)
        self.summary.setVisible(bool(text))
        self.ack_button.setVisible(marks)
        if text:
            a11y.announce(self.summary, text)  # spoken without moving the focus, each time it is shown

    def set_watch_status(self, text: str) -> None:
        self.watch_status.setText(text)

    def note_checked(self, when: datetime) -> None:
        """Watch found the open payment unchanged at ``when``: the facts say so."""
        self.checked_at = when
        self._show_facts()

    def _copied_elsewhere(self, clip: Clip) -> None:
        put_on_clipboard(clip)
        self._confirm_copy(clip)

    def _confirm_copy(self, clip: Clip) -> None:
        # Non-modal and brief; focus stays where it was.
        text = f"✓ Copied {clip.label}" if clip.label else "✓ Copied"
        self.copied_label.setText(text)
        a11y.announce(self.copied_label, text)  # every copy, even the same one twice
        self._copied_timer.start(2500)


def _describe(error: ViewerError | None) -> str:
    from viewer.errors import ApiError

    if error is None:
        return ""
    if isinstance(error, ApiError):
        return error.details().replace("\n", " · ")
    return str(error)
