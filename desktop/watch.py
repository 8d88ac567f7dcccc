"""Keeps the folder watcher pointed at the library's sources and hands its batches to the
write queue. The watcher walks folder trees when it starts or gets new roots, so that work
runs on the ``watch`` lane; its callbacks come from its own thread and are forwarded by
queued signals."""

from __future__ import annotations

import logging

from memex.core.api import folder_watcher
from memex.core.config import Settings
from PySide6.QtCore import QObject, Qt, Signal, Slot

from .tasks import TaskManager

log = logging.getLogger(__name__)


class WatchController(QObject):
    changes = Signal(list)  # paths to refresh (GUI thread)
    notice = Signal(str)  # a sentence for the status area (GUI thread)
    _changes_from_watcher = Signal(list)
    _notice_from_watcher = Signal(str)

    def __init__(self, tasks: TaskManager, settings: Settings, *, debounce_s: float = 1.0,
                 force_polling: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.settings = settings
        self.debounce_s = debounce_s
        self.force_polling = force_polling
        self._watcher = None
        self._roots: list[str] = []
        self._stopped = False
        self._changes_from_watcher.connect(self._forward_changes, Qt.ConnectionType.QueuedConnection)
        self._notice_from_watcher.connect(self._forward_notice, Qt.ConnectionType.QueuedConnection)

    @property
    def mode(self) -> str | None:
        """``"native"``, ``"polling"``, or None when nothing is watched yet."""
        return self._watcher.mode if self._watcher is not None else None

    def set_roots(self, roots: list[str]) -> None:
        """Watch exactly these source paths (started on first use)."""
        if self._stopped or roots == self._roots:
            return
        self._roots = list(roots)
        self.tasks.run(self._apply_roots(list(roots)), lane="watch", key="roots",
                       failure=lambda exc: self.notice.emit(f"Watching folders for changes failed: {exc}"))

    def restart(self, settings: Settings) -> None:
        """Ignore rules changed: replace the watcher with one using the new rules."""
        self.settings = settings
        apply = self._apply_roots(list(self._roots))

        def rebuild():
            old, self._watcher = self._watcher, None
            if old is not None:
                old.stop()
            apply()

        self.tasks.run(rebuild, lane="watch",
                       failure=lambda exc: self.notice.emit(f"Watching folders for changes failed: {exc}"))

    def stop(self) -> None:
        """Stop watching (blocks briefly while the watcher's threads end)."""
        self._stopped = True
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            try:
                watcher.stop()
            except Exception:  # shutting down: nothing left to tell
                log.exception("stopping the folder watcher failed")

    # -- on the watch lane ----------------------------------------------------------------
    def _apply_roots(self, roots: list[str]):
        def run():
            watcher = self._watcher
            if watcher is None:
                watcher = folder_watcher(
                    self._changes_from_watcher.emit, self.settings, debounce_s=self.debounce_s,
                    max_delay_s=max(10.0, self.debounce_s), on_notice=self._notice_from_watcher.emit,
                    force_polling=self.force_polling)
                watcher.set_roots(roots)
                if self._stopped:
                    return
                watcher.start()
                self._watcher = watcher
            else:
                watcher.set_roots(roots)
            if self._stopped:
                watcher.stop()

        return run

    # -- GUI thread -----------------------------------------------------------------------
    @Slot(list)
    def _forward_changes(self, paths: list) -> None:
        if not self._stopped:
            self.changes.emit(paths)

    @Slot(str)
    def _forward_notice(self, message: str) -> None:
        if not self._stopped:
            self.notice.emit(message)
