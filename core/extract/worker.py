"""Extraction in a separate, long-lived process, so a hostile file cannot take Memex down.

A file that hangs the parser is cut off after ``timeout_s``; one that crashes it (or runs
into the memory cap) kills only the child. Either way the next file gets a fresh child.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from memex.core import errors
from memex.core.errors import ExtractionError, ExtractionTimeout, ExtractorCrashed
from memex.core.types import Extraction

DEFAULT_TARGET = "memex.core.extract:extract_file"
_TOO_LARGE = "too-large"
_JOIN_S = 5.0
_STARTUP_S = 30.0  # starting Python and importing the libraries is not the file's fault


class ExtractionWorker:
    """Runs ``extract_file`` (or ``target``, a "module:function" path) in a child process.

    Calls are serialised; the worker may be shared between threads.
    """

    def __init__(
        self,
        timeout_s: float = 60.0,
        memory_mb: int = 2048,
        target: str = DEFAULT_TARGET,
    ) -> None:
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.target = target
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> ExtractionWorker:
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

    def extract(self, path: Path, max_chars: int = 5_000_000) -> Extraction:
        with self._lock:
            request = (os.fspath(path), max_chars)
            conn = self._ensure_child()
            try:
                conn.send(request)
            except (BrokenPipeError, ConnectionError, EOFError, OSError):
                # The idle child died since the last file; this file deserves a fresh one.
                self._stop(kill=True)
                conn = self._ensure_child()
                conn.send(request)
            return self._await_reply(conn)

    def close(self) -> None:
        """Stop the child (if any). Safe to call more than once."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            self._stop(kill=False)

    # --- internals -------------------------------------------------------------------

    def _ensure_child(self) -> Connection:
        if self._proc is not None and self._conn is not None and self._proc.is_alive():
            return self._conn
        self._stop(kill=True)
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=_child_main,
            args=(child_conn, self.target, self.memory_mb, list(sys.path)),
            name="memex-extract",
            daemon=True,
        )
        proc.start()
        child_conn.close()  # only the child holds its end, so its death reads as EOF here
        self._proc, self._conn = proc, parent_conn
        try:
            ready = parent_conn.poll(max(_STARTUP_S, self.timeout_s))
            hello = parent_conn.recv() if ready else None
        except (EOFError, OSError):
            raise self._crashed() from None
        if hello != "ready":
            self._stop(kill=True)
            raise ExtractorCrashed("the extraction process did not start")
        return parent_conn

    def _await_reply(self, conn: Connection) -> Extraction:
        try:
            ready = conn.poll(self.timeout_s)
        except (OSError, EOFError):
            ready = True  # recv below reports the crash
        if not ready:
            self._stop(kill=True)
            raise ExtractionTimeout(
                f"extraction took longer than {self.timeout_s:g} s and was stopped"
            )
        try:
            reply = conn.recv()
        except (EOFError, OSError):
            raise self._crashed() from None
        if reply[0] == "ok":
            return reply[1]
        _, class_name, message, reason = reply
        if reason == _TOO_LARGE:
            self._stop(kill=True)  # after a MemoryError the child's heap is not trusted
        raise _rebuild_error(class_name, message, reason)

    def _crashed(self) -> ExtractorCrashed:
        proc = self._proc
        code = None
        if proc is not None:
            proc.join(_JOIN_S)
            code = proc.exitcode
        self._stop(kill=True)
        if code is not None and code < 0:
            detail = f"signal {-code}"
        elif code is not None:
            detail = f"exit code {code}"
        else:
            detail = "no exit status"
        return ExtractorCrashed(f"extraction process crashed ({detail})")

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


def _rebuild_error(class_name: str, message: str, reason: str) -> ExtractionError:
    cls = getattr(errors, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, ExtractionError)):
        cls = ExtractionError
    return cls(message, reason)


# --- child side ------------------------------------------------------------------------


def _resolve(target: str) -> Callable[..., Extraction]:
    module_name, _, attr = target.partition(":")
    func: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        func = getattr(func, part)
    return func


def _limit_memory(memory_mb: int) -> None:
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


def _warm_up() -> None:
    """Import the format modules now, so their import time is not charged to a file."""
    if "pymupdf" not in sys.modules:
        # PyMuPDF imports its optional layout / markdown add-ons (ONNX models) when they
        # are installed. Plain text extraction never uses them; they would cost seconds
        # and hundreds of MB of address space in every child.
        for optional in ("pymupdf.layout", "pymupdf4llm"):
            sys.modules.setdefault(optional, None)  # type: ignore[arg-type]
    for name in ("pdf", "office", "html", "text"):
        # A failure here is reported by the first file that needs the module.
        with contextlib.suppress(Exception):
            importlib.import_module(f"memex.core.extract.{name}")


def _child_main(conn: Connection, target: str, memory_mb: int, parent_path: list[str]) -> None:
    """Serve (path, max_chars) requests until told to stop (None) or the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    for entry in parent_path:
        if entry not in sys.path:
            sys.path.append(entry)
    _limit_memory(memory_mb)
    func: Callable[..., Extraction] | None = None
    load_error = ""
    try:
        func = _resolve(target)
    except Exception as exc:
        load_error = f"the extractor {target!r} could not be loaded: {exc}"
    _warm_up()
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
        path, max_chars = request
        if func is None:
            reply: tuple[Any, ...] = ("err", "ExtractionError", load_error, "failed")
        else:
            reply = _run_one(func, path, max_chars)
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("err", "ExtractionError", "the extracted text is too large", _TOO_LARGE))
        except (OSError, EOFError):
            return


def _run_one(func: Callable[..., Extraction], path: str, max_chars: int) -> tuple[Any, ...]:
    try:
        return ("ok", func(Path(path), max_chars))
    except ExtractionError as exc:
        return ("err", type(exc).__name__, str(exc), exc.reason)
    except MemoryError:
        return ("err", "ExtractionError", "the file needs too much memory to extract", _TOO_LARGE)
    except Exception as exc:
        detail = str(exc).strip() or type(exc).__name__
        return ("err", "CorruptFile", f"the file could not be read: {detail}", "corrupt")
