"""App bootstrap: command line, QApplication, the window, Qt's event loop with asyncio's (qasync) inside it, and a
clean shutdown.

The window is painted, its panels as an empty window shows them, before asyncio, the models, the form, msal and httpx
are imported, and Qt's loop answers before asyncio's is set up (docs/ARCHITECTURE.md, "The order of a start").
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from viewer.paths import APP_ID  # re-exported: tests and launchers read it from here

if TYPE_CHECKING:
    import asyncio
    from pathlib import Path

    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from ui.controller import AppController
    from ui.loop import EventLoop
    from ui.single_instance import InstanceServer

logger = logging.getLogger(__name__)


LOG_LEVELS = ("debug", "info", "warning", "error")


class _VersionAction(argparse.Action):
    """--version, resolved only when asked for (importlib.metadata is not free at start-up)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"bc-payment-viewer {app_version()}")
        parser.exit()


def app_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("bc-payment-viewer")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        import tomllib
        from pathlib import Path

        try:
            project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text("utf-8"))
            return str(project["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bc-payment-viewer",
        description="View Business Central customer payments. Subcommands: 'show' prints one in the terminal; "
        "'profile add|list|remove' sets up profiles without the window.",
        epilog="examples:\n"
        "  python main.py --sandbox\n"
        "  python main.py 'https://api.businesscentral.dynamics.com/v2.0/contoso.com/production/api/v2.0/"
        "companies(…)/customerPayments(…)'\n"
        "  python main.py show <url> --format json\n"
        "  bc-payment-viewer-cli profile add service-principal Robot --tenant contoso.com --client-id <id> "
        "--secret-stdin\n"
        "  bc-payment-viewer --install-desktop-entry\n"
        "\n"
        "A second launch hands its URL to the window already open (unless --new-window).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "url", nargs="?",
        help="a payment to open: an API URL, a web-client URL or GUIDs, e.g. 'https://businesscentral.dynamics.com/"
        "contoso.com/Production?company=CRONUS&page=255&…'",
    )
    parser.add_argument("--sandbox", action="store_true",
                        help="start the embedded sandbox and use it, e.g. python main.py --sandbox")
    parser.add_argument("--profile", help="the saved profile to use (default: the last one), e.g. --profile Contoso")
    parser.add_argument(
        "--activity", type=float, default=5.0, metavar="SECONDS",
        help="with --sandbox: edit a random payment every N seconds (0 = off; default 5), e.g. --activity 0",
    )
    parser.add_argument("--payments", type=int, default=None,
                        help="with --sandbox: how many payments to generate, e.g. --payments 5000")
    parser.add_argument(
        "--new-window", action="store_true",
        help="open a separate window instead of handing the URL to the running one, e.g. --new-window <url>",
    )
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default="info", type=str.lower,
        help="what goes to the log file in the app-data directory (default info), e.g. --log-level debug",
    )
    parser.add_argument(
        "--no-crash-dialog", action="store_true",
        help="log unexpected errors without showing a dialog, e.g. for unattended demos: --no-crash-dialog",
    )
    parser.add_argument(
        "--reset-settings", action="store_true",
        help="delete the settings file (window, last company, recent URLs; not sign-ins) and exit, "
        "e.g. --reset-settings",
    )
    parser.add_argument(
        "--install-desktop-entry", action="store_true",
        help="add the app to the desktop's menu (Linux: $XDG_DATA_HOME/applications and icons) and exit, "
        "e.g. --install-desktop-entry",
    )
    parser.add_argument(
        "--uninstall-desktop-entry", action="store_true",
        help="remove what --install-desktop-entry added and exit, e.g. --uninstall-desktop-entry",
    )
    parser.add_argument("--version", action=_VersionAction,
                        help="print the version and exit, e.g. bc-payment-viewer --version")
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in ("show", "profile"):  # the terminal commands: viewer/cli.py
        from viewer.cli import main as cli_main

        code: int = cli_main(args_list[1:] if args_list[0] == "show" else args_list)
        return code
    from ui.native import parse_or_show

    args = parse_or_show(build_parser(), args_list)  # no console (GUI launcher): help and errors in a box
    if isinstance(args, int):
        return args
    if args.install_desktop_entry or args.uninstall_desktop_entry:
        return desktop_entry(install=args.install_desktop_entry)
    if args.reset_settings:
        return reset_settings()
    return run_gui(args)


