"""The files that could not be read: each with its folder and why, in plain words, and buttons
to open it or show it in its folder (to fix it there; a fixed file is read again when it
changes). Below them, the files Memex did not read at all: types it does not read, pipes and
devices, folders it may not open (``Library.skipped_files``; hidden files and names matching an
ignore pattern are left out, as the settings asked)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

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
from .plain import plain_label, set_tooltip

COLUMNS = ("File", "Folder", "Why", "Details")
SKIPPED_COLUMNS = ("File", "Folder", "Why")
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
    # Files Memex passed over without reading them.
    "unsupported": ("Memex reads PDFs, Word, PowerPoint, Excel and OpenDocument files, e-books, web pages, "
                    "plain text, Markdown and code. Save a copy in one of these types to have it read."),
    "not-a-file": "A named pipe, socket or device: it holds no document to read.",
    "unreadable-folder": ("Memex may not open this folder: check its permissions. What is inside is read "
                          "on the next check after that."),
    "broken-link": "The link points at something that is not there any more.",
    "bad-name": "The name is not valid UTF-8 text; rename the file to have it read.",
}
MANY_SKIPPED = 10_000  # the most files the "not read" list shows


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def skipped_heading(skipped: Sequence[FileError]) -> str:
    """``8 files not read (types Memex does not read)``, or with the other reasons counted."""
    counts = Counter(f.reason for f in skipped)
    unsupported = counts.pop("unsupported", 0)
    if not counts:
        return f"{fmt.count(len(skipped), 'file')} not read (types Memex does not read)"
    parts = [f"{unsupported:,} of types Memex does not read"] if unsupported else []
    parts += [f"{n:,} {reason_words(reason)}" for reason, n in counts.most_common()]
    return f"{fmt.count(len(skipped), 'file')} not read: " + ", ".join(parts)


class FailuresDialog(QDialog):
    """Files that could not be read, with their folder, the reason and the message; and the
    files not read at all (given as ``skipped``, or filled in by :meth:`show_skipped`)."""

    open_requested = Signal(str)
    reveal_requested = Signal(str)
    retry_requested = Signal(list)  # paths to read again

    def __init__(self, failures: list[FileError], parent: QWidget | None = None,
                 skipped: Sequence[FileError] | None = None) -> None:
        super().__init__(parent)
        self.failures = list(failures)
        self.skipped: list[FileError] = []
        self.setWindowTitle(f"{fmt.count(len(failures), 'file')} Memex could not read")
        screen = (parent.screen() if parent is not None else None) or QGuiApplication.primaryScreen()
        free = screen.availableGeometry() if screen is not None else None
        self.resize(min(900, int(free.width() * 0.95)) if free else 900,
                    min(440, int(free.height() * 0.9)) if free else 440)  # small screens: inside them
        self.intro = QLabel(
            "These files are skipped until they change. Password-protected PDFs and scans without a "
            "text layer are the usual reasons; hover over a reason for what to do.")
        self.intro.setWordWrap(True)
        self.table = self._build_table()
        self.skipped_heading = plain_label()
        self.skipped_heading.setWordWrap(True)
        self.skipped_table = _new_table(SKIPPED_COLUMNS)
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
            lambda: self.retry_requested.emit([f.path for f in self.failures if _on_disk(f.path)]))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        for button in (self.open_button, self.reveal_button, self.retry_button, self.retry_all_button):
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        for table, other in ((self.table, self.skipped_table), (self.skipped_table, self.table)):
            table.itemSelectionChanged.connect(lambda t=table, o=other: self._on_selection(t, o))
            table.doubleClicked.connect(lambda _i: self._emit(self.open_requested))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        layout.setSpacing(10)
        layout.addWidget(self.intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.skipped_heading)
        layout.addWidget(self.skipped_table, 1)
        layout.addWidget(buttons)
        self.show_skipped(skipped or ())
        if failures:
            self.table.selectRow(0)
        self._update_buttons()

    # -- the two lists --------------------------------------------------------------------
    def _build_table(self) -> QTableWidget:
        table = _new_table(COLUMNS)
        table.setRowCount(len(self.failures))
        for row, f in enumerate(self.failures):
            why = QTableWidgetItem(_sentence_case(reason_words(f.reason)))
            set_tooltip(why, WHAT_TO_DO.get(f.reason, _sentence_case(reason_words(f.reason)) + "."))
            details = QTableWidgetItem(f.message)
            set_tooltip(details, f"{f.path}\n{f.message}")
            for column, item in enumerate((*_place_items(f.path), why, details)):
                table.setItem(row, column, item)
        table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        return table

    def show_skipped(self, skipped: Sequence[FileError]) -> None:
        """Show ``skipped`` (``Library.skipped_files``) as the files not read; none hides the list."""
        self.skipped = list(skipped)[:MANY_SKIPPED]
        table = self.skipped_table
        table.clearSelection()
        table.setRowCount(len(self.skipped))
        for row, f in enumerate(self.skipped):
            why = QTableWidgetItem(f.message or _sentence_case(reason_words(f.reason)))
            set_tooltip(why, WHAT_TO_DO.get(f.reason, f.message))
            for column, item in enumerate((*_place_items(f.path), why)):
                table.setItem(row, column, item)
        self.skipped_heading.setText(skipped_heading(self.skipped))
        self.skipped_heading.setVisible(bool(self.skipped))
        table.setVisible(bool(self.skipped))
        only_skipped = bool(self.skipped) and not self.failures
        self.intro.setVisible(not only_skipped)  # nothing failed: the files not read are the news
        self.table.setVisible(not only_skipped)
        if only_skipped:
            self.setWindowTitle(f"{fmt.count(len(self.skipped), 'file')} Memex did not read")
            table.selectRow(0)
        self._update_buttons()

    # -- selection and buttons ------------------------------------------------------------
    def selected_path(self) -> str | None:
        for table, entries in ((self.table, self.failures), (self.skipped_table, self.skipped)):
            rows = table.selectionModel().selectedRows()
            if rows and rows[0].row() < len(entries):
                return entries[rows[0].row()].path
        return None

    def _on_selection(self, table: QTableWidget, other: QTableWidget) -> None:
        if table.selectionModel().selectedRows():
            other.clearSelection()  # one file at a time, from either list
        self._update_buttons()

    def _update_buttons(self) -> None:
        path = self.selected_path()
        there = path is not None and _on_disk(path)
        self.open_button.setEnabled(there)
        self.reveal_button.setEnabled(path is not None)
        self.open_button.setToolTip("" if path is None or there else "The file is not there any more")
        failed = path is not None and any(f.path == path for f in self.failures)
        self.retry_button.setEnabled(there and failed)
        self.retry_all_button.setEnabled(any(_on_disk(f.path) for f in self.failures))

    def _retry_selected(self) -> None:
        path = self.selected_path()
        if path is not None:
            self.retry_requested.emit([path])

    def _emit(self, signal) -> None:
        path = self.selected_path()
        if path is not None:
            signal.emit(path)


def _on_disk(path: str) -> bool:
    """The file is there, or the file that holds it is (a message in a mailbox, an attachment:
    their paths go on below the path of the file that holds them)."""
    if os.path.exists(path):
        return True
    parent = os.path.dirname(path)
    while parent and parent != path:
        if os.path.isfile(parent):
            return True
        if os.path.isdir(parent):
            return False  # a file that is gone, from a folder that is still there
        path, parent = parent, os.path.dirname(parent)
    return False


def _new_table(columns: Sequence[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setWordWrap(False)
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    header = table.horizontalHeader()
    for column in (0, 1):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
    header.setStretchLastSection(True)
    table.setColumnWidth(0, 220)
    table.setColumnWidth(1, 200)
    return table


def _place_items(path: str) -> tuple[QTableWidgetItem, QTableWidgetItem]:
    """The "File" and "Folder" cells of ``path``, each with the full path or folder as tooltip."""
    name = QTableWidgetItem(fmt.file_name(path))
    set_tooltip(name, path)
    folder = QTableWidgetItem(fmt.folder_label(os.path.dirname(path)))
    set_tooltip(folder, os.path.dirname(path))
    return name, folder
