"""Page previews drawn in a separate, long-lived process, so a hostile file cannot take Memex down.

Like extraction (:mod:`memex.core.extract.worker`), whose process helpers it shares: each
request has a deadline, the child runs under an address-space cap, and a child that hangs,
crashes or runs out of memory is replaced by a fresh one for the next request. Pages come back
as PNG bytes plus the highlighted boxes (:class:`~memex.core.preview.RenderedPage`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .errors import ExtractionError, ExtractionTimeout, ExtractorCrashed
from .extract.worker import _limit_memory, _rebuild_error, _resolve
from .preview import RenderedPage

DEFAULT_TARGET = "memex.core.preview_render:handle"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MEMORY_MB = 1024  # a 4000 px page is ~70 MB of pixels; PyMuPDF itself needs ~100 MB
_TOO_LARGE = "too-large"
_JOIN_S = 5.0
_STARTUP_S = 30.0  # starting Python and importing PyMuPDF is not the file's fault
_CLOSE_WAIT_S = 0.2  # how long close() waits for a page in progress before killing the child


class PreviewWorker:
    """Draws pages in a child process started on first use. Calls are serialised; the worker
    may be shared between threads. ``target`` ("module:function") replaces the renderer."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, memory_mb: int = DEFAULT_MEMORY_MB,
                 target: str = DEFAULT_TARGET) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.target = target
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> PreviewWorker:
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

    def render(self, path: str | os.PathLike[str], page_number: int, terms: Sequence[str], width_px: int,
               crop_margins: bool = False) -> RenderedPage:
        """Page ``page_number`` (1-based) of ``path`` as PNG, ``width_px`` wide (less for a page
        too tall to draw that wide), every word matching ``terms`` (folded query words, see
        ``query_terms``) highlighted. ``crop_margins`` leaves out the empty side margins.

        Raises :class:`UnsupportedFile`, :class:`EncryptedFile`, :class:`CorruptFile`,
        :class:`ExtractionTimeout`, :class:`ExtractorCrashed` or :class:`ExtractionError`
        (page out of range, file gone), each with a readable message."""
        args = (os.fspath(path), int(page_number), list(terms), int(width_px), bool(crop_margins))
        return self._call("render", args, Path(path).name)

    def page_count(self, path: str | os.PathLike[str]) -> int:
        """How many pages ``path`` has (errors as for :meth:`render`)."""
        return self._call("count", (os.fspath(path),), Path(path).name)

    def start(self) -> None:
        """Start the child now (it takes a moment), so the first page is quick."""
        with self._lock:
            self._check_open()
            self._ensure_child()

    def close(self) -> None:
        """Stop the child (if any), killing it when a page is still being drawn. Safe to call
        more than once; afterwards every request is refused, so no child outlives the owner."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        self._closed = True  # first: a request in progress reports "closed", not a crash
        if not lock.acquire(timeout=_CLOSE_WAIT_S):
            proc = self._proc
            if proc is not None:
                with contextlib.suppress(Exception):
                    proc.kill()
            lock.acquire()
        try:
            self._stop(kill=False)
        finally:
            lock.release()

    # --- internals -------------------------------------------------------------------

    def _call(self, op: str, args: tuple[Any, ...], name: str) -> Any:
        with self._lock:
            self._check_open()
            request = (op, args)
            conn = self._ensure_child()
            try:
                conn.send(request)
            except (BrokenPipeError, ConnectionError, EOFError, OSError):
                self._stop(kill=True)  # the idle child died since the last page: start afresh
                conn = self._ensure_child()
                conn.send(request)
            return self._await_reply(conn, name)

    def _check_open(self) -> None:
        if self._closed:
            raise _closed_error()

    def _ensure_child(self) -> Connection:
        if self._proc is not None and self._conn is not None and self._proc.is_alive():
            return self._conn
        self._stop(kill=True)
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_child_main, args=(child_conn, self.target, self.memory_mb, list(sys.path)),
                                 name="memex-preview", daemon=True)
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
                raise _closed_error()
            raise ExtractorCrashed("The page preview process did not start.")
        return parent_conn

    def _await_reply(self, conn: Connection, name: str) -> Any:
        try:
            ready = conn.poll(self.timeout_s)
        except (OSError, EOFError):
            ready = True  # recv below reports the crash
        if not ready:
            self._stop(kill=True)
            raise ExtractionTimeout(f"Drawing {name} took longer than {self.timeout_s:g} s and was stopped; "
                                    "the file may be damaged.")
        try:
            reply = conn.recv()
        except (EOFError, OSError):
            raise self._crashed(name) from None
        if reply[0] == "ok":
            return reply[1]
        _, class_name, message, reason = reply
        if reason == _TOO_LARGE:
            self._stop(kill=True)  # after a MemoryError the child's heap is not trusted
        raise _rebuild_error(class_name, message, reason)

    def _crashed(self, name: str) -> ExtractionError:
        proc, closing = self._proc, self._closed
        code = None
        if proc is not None:
            proc.join(_JOIN_S)
            code = proc.exitcode
        self._stop(kill=True)
        if closing:
            return _closed_error()
        detail = f"signal {-code}" if code is not None and code < 0 else (
            f"exit code {code}" if code is not None else "no exit status")
        return ExtractorCrashed(f"The page preview process crashed while drawing {name} ({detail}); "
                                "the file may be damaged.")

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


def _closed_error() -> ExtractionError:
    return ExtractionError("The page preview was closed before the page was drawn.", reason="closed")


# --- child side ------------------------------------------------------------------------


def _child_main(conn: Connection, target: str, memory_mb: int, parent_path: list[str]) -> None:
    """Serve (op, args) requests until told to stop (None) or the parent goes away (EOF)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    for entry in parent_path:
        if entry not in sys.path:
            sys.path.append(entry)
    _limit_memory(memory_mb)
    # PyMuPDF would import its optional layout / markdown add-ons (ONNX models): seconds and
    # hundreds of MB of address space that drawing a page never uses.
    for optional in ("pymupdf.layout", "pymupdf4llm"):
        sys.modules.setdefault(optional, None)  # type: ignore[arg-type]
    func: Callable[..., Any] | None = None
    load_error = ""
    try:
        func = _resolve(target)
        import pymupdf  # noqa: F401  (now, so its import time is not charged to a file)
    except Exception as exc:
        load_error = f"the page renderer {target!r} could not be loaded: {exc}"
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
        op, args = request
        reply = ("err", "ExtractionError", load_error, "failed") if func is None or load_error else \
            _run_one(func, op, args)
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("err", "ExtractionError", "The page image is too large to show.", _TOO_LARGE))
        except (OSError, EOFError):
            return


def _run_one(func: Callable[..., Any], op: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    try:
        return ("ok", func(op, args))
    except ExtractionError as exc:
        return ("err", type(exc).__name__, str(exc), exc.reason)
    except MemoryError:
        return ("err", "ExtractionError", "The page needs too much memory to draw.", _TOO_LARGE)
    except Exception as exc:
        detail = str(exc).strip() or type(exc).__name__
        return ("err", "CorruptFile", f"The page could not be drawn: {detail}", "corrupt")