def desktop_entry(*, install: bool) -> int:
    from ui.desktop import UnsupportedPlatform, install_desktop_entry, uninstall_desktop_entry

    try:
        paths = install_desktop_entry() if install else uninstall_desktop_entry()
    except UnsupportedPlatform as exc:
        print(exc, file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot {'install' if install else 'remove'} the desktop entry: {exc}", file=sys.stderr)
        return 1
    if not paths:
        print("No desktop entry was installed; nothing removed.")
    for path in paths:
        print(f"{'wrote' if install else 'removed'} {path}")
    return 0


def reset_settings() -> int:
    """Remove the settings file only: sign-ins (token cache, keyring) stay, so nobody is signed out."""
    from viewer.settings import Settings

    path = Settings.default_path()
    if path.exists():
        path.unlink()
        print(f"removed {path}")
    else:
        print(f"no settings file at {path}; nothing to do")
    return 0


def apply_color_scheme(app: object, scheme: str) -> None:
    """``BCPV_COLOR_SCHEME=dark|light`` overrides the desktop's choice (screenshots, demos, bug reports)."""
    from PySide6.QtWidgets import QApplication

    from ui import theme

    if isinstance(app, QApplication):
        theme.apply(app, scheme or theme.platform_default())


def app_icon() -> QIcon:
    """The window icon, from the bundled PNGs (no SVG plugin needed at run time).

    Found next to the ``resources`` package rather than through importlib.resources (3 ms at start-up):
    QIcon needs real files anyway.
    """
    from pathlib import Path

    from PySide6.QtGui import QIcon

    import resources

    icons = Path(resources.__file__).parent / "icons"
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256):
        icon.addFile(str(icons / f"bc-payment-viewer-{size}.png"))
    return icon


_lighter_hook = False


def lighter_pyside_import_hook() -> None:
    """PySide6 (shibokensupport/feature.py) asks of every module imported after it whether it uses PySide6, by
    reading the module's whole source with ``inspect.getsource``: 20–50 ms of a start, and the source of every
    module (~150,000 lines, ~12 MiB) then stays in ``linecache`` for good. The same question, answered from the
    file's bytes, keeps nothing; anything unusual (no .py file) still goes to PySide's own function. Call it
    before the first PySide6 import; tests/test_launch.py checks both answers agree."""
    global _lighter_hook
    if _lighter_hook:
        return
    import shiboken6  # noqa: F401  (loads shibokensupport.feature, before any Qt module uses it)

    feature = sys.modules.get("shibokensupport.feature")
    upstream = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or not callable(upstream):
        return  # another PySide6 version: nothing to lighten

    def uses_pyside(module: Any) -> bool:
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            return bool(upstream(module))
        try:
            with open(path, "rb") as handle:
                return b"PySide6" in handle.read()
        except OSError:
            return bool(upstream(module))

    feature._mod_uses_pyside = uses_pyside  # type: ignore[attr-defined]
    _lighter_hook = True


def run_gui(args: argparse.Namespace) -> int:
    import gc

    pause_cycle_collector()
    try:
        return _run_gui(args)
    finally:  # whichever way it ended (a second launch hands over, a failure): never left off in this process
        gc.enable()


