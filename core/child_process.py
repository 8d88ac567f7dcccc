"""Work on untrusted files in a separate, long-lived process, so a hostile file cannot take Memex
down (text extraction, page previews).

Each request has a deadline; the child runs under an address-space cap; a child that hangs,
crashes or runs out of memory is killed and the next request gets a fresh one. The child calls
``target`` ("module:function") with the request's arguments and sends back its result, or the
error as (class name, message, reason), rebuilt here as the same ``ExtractionError`` class.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from types import ModuleType
from typing import Any, cast

from . import errors
from .errors import ExtractionError, ExtractionTimeout, ExtractorCrashed

TOO_LARGE = "too-large"
_JOIN_S = 5.0
_STARTUP_S = 30.0  # starting Python and importing the libraries is not the file's fault
# PyMuPDF imports its optional layout / markdown add-ons (ONNX models) when they are installed:
# seconds and hundreds of MB of address space that reading text or drawing a page never uses.
PYMUPDF_ADDONS = ("pymupdf.layout", "pymupdf4llm")


@dataclass(frozen=True)
class ChildSpec:
    """What the child runs and how its failures are worded, in the child and here (sent to the
    child: picklable)."""

    target: str  # "module:function", called with a request's arguments
    process_name: str
    load_failed: str  # "the extractor": what could not be loaded
    out_of_memory: str  # the target ran into the memory cap
    reply_too_large: str  # its result could not be sent back
    unreadable: str  # prefix of the message for any other exception
    timed_out: str  # {name} (the file), {timeout} (seconds): past the deadline, the child was killed
    crashed: str  # {name}, {detail} (signal or exit code): the child died on a request
    not_started: str  # the child never said it was ready
    closed: str  # the worker was closed before the request was done
    warm_up: str | None = None  # "module:function" run once at start (imports), failures ignored
    skip_modules: tuple[str, ...] = ()  # optional modules never to import (made None in sys.modules)


class IsolatedWorker:
    """The parent side: one child at a time, started on first use. Calls are serialised; the
    worker may be shared between threads. A subclass states its ``SPEC`` and defaults;
    ``target`` replaces the spec's (tests, benchmarks).

    ``close_wait_s`` None: ``close`` waits for a request in progress, and a later request starts
    a new child. A number: ``close`` kills the child after that long, and every later request is
    refused (no child outlives its owner)."""

    SPEC: ChildSpec
    default_timeout_s: float = 60.0
    default_memory_mb: int = 2048
    close_wait_s: float | None = None

    def __init__(self, timeout_s: float | None = None, memory_mb: int | None = None,
                 target: str | None = None) -> None:
        self.spec = replace(self.SPEC, target=target) if target else self.SPEC
        self.timeout_s = self.default_timeout_s if timeout_s is None else timeout_s
        self.memory_mb = self.default_memory_mb if memory_mb is None else memory_mb
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def target(self) -> str:
        return self.spec.target

    def __enter__(self) -> IsolatedWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: best effort only
            self.close()

    @property
    def pid(self) -> int | None:
        """The child's process id, or None when no child is running."""
        proc = self._proc
        return proc.pid if proc is not None and proc.is_alive() else None

    def start(self) -> None:
        """Start the child now (it takes a moment), so the first request is quick."""
        with self._lock:
            self._check_open()
            self._ensure_child()

    def rest(self) -> None:
        """End the child (waiting for a request in progress) until the next request starts a
        fresh one: its memory goes back to the system while the owner has other work."""
        with self._lock:
            self._stop(kill=False)

    def close(self) -> None:
        """Stop the child (if any). Safe to call more than once."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        if self.close_wait_s is None:
            with lock:
                self._stop(kill=False)
            return
        self._closed = True  # first: a request in progress reports "closed", not a crash
        if not lock.acquire(timeout=self.close_wait_s):
            proc = self._proc
            if proc is not None:
                with contextlib.suppress(Exception):
                    proc.kill()
            lock.acquire()
        try:
            self._stop(kill=False)
        finally:
            lock.release()

    # --- failures, worded by the spec --------------------------------------------------

    def _timeout_error(self, name: str) -> ExtractionError:
        return ExtractionTimeout(self.spec.timed_out.format(name=name, timeout=self.timeout_s))

    def _crash_error(self, name: str, detail: str) -> ExtractionError:
        return ExtractorCrashed(self.spec.crashed.format(name=name, detail=detail))

    def _start_error(self) -> ExtractionError:
        return ExtractorCrashed(self.spec.not_started)

    def _closed_error(self) -> ExtractionError:
        return ExtractionError(self.spec.closed, reason="closed")

    # --- internals -----------------------------------------------------------------------

    def _request(self, request: tuple[Any, ...], name: str) -> Any:
        with self._lock:
            self._check_open()
            conn = self._ensure_child()
            try:
                conn.send(request)
            except (BrokenPipeError, ConnectionError, EOFError, OSError):
                self._stop(kill=True)  # the idle child died since the last request: start afresh
                conn = self._ensure_child()
                conn.send(request)
            return self._await_reply(conn, name)

    def _check_open(self) -> None:
        if self._closed:
            raise self._closed_error()

    def _ensure_child(self) -> Connection:
        if self._proc is not None and self._conn is not None and self._proc.is_alive():
            return self._conn
        self._stop(kill=True)
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_child_main, args=(child_conn, self.spec, self.memory_mb, list(sys.path)),
                                 name=self.spec.process_name, daemon=True)
        proc.start()
        child_conn.close()  # only the child holds its end, so its death reads as EOF here
        self._proc, self._conn = proc, parent_conn
        try:
            hello = parent_conn.recv() if parent_conn.poll(max(_STARTUP_S, self.timeout_s)) else None
        except (EOFError, OSError):
            hello = None
        if hello != "ready":
            self._stop(kill=True)
            if self._closed:  # close() killed it while it was starting
                raise self._closed_error()
            raise self._start_error()
        return parent_conn

    def _await_reply(self, conn: Connection, name: str) -> Any:
        try:
            ready = conn.poll(self.timeout_s)
        except (OSError, EOFError):
            ready = True  # recv below reports the crash
        if not ready:
            self._stop(kill=True)
            raise self._timeout_error(name)
        try:
            reply = conn.recv()
        except (EOFError, OSError):
            raise self._crashed(name) from None
        if reply[0] == "ok":
            return reply[1]
        _, class_name, message, reason = reply
        if reason == TOO_LARGE:
            self._stop(kill=True)  # after a MemoryError the child's heap is not trusted
        raise rebuild_error(class_name, message, reason)

    def _crashed(self, name: str) -> ExtractionError:
        proc, closing = self._proc, self._closed
        code = None
        if proc is not None:
            proc.join(_JOIN_S)
            code = proc.exitcode
        self._stop(kill=True)
        if closing:
            return self._closed_error()
        detail = f"signal {-code}" if code is not None and code < 0 else (
            f"exit code {code}" if code is not None else "no exit status")
        return self._crash_error(name, detail)

    def _stop(self, kill: bool) -> None:
        """End the child and reap it; ``kill`` skips the polite shutdown request."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            if not kill:
                with contextlib.suppress(OSError, ValueError, EOFError):
                    conn.send(None)
            conn.close()
        if proc is None:
            return
        if not kill:
            proc.join(_JOIN_S)
        if proc.is_alive():
            proc.kill()
        proc.join(_JOIN_S)
        if proc.exitcode is not None:
            proc.close()


