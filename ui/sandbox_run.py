"""Start-up code for ``--sandbox``: start the embedded sandbox and hand the app typed endpoints.

Only the app's start-up code (ui/app.py) and tests import ``viewer.sandbox`` (an import-linter contract in
pyproject.toml says so); the controller gets a ``SandboxRun`` and never sees the sandbox itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from viewer.connection import SandboxEndpoints

if TYPE_CHECKING:
    import ssl

    from viewer.sandbox import Sandbox, SandboxInfo


@dataclass
class SandboxRun:
    """A running sandbox as the app sees it: where to connect, how to answer its consent page, whether the demo
    (activity mode, Watch on) is on, and how to stop it when the app started it."""

    endpoints: SandboxEndpoints
    browser: Callable[[str], object]
    demo: bool
    _box: Sandbox | None  # None: running in another process
    owned: bool

    @classmethod
    def attach(cls, box: Sandbox, *, demo: bool = False) -> SandboxRun:
        """A sandbox someone else started and stops (tests, screenshots)."""
        return cls._of(box, demo=demo, owned=False)

    @classmethod
    async def start(cls, *, activity: float | None, payments: int | None) -> SandboxRun:
        from viewer.sandbox import Sandbox

        box = Sandbox(activity=activity if activity and activity > 0 else None, payments=payments)
        await asyncio.to_thread(box.start)  # certificates and the server's thread: not on the GUI thread
        return cls._of(box, demo=bool(activity and activity > 0), owned=True)

    @classmethod
    def elsewhere(cls, info: SandboxInfo, verify: ssl.SSLContext) -> SandboxRun:
        """A sandbox running in another process (``python -m viewer.sandbox``, as tests/benchmarks/bench_load.py
        starts one), from the facts it printed: nothing here to stop."""
        from viewer.sandbox.autologin import auto_browser

        return cls(_endpoints(info), auto_browser(verify), False, None, owned=False)

    @classmethod
    def _of(cls, box: Sandbox, *, demo: bool, owned: bool) -> SandboxRun:
        from viewer.sandbox.autologin import auto_browser

        info = box.info
        assert info is not None, "the sandbox is not running"
        return cls(_endpoints(info), auto_browser(box.ssl_context()), demo, box, owned)

    async def aclose(self) -> None:
        if self.owned and self._box is not None:
            await asyncio.to_thread(self._box.stop)


def _endpoints(info: SandboxInfo) -> SandboxEndpoints:
    return SandboxEndpoints(authority=info.authority, api_root=info.api_root, environments_url=info.environments_url,
                            public_client_id=info.public_client_id, ca_file=info.ca_file)
