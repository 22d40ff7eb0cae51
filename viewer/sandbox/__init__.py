"""The embedded Business Central + Microsoft identity emulator (loopback only).

Imported only by the app bootstrap (``main.py --sandbox``) and tests; the rest of ``viewer`` never
depends on it, so production code paths are the same ones that talk to Microsoft.
"""

from viewer.sandbox.server import Sandbox, SandboxInfo

__all__ = ["Sandbox", "SandboxInfo"]
