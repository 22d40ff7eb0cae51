"""A deep link's connection, opened in a thread from the first moments of the start (ui/app.py).

Only the standard library at import: the GUI thread starts it before its first paint, and everything the connection
needs (the settings, the profiles, httpx, MSAL) is imported in the thread.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from viewer.connection import Connection
    from viewer.profiles import Profile


class EarlyConnection:
    """A deep link's connection, opened in a thread from the first moments of the start (ui/app.py) while the window
    is built: the profile the start will activate (``--profile`` or the last used one), its httpx and MSAL imports,
    the token cache and MSAL's OpenID discovery (~150 ms, much of it waiting on the network). ``Workspace.activate``
    takes it when it activates that same profile; if anything failed here, it opens the connection again the usual
    way, which reports the failure as usual. Never for the sandbox, which must be started first."""

    def __init__(self, profile_name: str | None) -> None:
        self.future: Future[Connection | None] = Future()
        threading.Thread(target=self._open, args=(profile_name,), name="early-connection", daemon=True).start()

    def _open(self, profile_name: str | None) -> None:
        try:
            from viewer.profiles import SandboxProfile
            from viewer.settings import LAST_PROFILE, Settings

            settings = Settings()  # its own: the window's is the GUI thread's
            # As Workspace.last_profile chooses (a wrong guess is only wasted work: take() compares the profiles).
            saved = [p for p in settings.profiles() if not isinstance(p, SandboxProfile)]
            wanted = profile_name or settings.get(LAST_PROFILE)
            profile = next((p for p in saved if p.name == wanted), None if profile_name or not saved else saved[0])
            if profile is None:
                self.future.set_result(None)
                return
            from viewer.connection import Connection

            self.future.set_result(Connection.open(profile))
        except BaseException as exc:  # reported by the usual way, which tries again
            self.future.set_exception(exc)

    async def take(self, profile: Profile | None) -> Connection | None:
        """The connection, if it is ``profile``'s and opened without a problem; else None (and it is closed)."""
        import asyncio  # (not at import: the GUI thread imports this module before its first paint)

        try:
            connection = await asyncio.wrap_future(self.future)
        except Exception:  # whatever it was, the usual way opens it again and says what is wrong
            return None
        if connection is not None and connection.profile != profile:
            await connection.aclose()
            return None
        return connection
