"""The resident service: answers :class:`Operations` over a Unix domain socket that only the
user can open (folder 0700, socket 0600, and the peer's uid checked on every connection).

One server per library: a lock file beside the socket is held while it runs, so a second one
is refused in one line and a socket file left by a server that died is known to be stale and
replaced. A file at the socket's place that is not a socket, or not the user's, is never
removed. Each connection gets a thread (up to :data:`MAX_CONNECTIONS`); each request runs on a
small pool with a time limit; frames over the size cap are refused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import struct
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

from .operations import WRITE_OPERATIONS, Operations
from .place import ServiceUnavailable, socket_path, supported
from .protocol import MAX_FRAME, MAX_REPLY, FrameError, RequestError, encode, receive, send

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 32
REQUEST_TIMEOUT_S = 30.0  # a read operation; writes (an index run) take as long as they need
IDLE_TIMEOUT_S = 120.0  # a connection that sends nothing for this long is closed
WORKERS = 4


class ServiceRunning(ServiceUnavailable):
    """Another process already serves this library."""


Handler = Callable[[Mapping[str, object]], dict[str, object]]


class ServiceServer:
    """``start()`` binds and serves from background threads; ``close()`` stops, removes the
    socket it made and releases the lock. Also a context manager. ``local_operations``: read
    operations this socket answers besides ``operations`` (the quick CLI client's ``cli``)."""

    def __init__(self, operations: Operations, library: Path, *, path: Path | None = None,
                 request_timeout: float = REQUEST_TIMEOUT_S, idle_timeout: float = IDLE_TIMEOUT_S,
                 local_operations: Mapping[str, Handler] | None = None) -> None:
        if not supported():
            raise ServiceUnavailable("The resident service needs Unix domain sockets, which this "
                                     "system lacks (Windows): the CLI opens the library itself.")
        self.operations = operations
        self.local_operations = dict(local_operations or {})
        chosen = path or socket_path(library, create=True)
        if chosen is None:  # socket_path(create=True) makes the folder or raises
            raise ServiceUnavailable("The service folder could not be made.")
        self.path: Path = chosen
        self.request_timeout = request_timeout
        self.idle_timeout = idle_timeout
        self._listener: socket.socket | None = None
        self._lock_fd: int | None = None
        self._inode: tuple[int, int] | None = None
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="memex-service")
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()  # connections being served (closed by close())
        self._open_lock = threading.Lock()

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> ServiceServer:
        self._take_lock()
        try:
            self._clear_stale()
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(self.path))
            os.chmod(self.path, 0o600)  # the folder is 0700 already: nobody else got in between
            info = os.lstat(self.path)
            self._inode = (info.st_dev, info.st_ino)
            listener.listen(64)
            self._listener = listener
        except BaseException:
            self._release_lock()
            raise
        thread = threading.Thread(target=self._accept_loop, name="memex-service-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __enter__(self) -> ServiceServer:
        return self.start() if self._listener is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`close` (from another thread or a signal handler)."""
        return self._stopping.wait(timeout)

    def close(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
            self._remove_own_socket()
        with self._open_lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)  # a client waiting on us hears the end now
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._release_lock()

    # -- the socket file and the lock ------------------------------------------------------
    def _take_lock(self) -> None:
        import fcntl  # POSIX only: imported here so that Windows can import this module and say no

        lock_path = f"{self.path}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ServiceRunning("A Memex service already serves this library (the window or "
                                 "memex serve).") from None
        self._lock_fd = fd

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing drops the flock; the empty file stays for the next one

    def _clear_stale(self) -> None:
        """With the lock held nobody serves this library, so a socket of ours here is stale."""
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise ServiceUnavailable(f"{self.path} is not a socket; Memex leaves it alone and runs no "
                                     "service (move it away to start one).")
        if info.st_uid != os.getuid():
            raise ServiceUnavailable(f"{self.path} belongs to another user; Memex leaves it alone and "
                                     "runs no service.")
        log.info("memex service: replacing the stale socket %s", self.path)
        os.unlink(self.path)

    def _remove_own_socket(self) -> None:
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if (info.st_dev, info.st_ino) == self._inode:
            os.unlink(self.path)

    # -- connections -----------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            listener = self._listener
            if listener is None:
                return
            try:
                conn, _ = listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            if not self._slots.acquire(blocking=False):
                self._refuse(conn, RequestError("busy", "Too many connections to the Memex service; "
                                                        "try again."))
                continue
            worker = threading.Thread(target=self._serve_connection, args=(conn,), daemon=True,
                                      name="memex-service-connection")
            worker.start()

    def _refuse(self, conn: socket.socket, error: RequestError) -> None:
        try:
            conn.settimeout(1.0)
            send(conn, {"ok": False, "error": error.to_dict()}, MAX_REPLY)
        except OSError:
            pass
        finally:
            conn.close()

    def _serve_connection(self, conn: socket.socket) -> None:
        with self._open_lock:
            self._open.add(conn)
        try:
            if not peer_is_us(conn):
                self._refuse(conn, RequestError("refused", "This Memex service answers only its own user."))
                return
            conn.settimeout(self.idle_timeout)
            with conn:
                while not self._stopping.is_set():
                    if not self._answer_one(conn):
                        return
        except (OSError, FrameError):
            return  # the client went away or broke the framing: nothing to answer
        finally:
            with self._open_lock:
                self._open.discard(conn)
            self._slots.release()

    def _answer_one(self, conn: socket.socket) -> bool:
        """Read one request and answer it; False when the connection should end."""
        try:
            request = receive(conn, MAX_FRAME)
        except RequestError as exc:  # too large, not JSON: answer, then hang up (framing is lost)
            send(conn, {"ok": False, "error": exc.to_dict()}, MAX_REPLY)
            return False
        if request is None:
            return False
        try:
            frame = encode(self.answer(request), MAX_REPLY)
        except RequestError as exc:  # the answer is over the reply cap: say so instead
            frame = encode(_failure(exc), MAX_REPLY)
        except (TypeError, ValueError) as exc:  # not JSON: a bug, still answered in one line
            frame = encode(_failure(RequestError("internal", f"The answer could not be sent ({exc}).")), MAX_REPLY)
        conn.sendall(frame)
        return True

    def answer(self, request: dict[str, object]) -> dict[str, object]:
        """The reply frame for one request, within the time limit."""
        op, params = request.get("op"), request.get("params")
        if set(request) - {"op", "params"}:
            return _failure(RequestError("bad-request", "A request has only 'op' and 'params'."))
        if not isinstance(op, str):
            return _failure(RequestError("bad-request", "A request needs 'op', the operation's name."))
        if params is not None and not isinstance(params, dict):
            return _failure(RequestError("bad-request", f"{op[:40]}: params must be a JSON object."))
        try:
            local = self.local_operations.get(op)
            future: Future[dict[str, object]] = (
                self._pool.submit(local, params or {}) if local is not None
                else self._pool.submit(self.operations.call, op, params or {}))
        except RuntimeError:  # the pool is shut down: the service is stopping
            return _failure(RequestError("stopping", "The Memex service is stopping."))
        limit = None if op in WRITE_OPERATIONS else self.request_timeout
        try:
            return {"ok": True, "result": future.result(timeout=limit)}
        except FutureTimeout:
            return _failure(RequestError("timeout", f"{op} took longer than {limit:g} s and was abandoned."))
        except RequestError as exc:
            return _failure(exc)
        except Exception as exc:  # noqa: BLE001 - cancelled at shutdown, or a bug: still one line
            return _failure(RequestError("internal", f"{op} failed: {type(exc).__name__}"))


def _failure(error: RequestError) -> dict[str, object]:
    return {"ok": False, "error": error.to_dict()}


def peer_is_us(conn: socket.socket) -> bool:
    """Whether the process at the other end runs as this user (SO_PEERCRED on Linux). Where the
    system cannot say, the socket's 0600 mode and its 0700 folder are the guard."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return True
    creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())
