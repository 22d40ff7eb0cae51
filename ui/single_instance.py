"""One window per user and data directory: a second launch hands its URL to the running app and exits.

A local socket (a Unix socket in the temp dir, a named pipe on Windows) named after the user and a hash of
the data directory, so two users — or two test runs with different ``BCPV_DATA_DIR`` — never meet.
The protocol is one JSON line each way: ``{"cmd": "open", "text": …}`` or ``{"cmd": "raise"}``, answered
by ``{"ok": true}``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QLockFile, QObject

# QtNetwork (~6 ms) is imported when a socket is really needed: the first launch takes the lock and shows its window
# before it listens (``claim(listen=False)``); only a second launch connects before its first paint.
if TYPE_CHECKING:
    from PySide6.QtNetwork import QLocalServer, QLocalSocket

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_MS = 500
REPLY_TIMEOUT_MS = 3000
MAX_MESSAGE = 64 * 1024  # a URL or a few GUIDs; anything bigger is not ours

Handler = Callable[[str | None], None]  # the forwarded text, or None for "just show yourself"


def server_name(data_dir: Path) -> str:
    # The uid on Unix; on Windows the user name (the pipe's ACL is what keeps other users out).
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    user = re.sub(r"[^A-Za-z0-9_.-]", "_", user)[:32]
    # Only tells data directories apart (not a security boundary: the socket is this user's alone), so a
    # checksum will do; hashlib would load OpenSSL before the first paint.
    digest = f"{zlib.crc32(str(data_dir.resolve()).encode()):08x}"
    return f"bc-payment-viewer-{user}-{digest}"


def forward(name: str, text: str | None) -> bool:
    """Hand ``text`` to a running instance; False when none answers (then this process becomes it)."""
    from PySide6.QtNetwork import QLocalSocket

    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return False
    import json  # only once another instance answers: the first one must not pay for it before its first paint
    message = {"cmd": "open", "text": text} if text else {"cmd": "raise"}
    socket.write(json.dumps(message).encode() + b"\n")
    socket.waitForBytesWritten(REPLY_TIMEOUT_MS)
    reply = b""
    while b"\n" not in reply and socket.waitForReadyRead(REPLY_TIMEOUT_MS):
        reply += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    try:
        return bool(json.loads(reply.decode()).get("ok"))
    except (ValueError, AttributeError):
        logger.warning("the running instance did not confirm the hand-over")
        return False


class InstanceServer(QObject):
    """Listens for later launches (from ``listen()`` on). Messages that arrive before ``set_handler`` are kept until
    then."""

    def __init__(self, name: str, parent: QObject | None = None, *, lock: QLockFile | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._lock = lock  # held while listening (see ``claim``)
        self._server: QLocalServer | None = None
        self._handler: Handler | None = None
        self._pending: list[str | None] = []
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        from PySide6.QtNetwork import QLocalServer

        if self._server is None:
            self._server = QLocalServer(self)
            # Only this user may connect (the Unix socket is made 0700; on Windows the pipe's ACL).
            self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
            self._server.newConnection.connect(self._accept)
        if self._server.listen(self.name):
            return True
        # Nobody answered a connect (and we hold the lock), so a socket file left here is from an instance that
        # crashed.
        QLocalServer.removeServer(self.name)
        if self._server.listen(self.name):
            return True
        # Logging is not set up yet (it comes after the first paint): tell the terminal.
        print(f"single-instance server not started: {self._server.errorString()}", file=sys.stderr)
        return False

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.isListening()

    def set_handler(self, handler: Handler) -> None:
        self._handler = handler
        pending, self._pending = self._pending, []
        for text in pending:
            handler(text)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None

    def _accept(self) -> None:
        assert self._server is not None  # (it is what called)
        while (socket := self._server.nextPendingConnection()) is not None:
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._drop(s))

    def _drop(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()

    def _read(self, socket: QLocalSocket) -> None:
        data = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if b"\n" not in data:
            if len(data) > MAX_MESSAGE:
                socket.abort()
                self._drop(socket)
            else:
                self._buffers[socket] = data
            return
        line = data.split(b"\n", 1)[0]
        import json

        try:
            message = json.loads(line.decode())
            text = message.get("text") if message.get("cmd") == "open" else None
            if text is not None and not isinstance(text, str):
                raise ValueError("text is not a string")
        except (ValueError, AttributeError, UnicodeDecodeError):
            logger.warning("ignored a malformed single-instance message")
            socket.write(b'{"ok": false}\n')
        else:
            socket.write(b'{"ok": true}\n')
            self._deliver(text)
        socket.flush()
        socket.disconnectFromServer()

    def _deliver(self, text: str | None) -> None:
        if self._handler is None:
            self._pending.append(text)
        else:
            self._handler(text)


LOCK_FILE = "instance.lock"
CLAIM_WAIT_S = 5.0  # how long a launch waits for another one that holds the lock but does not listen yet


def claim(data_dir: Path, text: str | None, *, wait: float = CLAIM_WAIT_S,
          listen: bool = True) -> InstanceServer | None:
    """Forward ``text`` to the running instance and return None, or become that instance and return its server.

    The instance is whoever holds ``instance.lock`` (a ``QLockFile``) in the local data folder; only it listens.
    Without the lock two quick launches could both listen — on Windows two servers share one pipe name, and on
    Unix the second would delete the first one's socket. So the lock is tried first: a launch that takes it at once
    has nobody to hand over to and becomes the instance without touching a socket — with ``listen=False`` it starts
    listening only when the caller says (ui/app.py: after the first paint; a launch meanwhile keeps trying, below).
    A launch that finds the lock taken hands over to its holder, or, when nobody answers yet (the holder is still
    starting), keeps trying until ``wait`` seconds have passed. A lock left by a process that no longer runs is
    taken over (QLockFile checks the process id). If nothing works (an odd temp dir, a holder that never answers),
    the app still runs, just without forwarding.
    """
    from PySide6.QtCore import QDeadlineTimer, QThread

    name = server_name(data_dir)
    qlock = QLockFile(str(data_dir / LOCK_FILE))
    qlock.setStaleLockTime(0)  # stale only when its process is gone: a long-running instance is not stale
    lock: QLockFile | None = qlock
    if not qlock.tryLock(0):
        deadline = QDeadlineTimer(int(wait * 1000))
        while True:
            if forward(name, text):
                return None
            if qlock.error() != QLockFile.LockError.LockFailedError:  # cannot write the folder: run on our own
                print(f"single-instance lock not taken: {qlock.error().name}", file=sys.stderr)
                lock = None
                break
            if deadline.hasExpired():
                print("another launch holds the single-instance lock but does not answer; opening a window anyway",
                      file=sys.stderr)
                lock = None
                break
            QThread.msleep(100)
            if qlock.tryLock(0):
                break
    server = InstanceServer(name, lock=lock)
    if listen:
        server.listen()
    return server
