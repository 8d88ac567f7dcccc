"""The search box, the filters and the results (or an empty state in their place).

Typing restarts a short timer; when it fires the query runs on the ``search`` lane (only the
newest queued query runs). The fused ranking is shown as soon as it arrives; when a reranker
is configured the same hits are re-ordered on the ``rerank`` lane and swapped in if the query
is still the same — nobody waits for the reranker.
"""

from __future__ import annotations

import dataclasses
import html

from memex.core.errors import MemexError, ModelError
from memex.core.library import Library
from memex.core.types import Hit, SearchFilters, SearchResults, Source
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from . import fmt, style
from .empty_state import EmptyState
from .filter_bar import FilterBar
from .fitting import ElidedLabel
from .results import ResultsView
from .search_field import SearchField
from .tasks import TaskManager, describe_error

DEBOUNCE_MS = 150
RESULTS_K = 50


def sorted_hits(hits: list[Hit], order: str) -> list[Hit]:
    """``hits`` in ``order``: as ranked ("relevance"), or newest first ("date") — those with
    the query's words before those related by meaning, either way."""
    if order != "date":
        return list(hits)
    return sorted(hits, key=lambda h: (h.related, -h.mtime))


class SearchPanel(QWidget):
    hit_changed = Signal(object, object, str)  # Hit | None, ChunkHit | None, query
    open_requested = Signal(object, object)  # Hit, ChunkHit
    add_folder_requested = Signal()
    results_shown = Signal(str, int)  # query, number of hits (after each update)
    reranked = Signal(str)
    error = Signal(str)

    def __init__(self, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SearchPanel")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.tasks = tasks
        self.library: Library | None = None
        self.state = "opening"
        self.documents = 0
        self.counted = False  # the library's counts have arrived (until then nothing is claimed)
        self.order = "relevance"
        self._results = SearchResults("", ())
        self.indexing = False
        self.rerank_enabled = True
        self._generation = 0
        self._user_moved = False
        self._setting_hits = False
        self._shown_query = ""
        self._open_when_shown: str | None = None
        self._source_paths: list[str] | None = None

        self.field = SearchField()
        bar = self._build_filter_bar()
        self._build_layout(bar)
        self._connect()
        self._show_state()

    # -- building -------------------------------------------------------------------------
    def _build_filter_bar(self) -> QWidget:
        """The filters and the order (see ``FilterBar``), reached here by their names."""
        bar = FilterBar()
        self.folder_filter, self.type_filter = bar.folder_filter, bar.type_filter
        self.date_filter, self.sort_order = bar.date_filter, bar.sort_order
        self.clear_filters_link = bar.clear_filters_link
        self.clear_filters_link.linkActivated.connect(lambda _=None: self.clear_filters())
        self.filter_bar = bar
        return bar

    def _build_results_header(self) -> QWidget:
        """"Showing results for …" (a corrected query) and the number of results."""
        self.showing_for = ElidedLabel(objectName="ShowingFor")
        self.count_label = ElidedLabel(objectName="ResultCount")
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        header = QWidget(objectName="ResultsHeader")
        row = QHBoxLayout(header)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(12)
        self.count_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        row.addWidget(self.showing_for, 1)
        row.addWidget(self.count_label, 0)
        return header

    def _build_layout(self, bar: QWidget) -> None:
        """The search box and the filter bar above the results (or the empty state in their place)."""
        self.view = ResultsView()
        self.empty = EmptyState()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.view)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(16, 14, 16, 10)
        top_layout.setSpacing(10)
        top_layout.addWidget(self.field)
        top_layout.addWidget(bar)
        top_layout.addWidget(self._build_results_header())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(top)
        layout.addWidget(self.stack, 1)

    def _connect(self) -> None:
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self.search_now)
        self.field.textChanged.connect(self._on_text)
        self.field.navigate.connect(self.view.navigate)
        self.field.submit.connect(self._submit)
        for combo in (self.folder_filter, self.type_filter, self.date_filter):
            combo.currentIndexChanged.connect(self._on_filters)
            combo.view().ensurePolished()  # build the popup now, not when the first folder arrives
        self.sort_order.currentIndexChanged.connect(lambda _i: self.set_order(self.sort_order.currentData()))
        self.field.expand.connect(self.view.toggle_current)
        self.view.typed.connect(self._type_into_field)
        self.view.current_hit.connect(self._on_current)
        self.view.open_hit.connect(self.open_requested)
        self.empty.button_clicked.connect(self.add_folder_requested)
        self.empty.link_clicked.connect(self._on_link)
        QShortcut(QKeySequence("Ctrl+L"), self, activated=self.focus_search)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self, activated=self.focus_search)

    # -- from the window ------------------------------------------------------------------
    def set_library(self, library: Library | None) -> None:
        self.library = library
        self._show_state()

    def set_library_state(self, documents: int, indexing: bool) -> None:
        changed = (documents != self.documents) or (indexing != self.indexing) or not self.counted
        self.documents, self.indexing, self.counted = documents, indexing, True
        if changed and self.state not in ("results", "no-hits"):
            self._show_state()

    def set_sources(self, sources: list[Source]) -> None:
        paths = [s.path for s in sources]
        if paths == self._source_paths:
            return
        self._source_paths = paths
        if self.state not in ("results", "no-hits"):
            self._show_state()
        if self.filter_bar.set_folders(sources):  # the folder chosen is gone: search everywhere
            self._on_filters()

    def focus_search(self) -> None:
        self.field.setFocus()
        self.field.selectAll()

    def _type_into_field(self, text: str) -> None:
        """Keys typed while the results have the focus: they go on the query."""
        self.field.setFocus()
        self.field.deselect()
        self.field.end(False)
        self.field.insert(text)

    def set_order(self, order: str) -> None:
        """Best match first ("relevance") or newest first ("date"); the results shown re-ordered."""
        if order == self.order:
            return
        self.order = order
        self.sort_order.blockSignals(True)
        self.sort_order.setCurrentIndex(max(0, self.sort_order.findData(order)))
        self.sort_order.blockSignals(False)
        if self._results.hits:
            keep = self._selected_document()
            self._set_results(self._results, keep)

    def query(self) -> str:
        return self.field.text()

    def filters(self) -> SearchFilters:
        return self.filter_bar.filters()

    def clear_filters(self) -> None:
        self.filter_bar.reset()
        self._on_filters()

    def refresh(self) -> None:
        """Run the current query again (the library changed), keeping the selection."""
        if self.field.text().strip() and self.library is not None:
            self.search_now(keep_selection=True)

    # -- searching ------------------------------------------------------------------------
    def _on_text(self, _text: str) -> None:
        self._debounce.start()

    def _on_filters(self, *_args) -> None:
        self.clear_filters_link.setVisible(self.filters().active)
        self._debounce.stop()
        self.search_now(keep_selection=True)

    def search_now(self, keep_selection: bool = False) -> None:
        self._debounce.stop()
        self._generation += 1
        generation = self._generation
        query = self.field.text()
        library = self.library
        if not query.strip() or library is None:
            self._shown_query = ""
            self._set_hits(query, [])
            self._show_state()
            return
        if not keep_selection:
            self._user_moved = False
        keep = self._selected_document() if keep_selection else None
        filters = self.filters()
        self.tasks.run(
            lambda: library.find(query, RESULTS_K, filters=filters, mode="hybrid", rerank=False,
                                 prefix_last=True),
            lambda results: self._on_hits(generation, query, results, keep),
            failure=lambda exc: self._on_failed(generation, exc), lane="search", key="search")

    def _on_hits(self, generation: int, query: str, results: SearchResults, keep: int | None) -> None:
        if generation != self._generation:
            return  # the query changed meanwhile
        hits = list(results.hits)
        self._set_results(results, keep if self._user_moved else None)
        self._shown_query = query
        self._show_state()
        self.results_shown.emit(query, len(hits))
        if self._open_when_shown is not None:
            if self._open_when_shown == query and hits:
                self.view.open_current()
            self._open_when_shown = None
        if hits and self.rerank_enabled and self.library is not None:
            library = self.library

            def rerank():
                if library.reranker is None:
                    return None
                exact = library.rerank(results.showing_results_for or query, [h for h in hits if not h.related])
                return exact + [h for h in hits if h.related]  # related ones stay under their divider

            self.tasks.run(rerank, lambda ranked: self._on_reranked(generation, query, ranked),
                           failure=self._on_rerank_failed, lane="rerank", key="rerank")

    def _on_reranked(self, generation: int, query: str, hits: list[Hit] | None) -> None:
        if hits is None:
            self.rerank_enabled = False  # no reranker configured: stop asking
            return
        if generation != self._generation:
            return
        keep = self._selected_document() if self._user_moved else None
        self._set_results(dataclasses.replace(self._results, hits=tuple(hits)), keep)
        self.results_shown.emit(query, len(hits))
        self.reranked.emit(query)

    def _on_rerank_failed(self, exc: BaseException) -> None:
        self.rerank_enabled = False
        self.error.emit(f"Reranking is off for now: {describe_error(exc)}" if isinstance(exc, ModelError)
                        else f"Reranking failed, showing results unreranked: {describe_error(exc)}")

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._set_hits(self.field.text(), [])
        self._shown_query = self.field.text()
        if isinstance(exc, MemexError) and not isinstance(exc, ModelError):  # e.g. type:xyz, a bad date
            self.state = "no-hits"
            self.empty.show_message("Nothing searched yet", detail=str(exc))
            self.stack.setCurrentWidget(self.empty)
            return
        self.state = "error"
        self.empty.show_message("Search did not work", html.escape(describe_error(exc)))
        self.stack.setCurrentWidget(self.empty)
        self.error.emit(describe_error(exc))

    def _set_hits(self, query: str, hits: list[Hit], keep: int | None = None) -> None:
        self._set_results(SearchResults(query, tuple(hits)), keep)

    def _set_results(self, results: SearchResults, keep: int | None = None) -> None:
        """Show ``results`` in the chosen order, with the number found and the query run."""
        self._results = results
        query, hits = results.query, sorted_hits(list(results.hits), self.order)
        self._setting_hits = True
        try:
            self.view.set_hits(query, hits, keep)
        finally:
            self._setting_hits = False
        exact, related = len(results.exact), len(results.related)
        if not query.strip() or not hits:
            count = ""
        elif exact:
            count = fmt.count(exact, "result") + (f" · {related:,} related" if related else "")
        else:
            count = f"No exact matches · {related:,} related"
        self.count_label.set_full_text(count, "" if exact or not hits else
                                       "None of these contain your words; they are close in meaning.")
        corrected = results.showing_results_for if hits or results.showing_results_for else None
        self.showing_for.set_full_text(f"Showing results for “{corrected}”" if corrected else "")
        self.showing_for.setVisible(bool(corrected))
        hit, chunk = self.view.selected()
        self.hit_changed.emit(hit, chunk, results.showing_results_for or query)

    def _selected_document(self) -> int | None:
        hit, _ = self.view.selected()
        return hit.document_id if hit is not None else None

    def _on_current(self, hit, chunk) -> None:
        if self._setting_hits:
            return
        self._user_moved = True
        self.hit_changed.emit(hit, chunk, self.view.results.query)

    def _submit(self) -> None:
        if self._debounce.isActive() or self._shown_query != self.field.text():
            self.search_now()  # Enter before the results caught up: open once they are here
            self._open_when_shown = self.field.text()
            return
        self.view.open_current()

    def _on_link(self, href: str) -> None:
        if href == "clear":
            self.clear_filters()
        elif href == "add":
            self.add_folder_requested.emit()

    # -- what to show ---------------------------------------------------------------------
    def _show_state(self) -> None:
        query = self.field.text().strip()
        if self.library is None or not self.counted:
            self.state = "opening"
            self.empty.show_message("Opening your library…")
        elif query and self.view.results.rowCount():
            self.state = "results"
            self.stack.setCurrentWidget(self.view)
            return
        elif query and self._shown_query == self.field.text():
            self.state = "no-hits"
            self.empty.show_message(f"No matches for “{self.field.text().strip()}”", self._no_hits_help())
        elif query:
            return  # results on their way: keep what is shown
        elif self.documents == 0 and self.indexing and self._source_paths:
            self.state = "indexing-empty"
            self.empty.show_message(
                "Reading your files…",
                "Results appear here as soon as the first files are indexed. You can start typing now.")
        elif self.documents == 0:
            self.state = "welcome"
            self.empty.show_message(
                "Your library is empty",
                "Drop a folder anywhere on this window, or click <b>Add folder</b>. Memex reads every "
                "document in it — PDFs, Office files, e-books, notes, code — and keeps it up to date. "
                "Nothing leaves this computer.",
                button="Add folder", icon=style.app_icon().pixmap(72, 72))
        else:
            self.state = "ready"
            what = fmt.count(self.documents, "document")
            self.empty.show_message(
                f"Search the {what} indexed so far" if self.indexing else f"Search {what}",
                "Type words you remember, or describe what a passage was about.<br>"
                "<b>↑</b> <b>↓</b> move through results · <b>Enter</b> opens · <b>Esc</b> clears")
        self.stack.setCurrentWidget(self.empty)

    def _no_hits_help(self) -> str:
        tips = ["Try fewer words, other words for the same idea, or check the spelling."]
        if self.filters().active:
            tips.append('Filters are on: <a href="clear">clear filters</a> to search everything.')
        if self.indexing:
            tips.append("Some files are still being indexed — what you want may not be in yet.")
        if self.documents == 0:
            tips.append('The library is empty: <a href="add">add a folder</a> first.')
        return "<br>".join(tips)
