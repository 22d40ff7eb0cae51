"""The app after a working session, for run_all.py's memory figure: 20,000 payments listed, 100 opened.

Builds the window and controller as ui/app.py does (the installed package; the profile, token cache and last
journal prepared by run_all.py in BCPV_DATA_DIR), lists the whole journal, scrolls it top to bottom painting
each step, opens 100 payments one after the other, then prints one JSON line: RSS, the modules held outside
``viewer``/``ui`` (for the baseline to import), and the scroll timings.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


async def until(predicate: Callable[[], object], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        await asyncio.sleep(0.005)


def main() -> int:
    os.environ.setdefault("QT_API", "pyside6")
    from ui.app import build_parser, lighter_pyside_import_hook, quiet_garbage_collector

    lighter_pyside_import_hook()  # as run_gui does, before the first Qt import
    from PySide6.QtWidgets import QApplication

    from ui.loop import EventLoop
    from ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    app.processEvents()

    from ui.controller import AppController
    from viewer.models.payment import LoadState

    loop = EventLoop(app)
    asyncio.set_event_loop(loop)
    controller = AppController(window, build_parser().parse_args([]))
    out: dict[str, object] = {}

    async def session() -> None:
        await controller.start()
        nav = controller.navigation
        model = nav.payments
        await until(lambda: model.rowCount() > 0 and not model.loading)
        while model.canFetchMore():
            model.fetchMore()
            await model.wait()
        view = window.navigator.view
        bar = view.verticalScrollBar()
        steps: list[float] = []
        for i in range(201):
            started = time.perf_counter()
            bar.setValue(bar.maximum() * i // 200)
            view.viewport().repaint()
            steps.append((time.perf_counter() - started) * 1000)
        for row in range(100):
            url = nav.payment_url(str(model.key(row)))
            assert url is not None
            controller.open_url(url)
            await until(lambda u=url: controller.payment.state == LoadState.READY  # type: ignore[misc]
                        and controller.payment.record is not None and controller.payment.record.url == u)
        await controller.related.wait()
        await asyncio.sleep(0.5)
        quiet_garbage_collector()  # as the app does once it is up
        gc.collect()
        out["rows"] = model.rowCount()
        out["scroll_median_ms"] = statistics.median(steps)
        out["scroll_worst_ms"] = max(steps)
        out["rss_kb"] = rss_kb()
        out["modules"] = sorted(m for m in sys.modules
                                if m.split(".")[0] not in ("viewer", "ui", "resources", "__main__"))
        out["app_modules"] = sorted(m for m in sys.modules if m.split(".")[0] in ("viewer", "ui", "resources"))
        await controller.shutdown()

    loop.run_until_complete(session())
    print(json.dumps(out), flush=True)
    os._exit(0)  # the figure is taken; skip the teardown


if __name__ == "__main__":
    sys.exit(main())
