"""Soak: N httpx requests to the sandbox on the qasync loop. Run as a subprocess by test_soak.py.

PySide6 6.12.0 on Python < 3.12 over-releases True/False/None in ``Signal.disconnect()``; qasync
disconnects a socket notifier per finished socket operation, so after ~1,500 requests the process
dies with ``Fatal Python error: bool_dealloc``. This script must exit 0 after all requests.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import httpx
from PySide6.QtWidgets import QApplication

from ui.loop import EventLoop
from viewer.sandbox import Sandbox


async def soak(box: Sandbox, total: int, concurrency: int) -> int:
    assert box.info is not None and box.identity is not None
    token = box.identity.issue_access_token()
    url = f"{box.info.api_root}/v2.0/companies"
    ok = 0
    async with httpx.AsyncClient(
        verify=box.ssl_context(), headers={"Authorization": f"Bearer {token}"}, timeout=20
    ) as client:
        sem = asyncio.Semaphore(concurrency)

        async def one() -> None:
            nonlocal ok
            async with sem:
                r = await client.get(url)
                if r.status_code == 200 and r.json()["value"]:
                    ok += 1

        await asyncio.gather(*(one() for _ in range(total)))
    return ok


def main() -> int:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    app = QApplication.instance() or QApplication(sys.argv)
    loop = EventLoop(app)  # the app's loop: soak what ships
    asyncio.set_event_loop(loop)
    with Sandbox() as box:
        try:
            ok = loop.run_until_complete(soak(box, total, concurrency=4))
        finally:
            loop.close()
            gc.collect()  # on the GUI thread: a later collection on a worker thread segfaults
    print(f"soak: {ok}/{total} requests ok", flush=True)
    return 0 if ok == total else 1


if __name__ == "__main__":
    sys.exit(main())
