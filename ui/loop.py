"""The qasync event loop, with one fix.

``QEventLoop.run_until_complete`` processes Qt events once more after ``run_forever`` has returned — and
after it has unset asyncio's running loop. Any asyncio callback that runs in that last pass (a task's next
step, a socket notifier) finds no running loop, and httpx/anyio then fail with ``NoEventLoopError`` or
"no running event loop". Keeping the loop marked as running until ``run_until_complete`` itself returns
makes that last pass behave like the rest of the run.

Second, qasync never installs asyncio's async-generator hooks, so an async generator left unfinished (httpx's
body iterator when the client stops reading at its byte cap or deadline) was finalised by the garbage collector,
synchronously and outside any task, and httpcore's clean-up failed there ("async generator ignored
GeneratorExit"). With the hooks, the loop closes such generators in a task of its own, as asyncio.run does.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import qasync


class EventLoop(qasync.QEventLoop):  # type: ignore[misc]
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
