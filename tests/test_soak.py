"""The process must survive thousands of httpx requests on the qasync loop (PySide6 6.12.0 trap)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_3000_httpx_requests_on_qasync_do_not_abort_the_process() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "soak_qasync.py"), "3000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr[-3000:]}"
    assert "soak: 3000/3000 requests ok" in proc.stdout


def test_pyside6_below_612_on_python_311() -> None:
    """The environment marker in pyproject.toml must keep 6.12 away from Python < 3.12."""
    import PySide6

    if sys.version_info < (3, 12):
        major, minor = (int(x) for x in PySide6.__version__.split(".")[:2])
        assert (major, minor) < (6, 12), PySide6.__version__
