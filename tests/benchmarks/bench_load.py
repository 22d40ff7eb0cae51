"""Opening a payment, measured in the real app on the sandbox (docs/ARCHITECTURE.md, "The path of one click").

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/bench_load.py [pairs] [--in-process]``. Not
collected by pytest; it prints ratios against baselines taken in the same run, never asserts a time. The sandbox runs
in its own process, as a Business Central server does (``--in-process``: in the app's, as ``--sandbox`` runs it).

- **click → form painted**: from the moment the list's selection changes to the first paint of
  ``field:documentNumber`` showing the new payment, divided by a raw httpx GET of the same URL from the same process
  with the same TLS and the same Authorization header. Medians over ``pairs`` interleaved pairs (default 30). A click
  lands on a row on screen, so the row is scrolled into view before the clock starts; selections that scroll the
  list are measured too and printed on their own line.
- **the click's floor** (``FloorApp``): the same click in the least a PySide6 app on qasync can be, interleaved with
  the two above, and how much the app's own work above it would have to shrink for the 1.6× target.
- **longest UI-thread stall**: the largest gap between ticks of a 1 ms timer while opening 20 payments one after
  another, and while a refresh finds a change, minus the largest gap of the same timer while idle.
- **a burst of 100 selections in one second**: the peak number of payment requests in flight (counted in the
  app's own HTTP transport) and which payment ends up painted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("BCPV_DATA_DIR", tempfile.mkdtemp(prefix="bcpv-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from tests.http_probe import CountingTransport
from ui.app import build_parser, quiet_garbage_collector
from ui.controller import AppController
from ui.loop import EventLoop
from ui.main_window import MainWindow
from ui.sandbox_run import SandboxRun
from viewer.models.payment import LoadState
from viewer.sandbox import Sandbox
from viewer.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


class PaintProbe(QObject):
    """Notes the first paint of a widget after ``arm(text)`` while it shows ``text``."""

    def __init__(self) -> None:
        super().__init__()
        self.expected: str | None = None
        self.painted_at: float | None = None
        self.painted: asyncio.Event = asyncio.Event()

    def arm(self, text: str) -> None:
        self.expected, self.painted_at = text, None
        self.painted = asyncio.Event()  # awaited, not polled: a polling timer would itself delay the app

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.Paint and self.expected is not None and self.painted_at is None
                and getattr(watched, "text", lambda: None)() == self.expected):
            self.painted_at = time.perf_counter()
            self.painted.set()
        return False


class FullCollections:
    """Counts generation-2 (full) garbage collections and their longest pause while it is on."""

    def __init__(self) -> None:
        self.count = 0
        self.longest = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.longest = max(self.longest, time.perf_counter() - self._started)


class StallMeter:
    """A 1 ms timer; the largest gap between its ticks while running."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.worst = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last:
            self.worst = max(self.worst, now - self.last)
        self.last = now

    def start(self) -> None:
        self.last, self.worst = 0.0, 0.0
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return self.worst


async def until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.001)


class FloorApp:
    """The click's floor: the least a PySide6 app on qasync can do for the same click. A plain table of the same
    payments; its selection starts a task that GETs the payment with the raw client and sets one line edit, which
    Qt paints on its next pass. What the real app spends beyond this is its own work (the load path, the model, the
    form's rows, the change marks); the floor's own ratio is what it cannot win back."""

    def __init__(self, numbers: list[str], urls: list[str], client: httpx.AsyncClient, auth: str) -> None:
        from PySide6.QtGui import QStandardItem, QStandardItemModel
        from PySide6.QtWidgets import QLineEdit, QTableView, QVBoxLayout, QWidget

        self.urls, self.client, self.auth = urls, client, auth
        self.model = QStandardItemModel(len(numbers), 1)
        for row, number in enumerate(numbers):
            self.model.setItem(row, 0, QStandardItem(number))
        self.window = QWidget()
        self.view = QTableView()
        self.view.setModel(self.model)
        self.line = QLineEdit()
        self.line.setReadOnly(True)
        layout = QVBoxLayout(self.window)
        layout.addWidget(self.line)
        layout.addWidget(self.view)
        self.window.resize(640, 800)
        self.window.show()
        self.probe = PaintProbe()
        self.line.installEventFilter(self.probe)
        self.task: asyncio.Task[None] | None = None
        self.view.selectionModel().currentChanged.connect(self._selected)

    def _selected(self, current: Any, _previous: Any) -> None:
        # Each timed click waits for its paint, so no earlier task is still running here: nothing to cancel.
        self.task = asyncio.ensure_future(self._show(self.urls[current.row()]))

    async def _show(self, url: str) -> None:
        response = await self.client.get(url, headers={"Authorization": self.auth})
        self.line.setText(str(response.json()["documentNumber"]))

    async def click(self, row: int, number: str) -> float:
        self.view.scrollTo(self.model.index(row, 0))
        await asyncio.sleep(0.02)  # idle before, as the app's click and the raw GET are
        self.probe.arm(number)
        started = time.perf_counter()
        self.view.setCurrentIndex(self.model.index(row, 0))
        await asyncio.wait_for(self.probe.painted.wait(), 20)
        assert self.probe.painted_at is not None
        await asyncio.sleep(0.02)  # the next measurement (a raw GET) starts idle too
        return self.probe.painted_at - started


