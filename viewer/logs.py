"""The app's log file: rotating, private (0600), and scrubbed of secrets before anything is written.

Logs end up in bug reports, so every record goes through ``scrub`` — tokens, passwords and auth codes
must never reach the file, whichever library logged them (httpx, msal, the sandbox, our own code).
"""

from __future__ import annotations

import contextlib
import io
import logging
import logging.handlers
import os
import re
import traceback
from pathlib import Path

LOG_FILE_NAME = "bc-payment-viewer.log"
MAX_BYTES = 1_000_000
BACKUP_COUNT = 5
LEVELS = ("debug", "info", "warning", "error")
MASK = "***"
_HANDLER_NAME = "bc-payment-viewer"

# "client_info" is not secret (user and tenant ids) but is a base64 JSON blob that reads like a token in a log.
_SECRET_KEYS = (
    r"client_secret|client_assertion|assertion|password|passwd|refresh_token|access_token|id_token|api_key"
    r"|code_verifier|code|client_info|cookie|set-cookie"
)

# Order matters: the JWT pattern runs first so a token is masked whole, whatever surrounds it.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM blocks (private keys, certificates), raw or inside a repr with its line breaks escaped ("\\n"): whole
    # blocks first, then a block cut off before its END line (a truncated repr) up to where its base64 stops.
    (re.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----.*?-----END [A-Z0-9 ]{1,40}-----", re.DOTALL), rf"[PEM \1 {MASK}]"),
    (re.compile(r"-----BEGIN ([A-Z0-9 ]{1,40})-----(?:[A-Za-z0-9+/=\s:,-]|\\[nr])*"), rf"[PEM \1 {MASK}]"),
    # JWTs (access/id tokens, client assertions): three base64url segments, the first a JSON header.
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), MASK),
    # Authorization and cookie header values, however they are printed ("Bearer x", "authorization: Basic x").
    (re.compile(r"(?i)\b(Bearer|Basic|Negotiate|NTLM)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {MASK}"),
    (re.compile(r"""(?i)(["']?(?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:[A-Za-z]+[ \t]+)?[^\s"',;}]+"""),
     rf"\1{MASK}"),
    (re.compile(r"""(?i)(["']?(?:set-)?cookie["']?\s*[:=]\s*["']?)[^"'\r\n]+"""), rf"\1{MASK}"),
    # httpcore's header tuples: (b'authorization', b'Bearer …').
    (re.compile(r"""(?i)(b?["'](?:proxy-)?(?:authorization|cookie|set-cookie)["']\s*,\s*b?(["']))(?:(?!\2).)*"""),
     rf"\1{MASK}"),
    # JSON / dict values: "refresh_token": "…", 'password': '…'.
    (re.compile(rf"""(?i)(["'](?:{_SECRET_KEYS})["']\s*:\s*)(["'])(?:(?!\2).)*\2"""), rf"\1\2{MASK}\2"),
    # Form bodies and query strings: client_secret=…&code=… (not status_code=200: no word char before).
    (re.compile(rf"(?i)(?<![\w-])({_SECRET_KEYS})=[^&\s'\"<>]+"), rf"\1={MASK}"),
)


def scrub(text: str) -> str:
    """``text`` with tokens, passwords, client secrets and auth codes replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class ScrubFilter(logging.Filter):
    """Rewrites each record's message, arguments and traceback text through ``scrub``.

    On the handler, not the logger: handler filters also see records propagated from other loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file created 0600 from the start (no window in which another user could read it)."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with contextlib.suppress(OSError):
            os.chmod(self.baseFilename, 0o600)  # an older file may have been created with a looser mode
        return open(fd, "a", encoding=self.encoding, errors=self.errors)  # the handler owns and closes it


def setup_logging(level: str, directory: Path) -> Path:
    """Log ``level`` and above to ``directory/bc-payment-viewer.log``; returns the file's path.

    Calling it again replaces the handlers of the previous call (tests, or a changed level).
    """
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}: {level!r}")
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        directory.chmod(0o700)
    path = directory / LOG_FILE_NAME
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()

    scrubber = ScrubFilter()
    file_handler = PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    # Problems also go to the terminal, for people who started the app from one.
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for handler in (file_handler, console):
        handler.addFilter(scrubber)
        handler.set_name(_HANDLER_NAME)  # marks ours, for the next call
        root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    return path
