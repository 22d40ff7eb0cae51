"""The one-folder bundle (scripts/build-bundle.sh) runs without the project's Python: --version, the terminal
command, and --sandbox kept up a few seconds, exiting 0 when closed.

The bundle takes about a minute to build, so the suite does not build it: ``.ci/run`` builds it first and
sets ``BCPV_REQUIRE_BUNDLE=1``, which turns a missing bundle into a failure instead of a skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "dist" / "bc-payment-viewer"
GUI = BUNDLE / "bc-payment-viewer"
CLI = BUNDLE / "bc-payment-viewer-cli"

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def bundle() -> Path:
    if not GUI.exists():
        if os.environ.get("BCPV_REQUIRE_BUNDLE"):
            pytest.fail(f"{GUI} is missing: scripts/build-bundle.sh did not build it")
        pytest.skip("the bundle is not built: run bash scripts/build-bundle.sh (.ci/run does)")
    return BUNDLE


def clean_env(data: Path) -> dict[str, str]:
    """No trace of the project's virtual environment: the bundle must bring its own Python and packages."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(QT_QPA_PLATFORM="offscreen", BCPV_DATA_DIR=str(data), PATH="/usr/bin:/bin")
    return env


def test_version_and_the_terminal_command(bundle: Path, tmp_path: Path) -> None:
    version = subprocess.run([str(GUI), "--version"], env=clean_env(tmp_path), cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("bc-payment-viewer ") and "unknown" not in version.stdout
    show = subprocess.run([str(CLI), "show", "--help"], env=clean_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert show.returncode == 0 and "Print one Business Central customer payment" in show.stdout, show.stderr


@pytest.mark.timeout(120)
def test_sandbox_runs_headless_and_exits_0_when_closed(bundle: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    app = subprocess.Popen([str(GUI), "--sandbox", "--activity", "0", "--no-crash-dialog"], env=clean_env(data),
                           cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = data / "logs" / "bc-payment-viewer.log"
    try:
        deadline = time.monotonic() + 60
        # Signed in to the embedded sandbox and its payments listed: the sandbox, MSAL and httpx all work.
        while "customerPayments" not in (log.read_text("utf-8") if log.exists() else ""):
            assert app.poll() is None, app.stderr.read() if app.stderr else ""
            assert time.monotonic() < deadline, "the bundled app did not load the sandbox's payments"
            time.sleep(0.2)
        time.sleep(3)  # kept up a few seconds
        assert app.poll() is None
        app.send_signal(signal.SIGTERM)  # what closing the session does; the window's close takes the same path
        assert app.wait(timeout=30) == 0
        assert "stopped" in log.read_text("utf-8")
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        if app.stderr:
            app.stderr.close()


def test_linux_archive_installs_for_the_user_with_its_menu_entry(bundle: Path, tmp_path: Path) -> None:
    archives = sorted((ROOT / "dist").glob("bc-payment-viewer-*-linux-*.tar.gz"))
    assert archives, "scripts/build-bundle.sh makes the .tar.gz on Linux"
    with tarfile.open(archives[-1]) as archive:
        names = archive.getnames()
        top = names[0].split("/")[0]
        for member in ("install.sh", "bc-payment-viewer/bc-payment-viewer", "bc-payment-viewer/bc-payment-viewer-cli",
                       "bc-payment-viewer/_internal/resources/icons/bc-payment-viewer-256.png"):
            assert f"{top}/{member}" in names, member
        archive.extractall(tmp_path / "unpacked", filter="tar")
    home = tmp_path / "home"
    env = {**clean_env(tmp_path / "data"), "HOME": str(home), "XDG_DATA_HOME": str(home / "share")}
    installed = subprocess.run(["sh", str(tmp_path / "unpacked" / top / "install.sh")], env=env,
                               capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stderr
    app_dir = home / "share" / "bc-payment-viewer" / "app"
    entry_file = home / "share" / "applications" / "io.github.bc_payment_viewer.desktop"
    entry = entry_file.read_text("utf-8")
    assert f"Exec={app_dir / 'bc-payment-viewer'} %u" in entry
    assert (home / "share" / "icons" / "hicolor" / "256x256" / "apps" / "io.github.bc_payment_viewer.png").exists()
    version = subprocess.run([str(home / ".local" / "bin" / "bc-payment-viewer"), "--version"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("bc-payment-viewer "), version.stderr
    removed = subprocess.run(["sh", str(tmp_path / "unpacked" / top / "install.sh"), "--uninstall"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert removed.returncode == 0, removed.stderr
    assert not app_dir.exists() and not entry_file.exists()
