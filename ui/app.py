"""App bootstrap: command line, QApplication, the qasync loop, the window, and a clean shutdown.

The window is shown before msal and httpx are imported (they cost ~160 ms here), so the first paint
is not held up by sign-in machinery.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

logger = logging.getLogger(__name__)

APP_ID = "io.github.bc_payment_viewer"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bc-payment-viewer",
        description="View Business Central customer payments. Subcommand: 'show' prints one in the terminal.",
        epilog="examples:\n"
        "  python main.py --sandbox\n"
        "  python main.py 'https://api.businesscentral.dynamics.com/v2.0/contoso.com/production/api/v2.0/"
        "companies(…)/customerPayments(…)'\n"
        "  python main.py show <url> --format json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", nargs="?", help="a payment to open: an API URL, a web-client URL or GUIDs")
    parser.add_argument("--sandbox", action="store_true", help="start the embedded sandbox and use it")
    parser.add_argument("--profile", help="the saved profile to use (default: the last one)")
    parser.add_argument(
        "--activity", type=float, default=5.0, metavar="SECONDS",
        help="with --sandbox: edit a random payment every N seconds (0 = off; default 5)",
    )
    parser.add_argument("--payments", type=int, default=None, help="with --sandbox: how many payments to generate")
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "show":
        from viewer.cli import main as show_main

        code: int = show_main(args_list[1:])
        return code
    args = build_parser().parse_args(args_list)
    return run_gui(args)


def apply_color_scheme(app: object, scheme: str) -> None:
    """``BCPV_COLOR_SCHEME=dark|light`` overrides the desktop's choice (screenshots, demos, bug reports)."""
    from PySide6.QtWidgets import QApplication

    from ui import theme

    if isinstance(app, QApplication):
        theme.apply(app, scheme)


def run_gui(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_API", "pyside6")  # qasync picks its binding from this
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from ui.main_window import MainWindow
    from viewer.paths import APP_NAME, ORG_NAME

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationDisplayName("BC Payment Viewer")
    QGuiApplication.setDesktopFileName(APP_ID)
    apply_color_scheme(app, os.environ.get("BCPV_COLOR_SCHEME", ""))

    # The frame first (menus come with the panels): a window on screen within a bare Qt app's start-up time,
    # then the panels, whose imports (asyncio, the models, the schema) cost about as much again.
    window = MainWindow(deferred=True)
    window.show()
    app.processEvents()
    bench = os.environ.get("BCPV_BENCH_EXIT")  # tests/benchmarks: "shown" (frame) or "built" (panels)
    if bench == "shown":
        print("shown", flush=True)
        return 0
    window.build()
    app.processEvents()
    if bench == "built":
        print("shown", flush=True)
        return 0

    import asyncio  # after the first paint: asyncio brings ssl along (~15 ms)

    from ui.controller import AppController
    from ui.loop import EventLoop

    loop = EventLoop(app)
    asyncio.set_event_loop(loop)
    controller = AppController(window, args)
    quit_event = asyncio.Event()
    app.aboutToQuit.connect(quit_event.set)
    window.closed.connect(quit_event.set)

    async def lifetime() -> None:
        start = asyncio.ensure_future(controller.start())
        if shot := os.environ.get("BCPV_SCREENSHOT"):
            # "path.png[:seconds]": look at what a person sees (docs, CI artefacts), then quit.
            path, _, delay = shot.partition(":")
            await asyncio.sleep(float(delay or 4))
            window.grab().save(path)
            quit_event.set()
        await quit_event.wait()
        start.cancel()
        await controller.shutdown()

    exit_code = 0
    try:
        loop.run_until_complete(lifetime())
    except Exception:  # last resort: log it; the crash dialog is a later milestone
        logger.exception("unexpected error")
        exit_code = 1
    finally:
        loop.close()
        import gc

        gc.collect()
    return exit_code

