"""bc-payment-viewer: the Qt-free core (no widgets here)."""

import sys

__version__ = "0.1.0"

# httpx imports its command-line tool (click, rich, pygments) whenever they are installed, and uvicorn (the
# sandbox's server) installs click: ~60 ms of every start for a tool we never run. A ``None`` entry makes that
# one import fail at once, and httpx then goes without its CLI (httpx/__init__.py catches the ImportError).
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
