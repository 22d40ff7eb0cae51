"""Glue between the window and the viewer objects: start-up, deep links, Open…, Recent, shutdown.

Owns the sandbox (for ``--sandbox``), the ``Workspace``, the ``Navigation`` and the ``PaymentModel``;
passes them into the widgets (no global app object).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from typing import Any

from PySide6.QtCore import QLocale
from PySide6.QtGui import QAction

from ui.main_window import MainWindow
from ui.open_dialog import OpenDialog
from ui.profile_dialog import ProfileDialog
from viewer.client import ResponseFacts
from viewer.connection import SandboxEndpoints
from viewer.errors import ApiError, SignInRequired, ViewerError
from viewer.models.payment import LoadState, PaymentModel
from viewer.navigation import Navigation
from viewer.opener import describe, resolve
from viewer.profiles import OnPremProfile, Profile
from viewer.related import Related
from viewer.settings import (
    HISTORY_ENABLED,
    LAST_COMPANY,
    LAST_ENVIRONMENT,
    LAST_JOURNAL,
    RECENT_URLS,
    WATCH_INTERVAL,
    Settings,
)
from viewer.workspace import Workspace

logger = logging.getLogger(__name__)

MAX_RECENT = 10


class AppController:
    def __init__(self, window: MainWindow, args: argparse.Namespace, *, settings: Settings | None = None,
                 sandbox: Any = None) -> None:
        """``sandbox``: an already running ``viewer.sandbox.Sandbox`` to use instead of starting one (tests)."""
        self.window = window
        self.args = args
        self.settings = settings or Settings()
        self.sandbox: Any = sandbox  # viewer.sandbox.Sandbox, imported only when asked for
        self._owns_sandbox = sandbox is None
        self.workspace: Workspace | None = None
        self.navigation = Navigation(formatter=None, parent=window)
        self.payment = PaymentModel(locale=QLocale(), parent=window)
        self._open_dialog: OpenDialog | None = None
        self._profile_dialog: ProfileDialog | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        window.navigator.bind(self.navigation)
        self.related = Related(locale=QLocale(), parent=window)
        window.payment.bind(self.payment, self.related)
        window.payment.form.url_provider = lambda: self.payment.url
        window.payment.form.auth_provider = self._auth_kind
        self.payment.loaded.connect(lambda record: self.related.follow(record, refresh=True))
        self.payment.stateChanged.connect(self._payment_state)
        self._wire_history_and_watch()
        window.navigator.paymentChosen.connect(self.open_url)
        window.payment.retryRequested.connect(self.refresh)
        window.refreshRequested.connect(self.refresh)
        window.openRequested.connect(self.show_open_dialog)
        self.navigation.factsChanged.connect(self._show_facts)
        self.navigation.failed.connect(self._show_error)
        self.payment.factsChanged.connect(self._show_facts)
        self.payment.failed.connect(self._show_error)
        self._restore_window()
        self._fill_recent()

    # ---- start and stop -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._open_history()
        sandbox_endpoints = None
        browser = None
        if self.args.sandbox:
            self.window.statusBar().showMessage("Starting the sandbox…")
            sandbox_endpoints, browser = await self._start_sandbox()
        self.workspace = Workspace(self.settings, sandbox=sandbox_endpoints, sandbox_browser=browser,
                                   parent=self.window)
        self.window.sign_in.bind(self.workspace)
        self.window.sign_in.editProfilesRequested.connect(self.show_profile_dialog)
        self.window.payment.linkActivated.connect(lambda _link: self.show_profile_dialog())
        self.window.sign_in.profileChosen.connect(lambda p: self._spawn(self.activate(p, silent=True)))
        self.workspace.identityChanged.connect(lambda ident: self._spawn(self._on_identity(ident)))
        self.workspace.failed.connect(self._show_error)
        profile = self._initial_profile()
        if profile is None:
            self.window.statusBar().showMessage("Create a profile to sign in (Profiles…).")
            self.window.payment.set_welcome(True)
            return
        await self.activate(profile, silent=True)
        if self.args.sandbox and self.workspace.identity is None:
            # The sandbox demo signs in through the real MSAL auth-code flow; its consent page is
            # clicked by a scripted browser, as a person would.
            try:
                await self.workspace.sign_in_browser()
            except ViewerError as exc:
                self._show_error(exc)
        if self.args.sandbox and self.args.activity and self.args.activity > 0 and self.sandbox_owned:
            # The demo: payments change by themselves, so watch the open one and let the marks appear.
            self.window.payment.watch_interval.setCurrentIndex(self.window.payment.watch_interval.findData(10))
            self.window.payment.watch_button.setChecked(True)

    @property
    def sandbox_owned(self) -> bool:
        return self._owns_sandbox

    async def _start_sandbox(self) -> tuple[SandboxEndpoints, Any]:
        from viewer.sandbox import Sandbox
        from viewer.sandbox.autologin import auto_browser

        if self.sandbox is None:
            activity = self.args.activity if self.args.activity and self.args.activity > 0 else None
            self.sandbox = Sandbox(activity=activity, payments=self.args.payments)
            info = await asyncio.to_thread(self.sandbox.start)
        else:
            info = self.sandbox.info
        endpoints = SandboxEndpoints(
            authority=info.authority,
            api_root=info.api_root,
            environments_url=info.environments_url,
            public_client_id=info.public_client_id,
            ca_file=info.ca_file,
        )
        return endpoints, auto_browser(self.sandbox.ssl_context())

    def _initial_profile(self) -> Profile | None:
        assert self.workspace is not None
        profiles = self.workspace.profiles()
        if self.args.sandbox:
            return profiles[0]
        if self.args.profile:
            return next((p for p in profiles if p.name == self.args.profile), None)
        return self.workspace.last_profile()

    async def shutdown(self) -> None:
        """Cancel and await running work, close the client, stop the sandbox, save window state."""
        self._save_window()
        for task in list(self._tasks):
            task.cancel()
        self.payment.cancel()
        self.navigation.payments.cancel()
        await self.watcher.aclose()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.workspace is not None:
            await self.workspace.close()
        if self.sandbox is not None and self._owns_sandbox:
            await asyncio.to_thread(self.sandbox.stop)
        await self.tracker.aclose()
        self.store.close()
        self.settings.sync()

    # ---- profiles and navigation ---------------------------------------------------------------

    async def activate(self, profile: Profile, *, silent: bool) -> None:
        assert self.workspace is not None
        self.payment.clear()
        self.navigation.set_connection(None)
        try:
            await self.workspace.activate(profile, silent=silent)
        except ViewerError:
            return  # shown by the workspace's failed signal
        self.navigation.set_connection(self.workspace.connection)
        self.payment.client = self.workspace.connection.client if self.workspace.connection else None
        self.related.set_client(self.payment.client)

    async def _on_identity(self, identity: object) -> None:
        self.window.payment.set_signed_in(identity is not None)
        self.watcher.set_paused("signed out", identity is None)
        if identity is None or self.workspace is None or self.workspace.connection is None:
            return
        self.payment.client = self.workspace.connection.client
        self.related.set_client(self.payment.client)
        self.window.statusBar().clearMessage()
        if self.navigation.connection is not self.workspace.connection:
            self.navigation.set_connection(self.workspace.connection)
        await self._restore_navigation()
        if self.args.url:
            url, self.args.url = self.args.url, None
            await self.open_text(url)

    async def _restore_navigation(self) -> None:
        nav = self.navigation
        await nav.load_environments()
        wanted_env = self.settings.get(LAST_ENVIRONMENT) or nav.environment
        await nav.select_environment(wanted_env if nav.environments.row_of(wanted_env or "") >= 0 else nav.environment)
        company = self.settings.get(LAST_COMPANY)
        if nav.companies.row_of(company) < 0:
            first = nav.companies.item(0)
            company = str(first["id"]) if first else ""
        if company:
            await nav.select_company(company)
            journal = self.settings.get(LAST_JOURNAL)
            if nav.journals.row_of(journal) < 0:
                first = nav.journals.item(0)
                journal = str(first["id"]) if first else ""
            if journal:
                await nav.select_journal(journal)
        self.window.navigator.sync_from_navigation()

    # ---- opening payments ----------------------------------------------------------------------

    def open_url(self, url: str) -> None:
        """Open a payment by its API URL (latest wins: the previous load is cancelled)."""
        self.payment.load(url)
        nav = self.navigation
        if nav.environment:
            self.settings.set(LAST_ENVIRONMENT, nav.environment)
        if nav.company_id:
            self.settings.set(LAST_COMPANY, nav.company_id)
        if nav.journal_id:
            self.settings.set(LAST_JOURNAL, nav.journal_id)

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
        self._remember(text)
        self.open_url(url)
        await self._follow_in_navigator(url)

    async def _follow_in_navigator(self, url: str) -> None:
        """Show the opened payment's company and journal in the navigator, so the list around it is its own."""
        from viewer.refs import RefError, parse

        try:
            ref = parse(url)
        except RefError:
            return
        nav = self.navigation
        if ref.company_id and ref.company_id != nav.company_id and nav.companies.row_of(ref.company_id) >= 0:
            await nav.select_company(ref.company_id)
        journal = ref.journal_id
        if journal is None:
            # A direct-route URL or bare GUIDs: v2.0 says the journal in the payment itself.
            record = await self.payment.wait()
            if record is not None and record.url == url:
                journal = str(record.values.get("journalId") or "") or None
        if journal and journal != nav.journal_id and nav.journals.row_of(journal) >= 0:
            await nav.select_journal(journal)
        self.window.navigator.sync_from_navigation()

    def _wire_history_and_watch(self) -> None:
        from viewer.snapshots import SnapshotStore
        from viewer.tracking import ChangeTracker
        from viewer.watch import Watcher

        enabled = bool(self.settings.get(HISTORY_ENABLED))
        # In memory until start() has opened the file off the GUI thread (opening may migrate or move a
        # damaged file aside); nothing is loaded before then.
        self.store = SnapshotStore(None, enabled=enabled)
        self.tracker = ChangeTracker(self.payment, self.store, locale=QLocale(), parent=self.window)
        panel = self.window.payment
        self.tracker.summaryChanged.connect(
            lambda text: panel.show_summary(text, marks=bool(self.payment.changes()))
        )
        self.tracker.notice.connect(lambda text: self.window.statusBar().showMessage(text, 15000))
        panel.ack_button.clicked.connect(self.tracker.acknowledge)
        panel.history.source = self.tracker.history
        panel.history.forgetRequested.connect(lambda: self._spawn(self._forget_history()))
        self.watcher = Watcher(self.payment, interval=float(self.settings.get(WATCH_INTERVAL)), parent=self.window)
        row = panel.watch_interval.findData(int(self.watcher.interval))
        if row >= 0:
            panel.watch_interval.setCurrentIndex(row)
        panel.watch_button.toggled.connect(lambda on: self.watcher.start() if on else self.watcher.stop())
        panel.watch_interval.currentIndexChanged.connect(self._watch_interval)
        self.watcher.statusChanged.connect(panel.set_watch_status)
        self.watcher.changed.connect(self._watched_change)
        self.window.visibleChanged.connect(lambda shown: self.watcher.set_paused("window hidden", not shown))
        self._tray: Any = None

        menu = self.window.payment_menu
        menu.addSeparator()
        export = QAction("&Export as JSON file…", self.window)
        export.triggered.connect(self.export_json)
        menu.addAction(export)
        keep = QAction("&Keep a history of payments", self.window)
        keep.setCheckable(True)
        keep.setChecked(enabled)
        keep.toggled.connect(self._keep_history)
        menu.addAction(keep)
        forget = QAction("&Forget history", self.window)
        forget.triggered.connect(lambda: self._spawn(self._forget_history()))
        menu.addAction(forget)

    async def _open_history(self) -> None:
        from viewer.snapshots import SnapshotStore, default_path

        store = await asyncio.to_thread(SnapshotStore, default_path(), enabled=self.store.enabled)
        self.store.close()
        self.store = self.tracker.store = store
        if store.notice:
            self.window.statusBar().showMessage(store.notice, 15000)

    def _keep_history(self, on: bool) -> None:
        self.settings.set(HISTORY_ENABLED, on)
        self.store.enabled = on
        self.window.statusBar().showMessage(
            "History is kept (in the app-data folder, readable only by you)." if on
            else "History is off: nothing new is stored; changes since the last refresh are still marked.", 10000)

    def export_json(self) -> None:
        """Save the payment as received (without annotations) — also after it was posted and is gone."""
        from PySide6.QtWidgets import QFileDialog

        record = self.payment.record
        if record is None:
            return
        dialog = QFileDialog(self.window, "Export payment as JSON")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter("JSON (*.json)")
        dialog.setDefaultSuffix("json")
        dialog.selectFile(f"payment-{record.values.get('documentNumber') or record.values.get('id')}.json")

        def save(path: str) -> None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(record.as_json() + "\n")
            self.window.statusBar().showMessage(f"Saved {path}", 10000)

        dialog.fileSelected.connect(save)
        dialog.open()  # not exec(): no nested event loop inside the qasync loop

    def _watch_interval(self, _row: int) -> None:
        seconds = int(self.window.payment.watch_interval.currentData())
        self.watcher.interval = seconds
        self.settings.set(WATCH_INTERVAL, seconds)

    def _watched_change(self, kind: str) -> None:
        """A desktop notification where there is a tray; the status bar otherwise."""
        record = self.payment.record
        name = f"Payment {record.values.get('documentNumber') or ''}".strip() if record else "The payment"
        text = (f"{name} changed: {self.tracker.summary}" if kind == "changed"
                else f"{name} is no longer in the journal — probably posted or deleted.")
        self.window.statusBar().showMessage(text, 15000)
        from PySide6.QtWidgets import QSystemTrayIcon

        if QSystemTrayIcon.isSystemTrayAvailable():
            if self._tray is None:
                self._tray = QSystemTrayIcon(self.window.windowIcon(), self.window)
                self._tray.show()
            self._tray.showMessage("BC Payment Viewer", text)

    async def _forget_history(self) -> None:
        await self.tracker.forget()
        self.window.payment.history.show_snapshots([])
        self.window.statusBar().showMessage("History forgotten: no snapshots are kept on this computer now.", 10000)

    def _payment_state(self, state: LoadState) -> None:
        if state == LoadState.EMPTY:
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
            self.payment.refresh()

    def show_open_dialog(self) -> None:
        if self._open_dialog is None:
            self._open_dialog = OpenDialog(lambda text: describe(text, self.navigation), self.window)
            self._open_dialog.accepted_text.connect(lambda text: self._spawn(self.open_text(text)))
        self._open_dialog.set_text("")
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
        if self._profile_dialog is None:
            self._profile_dialog = ProfileDialog(self.settings, parent=self.window)
            self._profile_dialog.saved.connect(self._profiles_saved)
        self._profile_dialog.reload()
        self._profile_dialog.open()

    # ---- recent --------------------------------------------------------------------------------

    def _recent(self) -> list[str]:
        try:
            items = json.loads(self.settings.get(RECENT_URLS))
        except ValueError:
            return []
        return [str(i) for i in items if isinstance(i, str)] if isinstance(items, list) else []

    def _remember(self, text: str) -> None:
        items = [text, *[i for i in self._recent() if i != text]][:MAX_RECENT]
        self.settings.set(RECENT_URLS, json.dumps(items))
        self._fill_recent()

    def _fill_recent(self) -> None:
        menu = self.window.recent_menu
        menu.clear()
        for text in self._recent():
            action = QAction(text if len(text) < 90 else text[:40] + "…" + text[-45:], menu)
            action.setToolTip(text)
            action.triggered.connect(lambda _=False, t=text: self._spawn(self.open_text(t)))
            menu.addAction(action)
        menu.setEnabled(bool(menu.actions()))

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
        text = error.details().replace("\n", " · ")
        if isinstance(error, SignInRequired):
            text = f"{error} — sign in again above; what is on screen stays until then."
            if self.workspace is not None and self.workspace.identity is not None:
                self.workspace.lost_sign_in()
        self.window.statusBar().showMessage(text, 15000)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- window state --------------------------------------------------------------------------

    def _restore_window(self) -> None:
        if (geometry := self.settings.restore_state("mainWindow/geometry")) is not None:
            self.window.restoreGeometry(geometry)
        if (splitter := self.settings.restore_state("mainWindow/splitter")) is not None:
            self.window.splitter.restoreState(splitter)

    def _save_window(self) -> None:
        self.settings.save_state("mainWindow/geometry", self.window.saveGeometry())
        self.settings.save_state("mainWindow/splitter", self.window.splitter.saveState())
