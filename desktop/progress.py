"""The status area along the bottom: indexing progress (bar, files done/total, current file,
speed, time left, pause/resume, cancel), a one-line summary of the library when idle, and
notices or errors as readable sentences."""

from __future__ import annotations

import time

from memex.core.display_text import safe
from memex.core.types import IndexProgress
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from . import fmt
from .plain import make_plain, set_tooltip
from .run_meter import RunMeter
from .slim_bar import SlimBar

PHASES = {
    "scanning": "Looking for changes",
    "indexing": "Indexing",
    "embedding": "Analysing passages",
    "ocr": "Reading scanned pages",
    "paused": "Paused",
    "waiting": "Waiting for another Memex",  # another process is indexing this library
    "done": "Finishing",
    "cancelled": "Stopping",
}
MESSAGE_MS = 8000
MESSAGE_WIDTH = 900  # at most: a long warning shows as much as the line allows
PHASE_WIDTH, COUNTS_WIDTH, CURRENT_WIDTH = 190, 360, 200  # at most; less in a narrow window
MIN_WIDTH = 320  # the status line never makes the window wider than this asks
MESSAGE_MIN = 80  # a message gets at least this much room, or waits unseen until there is
UPDATE_EVERY_S = 0.2  # progress texts are redrawn at most this often


def _fixed(label: QLabel, width: int) -> QLabel:
    label.setFixedSize(width, label.sizeHint().height())
    return label


