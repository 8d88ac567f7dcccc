"""The result list: a two-level model (documents, then their further matching passages) and
the view that navigates them (rows are painted by result_delegate.ResultDelegate)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from memex.core.types import ChunkHit, Highlight, Hit
from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyleOptionViewItem, QTreeView

from . import fmt, style
from .plain import tooltip_text
from .result_delegate import CHUNK_ROLE, DIVIDER_ROLE, HIT_ROLE, HTML_ROLE, ResultDelegate

__all__ = ["CHUNK_ROLE", "DIVIDER_ROLE", "HIT_ROLE", "HTML_ROLE", "ResultDelegate", "ResultsModel", "ResultsView"]

_ROOT = QModelIndex()


@dataclass
class _Row:
    hit: Hit
    html: list[str]  # snippet HTML per chunk


class ResultsModel(QAbstractItemModel):
    """Top level: one row per document; children: its other matching passages."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        self.query = ""

    def set_hits(self, query: str, hits: list[Hit]) -> None:
        mark = style.mark_style()
        self.beginResetModel()
        self.query = query
        self._rows = [_Row(h, [fmt.snippet_html(c.snippet, c.highlights, mark) for c in h.chunks])
                      for h in hits]
        self.endResetModel()

    def hits(self) -> list[Hit]:
        return [r.hit for r in self._rows]

    def row_of(self, document_id: int) -> int | None:
        for i, r in enumerate(self._rows):
            if r.hit.document_id == document_id:
                return i
        return None

    # -- QAbstractItemModel ---------------------------------------------------------------
    def index(self, row: int, column: int = 0, parent: QModelIndex | QPersistentModelIndex = _ROOT):
        if column != 0 or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, 0, 0) if row < len(self._rows) else QModelIndex()
        if parent.internalId() != 0:
            return QModelIndex()
        hit = self._rows[parent.row()].hit
        return self.createIndex(row, 0, parent.row() + 1) if row < len(hit.chunks) - 1 else QModelIndex()

    def parent(self, index=_ROOT):  # type: ignore[override]
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent=_ROOT) -> int:
        if not parent.isValid():
            return len(self._rows)
        if parent.internalId() == 0 and parent.row() < len(self._rows):
            return len(self._rows[parent.row()].hit.chunks) - 1
        return 0

    def columnCount(self, parent=_ROOT) -> int:
        return 1

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        top = index.internalId() == 0
        row = self._rows[index.row() if top else index.internalId() - 1]
        chunk_no = 0 if top else index.row() + 1
        if role == Qt.ItemDataRole.DisplayRole:  # what a screen reader says: a message by its subject
            return fmt.hit_labels(row.hit).title if top else f"Page {row.hit.chunks[chunk_no].page}"
        if role == Qt.ItemDataRole.ToolTipRole:  # a path that looks like HTML is shown as it is
            return tooltip_text(fmt.hit_tooltip(row.hit))
        if role == DIVIDER_ROLE:  # the first of the results found by meaning alone
            return top and row.hit.related and (index.row() == 0 or not self._rows[index.row() - 1].hit.related)
        if role == HIT_ROLE:
            return row.hit
        if role == CHUNK_ROLE:
            return row.hit.chunks[chunk_no]
        if role == HTML_ROLE:
            return row.html[chunk_no]
        return None


