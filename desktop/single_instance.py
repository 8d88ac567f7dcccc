"""One window per user: the first launch listens on a local socket; a later launch sends its
paths there (one JSON line), waits for "ok" and exits."""

from __future__ import annotations

import getpass
import hashlib
import json
import logging

from memex.core.config import config_dir
from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)
CONNECT_MS = 600
REPLY_MS = 3000
MAX_MESSAGE = 1 << 20


def server_name() -> str:
    """Per user (and per ``$MEMEX_HOME``, so separate homes — tests, portable installs — do not
    meet)."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name (some containers)
        user = "user"
    digest = hashlib.sha256(f"{user}\0{config_dir()}".encode()).hexdigest()[:16]
    return f"memex-{digest}"


def send_to_running(paths: list[str], name: str | None = None, *, activate: bool = True) -> bool:
    """Hand ``paths`` to a running instance; True when one took them (blocking, short)."""
    socket = QLocalSocket()
    socket.connectToServer(name or server_name())
    if not socket.waitForConnected(CONNECT_MS):
        return False
    message = json.dumps({"paths": list(paths), "activate": activate}).encode() + b"\n"
    socket.write(message)
    if not socket.waitForBytesWritten(REPLY_MS):
        return False
    reply = b""
    while b"\n" not in reply and socket.waitForReadyRead(REPLY_MS):
        reply += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    return reply.strip() == b"ok"


class InstanceServer(QObject):
    """Listens for later launches; emits their paths on the GUI thread."""

    paths_received = Signal(list)
    activate_requested = Signal()

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._on_connection)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        if self.server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)  # a stale socket left by a crash
        ok = self.server.listen(self.name)
        if not ok:
            log.warning("single-instance server not available: %s", self.server.errorString())
        return ok

    def close(self) -> None:
        self.server.close()

    def _on_connection(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._drop(s))
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        data = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if len(data) > MAX_MESSAGE:
            socket.abort()
            return
        self._buffers[socket] = data
        if b"\n" not in data:
            return
        line = data.split(b"\n", 1)[0]
        try:
            message = json.loads(line.decode("utf-8"))
            paths = [str(p) for p in message.get("paths", [])]
            activate = bool(message.get("activate", True))
        except (ValueError, AttributeError, UnicodeDecodeError):
            socket.write(b"bad\n")
            socket.flush()
            return
        socket.write(b"ok\n")
        socket.flush()
        if activate:
            self.activate_requested.emit()
        if paths:
            self.paths_received.emit(paths)

    def _drop(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()
