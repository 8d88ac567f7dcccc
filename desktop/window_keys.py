"""Keys the whole window answers: F3 / Shift+F3 step through the preview's matches,
Ctrl+PgDown / Ctrl+PgUp through its pages, and "/" typed anywhere outside a text field goes
to the search box."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)


def add_preview_keys(window: QWidget, step_match: Callable[[int], None],
                     step_page: Callable[[int], None]) -> None:
    for keys, action in (("F3", lambda: step_match(1)),
                         ("Shift+F3", lambda: step_match(-1)),
                         ("Ctrl+PgDown", lambda: step_page(1)),
                         ("Ctrl+PgUp", lambda: step_page(-1))):
        QShortcut(QKeySequence(keys), window, activated=action)


class SlashToSearch(QObject):
    """An application event filter: a "/" typed in ``window`` (while it is active) outside a
    text field calls ``focus_search`` instead of reaching the widget."""

    def __init__(self, window: QWidget, focus_search: Callable[[], None]) -> None:
        super().__init__(window)
        self._window = window
        self._focus_search = focus_search

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        if (event.type() == QEvent.Type.KeyPress and event.text() == "/" and not event.modifiers()
                and isinstance(watched, QWidget) and watched.window() is self._window
                and self._window.isActiveWindow() and not takes_text(QApplication.focusWidget())):
            self._focus_search()
            return True
        return super().eventFilter(watched, event)


def takes_text(widget: QWidget | None) -> bool:
    """Whether ``widget`` is where a typed "/" belongs (a field, an editable box)."""
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    if isinstance(widget, (QTextEdit, QPlainTextEdit)):
        return not widget.isReadOnly()
    return isinstance(widget, (QLineEdit, QAbstractSpinBox))
