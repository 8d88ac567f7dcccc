"""The preview of the selected result: its page's text with the passage and the query's words
marked, and — for PDFs, other paged formats and pictures — the page itself, drawn in the
background by the library's preview process (a file that hangs or crashes it shows an error
instead). On a scanned page or a picture the words OCR read are marked from their boxes. A
message's header names its subject, sender and date; a document inside another file (a
message in a mailbox, an attachment) shows its text."""

from __future__ import annotations

from memex.core.api import RenderedPage, query_terms
from memex.core.library import Library
from memex.core.types import ChunkHit, Hit
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QStackedWidget,
    QTabWidget,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import fmt, style
from .empty_state import EmptyState
from .fitting import FlowLayout
from .plain import make_plain, set_tooltip
from .preview_text import header_texts, page_html, renderable
from .tasks import TaskManager, describe_error

RERENDER_MS = 250
def _framed(pix: QPixmap) -> QPixmap:
    """The page with a thin grey border, so white pages stand out from the background."""
    framed = QPixmap(pix.width() + 2, pix.height() + 2)
    framed.fill(QColor("#c9ced6"))
    painter = QPainter(framed)
    painter.drawPixmap(1, 1, pix)
    painter.end()
    return framed


class PreviewPanel(QWidget):
    open_requested = Signal(object, object)  # Hit, ChunkHit
    reveal_requested = Signal(str)
    copy_requested = Signal(str)
    text_shown = Signal(str)  # the HTML put in the text view (tests, accessibility)
    page_shown = Signal(int, int)  # document id, page number, once its image is in place
    page_failed = Signal(str)  # why the page could not be drawn (shown in place of the image)
    passage_chosen = Signal(object, object)  # Hit, ChunkHit: moved to with the match buttons or F3

    def __init__(self, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PreviewPanel")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.tasks = tasks
        self.library: Library | None = None
        self.hit: Hit | None = None
        self.chunk: ChunkHit | None = None
        self.query = ""
        self.page = 1  # the page shown (the passage's, or one reached with the page buttons)
        self.page_count: int | None = None
        self._count_for: int | None = None  # the document page_count is of
        self._token: tuple | None = None
        self._rendered_width = 0
        self.prefer_page = True
        self.zoom = 1.0  # 1.0: the text columns fill the pane
        self.last_render: RenderedPage | None = None

        header = self._build_header()
        tabs = self._build_tabs()
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.setSpacing(0)
        content_layout.addWidget(header)
        content_layout.addWidget(tabs, 1)

        self.empty = EmptyState()
        self.empty.show_message("Nothing selected", "Pick a result to read the passage in context here.")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)

        self._rerender = QTimer(self, singleShot=True, interval=RERENDER_MS)
        self._rerender.timeout.connect(self._render_if_resized)

    # -- building -------------------------------------------------------------------------
    def _build_header(self) -> QWidget:
        """The file's name, its folder and date, and the Open / Show in folder / Copy path buttons."""
        self.title = QLabel(objectName="PreviewTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.meta = QLabel(objectName="PreviewMeta")
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        make_plain(self.title, self.meta)  # a file or folder name is never markup
        self._header_texts = ("", "", "")  # name, folder, the rest: in full (shown shortened to fit)
        self._header_message = False  # a mail message: its subject and sender shortened at their ends
        self.open_button = QToolButton(text="Open")
        self.reveal_button = QToolButton(text="Show in folder")
        self.copy_button = QToolButton(text="Copy path")
        for b in (self.open_button, self.reveal_button, self.copy_button):
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.setCursor(Qt.CursorShape.PointingHandCursor)
        self.open_button.setToolTip("Open in the default application (Ctrl+O)")
        self.open_button.setShortcut("Ctrl+O")
        self.open_button.clicked.connect(lambda: self.hit and self.open_requested.emit(self.hit, self.chunk))
        self.reveal_button.clicked.connect(lambda: self.hit and self.reveal_requested.emit(self._file_path()))
        self.copy_button.clicked.connect(lambda: self.hit and self.copy_requested.emit(self._file_path()))

        header = QWidget(objectName="PreviewHeader")
        head = QVBoxLayout(header)
        head.setContentsMargins(16, 12, 16, 10)
        head.setSpacing(4)
        head.addWidget(self.title)
        head.addWidget(self.meta)
        buttons = FlowLayout(spacing=6)
        buttons.setContentsMargins(0, 6, 0, 0)
        for b in (self.open_button, self.reveal_button, self.copy_button):
            buttons.add_widget(b)
        head.addLayout(buttons)
        head.addLayout(self._build_navigation())
        return header

    def _build_navigation(self) -> FlowLayout:
        """Previous/next matching passage (F3, Shift+F3) and previous/next page (Ctrl+PgUp/PgDown)."""
        self.prev_match = QToolButton(text="‹", toolTip="Previous match (Shift+F3)", autoRaise=True)
        self.next_match = QToolButton(text="›", toolTip="Next match (F3)", autoRaise=True)
        self.match_info = QLabel(objectName="PreviewMeta")
        self.prev_page = QToolButton(text="‹", toolTip="Previous page (Ctrl+Page Up)", autoRaise=True)
        self.next_page = QToolButton(text="›", toolTip="Next page (Ctrl+Page Down)", autoRaise=True)
        self.page_nav_info = QLabel(objectName="PreviewMeta")
        self.prev_match.clicked.connect(lambda: self.step_match(-1))
        self.next_match.clicked.connect(lambda: self.step_match(1))
        self.prev_page.clicked.connect(lambda: self.step_page(-1))
        self.next_page.clicked.connect(lambda: self.step_page(1))
        nav = FlowLayout(spacing=2)
        matches, pages = QWidget(), QWidget()
        for box, widgets in ((matches, (self.prev_match, self.match_info, self.next_match)),
                             (pages, (self.prev_page, self.page_nav_info, self.next_page))):
            row = QHBoxLayout(box)
            row.setContentsMargins(0, 0, 12, 0)
            row.setSpacing(2)
            for w in widgets:
                row.addWidget(w)
            nav.add_widget(box)
        return nav

    def _update_navigation(self) -> None:
        hit, chunk = self.hit, self.chunk
        chunks = hit.chunks if hit is not None else ()
        at = next((i for i, c in enumerate(chunks) if chunk is not None and c.chunk_id == chunk.chunk_id), -1)
        self.match_info.setText(f"match {at + 1} of {len(chunks)}" if at >= 0 else f"{len(chunks)} matches")
        self.prev_match.setEnabled(at > 0)
        self.next_match.setEnabled(0 <= at < len(chunks) - 1 or (at < 0 and bool(chunks)))
        count = self.page_count
        self.page_nav_info.setText(f"page {self.page} of {count}" if count else f"page {self.page}")
        self.prev_page.setEnabled(self.page > 1)
        self.next_page.setEnabled(count is None or self.page < count)

    def step_match(self, step: int) -> None:
        """Show the document's next (1) or previous (-1) matching passage."""
        if self.hit is None:
            return
        chunks = self.hit.chunks
        at = next((i for i, c in enumerate(chunks) if self.chunk is not None and c.chunk_id == self.chunk.chunk_id),
                  -1 if step > 0 else len(chunks))
        target = at + step
        if 0 <= target < len(chunks):
            self.show_hit(self.hit, chunks[target], self.query)
            self.passage_chosen.emit(self.hit, chunks[target])

    def step_page(self, step: int) -> None:
        """Show the next (1) or previous (-1) page of the document, the query's words marked."""
        if self.hit is None or self.library is None:
            return
        page = self.page + step
        if page < 1 or (self.page_count is not None and page > self.page_count):
            return
        self.page = page
        self._token = (self.hit.document_id, self.hit.path, self.hit.mtime, None, self.query, page)
        self.chunk = next((c for c in self.hit.chunks if c.page == page), None)
        self._show_page(self._token, page)

    def _build_tabs(self) -> QTabWidget:
        """"Text" (the page's text, the passage marked) and "Page" (the page drawn)."""
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.document().setDocumentMargin(16)
        page_tab = self._build_page_tab()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.text, "Text")
        self.tabs.addTab(page_tab, "Page")
        self.tabs.tabBarClicked.connect(lambda i: setattr(self, "prefer_page", i == 1))
        return self.tabs

    def _build_page_tab(self) -> QWidget:
        """The page image in a scroll area under a bar with the page number and the zoom buttons."""
        self.page_label = QLabel(alignment=Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.page_label.setContentsMargins(12, 12, 12, 12)
        self.page_scroll = QScrollArea(objectName="PageView")
        self.page_scroll.setWidgetResizable(True)
        self.page_scroll.setWidget(self.page_label)
        self.page_scroll.viewport().installEventFilter(self)
        self.page_info = QLabel(objectName="PreviewMeta")
        make_plain(self.page_label, self.page_info)  # the error shown in place of a page quotes paths
        self.zoom_out = QToolButton(text="−", toolTip="Smaller (Ctrl+wheel)", autoRaise=True)
        self.zoom_fit = QToolButton(text="Fit", toolTip="Fit the text to the pane", autoRaise=True)
        self.zoom_in = QToolButton(text="+", toolTip="Larger (Ctrl+wheel)", autoRaise=True)
        self.zoom_out.clicked.connect(lambda: self.set_zoom(self.zoom / 1.25))
        self.zoom_fit.clicked.connect(lambda: self.set_zoom(1.0))
        self.zoom_in.clicked.connect(lambda: self.set_zoom(self.zoom * 1.25))
        page_bar = QHBoxLayout()
        page_bar.setContentsMargins(12, 4, 8, 4)
        page_bar.addWidget(self.page_info)
        page_bar.addStretch(1)
        for b in (self.zoom_out, self.zoom_fit, self.zoom_in):
            page_bar.addWidget(b)
        page_tab = QWidget()
        page_layout = QVBoxLayout(page_tab)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.setSpacing(0)
        page_layout.addLayout(page_bar)
        page_layout.addWidget(self.page_scroll, 1)
        return page_tab

    # -- from the window ------------------------------------------------------------------
    def set_library(self, library: Library | None) -> None:
        self.library = library  # its preview process starts with the first page drawn

    def show_hit(self, hit: Hit | None, chunk: ChunkHit | None, query: str) -> None:
        token = (hit.document_id, hit.path, hit.mtime, chunk.chunk_id, query) if hit and chunk else None
        if token == self._token:
            return
        self._token = token
        self.hit, self.chunk, self.query = hit, chunk, query
        if hit is None or chunk is None or self.library is None:
            self.stack.setCurrentIndex(0)
            return
        self.stack.setCurrentIndex(1)
        set_tooltip(self.title, fmt.hit_tooltip(hit))
        self._header_texts = header_texts(hit, chunk)
        self._header_message = fmt.is_message(hit)
        self._fit_header()
        if self._count_for != hit.document_id:  # another document: its page count is not known yet
            self.page_count, self._count_for = None, hit.document_id
        self.page = chunk.page
        self._show_page(token, chunk.page)

    def _show_page(self, token, page: int) -> None:
        hit, chunk, query = self.hit, self.chunk, self.query
        if hit is None:
            return
        self._update_navigation()
        self._load_text(token, hit, chunk, query, page)
        drawn = renderable(hit)
        self.tabs.setTabEnabled(1, drawn)
        self.tabs.setCurrentIndex(1 if drawn and self.prefer_page else 0)
        self.page_label.setPixmap(QPixmap())
        if drawn:
            self.page_label.setText("Drawing the page…")
            self._render(token)
        else:
            self.page_label.setText("")

    # -- text -----------------------------------------------------------------------------
    def _load_text(self, token, hit: Hit, chunk: ChunkHit | None, query: str, page: int) -> None:
        library, mark, passage = self.library, style.mark_style(), style.passage_style()
        self.text.setPlainText("")

        def work() -> tuple[str, int | None]:
            text = library.page_text(hit.document_id, page)
            if not text.strip() and chunk is not None:
                text = chunk.text
            document = library.document(hit.path)
            return page_html(text, chunk.text if chunk else "", query, mark, passage), (
                document.pages if document is not None else None)

        def done(answer: tuple[str, int | None]) -> None:
            if token != self._token:
                return
            html, pages = answer
            if pages:
                self.page_count = pages
                self._update_navigation()
            self.text.setHtml(html)
            QTimer.singleShot(0, lambda: self.text.scrollToAnchor("passage"))
            self.text_shown.emit(html)

        def failed(exc: BaseException) -> None:
            if token == self._token:
                self.text.setPlainText(f"The text of this page cannot be shown: {describe_error(exc)}")

        self.tasks.run(work, done, failure=failed, lane="read", key="preview-text")

    # -- page image -----------------------------------------------------------------------
    def _target_width(self) -> int:
        scrollbar = self.page_scroll.verticalScrollBar().sizeHint().width()
        return int(max(200, self.page_scroll.width() - 24 - scrollbar - 4) * self.zoom)

    def set_zoom(self, zoom: float) -> None:
        zoom = max(0.5, min(4.0, zoom))
        if abs(zoom - self.zoom) > 1e-3:
            self.zoom = zoom
            self._render(self._token)

    def eventFilter(self, watched, event) -> bool:
        if (watched is self.page_scroll.viewport() and event.type() == QEvent.Type.Wheel
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self.set_zoom(self.zoom * (1.15 if event.angleDelta().y() > 0 else 1 / 1.15))
            return True
        return super().eventFilter(watched, event)

    def _render(self, token) -> None:
        hit, library = self.hit, self.library
        if hit is None or library is None:
            return
        width = self._target_width()
        ratio = self.devicePixelRatioF()
        terms = query_terms(self.query)
        path, page = hit.path, self.page

        def done(rendered: RenderedPage) -> None:
            if token != self._token:
                return
            pix = QPixmap()
            pix.loadFromData(rendered.png, "PNG")
            pix = _framed(pix)
            pix.setDevicePixelRatio(ratio)
            self.page_label.setPixmap(pix)
            self._rendered_width = width
            self.page_info.setText(f"Page {page} of {rendered.page_count}")
            self.page_count = rendered.page_count
            self._update_navigation()
            if rendered.matches:
                top = min(box[1] for box in rendered.matches) / ratio
                left = min(box[0] for box in rendered.matches) / ratio
                QTimer.singleShot(0, lambda: self._scroll_to(left, top))
            else:
                self.page_scroll.verticalScrollBar().setValue(0)
            self.last_render = rendered
            self.page_shown.emit(hit.document_id, page)

        def failed(exc: BaseException) -> None:
            if token == self._token:
                self.last_render = None
                self.page_info.setText(f"Page {page}")
                self.page_label.setText(f"This page cannot be shown: {describe_error(exc)}")  # replaces the image
                self.page_failed.emit(describe_error(exc))

        def draw() -> RenderedPage:  # on the render lane: the OCR words too come from the library file there
            ocr = library.ocr_words(path, page)
            return library.render_page(path, page, terms, int(width * ratio), crop_margins=True, ocr=ocr)

        self.tasks.run(draw, done, failure=failed, lane="render", key="render")

    def _file_path(self) -> str:
        """The file on disk the shown document is (or is inside: a message in a mailbox)."""
        return "" if self.hit is None else self.hit.container or self.hit.path

    def _scroll_to(self, x: float, y: float) -> None:
        self.page_scroll.verticalScrollBar().setValue(int(max(0, y - 80)))
        bar = self.page_scroll.horizontalScrollBar()
        bar.setValue(int(max(0, x - 40)) if bar.maximum() else 0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_header()
        self._rerender.start()

    def _fit_header(self) -> None:
        """The name and its folder, shortened to the pane's width (a long name is not cut off)."""
        width = max(40, self.width() - 32)  # the header's margins
        title, folder, rest = self._header_texts
        self.title.ensurePolished()  # the style sheet's font, before measuring with it
        self.meta.ensurePolished()
        # a file's name keeps its end (the type), a subject its start; a sender comes before the date
        mode = Qt.TextElideMode.ElideRight if self._header_message else Qt.TextElideMode.ElideMiddle
        self.title.setText(self.title.fontMetrics().elidedText(title, mode, width))
        metrics = self.meta.fontMetrics()
        if not self._header_message:
            room = max(40, width - metrics.horizontalAdvance(rest))
            folder = metrics.elidedText(folder, Qt.TextElideMode.ElideMiddle, room)
        self.meta.setText(metrics.elidedText(folder + rest, Qt.TextElideMode.ElideRight, width))
        whole = self._header_texts[1] + rest
        set_tooltip(self.meta, whole if self.meta.text() != whole else "")

    def _render_if_resized(self) -> None:
        if self.hit is None or not renderable(self.hit) or not self._rendered_width:
            return
        if abs(self._target_width() - self._rendered_width) > self._rendered_width * 0.1:
            self._render(self._token)