@dataclass
class Server:
    """The sandbox the app talks to: ``run`` as the app gets it, ``verify`` for the raw GET, ``edit`` changes a
    payment's description (the refresh that finds a change)."""

    run: SandboxRun
    verify: ssl.SSLContext
    edit: Callable[[httpx.AsyncClient, str, str], Awaitable[None]]


def in_process(box: Sandbox) -> Server:
    async def edit(_raw: httpx.AsyncClient, _url: str, payment_id: str) -> None:
        box.store().patch_payment(payment_id, {"description": "Changed for the benchmark"})

    return Server(SandboxRun.attach(box), box.ssl_context(), edit)


def separate(info: dict[str, Any]) -> Server:
    """A sandbox in its own process, as a real Business Central is: its answers do not share the app's
    interpreter (in the app's process, each answer waits for the GIL while the app paints the list)."""
    from viewer.sandbox import SandboxInfo

    verify = ssl.create_default_context(cafile=info["ca_file"])

    async def edit(raw: httpx.AsyncClient, url: str, payment_id: str) -> None:  # as an integration would: PATCH
        current = await raw.get(url)
        changed = await raw.patch(url, json={"description": "Changed for the benchmark"},
                                  headers={"If-Match": current.json()["@odata.etag"]})
        changed.raise_for_status()

    return Server(SandboxRun.elsewhere(SandboxInfo(**info), verify), verify, edit)


