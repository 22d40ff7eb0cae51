"""Issue 12's four figures, each against its own baseline, in one command:

    .venv/bin/python tests/benchmarks/run_all.py [--runs 10] [--only startup,deeplink,memory,show] [--dev]

Measured on the user's install: a virtual environment in ``.bench-venv`` with ``pip install .`` (no test
extra, so httpx finds no rich/click/pygments), refreshed from the checkout on every run; ``--dev`` uses this
interpreter instead. A standalone sandbox (20,000 payments in one journal) serves everything over loopback
https; a cloud profile with a token in the cache is prepared through the sandbox's device-code flow.

Candidate and baseline alternate run by run, so machine noise hits both alike; the table gives medians and
their ratio. The deep link and the memory figure also measure a floor (DEEPLINK and MEMORY below, in their floor
mode) and say how much of the app's own work above it the target leaves room for. The processes are stopped as soon
as they print their marker, so exit costs count for neither.
Not collected by pytest (no ``test_`` names): tests never assert times.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIGURES = ("startup", "deeplink", "memory", "show")
TARGETS = {"startup": 1.6, "deeplink": 1.3, "memory": 1.3, "show": 1.5}
TITLES = {
    "startup": "start → navigator + payment panel painted, loop answering",
    "deeplink": "deep link → form painted with the payment's values",
    "memory": "RSS: 20,000 payments listed, 100 opened",
    "show": "show URL --format json --user U (whole process)",
}
BASELINES = {
    "startup": "bare PySide6 QMainWindow process to its first paint",
    "deeplink": "PySide6+httpx+msal script: window, one GET, label painted",
    "memory": "bare window importing every non-app module the app holds",
    "show": "python -c 'import httpx; httpx.get(URL)' (same CA)",
}

BASE_WINDOW = """
import sys
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
w = QMainWindow(); w.resize(1280, 800); w.show(); app.processEvents()
print("ready", flush=True)
"""

# Floors: each figure's baseline plus only what any version of this app has before it does any of its work -- its
# window (the panels as ui/app.py paints them first; the memory floor builds them whole), its own modules (memory) and
# the asyncio loop on qasync that it loads on (deep link) -- and none of that work: no sign-in session, no load path,
# no form filled, no rows listed, no payment opened. What the app spends beyond its floor is what its code can still
# win; the floor's own ratio is the part it cannot.

# The deep link's baseline ("base": a bare window with a label) and its floor ("floor": the app's first window, with
# the label in its status bar, and asyncio and qasync imported).
DEEPLINK = """
import os, ssl, sys
floor = sys.argv[3] == "floor"
if floor:
    os.environ.setdefault("QT_API", "pyside6")
    from ui.app import lighter_pyside_import_hook
    lighter_pyside_import_hook()  # as the app does before its first Qt import
import httpx, msal  # noqa: F401  (imported as the app must)
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow
app = QApplication(sys.argv[:1])
if floor:
    import asyncio, qasync  # the app loads on qasync's loop (docs/ARCHITECTURE.md); the GET below need not
    from ui.main_window import MainWindow
    w = MainWindow(deferred=True); w.build(shell=True)
    label = QLabel(); w.statusBar().addWidget(label)
else:
    w = QMainWindow()
    label = QLabel("Loading…"); w.setCentralWidget(label)
w.resize(1280, 800); w.show(); app.processEvents()
context = ssl.create_default_context(); context.load_verify_locations(cafile=sys.argv[2])
with httpx.Client(verify=context) as client:
    values = client.get(sys.argv[1], headers={"Authorization": os.environ["BENCH_AUTHORIZATION"]}).json()
label.setText(f"{values['documentNumber']}  {values['amount']}  {values['description']}")
app.processEvents()
print("painted", flush=True)
"""

# The memory figure's baseline ("base") and its floor ("floor": the app's own modules too, and its whole window
# instead of a bare one), from the modules the app held (app_memory.py).
MEMORY = """
import importlib, json, os, sys
held = json.load(open(sys.argv[1]))
floor = sys.argv[2] == "floor"
os.environ.setdefault("QT_API", "pyside6")
if floor:
    from ui.app import lighter_pyside_import_hook
    lighter_pyside_import_hook()  # as the app does before its first Qt import
