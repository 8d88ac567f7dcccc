"""The status line's thin progress bar: a fraction done, or a sweep while the total is unknown."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QWidget

from .style import ACCENT


class SlimBar(QWidget):
    """A thin progress bar that repaints lazily (QProgressBar repaints synchronously on every
    step, which would repaint the whole window for each file indexed)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(180, 6)
        self._max = 0
        self._value = 0
        self._phase = 0.0
        self._timer = QTimer(self, interval=40)
        self._timer.timeout.connect(self._spin)

    def setRange(self, low: int, high: int) -> None:  # noqa: N802 - QProgressBar's names
        self._max = max(0, high - low)
        if self._max == 0 and self.isVisible():
            self._timer.start()
        else:
            self._timer.stop()
        self.update()

    def setValue(self, value: int) -> None:  # noqa: N802
        if value != self._value:
            self._value = value
            self.update()

    def value(self) -> int:
        return self._value

    def maximum(self) -> int:
        return self._max

    def hideEvent(self, event) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._max == 0:
            self._timer.start()

    def _spin(self) -> None:
        self._phase = (self._phase + 0.025) % 1.0
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        track = self.palette().color(QPalette.ColorRole.Midlight)
        p.setBrush(track)
        r = QRectF(self.rect())
        p.drawRoundedRect(r, 3, 3)
        p.setBrush(QColor(ACCENT))
        if self._max > 0:
            done = r.width() * min(1.0, self._value / self._max)
            if done > 0:
                p.drawRoundedRect(QRectF(0, 0, max(done, 6), r.height()), 3, 3)
        else:
            span = r.width() * 0.3
            x = (r.width() + span) * self._phase - span
            p.setClipRect(r)
            p.drawRoundedRect(QRectF(x, 0, span, r.height()), 3, 3)
        p.end()
