"""The active profile, its connection and who is signed in: what the sign-in widget shows and drives.

Async methods follow one shape (DESIGN §3): the widget disables its trigger, awaits a method here,
and re-enables it; failures arrive as ``ViewerError`` (raised, and emitted on ``failed``).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from viewer.errors import SignInRequired, ViewerError
from viewer.profiles import OnPremProfile, Profile, SandboxProfile
from viewer.settings import LAST_PROFILE, Settings

if TYPE_CHECKING:  # type-only: keeps httpx/msal out of the window's start-up imports
    from viewer.auth import Account, UserSession
    from viewer.connection import Connection, SandboxEndpoints


logger = logging.getLogger(__name__)

# Starts the embedded sandbox on first use: its endpoints, and the scripted browser that answers its consent page.
SandboxStarter = Callable[[], Awaitable[tuple["SandboxEndpoints", Callable[[str], object]]]]


@dataclass(frozen=True)
class Identity:
    """Who the app is acting as, for display (never a secret)."""

    title: str  # "Alex Wilber" / "Service principal" / "ADMIN"
    detail: str  # username, client id or server
    tenant: str

    @classmethod
    def of(cls, connection: Connection) -> Identity | None:
        from viewer.auth import AppSession, UserSession

        creds = connection.credentials
        if isinstance(creds, UserSession):
            account: Account | None = creds.account
            if account is None:
                return None
            return cls(account.name or account.username, account.username, account.tenant_id)
        if isinstance(creds, AppSession):
            return cls("Service principal", creds.client_id, getattr(connection.profile, "tenant", ""))
        profile = connection.profile
        if isinstance(profile, OnPremProfile):
            return cls(profile.user, profile.base_url, profile.tenant or "")
        return None


class Workspace(QObject):
    """Profiles and the one live connection. Signals tell views what changed."""

    connectionChanged = Signal(object)  # Connection | None
    identityChanged = Signal(object)  # Identity | None
    deviceCodeIssued = Signal(object)  # DeviceCode
    notice = Signal(str)
    failed = Signal(object)  # ViewerError

    def __init__(
        self,
        settings: Settings,
        *,
        sandbox: SandboxEndpoints | None = None,
        sandbox_browser: Callable[[str], object] | None = None,
        sandbox_starter: SandboxStarter | None = None,
        parent: QObject | None = None,
    ) -> None:
        """``sandbox``: the running sandbox's endpoints; or ``sandbox_starter`` to start it when the built-in
        Sandbox profile is first chosen (from the welcome or the profile list, no ``--sandbox`` needed)."""
        super().__init__(parent)
        self.settings = settings
        self.sandbox = sandbox
        self._sandbox_browser = sandbox_browser
        self._sandbox_starter = sandbox_starter
        self.connection: Connection | None = None
        self.identity: Identity | None = None

    @property
    def has_sandbox(self) -> bool:
        return self.sandbox is not None or self._sandbox_starter is not None

    def profiles(self) -> list[Profile]:
        """The built-in sandbox first (when this app can run one), then the saved profiles."""
        saved: list[Profile] = [p for p in self.settings.profiles() if not isinstance(p, SandboxProfile)]
        return [SandboxProfile(), *saved] if self.has_sandbox else saved

    def last_profile(self) -> Profile | None:
        """The profile used last; else the first saved one. Never the sandbox unless it was the last one used, so a
        first start without profiles is a first start (the welcome), not a sandbox."""
        name = self.settings.get(LAST_PROFILE)
        profiles = self.profiles()
        saved = [p for p in profiles if not isinstance(p, SandboxProfile)]
        return next((p for p in profiles if p.name == name), saved[0] if saved else None)

    async def activate(self, profile: Profile, *, silent: bool = True) -> Identity | None:
        """Make ``profile`` the live one and sign in silently if the cache allows (no UI)."""
        await self.close()
        if isinstance(profile, SandboxProfile) and self.sandbox is None and self._sandbox_starter is not None:
            try:
                self.sandbox, self._sandbox_browser = await self._sandbox_starter()
            except OSError as exc:  # no free port, no temp dir for its CA: say so, never a traceback
                error = ViewerError(f"The sandbox could not start: {exc}")
                self.failed.emit(error)
                self.connectionChanged.emit(None)
                raise error from exc
        try:
            browser = self._sandbox_browser if isinstance(profile, SandboxProfile) else None
            # httpx (and what it brings, ~100 ms of imports) loads in a thread: the window keeps answering.
            await asyncio.to_thread(importlib.import_module, "viewer.connection")
            from viewer.auth import in_thread  # here, not at import: it brings in msal and httpx
            from viewer.connection import Connection

            # MSAL's set-up (OpenID discovery over the network), the token cache and the keyring all block:
            # never on the GUI thread; whatever they raise comes back as a ViewerError.
            authority = (self.sandbox.authority if isinstance(profile, SandboxProfile) and self.sandbox
                         else str(getattr(profile, "authority", "")))
            self.connection = await in_thread(
                authority, Connection.open, profile, sandbox=self.sandbox,
                open_browser=browser,
            )
            self.connection.client.limits = self.settings.limits()
        except ViewerError as exc:
            self.failed.emit(exc)
            self.connectionChanged.emit(None)
            raise
        self.settings.set(LAST_PROFILE, profile.name)
        user = self.connection.user
        if user is not None and user.cache.notice and not isinstance(profile, SandboxProfile):
            self.notice.emit(user.cache.notice)  # not encrypted (Linux), or set aside (viewer.auth.TokenCacheStore)
        self.connectionChanged.emit(self.connection)
        if user is None:
            # Service principal and Basic have nothing interactive: prove the credentials now.
            try:
                await self.connection.credentials.authorization()
            except ViewerError as exc:
                self.failed.emit(exc)
                raise
            return self._set_identity(Identity.of(self.connection))
        if silent and await user.try_silent() is not None:
            return self._set_identity(Identity.of(self.connection))
        self._set_identity(None)
        return None

    async def sign_in_browser(self, window_handle: int | None = None) -> Identity | None:
        """``window_handle``: the main window's native handle, which the Windows broker parents its dialog to."""
        user = self._user()
        try:
            await user.sign_in_browser(window_handle=window_handle)
        except ViewerError as exc:
            self.failed.emit(exc)
            raise
        assert self.connection is not None
        return self._set_identity(Identity.of(self.connection))

    async def sign_in_device_code(self) -> Identity | None:
        user = self._user()
        try:
            await user.sign_in_device_code(self.deviceCodeIssued.emit)
        except ViewerError as exc:
            self.failed.emit(exc)
            raise
        assert self.connection is not None
        return self._set_identity(Identity.of(self.connection))

    async def accounts(self) -> list[Account]:
        user = self.connection.user if self.connection else None
        return await user.accounts() if user else []

    async def switch_account(self, account: Account) -> Identity | None:
        user = self._user()
        await user.select(account)
        assert self.connection is not None
        return self._set_identity(Identity.of(self.connection))

    async def sign_out(self) -> None:
        user = self.connection.user if self.connection else None
        if user is not None:
            await user.sign_out()
        self._set_identity(None)

    def lost_sign_in(self) -> None:
        """The service refused our token and no silent refresh helped: show the sign-in choices again."""
        self._set_identity(None)

    async def close(self) -> None:
        if self.connection is not None:
            connection, self.connection = self.connection, None
            await connection.aclose()
            self._set_identity(None)

    def _user(self) -> UserSession:
        user = self.connection.user if self.connection else None
        if user is None:
            raise SignInRequired("This profile does not sign in with a Microsoft account.")
        return user

    def _set_identity(self, identity: Identity | None) -> Identity | None:
        self.identity = identity
        self.identityChanged.emit(identity)
        return identity