async def scenario(app: QApplication, server: Server, pairs: int) -> dict[str, Any]:
    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    args = build_parser().parse_args(["--sandbox", "--activity", "0"])
    controller = AppController(window, args, settings=Settings(), sandbox=server.run)
    await controller.start()
    nav = controller.navigation
    await until(lambda: nav.payments.rowCount() > 40 and not nav.payments.loading)
    quiet_garbage_collector()  # what the app does once it is up (ui/app.py)
    connection = controller.workspace.connection if controller.workspace else None
    assert connection is not None
    auth = await connection.credentials.authorization()
    view = window.navigator.view
    model = view.model()
    probe = PaintProbe()
    results: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(verify=server.verify, headers={"Accept": "application/json"}) as raw:
            rows = [nav.payments.record(r) for r in range(nav.payments.rowCount())]
            urls = [nav.payment_url(str(r["id"])) for r in rows if r]

            async def open_row(row: int, *, scrolled: bool = False) -> float:
                record = nav.payments.record(row)
                assert record is not None
                edit = window.payment.form.field_edit("documentNumber")
                if not scrolled:
                    # A click lands on a row on screen: the list is scrolled to it first, as a user scrolls before
                    # clicking. (``scrolled``: the selection itself scrolls the list, like a held arrow key.)
                    view.scrollTo(model.index(row, 0))
                    await asyncio.sleep(0.02)
                probe.arm(str(record.get("documentNumber")))
                started = time.perf_counter()
                view.setCurrentIndex(model.index(row, 0))
                if edit is None:  # the very first payment: the page is being built (a warm-up, not timed)
                    await until(lambda: controller.payment.state == LoadState.READY)
                    edit = window.payment.form.field_edit("documentNumber")
                    assert edit is not None
                    edit.installEventFilter(probe)
                    elapsed = float("nan")
                else:
                    await asyncio.wait_for(probe.painted.wait(), 20)
                    assert probe.painted_at is not None
                    elapsed = probe.painted_at - started
                await until(lambda: controller.payment.state != LoadState.LOADING)
                await controller.related.wait()
                await asyncio.sleep(0.02)  # let the related records paint too: the next pair starts idle
                return elapsed

            async def raw_get(url: str) -> float:
                started = time.perf_counter()
                response = await raw.get(url, headers={"Authorization": auth})
                response.json()
                return time.perf_counter() - started

            numbers = [str(r.get("documentNumber")) if r else "" for r in rows]
            floor = FloorApp(numbers, [str(u) for u in urls], raw, auth)
            for row in range(3):  # warm all three paths (connections, page widgets)
                await open_row(row)
                await raw_get(str(urls[row]))
                await floor.click(row, numbers[row])
            clicks: list[float] = []
            gets: list[float] = []
            floors: list[float] = []
            for i in range(pairs):
                row = 3 + i % 30
                gets.append(await raw_get(str(urls[row])))
                clicks.append(await open_row(row))
                floors.append(await floor.click(row, numbers[row]))
            floor.window.close()
            results["click_ms"] = statistics.median(clicks) * 1000
            results["get_ms"] = statistics.median(gets) * 1000
            results["floor_ms"] = statistics.median(floors) * 1000
            # The same with selections that scroll the list (every row a jump away from the one before): the list
            # repaints all its rows while the request is out, and on loopback the answer waits for that paint.
            view.scrollToTop()
            clicks, gets = [], []
            for i in range(pairs):
                row = 3 + (i * 17 + 5) % 37
                gets.append(await raw_get(str(urls[row])))
                clicks.append(await open_row(row, scrolled=True))
            results["jump_ms"] = statistics.median(clicks) * 1000
            results["jump_get_ms"] = statistics.median(gets) * 1000

            import gc

            full = FullCollections()
            gc.callbacks.append(full)
            meter = StallMeter()
            meter.start()
            await asyncio.sleep(1.0)
            idle = meter.stop()
            meter.start()
            for row in range(20):
                await open_row(row)
            opening = meter.stop()
            open_record = controller.payment.record
            assert open_record is not None
            raw.headers["Authorization"] = auth
            await server.edit(raw, open_record.url, str(open_record.values["id"]))
            meter.start()
            assert await controller.watcher.check() == "changed"
            await controller.related.wait()
            await asyncio.sleep(0.1)
            refresh = meter.stop()
            results["idle_gap_ms"] = idle * 1000
            results["open_stall_ms"] = max(0.0, opening - idle) * 1000
            results["refresh_stall_ms"] = max(0.0, refresh - idle) * 1000

            # Counted from here only: the counting transport reads each body once more, which the timed clicks
            # above must not pay for (the raw GET has no such wrapper).
            counting = CountingTransport(connection.client._http._transport)
            connection.client._http._transport = counting
            before = len(counting.sent)
            last_row = 0
            started = time.perf_counter()
            for i in range(100):
                last_row = 5 + i % 35
                view.setCurrentIndex(model.index(last_row, 0))
                await asyncio.sleep(max(0.0, started + (i + 1) * 0.01 - time.perf_counter()))
            await until(lambda: controller.payment.state != LoadState.LOADING)
            last = nav.payments.record(last_row)
            assert last is not None
            shown = controller.payment.record
            results["burst_peak"] = counting.peak
            results["burst_requests"] = len(counting.sent) - before
            results["burst_painted_last"] = shown is not None and shown.values["id"] == last["id"]
            gc.callbacks.remove(full)
            results["full_gc"] = full.count
            results["full_gc_ms"] = full.longest * 1000
    finally:
        await controller.shutdown()
        window.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", nargs="?", type=int, default=30)
    parser.add_argument("--in-process", action="store_true",
                        help="run the sandbox in this process (as --sandbox does) instead of its own")
    options = parser.parse_args()
    pairs = options.pairs
    app = QApplication(sys.argv[:1])
    loop = EventLoop(app)
    asyncio.set_event_loop(loop)
    box: Sandbox | None = None
    proc: subprocess.Popen[str] | None = None
    if options.in_process:
        box = Sandbox(seed=1)
        box.start()
        server = in_process(box)
    else:
        proc = subprocess.Popen([sys.executable, "-m", "viewer.sandbox", "--seed", "1"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        server = separate(json.loads(proc.stdout.readline()))
    try:
        r = loop.run_until_complete(scenario(app, server, pairs))
    finally:
        if box is not None:
            box.stop()
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        QApplication.clipboard().clear()
        loop.close()  # its executor's threads end here, not while Qt is torn down (which aborts the process)
    print(f"sandbox: {'in this process (as --sandbox)' if options.in_process else 'its own process (as a server)'}")
    ratio = r["click_ms"] / r["get_ms"]
    print(f"raw httpx GET (same URL, TLS, auth): median {r['get_ms']:.2f} ms over {pairs} pairs")
    print(f"click -> form painted:               median {r['click_ms']:.2f} ms  ratio {ratio:.2f}x (target <= 1.6x)")
    floor = r["floor_ms"] / r["get_ms"]
    print(f"the click's floor (a plain table whose selection GETs the payment and sets one line edit): median "
          f"{r['floor_ms']:.2f} ms, ratio {floor:.2f}x; the app's work above it would have to shrink to "
          f"{max(0.0, (1.6 * r['get_ms'] - r['floor_ms']) / (r['click_ms'] - r['floor_ms'])):.0%} of what it is "
          f"for 1.6x")
    jump = r["jump_ms"] / r["jump_get_ms"]
    print(f"selection that scrolls the list:     median {r['jump_ms']:.2f} ms vs {r['jump_get_ms']:.2f} ms GET, "
          f"ratio {jump:.2f}x (no target; shown for what a held arrow key costs)")
    print(f"1 ms timer idle floor:               {r['idle_gap_ms']:.1f} ms")
    print(f"longest stall opening 20 payments:   {r['open_stall_ms']:.1f} ms over the floor (target <= 16 ms)")
    print(f"longest stall, refresh with a change: {r['refresh_stall_ms']:.1f} ms over the floor (target <= 16 ms)")
    print(f"burst of 100 selections in 1 s:      peak {r['burst_peak']} payment request(s) in flight, "
          f"{r['burst_requests']} sent, last selection painted: {r['burst_painted_last']} (target: peak 1)")
    print(f"full garbage collections while working: {r['full_gc']} (longest {r['full_gc_ms']:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
