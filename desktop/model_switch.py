"""Switching the embedding model from the window.

When the settings name another embedder, the window asks this controller to switch: it
measures the cost on the library's own passages (read lane), asks the user with that figure,
then runs :meth:`Library.switch_embedder` on the write lane. Searches keep answering from the
current model meanwhile. Indexing is never kept waiting behind a long switch: when the index
queue starts a job, the running slice stops after its batch (the switch's progress is kept in
the library) and the switch resumes once the queue is idle again."""

from __future__ import annotations

import threading
from collections.abc import Callable

from memex.core.api import ProgressPacer, SwitchEstimate, SwitchProgress, SwitchResult
from memex.core.library import Library
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from . import fmt
from .indexing import IndexController
from .plain import plain_message_box
from .progress import StatusArea
from .tasks import TaskManager, describe_error

PROGRESS_EVERY_S = 0.1


def model_label(model_id: str | None) -> str:
    """A model id as a person reads it: "local:NAME:hash" → NAME."""
    if not model_id:
        return "the default model"
    if model_id.startswith("local:"):
        return model_id.split(":")[1] or model_id
    return model_id


def ask_to_switch(estimate: SwitchEstimate, parent: QWidget | None = None) -> bool:
    """The confirmation, with the measured cost; True when the user chose to switch."""
    question = (f"Analyse {fmt.count(estimate.chunks_to_embed, 'passage')} again with "
                f"{model_label(estimate.model_id)}?")
    details = []
    if estimate.chunks_per_s > 0:
        details.append(f"This takes about {fmt.duration(max(estimate.seconds, 1))} on this computer "
                       f"(measured on {fmt.count(estimate.sample, 'passage')} of your library).")
    if estimate.chunks_done:
        details.append(f"{estimate.chunks_done:,} passages are already done from an earlier start.")
    if estimate.discards_pending:
        details.append(f"The unfinished switch to {model_label(estimate.discards_pending)} is discarded.")
    details.append("Search keeps working with the current model until the switch is complete. You can "
                   "cancel at any time; choosing this model again continues where it stopped.")
    # A model's name comes from its folder: shown as it is, never as markup.
    box = plain_message_box(QMessageBox.Icon.Question, "Switch the embedding model?", question,
                            " ".join(details), QMessageBox.StandardButton.NoButton, parent)
    switch = box.addButton("Switch model", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Keep current model", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(switch)
    box.exec()
    return box.clickedButton() is switch


def show_progress(status: StatusArea, p: SwitchProgress) -> None:
    """Render a switch's progress in the status area's bar and labels."""
    phase = {"paused": "Paused", "swapping": "Switching over", "done": "Finishing",
             "cancelled": "Stopping"}.get(p.phase, f"Switching to {model_label(p.model_id)}")
    status.show_text(status.phase, phase)
    status.bar.setRange(0, max(p.total, 1))
    status.bar.setValue(min(p.done, p.total))
    bits = [f"{p.done:,} of {fmt.count(p.total, 'passage')}"]
    left = p.seconds_left
    if p.phase == "embedding" and left is not None:
        bits.append(f"about {fmt.duration(left)} left")
    status.show_text(status.counts, "  ·  ".join(bits))
    status.show_text(status.current, "")


class ModelSwitchController(QObject):
    """Estimate, confirm, then switch in slices on the write lane; one switch at a time."""

    started = Signal(str)  # a description, each time a slice starts showing progress
    progress = Signal(object)  # SwitchProgress
    finished = Signal(object)  # SwitchResult: switched, or the model was already in use
    cancelled = Signal(object)  # SwitchResult, or None when it was cancelled between slices
    declined = Signal()  # the user kept the current model
    failed = Signal(str)
    _progress_from_worker = Signal(object)

    def __init__(self, library: Library, tasks: TaskManager, indexer: IndexController,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.tasks = tasks
        self.indexer = indexer
        #: Asks the user; replaceable (tests answer it themselves).
        self.confirm: Callable[[SwitchEstimate], bool] = lambda estimate: ask_to_switch(estimate, parent)
        self.spec: str | None = None
        self.active = False  # a switch is wanted: running, paused, or waiting for indexing to finish
        self.in_flight = False  # a slice is queued or running on the write lane
        self.estimating = False
        self._stop = threading.Event()
        self._pause = threading.Event()
        self._user_cancelled = False
        self._closed = False
        self._progress_from_worker.connect(self._forward_progress, Qt.ConnectionType.QueuedConnection)
        indexer.started.connect(self._on_indexer_started)
        indexer.idle.connect(self._on_indexer_idle)

    # -- asking ---------------------------------------------------------------------------
    def propose(self, spec: str | None) -> None:
        """Measure the switch to ``spec`` (None: the default model), ask, and start it."""
        if self.active or self.estimating:
            self.failed.emit("A model switch is already under way; cancel it before choosing another model.")
            return
        self.estimating = True
        library = self.library
        self.tasks.run(lambda: library.estimate_embedder_switch(spec), lambda e: self._on_estimate(spec, e),
                       failure=self._on_estimate_failed, lane="read")

    def _on_estimate(self, spec: str | None, estimate: SwitchEstimate) -> None:
        self.estimating = False
        if self._closed:
            return
        if estimate.needed and estimate.chunks_to_embed and not self.confirm(estimate):
            self.declined.emit()
            return
        self.start(spec)

    def _on_estimate_failed(self, exc: BaseException) -> None:
        self.estimating = False
        self.failed.emit(f"Cannot use that embedding model: {describe_error(exc)}")

    # -- running --------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    def start(self, spec: str | None) -> None:
        """Switch without asking (the estimate was accepted, or there is nothing to redo)."""
        if self.active or self._closed:
            return
        self.spec, self.active, self._user_cancelled = spec, True, False
        self._launch()

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._pause.set()
        else:
            self._pause.clear()

    def cancel(self) -> None:
        """Stop the switch after the current batch; the current model stays in use."""
        if not self.active:
            return
        self._user_cancelled = True
        self._stop.set()
        self._pause.clear()
        if not self.in_flight:  # waiting for indexing: nothing is running to stop
            self.active = False
            self.cancelled.emit(None)

    def shutdown(self) -> None:
        self._closed = True
        self._stop.set()
        self._pause.clear()

    def _launch(self) -> None:
        if not self.active or self.in_flight or self._closed or self.indexer.busy:
            return  # a busy index queue goes first; _on_indexer_idle starts the next slice
        self._stop = threading.Event()
        self.in_flight = True
        self.started.emit(f"Switching to {model_label(None) if self.spec is None else self._spec_label()}")
        self.tasks.run(self._work(self._stop), self._slice_done, failure=self._slice_failed, lane="write")

    def _spec_label(self) -> str:
        spec = self.spec or ""
        return spec.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1] or spec

    def _work(self, stop: threading.Event) -> Callable[[], SwitchResult]:
        library, spec, pause = self.library, self.spec, self._pause
        pacer = ProgressPacer(PROGRESS_EVERY_S)

        def report(p: SwitchProgress) -> None:  # on the writer thread: only emit
            if pacer.due(force=p.phase != "embedding"):
                self._progress_from_worker.emit(p)

        return lambda: library.switch_embedder(spec, progress=report, cancel=stop, pause=pause)

    @Slot(object)
    def _forward_progress(self, p: SwitchProgress) -> None:
        if self.in_flight and not self._closed:
            self.progress.emit(p)

    def _slice_done(self, result: SwitchResult) -> None:
        self.in_flight = False
        if result.cancelled and not self._user_cancelled:
            self._launch()  # it made way for indexing: carry on once the queue is idle
            return
        self.active = False
        if result.cancelled:
            self.cancelled.emit(result)
        else:
            self.finished.emit(result)

    def _slice_failed(self, exc: BaseException) -> None:
        self.in_flight = False
        self.active = False
        self.failed.emit(f"The model switch stopped: {describe_error(exc)}")

    def _on_indexer_started(self, _job: object) -> None:
        if self.in_flight:
            self._stop.set()  # let the index job have the write lane

    def _on_indexer_idle(self) -> None:
        self._launch()
