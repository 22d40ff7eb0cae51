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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from viewer.errors import ApiError, NetworkError, SignInRequired, ViewerError
from viewer.loading import Probe
from viewer.tasks import TaskSlot

if TYPE_CHECKING:
    from viewer.loading import PaymentService, Record

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30.0
MIN_INTERVAL = 5.0
MAX_BACKOFF = 600.0


class WatchResult(StrEnum):
    """What one check found (a ``str`` too, so logs and tests read it as a word)."""

    SAME = "same"
    CHANGED = "changed"
    GONE = "gone"
    SKIPPED = "skipped"  # nothing to watch, or a check already in flight
    ERROR = "error"  # backing off (busy, offline, a bad answer) or paused (signed out)


class Watcher(QObject):
    """``changed(kind)`` after a full reload caused by a change ("changed") or a disappearance ("gone").

    It talks to the load service, never to a model: ``current()`` says which record is on screen (None while a load
    is in flight or nothing is open), ``reload()`` runs the app's own load path (the same latest-wins slot a click
    uses), so a watched change is diffed, marked and counted exactly like a refresh.
    """

    changed = Signal(str)  # WatchResult.CHANGED or WatchResult.GONE
    unchanged = Signal(object)  # datetime (UTC) of a check that found the payment as it is on screen
    statusChanged = Signal(str)
    runningChanged = Signal(bool)

    def __init__(self, service: PaymentService, current: Callable[[], Record | None],
                 reload: Callable[[], Awaitable[object]], *, interval: float = DEFAULT_INTERVAL,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.current = current
        self.reload = reload
        self._interval = max(MIN_INTERVAL, interval)
        self._slot = TaskSlot("watch")
        self._run_id: object | None = None  # the running loop's token; None when stopped
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
        return self._run_id is not None

    def start(self) -> None:
        if not self.running:
            self._run_id = run_id = object()
            self._wake = asyncio.Event()
            self._slot.start(self._run(run_id))
            self.runningChanged.emit(True)
            self._say(f"Watching every {self._interval:.0f} s")

    def stop(self) -> None:
        """The loop ends at once when it sleeps, or right after the check it is doing (a request is never
        interrupted: viewer/tasks.py)."""
        self._run_id = None
        self._wake.set()
        self._slot.cancel()
        self.backoff = 0.0
        self.runningChanged.emit(False)
        self._say("")

    async def aclose(self) -> None:
        self.stop()
        await self._slot.wait(timeout=5)

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

    async def _run(self, run_id: object) -> None:
        while self._run_id is run_id:
            await self._sleep(self._interval + self.backoff)
            if self._run_id is not run_id:
                return
            if self._paused:
                continue
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # a watcher must never die quietly of a surprise; log and keep going
                logger.exception("watch check failed")

    async def check(self) -> WatchResult:
        """One check (public so tests can drive it)."""
        record = self.current()
        if record is None or self._checking:
            return WatchResult.SKIPPED  # nothing to watch, or a request is already in flight: never two at once
        self._checking = True
        try:
            return await self._check(record)
        finally:
            self._checking = False

    async def _check(self, record: Record) -> WatchResult:
        self.checks += 1
        try:
            probe = await self.service.probe(record)
        except ApiError as exc:
            if exc.status in (429, 503):
                wait = exc.retry_after if exc.retry_after is not None else max(self.backoff * 2, self._interval)
                self.backoff = min(MAX_BACKOFF, max(wait, self.backoff * 2, self._interval))
                self._say(f"Busy service (HTTP {exc.status}): next check in {self._interval + self.backoff:.0f} s")
            else:
                self._back_off(f"Check failed ({exc.status}): will try again")
            return WatchResult.ERROR
        except NetworkError:
            self._back_off("Offline: will check again")
            return WatchResult.ERROR
        except SignInRequired:
            self.set_paused("signed out", True)  # until the app reports a sign-in again
            self._say("Paused: sign in again to keep watching")
            return WatchResult.ERROR
        except ViewerError as exc:
            self._back_off(f"Check failed ({exc}): will try again")
            return WatchResult.ERROR
        self.backoff = 0.0
        if probe is Probe.SAME:
            self.unchanged.emit(datetime.now(UTC))
            self._say(f"Watching every {self._interval:.0f} s · no change")
            return WatchResult.SAME
        await self.reload()
        if probe is Probe.GONE:
            self._say("No longer in the journal — probably posted or deleted")
            self.changed.emit(WatchResult.GONE)
            return WatchResult.GONE
        self._say("Changed — reloaded")
        self.changed.emit(WatchResult.CHANGED)
        return WatchResult.CHANGED

    def _back_off(self, text: str) -> None:
        self.backoff = min(MAX_BACKOFF, max(self._interval, self.backoff * 2))
        self._say(text)

    def _say(self, text: str) -> None:
        self.status = text
        self.statusChanged.emit(text)


