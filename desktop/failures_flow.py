"""The files Memex could not read, as the window shows them: the failures and the skipped
files fetched off the GUI thread in one go, the dialog listing them, and a retry that closes
it and shows the run in the status area."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .failures_dialog import MANY_SKIPPED
from .folders import FailuresDialog

if TYPE_CHECKING:
    from .main_window import MainWindow


class FailuresFlow:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.dialog: FailuresDialog | None = None  # the last one shown

    def show(self) -> None:
        library = self.window.library
        if library is not None:
            self.window.tasks.run(lambda: (library.failures(), library.skipped_files(limit=MANY_SKIPPED)),
                                  self._show_dialog, lane="read")

    def _show_dialog(self, lists) -> None:
        failures, skipped = lists
        w = self.window
        dialog = FailuresDialog(failures, w, skipped=skipped)
        dialog.open_requested.connect(lambda path: w.opener.open(path, "", 1))
        dialog.reveal_requested.connect(w.opener.reveal)
        dialog.retry_requested.connect(self._retry)
        self.dialog = dialog
        dialog.open()

    def _retry(self, paths: list[str]) -> None:
        """Read failed files again; the dialog closes and the status bar shows the run."""
        if self.dialog is not None:
            self.dialog.accept()
        if self.window.indexer is not None:
            self.window.indexer.retry(paths)
