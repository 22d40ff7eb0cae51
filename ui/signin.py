"""The sign-in bar: profile picker, who is signed in, browser / device-code sign-in with Cancel.

It never widens the window: the account line elides (whole in its tooltip), and each state shows only the controls
that apply — signed out: the two ways to sign in and the registration help; signing in: progress and Cancel; signing
out: progress only; signed in: Account and Sign out.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.a11y import StatusLabel
from ui.elided import ElidedLabel

if TYPE_CHECKING:  # type-only: keeps httpx/msal, asyncio, the workspace and profiles out of the first paint's imports
    from viewer.auth import DeviceCode
    from viewer.errors import ViewerError
    from viewer.profiles import Profile
    from viewer.tasks import TaskSet, TaskSlot
    from viewer.workspace import Identity, Workspace


REGISTRATION_HELP = (
    "<b>Signing in to your own tenant</b><br>"
    "Register an app in Microsoft Entra ID (portal.azure.com → App registrations → New registration):"
    "<ol><li>Under <i>Authentication</i>, add the platform <i>Mobile and desktop applications</i> with the "
    "redirect URI <code>http://localhost</code>.</li>"
    "<li>Under <i>API permissions</i>, add <i>Dynamics 365 Business Central</i> → <i>Delegated</i> → "
    "<code>Financials.ReadWrite.All</code> (or <code>user_impersonation</code>), and grant consent.</li>"
    "<li>For <i>Use a code instead</i>, turn on <i>Allow public client flows</i>.</li>"
    "<li>Copy the <i>Application (client) ID</i> and your tenant id or domain into a profile.</li></ol>"
)


class SignInWidget(QFrame):
    """Binds to a ``Workspace``. ``editProfilesRequested`` opens the profile editor."""

    editProfilesRequested = Signal()
    profileChosen = Signal(object)  # Profile

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("signInWidget")
        self.setAccessibleName("Sign-in")
        self.workspace: Workspace | None = None
        self._activity = ""  # "sign-in" or "sign-out" while a task runs: which controls apply
        self._code: DeviceCode | None = None

        self.profile_combo = QComboBox()
        self.profile_combo.setObjectName("profileCombo")
        self.profile_combo.setAccessibleName("Profile")
        self.profile_combo.setMinimumContentsLength(8)
        self.profile_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.profile_combo.activated.connect(self._on_profile_activated)
        self.edit_profiles = QToolButton()
        self.edit_profiles.setText("Profiles…")
        self.edit_profiles.setAccessibleName("Edit profiles")
        self.edit_profiles.clicked.connect(self.editProfilesRequested)

        self.account_label = ElidedLabel("Not signed in", purpose="Signed-in account")
        self.account_label.setObjectName("accountLabel")
        self.account_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.browser_button = QPushButton("Sign in with browser")
        self.browser_button.setObjectName("browserSignIn")
        self.browser_button.setAccessibleName("Sign in with browser")
        self.browser_button.clicked.connect(self.sign_in_browser)
        self.code_button = QPushButton("Use a code instead")
        self.code_button.setObjectName("codeSignIn")
        self.code_button.setAccessibleName("Use a code instead")
        self.code_button.setAccessibleDescription("Sign in with a device code, on this or another device")
        self.code_button.clicked.connect(self.sign_in_device_code)
        self.account_button = QToolButton()
        self.account_button.setText("Account")
        self.account_button.setAccessibleName("Account menu")
        self.account_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.account_menu = QMenu(self.account_button)
        self.account_menu.aboutToShow.connect(self._fill_account_menu)
        self.account_button.setMenu(self.account_menu)
        self.sign_out_button = QPushButton("Sign out")
        self.sign_out_button.setObjectName("signOut")
        self.sign_out_button.setAccessibleName("Sign out")
        self.sign_out_button.clicked.connect(self.sign_out)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(80)
        self.progress.setAccessibleName("Signing in")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelSignIn")
        self.cancel_button.setAccessibleName("Cancel sign-in")
        self.cancel_button.clicked.connect(self.cancel)

        # Device code panel: the code large and selectable, the link, copy/open, a countdown.
        self.code_panel = QFrame()
        self.code_panel.setObjectName("deviceCodePanel")
        self.code_panel.setFrameShape(QFrame.Shape.StyledPanel)
        self.code_label = StatusLabel("Device code")
        self.code_label.setObjectName("deviceCode")
        self.code_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.code_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        self.code_label.setFont(font)
        self.link_label = QLabel()
        self.link_label.setObjectName("deviceCodeLink")
        self.link_label.setOpenExternalLinks(True)
        self.link_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.copy_code_button = QPushButton("Copy code")
        self.copy_code_button.setAccessibleName("Copy code")
        self.copy_code_button.setAccessibleDescription("Copy the device code")
        self.copy_code_button.clicked.connect(self._copy_code)
        self.open_link_button = QPushButton("Open browser")
        self.open_link_button.setAccessibleName("Open browser")
        self.open_link_button.setAccessibleDescription("Open the sign-in page in the browser")
        self.open_link_button.clicked.connect(self._open_link)
        self.countdown_label = StatusLabel("Device code expiry")
        self.countdown_label.setObjectName("deviceCodeCountdown")
        code_row = QHBoxLayout(self.code_panel)
        code_text = QVBoxLayout()
        code_text.addWidget(QLabel("To sign in, open the page below and enter this code:"))
        code_text.addWidget(self.code_label)
        code_text.addWidget(self.link_label)
        code_text.addWidget(self.countdown_label)
        code_row.addLayout(code_text, 1)
        code_row.addWidget(self.copy_code_button)
        code_row.addWidget(self.open_link_button)
        self._countdown = QTimer(self)
        self._countdown.setInterval(1000)
        self._countdown.timeout.connect(self._tick)

        self.notice_label = StatusLabel("Notice", announce=True)
        self.notice_label.setObjectName("signInNotice")
        self.notice_label.setWordWrap(True)
        self.error_label = StatusLabel("Sign-in problem", announce=True)
        self.error_label.setObjectName("signInError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice_label.hide()
        self.error_label.hide()
        # A profile that could not even connect (identity server unreachable, TLS, DNS): try it again.
        self.retry_button = QPushButton("Try again")
        self.retry_button.setObjectName("retrySignIn")
        self.retry_button.setAccessibleName("Try connecting again")
        self.retry_button.clicked.connect(self._retry)
        self.retry_button.hide()
        self.help_button = QToolButton()
        self.help_button.setObjectName("registrationHelpButton")
        self.help_button.setText("Help")
        self.help_button.setToolTip("App registration help: what a tenant needs for this app to sign in")
        self.help_button.setAccessibleName("App registration help")
        self.help_label = QLabel(REGISTRATION_HELP)
        self.help_label.setObjectName("registrationHelp")
        self.help_label.setWordWrap(True)
        self.help_label.setTextFormat(Qt.TextFormat.RichText)
        self.help_label.hide()
        self.help_button.clicked.connect(lambda: self.help_label.setVisible(not self.help_label.isVisible()))

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        profile_label = QLabel("Pr&ofile:")  # Alt+P is the Payment menu
        profile_label.setBuddy(self.profile_combo)
        for widget in (profile_label, self.profile_combo, self.edit_profiles):
            row.addWidget(widget)
        row.addSpacing(6)
        row.addWidget(self.account_label, 1)
        for w in (self.progress, self.cancel_button, self.browser_button, self.code_button,
                  self.account_button, self.sign_out_button, self.help_button):
            row.addWidget(w)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(row)
        layout.addWidget(self.code_panel)
        layout.addWidget(self.notice_label)
        error_row = QHBoxLayout()
        error_row.addWidget(self.error_label, 1)
        error_row.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(error_row)
        layout.addWidget(self.help_label)
        self._hide_code()
        self._show_identity(None)
        self._set_busy(False)

    # ---- binding ---------------------------------------------------------------------------------

    def bind(self, workspace: Workspace) -> None:
        from viewer.tasks import TaskSet, TaskSlot  # here, not at import: asyncio is not needed for the first paint

        # One sign-in action at a time; a new one (or Cancel) ends the old one. Interrupting is safe here: the flows
        # wait on MSAL in worker threads or on the loopback receiver, never on the app's HTTP client (viewer/tasks.py).
        self._slot: TaskSlot = TaskSlot("sign-in", interrupt=True)
        self._tasks: TaskSet = TaskSet()
        self.workspace = workspace
        workspace.identityChanged.connect(self._show_identity)
        workspace.deviceCodeIssued.connect(self._show_code)
        workspace.notice.connect(self._show_notice)
        workspace.connectionChanged.connect(lambda _c: self._set_busy(self.busy))
        workspace.failed.connect(self._show_failure)
        workspace.connectionChanged.connect(self._follow_connection)
        self.reload_profiles()

    def _follow_connection(self, connection: object) -> None:
        """The list shows the live profile, however it was chosen (start-up, --profile, the welcome's sandbox)."""
        profile = getattr(connection, "profile", None)
        row = self.profile_combo.findText(profile.name) if profile is not None else -1
        if row >= 0 and row != self.profile_combo.currentIndex():
            self.profile_combo.blockSignals(True)
            self.profile_combo.setCurrentIndex(row)
            self.profile_combo.blockSignals(False)

    def reload_profiles(self, current: str | None = None) -> None:
        assert self.workspace is not None
        self.profile_combo.blockSignals(True)
        self.profile_combo.clear()
        for profile in self.workspace.profiles():
            self.profile_combo.addItem(profile.name, profile)
        conn = self.workspace.connection
        name = current or (conn.profile.name if conn else None)
        if name is not None and (row := self.profile_combo.findText(name)) >= 0:
            self.profile_combo.setCurrentIndex(row)
        self.profile_combo.blockSignals(False)

    def _on_profile_activated(self, row: int) -> None:
        profile: Profile | None = self.profile_combo.itemData(row)
        if profile is not None:
            self.profileChosen.emit(profile)

    # ---- actions ---------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.workspace is not None and self._slot.running  # (the slot comes with the workspace: bind)

    def sign_in_browser(self) -> None:
        # The native handle is read here, on the GUI thread; the broker (if any) runs in a worker thread.
        self._tasks.spawn(self._run(self._workspace().sign_in_browser(window_handle=int(self.window().winId()))))

    def sign_in_device_code(self) -> None:
        self._tasks.spawn(self._run(self._workspace().sign_in_device_code()))

    def sign_out(self) -> None:
        self._tasks.spawn(self._run(self._workspace().sign_out(), activity="sign-out"))

    def cancel(self) -> None:
        self._slot.cancel()

    async def _run(self, coro: Any, *, activity: str = "sign-in") -> None:
        """disable triggers → await → report a typed error → re-enable (DESIGN §3)."""
        import asyncio

        from viewer.errors import ViewerError

        _show_text(self.error_label, "")
        task = self._slot.start(coro)  # cancels the action before it
        self._activity = activity
        self._set_busy(True)
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # this coroutine itself is being cancelled (shutdown)
            if self._slot.task is task:
                _show_text(self.error_label, "Sign-in cancelled.")
        except ViewerError as exc:
            _show_text(self.error_label, str(exc))
        finally:
            if self._slot.task is task:  # else a newer action took over the bar; it resets it when it ends
                self._activity = ""
                self._hide_code()
                self._set_busy(False)

    def _workspace(self) -> Workspace:
        assert self.workspace is not None
        return self.workspace

    # ---- display ---------------------------------------------------------------------------------

    def _set_busy(self, busy: bool) -> None:
        signed_in = self.workspace is not None and self.workspace.identity is not None
        interactive = bool(self.workspace and self.workspace.connection and self.workspace.connection.user)
        signing_out = busy and self._activity == "sign-out"
        self.progress.setAccessibleName("Signing out" if signing_out else "Signing in")
        # While signing in, Cancel is the one thing to do; signing out is local and quick: nothing to cancel, and no
        # way in or out applies until it is done. Signed out, "Sign in with browser" is the way in: the Account menu
        # (switch, another account) is for the signed in, and the cache holds no account after a sign-out anyway.
        shown: list[tuple[QWidget, bool]] = [
            (self.progress, busy),
            (self.cancel_button, busy and not signing_out),
            (self.browser_button, not signed_in and interactive and not busy),
            (self.code_button, not signed_in and interactive and not busy),
            (self.help_button, not signed_in and not signing_out),
            (self.sign_out_button, signed_in and interactive and not signing_out),
            (self.account_button, signed_in and interactive and not signing_out),
        ]
        # Hide before showing: a moment with both sets visible would make the window wider, and it never shrinks back.
        for widget, visible in sorted(shown, key=lambda item: item[1]):
            widget.setVisible(visible)
        self.browser_button.setEnabled(not busy)
        self.code_button.setEnabled(not busy)
        self.profile_combo.setEnabled(not busy)

    def _show_identity(self, identity: Identity | None) -> None:
        if identity is None:
            self.account_label.setText("Not signed in")
            self.account_label.setToolTip("")
        else:
            tenant = f" · tenant {identity.tenant}" if identity.tenant else ""
            self.account_label.setText(f"{identity.title} <{identity.detail}>{tenant}")
            self.account_label.setToolTip(f"{identity.detail}{tenant}")
            _show_text(self.error_label, "")
            self.retry_button.hide()
        self._set_busy(self.busy)

    def _show_failure(self, error: ViewerError) -> None:
        """Any identity failure, in plain words; when the profile could not connect at all, with a retry."""
        _show_text(self.error_label, str(error))
        self.retry_button.setVisible(self.workspace is not None and self.workspace.connection is None)

    def _retry(self) -> None:
        self.retry_button.hide()
        _show_text(self.error_label, "")
        self._on_profile_activated(self.profile_combo.currentIndex())

    def _show_notice(self, text: str) -> None:
        _show_text(self.notice_label, f"ℹ {text}" if text else "")

    def _show_code(self, code: DeviceCode) -> None:
        self._code = code
        self.code_label.setText(code.user_code)
        self.link_label.setText(f'<a href="{_esc(code.verification_uri)}">{_esc(code.verification_uri)}</a>')
        self.code_panel.show()
        self._tick()
        self._countdown.start()

    def _hide_code(self) -> None:
        self._countdown.stop()
        self._code = None
        self.code_panel.hide()

    def _tick(self) -> None:
        if self._code is None:
            return
        left = max(0, int(self._code.expires_at - time.time()))
        self.countdown_label.setText(f"The code expires in {left // 60}:{left % 60:02d}")

    def _copy_code(self) -> None:
        if self._code is not None:
            QGuiApplication.clipboard().setText(self._code.user_code)
            self.countdown_label.setText("Code copied.")

    def _open_link(self) -> None:
        if self._code is not None:
            import webbrowser

            webbrowser.open(self._code.verification_uri)

    async def _switch(self, account: Any) -> None:
        await self._run(self._workspace().switch_account(account))

    def _fill_account_menu(self) -> None:
        self._tasks.spawn(self._fill_accounts())

    async def _fill_accounts(self) -> None:
        self.account_menu.clear()
        accounts = await self._workspace().accounts()
        for account in accounts:
            action = self.account_menu.addAction(f"{account.name} <{account.username}>")
            action.triggered.connect(lambda _=False, a=account: self._tasks.spawn(self._switch(a)))
        if accounts:
            self.account_menu.addSeparator()
        add = self.account_menu.addAction("Sign in with another account…")
        add.triggered.connect(self.sign_in_browser)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _show_text(label: QLabel, text: str) -> None:
    """An empty message line takes no room (no blank band under the sign-in bar)."""
    label.setText(text)
    label.setVisible(bool(text))
