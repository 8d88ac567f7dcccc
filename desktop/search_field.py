"""The search box: a line edit that hands navigation keys to the results and shows the longest
placeholder it has room for."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLineEdit, QWidget

from . import style

# Longest first: the longest one the search box has room for is shown.
PLACEHOLDERS = ("Search your documents — words you remember, or what it was about",
                "Search your documents — words or what it was about", "Search your documents", "Search")


class SearchField(QLineEdit):
    """A line edit that hands navigation keys to the results."""

    navigate = Signal(int)
    submit = Signal()
    expand = Signal()  # → at the end of the text: show the current result's other matches

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SearchField")
        self.setPlaceholderText(PLACEHOLDERS[0])
        self.setClearButtonEnabled(True)
        self.setAcceptDrops(False)  # dropped files go to the window (they are indexed)
        self.addAction(style.search_icon(), QLineEdit.ActionPosition.LeadingPosition)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            self.navigate.emit(key)
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.submit.emit()
            return
        if key == Qt.Key.Key_Escape and self.text():
            self.clear()
            return
        if (key == Qt.Key.Key_Right and self.cursorPosition() == len(self.text()) and not self.hasSelectedText()
                and not event.modifiers()):
            self.expand.emit()
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        room = self.width() - 2 * 14 - 2 * 22  # the padding, the search and clear icons
        fits = [p for p in PLACEHOLDERS if self.fontMetrics().horizontalAdvance(p) <= room]
        text = fits[0] if fits else ""
        if text != self.placeholderText():
            self.setPlaceholderText(text)
            self.setToolTip("" if text == PLACEHOLDERS[0] else PLACEHOLDERS[0])
