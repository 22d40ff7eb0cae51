"""Dump what a screen reader sees of the running app over AT-SPI: the accessibility tree, then the Tab path.

Run by scripts/a11y-tree.sh (Xvfb, a D-Bus session with the AT-SPI bus, the app started with
``main.py --sandbox``), with Debian's system Python, which has ``python3-pyatspi`` — the same library Orca uses.
Keys are typed with xdotool, so they arrive as from a keyboard; focus and announcement events are printed as
the bus delivers them.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from typing import Any

import pyatspi  # type: ignore[import-not-found]
from gi.repository import GLib  # type: ignore[import-not-found]

WINDOW_TITLE = "BC Payment Viewer"
SHOWN_STATES = ("focusable", "focused", "selected", "checked", "editable", "read-only", "enabled", "showing")


def pump(seconds: float) -> None:
    """Let AT-SPI events arrive (they are dispatched by the GLib main context)."""
    context = GLib.MainContext.default()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        while context.pending():
            context.iteration(False)
        time.sleep(0.02)


def find_window(timeout: float) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        desktop = pyatspi.Registry.getDesktop(0)
        for app in desktop:
            if app is None:
                continue
            for window in app:
                if window is not None and window.name == WINDOW_TITLE:
                    return window
        time.sleep(0.5)
    sys.exit(f"no window named {WINDOW_TITLE!r} on the AT-SPI bus after {timeout:.0f} s")


def states(acc: Any) -> str:
    present = {s.value_nick for s in acc.getState().getStates()}
    return ",".join(s for s in SHOWN_STATES if s in present and s not in ("enabled", "showing")) + (
        "" if "enabled" in present else ",disabled")


def relations(acc: Any) -> str:
    parts = []
    for relation in acc.getRelationSet():
        targets = [relation.getTarget(i).name for i in range(relation.getNTargets())]
        parts.append(f"{relation.getRelationType().value_nick}={targets}")
    return " ".join(parts)


def text_of(acc: Any) -> str:
    try:
        text = acc.queryText()
    except NotImplementedError:
        return ""
    return str(text.getText(0, min(text.characterCount, 120)))


def describe(acc: Any) -> str:
    line = f"[{acc.getRoleName()}] {acc.name!r}"
    if acc.description:
        line += f" desc={acc.description!r}"
    text = text_of(acc)
    if text and text != acc.name:
        line += f" text={text!r}"
    if (flags := states(acc).strip(",")):
        line += f" ({flags})"
    if (rels := relations(acc)):
        line += f" {rels}"
    return line


def dump(acc: Any, depth: int = 0, rows: int = 3) -> None:
    if acc is None:
        return
    if not acc.getState().contains(pyatspi.STATE_SHOWING) and depth > 1:
        return
    print("  " * depth + describe(acc))
    children = acc.childCount
    limit = children
    if acc.getRoleName() in ("table", "tree table", "list"):
        columns = 1
        with contextlib.suppress(NotImplementedError):
            columns = max(1, acc.queryTable().nColumns)
        limit = min(children, columns * (rows + 1))  # headers and the first rows
    for i in range(limit):
        dump(acc[i], depth + 1, rows)
    if limit < children:
        print("  " * (depth + 1) + f"… {children - limit} more children")


def tab_path(window: Any, steps: int, start: str) -> None:
    seen: list[str] = []

    def on_focus(event: Any) -> None:
        if event.detail1:
            seen.append(describe(event.source))

    def on_announcement(event: Any) -> None:
        print(f"  announcement: {event.any_data!r} from {event.source.name!r}")

    def on_name(event: Any) -> None:
        try:  # the source may be gone already (a form row replaced)
            if event.source.getRoleName() == "label":
                print(f"  name changed: {event.source.name!r}")
        except GLib.Error:
            pass

    pyatspi.Registry.registerEventListener(on_focus, "object:state-changed:focused")
    pyatspi.Registry.registerEventListener(on_announcement, "object:announcement")
    pyatspi.Registry.registerEventListener(on_name, "object:property-change:accessible-name")
    print(f"\n== Tab path from {start} (each line: the control that received the focus)")
    subprocess.run(["xdotool", "search", "--name", WINDOW_TITLE, "windowfocus", "--sync"], check=False)
    subprocess.run(["xdotool", "key", "--delay", "300", *start.split()], check=True)
    pump(3.0)  # the payment opened by the start keys loads
    for step in range(steps):
        for line in seen:
            print(f"{step:3d}. {line}")
        seen.clear()
        subprocess.run(["xdotool", "key", "Tab"], check=True)
        pump(0.4)
    for line in seen:
        print(f"{steps:3d}. {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=90, help="seconds to wait for the window")
    parser.add_argument("--settle", type=float, default=8, help="seconds to let sign-in and loading finish")
    parser.add_argument("--tabs", type=int, default=40, help="how many times to press Tab")
    parser.add_argument("--start", default="ctrl+1 Down",
                        help="keys pressed first, xdotool names (default: the list, then its second payment)")
    parser.add_argument("--rows", type=int, default=3, help="table rows to show")
    args = parser.parse_args()
    window = find_window(args.timeout)
    pump(args.settle)
    print("== Accessibility tree (showing elements only)")
    dump(window, rows=args.rows)
    tab_path(window, args.tabs, args.start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
