"""A dialog that downloads one catalogue model: progress bar, current file, bytes, Cancel.

The download runs on its own thread (it can take minutes, so it does not hold one of the
TaskManager's lanes); its progress and its end come back through queued signals, so widgets
are only touched on the GUI thread. Cancel keeps the bytes that arrived: the next download
of the same model continues from there.
"""

from __future__ import annotations

import contextlib
import threading
import time

from memex.core.api import DownloadCancelled, DownloadProgress, download_model
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QProgressBar, QVBoxLayout, QWidget

from .plain import escaped, make_plain
from .tasks import describe_error

STEPS = 1000  # progress bar resolution
EMIT_EVERY_S = 0.05


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.1f} MB"


class ModelDownloadDialog(QDialog):
    """Starts downloading ``name`` when shown (or at once with ``start=True``).

    ``state`` is "idle", "running", "cancelling", "done", "cancelled" or "failed";
    ``record`` holds the install record after success and ``error`` the message after a failure."""

    progressed = Signal(object)  # DownloadProgress, from the worker
    ended = Signal(object)  # an InstallRecord or an exception, from the worker
    completed = Signal(str)  # the model's name, once it is installed

    def __init__(self, name: str, parent: QWidget | None = None, *, endpoint: str | None = None,
                 start: bool = True) -> None:
        super().__init__(parent)
        self.name = name
        self.endpoint = endpoint
        self.state = "idle"
        self.record = None
        self.error: str | None = None
        self._cancel = threading.Event()
        self._last_emit = 0.0
        self.setWindowTitle(f"Download {name}")
        self.setMinimumWidth(460)

        self.title = QLabel(f"Downloading <b>{escaped(name)}</b> from the Hugging Face Hub")
        self.file = QLabel("Connecting…")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until the size is known
        self.bytes = QLabel("")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        make_plain(self.file, self.bytes, self.message)  # file names and errors from outside
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.title, self.file, self.bar, self.bytes, self.message, self.buttons):
            layout.addWidget(widget)

        self.progressed.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self.ended.connect(self._on_end, Qt.ConnectionType.QueuedConnection)
        if start:
            self.start()

    @property
    def running(self) -> bool:
        return self.state in ("running", "cancelling")

    def start(self) -> None:
        if self.running:
            return
        self.state, self.error = "running", None
        self._cancel.clear()
        self.message.setText("")
        self._set_button("Cancel")
        threading.Thread(target=self._work, name=f"memex-download-{self.name}", daemon=True).start()

    def cancel(self) -> None:
        """Stop the download; the dialog stays open until the worker has stopped."""
        if self.running:
            self.state = "cancelling"
            self._cancel.set()
            self.file.setText("Cancelling…")
            self.buttons.setEnabled(False)

    def reject(self) -> None:
        if self.running:
            self.cancel()
        else:
            super().reject()

    # -- worker side: only emit -----------------------------------------------------------
    def _work(self) -> None:
        try:
            result: object = download_model(self.name, progress=self._report, cancel=self._cancel,
                                            endpoint=self.endpoint)
        except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the GUI thread
            result = exc
        with contextlib.suppress(RuntimeError):  # the dialog is gone
            self.ended.emit(result)

    def _report(self, progress: DownloadProgress) -> None:
        now = time.monotonic()
        if now - self._last_emit < EMIT_EVERY_S and progress.done != progress.total:
            return
        self._last_emit = now
        with contextlib.suppress(RuntimeError):
            self.progressed.emit(progress)

    # -- GUI side -------------------------------------------------------------------------
    @Slot(object)
    def _on_progress(self, p: DownloadProgress) -> None:
        if self.state != "running":
            return
        self.file.setText(f"File: {p.file}")
        if p.total:
            self.bar.setRange(0, STEPS)
            self.bar.setValue(int(STEPS * p.done / p.total))
        self.bytes.setText(f"{_mb(p.done)} of {_mb(p.total)}")

    @Slot(object)
    def _on_end(self, result: object) -> None:
        self.buttons.setEnabled(True)
        self.bar.setRange(0, STEPS)
        if isinstance(result, DownloadCancelled):
            self.state = "cancelled"
            self.file.setText("Cancelled.")
            self.message.setText("What was downloaded is kept; downloading again continues from there.")
        elif isinstance(result, BaseException):
            self.state, self.error = "failed", describe_error(result)
            self.file.setText("The download failed.")
            self.message.setText(self.error)
        else:
            self.state, self.record = "done", result
            self.bar.setValue(STEPS)
            self.file.setText(f"{self.name} is installed and verified.")
            self.bytes.setText(_mb(getattr(result, "size", None)))
            self.completed.emit(self.name)
        self._set_button("Close")

    def _set_button(self, which: str) -> None:
        self.buttons.clear()
        button = (QDialogButtonBox.StandardButton.Close if which == "Close"
                  else QDialogButtonBox.StandardButton.Cancel)
        self.buttons.addButton(button)
