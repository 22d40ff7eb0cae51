"""The one way to run background work: latest wins, cancel before the next starts (docs/ARCHITECTURE.md).

``TaskSlot`` holds at most one task. ``start(coro)`` cancels the task already there, then runs ``coro`` only once that
task has really finished, so two requests of one slot are never in flight together. A burst of selections (a held
arrow key, a scroll wheel through the list) coalesces without any delay: a task replaced before its first step never
runs at all, and one replaced mid-request is cancelled before the next request is sent.

``TaskSet`` keeps fire-and-forget tasks referenced (asyncio keeps only weak references) and cancels them on close.

Widgets never call ``asyncio.ensure_future`` themselves: the controller pieces in ``ui/`` own slots and sets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class TaskSlot:
    """At most one running task; a new one replaces (cancels) the old one. ``generation`` counts starts."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.generation = 0
        self._task: asyncio.Task[Any] | None = None
        self._unfinished: list[asyncio.Task[Any]] = []

    def start(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        loop = asyncio.get_event_loop()
        previous = self._task
        if previous is not None and not previous.done() and previous is not asyncio.current_task(loop):
            previous.cancel()  # (current_task(loop): a Qt slot may run outside the running loop)
        # A task started from inside the running one (a signal it emitted) is not cancelled: it ends on its own.
        # Wait for every earlier task that has not ended yet, not just the last: one cancelled before it ever ran
        # ends at once, while the one it would have waited for may still be unwinding its request.
        earlier = [task for task in self._unfinished if not task.done()]
        self.generation += 1
        task: asyncio.Task[T] = loop.create_task(self._run(coro, earlier, self.generation))
        self._unfinished = [*earlier, task]
        # Cancelled before it ever ran: close ``coro`` so Python does not warn "never awaited" (a no-op otherwise).
        task.add_done_callback(lambda _task: coro.close())
        self._task = task
        return task

    async def _run(self, coro: Coroutine[Any, Any, T], earlier: list[asyncio.Task[Any]], generation: int) -> T:
        if earlier:
            # Let the cancelled tasks unwind first (their httpx requests close), so at most one is in flight.
            await asyncio.wait(earlier)
        if generation != self.generation:
            raise asyncio.CancelledError  # replaced while it waited for the earlier ones
        return await coro

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self.generation += 1

    def is_current(self, generation: int) -> bool:
        return generation == self.generation

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def task(self) -> asyncio.Task[Any] | None:
        return self._task

    async def wait(self) -> None:
        """Wait for the task in the slot (if any) to end, whatever its outcome."""
        task = self._task
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)


class TaskSet:
    """Fire-and-forget tasks kept alive until they end; ``aclose`` cancels and awaits what is left."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_event_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # Every expected failure is a ViewerError handled inside the coroutine; anything else is a bug, and the
            # app's exception hook (ui/crash.py) shows it.
            loop = asyncio.get_event_loop()
            loop.call_exception_handler({"message": "background task failed", "exception": exc, "task": task})

    def __len__(self) -> int:
        return len(self._tasks)

    def __bool__(self) -> bool:
        return bool(self._tasks)

    async def join(self) -> None:
        """Wait for the tasks running now (and any they start) to end, without cancelling them."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
