"""The one way to run background work: latest wins, at most one at a time (docs/ARCHITECTURE.md).

``TaskSlot`` holds at most one task. ``start(coro, then=…)`` replaces the task already there:

- a task that has not begun its work yet (still waiting for the one before it) is cancelled — it never runs;
- a task already doing its work is **not interrupted**: it runs to its end and its result is dropped (``then`` is not
  called, and whoever awaits it gets ``CancelledError``). Interrupting an httpx request mid-flight can leave httpcore's
  connection pool waiting on a lock for ever (encode/httpcore#830, #961, #1093; seen here in about one run of 3,000
  rapid replacements), after which no request of that client would ever finish;
- the new task starts its work only once every earlier one has ended, so two requests of one slot are never in
  flight together.

A burst of selections (a held arrow key) therefore costs at most the request already under way: everything queued
behind it is cancelled before it starts, and only the last one runs. ``then(result)`` runs only for the task that
is still the latest when it finishes — that is where results are shown.

Slots for work that is safe to interrupt (sign-in flows waiting on a browser, start-up) pass ``interrupt=True``.
``TaskSet`` keeps fire-and-forget tasks referenced (asyncio keeps only weak references). Widgets never call
``asyncio.ensure_future`` themselves.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Set in the context of a foreground slot's tasks (the payment the user just chose). A loop that knows it
# (ui/loop.py) runs their steps ahead of pending paints, so the request leaves before Qt repaints the list's
# selection; any other loop ignores it. Tasks inherit their context, so what such a task awaits is foreground too.
FOREGROUND: contextvars.ContextVar[bool] = contextvars.ContextVar("bcpv_foreground", default=False)


class TaskSlot:
    """At most one task doing its work; the latest one wins. ``generation`` counts starts and cancels."""

    def __init__(self, name: str = "", *, interrupt: bool = False, foreground: bool = False) -> None:
        self.name = name
        self.interrupt = interrupt
        self.foreground = foreground
        self.generation = 0
        self._task: asyncio.Task[Any] | None = None
        self._unfinished: list[asyncio.Task[Any]] = []
        self._working: set[asyncio.Task[Any]] = set()  # tasks that have begun their coroutine
        self._continued: set[asyncio.Task[Any]] = set()  # tasks that started their own successor

    def start(self, coro: Coroutine[Any, Any, T], then: Callable[[T], object] | None = None) -> asyncio.Task[T]:
        loop = asyncio.get_event_loop()
        self._replace(loop)
        earlier = [task for task in self._unfinished if not task.done()]
        self.generation += 1
        task: asyncio.Task[T] = loop.create_task(self._run(coro, then, earlier, self.generation),
                                                 context=_context(foreground=self.foreground))
        self._unfinished = [*earlier, task]
        # Cancelled before it ever ran: close ``coro`` so Python does not warn "never awaited" (a no-op otherwise).
        task.add_done_callback(lambda _task: coro.close())
        task.add_done_callback(_report)
        self._task = task
        return task

    def _replace(self, loop: asyncio.AbstractEventLoop) -> None:
        previous = self._task
        if previous is None or previous.done():
            return
        if previous is asyncio.current_task(loop):  # (current_task(loop): Qt slots may run outside the running loop)
            # Started from inside the running task (a signal it emitted, e.g. "rows arrived, fetch the next page"):
            # a continuation, not a competitor — the running task keeps its result.
            self._continued.add(previous)
            return
        if self.interrupt or previous not in self._working:
            previous.cancel()

    async def _run(self, coro: Coroutine[Any, Any, T], then: Callable[[T], object] | None,
                   earlier: list[asyncio.Task[Any]], generation: int) -> T:
        if earlier:
            await asyncio.wait(earlier)  # the one before has really ended: at most one at work
        if generation != self.generation:
            raise asyncio.CancelledError  # replaced while it waited
        # current_task(loop): a step may run in a Qt event pass while asyncio marks no loop as running (ui/loop.py).
        me = asyncio.current_task(asyncio.get_event_loop())
        assert me is not None
        self._working.add(me)
        try:
            result = await coro
        finally:
            self._working.discard(me)
        continued = me in self._continued
        self._continued.discard(me)
        if generation != self.generation and not continued:
            raise asyncio.CancelledError  # replaced while it worked: its result is not wanted any more
        if then is not None:
            then(result)
        return result

    def cancel(self) -> None:
        """Nothing of the current task is shown any more (a task at work still finishes; see the module doc)."""
        self._replace(asyncio.get_event_loop())
        self.generation += 1

    def abort(self) -> None:
        """Interrupt whatever runs (quitting: the client is closed right after, so its pool no longer matters)."""
        for task in self._unfinished:
            if not task.done():
                task.cancel()
        self.generation += 1

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def task(self) -> asyncio.Task[Any] | None:
        return self._task

    async def wait(self, timeout: float | None = None) -> None:
        """Wait for every task of the slot to end, whatever its outcome (at most ``timeout`` seconds)."""
        pending = [task for task in self._unfinished if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)


class TaskSet:
    """Fire-and-forget tasks kept alive until they end; ``aclose`` cancels and awaits what is left."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        # Background work (a snapshot write) never inherits a foreground task's priority.
        task = asyncio.get_event_loop().create_task(coro, context=_context(foreground=False))
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        _report(task)

    def __len__(self) -> int:
        return len(self._tasks)

    def __bool__(self) -> bool:
        return bool(self._tasks)

    async def join(self) -> None:
        """Wait for the tasks running now (and any they start) to end, without cancelling them."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self, timeout: float = 5.0) -> None:
        """Cancel what is left and wait for it — at most ``timeout`` seconds (quitting must never hang)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)


def _context(*, foreground: bool) -> contextvars.Context:
    context = contextvars.copy_context()
    if context.get(FOREGROUND) != foreground:
        context.run(FOREGROUND.set, foreground)
    return context


def _report(task: asyncio.Task[Any]) -> None:
    """A task that ended with an unexpected exception is reported at once (in the app: logged and shown by
    ui/crash.py), never left to "Task exception was never retrieved" at garbage collection. Every expected failure
    is a ViewerError handled inside the coroutine; anything else is a bug."""
    from viewer.errors import ViewerError  # not at import: the window's first paint needs the slots, not the errors

    if task.cancelled() or (exc := task.exception()) is None or isinstance(exc, ViewerError):
        return  # (a ViewerError is an answer: whoever awaits the task shows it)
    loop = task.get_loop()
    loop.call_exception_handler({"message": "background task failed", "exception": exc, "task": task})
