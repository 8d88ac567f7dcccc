"""Dropping files on the window: the hint shown over it while something droppable is dragged
in, and the local paths a drop carries."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QWidget

from . import style


class DropHint(QLabel):
    """"Drop to add to your library", over ``parent`` (hidden until ``cover`` is called)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__("Drop to add to your library", parent, alignment=Qt.AlignmentFlag.AlignCenter)
        self.setAutoFillBackground(True)
        self.hide()

    def cover(self) -> None:
        """Show the hint over its parent, a little inside its edges. Its background is opaque:
        the empty state's text under it must not show through its own."""
        tint = QColor(style.ACCENT)
        tint.setAlpha(40)
        background = style.blend(tint, self.parentWidget().palette().color(QPalette.ColorRole.Base))
        self.setStyleSheet(
            f"background: {background.name()}; border: 2px dashed {style.ACCENT}; border-radius: 14px;"
            f"font-size: 20px; font-weight: 600; color: {style.ACCENT};")
        self.setGeometry(self.parentWidget().rect().adjusted(24, 24, -24, -24))
        self.raise_()
        self.show()


def local_paths(mime: QMimeData | None) -> list[str]:
    """The local files and folders dropped (none for web links or other data)."""
    if mime is None or not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]