class ResultsView(QTreeView):
    """Emits the (hit, passage) under the cursor and the ones the user opens."""

    current_hit = Signal(object, object)  # Hit | None, ChunkHit | None
    open_hit = Signal(object, object)  # Hit, ChunkHit
    typed = Signal(str)  # text typed while the list has the focus (it belongs in the search box)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("Results")
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setIndentation(0)
        self.setUniformRowHeights(False)
        self.setMouseTracking(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setExpandsOnDoubleClick(False)
        self.setAllColumnsShowFocus(True)
        self.results = ResultsModel(self)
        self.setModel(self.results)
        self.delegate = ResultDelegate(self)
        self.setItemDelegate(self.delegate)
        self.selectionModel().currentChanged.connect(self._on_current)
        self.doubleClicked.connect(lambda idx: self._open(idx))
        self.expanded.connect(lambda idx: self.viewport().update())
        self.collapsed.connect(lambda idx: self.viewport().update())
        self._relayout = QTimer(self, singleShot=True, interval=60)
        self._relayout.timeout.connect(self._layout_again)
        self._last_width = 0
        self._signature: tuple | None = None

    def set_hits(self, query: str, hits: list[Hit], keep_document: int | None = None) -> None:
        """Show ``hits``; select the row of ``keep_document`` if given and present, else the
        first row."""
        signature = (query, [(h.document_id, h.path, h.mtime, h.reranked, h.related, h.also_at, h.fields,
                               tuple((c.chunk_id, c.ocr) for c in h.chunks)) for h in hits])
        if signature == self._signature and hits:
            return  # the same rows (e.g. a refresh while indexing): keep everything as it is
        self._signature = signature
        self.delegate.clear_cache()  # a row's divider or "also at" may differ under the same key
        self.results.set_hits(query, hits)
        row = self.results.row_of(keep_document) if keep_document is not None else None
        if hits:
            self.setCurrentIndex(self.results.index(row or 0))
            self.scrollTo(self.currentIndex())
        else:
            self.current_hit.emit(None, None)

    def rehearse(self) -> None:
        """Size and paint a made-up result once, off screen. PySide builds enum types and
        signatures the first time a call needs them (tens of milliseconds); doing it now keeps
        that out of the first real results, which may arrive while indexing runs."""
        chunk = ChunkHit(chunk_id=-1, page=2, char_start=0, char_end=9, text="rehearsal", snippet="a rehearsal",
                         highlights=(Highlight(2, 11),), score=1.0)
        hit = Hit(document_id=-1, path=os.path.join(os.sep, "rehearsal.pdf"), title=None, kind="pdf",
                  mtime=1.0, score=1.0, chunks=(chunk, chunk))
        self.results.set_hits("rehearsal", [hit])
        pix = QPixmap(400, 300)
        painter = QPainter(pix)
        for index in (self.results.index(0), self.results.index(0, 0, self.results.index(0))):
            option = QStyleOptionViewItem()
            self.initViewItemOption(option)
            option.state |= QStyle.StateFlag.State_Selected | QStyle.StateFlag.State_MouseOver
            option.rect = QRect(QPoint(0, 0), self.delegate.sizeHint(option, index))
            self.delegate.paint(painter, option, index)
            self.delegate.more_rect(option.rect)
        painter.end()
        self.results.set_hits("", [])
        self.delegate.clear_cache()
        self._signature = None

    def selected(self) -> tuple[Hit | None, ChunkHit | None]:
        idx = self.currentIndex()
        if not idx.isValid():
            return None, None
        return idx.data(HIT_ROLE), idx.data(CHUNK_ROLE)

    def navigate(self, key: int) -> None:
        """Move the selection as if ``key`` (Up/Down/PageUp/PageDown) was pressed here."""
        actions = {Qt.Key.Key_Up: QAbstractItemView.CursorAction.MoveUp,
                   Qt.Key.Key_Down: QAbstractItemView.CursorAction.MoveDown,
                   Qt.Key.Key_PageUp: QAbstractItemView.CursorAction.MovePageUp,
                   Qt.Key.Key_PageDown: QAbstractItemView.CursorAction.MovePageDown}
        if self.results.rowCount() == 0 or key not in actions:
            return
        if not self.currentIndex().isValid():
            self.setCurrentIndex(self.results.index(0))
            return
        idx = self.moveCursor(actions[key], Qt.KeyboardModifier.NoModifier)
        if idx.isValid():
            self.setCurrentIndex(idx)
            self.scrollTo(idx)

    def open_current(self) -> bool:
        idx = self.currentIndex()
        if not idx.isValid() and self.results.rowCount():
            idx = self.results.index(0)
        return self._open(idx)

    def select_passage(self, document_id: int, chunk_id: int) -> None:
        """Select the row of that passage (a further passage opens its document's row up)."""
        row = self.results.row_of(document_id)
        if row is None:
            return
        top = self.results.index(row)
        chunks = top.data(HIT_ROLE).chunks
        at = next((i for i, c in enumerate(chunks) if c.chunk_id == chunk_id), None)
        if at is None:
            return
        if at > 0:
            self.setExpanded(top, True)
        target = top if at == 0 else self.results.index(at - 1, 0, top)
        if target != self.currentIndex():
            self.setCurrentIndex(target)
            self.scrollTo(target)

    def toggle_current(self) -> None:
        """Show or hide the other matching passages of the selected document."""
        idx = self.currentIndex()
        if idx.isValid() and idx.parent().isValid():
            idx = idx.parent()
        if idx.isValid() and self.results.rowCount(idx):
            self.setExpanded(idx, not self.isExpanded(idx))

    def keyPressEvent(self, event) -> None:
        key, text = event.key(), event.text()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_current()
            return
        if key in (Qt.Key.Key_Right, Qt.Key.Key_Left, Qt.Key.Key_Plus, Qt.Key.Key_Minus) and not event.modifiers():
            idx = self.currentIndex()
            top = idx.parent() if idx.isValid() and idx.parent().isValid() else idx
            if top.isValid() and self.results.rowCount(top):
                self.setExpanded(top, key in (Qt.Key.Key_Right, Qt.Key.Key_Plus))
                if key in (Qt.Key.Key_Left, Qt.Key.Key_Minus):
                    self.setCurrentIndex(top)
            return
        control = event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                                       | Qt.KeyboardModifier.MetaModifier)
        if text and text.isprintable() and not control:
            self.typed.emit(text)
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != self._last_width:
            self._relayout.start()

    def _layout_again(self) -> None:
        self._last_width = self.viewport().width()
        self.delegate.clear_cache()
        self.scheduleDelayedItemsLayout()

    def _open(self, idx) -> bool:
        if not idx.isValid():
            return False
        self.open_hit.emit(idx.data(HIT_ROLE), idx.data(CHUNK_ROLE))
        return True

    def _on_current(self, current, _previous) -> None:
        if current.isValid():
            self.current_hit.emit(current.data(HIT_ROLE), current.data(CHUNK_ROLE))
        else:
            self.current_hit.emit(None, None)
