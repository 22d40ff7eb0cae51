"""``python -m viewer.sandbox``: serve the sandbox until interrupted.

The first stdout line is one JSON object saying how to connect; it is printed only once the server
accepts connections, so a parent process can read one line and start talking.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from viewer.sandbox.server import Sandbox


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m viewer.sandbox",
        description="Local Business Central + Microsoft identity emulator on 127.0.0.1 (https, per-run CA).",
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind on 127.0.0.1 (default: a free one)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the deterministic demo data (default 1)")
    parser.add_argument("--payments", type=int, default=None, help="total payments to generate, e.g. 20000")
    parser.add_argument(
        "--token-lifetime", type=int, default=3600, help="access token lifetime in seconds (default 3600)"
    )
    parser.add_argument(
        "--activity", type=float, default=None, metavar="SECONDS", help="edit a random payment every N seconds"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.activity is not None and args.activity <= 0:
        print("--activity takes a positive number of seconds", file=sys.stderr)
        return 2
    sandbox = Sandbox(
        port=args.port,
        seed=args.seed,
        payments=args.payments,
        token_lifetime=args.token_lifetime,
        activity=args.activity,
    )
    try:
        info = sandbox.start()
    except OSError as exc:
        print(f"cannot start the sandbox: {exc}", file=sys.stderr)
        return 1
    print(info.to_json(), flush=True)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        while not done.wait(0.5):
            pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
