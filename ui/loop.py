"""The qasync event loop, with one fix.

``QEventLoop.run_until_complete`` processes Qt events once more after ``run_forever`` has returned — and
after it has unset asyncio's running loop. Any asyncio callback that runs in that last pass (a task's next
step, a socket notifier) finds no running loop, and httpx/anyio then fail with ``NoEventLoopError`` or
"no running event loop". Keeping the loop marked as running until ``run_until_complete`` itself returns
makes that last pass behave like the rest of the run.
"""

from __future__ import annotations

import asyncio
from typing import Any

import qasync


class EventLoop(qasync.QEventLoop):  # type: ignore[misc]
    def run_forever(self) -> Any:
        try:
            return super().run_forever()
        finally:
            asyncio.events._set_running_loop(self)

    def run_until_complete(self, future: Any) -> Any:
        try:
            return super().run_until_complete(future)
        finally:
            asyncio.events._set_running_loop(None)