# Qt's modules (and qasync, which imports them) last: PySide6's import hook would otherwise read and keep the
# source of every module imported after it (~14.5 MiB in linecache), a cost the app avoids (ui/app.py
# lighter_pyside_import_hook) and a bare process importing the same modules need not carry.
QT = ("PySide6", "shiboken6", "shibokensupport", "qasync")
for name in sorted(held["modules"], key=lambda name: name.split(".")[0] in QT) + (held["app_modules"] if floor else []):
    try:
        importlib.import_module(name)
    except Exception:
        pass
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
if floor:
    from ui.main_window import MainWindow
    w = MainWindow()
else:
    w = QMainWindow()
w.resize(1280, 800); w.show(); app.processEvents()
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
print(json.dumps({"rss_kb": rss}), flush=True)
os._exit(0)  # the figure is taken; skip the teardown
"""

BASE_SHOW = """
import os, ssl, sys
import httpx
context = ssl.create_default_context(); context.load_verify_locations(cafile=sys.argv[3])
r = httpx.get(sys.argv[1], auth=(sys.argv[2], os.environ["BCPV_PASSWORD"]), verify=context)
r.raise_for_status()
sys.stdout.write(r.text)
"""


# ---- the user's install ---------------------------------------------------------------------------------


def user_install(dev: bool) -> Path:
    """The interpreter to measure: ``.bench-venv`` with ``pip install .`` of this checkout (no extras)."""
    if dev:
        return Path(sys.executable)
    venv = ROOT / ".bench-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True)
    else:  # the code of this checkout, then whatever dependency pyproject.toml gained since
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(ROOT)],
                       check=True, capture_output=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True, capture_output=True)
    return python


# ---- sandbox and prepared data -----------------------------------------------------------------------------


@dataclass
class World:
    info: dict[str, Any]
    data_dir: Path
    cloud_url: str  # one payment of the big journal, on the cloud path
    onprem_url: str  # the same payment on the on-prem path
    authorization: str  # a bearer token for the deep link's baseline
    sandbox: subprocess.Popen[str] | None = None
    scratch: list[Path] = field(default_factory=list)


def start_sandbox() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen([sys.executable, "-m", "viewer.sandbox", "--payments", "20000",
                             "--token-lifetime", "7200"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit("the sandbox did not start")
    return proc, json.loads(line)


def prepare(info: dict[str, Any], data_dir: Path) -> tuple[str, str, str]:
    """A cloud profile as the last used one, the big journal as the last one, and a token in the cache."""
    import httpx

    os.environ["BCPV_DATA_DIR"] = str(data_dir)
    import ssl

    from viewer.auth import DeviceCode, UserSession
    from viewer.connection import token_cache_for
    from viewer.profiles import CloudUserProfile
    from viewer.settings import LAST_COMPANY, LAST_JOURNAL, LAST_PROFILE, Settings

    verify = ssl.create_default_context()
    verify.load_verify_locations(cafile=info["ca_file"])
    basic = (info["basic"]["user"], info["basic"]["password"])
    with httpx.Client(verify=verify, auth=basic) as http:
        root = f"{info['onprem_root']}/v2.0"
        company = http.get(f"{root}/companies").json()["value"][0]["id"]
        journals = http.get(f"{root}/companies({company})/customerPaymentJournals").json()["value"]
        journal = next(j["id"] for j in journals if j["code"] == "GENERAL")
        path = f"companies({company})/customerPaymentJournals({journal})/customerPayments"
        payment = http.get(f"{root}/{path}", params={"$top": "1"}).json()["value"][0]["id"]
    profile = CloudUserProfile(name="Bench", tenant=info["tenant"], client_id=info["public_client_id"],
                               environment=info["environment"], authority_host=info["base_url"],
                               api_base=info["base_url"], ca_file=info["ca_file"])
    settings = Settings()
    settings.save_profile(profile)
    settings.set(LAST_PROFILE, profile.name)
    settings.set(LAST_COMPANY, company)
    settings.set(LAST_JOURNAL, journal)

    async def sign_in() -> str:
        session = UserSession(client_id=profile.client_id, authority=profile.authority,
                              cache=token_cache_for(profile), verify=verify)  # where the app looks

        def approve(code: DeviceCode) -> None:
            with httpx.Client(verify=verify) as http:
                http.post(f"{info['control_url']}/devicecode/approve", json={"user_code": code.user_code})

        try:
            await session.sign_in_device_code(approve)
            return await session.authorization()
        finally:
            session.close()

    authorization = asyncio.run(sign_in())
    cloud = f"{info['api_root']}/v2.0/{path}({payment})"
    onprem = f"{info['onprem_root']}/v2.0/{path}({payment})"
    return cloud, onprem, authorization


# ---- measuring ---------------------------------------------------------------------------------------------


def until_marker(cmd: list[str], marker: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> float:
    """Seconds from spawning ``cmd`` to its stdout line ``marker``; the process is then killed."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    assert proc.stdout is not None
    try:
        deadline = started + timeout
        while (left := deadline - time.perf_counter()) > 0:
            if not select.select([proc.stdout], [], [], left)[0]:
                break  # silent until the deadline: the app is stuck
            line = proc.stdout.readline()
            if not line:
                break  # it exited without the marker
            if line.strip() == marker:
                return time.perf_counter() - started
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise SystemExit(f"{cmd[:3]} never printed {marker!r}:\n{err[-3000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
        settle()


SANDBOX_PID: int | None = None  # set by main()


def settle() -> None:
    """A process stopped at its marker may have left the sandbox answering its last requests (a deep link's navigation
    restore lists 200 rows of the 20,000-payment journal right after its paint): the next process, candidate or
    baseline, starts once the sandbox has used no CPU for 50 ms (at most 3 s), not while the sandbox competes with it
    on this 2-core machine."""
    def cpu() -> int:
        try:
            with open(f"/proc/{SANDBOX_PID}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        except (OSError, IndexError, ValueError):
            return -1  # not Linux, or gone: nothing to wait for

    deadline = time.monotonic() + 3
    before = cpu()
    while before >= 0 and time.monotonic() < deadline:
        time.sleep(0.05)
        now = cpu()
        if now == before:
            return
        before = now


PEAK = """
import atexit, os, runpy, sys
def peak():
    with open("/proc/self/status") as status, open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(peak)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def whole_process(python: Path, script: Path, args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """Wall time and peak RSS (KiB, the process's own high-water mark) of one script run to its end.

    Both sides run through the same small launcher, which records VmHWM at exit (a forked child's rusage would
    count the parent's pages too)."""
    peak_file = cwd / "peak"
    done_env = {**env, "BENCH_PEAK_FILE": str(peak_file)}
    started = time.perf_counter()
    done = subprocess.run([str(python), "-c", PEAK, str(script), *args], capture_output=True, env=done_env,
                          cwd=cwd, timeout=120, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{script.name} failed:\n{done.stderr.decode(errors='replace')[-2000:]}")
    return elapsed, int(peak_file.read_text())


def json_line(cmd: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=600, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{cmd[:3]} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@dataclass
class Series:
    candidate: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)


def run_figures(python: Path, world: World, figures: list[str], runs: int) -> dict[str, Series]:
    bindir = python.parent
    gui = [str(bindir / "bc-payment-viewer")] if (bindir / "bc-payment-viewer").exists() else [
        str(python), str(ROOT / "main.py")]
    cli_script = bindir / "bc-payment-viewer-cli" if (bindir / "bc-payment-viewer-cli").exists() else ROOT / "main.py"
    cwd = Path(tempfile.mkdtemp(prefix="bcpv-bench-cwd-"))  # not the checkout: the installed code is measured
    world.scratch.append(cwd)
    base_show = cwd / "base_show.py"
    base_show.write_text(BASE_SHOW)
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "BCPV_DATA_DIR": str(world.data_dir), "BCPV_PASSWORD": world.info["basic"]["password"]}
    env.pop("PYTHONPATH", None)
    held_file = cwd / "held.json"
    results = {name: Series() for name in figures}
    for i in range(runs):
        for name in figures:
            series = results[name]
            if name == "startup":
                series.candidate.append(until_marker(gui, "ready", {**env, "BCPV_BENCH_EXIT": "ready"}, cwd))
                series.baseline.append(until_marker([str(python), "-c", BASE_WINDOW], "ready", env, cwd))
                # where the time goes: the window painted (frame and panels, ui/app.py paints them at once) ...
                series.extra.setdefault("built", []).append(
                    until_marker(gui, "shown", {**env, "BCPV_BENCH_EXIT": "built"}, cwd))
                # and when the rest of the start (asyncio's loop, the form, the controller: ui/app.py's
                # finish_start, run in steps inside Qt's loop) is done
                series.extra.setdefault("started", []).append(
                    until_marker(gui, "started", {**env, "BCPV_BENCH_EXIT": "started"}, cwd))
            elif name == "deeplink":
                series.candidate.append(until_marker([*gui, world.cloud_url], "painted",
                                                     {**env, "BCPV_BENCH_EXIT": "payment"}, cwd))
                for mode, into in (("base", series.baseline), ("floor", series.extra.setdefault("floor", []))):
                    into.append(until_marker(
                        [str(python), "-c", DEEPLINK, world.cloud_url, world.info["ca_file"], mode], "painted",
                        {**env, "BENCH_AUTHORIZATION": world.authorization}, cwd))
            elif name == "memory":
                got = json_line([str(python), str(HERE / "app_memory.py")], env, cwd)
                held_file.write_text(json.dumps({"modules": got["modules"], "app_modules": got["app_modules"]}))
                series.candidate.append(got["rss_kb"] / 1024)
                for key in ("scroll_median_ms", "scroll_worst_ms", "rows"):
                    series.extra.setdefault(key, []).append(float(got[key]))
                series.baseline.append(json_line([str(python), "-c", MEMORY, str(held_file), "base"], env,
                                                  cwd)["rss_kb"] / 1024)
                series.extra.setdefault("floor", []).append(json_line(
                    [str(python), "-c", MEMORY, str(held_file), "floor"], env, cwd)["rss_kb"] / 1024)
            elif name == "show":
                seconds, peak = whole_process(
                    python, cli_script, ["show", world.onprem_url, "--format", "json", "--user",
                                         world.info["basic"]["user"], "--ca-file", world.info["ca_file"]], env, cwd)
                series.candidate.append(seconds)
                series.extra.setdefault("candidate_peak_mib", []).append(peak / 1024)
                seconds, peak = whole_process(
                    python, base_show, [world.onprem_url, world.info["basic"]["user"], world.info["ca_file"]],
                    env, cwd)
                series.baseline.append(seconds)
                series.extra.setdefault("baseline_peak_mib", []).append(peak / 1024)
        print(f"  run {i + 1}/{runs} done", file=sys.stderr, flush=True)
    return results


# ---- report ------------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration), open("/proc/cpuinfo") as info:
        cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    import PySide6

    qpa = os.environ.get("QT_QPA_PLATFORM", "offscreen")
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, PySide6 {PySide6.__version__}, QT_QPA_PLATFORM={qpa}")


def report(results: dict[str, Series], runs: int) -> str:
    lines = [f"Machine: {machine()}", f"Runs: {runs} per figure, candidate and baseline alternating; medians.", "",
             "| Figure | Candidate | Baseline | Ratio | Target |", "|---|---|---|---|---|"]
    for name, series in results.items():
        c, b = statistics.median(series.candidate), statistics.median(series.baseline)
        unit = (lambda v: f"{v:.0f} MiB") if name == "memory" else (lambda v: f"{v * 1000:.0f} ms")
        ratio = c / b
        verdict = "ok" if ratio <= TARGETS[name] else "MISSED"
        lines.append(f"| {TITLES[name]} | {unit(c)} | {unit(b)} ({BASELINES[name]}) | {ratio:.2f}× | "
                     f"≤ {TARGETS[name]}× {verdict} |")
    notes = []
    if "startup" in results:
        series = results["startup"]
        b = statistics.median(series.baseline)
        built, started = (statistics.median(series.extra[k]) for k in ("built", "started"))
        notes.append(f"Start-up stages: window with the navigator and payment panel painted {built * 1000:.0f} ms "
                     f"({built / b:.2f}×, a process that exits there), loop answering "
                     f"{statistics.median(series.candidate) * 1000:.0f} ms; the rest of the start (asyncio's loop, "
                     f"the form, the controller) done {started * 1000:.0f} ms ({started / b:.2f}×).")
    for name, what in (("deeplink", "the baseline script painting the app's window as its first paint shows it "
                                      "(sign-in bar, navigator, empty payment panel) instead of a bare one, and "
                                      "importing asyncio and qasync, which the app loads on"),
                       ("memory", "the baseline process that also imports the app's own modules and builds its "
                                  "whole window, with nothing listed or opened")):
        if name in results:
            series = results[name]
            b, floor = statistics.median(series.baseline), statistics.median(series.extra["floor"])
            shown = f"{floor:.0f} MiB" if name == "memory" else f"{floor * 1000:.0f} ms"
            left = (TARGETS[name] * b - floor) / (statistics.median(series.candidate) - floor)
            notes.append(f"Floor of the {name} figure: {what}: {shown}, {floor / b:.2f}× its baseline. The app's "
                         f"own work above that floor would have to shrink to {max(left, 0):.0%} of what it is for "
                         f"the {TARGETS[name]}× target.")
    if "memory" in results:
        extra = results["memory"].extra
        notes.append(f"Scrolling the {statistics.median(extra['rows']):.0f}-row list top to bottom (200 steps, each "
                     f"painted): median {statistics.median(extra['scroll_median_ms']):.1f} ms a step, worst "
                     f"{statistics.median(extra['scroll_worst_ms']):.1f} ms (median over runs).")
    if "show" in results:
        extra = results["show"].extra
        notes.append(f"`show` peak memory: {statistics.median(extra['candidate_peak_mib']):.1f} MiB against "
                     f"{statistics.median(extra['baseline_peak_mib']):.1f} MiB for the httpx one-liner.")
    return "\n".join(lines + (["", *notes] if notes else []))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", default=",".join(FIGURES), help="comma-separated: " + ", ".join(FIGURES))
    parser.add_argument("--dev", action="store_true", help="measure this interpreter instead of .bench-venv")
    args = parser.parse_args()
    figures = [f for f in args.only.split(",") if f]
    if unknown := set(figures) - set(FIGURES):
        parser.error(f"unknown figures {sorted(unknown)}")
    python = user_install(args.dev)
    print(f"measuring {python}", file=sys.stderr)
    global SANDBOX_PID
    sandbox, info = start_sandbox()
    SANDBOX_PID = sandbox.pid
    data_dir = Path(tempfile.mkdtemp(prefix="bcpv-bench-data-"))
    world = World(info, data_dir, "", "", "", sandbox, [data_dir])
    try:
        world.cloud_url, world.onprem_url, world.authorization = prepare(info, data_dir)
        results = run_figures(python, world, figures, args.runs)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
        for path in world.scratch:
            shutil.rmtree(path, ignore_errors=True)
    print(report(results, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
