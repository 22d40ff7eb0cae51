"""Glue between the window and the viewer objects: start-up, sign-in, navigation restore, opening payments.

Owns the ``Workspace``, the ``Navigation``, the load service and the payment model, and passes them into the
widgets (no global app object). Change tracking (store, Watch, History) lives in ``ui/changes.py``, recent URLs in
``ui/recent.py``, the sandbox's start in ``ui/sandbox_run.py``. Every piece of background work starts through a
``TaskSlot`` or the controller's ``TaskSet`` (viewer/tasks.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QLocale, QTimer

from ui.changes import ChangeTracking
from ui.main_window import MainWindow
from ui.recent import RecentUrls
from viewer.checking import PaymentChecks
from viewer.errors import ApiError, NotFound, SignInRequired, ViewerError
from viewer.loading import PaymentService
from viewer.models.payment import LoadState, PaymentModel
from viewer.navigation import Navigation
from viewer.opener import describe, resolve
from viewer.profiles import OnPremProfile, Profile, SandboxProfile
from viewer.related import Related
from viewer.settings import LAST_COMPANY, LAST_ENVIRONMENT, LAST_JOURNAL, Settings
from viewer.tasks import TaskSet, TaskSlot
from viewer.workspace import Workspace

if TYPE_CHECKING:
    from ui.open_dialog import OpenDialog
    from ui.profile_dialog import ProfileDialog
    from ui.sandbox_run import SandboxRun
    from viewer.client import ResponseFacts
    from viewer.connection import SandboxEndpoints
    from viewer.loading import Record
    from viewer.refs import PaymentRef

logger = logging.getLogger(__name__)


class AppController:
    def __init__(self, window: MainWindow, args: argparse.Namespace, *, settings: Settings | None = None,
                 sandbox: SandboxRun | None = None) -> None:
        """``sandbox``: the running sandbox to use (started by ui/app.py for ``--sandbox``, or by tests)."""
        self.window = window
        self.args = args
        self.settings = settings or Settings()
        self.sandbox = sandbox
        self.workspace: Workspace | None = None
        self.tasks = TaskSet()
        self.payment_slot = TaskSlot("payment", foreground=True)
        self.navigation = Navigation(formatter=None, parent=window)
        self.service = PaymentService()
        self.payment = PaymentModel(self.service, locale=QLocale(), parent=window)
        self.related = Related(self.service, locale=QLocale(), parent=window)
        self._open_dialog: OpenDialog | None = None
        self._profile_dialog: ProfileDialog | None = None
        self._related_refresh = True  # the next payment load reloads its related records (a click, F5)
        window.navigator.bind(self.navigation)
        window.payment.bind(self.payment, self.related)
        # The Checks strip: re-checked whenever the payment, its customer or its invoice loads (viewer/checking.py).
        self.checks = PaymentChecks(self.payment, self.related, parent=window)
        window.payment.bind_checks(self.checks)
        window.payment.form.url_provider = lambda: self.payment.url
        window.payment.form.auth_provider = self._auth_kind
        self.payment.loaded.connect(self._payment_loaded)
        self.payment.stateChanged.connect(self._payment_state)
        self.changes = ChangeTracking(window, self.payment, self.service, self.settings, self.reload_payment,
                                      self.tasks)
        self.recent = RecentUrls(self.settings, window.recent_menu, lambda text: self._spawn(self.open_text(text)))
        window.navigator.paymentChosen.connect(self.open_url)
        window.payment.retryRequested.connect(self.refresh)
        window.refreshRequested.connect(self.refresh)
        window.openRequested.connect(self.show_open_dialog)
        self.navigation.factsChanged.connect(self._show_facts)
        self.navigation.failed.connect(self._show_error)
        # The status bar's request facts follow the payment's paint (a zero timer runs after it): painting them first
        # would hold up the values (ui/payment_form.py paints the form as soon as they are set).
        self.payment.factsChanged.connect(lambda facts: QTimer.singleShot(0, lambda: self._show_facts(facts)))
        self.payment.failed.connect(self._show_error)
        self._restore_window()

    # Kept for tests and tools that reach the pieces by their old names.
    @property
    def watcher(self) -> Any:
        return self.changes.watcher

    @property
    def store(self) -> Any:
        return self.service.store

    # ---- start and stop -------------------------------------------------------------------------

    async def start(self) -> None:
        # The history file opens alongside the sign-in (threads both): a deep link's request need not wait for it.
        self.tasks.spawn(self.changes.open_store())
        # Without --sandbox the built-in Sandbox profile still works: it starts on first use (welcome, profile list).
        self.workspace = Workspace(self.settings, sandbox=self.sandbox.endpoints if self.sandbox else None,
                                   sandbox_browser=self.sandbox.browser if self.sandbox else None,
                                   sandbox_starter=self._start_sandbox, parent=self.window)
        self.window.sign_in.bind(self.workspace)
        self.window.sign_in.editProfilesRequested.connect(self.show_profile_dialog)
        self.window.payment.linkActivated.connect(self._welcome_link)
        self.window.sign_in.profileChosen.connect(lambda p: self._spawn(self.activate(p, silent=True)))
        self.workspace.identityChanged.connect(lambda ident: self._spawn(self._on_identity(ident)))
        self.workspace.failed.connect(self._show_error)
        profile = self._initial_profile()
        if profile is None:
            self.window.statusBar().showMessage("Add a profile to sign in, or try the built-in sandbox.")
            self.window.payment.set_welcome(True)
            return
        await self.activate(profile, silent=True)
        if self.sandbox is not None:
            await self._enter_the_sandbox()

    async def _enter_the_sandbox(self) -> None:
        """The sandbox signs in through the real MSAL auth-code flow; its consent page is clicked by a scripted
        browser, as a person would. In the demo, payments change by themselves: Watch the open one."""
        assert self.workspace is not None
        if self.workspace.identity is None:
            try:
                await self.workspace.sign_in_browser()
            except ViewerError as exc:
                self._show_error(exc)
        if self.sandbox is not None and self.sandbox.demo:
            panel = self.window.payment
            panel.watch_interval.setCurrentIndex(panel.watch_interval.findData(10))
            panel.watch_button.setChecked(True)

    async def _start_sandbox(self) -> tuple[SandboxEndpoints, Callable[[str], object]]:
        """The built-in Sandbox profile chosen without ``--sandbox`` (the welcome, the profile list): start one now.
        Like the one ``--sandbox`` starts (ui/app.py hands it over), it is stopped by this controller's shutdown."""
        from ui.sandbox_run import SandboxRun

        self.window.statusBar().showMessage("Starting the sandbox…")
        self.sandbox = await SandboxRun.start(activity=self.args.activity, payments=self.args.payments)
        return self.sandbox.endpoints, self.sandbox.browser

    def _welcome_link(self, link: str) -> None:
        if link == "sandbox":
            self._spawn(self.try_sandbox())
        else:
            self.show_profile_dialog()

    async def try_sandbox(self) -> None:
        """The welcome's "Try the sandbox": start it, choose it in the profile list and sign in (its consent page
        is answered by the scripted browser), so the journal's payments appear with one click."""
        assert self.workspace is not None
        self.window.payment.set_welcome(False)
        sandbox = next(p for p in self.workspace.profiles() if isinstance(p, SandboxProfile))
        await self.activate(sandbox, silent=True)
        self.window.sign_in.reload_profiles(sandbox.name)
        if self.workspace.connection is None:
            self.window.payment.set_welcome(True)  # it failed (said in the status bar): the welcome stays
            return
        await self._enter_the_sandbox()

    def _initial_profile(self) -> Profile | None:
        assert self.workspace is not None
        profiles = self.workspace.profiles()
        if self.sandbox is not None:
            return profiles[0]
        if self.args.profile:
            return next((p for p in profiles if p.name == self.args.profile), None)
        return self.workspace.last_profile()

    async def shutdown(self) -> None:
        """Cancel and await running work, close the client, save window state, stop a sandbox this controller
        started (ui/app.py stops the one it started for ``--sandbox``)."""
        self._save_window()
        # Nothing in flight is shown any more; then the client closes, which ends its requests with an error at
        # once (interrupting them mid-request instead could leave httpcore waiting for ever: viewer/tasks.py).
        # Only then is whatever is left interrupted, and every wait is bounded, so quitting never hangs.
        self.payment_slot.cancel()
        self.related.clear()
        self.changes.watcher.stop()
        if self.workspace is not None:
            await self.workspace.close()
        self.payment_slot.abort()
        self.navigation.abort()
        self.related.abort()
        await self.tasks.aclose()
        await self.payment_slot.wait(timeout=5)
        await self.checks.aclose()
        self.payment.cancelled()
        await self.changes.aclose()
        if self.sandbox is not None:
            # One place for the sandbox's life: stopped here if the app started it (--sandbox, the welcome), left
            # running if it was only attached (tests, screenshots: SandboxRun.owned).
            await self.sandbox.aclose()
        self.settings.sync()

    # ---- profiles and navigation ---------------------------------------------------------------

    async def activate(self, profile: Profile, *, silent: bool) -> None:
        assert self.workspace is not None
        self.payment_slot.cancel()
        self.payment.clear()
        self.navigation.set_connection(None)
        try:
            await self.workspace.activate(profile, silent=silent)
        except ViewerError:
            return  # shown by the workspace's failed signal
        self.navigation.set_connection(self.workspace.connection)
        self.service.client = self.workspace.connection.client if self.workspace.connection else None

    async def _on_identity(self, identity: object) -> None:
        self.window.payment.set_signed_in(identity is not None)
        self.changes.watcher.set_paused("signed out", identity is None)
        if identity is None or self.workspace is None or self.workspace.connection is None:
            return
        self.window.payment.set_welcome(False)  # signed in (the sandbox chosen in the list, say): no more welcome
        self.service.client = self.workspace.connection.client
        self.window.statusBar().clearMessage()
        if self.navigation.connection is not self.workspace.connection:
            self.navigation.set_connection(self.workspace.connection)
        text, self.args.url = self.args.url, None
        # A deep link first: its payment request goes out now, and the navigation restore follows once the form
        # shows it (its lists and their parsing would otherwise share the thread with the payment's), towards the
        # payment's own company and journal (not the last session's, whose lists nobody would look at).
        opened = self._open_deep_link(text) if text else None
        if opened:
            await self.payment_slot.wait()
        await self._restore_navigation(opened)
        if opened:
            await self._follow_in_navigator(opened)
        elif text:
            await self.open_text(text)  # bare GUIDs read against the company the restore chose

    def _open_deep_link(self, text: str) -> str | None:
        """Start loading ``text``'s payment if it names one without the navigator's help; its URL, or None."""
        try:
            url = resolve(text, self.navigation)
        except (ValueError, ViewerError):
            return None  # needs the restored company (bare GUIDs), or is wrong: open_text says why afterwards
        self.open_url(url)
        self.recent.remember(text)  # after the request is on its way: this writes the settings file
        return url

    async def _restore_navigation(self, deep_link: str | None = None) -> None:
        nav = self.navigation
        wanted_env = wanted_company = wanted_journal = None
        if deep_link is not None:
            from viewer.refs import RefError, parse

            try:
                ref = parse(deep_link)
                wanted_env, wanted_company, wanted_journal = ref.endpoint.environment, ref.company_id, ref.journal_id
            except RefError:
                pass
        await nav.load_environments()
        wanted_env = wanted_env or self.settings.get(LAST_ENVIRONMENT) or nav.environment
        await nav.select_environment(wanted_env if nav.environments.row_of(wanted_env or "") >= 0 else nav.environment)
        company = wanted_company or self.settings.get(LAST_COMPANY)
        if nav.companies.row_of(company) < 0:
            first = nav.companies.item(0)
            company = str(first["id"]) if first else ""
        if company:
            await nav.select_company(company)
            journal = wanted_journal or self.settings.get(LAST_JOURNAL)
            if deep_link is not None and wanted_journal is None and company == wanted_company:
                journal = await self._journal_of(deep_link) or journal
            if nav.journals.row_of(journal) < 0:
                first = nav.journals.item(0)
                journal = str(first["id"]) if first else ""
            if journal:
                await nav.select_journal(journal)
        self.window.navigator.sync_from_navigation()

    # ---- opening payments ----------------------------------------------------------------------

    def open_url(self, url: str) -> None:
        """Open a payment by its API URL: latest wins, one request at a time (viewer/tasks.py)."""
        self._related_refresh = True
        self.payment.load_in(self.payment_slot, url)
        nav = self.navigation
        if nav.environment:
            self.settings.set(LAST_ENVIRONMENT, nav.environment)
        if nav.company_id:
            self.settings.set(LAST_COMPANY, nav.company_id)
        if nav.journal_id:
            self.settings.set(LAST_JOURNAL, nav.journal_id)

    async def reload_payment(self) -> None:
        """The open payment again, through the same slot a click uses (Watch and F5)."""
        task = self.payment.refresh_in(self.payment_slot)
        if task is not None:
            await asyncio.wait([task])  # replaced by a newer load: that one shows

    def _payment_loaded(self, record: Record) -> None:
        # The related records follow the payment — after the payment's values are painted (a zero timer runs after
        # the pending paint): they are secondary, and three more requests must not hold up the first paint.
        # A refresh of the same payment by Watch reloads only the records whose id changed.
        # The list row is updated then too (a scan of up to 20,000 rows is no reason to wait for the values).
        refresh, self._related_refresh = self._related_refresh, False
        QTimer.singleShot(0, lambda: self._after_paint(record, refresh))

    def _after_paint(self, record: Record, refresh: bool) -> None:
        self.window.navigator.view.paint_selection()  # the list's new highlight, with the values (ui/navigator.py)
        if self.payment.record is record:  # not replaced in the meantime
            self.related.follow(record, refresh=refresh)
            self.navigation.update_payment(record.values)

    def open_forwarded(self, text: str | None) -> None:
        """A later launch handed over ``text`` (or just asked to be shown): raise the window and open it."""
        if self.window.isMinimized():
            self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
        if not text:
            return
        if self.workspace is None or self.workspace.connection is None:
            self.args.url = text  # not signed in yet: opened after sign-in, like a command-line URL
            return
        self._spawn(self.open_text(text))

    async def open_text(self, text: str) -> None:
        """Open whatever the user pasted: an API URL, a web-client URL or GUIDs."""
        try:
            url = resolve(text, self.navigation)
        except (ValueError, ViewerError) as exc:
            self.window.statusBar().showMessage(f"Cannot open: {exc}", 10000)
            return
        self.open_url(url)
        self.recent.remember(text)  # after the request is on its way: this writes the settings file
        await self._follow_in_navigator(url)

    async def _follow_in_navigator(self, url: str) -> None:
        """Show the opened payment's company and journal in the navigator, so the list around it is its own."""
        from viewer.refs import RefError, parse

        try:
            ref: PaymentRef = parse(url)
        except RefError:
            return
        nav = self.navigation
        if ref.company_id and ref.company_id != nav.company_id and nav.companies.row_of(ref.company_id) >= 0:
            await nav.select_company(ref.company_id)
        journal = ref.journal_id or await self._journal_of(url)
        if journal and journal != nav.journal_id and nav.journals.row_of(journal) >= 0:
            await nav.select_journal(journal)
        self.window.navigator.sync_from_navigation()

    async def _journal_of(self, url: str) -> str | None:
        """A direct-route URL or bare GUIDs: v2.0 says the journal in the payment itself (once it is loaded)."""
        await self.payment_slot.wait()
        record = self.payment.record
        if record is not None and record.url == url:
            return str(record.values.get("journalId") or "") or None
        return None

    def _payment_state(self, state: LoadState) -> None:
        if state == LoadState.EMPTY or (state in (LoadState.FAILED, LoadState.GONE) and self.payment.record is None):
            self.related.clear()

    def _auth_kind(self) -> tuple[str, str]:
        """For copied commands: bearer ($TOKEN placeholder) or Basic with the user name (never a secret)."""
        connection = self.workspace.connection if self.workspace is not None else None
        profile = connection.profile if connection is not None else None
        if isinstance(profile, OnPremProfile):
            return "basic", profile.user
        return "bearer", ""

    def refresh(self) -> None:
        if self.payment.url:
            self._related_refresh = True  # F5 refreshes the related records too
            self._spawn(self.reload_payment())

    def show_open_dialog(self) -> None:
        from ui.open_dialog import OpenDialog

        if self._open_dialog is None:
            self._open_dialog = OpenDialog(lambda text: describe(text, self.navigation), self.window)
            self._open_dialog.accepted_text.connect(lambda text: self._spawn(self.open_text(text)))
        self._open_dialog.open()  # not exec(): a modal loop inside the qasync loop would fail

    def _profiles_saved(self, name: str) -> None:
        self.window.sign_in.reload_profiles()
        if self.workspace is not None and self.workspace.connection is None and name:
            # The first profile: make it the live one (sign-in stays the user's click).
            self.window.payment.set_welcome(False)
            profile = next((p for p in self.workspace.profiles() if p.name == name), None)
            if profile is not None:
                self._spawn(self.activate(profile, silent=True))

    def show_profile_dialog(self) -> None:
        from ui.profile_dialog import ProfileDialog

        if self._profile_dialog is None:
            self._profile_dialog = ProfileDialog(self.settings, parent=self.window)
            self._profile_dialog.saved.connect(self._profiles_saved)
        self._profile_dialog.reload()
        self._profile_dialog.open()

    # ---- status and errors -------------------------------------------------------------------------

    def _show_facts(self, facts: ResponseFacts) -> None:
        parts = [f"HTTP {facts.status}", f"{facts.elapsed_ms:.0f} ms", f"{facts.size:,} bytes"]
        if facts.request_id:
            parts.append(f"request-id {facts.request_id}")
        if facts.attempts > 1:
            parts.append(f"{facts.attempts} attempts")
        self.window.facts_label.setText(" · ".join(parts))

    def _show_error(self, error: ViewerError) -> None:
        if isinstance(error, ApiError):
            # The status bar's facts describe the last request, failed ones included (never a stale "HTTP 200").
            parts = [f"HTTP {error.status} ({error.code})" if error.code else f"HTTP {error.status}", "failed"]
            if error.request_id:
                parts.append(f"request-id {error.request_id}")
            self.window.facts_label.setText(" · ".join(parts))
        if isinstance(error, NotFound) and self.payment.error is error:
            return  # the payment's banner says it is gone (and Watch's one message, when Watch found it)
        text = error.details().replace("\n", " · ")
        if isinstance(error, SignInRequired):
            text = f"{error} — sign in again above; what is on screen stays until then."
            if self.workspace is not None and self.workspace.identity is not None:
                self.workspace.lost_sign_in()
        self.window.statusBar().showMessage(text, 15000)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.tasks.spawn(coro)

    # ---- window state --------------------------------------------------------------------------

    def _restore_window(self) -> None:
        if (geometry := self.settings.restore_state("mainWindow/geometry")) is not None:
            self.window.restoreGeometry(geometry)
        if (splitter := self.settings.restore_state("mainWindow/splitter")) is not None:
            self.window.splitter.restoreState(splitter)

    def _save_window(self) -> None:
        self.settings.save_state("mainWindow/geometry", self.window.saveGeometry())
        self.settings.save_state("mainWindow/splitter", self.window.splitter.saveState())
