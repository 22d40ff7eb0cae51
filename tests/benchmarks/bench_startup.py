"""Cold start → main window painted (frame, sign-in bar, navigator, empty payment panel: ui/app.py paints them at
once), as a ratio against a bare PySide6 QMainWindow process.

Run: ``.venv/bin/python tests/benchmarks/bench_startup.py [runs]``. Both are measured in the same run,
alternating, and the medians compared. The issue's full figure (the loop answering too, on the user's install) is
tests/benchmarks/run_all.py's. Not collected by pytest.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BASELINE = (
    "import sys\n"
    "from PySide6.QtWidgets import QApplication, QMainWindow\n"
    "app = QApplication(sys.argv)\n"
    "w = QMainWindow(); w.resize(1280, 800); w.show(); app.processEvents()\n"
    "print('shown', flush=True)\n"
)


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - started
    if "shown" not in out.stdout:
        raise SystemExit(f"{cmd} did not show a window:\n{out.stderr[-2000:]}")
    return elapsed


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "BCPV_BENCH_EXIT": "shown", "BCPV_DATA_DIR": str(ROOT / ".venv" / "bench-data")}
    base: list[float] = []
    shown: list[float] = []
    for _ in range(runs):  # alternating, so machine noise hits both alike
        base.append(timed([sys.executable, "-c", BASELINE], env))
        shown.append(timed([sys.executable, "main.py"], env))
    b, s = statistics.median(base), statistics.median(shown)
    print(f"baseline bare QMainWindow:          median {b * 1000:.0f} ms over {runs} runs")
    print(f"window with its panels painted:     median {s * 1000:.0f} ms  ratio {s / b:.2f}x (target <= 1.6x with "
          "the loop answering: run_all.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
