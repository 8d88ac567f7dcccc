"""Settings that the library reads when it opens — its file, the reranker, CPU/GPU, threads —
applied without restarting Memex: the window closes its library and opens it again with the new
settings (after an index run under way has ended), keeping the query and the panes as they are."""

from __future__ import annotations

from typing import TYPE_CHECKING

from memex.core.config import Settings
from memex.core.library import Library

if TYPE_CHECKING:
    from .main_window import MainWindow


class LibraryReopener:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.waiting: tuple[Settings, list[str]] | None = None  # settings to reopen with once indexing ends

    def can_reopen(self) -> bool:
        """Only a library the window opened itself (one handed to it belongs to someone else)."""
        return self.window.owns_library and self.window.library is not None and not self.window.library.readonly

    def reopen(self, settings: Settings, fields: list[str]) -> None:
        """Open the library again with ``settings``; ``fields`` name what changed (for the message)."""
        window = self.window
        if window.indexer is not None and window.indexer.busy:
            if self.waiting is None:
                window.indexer.idle.connect(self._on_idle)
            self.waiting = (settings, fields)
            window.status.show_message(f"The new {', '.join(fields)} will be used when the indexing under way "
                                       "ends.", sticky=True)
            return
        old = window.library
        if old is None:
            return
        path = settings.library or window.library_path
        self._let_go(old)

        def reopen() -> Library:
            old.close()
            return Library.open(path, settings=settings)

        def opened(library: Library) -> None:
            window.status.show_message(f"Settings saved. Now using the new {', '.join(fields)}.", sticky=True)
            window.reopened(library)

        window.tasks.run(reopen, opened, failure=window.open_failed, lane="write")

    def _on_idle(self) -> None:
        waiting, self.waiting = self.waiting, None
        if waiting is not None:
            self.window.indexer.idle.disconnect(self._on_idle)
            self.reopen(*waiting)

    def _let_go(self, library: Library) -> None:
        """Stop everything that uses ``library`` (the watcher, the write queue, a model switch)."""
        window = self.window
        if window.watch is not None:
            window.watch.stop()
            window.watch = None
        if window.indexer is not None:
            window.status.pause_toggled.disconnect(window.indexer.set_paused)
            window.status.cancel_clicked.disconnect(window.indexer.cancel)
            window.indexer.shutdown()
        if window.model_switch is not None:
            window.model_switch.shutdown()
        window.library = window.info.library = None
        window.search.set_library(None)
        window.preview.set_library(None)
        window.status.finish_run()
