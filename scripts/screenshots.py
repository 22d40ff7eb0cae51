"""Screenshots of the app on the sandbox, in the light and the dark palette: look at what a person sees.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshots.py OUT_DIR

Drives the real window (sandbox, MSAL sign-in, navigation) and saves PNGs of: the main window with a
payment open, a failed refresh (stale banner), a payment gone (posted), the Open… dialog validating, the profile
editor, the device-code panel, the first start's welcome, a narrow (640 px) window and the payment checks of a
seeded case.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_API", "pyside6")
os.environ.setdefault("BCPV_DATA_DIR", tempfile.mkdtemp(prefix="bcpv-shots-"))


def main(out: Path) -> int:
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication(sys.argv[:1])
    import qasync

    from ui.app import apply_color_scheme, build_parser
    from ui.controller import AppController
    from ui.main_window import MainWindow
    from ui.sandbox_run import SandboxRun
    from viewer.models.payment import LoadState
    from viewer.profiles import SandboxProfile
    from viewer.sandbox import Sandbox
    from viewer.settings import Settings

    out.mkdir(parents=True, exist_ok=True)
    box = Sandbox(seed=1)
    box.start()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    def grab(widget: QWidget, name: str) -> None:
        app.processEvents()
        widget.grab().save(str(out / name))
        print(out / name)

    async def settle(predicate: object, timeout: float = 15) -> None:
        for _ in range(int(timeout / 0.05)):
            if callable(predicate) and predicate():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)

    async def welcome(scheme: str) -> None:
        # A first start from the desktop launcher: no arguments, no profile (its own, empty settings).
        window = MainWindow()
        window.resize(1280, 800)
        window.show()
        settings = Settings(Path(tempfile.mkdtemp(prefix="bcpv-welcome-")) / "settings.ini")
        controller = AppController(window, build_parser().parse_args([]), settings=settings)
        await controller.start()
        await settle(window.payment.hint.isVisible)
        grab(window, f"welcome-{scheme}.png")
        await controller.shutdown()
        window.close()

    async def run(scheme: str) -> None:
        apply_color_scheme(app, scheme)
        await welcome(scheme)
        window = MainWindow()
        window.resize(1280, 800)
        window.show()
        demo = box.store().demo
        args = build_parser().parse_args(["--sandbox", "--activity", "0"])
        controller = AppController(window, args, sandbox=SandboxRun.attach(box))
        await controller.start()
        await settle(lambda: controller.navigation.payments.rowCount() > 0)
        window.navigator.view.selectRow(2)  # a line with a comment and an applied invoice
        await settle(lambda: controller.payment.state == LoadState.READY)
        grab(window, f"main-{scheme}.png")
        await settle(lambda: all(m.state != LoadState.LOADING for m in controller.related.models.values()))
        form = window.payment.form
        scroll = form.tabs.widget(0)
        scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())  # type: ignore[attr-defined]
        grab(window.payment, f"related-{scheme}.png")
        scroll.verticalScrollBar().setValue(0)  # type: ignore[attr-defined]
        form.tabs.setCurrentIndex(1)
        form.json_find.setText("customerNumber")
        form.find_in_json()
        grab(window.payment, f"json-{scheme}.png")
        form.tabs.setCurrentIndex(0)

        # What changed since the last refresh: two edits in the sandbox, then F5.
        record = controller.payment.record
        assert record is not None
        box.store().patch_payment(str(record.values["id"]), {"amount": -6120.5, "externalDocumentNumber": "SEPA-2"})
        controller.changes.summary = ""
        window.refresh_action.trigger()
        await settle(lambda: bool(controller.changes.summary))
        grab(window, f"changes-{scheme}.png")
        window.activateWindow()  # a value with the keyboard focus shows its focus ring (ui/a11y.py FocusRing)
        focused = form.field_edit("documentNumber")
        assert focused is not None
        focused.setFocus()
        await settle(lambda: focused.hasFocus(), timeout=2)
        grab(window.payment, f"focus-{scheme}.png")
        size = window.size()
        window.resize(640, 800)  # half a laptop screen, next to the Business Central web client
        await settle(lambda: False, timeout=0.3)
        grab(window, f"narrow-{scheme}.png")
        window.resize(size)

        box.add_fault("status", "customerPayments", status=503, count=20)
        window.refresh_action.trigger()
        await settle(lambda: controller.payment.state == LoadState.FAILED)
        grab(window, f"stale-{scheme}.png")
        box.faults.clear()

        # Payment checks: a seeded line that, with its twin, overpays one invoice (viewer/sandbox/data.py).
        assert box.info is not None
        case = box.store().check_cases["two lines overpay one invoice (1)"]
        controller.open_url(f"{box.info.api_root}/v2.0/{box.store().payment_path(case)}")
        strip = window.payment.checks_strip
        label = lambda: strip.message_label("duplicateApplication")  # noqa: E731 (made on the first result)
        await settle(lambda: (found := label()) is not None and "together" in found.text()
                     and all(m.state != LoadState.LOADING for m in controller.related.models.values()))
        grab(window.payment, f"checks-{scheme}.png")

        # A payment that is gone (posted): the banner over the last good values, nothing else changes.
        controller.open_url(f"{box.info.api_root}/v2.0/{box.store().payment_path(case)}")
        await settle(lambda: controller.payment.state == LoadState.READY)
        record = controller.payment.record
        assert record is not None
        box.store().post_journal(str(record.ref.company_id if record.ref else ""), str(record.values["journalId"]))
        window.refresh_action.trigger()
        await settle(lambda: controller.payment.state == LoadState.GONE)
        grab(window.payment, f"gone-{scheme}.png")
        box.reset()  # the seeded data back, for the shots after this one (and the other palette)

        controller.show_open_dialog()
        dialog = controller._open_dialog
        assert dialog is not None
        dialog.set_text(f"https://api.financials.dynamics.com/v1.0/api/beta/companies({demo.company_id})/"
                        f"customerPaymentsJournals({demo.journal_id})/customerPayments({demo.payment_id})")
        grab(dialog, f"open-refused-{scheme}.png")
        dialog.set_text(f"{{{demo.company_id}}} {demo.payment_id}")
        grab(dialog, f"open-ok-{scheme}.png")
        dialog.reject()

        controller.show_profile_dialog()
        assert controller._profile_dialog is not None
        grab(controller._profile_dialog, f"profiles-{scheme}.png")
        controller._profile_dialog.reject()

        # The device-code panel: sign out, then ask for a code.
        assert controller.workspace is not None
        await controller.workspace.sign_out()
        await controller.activate(SandboxProfile(), silent=False)
        window.sign_in.code_button.click()
        await settle(window.sign_in.code_panel.isVisible)
        grab(window, f"device-code-{scheme}.png")
        window.sign_in.cancel()
        await asyncio.sleep(0.2)
        await controller.shutdown()
        window.close()

    async def both() -> None:
        for scheme in ("light", "dark"):
            box.reset()
            await run(scheme)

    try:
        loop.run_until_complete(both())
    finally:
        box.stop()
        loop.close()
        import gc

        gc.collect()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")))
