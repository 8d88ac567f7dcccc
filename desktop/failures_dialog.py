"""The files that could not be read: each with its folder and why, in plain words, and buttons
to open it or show it in its folder (to fix it there; a fixed file is read again when it
changes)."""

from __future__ import annotations

import os

from memex.core.errors import reason_words
from memex.core.types import FileError
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from . import fmt
from .plain import set_tooltip

COLUMNS = ("File", "Folder", "Why", "Details")
# What to do about each reason, in plain words (shown in the tooltip of "Why").
WHAT_TO_DO = {
    "encrypted": "Remove the password (or save an unprotected copy) and Memex reads it on its next check.",
    "no-text": "The pages are pictures of text. Run it through OCR to make its words searchable.",
    "empty": "The file holds no text.",
    "binary": "The file's name says text, but its contents are not.",
    "corrupt": "The file is damaged or not what its name says; opening it may tell you more.",
    "timeout": "Reading it took too long; a very large or complex file.",
    "crashed": "Reading it made the reader stop; the file may be damaged.",
    "unreadable": "Memex may not read it: check its permissions.",
    "too-large": "It is larger than Memex reads.",
}


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


class FailuresDialog(QDialog):
    """Files that could not be read, with their folder, the reason and the message."""

    open_requested = Signal(str)
    reveal_requested = Signal(str)
    retry_requested = Signal(list)  # paths to read again

    def __init__(self, failures: list[FileError], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.failures = list(failures)
        self.setWindowTitle(f"{fmt.count(len(failures), 'file')} Memex could not read")
        screen = (parent.screen() if parent is not None else None) or QGuiApplication.primaryScreen()
        free = screen.availableGeometry() if screen is not None else None
        self.resize(min(900, int(free.width() * 0.95)) if free else 900,
                    min(440, int(free.height() * 0.9)) if free else 440)  # small screens: inside them
        intro = QLabel(
            "These files are skipped until they change. Password-protected PDFs and scans without a "
            "text layer are the usual reasons; hover over a reason for what to do.")
        intro.setWordWrap(True)
        self.table = self._build_table()
        self.open_button = QPushButton("Open")
        self.reveal_button = QPushButton("Show in folder")
        self.open_button.clicked.connect(lambda: self._emit(self.open_requested))
        self.reveal_button.clicked.connect(lambda: self._emit(self.reveal_requested))
        self.retry_button = QPushButton("Try again")
        self.retry_all_button = QPushButton("Try all again")
        self.retry_button.setToolTip("Read this file again, for example after closing the program that locked it")
        self.retry_all_button.setToolTip("Read every file in this list again")
        self.retry_button.clicked.connect(self._retry_selected)
        self.retry_all_button.clicked.connect(
            lambda: self.retry_requested.emit([f.path for f in self.failures if os.path.exists(f.path)]))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.reveal_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.retry_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.retry_all_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.doubleClicked.connect(lambda _i: self._emit(self.open_requested))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        layout.setSpacing(10)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        if failures:
            self.table.selectRow(0)
        self._on_selection()

    def _build_table(self) -> QTableWidget:
        table = QTableWidget(len(self.failures), len(COLUMNS))
        table.setHorizontalHeaderLabels(list(COLUMNS))
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        for row, f in enumerate(self.failures):
            name = QTableWidgetItem(fmt.file_name(f.path))
            set_tooltip(name, f.path)
            folder = QTableWidgetItem(fmt.folder_label(os.path.dirname(f.path)))
            set_tooltip(folder, os.path.dirname(f.path))
            why = QTableWidgetItem(_sentence_case(reason_words(f.reason)))
            set_tooltip(why, WHAT_TO_DO.get(f.reason, _sentence_case(reason_words(f.reason)) + "."))
            details = QTableWidgetItem(f.message)
            set_tooltip(details, f"{f.path}\n{f.message}")
            for column, item in enumerate((name, folder, why, details)):
                table.setItem(row, column, item)
        header = table.horizontalHeader()
        for column in (0, 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        table.setColumnWidth(0, 220)
        table.setColumnWidth(1, 200)
        return table

    def selected_path(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.failures[rows[0].row()].path if rows else None

    def _on_selection(self) -> None:
        path = self.selected_path()
        self.open_button.setEnabled(path is not None and os.path.exists(path))
        self.reveal_button.setEnabled(path is not None)
        there = path is not None and os.path.exists(path)
        self.open_button.setToolTip("" if path is None or there else "The file is not there any more")
        self.retry_button.setEnabled(there)
        self.retry_all_button.setEnabled(any(os.path.exists(f.path) for f in self.failures))

    def _retry_selected(self) -> None:
        path = self.selected_path()
        if path is not None:
            self.retry_requested.emit([path])

    def _emit(self, signal) -> None:
        path = self.selected_path()
        if path is not None:
            signal.emit(path)
