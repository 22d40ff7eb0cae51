"""The qasync event loop, with four changes (and a way to adopt a Qt loop already running: ``EventLoop``).

First, ``QEventLoop.run_until_complete`` processes Qt events once more after ``run_forever`` has returned — and
after it has unset asyncio's running loop. Any asyncio callback that runs in that last pass (a task's next
step, a socket notifier) finds no running loop, and httpx/anyio then fail with ``NoEventLoopError`` or
"no running event loop". Keeping the loop marked as running until ``run_until_complete`` itself returns
makes that last pass behave like the rest of the run.

Second, qasync never installs asyncio's async-generator hooks, so an async generator left unfinished (httpx's
body iterator when the client stops reading at its byte cap or deadline) was finalised by the garbage collector,
synchronously and outside any task, and httpcore's clean-up failed there ("async generator ignored
GeneratorExit"). With the hooks, the loop closes such generators in a task of its own, as asyncio.run does.

Third, foreground work goes first. qasync runs every callback from a zero-length Qt timer, and Qt delivers posted
events (a list's selection repaint among them) before timers: the payment the user just chose waited for the list
to repaint before its request left. Callbacks of foreground tasks (``FOREGROUND`` in viewer/tasks.py, the payment
slot) are posted as high-priority events instead, which Qt delivers ahead of pending paints; the paint then
happens while the request is on the wire. Everything else keeps qasync's order.

Fourth, a ready socket is served at once. qasync's socket notifier hands its callback (asyncio reading or writing
the socket) to a zero-length Qt timer too: one more pass of Qt's loop, and a timer started and killed, for every
network read, answers included. Those callbacks take the high-priority path above instead; they only move bytes
into buffers and wake the task that waits for them, which then runs at its own priority. (Measured on a payment's
click: its request and answer took ~0.3 ms less; README "Performance".) This is qasync's selector loop, on Linux and
macOS; on Windows qasync runs a proactor whose completions arrive by a Qt signal instead, and keep that path.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import sys
from typing import Any

import qasync
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, Qt

from viewer.tasks import FOREGROUND

# What qasync's socket notifier schedules (its private name: a qasync that renames it just keeps its own timer path).
_SOCKET_READY = getattr(qasync._QEventLoop, "_QEventLoop__notifier_cb_wrapper", None)
_DRAIN = 64  # foreground handles run back to back at most (a load takes a few dozen steps to reach the network)


class _Foreground(QObject):
    """Runs asyncio handles from high-priority posted events, in the order posted (one event per handle)."""

    TYPE = QEvent.Type(QEvent.registerEventType())

    def __init__(self, loop: EventLoop) -> None:
        super().__init__()
        self._loop = loop
        self._handles: collections.deque[asyncio.Handle] = collections.deque()

    def post(self, handle: asyncio.Handle) -> asyncio.Handle:
        self._handles.append(handle)
        QCoreApplication.postEvent(self, QEvent(self.TYPE), Qt.EventPriority.HighEventPriority.value)
        return handle

    def event(self, event: QEvent) -> bool:
        if event.type() != self.TYPE:
            return super().event(event)
        if asyncio.events._get_running_loop() is not self._loop:
            # Qt delivers events outside the loop's run too (a test's event pass, after a stop): such handles take
            # qasync's own path, as every other callback does, instead of running here without a running loop.
            while self._handles:
                self._loop._add_callback(self._handles.popleft())
            return True
        # The handles these ones queue run now too: Qt would deliver their events only in its next pass, after the
        # paints pending in this one, and a load's next step (its request going out) must not wait for those.
        # Bounded, so foreground work can never starve the rest. (Events whose handle already ran find none.)
        for _ in range(_DRAIN):
            if not self._handles:
                break
            handle = self._handles.popleft()
            if not handle.cancelled() and not self._loop.is_closed():
                handle._run()  # what asyncio's own loops call: it reports an exception to the loop's handler
        return True


class EventLoop(qasync.QEventLoop):  # type: ignore[misc]
    """``already_running``: made from inside Qt's running event loop (ui/app.py runs Qt's loop before asyncio is
    even imported, so the window answers input sooner); ``finish()`` then ends it once Qt's ``exec()`` returned."""

    def __init__(self, app: Any = None, *, already_running: bool = False) -> None:
        super().__init__(app, already_running=already_running)
        self._foreground = _Foreground(self)
        self._hooks_before: Any = None
        if already_running:  # what run_forever does below, for a loop that never goes through it
            self._hooks_before = sys.get_asyncgen_hooks()
            sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook, finalizer=self._asyncgen_finalizer_hook)

    def call_soon(self, callback: Any, *args: Any, context: contextvars.Context | None = None) -> Any:
        if (context.get(FOREGROUND) if context is not None else FOREGROUND.get()) or (
                _SOCKET_READY is not None and getattr(callback, "__func__", None) is _SOCKET_READY):
            return self._foreground.post(asyncio.Handle(callback, args, self, context=context))
        return super().call_soon(callback, *args, context=context)

    def finish(self) -> None:
        """An ``already_running`` loop after Qt's ``exec()`` returned: one last pass over Qt's events with the loop
        still marked running (as run_until_complete below does), then the hooks restored and the loop closed."""
        if self.is_running():
            self.stop()  # Qt's loop was ended from outside: mark this one stopped too, so it can close
        asyncio.events._set_running_loop(self)
        try:
            dispatcher = QCoreApplication.eventDispatcher()
            if dispatcher is not None:
                dispatcher.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)
        finally:
            asyncio.events._set_running_loop(None)
            if self._hooks_before is not None:
                sys.set_asyncgen_hooks(*self._hooks_before)
            self.close()

    def run_forever(self) -> Any:
        hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook, finalizer=self._asyncgen_finalizer_hook)
        try:
            return super().run_forever()
        finally:
            sys.set_asyncgen_hooks(*hooks)
            asyncio.events._set_running_loop(self)

    def run_until_complete(self, future: Any) -> Any:
        try:
            return super().run_until_complete(future)
        finally:
            asyncio.events._set_running_loop(None)
