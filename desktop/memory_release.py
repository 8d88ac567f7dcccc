"""Giving memory back once the window goes quiet.

Searches fill SQLite's page caches and indexing grows ONNX Runtime's buffers; both are kept for
reuse, so an idle window would stay as large as its busiest moment. When nothing has happened
for a while, the library releases what it keeps (on a worker lane: trimming a large heap can
take a tenth of a second)."""

from __future__ import annotations

from memex.core.library import Library
from PySide6.QtCore import QObject, QTimer

from .tasks import TaskManager

AFTER_INDEXING_MS = 3_000  # the index queue emptied
AFTER_SEARCH_MS = 15_000  # long enough not to empty the caches between two typed queries


class IdleMemoryRelease(QObject):
    def __init__(self, tasks: TaskManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._library: Library | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._release)
        self.after_search_ms = AFTER_SEARCH_MS
        self.releases = 0  # how many times memory was given back (for tests)

    def set_library(self, library: Library | None) -> None:
        self._library = library

    def poke(self, delay_ms: int | None = None) -> None:
        """Something happened: release ``delay_ms`` (default: ``after_search_ms``) after the last such call."""
        delay_ms = self.after_search_ms if delay_ms is None else delay_ms
        if self._timer.isActive() and self._timer.remainingTime() >= delay_ms:
            return
        self._timer.start(delay_ms)

    def _release(self) -> None:
        library = self._library
        if library is None:
            return
        if self._tasks.busy():  # still working: try again once it is quiet
            self._timer.start(AFTER_INDEXING_MS)
            return
        self._tasks.run(library.release_memory, self._released, failure=lambda _exc: None, lane="read")

    def _released(self, _result: object) -> None:
        self.releases += 1
