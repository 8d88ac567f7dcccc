"""An index job as the window shows it: its progress in the status area and the tray's tooltip,
what it did when it ends, and the counts and results asked again for what it wrote — while it
runs at most every ``INFO_EVERY_S``, at the end exactly what its report says changed."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from memex.core.types import ALL_CHANGES, Changes, IndexProgress, IndexReport

from . import fmt
from .indexing import IndexController, WriteJob
from .memory_release import AFTER_INDEXING_MS

if TYPE_CHECKING:
    from .main_window import MainWindow

INFO_EVERY_S = 1.5  # while indexing: refresh counts and the current results this often (when written to)
WRITTEN = Changes(documents=True, search_results=True)  # what a run that wrote something changed


class IndexRunStatus:
    def __init__(self, window: MainWindow, indexer: IndexController) -> None:
        self.window = window
        self._written_seen: tuple[int, int, int] = (0, 0, 0)  # what the running job had written
        indexer.started.connect(self._on_started)
        indexer.progress.connect(self._on_progress)
        indexer.finished.connect(self._on_finished)
        indexer.idle.connect(self._on_idle)
        indexer.failed.connect(window.show_error)
        indexer.paused_changed.connect(self._on_paused)
        window.status.pause_toggled.connect(indexer.set_paused)
        window.status.cancel_clicked.connect(indexer.cancel)

    def _on_started(self, job: WriteJob) -> None:
        window = self.window
        window.status.start_run(job.describe)
        self._written_seen = (0, 0, 0)
        window.search.set_library_state(window.search.documents, window.indexer.adding)
        if window.tray is not None:
            window.tray.set_state(job.describe)

    def _on_progress(self, job: WriteJob, p: IndexProgress) -> None:
        window = self.window
        window.status.update_progress(p)
        if window.tray is not None and p.phase == "ocr" and p.ocr_pages_total:
            window.tray.set_state(f"reading scanned pages, {p.ocr_pages_done:,} of {p.ocr_pages_total:,}")
        elif window.tray is not None and p.files_total:
            window.tray.set_state(f"indexing {p.files_done:,} of {fmt.count(p.files_total, 'file')}")
        written = (p.chunks_written, p.chunks_embedded, len(p.errors))
        if written != self._written_seen and time.monotonic() - window.info.last_asked >= INFO_EVERY_S:
            self._written_seen = written
            window.refresh_info(WRITTEN)
            window.search.refresh()

    def _on_finished(self, job: WriteJob, result: IndexReport | None) -> None:
        """Say what the job did and ask again for what it changed (all of it after a failure)."""
        window = self.window
        if result is not None and job.kind == "remove":
            window.status.show_message(f"Removed {job.paths[0]} from the library "
                                       f"({fmt.count(result.removed, 'document')}; files on disk untouched)")
        elif result is not None:
            changed = result.added + result.updated + result.moved + result.removed + result.failed
            if changed or not job.quiet:
                window.status.show_message(fmt.report_sentence(result),
                                           error=bool(result.failed) and job.kind != "refresh")
        if result is not None and job.kind == "refresh" and job.paths and (result.added or result.updated
                                                                         or result.moved or result.removed):
            window.folders.mark_updated(job.paths, time.time())  # "updated just now", after a live update
        changes = result.changes if result is not None else ALL_CHANGES
        window.refresh_info(changes)
        if changes.search_results:
            window.search.refresh()

    def _on_idle(self) -> None:
        window = self.window
        window.memory.poke(AFTER_INDEXING_MS)  # what indexing grew goes back once the window settles
        window.status.finish_run()
        window.search.set_library_state(window.search.documents, False)
        if window.tray is not None:
            window.tray.set_state("up to date")

    def _on_paused(self, paused: bool) -> None:
        window = self.window
        window.status.set_paused(paused)
        if window.tray is not None:
            window.tray.set_paused(paused)
            window.tray.set_state("indexing paused" if paused else "indexing")