class StatusArea(QWidget):
    pause_toggled = Signal(bool)
    cancel_clicked = Signal()
    problems_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("StatusArea")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        # Fixed sizes: the texts change with every file, and a label that keeps its size does
        # not make the window lay itself out again each time.
        self.phase = _fixed(QLabel(), PHASE_WIDTH)
        self.current = _fixed(QLabel(objectName="StatusDetail"), CURRENT_WIDTH)
        self.bar = SlimBar()
        self.counts = _fixed(QLabel(objectName="StatusDetail"), COUNTS_WIDTH)
        self._full: dict[QLabel, tuple[str, Qt.TextElideMode]] = {}  # what each shortened label says in full
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._on_pause)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_clicked)
        self.summary = QLabel(objectName="StatusDetail")
        self.message = _fixed(QLabel(), MESSAGE_WIDTH)
        self.message.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        make_plain(self.phase, self.current, self.counts, self.summary, self.message)  # names and paths
        self.problems = QLabel()  # a link the program writes
        self.problems.linkActivated.connect(lambda _: self.problems_clicked.emit())
        self.dismiss = QToolButton(text="✕")
        self.dismiss.setAutoRaise(True)
        self.dismiss.setToolTip("Dismiss")
        self.dismiss.clicked.connect(self.clear_message)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 6, 12, 6)
        layout.setSpacing(10)
        for w in (self.phase, self.bar, self.counts, self.current):
            layout.addWidget(w)
        layout.addWidget(self.summary)
        layout.addStretch(1)
        layout.addWidget(self.message, 0)
        layout.addWidget(self.dismiss)
        layout.addWidget(self.problems)
        layout.addWidget(self.pause_button)
        layout.addWidget(self.cancel_button)
        self.setMinimumWidth(MIN_WIDTH)  # the labels below are fitted to the width there is (see _fit)

        self._message_text = ""
        self._message_error = False
        self._meter: RunMeter | None = None
        self._ocr_meter: RunMeter | None = None  # timed from the first scanned page a run reads
        self._ocr_base = 0
        self._last: IndexProgress | None = None
        self._shown_at = 0.0
        self._paused = False
        self._trailing = QTimer(self, singleShot=True)  # shows the last progress held back by the pace
        self._trailing.timeout.connect(lambda: self._last is not None and self._show_progress(self._last))
        self._message_timer = QTimer(self, singleShot=True, interval=MESSAGE_MS)
        self._message_timer.timeout.connect(self.clear_message)
        self.running = False
        self._set_running(False)
        self.clear_message()

    # -- indexing -------------------------------------------------------------------------
    def start_run(self, description: str) -> None:
        self._meter = RunMeter()
        self._ocr_meter = None
        self._last = None
        self._set_running(True)
        self.show_text(self.phase, description)
        set_tooltip(self.phase, description)
        self.bar.setRange(0, 0)  # busy until the file count is known
        self.show_text(self.counts, "")
        self.show_text(self.current, "")

    def sizeHint(self) -> QSize:  # noqa: N802
        """Never wider than ``MIN_WIDTH`` asks: the texts are fitted to the width there is."""
        return QSize(MIN_WIDTH, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(MIN_WIDTH, super().minimumSizeHint().height())

    def update_progress(self, p: IndexProgress) -> None:
        if not self.running:
            self.start_run(PHASES.get(p.phase, "Indexing"))
        now = time.monotonic()
        same_phase = self._last is not None and self._last.phase == p.phase
        self._last = p
        if same_phase and now - self._shown_at < UPDATE_EVERY_S:
            # held back, not dropped: the last one is shown when the pace allows
            self._trailing.start(int((UPDATE_EVERY_S - (now - self._shown_at)) * 1000) + 1)
            return
        self._show_progress(p)

    def _show_progress(self, p: IndexProgress) -> None:
        self._trailing.stop()
        self._shown_at = time.monotonic()
        meter = self._meter or RunMeter()
        paused = self._paused or p.phase in ("paused", "waiting")
        meter.pause(paused)  # neither counts towards the speed
        self.show_text(self.phase, PHASES["paused"] if self._paused else PHASES.get(p.phase, p.phase.capitalize()))
        if p.phase == "ocr" and p.ocr_pages_total > 0:
            self._show_ocr_counts(p, paused)
        elif p.files_total > 0:
            self.bar.setRange(0, p.files_total)
            self.bar.setValue(min(p.files_done, p.files_total))
            bits = [f"{p.files_done:,} of {fmt.count(p.files_total, 'file')}"]
            rate = None if paused else meter.rate(p.files_done)  # no speed while nothing moves
            if rate:
                bits.append(f"{rate:.1f} files/s")
            eta = None if paused else meter.eta(p.files_done, p.files_total)
            if eta is not None:
                bits.append(f"about {fmt.duration(eta)} left")
            self.show_text(self.counts, "  ·  ".join(bits))
        elif p.phase == "embedding" and p.chunks_pending:
            self.bar.setRange(0, 0)
            self.show_text(self.counts, f"{p.chunks_pending:,} passages to go")
        else:
            self.bar.setRange(0, 0)
        name = fmt.file_name(p.current) if p.current else ""
        self.show_text(self.current, name, Qt.TextElideMode.ElideMiddle)
        set_tooltip(self.current, p.current or "")

    def _show_ocr_counts(self, p: IndexProgress, paused: bool) -> None:
        """Pages read of those waiting ("12 of 80"), pages per second and the time left, timed
        from the first page this run saw read (pages read before a restart do not count)."""
        total, done = p.ocr_pages_total, min(p.ocr_pages_done, p.ocr_pages_total)
        if self._ocr_meter is None:
            self._ocr_meter, self._ocr_base = RunMeter(), done
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        bits = [f"{done:,} of {total:,}"]
        read, left = done - self._ocr_base, total - self._ocr_base
        self._ocr_meter.pause(paused)
        rate = None if paused else self._ocr_meter.rate(read)
        if rate:
            bits.append(f"{rate:.1f} pages/s" if rate >= 0.1 else f"{60 * rate:.1f} pages/min")
        eta = None if paused else self._ocr_meter.eta(read, left)
        if eta is not None:
            bits.append(f"about {fmt.duration(eta)} left")
        self.show_text(self.counts, "  ·  ".join(bits))

    def rehearse(self) -> None:
        """Show a made-up run once, off screen (see ResultsView.rehearse)."""
        self.start_run("Rehearsal")
        self.update_progress(IndexProgress(phase="indexing", files_total=4, files_done=1, current="/rehearsal.txt"))
        self.bar.grab()
        self.set_paused(True)
        self.finish_run()
        self.show_message("rehearsal")
        self.clear_message()

    def finish_run(self) -> None:
        self._trailing.stop()
        self._set_running(False)

    def set_paused(self, paused: bool) -> None:
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.blockSignals(False)
        self._paused = paused
        if self._meter is not None:
            self._meter.pause(paused)
        if self._last is not None and self.running:
            self._show_progress(self._last)  # the speed and time left go (or come back) now
        elif paused:
            self.show_text(self.phase, PHASES["paused"])

    def _on_pause(self, checked: bool) -> None:
        self.pause_button.setText("Resume" if checked else "Pause")
        self.pause_toggled.emit(checked)

    def show_text(self, label: QLabel, text: str,
                  mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight) -> None:
        """Show ``text`` in one of the fixed-width labels, shortened to its width (again
        whenever the width changes), control and bidi characters shown as escapes."""
        text = safe(text)
        self._full[label] = (text, mode)
        shown = label.fontMetrics().elidedText(text, mode, label.width()) if text else ""
        label.setText(shown)
        if label is self.counts:  # the others have tooltips of their own
            set_tooltip(label, text if shown != text else "")

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        """Share the width among the fixed-width labels (fixed: a label that keeps its size
        does not lay the window out again with each file). In a narrow window the current
        file gives way first, then the counts and the message; nothing makes the window wider."""
        layout = self.layout()
        margins = layout.contentsMargins()
        spacing = layout.spacing()
        room = self.width() - margins.left() - margins.right()
        message_shown = bool(self._message_text)
        if message_shown and self._message_error:
            room -= self.dismiss.sizeHint().width() + spacing
        if self.running:
            room -= sum(w.sizeHint().width() + spacing for w in (self.pause_button, self.cancel_button, self.problems)
                        if not w.isHidden())
            bar = max(60, min(180, room // 8))
            self.bar.setFixedWidth(bar)
            room -= bar + 3 * spacing  # bar, phase, counts, current
            phase = max(60, min(PHASE_WIDTH, room // 2))
            counts = max(0, min(COUNTS_WIDTH, room - phase))
            left = room - phase - counts
            current = max(0, min(CURRENT_WIDTH, left - (120 + spacing if message_shown else 0)))
            left -= current
            widths = {self.phase: phase, self.counts: counts, self.current: current}
        else:
            room -= sum(w.sizeHint().width() + spacing for w in (self.summary, self.problems)
                        if not w.isHidden())
            left, widths = room, {}
        widths[self.message] = max(0, min(MESSAGE_WIDTH, left - spacing - 10))
        fits = widths[self.message] >= MESSAGE_MIN  # too little room: kept (and shown again when there is)
        self.message.setVisible(message_shown and fits)
        self.dismiss.setVisible(message_shown and fits and self._message_error)
        for label, width in widths.items():
            if label.width() != width:
                label.setFixedWidth(width)
                if label in self._full:
                    self.show_text(label, *self._full[label])

    def _set_running(self, running: bool) -> None:
        self.running = running
        for w in (self.phase, self.bar, self.counts, self.current, self.pause_button, self.cancel_button):
            w.setVisible(running)
        self.summary.setVisible(not running)
        self._fit()
        if not running:
            self.set_paused(False)

    # -- summary and messages -------------------------------------------------------------
    def set_summary(self, documents: int, sources: int, failed: int, size_bytes: int | None = None) -> None:
        if documents == 0 and sources == 0:
            text = "No folders yet"
        else:
            text = f"{fmt.count(documents, 'document')} in {fmt.count(sources, 'folder')}"
            if size_bytes:
                text += f"  ·  {fmt.human_bytes(size_bytes)}"
        self.summary.setText(text)
        if failed:
            self.problems.setText(f'<a href="problems">{fmt.count(failed, "file")} could not be read</a>')
            self.problems.show()
        else:
            self.problems.hide()
        self._fit()

    def show_message(self, text: str, error: bool = False, sticky: bool | None = None) -> None:
        self.message.setObjectName("StatusError" if error else "")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        set_tooltip(self.message, text)
        self._message_text = text
        self._message_error = error
        self._fit()
        self.show_text(self.message, text)
        if sticky if sticky is not None else error:
            self._message_timer.stop()
        else:
            self._message_timer.start()

    def clear_message(self) -> None:
        self.show_text(self.message, "")
        self.message.setToolTip("")
        self._message_text = ""
        self._message_error = False
        self._fit()

    def message_text(self) -> str:
        """The whole message shown (the label may show it shortened)."""
        return self._message_text
