"""The folders sidebar (watched sources with their counts and state; add, rescan, remove) and
the dialog listing files that could not be read."""

from __future__ import annotations

import os

from memex.core.types import Source
from PySide6.QtCore import QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from . import fmt
from .failures_dialog import FailuresDialog
from .fitting import ElidedLabel
from .plain import plain_message_box, set_tooltip

__all__ = ["FailuresDialog", "FoldersPanel", "source_meta"]


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


REFRESH_TIMES_MS = 30_000  # "updated 3 min ago" is said again this often, so it stays true


def source_counts(s: Source) -> str:
    if s.kind == "file":
        return "  ·  ".join(["single file", fmt.count(s.chunks, "passage")])
    return "  ·  ".join([fmt.count(s.documents, "file"), fmt.count(s.chunks, "passage")])


def source_when(s: Source, updated_at: float | None = None) -> str:
    """When the folder was last brought up to date: its last full check, or a later live update
    (``updated_at``) — and never "not indexed yet" once files from it are in."""
    when = max((t for t in (s.last_indexed_at, updated_at) if t), default=None)
    if when:
        return f"updated {fmt.relative_time(when)}"
    return "partly indexed" if s.documents or s.chunks else "not indexed yet"


def source_meta(s: Source, updated_at: float | None = None) -> str:
    return source_counts(s) + "\n" + source_when(s, updated_at)


class _SourceRow(QWidget):
    def __init__(self, source: Source) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 7, 10, 7)
        layout.setSpacing(1)
        self.title = ElidedLabel(fmt.file_name(source.path))  # a folder name is never markup
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.path = ElidedLabel(fmt.folder_label(source.path), Qt.TextElideMode.ElideMiddle, objectName="SourceMeta")
        self.counts = ElidedLabel(objectName="SourceMeta")
        self.when = ElidedLabel(objectName="SourceMeta")
        for w in (self.title, self.path, self.counts, self.when):
            layout.addWidget(w)
        set_tooltip(self, source.path)
        self.source: Source | None = None
        self.updated_at: float | None = None
        self.update_source(source)

    def update_source(self, source: Source, updated_at: float | None = None) -> None:
        """New counts for the same folder (cheap: only the texts that changed are set)."""
        self.source, self.updated_at = source, updated_at
        self.counts.set_full_text(source_counts(source))
        self.when.set_full_text(source_when(source, updated_at))

    def meta_text(self) -> str:
        return self.counts.full_text() + "\n" + self.when.full_text()


class FoldersPanel(QWidget):
    add_clicked = Signal()
    remove_requested = Signal(str)  # a source path, after the person confirmed
    rescan_requested = Signal(str)
    reveal_requested = Signal(str)
    problems_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.sources: list[Source] = []
        self.confirm_remove = True  # tests turn the question off
        title = QLabel("Folders", objectName="SidebarTitle")
        self.list = QListWidget(objectName="Sources")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.itemSelectionChanged.connect(self._on_selection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # rows fit the width
        self.hint = QLabel("Folders you add are watched: new and changed files are indexed on their own.",
                           objectName="SourceMeta")
        self.hint.setWordWrap(True)
        self.add_button = QPushButton("Add folder…")
        self.add_button.setObjectName("Primary")
        self.add_button.clicked.connect(self.add_clicked)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setEnabled(False)
        self.remove_button.setToolTip("Stop indexing this folder (the files themselves are not touched)")
        self.remove_button.clicked.connect(lambda: self.ask_remove(self.selected_path()))
        self.updated_at: dict[str, float] = {}  # source path → the last live update seen in this window
        self._clock = QTimer(self, interval=REFRESH_TIMES_MS)
        self._clock.timeout.connect(self._refresh_times)
        self._clock.start()

        self.buttons = buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.add_button, 1)
        buttons.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 14, 12, 12)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # Side by side where they fit, one above the other in a narrow sidebar (not cut off).
        margins = self.layout().contentsMargins()
        needed = (self.add_button.sizeHint().width() + self.remove_button.sizeHint().width()
                  + self.buttons.spacing() + margins.left() + margins.right())
        direction = QHBoxLayout.Direction.LeftToRight if self.width() >= needed else QHBoxLayout.Direction.TopToBottom
        if self.buttons.direction() != direction:
            self.buttons.setDirection(direction)

    def mark_updated(self, paths: list[str], when: float) -> None:
        """Files under these folders were brought up to date by a live update at ``when``."""
        for s in self.sources:
            prefix = s.path.rstrip(os.sep) + os.sep
            if any(p == s.path or p.startswith(prefix) for p in paths):
                self.updated_at[s.path] = when
        self._refresh_times()

    def _refresh_times(self) -> None:
        for i, s in enumerate(self.sources):
            row = self.list.itemWidget(self.list.item(i))
            if isinstance(row, _SourceRow):
                row.update_source(s, self.updated_at.get(s.path))

    def set_sources(self, sources: list[Source], failed: int = 0) -> None:
        """The folders with their counts (the number of files that could not be read is shown
        once, in the status area: ``failed`` is not shown here)."""
        previous = [s.path for s in self.sources]
        self.sources = list(sources)
        if previous == [s.path for s in sources]:
            for i, s in enumerate(sources):  # same folders: refresh their counts in place
                row = self.list.itemWidget(self.list.item(i))
                if isinstance(row, _SourceRow):
                    row.update_source(s, self.updated_at.get(s.path))
        else:
            selected = self.selected_path()
            self.list.clear()
            for s in self.sources:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, s.path)
                row = _SourceRow(s)
                row.update_source(s, self.updated_at.get(s.path))
                item.setSizeHint(QSize(1, row.sizeHint().height()))  # as wide as the list (names shortened)
                self.list.addItem(item)
                self.list.setItemWidget(item, row)
                if s.path == selected:
                    item.setSelected(True)
            self.hint.setVisible(not self.sources)
        self._on_selection()

    def selected_path(self) -> str | None:
        items = self.list.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def ask_remove(self, path: str | None) -> bool:
        if not path:
            return False
        if self.confirm_remove:
            box = plain_message_box(
                QMessageBox.Icon.Question, "Remove folder", f"Stop indexing {path}?",
                "Its documents leave the library; the files on disk are not touched. You can add the "
                "folder again at any time.",
                QMessageBox.StandardButton.Cancel, self)
            remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
            box.setDefaultButton(QMessageBox.StandardButton.Cancel)
            box.exec()
            if box.clickedButton() is not remove:
                return False
        self.remove_requested.emit(path)
        return True

    def _on_selection(self) -> None:
        chosen = self.selected_path() is not None
        self.remove_button.setEnabled(chosen)
        self.remove_button.setToolTip("Stop indexing this folder (the files themselves are not touched)" if chosen
                                      else "Select a folder in the list to remove it")

    def _menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        path = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("Show in file manager", lambda: self.reveal_requested.emit(path))
        menu.addAction("Check for changes now", lambda: self.rescan_requested.emit(path))
        menu.addSeparator()
        menu.addAction("Remove…", lambda: self.ask_remove(path))
        menu.exec(self.list.viewport().mapToGlobal(pos))
