"""The main window: sign-in bar on top, navigator | payment in a splitter, request facts in the status bar.

The frame can be shown before its panels exist (``deferred=True`` then ``build()``), and the panels as an empty
window shows them before the payment's form exists (``build(shell=True)`` then ``complete()``): the first paint does
not wait for the models, the schema and the form to import (ui/app.py). ``AppController`` binds models later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMainWindow, QWidget

# Only what the frame needs is imported here: PySide6 initialises each class on first use, and the
# menus' and panels' classes would cost the first paint ~20 ms (measured with -X importtime).
if TYPE_CHECKING:
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QCloseEvent

    from ui.navigator import NavigatorWidget
    from ui.payment_panel import PaymentPanel
    from ui.signin import SignInWidget


class MainWindow(QMainWindow):
    closed = Signal()
    visibleChanged = Signal(bool)  # False while hidden or minimised (the watcher pauses)
    openRequested = Signal()
    refreshRequested = Signal()
    exportRequested = Signal()
    forgetHistoryRequested = Signal()

    def __init__(self, parent: QWidget | None = None, *, deferred: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("BC Payment Viewer")
        self.resize(1280, 800)
        from ui.elided import ElidedLabel  # small, and the status bar is part of the first paint

        # Elided (whole in the tooltip) rather than widening the window: the status bar gives way, not the window.
        # Its accessible name is its whole text (a status line a screen reader can read).
        self.facts_label = ElidedLabel(purpose="Last request")
        self.facts_label.setObjectName("requestFacts")
        self.facts_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.statusBar().setObjectName("statusBar")
        self.statusBar().addPermanentWidget(self.facts_label)
        self.statusBar().showMessage("Starting…")
        self.built = self.completed = False
        if not deferred:
            self.build()

    def build(self, *, shell: bool = False) -> None:
        """Create the panels and menus (imports the widget modules; call once). ``shell``: the payment panel without
        its form, checks and History (an empty panel shows none of them) until ``complete()``."""
        from PySide6.QtWidgets import QSplitter, QVBoxLayout

        from ui.navigator import NavigatorWidget
        from ui.payment_panel import PaymentPanel
        from ui.signin import SignInWidget

        self.sign_in: SignInWidget = SignInWidget()
        self.navigator: NavigatorWidget = NavigatorWidget()
        self.payment: PaymentPanel = PaymentPanel(deferred=shell)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.navigator)
        self.splitter.addWidget(self.payment)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        # Half and half to start with (the panels' size hints would squeeze the list); restored state wins.
        self.splitter.setSizes([640, 640])

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sign_in)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self._build_menus()
        self.statusBar().clearMessage()
        self.built = True
        if not shell:
            self.complete()

    def complete(self) -> None:
        """The payment panel's form, checks and History, and the Payment menu's actions (once, after ``build``)."""
        if self.completed:
            return
        from PySide6.QtGui import QAction

        self.payment.complete()
        payment_menu = self.payment_menu
        payment_menu.addAction(self.payment.form.raw_action)
        payment_menu.addSeparator()
        payment_menu.addActions(self.payment.form.copy_actions)
        payment_menu.addSeparator()
        export = QAction("&Export as JSON file…", self)
        export.triggered.connect(self.exportRequested)
        payment_menu.addAction(export)
        self.keep_history_action = QAction("&Keep a history of payments", self)
        self.keep_history_action.setCheckable(True)
        payment_menu.addAction(self.keep_history_action)
        forget = QAction("&Forget history", self)
        forget.triggered.connect(self.forgetHistoryRequested)
        payment_menu.addAction(forget)
        self._visibility = _Visibility(self)
        self.installEventFilter(self._visibility)
        self.completed = True

    def _build_menus(self) -> None:
        from PySide6.QtGui import QAction, QKeySequence
        from PySide6.QtWidgets import QMenu

        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open…", self)
        self.open_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Open), QKeySequence("Ctrl+L")])
        self.open_action.setStatusTip("Open a payment by URL or GUIDs")
        self.open_action.triggered.connect(self.openRequested)
        file_menu.addAction(self.open_action)
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.setObjectName("recentMenu")
        file_menu.addMenu(self.recent_menu)
        self.refresh_action = QAction("&Refresh", self)
        self.refresh_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.refresh_action.triggered.connect(self.refreshRequested)
        file_menu.addAction(self.refresh_action)
        # macOS moves these two to the application menu (Preferences…/Cmd+, and Quit/Cmd+Q) by their roles.
        self.profiles_action = QAction("&Profiles…", self)
        self.profiles_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.profiles_action.setShortcut(QKeySequence.StandardKey.Preferences)
        self.profiles_action.triggered.connect(self.sign_in.editProfilesRequested)
        file_menu.addAction(self.profiles_action)
        file_menu.addSeparator()
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setObjectName("quitAction")
        # The platform's Quit key is empty on Windows (and on some desktops): Ctrl+Q is bound explicitly, as the
        # README promises, alongside whatever the platform adds.
        quit_keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Quit)
        ctrl_q = QKeySequence("Ctrl+Q")
        self.quit_action.setShortcuts([*quit_keys, ctrl_q] if ctrl_q not in quit_keys else quit_keys)
        self.quit_action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)  # one way out: closing runs the app's shutdown
        file_menu.addAction(self.quit_action)

        self.payment_menu = self.menuBar().addMenu("&Payment")  # its actions come with the form: complete()
        self.payment_menu.setObjectName("paymentMenu")

        view_menu = self.menuBar().addMenu("&View")
        # Alt+O/E/C/J/I reach profile, environment, company, journal and search-in (label mnemonics); Alt+D, W, H
        # the payment's tabs. tests/test_a11y.py checks that no two mnemonics of the window clash.
        for text, shortcut, target in (
            ("Go to &search", QKeySequence.StandardKey.Find, self.navigator.search_edit),
            ("Go to the payments &list", "Ctrl+1", self.navigator.view),
        ):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(target.setFocus)
            view_menu.addAction(action)
        fields = QAction("Go to the payment's &fields", self)
        fields.setShortcut(QKeySequence("Ctrl+2"))
        fields.triggered.connect(self.payment.focus_first_field)
        view_menu.addAction(fields)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed.emit()
        super().closeEvent(event)


class _Visibility(QObject):
    """Emits the window's ``visibleChanged`` when it is shown, hidden, minimised or restored. A filter installed by
    ``complete()`` rather than event handlers on the window: PySide6 sets up QEvent's types (~3 ms) the first time
    a Python event handler of the window runs, which would be during the first paint — and nobody listens yet then."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        from PySide6.QtCore import QEvent

        kind = event.type()
        if kind == QEvent.Type.Hide:
            self._window.visibleChanged.emit(False)
        elif kind in (QEvent.Type.Show, QEvent.Type.WindowStateChange):
            self._window.visibleChanged.emit(self._window.isVisible() and not self._window.isMinimized())
        return False