def _run_gui(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_API", "pyside6")  # qasync picks its binding from this
    lighter_pyside_import_hook()
    from ui.native import set_app_user_model_id

    set_app_user_model_id(APP_ID)  # Windows: the taskbar says BC Payment Viewer, not Python
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from viewer.paths import APP_NAME, ORG_NAME, local_data_dir

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    # Closing the window must not quit Qt under the running asyncio loop (qasync then raises "Event loop stopped
    # before Future completed" and the shutdown never runs): the window's ``closed`` ends ``lifetime`` instead, which
    # shuts down and returns from the loop normally.
    app.setQuitOnLastWindowClosed(False)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationDisplayName("BC Payment Viewer")
    QGuiApplication.setDesktopFileName(APP_ID)
    data = local_data_dir()  # logs and the single-instance lock stay on this computer (viewer.paths)

    # Before the window: a second launch must hand over its URL and leave without a flash of a window.
    server = None
    if not args.new_window:
        from ui.single_instance import claim

        server = claim(data, args.url, listen=False)  # listens after the first paint: finish_start()
        if server is None:
            print("Sent to the window already open.", flush=True)
            return 0

    from ui.main_window import MainWindow

    apply_color_scheme(app, os.environ.get("BCPV_COLOR_SCHEME", ""))

    # One paint: the frame with the sign-in bar, navigator and payment panel as an empty window shows them (no models,
    # schema, form or asyncio imported yet: ~20 ms), then the event loop; the rest (logging, the form, the controller)
    # is finished inside the running loop, a step at a time. (Painting the bare frame first put a window up ~20 ms
    # sooner but the panels ~5 ms later.)
    window = MainWindow(deferred=True)
    window.build(shell=True)
    window.show()
    app.processEvents()
    if args.url:  # a deep link needs them at once; otherwise they load with sign-in, after the loop is up
        preload_network_stack()

    # tests/benchmarks: "shown" or "built" (the window painted) exit there; "ready", "started" and "payment" print a
    # marker and go on
    bench = os.environ.get("BCPV_BENCH_EXIT")
    if bench in ("shown", "built"):
        close_server(server)
        print("shown", flush=True)
        return 0

    if QGuiApplication.platformName() == "offscreen":
        # Qt's offscreen platform crashes at exit while the clipboard holds QMimeData (xcb, Windows and
        # macOS keep what the user copied): headless runs empty it first.
        app.aboutToQuit.connect(lambda: QGuiApplication.clipboard().clear())

    # Qt's event loop runs from here on; asyncio's (qasync, ~20 ms of imports) is set up as its first piece of work,
    # and the rest of the start-up follows inside it a step at a time (finish_start), each letting Qt answer input.
    loop: EventLoop | None = None
    quit_event: asyncio.Event | None = None
    log_path: Path | None = None
    controller: AppController | None = None

    quitting = False

    def request_quit() -> None:
        """Closing the window, Qt's aboutToQuit, SIGTERM or SIGINT (once: ending Qt's loop emits aboutToQuit again):
        the shutdown runs in the loop; before asyncio's loop is up there is nothing to shut down, and Qt's loop just
        ends."""
        nonlocal quitting
        if quitting:
            return
        quitting = True
        if loop is None or quit_event is None:
            app.exit(0)
        else:
            loop.call_soon_threadsafe(quit_event.set)

    window.closed.connect(request_quit)
    app.aboutToQuit.connect(request_quit)
    stop_signals: Callable[[], None] | None = None  # SIGTERM/SIGINT are handled from asyncio's start on

    async def finish_start() -> AppController:
        """What the first paint did not need, in steps that each let the loop answer input in between."""
        import asyncio

        nonlocal log_path
        assert loop is not None
        # Logging and the crash handler first (their imports cost ~10 ms): nothing before this point logs but the
        # single-instance hand-over, which reports on stdout/stderr instead.
        from ui.crash import install_crash_handler
        from viewer.logs import setup_logging

        log_path = setup_logging(args.log_level, data / "logs")
        logger.info("starting %s %s (log level %s)", APP_NAME, os.getpid(), args.log_level)
        if server is not None and server.listen():
            logger.info("single-instance server listening on %s", server.name)
        reporter = install_crash_handler(lambda: window, dialog=not args.no_crash_dialog)
        loop.set_exception_handler(reporter.asyncio_handler)
        app.setWindowIcon(app_icon())
        await asyncio.sleep(0)
        window.complete()  # the form, the checks strip and History: hidden until a payment is open
        await asyncio.sleep(0)
        from ui.controller import AppController

        made = AppController(window, args)

        def on_forwarded(text: str | None) -> None:
            logger.info("received forwarded %s", "text" if text else "request to show the window")
            made.open_forwarded(text)

        if server is not None:
            server.set_handler(on_forwarded)
        if bench:
            bench_markers(bench, made)
        return made

    async def begin() -> None:
        nonlocal controller
        try:
            controller = await finish_start()
            if args.sandbox:
                from ui.sandbox_run import SandboxRun

                window.statusBar().showMessage("Starting the sandbox…")
                # Handed to the controller at once: its shutdown stops it (one owner of the sandbox's life).
                controller.sandbox = await SandboxRun.start(activity=args.activity, payments=args.payments)
            await controller.start()
            # Once start-up's work (a deep link, the navigation restore) is done: the full collection stalls the
            # thread for tens of milliseconds, which the first payment need not wait for.
            await controller.tasks.join()
            await controller.payment_slot.wait()
        finally:  # also when the start fails or is cut short: the collector is never left off
            quiet_garbage_collector()

    async def lifetime() -> None:
        import asyncio

        from viewer.tasks import TaskSlot

        assert quit_event is not None
        starting = TaskSlot("start-up", interrupt=True)
        start = starting.start(begin())
        if shot := os.environ.get("BCPV_SCREENSHOT"):
            # "path.png[:seconds]": look at what a person sees (docs, CI artefacts), then quit.
            path, _, delay = shot.partition(":")
            await asyncio.sleep(float(delay or 4))
            window.grab().save(path)
            quit_event.set()
        await quit_event.wait()
        close_server(server)  # a launch from now on starts its own window instead of talking to a closing one
        start.cancel()
        if controller is not None:
            await controller.shutdown()  # stops the sandbox started below too (it was handed to the controller)

    def start_asyncio() -> asyncio.Task[None] | None:
        nonlocal loop, quit_event, stop_signals
        if quitting:
            return None  # closed before asyncio's turn came: nothing to start
        import asyncio

        from ui.loop import EventLoop

        loop = EventLoop(app, already_running=True)
        quit_event = asyncio.Event()
        stop_signals = handle_stop_signals(request_quit)
        from viewer.tasks import TaskSlot

        # The app's whole life, through the one task runner like every other piece of work (viewer/tasks.py).
        return TaskSlot("lifetime", interrupt=True).start(lifetime())

    if bench == "ready":
        bench_ready()  # posted before asyncio's set-up: what it measures is Qt's loop answering
    try:
        exit_code = run_event_loops(app, start_asyncio, lambda: quit_event.set() if quit_event else None)
    finally:
        if QGuiApplication.platformName() == "offscreen":
            QGuiApplication.clipboard().clear()  # aboutToQuit does not come when the window, not Qt, ends the run
        close_server(server)
        if stop_signals is not None:
            stop_signals()
        import gc

        gc.collect()
    logger.info("stopped (log: %s)", log_path)
    return exit_code


def run_event_loops(app: QApplication, start: Callable[[], asyncio.Task[None] | None],
                    end: Callable[[], object]) -> int:
    """Run Qt's event loop now, and asyncio's inside it: ``start`` (called on Qt's first turn, after any event
    posted before) sets up the qasync loop and returns the app's lifetime task (None: quit already). Returns when
    that task has ended: 0, or 1 when it failed (logged: the loop itself failed, so no dialog). If Qt's loop is
    ended from outside first (``app.quit()``), ``end`` asks the lifetime to finish, and it runs to its end."""
    from PySide6.QtCore import QTimer

    task: asyncio.Task[None] | None = None

    def begin() -> None:
        nonlocal task
        task = start()
        if task is not None:
            task.add_done_callback(lambda done: done.get_loop().stop())  # qasync's stop() ends Qt's exec()

    QTimer.singleShot(0, begin)
    app.exec()
    if task is None:
        return 0  # quit before asyncio's loop began: nothing was started that needs an end
    from ui.loop import EventLoop

    loop = task.get_loop()
    assert isinstance(loop, EventLoop)
    if not task.done():  # Qt's loop ended from outside: the shutdown still runs, in a loop of its own
        logger.info("Qt's event loop was ended from outside; shutting down")
        end()
        loop.stop()  # (marks qasync's adopted loop stopped, so it can run again)
        with contextlib.suppress(Exception):  # reported below
            loop.run_until_complete(task)
    loop.finish()
    if task.cancelled() or task.exception() is None:
        return 0
    logger.error("unexpected error", exc_info=task.exception())
    return 1


def preload_network_stack() -> None:
    """Read the CA store and import httpx and MSAL (~200 ms) in a thread while the rest of the start runs, so a
    deep link's sign-in and request find them ready (measured: ~90 ms sooner to the painted payment; started
    without a link it would only delay the panels, ~100 ms, competing for the interpreter). Third-party packages
    (and viewer.net, which imports only viewer.errors) that the GUI thread does not import meanwhile, so the two
    threads never wait on each other's import locks for long; a failure here is left for the real use to report.
    (Opening the whole connection in that thread too was measured and gained nothing: the imports come first
    either way, and the GUI thread's own work competes for the same interpreter.)"""
    import threading

    def load() -> None:
        import importlib

        # First the system's CA store (~25 ms of parsing that lets go of the interpreter: the second core does it)
        with contextlib.suppress(Exception):  # the connection reads the store itself, and reports what is wrong
            from viewer.net import warm_trust_store

            warm_trust_store()
        # then the imports, and what the first clients and request load on their way (httpx imports httpcore with
        # its first client, ~30 ms; the token cache's msal_extensions; httpcore's asyncio backend, anyio's, ~20 ms)
        for name in ("httpx", "httpcore", "msal", "msal_extensions", "anyio._backends._asyncio"):
            try:
                importlib.import_module(name)
            except Exception:  # reported, if it matters, where the module is really needed
                return

    threading.Thread(target=load, name="preload", daemon=True).start()


def bench_ready() -> None:
    """tests/benchmarks: say on stdout when the running loop answers an event posted before it started ("ready")."""
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, lambda: print("ready", flush=True))


