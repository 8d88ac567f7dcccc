"""The folders sidebar (watched sources with their counts and state; add, rescan, remove) and
the dialog listing files that could not be read."""

from __future__ import annotations

from memex.core.errors import reason_words
from memex.core.types import FileError, Source
from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from . import fmt
from .plain import make_plain, plain_label, plain_message_box, set_tooltip


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def source_meta(s: Source) -> str:
    if s.kind == "file":
        bits = ["single file", fmt.count(s.chunks, "passage")]
    else:
        bits = [fmt.count(s.documents, "file"), fmt.count(s.chunks, "passage")]
    when = f"updated {fmt.relative_time(s.last_indexed_at)}" if s.last_indexed_at else "not indexed yet"
    return "  ·  ".join(bits) + "\n" + when


class _SourceRow(QWidget):
    def __init__(self, source: Source) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 7, 10, 7)
        layout.setSpacing(1)
        name = fmt.file_name(source.path)
        self.title = plain_label(name)  # a folder name is never markup
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.path = plain_label(objectName="SourceMeta")
        self._texts = (name, fmt.folder_label(source.path))  # in full; shown shortened to the row's width
        self.meta = QLabel(objectName="SourceMeta")
        self.errors = QLabel(objectName="StatusError")
        make_plain(self.meta, self.errors)
        for w in (self.title, self.path, self.meta, self.errors):
            layout.addWidget(w)
        self._fit(230)
        set_tooltip(self, source.path)
        self.source: Source | None = None
        self.update_source(source)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit(self.width())

    def _fit(self, width: int) -> None:
        room = max(40, width - 20)  # the row's margins
        for label, text, mode in ((self.title, self._texts[0], Qt.TextElideMode.ElideRight),
                                  (self.path, self._texts[1], Qt.TextElideMode.ElideMiddle)):
            label.ensurePolished()
            label.setText(label.fontMetrics().elidedText(text, mode, room))

    def update_source(self, source: Source) -> None:
        """New counts for the same folder (cheap: only the texts that changed are set)."""
        if source == self.source:
            return
        self.source = source
        meta = source_meta(source)
        if self.meta.text() != meta:
            self.meta.setText(meta)
        errors = fmt.count(source.errors, "file") + " could not be read" if source.errors else ""
        if self.errors.text() != errors:
            self.errors.setText(errors)
        self.errors.setVisible(bool(errors))


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
        self.problems = QLabel()
        self.problems.setObjectName("StatusError")
        self.problems.linkActivated.connect(lambda _: self.problems_clicked.emit())
        self.problems.hide()

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
        layout.addWidget(self.problems)
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

    def set_sources(self, sources: list[Source], failed: int = 0) -> None:
        previous = [s.path for s in self.sources]
        self.sources = list(sources)
        if previous == [s.path for s in sources]:
            for i, s in enumerate(sources):  # same folders: refresh their counts in place
                row = self.list.itemWidget(self.list.item(i))
                if isinstance(row, _SourceRow):
                    row.update_source(s)
        else:
            selected = self.selected_path()
            self.list.clear()
            for s in self.sources:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, s.path)
                row = _SourceRow(s)
                item.setSizeHint(QSize(1, row.sizeHint().height()))  # as wide as the list (names shortened)
                self.list.addItem(item)
                self.list.setItemWidget(item, row)
                if s.path == selected:
                    item.setSelected(True)
            self.hint.setVisible(not self.sources)
        text = f'<a href="problems">{fmt.count(failed, "file")} could not be read…</a>' if failed else ""
        if self.problems.text() != text:
            self.problems.setText(text)
        self.problems.setVisible(bool(failed))
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
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
            box.setDefaultButton(QMessageBox.StandardButton.Cancel)
            box.exec()
            if box.standardButton(box.clickedButton()) != QMessageBox.StandardButton.Yes:
                return False
        self.remove_requested.emit(path)
        return True

    def _on_selection(self) -> None:
        self.remove_button.setEnabled(self.selected_path() is not None)

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


class FailuresDialog(QDialog):
    """Files that could not be read, with the reason and the message."""

    def __init__(self, failures: list[FileError], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files Memex could not read")
        screen = (parent.screen() if parent is not None else None) or QGuiApplication.primaryScreen()
        free = screen.availableGeometry() if screen is not None else None
        self.resize(min(820, int(free.width() * 0.95)) if free else 820,
                    min(420, int(free.height() * 0.9)) if free else 420)  # small screens: inside them
        intro = QLabel(
            "These files are skipped until they change. Password-protected PDFs and scans without a "
            "text layer are the usual reasons.")
        intro.setWordWrap(True)
        self.table = QTableWidget(len(failures), 3)
        self.table.setHorizontalHeaderLabels(["File", "Reason", "Details"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        for row, f in enumerate(failures):
            name = QTableWidgetItem(fmt.file_name(f.path))
            set_tooltip(name, f.path)
            self.table.setItem(row, 0, name)
            self.table.setItem(row, 1, QTableWidgetItem(_sentence_case(reason_words(f.reason))))
            details = QTableWidgetItem(f.message)
            set_tooltip(details, f"{f.path}\n{f.message}")
            self.table.setItem(row, 2, details)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(0, 260)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        layout.setSpacing(10)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
