"""The window's menu bar (File, View, Help) and the About box."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox


def _action(window: QMainWindow, menu: QMenu, text: str, shortcut, slot, fallback: str | None = None) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        if fallback and action.shortcut().isEmpty():
            action.setShortcut(QKeySequence(fallback))
    if slot is not None:
        action.triggered.connect(lambda _=False: slot())
    menu.addAction(action)
    return action


def build_menus(window) -> dict[str, QAction]:
    """Fill ``window``'s menu bar; returns the actions the window keeps ("add", "sidebar")."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    add = _action(window, file_menu, "&Add Folder…", "Ctrl+Shift+O", window.choose_folder)
    _action(window, file_menu, "&Check All Folders for Changes", "F5", window.rescan_all)
    file_menu.addSeparator()
    _action(window, file_menu, "&Settings…", QKeySequence.StandardKey.Preferences, window.open_settings,
            fallback="Ctrl+,")
    file_menu.addSeparator()
    _action(window, file_menu, "&Quit", QKeySequence.StandardKey.Quit, window.close, fallback="Ctrl+Q")
    view_menu = bar.addMenu("&View")
    sidebar = _action(window, view_menu, "&Folders", "Ctrl+B", None)
    sidebar.setCheckable(True)
    sidebar.setChecked(True)
    _action(window, view_menu, "Files That Could Not Be &Read…", None, window.show_failures)
    help_menu = bar.addMenu("&Help")
    _action(window, help_menu, "&About Memex", None, lambda: about(window))
    return {"add": add, "sidebar": sidebar}


def about(parent) -> None:
    QMessageBox.about(parent, "About Memex",
                      "<h3>Memex</h3><p>A private memory for your documents: it reads your files and finds "
                      "what you remember, by words or by meaning, without sending anything anywhere.</p>"
                      "<p>Licensed AGPL-3.0-or-later.</p>")