def bench_markers(bench: str, controller: Any) -> None:
    """tests/benchmarks: say on stdout when the start-up is finished (the form built, the controller made:
    "started") or when the deep-linked payment's values are painted ("payment"); the benchmark stops the process
    there."""
    from viewer.models.payment import LoadState

    if bench == "started":
        print("started", flush=True)
    elif bench == "payment":
        def painted(state: LoadState) -> None:
            if state == LoadState.READY:  # the form took the values first (it was connected first)
                controller.window.repaint()  # paints now, without re-entering the event loop from a task
                print("painted", flush=True)

        controller.payment.stateChanged.connect(painted)


def pause_cycle_collector() -> None:
    """From the first line of a start until ``quiet_garbage_collector``: what a start allocates (modules, Qt
    wrappers, the schema) nearly all stays, so collecting it is wasted work — with Python's thresholds a deep link's
    start ran a full collection of ~20 ms before its request, and higher thresholds only made each young
    collection longer (tests/benchmarks/run_all.py). Reference counting still frees what a start drops."""
    import gc

    gc.disable()


def quiet_garbage_collector() -> None:
    """No full (generation-2) collection while the user works: the start-up heap (Qt wrappers, modules, the
    schema) is moved out of the collector's sight, and the young generations are collected less often. Reference
    counting frees almost everything here; the cycle collector only has to find the rare cycle. Measured in
    tests/benchmarks/bench_load.py (the longest UI-thread stall)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 1000)
    gc.enable()  # off since the start began (pause_cycle_collector)


def close_server(server: InstanceServer | None) -> None:
    """Remove the socket now: left to interpreter shutdown, the file may outlive the process."""
    if server is not None:
        server.close()


def handle_stop_signals(stop: Callable[[], object]) -> Callable[[], None]:
    """SIGTERM/SIGINT (logout, ``kill``, Ctrl+C in the terminal) quit like closing the window does.

    Python runs signal handlers only between bytecodes, and an idle Qt loop runs none: the wake-up fd makes
    a socket readable on each signal, and the Qt notifier on it gives Python the moment it needs.
    Returns the function that undoes all this.
    """
    import signal
    import socket

    from PySide6.QtCore import QSocketNotifier

    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    try:
        previous_fd = signal.set_wakeup_fd(writer.fileno())
    except ValueError:  # not the main thread: no signals for us
        reader.close()
        writer.close()
        return lambda: None
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read)

    def drain() -> None:
        with contextlib.suppress(OSError):
            reader.recv(256)

    notifier.activated.connect(drain)
    handled = [sig for sig in (signal.SIGTERM, signal.SIGINT) if sig is not None]
    previous = {sig: signal.signal(sig, lambda _signum, _frame: stop()) for sig in handled}

    def undo() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        notifier.setEnabled(False)
        reader.close()
        writer.close()

    return undo


if __name__ == "__main__":
    sys.exit(main())
