"""Watch: check the open payment every N seconds, cheaply, and load it fully only when it changed.

One small request per interval (``$select=lastModifiedDateTime`` — the ETag comes with it), never more than
one in flight, paused while the window is hidden or the network is down, backing off on 429/503 (honouring
Retry-After). At the 5-second minimum that is 60 requests per 5 minutes, far below Business Central's
6,000 per user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from viewer.client import RetryPolicy
from viewer.errors import ApiError, NetworkError, NotFound, SignInRequired, ViewerError
from viewer.models.payment import LoadState

if TYPE_CHECKING:
    from viewer.models.payment import PaymentModel

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30.0
MIN_INTERVAL = 5.0
MAX_BACKOFF = 600.0
# The watcher backs off itself; the client must not add its own retries on top.
NO_RETRY = RetryPolicy(attempts=1)


class Watcher(QObject):
    """``changed(kind)`` after a full reload caused by a change ("changed") or a disappearance ("gone")."""

    changed = Signal(str)
    statusChanged = Signal(str)
    runningChanged = Signal(bool)

    def __init__(self, model: PaymentModel, *, interval: float = DEFAULT_INTERVAL,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._interval = max(MIN_INTERVAL, interval)
        self._task: asyncio.Task[None] | None = None
        self._paused: set[str] = set()
        self._wake = asyncio.Event()
        self.backoff = 0.0
        self.checks = 0
        self.status = ""
        self._checking = False

    @property
    def interval(self) -> float:
        return self._interval

    @interval.setter
    def interval(self, seconds: float) -> None:
        self._interval = max(MIN_INTERVAL, float(seconds))

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._wake = asyncio.Event()
            self._task = asyncio.ensure_future(self._run())
            self.runningChanged.emit(True)
            self._say(f"Watching every {self._interval:.0f} s")

    def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self.backoff = 0.0
        self.runningChanged.emit(False)
        self._say("")

    async def aclose(self) -> None:
        task = self._task
        self.stop()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    def set_paused(self, reason: str, paused: bool) -> None:
        """Pause for ``reason`` ("hidden", "offline", …) until every reason is gone."""
        if paused:
            self._paused.add(reason)
        else:
            self._paused.discard(reason)
            self._wake.set()  # check soon after coming back
        if self.running:
            self._say(f"Paused ({', '.join(sorted(self._paused))})" if self._paused
                      else f"Watching every {self._interval:.0f} s")

    @property
    def paused(self) -> bool:
        return bool(self._paused)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):  # the interval passed without a wake-up: check now
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def _run(self) -> None:
        while True:
            await self._sleep(self._interval + self.backoff)
            if self._paused:
                continue
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # a watcher must never die quietly of a surprise; log and keep going
                logger.exception("watch check failed")

    async def check(self) -> str:
        """One check: "same", "changed", "gone", "skipped" or "error". Public so tests can drive it."""
        model = self.model
        record, client, url = model.record, model.client, model.url
        if record is None or client is None or url is None or model.state == LoadState.LOADING or self._checking:
            return "skipped"  # nothing to watch, or a request is already in flight: never two at once
        self._checking = True
        try:
            return await self._check(record, client, url)
        finally:
            self._checking = False

    async def _check(self, record: Any, client: Any, url: str) -> str:
        self.checks += 1
        try:
            response = await client.get_json(url, params={"$select": "lastModifiedDateTime"}, retry=NO_RETRY)
        except NotFound:
            await self._reload()
            self.changed.emit("gone")
            self._say("No longer in the journal — probably posted or deleted")
            return "gone"
        except ApiError as exc:
            if exc.status in (429, 503):
                wait = exc.retry_after if exc.retry_after is not None else max(self.backoff * 2, self._interval)
                self.backoff = min(MAX_BACKOFF, max(wait, self.backoff * 2, self._interval))
                self._say(f"Busy service (HTTP {exc.status}): next check in {self._interval + self.backoff:.0f} s")
            return "error"
        except NetworkError:
            self.backoff = min(MAX_BACKOFF, max(self._interval, self.backoff * 2))
            self._say("Offline: will check again")
            return "error"
        except SignInRequired:
            self.set_paused("signed out", True)  # until the app reports a sign-in again
            self._say("Paused: sign in again to keep watching")
            return "error"
        except ViewerError:
            return "error"
        self.backoff = 0.0
        data = response.data
        etag = data.get("@odata.etag") or response.facts.etag
        if etag == record.etag and data.get("lastModifiedDateTime") == record.values.get("lastModifiedDateTime"):
            self._say(f"Watching every {self._interval:.0f} s · no change")
            return "same"
        await self._reload()
        self.changed.emit("changed")
        self._say("Changed — reloaded")
        return "changed"

    async def _reload(self) -> None:
        task = self.model.refresh()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    def _say(self, text: str) -> None:
        self.status = text
        self.statusChanged.emit(text)


