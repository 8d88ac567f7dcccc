"""The write queue: indexing runs, watcher refreshes and removals, one at a time.

All writes go through this object, which keeps its queue on the GUI thread and runs one job at
a time on the ``write`` lane (so ``Library.index``/``refresh`` never collide). Queued jobs are
coalesced: refreshes merge their paths, a full rescan makes queued refreshes unnecessary.
Progress callbacks arrive on the writer thread and are forwarded by a queued signal.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from memex.core.api import ProgressPacer
from memex.core.library import Library
from memex.core.types import IndexProgress, IndexReport
from PySide6.QtCore import QObject, Qt, Signal, Slot

from .tasks import TaskManager, describe_error

PROGRESS_EVERY_S = 0.05


@dataclass
class WriteJob:
    kind: str  # "index" | "refresh" | "retry" | "remove"
    paths: list[str] | None = None  # index: None means every source
    quiet: bool = False  # no message when nothing changed (the start-up check)

    @property
    def describe(self) -> str:
        if self.kind == "remove":
            return f"Removing {os.path.basename(self.paths[0]) if self.paths else ''}"
        if self.kind == "refresh":
            return "Updating changed files"
        if self.kind == "retry":
            return f"Reading {self.paths[0] if self.paths and len(self.paths) == 1 else 'failed files'} again"
        if self.paths is None:
            return "Checking your folders for changes"
        names = ", ".join(os.path.basename(p.rstrip(os.sep)) or p for p in self.paths[:3])
        more = f" and {len(self.paths) - 3} more" if len(self.paths) > 3 else ""
        return f"Indexing {names}{more}"


class IndexController(QObject):
    """Serialises writes to the library and reports on them."""

    started = Signal(object)  # WriteJob
    progress = Signal(object, object)  # WriteJob, IndexProgress
    finished = Signal(object, object)  # WriteJob, IndexReport (its .changes: what to ask again) | None (failed)
    failed = Signal(str)
    idle = Signal()
    paused_changed = Signal(bool)
    _progress_from_worker = Signal(object, object)

    def __init__(self, library: Library, tasks: TaskManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.tasks = tasks
        self._pending: list[WriteJob] = []
        self.current: WriteJob | None = None
        self._cancel = threading.Event()
        self._pause = threading.Event()
        self._closed = False
        self._progress_from_worker.connect(self._forward_progress, Qt.ConnectionType.QueuedConnection)

    # -- asking for work ------------------------------------------------------------------
    def index(self, paths: Iterable[str] | None = None, *, quiet: bool = False) -> None:
        """Add ``paths`` as sources and index them; ``None`` rescans every source."""
        if paths is None:
            if any(j.kind == "index" and j.paths is None for j in self._pending):
                return
            self._pending = [j for j in self._pending if j.kind != "refresh"]
            self._enqueue(WriteJob("index", None, quiet))
            return
        wanted = [os.path.abspath(os.path.expanduser(os.fspath(p))) for p in paths]
        if not wanted:
            return
        for job in self._pending:
            if job.kind == "index" and job.paths is not None:
                job.paths += [p for p in wanted if p not in job.paths]
                return
        self._enqueue(WriteJob("index", wanted))

    def refresh(self, paths: Iterable[str]) -> None:
        """Sync changed paths (the watcher's batches)."""
        wanted = [os.fspath(p) for p in paths]
        if not wanted or any(j.kind == "index" and j.paths is None for j in self._pending):
            return
        for job in self._pending:
            if job.kind == "refresh" and job.paths is not None:
                seen = set(job.paths)
                job.paths += [p for p in wanted if p not in seen]
                return
        self._enqueue(WriteJob("refresh", list(dict.fromkeys(wanted))))

    def retry(self, paths: Iterable[str]) -> None:
        """Read failed files again although they did not change. Runs after the current job."""
        wanted = list(dict.fromkeys(os.fspath(p) for p in paths))
        if wanted:
            self._enqueue(WriteJob("retry", wanted))

    def remove(self, path: str) -> None:
        """Forget a source; files on disk are untouched. Runs after the current job."""
        self._enqueue(WriteJob("remove", [path]))

    # -- controlling the running job ------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.current is not None or bool(self._pending)

    @property
    def adding(self) -> bool:
        """Whether a job running or queued may bring in documents the library does not have yet
        (the quiet start-up check of an indexed library does not count)."""
        return any(not j.quiet for j in ([self.current] if self.current else []) + self._pending)

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    def set_paused(self, paused: bool) -> None:
        if paused == self._pause.is_set():
            return
        if paused:
            self._pause.set()
        else:
            self._pause.clear()
        self.paused_changed.emit(paused)

    def cancel(self) -> None:
        """Stop the running job and drop queued indexing (watcher refreshes and removals stay)."""
        self._pending = [j for j in self._pending if j.kind != "index"]
        self._cancel.set()
        self.set_paused(False)

    def shutdown(self) -> None:
        self._closed = True
        self._pending.clear()
        self._cancel.set()
        self._pause.clear()

    # -- running --------------------------------------------------------------------------
    def _enqueue(self, job: WriteJob) -> None:
        if self._closed:
            return
        self._pending.append(job)
        self._start_next()

    def _start_next(self) -> None:
        if self.current is not None or self._closed:
            return
        if not self._pending:
            self.idle.emit()
            return
        job = self._pending.pop(0)
        self.current = job
        self._cancel = threading.Event()
        self.started.emit(job)
        self.tasks.run(self._work(job, self._cancel), lambda result: self._done(job, result),
                       failure=lambda exc: self._error(job, exc), lane="write")

    def _work(self, job: WriteJob, cancel: threading.Event):
        library, pause = self.library, self._pause
        pacer = ProgressPacer(PROGRESS_EVERY_S)

        def report(p: IndexProgress) -> None:  # on the writer thread: only emit
            if pacer.due(p.phase, force=p.phase in ("done", "cancelled")):
                self._progress_from_worker.emit(job, p)

        def run():
            if job.kind == "remove":
                return library.remove(job.paths[0], progress=report, cancel=cancel)
            if job.kind == "refresh":
                return library.refresh(job.paths, progress=report, cancel=cancel, pause=pause)
            if job.kind == "retry":
                return library.retry(job.paths, progress=report, cancel=cancel, pause=pause)
            return library.index(job.paths, progress=report, cancel=cancel, pause=pause)

        return run

    @Slot(object, object)
    def _forward_progress(self, job: WriteJob, p: IndexProgress) -> None:
        if job is self.current and not self._closed:
            self.progress.emit(job, p)

    def _done(self, job: WriteJob, result: IndexReport) -> None:
        self.current = None
        self.finished.emit(job, result)
        self._start_next()

    def _error(self, job: WriteJob, exc: BaseException) -> None:
        self.current = None
        self.failed.emit(describe_error(exc))
        self.finished.emit(job, None)  # what it did before failing is unknown: ask again for all
        self._start_next()