def rebuild_error(class_name: str, message: str, reason: str) -> ExtractionError:
    """The child's error as the same ``ExtractionError`` class (the base class if unknown)."""
    cls = getattr(errors, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, ExtractionError)):
        cls = ExtractionError
    return cls(message, reason)


# --- child side ----------------------------------------------------------------------------


def resolve(target: str) -> Callable[..., Any]:
    """The function a "module:function" path names."""
    module_name, _, attr = target.partition(":")
    func: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        func = getattr(func, part)
    return func


def limit_memory(memory_mb: int) -> None:
    """Cap this process's address space (Linux); beyond it allocations fail with MemoryError."""
    if memory_mb <= 0 or not sys.platform.startswith("linux"):
        return
    try:
        import resource
    except ImportError:
        return
    limit = memory_mb * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _child_main(conn: Connection, spec: ChildSpec, memory_mb: int, parent_path: list[str]) -> None:
    """Serve requests until told to stop (None) or the parent goes away (EOF)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    for entry in parent_path:
        if entry not in sys.path:
            sys.path.append(entry)
    limit_memory(memory_mb)
    for optional in spec.skip_modules:
        # None in sys.modules makes ``import optional`` fail at once (Python's documented block).
        blocked = cast("dict[str, ModuleType | None]", sys.modules)
        blocked.setdefault(optional, None)
    func: Callable[..., Any] | None = None
    load_error = ""
    try:
        func = resolve(spec.target)
    except Exception as exc:
        load_error = f"{spec.load_failed} {spec.target!r} could not be loaded: {exc}"
    if spec.warm_up:  # imports now, so their time is not charged to the first file
        with contextlib.suppress(Exception):  # a failure is reported by the first request
            resolve(spec.warm_up)()
    try:
        conn.send("ready")
    except (OSError, EOFError):
        return
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        reply = ("err", "ExtractionError", load_error, "failed") if func is None else _run_one(func, request, spec)
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("err", "ExtractionError", spec.reply_too_large, TOO_LARGE))
        except (OSError, EOFError):
            return


def _run_one(func: Callable[..., Any], request: tuple[Any, ...], spec: ChildSpec) -> tuple[Any, ...]:
    try:
        return ("ok", func(*request))
    except ExtractionError as exc:
        return ("err", type(exc).__name__, str(exc), exc.reason)
    except MemoryError:
        return ("err", "ExtractionError", spec.out_of_memory, TOO_LARGE)
    except Exception as exc:
        detail = str(exc).strip() or type(exc).__name__
        return ("err", "CorruptFile", f"{spec.unreadable}: {detail}", "corrupt")
