"""App bootstrap: parses the command line and starts what was asked for.

The desktop window is not built yet; until it is, ``--sandbox`` runs the embedded sandbox in the
foreground and prints how to connect, and ``show`` prints a payment in the terminal.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "show":
        from viewer.cli import main as show_main

        return show_main(args[1:])
    if "--sandbox" in args:
        from viewer.sandbox.__main__ import main as sandbox_main

        rest = [a for a in args if a != "--sandbox"]
        if "--activity" not in " ".join(rest):
            rest += ["--activity", "5"]
        print("The desktop window is not built yet; serving the sandbox (Ctrl+C to stop).", file=sys.stderr)
        return sandbox_main(rest)
    print(
        "usage: python main.py --sandbox | python main.py show <url-or-ref> [--format table|json]",
        file=sys.stderr,
    )
    return 2
