#!/usr/bin/env bash
# What a screen reader sees: runs the real app (main.py --sandbox) under Xvfb with a D-Bus session and the
# AT-SPI bus, then prints its accessibility tree and the Tab path over AT-SPI (the interface Orca uses).
#   bash scripts/a11y-tree.sh [--tabs N] [--start "ctrl+2"] [--rows N] > a11y.txt
# Needs Debian's xvfb, dbus, at-spi2-core, python3-pyatspi and xdotool (installed here when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
command -v xvfb-run >/dev/null || packages+=(xvfb xauth)
command -v dbus-run-session >/dev/null || packages+=(dbus)
command -v xdotool >/dev/null || packages+=(xdotool)
[ -x /usr/libexec/at-spi-bus-launcher ] || packages+=(at-spi2-core)
/usr/bin/python3 -c 'import pyatspi' 2>/dev/null || packages+=(python3-pyatspi)
if [ ${#packages[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y --no-install-recommends "${packages[@]}" >&2
    else
        echo "missing: sudo apt-get install ${packages[*]}" >&2
        exit 2
    fi
fi
[ -x .venv/bin/python ] || bash scripts/setup.sh >&2

# Qt registers on the AT-SPI bus only when a screen reader is on, unless told to.
export QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1 QT_ACCESSIBILITY=1 QT_QPA_PLATFORM=xcb NO_AT_BRIDGE=0
export BCPV_DATA_DIR="${BCPV_DATA_DIR:-$(mktemp -d)}"  # a fresh app-data folder: never the user's settings

# One D-Bus session (its org.a11y.Bus is started on demand by at-spi-bus-launcher), one X server.
exec dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
    .venv/bin/python main.py --sandbox --activity 0 --no-crash-dialog >"$BCPV_DATA_DIR/app.log" 2>&1 &
    app=$!
    trap "kill $app 2>/dev/null; wait $app 2>/dev/null" EXIT
    /usr/bin/python3 scripts/a11y_tree.py "$@"
' a11y-tree "$@"
