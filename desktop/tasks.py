"""Background operations: run a function off the GUI thread, get its result back on it.

Work goes to *lanes*, each a queue served by its own long-lived threads (a Library keeps one
SQLite connection per thread, so threads are never thrown away):

- ``write``  — one thread: indexing, refreshing, removing (one writer at a time);
- ``search`` — one thread: queries (a newer query drops older queued ones, see ``key``);
- ``rerank`` — one thread: cross-encoder re-ordering, so it never delays the next query;
- ``read``   — two threads: status, sources, page text, failures;
- ``render`` — one thread: page images (PyMuPDF is not thread-safe);
- ``watch``  — one thread: starting the folder watcher and changing its folders (it walks trees).

Results and errors come back through a queued Qt signal, so callbacks always run on the GUI
thread; a worker never touches a widget::

    tasks.run(lambda: library.status(), on_status, lane="read")
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from memex.core.errors import MemexError
from PySide6.QtCore import QObject, Qt, Signal, Slot

log = logging.getLogger(__name__)

LANES = {"write": 1, "search": 1, "rerank": 1, "read": 2, "render": 1, "watch": 1}
# Lanes whose work nobody at the screen waits for run below the GUI thread. The others answer
# the window (a query, a page) and hold the GIL while they do: at a lower priority, a busy CPU
# (documents being embedded) stretches those stretches and the GUI thread waits for the GIL.
BACKGROUND_LANES = frozenset({"write", "watch"})
DROPPED = object()  # the payload of a job superseded by a newer one with the same key


def describe_error(exc: BaseException) -> str:
    """A sentence for the person at the screen (never a traceback)."""
    if isinstance(exc, MemexError):
        return str(exc) or type(exc).__name__
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"{exc.strerror or exc}{where}"
    if isinstance(exc, MemoryError):
        return "Memex ran out of memory doing this."
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"Something went wrong: {type(exc).__name__}" + (f": {text}" if text else "")


WORKER_NICENESS = 8
# Threads that serve the GUI thread (Qt's X11/D-Bus readers, GLib's loops) keep their priority.
_GUI_HELPER_THREADS = ("Q", "gmain", "gdbus", "dconf")


def lower_priority() -> None:
    """Make the calling (worker) thread yield the CPU to the GUI thread when both want it.
    Linux nice values are per thread; threads and processes it starts (ONNX's pool, the
    extraction process) inherit it. Elsewhere this does nothing."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), WORKER_NICENESS))


def deprioritize_other_threads() -> None:
    """Lower every other thread of this process that already exists (e.g. an ONNX thread pool
    created before the window) below the calling GUI thread (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    me = threading.get_native_id()
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/task"):
            tid = int(name)
            try:
                with open(f"/proc/self/task/{tid}/comm", encoding="utf-8") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if tid != me and not comm.startswith(_GUI_HELPER_THREADS):
                with contextlib.suppress(OSError):
                    os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), WORKER_NICENESS))


@dataclass
class _Job:
    id: int
    fn: Callable[[], Any]
    key: str | None = None
    cancelled: bool = field(default=False)


@dataclass
class _Done:
    job_id: int
    ok: bool
    payload: Any


class _Lane:
    """Threads taking jobs from one queue, in order."""

    def __init__(self, name: str, threads: int, finish: Callable[[int, bool, Any], None],
                 background: bool = False) -> None:
        self.name = name
        self.background = background
        self._finish = finish
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._queued: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._running = 0
        self._threads = [threading.Thread(target=self._loop, name=f"memex-{name}-{i}", daemon=True)
                         for i in range(threads)]
        for t in self._threads:
            t.start()

    def submit(self, job: _Job) -> None:
        with self._lock:
            if job.key is not None:
                older = self._queued.get(job.key)
                if older is not None:
                    older.cancelled = True  # superseded before it started
                self._queued[job.key] = job
        self._queue.put(job)

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._running > 0 or bool(self._queued) or not self._queue.empty()

    def stop(self, timeout: float) -> bool:
        """Ask the threads to end and wait up to ``timeout`` for each; True when all ended."""
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout)
        return not any(t.is_alive() for t in self._threads)

    def _loop(self) -> None:
        if self.background:
            lower_priority()
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                if job.key is not None and self._queued.get(job.key) is job:
                    del self._queued[job.key]
                if job.cancelled:
                    self._finish(job.id, False, DROPPED)
                    continue
                self._running += 1
            try:
                result = job.fn()
            except BaseException as exc:  # noqa: BLE001 - every error goes back to the GUI
                if not isinstance(exc, MemexError):
                    log.error("background task failed:\n%s", traceback.format_exc())
                self._finish(job.id, False, exc)
            else:
                self._finish(job.id, True, result)
            finally:
                with self._lock:
                    self._running -= 1


class TaskManager(QObject):
    """Owns the lanes; delivers results to callbacks on the GUI thread."""

    failed = Signal(str)  # a readable message for tasks without their own failure callback
    _finished = Signal(object)  # a _Done (never a bare None: PySide mis-counts None in queued signals)

    def __init__(self, parent: QObject | None = None, lanes: dict[str, int] | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable[[Any], None] | None,
                                         Callable[[BaseException], None] | None, str]] = {}
        self._closed = False
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        deprioritize_other_threads()
        self._lanes = {name: _Lane(name, n, self._emit_finished, background=name in BACKGROUND_LANES)
                       for name, n in (lanes or LANES).items()}

    def run(self, fn: Callable[[], Any], success: Callable[[Any], None] | None = None, *,
            failure: Callable[[BaseException], None] | None = None, lane: str = "read",
            key: str | None = None) -> int:
        """Run ``fn()`` on ``lane``; then ``success(result)`` or ``failure(error)`` on the GUI
        thread (without ``failure``, :attr:`failed` is emitted with a readable message). With
        ``key``, a job still queued under the same key is dropped: only the newest runs."""
        if self._closed:
            return 0
        job = _Job(next(self._ids), fn, key)
        self._callbacks[job.id] = (success, failure, lane)
        self._lanes[lane].submit(job)
        return job.id

    def busy(self, lane: str | None = None) -> bool:
        """Whether jobs (on ``lane``, or any) are queued, running, or waiting to deliver."""
        lanes = [self._lanes[lane]] if lane else list(self._lanes.values())
        waiting = any(lane is None or c[2] == lane for c in self._callbacks.values())
        return waiting or any(x.busy for x in lanes)

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Stop taking work and wait (up to ``timeout`` per lane) for running jobs; callbacks of
        jobs finishing later are dropped. True when every worker thread has ended."""
        self._closed = True
        self._callbacks.clear()
        return all([lane.stop(timeout) for lane in self._lanes.values()])

    # -- worker side: only emit -----------------------------------------------------------
    def _emit_finished(self, job_id: int, ok: bool, payload: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the QObject is gone (application shutting down)
            self._finished.emit(_Done(job_id, ok, payload))

    # -- GUI side -------------------------------------------------------------------------
    @Slot(object)
    def _deliver(self, done: _Done) -> None:
        job_id, ok, payload = done.job_id, done.ok, done.payload
        callbacks = self._callbacks.pop(job_id, None)
        if callbacks is None or self._closed or payload is DROPPED:
            return
        success, failure, _lane = callbacks
        try:
            if ok:
                if success is not None:
                    success(payload)
            elif failure is not None:
                failure(payload)
            else:
                self.failed.emit(describe_error(payload))
        except Exception as exc:  # a bug in a callback must not take the window down
            log.error("callback failed:\n%s", traceback.format_exc())
            self.failed.emit(describe_error(exc))
