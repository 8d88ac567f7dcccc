"""Painting result rows: badge, file name, folder, page, date and the snippet as rich text
with the query's words marked. Rows are drawn once into cached pixmaps."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from memex.core.types import ChunkHit, Hit
from PySide6.QtCore import QEvent, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QPixmap,
    QTextDocument,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QToolTip

from . import fmt, style

if TYPE_CHECKING:
    from .results import ResultsView

CHUNK_ROLE = Qt.ItemDataRole.UserRole + 2
HIT_ROLE = Qt.ItemDataRole.UserRole + 1
HTML_ROLE = Qt.ItemDataRole.UserRole + 3
DIVIDER_ROLE = Qt.ItemDataRole.UserRole + 4  # True on the first result found by meaning alone
DIVIDER_TEXT = "Related — close in meaning, without your words"
PAD_X, PAD_Y, BADGE = 14, 10, 26
GAP = 12
TEXT_LEFT = PAD_X + BADGE + GAP
MAX_SNIPPET_LINES = 3
OCR_PAD, OCR_GAP = 5, 6  # inside the "OCR" mark, and between it and the text after it
CACHE_BYTES = 32 << 20  # painted rows kept for repaints (visible rows and some more)


def also_at_text(paths: tuple[str, ...]) -> str:
    """"also at other.pdf" / "also at 3 other places" (the same content in other files)."""
    if len(paths) == 1:
        return f"also at {fmt.file_name(paths[0])}"
    return f"also at {len(paths)} other places"


class ResultDelegate(QStyledItemDelegate):
    """Paints a document row (badge, name, folder, page, date, snippet) or a passage row.

    Rows are drawn once into cached pixmaps (keyed by query, passage, width and state), and
    their heights are estimated from font metrics: refreshing the results while indexing
    runs costs the GUI thread almost nothing when the rows did not change."""

    def __init__(self, view: ResultsView) -> None:
        super().__init__(view)
        self.view = view
        self._heights: dict[tuple, int] = {}
        self._pixmaps: OrderedDict[tuple, QPixmap] = OrderedDict()
        self._cached_bytes = 0
        self._font_key = ""
        self._fonts_cache: tuple[QFont, QFont, QFont] | None = None
        self._metrics: tuple[QFontMetrics, QFontMetrics, QFontMetrics] | None = None
        self._line = 18.0
        self._mark_font_cache: tuple[str, QFont, QFontMetrics] | None = None

    def clear_cache(self) -> None:
        self._heights.clear()
        self._pixmaps.clear()
        self._cached_bytes = 0

    def _fonts(self) -> tuple[QFont, QFont, QFont]:
        base = self.view.font()
        key = base.key()
        if key != self._font_key or self._fonts_cache is None:
            title = QFont(base)
            title.setPointSizeF(base.pointSizeF() + 1.5)
            title.setWeight(QFont.Weight.DemiBold)
            small = QFont(base)
            small.setPointSizeF(max(7.5, base.pointSizeF() - 1))
            self._fonts_cache = (title, small, base)
            self._metrics = (QFontMetrics(title), QFontMetrics(small), QFontMetrics(base))
            self._font_key = key
            probe = QTextDocument()  # rich text lines are taller than the font's line spacing
            probe.setDefaultFont(base)
            probe.setDocumentMargin(0)
            probe.setHtml(f'<span style="{style.mark_style()}">Xg</span><br>Xg<br>Xg<br>Xg')
            self._line = probe.size().height() / 4
        return self._fonts_cache

    def _fm(self) -> tuple[QFontMetrics, QFontMetrics, QFontMetrics]:
        self._fonts()
        return self._metrics

    def _text_width(self, top: bool, width: int | None = None) -> int:
        width = self.view.viewport().width() if width is None else width
        return width - TEXT_LEFT - PAD_X if top else width - TEXT_LEFT - PAD_X - 8

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        top = index.internalId() == 0
        viewport_w = self.view.viewport().width()
        width = self._text_width(top, viewport_w)
        chunk: ChunkHit = index.data(CHUNK_ROLE)
        key = (self.view.results.query, chunk.chunk_id, top, width)
        height = self._heights.get(key)
        if height is None:
            tfm, sfm, bfm = self._fm()
            box = bfm.boundingRect(QRect(0, 0, max(50, int(width * 0.93)), 10_000),
                                   int(Qt.TextFlag.TextWordWrap), chunk.snippet)
            lines = max(1, min(MAX_SNIPPET_LINES, -(-box.height() // bfm.lineSpacing())))
            snippet_h = int(lines * self._line + 0.999) + 2
            if top:
                height = PAD_Y + tfm.height() + 2 + sfm.height() + 6 + snippet_h + PAD_Y
                height += self.divider_height() if index.data(DIVIDER_ROLE) else 0
            else:
                height = 6 + sfm.height() + 2 + snippet_h + 8
            if len(self._heights) > 4000:
                self._heights.clear()
            self._heights[key] = height
        return QSize(viewport_w, height)

    def divider_height(self) -> int:
        return self._fm()[1].height() + 18

    def _draw_divider(self, painter: QPainter, rect: QRect, pal: QPalette) -> None:
        """"Related — …" across the row's top, a rule after it."""
        _, small, _ = self._fonts()
        _, sfm, _ = self._fm()
        painter.fillRect(QRect(rect.left(), rect.top(), rect.width(), self.divider_height()),
                         pal.color(QPalette.ColorRole.AlternateBase))
        painter.setFont(small)
        painter.setPen(style.muted_colour(pal))
        text = sfm.elidedText(DIVIDER_TEXT, Qt.TextElideMode.ElideRight, rect.width() - 2 * PAD_X)
        box = QRect(rect.left() + PAD_X, rect.top() + 9, rect.width() - 2 * PAD_X, sfm.height())
        painter.drawText(box, Qt.AlignmentFlag.AlignVCenter, text)
        x = box.left() + sfm.horizontalAdvance(text) + 10
        painter.setPen(pal.color(QPalette.ColorRole.Mid))
        painter.drawLine(x, box.center().y(), rect.right() - PAD_X, box.center().y())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        rect = option.rect
        top = index.internalId() == 0
        if top and index.data(DIVIDER_ROLE):
            pal = option.palette
            painter.save()
            self._draw_divider(painter, rect, pal)
            painter.restore()
            rect = rect.adjusted(0, self.divider_height(), 0, 0)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected or hovered:
            tint = QColor(style.ACCENT)
            tint.setAlpha(46 if selected else 16)
            painter.fillRect(rect, tint)
        if selected:
            painter.fillRect(QRect(rect.left(), rect.top(), 3, rect.height()), QColor(style.ACCENT))
        hit: Hit = index.data(HIT_ROLE)
        chunk: ChunkHit = index.data(CHUNK_ROLE)
        expanded = top and len(hit.chunks) > 1 and self.view.isExpanded(index)
        date = fmt.relative_time(hit.mtime) if top and hit.mtime and not fmt.is_message(hit) else ""
        dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        key = (self.view.results.query, hit.document_id, hit.path, chunk.chunk_id, top, rect.width(), rect.height(),
               expanded, date, dpr, style.is_dark(option.palette))
        pix = self._pixmaps.get(key)
        if pix is None:
            pix = QPixmap(int(rect.width() * dpr), int(rect.height() * dpr))
            pix.setDevicePixelRatio(dpr)
            pix.fill(Qt.GlobalColor.transparent)
            p = QPainter(pix)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
            self._draw(p, QRect(0, 0, rect.width(), rect.height()), option.palette, hit, chunk, top,
                       expanded, date, dpr, index.data(HTML_ROLE) or "")
            p.end()
            self._pixmaps[key] = pix
            self._cached_bytes += pix.width() * pix.height() * 4
            while self._cached_bytes > CACHE_BYTES and len(self._pixmaps) > 1:
                _, old = self._pixmaps.popitem(last=False)
                self._cached_bytes -= old.width() * old.height() * 4
        else:
            self._pixmaps.move_to_end(key)
        painter.drawPixmap(rect.topLeft(), pix)

    def _draw(self, painter: QPainter, rect: QRect, pal: QPalette, hit: Hit, chunk: ChunkHit, top: bool,
              expanded: bool, date: str, dpr: float, html: str) -> None:
        if top:
            x, y = self._draw_document_head(painter, rect, pal, hit, chunk, expanded, date, dpr)
        else:
            x, y = self._draw_passage_head(painter, rect, pal, hit, chunk)
        self._draw_snippet(painter, rect, pal, x, y, self._text_width(top, rect.width()), html)
        if top:
            painter.setPen(pal.color(QPalette.ColorRole.Midlight))
            painter.drawLine(rect.left() + PAD_X, rect.bottom(), rect.right() - PAD_X, rect.bottom())

    def _draw_document_head(self, painter: QPainter, rect: QRect, pal: QPalette, hit: Hit, chunk: ChunkHit,
                            expanded: bool, date: str, dpr: float) -> tuple[int, int]:
        """The badge, the name (a message's subject) and date, the folder (a message's sender
        and date) · page · "n more matches" line, after the OCR mark when OCR read the
        passage; returns where the snippet starts."""
        title_font, small, _ = self._fonts()
        tfm, sfm, _ = self._fm()
        muted = style.muted_colour(pal)
        labels = fmt.hit_labels(hit)
        y = rect.top() + PAD_Y
        badge = style.kind_badge(style.badge_label(hit.kind, hit.path), hit.kind, BADGE, dpr)
        painter.drawPixmap(rect.left() + PAD_X, y + 1, badge)
        x = rect.left() + TEXT_LEFT
        right = rect.right() - PAD_X
        date_w = sfm.horizontalAdvance(date)
        painter.setFont(small)
        painter.setPen(muted)
        painter.drawText(QRect(right - date_w, y, date_w, tfm.height()),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, date)
        painter.setFont(title_font)
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        mode = Qt.TextElideMode.ElideRight if labels.message else Qt.TextElideMode.ElideMiddle
        name = tfm.elidedText(labels.title, mode, max(20, right - x - date_w - 12))
        painter.drawText(QRect(x, y, right - x, tfm.height()), Qt.AlignmentFlag.AlignVCenter, name)
        y += tfm.height() + 2
        if chunk.ocr:
            x = self._draw_ocr_mark(painter, QRect(x, y, 0, sfm.height()), pal)
        page = fmt.page_label(hit.kind, chunk.page)
        meta_tail = [labels.date] if labels.date else []
        meta_tail += [page] if page else []
        more = len(hit.chunks) - 1
        if hit.also_at:
            meta_tail.append(also_at_text(hit.also_at))
        if more:
            meta_tail.append(f"{'▾' if expanded else '▸'} {more} more match{'es' if more != 1 else ''}")
        tail = "  ·  ".join(meta_tail)
        tail_w = sfm.horizontalAdvance(tail + "  ·  ") if tail else 0
        place = sfm.elidedText(labels.place, Qt.TextElideMode.ElideRight if labels.message
                               else Qt.TextElideMode.ElideMiddle, max(40, right - x - tail_w))
        painter.setFont(small)
        painter.setPen(muted)
        painter.drawText(QRect(x, y, right - x, sfm.height()), Qt.AlignmentFlag.AlignVCenter,
                         place + ("  ·  " + tail if tail else ""))
        return rect.left() + TEXT_LEFT, y + sfm.height() + 6

    def _mark_font(self) -> QFont:
        """The "OCR" mark's letters: a little smaller than the detail line's, and bolder."""
        small = self._fonts()[1]
        if self._mark_font_cache is None or self._mark_font_cache[0] != small.key():
            font = QFont(small)
            font.setPointSizeF(max(6.5, small.pointSizeF() - 1.5))
            font.setWeight(QFont.Weight.Bold)
            self._mark_font_cache = (small.key(), font, QFontMetrics(font))
        return self._mark_font_cache[1]

    def _ocr_mark_width(self) -> int:
        self._mark_font()
        return self._mark_font_cache[2].horizontalAdvance(fmt.OCR_MARK) + 2 * OCR_PAD

    def _draw_ocr_mark(self, painter: QPainter, line: QRect, pal: QPalette) -> int:
        """The small "OCR" mark at the start of ``line`` (the passage was read from the page
        image); returns where the line's text goes on."""
        box = QRect(line.left(), line.top() + 1, self._ocr_mark_width(), line.height() - 2)
        colour = QColor(style.ACCENT)
        painter.save()
        painter.setPen(colour)
        painter.setBrush(QColor(colour.red(), colour.green(), colour.blue(), 30))
        painter.drawRoundedRect(QRectF(box).adjusted(0.5, 0.5, -0.5, -0.5), 3, 3)
        painter.setFont(self._mark_font())
        painter.setPen(style.readable(colour, [pal.color(QPalette.ColorRole.Base)]))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, fmt.OCR_MARK)
        painter.restore()
        return box.right() + 1 + OCR_GAP

    def ocr_mark_rect(self, rect: QRect, index) -> QRect:
        """Where the row at ``rect`` shows its "OCR" mark (an empty rect when it has none)."""
        chunk: ChunkHit | None = index.data(CHUNK_ROLE)
        if chunk is None or not chunk.ocr:
            return QRect()
        tfm, sfm, _ = self._fm()
        if index.internalId() == 0:
            top = rect.top() + (self.divider_height() if index.data(DIVIDER_ROLE) else 0)
            return QRect(rect.left() + TEXT_LEFT, top + PAD_Y + tfm.height() + 2 + 1, self._ocr_mark_width(),
                         sfm.height() - 2)
        hit: Hit = index.data(HIT_ROLE)
        x = rect.left() + TEXT_LEFT + 8 + sfm.horizontalAdvance(self._passage_label(hit, chunk)) + OCR_GAP
        return QRect(x, rect.top() + 6 + 1, self._ocr_mark_width(), sfm.height() - 2)

    @staticmethod
    def _passage_label(hit: Hit, chunk: ChunkHit) -> str:
        page = fmt.page_label(hit.kind, chunk.page)
        return page.capitalize() if page else "Another passage"

    def _draw_passage_head(self, painter: QPainter, rect: QRect, pal: QPalette, hit: Hit,
                           chunk: ChunkHit) -> tuple[int, int]:
        """Another passage of the document: its page (indented, a line on its left); returns
        where the snippet starts."""
        _, small, _ = self._fonts()
        _, sfm, _ = self._fm()
        muted = style.muted_colour(pal)
        x = rect.left() + TEXT_LEFT + 8
        y = rect.top() + 6
        painter.setFont(small)
        painter.setPen(muted)
        label = self._passage_label(hit, chunk)
        painter.drawText(QRect(x, y, rect.right() - x, sfm.height()), Qt.AlignmentFlag.AlignVCenter, label)
        if chunk.ocr:
            self._draw_ocr_mark(painter, QRect(x + sfm.horizontalAdvance(label) + OCR_GAP, y, 0, sfm.height()), pal)
        painter.setPen(QColor(muted.red(), muted.green(), muted.blue(), 90))
        painter.drawLine(x - 8, rect.top() + 4, x - 8, rect.bottom() - 4)
        return x, y + sfm.height() + 2

    def _draw_snippet(self, painter: QPainter, rect: QRect, pal: QPalette, x: int, y: int, width: int,
                      html: str) -> None:
        """The snippet's rich text at (x, y), whole lines only, at most ``MAX_SNIPPET_LINES``."""
        doc = QTextDocument()
        doc.setDefaultFont(self._fonts()[2])
        doc.setDocumentMargin(0)
        doc.setHtml(html)
        doc.setTextWidth(max(50, width))
        room = min(doc.size().height(), self._line * MAX_SNIPPET_LINES, rect.bottom() - y)
        clip_h = max(self._line, int(room / self._line + 0.05) * self._line)  # whole lines only
        painter.save()
        painter.translate(x, y)
        ctx = QAbstractTextDocumentLayout.PaintContext()
        ctx.palette.setColor(QPalette.ColorRole.Text, pal.color(QPalette.ColorRole.Text))
        ctx.clip = QRectF(0, 0, width, clip_h)
        painter.setClipRect(ctx.clip)
        doc.documentLayout().draw(painter, ctx)
        painter.restore()

    def more_rect(self, rect: QRect) -> QRect:
        """Where the "n more matches" text is (the meta line), for clicks."""
        tfm, sfm, _ = self._fm()
        y = rect.top() + PAD_Y + tfm.height() + 2
        return QRect(rect.left() + TEXT_LEFT, y, rect.width() - TEXT_LEFT - PAD_X, sfm.height())

    def helpEvent(self, event, view, option, index) -> bool:  # noqa: N802 - Qt's name
        """Hovering the "OCR" mark says what it means; elsewhere the row's own tooltip."""
        if (event is not None and event.type() == QEvent.Type.ToolTip and index.isValid()
                and self.ocr_mark_rect(option.rect, index).contains(event.pos())):
            QToolTip.showText(event.globalPos(), fmt.OCR_TIP, view, self.ocr_mark_rect(option.rect, index))
            return True
        return super().helpEvent(event, view, option, index)

    def editorEvent(self, event, model, option, index) -> bool:
        if (event.type() == QEvent.Type.MouseButtonRelease and index.internalId() == 0
                and model.rowCount(index) > 0
                and self.more_rect(option.rect.adjusted(0, self.divider_height() if index.data(DIVIDER_ROLE) else 0,
                                                        0, 0)).contains(event.position().toPoint())):
            self.view.setExpanded(index, not self.view.isExpanded(index))
            return True
        return super().editorEvent(event, model, option, index)
