"""A model switch as the window shows it: its progress in the status area (unless an index
job is running; that one is shown instead), what it did when it ends, and the counts and
results asked again for what it changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import fmt
from .model_switch import ModelSwitchController, model_label, show_progress

if TYPE_CHECKING:
    from .main_window import MainWindow


class ModelSwitchStatus:
    def __init__(self, window: MainWindow, switch: ModelSwitchController) -> None:
        self.window = window
        self.switch = switch
        status = window.status
        switch.started.connect(self._on_started)
        switch.progress.connect(self._on_progress)
        switch.finished.connect(self._on_finished)
        switch.cancelled.connect(self._on_cancelled)
        switch.failed.connect(self._on_failed)
        switch.declined.connect(lambda: status.show_message("The embedding model was not changed."))
        status.pause_toggled.connect(switch.set_paused)
        status.cancel_clicked.connect(self._cancel_if_shown)

    def _index_job_running(self) -> bool:
        indexer = self.window.indexer
        return indexer is not None and indexer.busy

    def _shown(self) -> bool:
        """Whether the progress area shows the switch (an index job, when running, is shown instead)."""
        return self.switch.in_flight and not self._index_job_running()

    def _cancel_if_shown(self) -> None:
        if self._shown():
            self.switch.cancel()

    def _on_started(self, description: str) -> None:
        self.window.status.start_run(description)
        self.window.status.set_paused(self.switch.paused)

    def _on_progress(self, p) -> None:
        if self._shown():
            show_progress(self.window.status, p)

    def _on_finished(self, result) -> None:
        status = self.window.status
        status.finish_run()
        if result.already_active:
            text = f"The library already uses {model_label(result.model_id)}."
        else:
            text = (f"Now searching by meaning with {model_label(result.model_id)} "
                    f"({fmt.count(result.total, 'passage')} analysed again).")
        status.show_message(text, sticky=True)
        self.window.refresh_info(result.changes)
        if result.changes.search_results:
            self.window.search.refresh()

    def _on_cancelled(self, result) -> None:
        status = self.window.status
        status.finish_run()
        kept = model_label(result.previous_model_id) if result is not None else "the current model"
        status.show_message(f"Model switch cancelled: search keeps using {kept}. Choosing the new "
                            "model again continues where it stopped.", sticky=True)

    def _on_failed(self, message: str) -> None:
        if not self._index_job_running():
            self.window.status.finish_run()
        self.window.show_error(message)
