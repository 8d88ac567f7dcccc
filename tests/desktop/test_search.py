"""Searching from the window: typing, results, empty states, filters, keyboard, reranking."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from gui_helpers import search_for, wait_idle
from memex.desktop.results import HTML_ROLE
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


def _names(hits) -> list[str]:
    return [os.path.basename(h.path) for h in hits]


def test_typed_query_finds_the_pdf_with_highlights(qtbot, make_window, corpus):
    window = make_window()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.search.field)  # focused on start
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    hits = search_for(qtbot, window, "hypersonic heat")
    assert _names(hits)[0] == "hypersonic-report.pdf"
    assert hits[0].page == 1
    html = window.search.view.results.index(0).data(HTML_ROLE)
    assert '">hypersonic</span>' in html  # the query word is marked in the snippet
    count = len(hits)
    assert window.search.count_label.text() == (f"{count} results" if count > 1 else "1 result")


def test_search_as_you_type_uses_the_last_word_as_a_prefix(qtbot, make_window, corpus):
    window = make_window()
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    hits = search_for(qtbot, window, "sourdo")  # half a word
    assert _names(hits)[0] == "bread.txt"
    assert any(c.lexical_rank is not None for c in hits[0].chunks)


def test_empty_states(qtbot, make_window, corpus):
    window = make_window()
    qtbot.waitUntil(lambda: window.search.state == "welcome")
    text = window.search.empty.text()
    assert "library is empty" in text and "Drop a folder" in text and "Add folder" in text
    assert window.search.empty.button.isVisible() and window.search.empty.button.text() == "Add folder"

    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.search.state == "ready")
    assert "Search 4 documents" in window.search.empty.text()

    # Only spreadsheets, and there are none: the query has no hits.
    window.search.type_filter.setCurrentIndex(window.search.type_filter.findText("Spreadsheets"))
    search_for(qtbot, window, "telescope budget")
    assert window.search.state == "no-hits"
    text = window.search.empty.text()
    assert "No matches for “telescope budget”" in text
    assert "fewer words" in text and "clear filters" in text

    window.search.empty.link_clicked.emit("clear")  # the suggestion's link works
    qtbot.waitUntil(lambda: window.search.state == "results")
    assert _names(window.search.view.results.hits())[0] == "meeting.md"


def test_filters_change_results(qtbot, make_window, corpus, tmp_path: Path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "old-heat-log.txt").write_text("Heat pump log: the heat exchanger was cleaned.\n", encoding="utf-8")
    two_years_ago = time.time() - 2 * 365 * 86400
    os.utime(other / "old-heat-log.txt", (two_years_ago, two_years_ago))
    window = make_window()
    window.add_paths([str(corpus), str(other)])
    wait_idle(qtbot, window)

    names = _names(search_for(qtbot, window, "heat"))
    assert {"hypersonic-report.pdf", "old-heat-log.txt"} <= set(names)

    search = window.search
    search.type_filter.setCurrentIndex(search.type_filter.findText("PDF"))
    qtbot.waitUntil(lambda: set(_names(search.view.results.hits())) == {"hypersonic-report.pdf"})
    assert search.clear_filters_link.isVisible()

    search.type_filter.setCurrentIndex(0)
    search.folder_filter.setCurrentIndex(search.folder_filter.findData(str(other)))
    qtbot.waitUntil(lambda: set(_names(search.view.results.hits())) == {"old-heat-log.txt"})

    search.folder_filter.setCurrentIndex(0)
    search.date_filter.setCurrentIndex(search.date_filter.findText("Past year"))
    qtbot.waitUntil(lambda: search.view.results.hits() and
                    "old-heat-log.txt" not in _names(search.view.results.hits()))
    assert "hypersonic-report.pdf" in _names(search.view.results.hits())


def test_keyboard_moves_through_results_and_enter_opens(qtbot, make_window, corpus, desktop_has_apps):
    window = make_window()
    opened: list = []
    window.opener.launch = lambda command: opened.append(command) or True
    window.opener.open_url = lambda path: opened.append(path) or True
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    hits = search_for(qtbot, window, "bread heat transfer")
    assert len(hits) >= 2
    view = window.search.view
    assert view.currentIndex().row() == 0  # the top hit is selected: Enter opens it

    qtbot.keyClick(window.search.field, Qt.Key.Key_Down)
    assert view.currentIndex().row() == 1
    qtbot.keyClick(window.search.field, Qt.Key.Key_Up)
    assert view.currentIndex().row() == 0
    qtbot.keyClick(window.search.field, Qt.Key.Key_PageDown)
    assert view.currentIndex().row() > 0
    qtbot.keyClick(window.search.field, Qt.Key.Key_PageUp)
    qtbot.keyClick(window.search.field, Qt.Key.Key_Down)
    second = view.selected()[0]
    assert second.path == hits[1].path

    qtbot.keyClick(window.search.field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(opened))
    assert second.path in str(opened[0])
    qtbot.waitUntil(lambda: "Opened" in window.status.message_text())


@pytest.mark.slow
def test_reranked_results_replace_fused_ones(qtbot, corpus, tmp_path, embedder, reranker_dir):
    from memex.core.library import Library
    from memex.desktop.main_window import MainWindow

    library = Library.open(tmp_path / "rr.db", embedder=embedder, reranker=str(reranker_dir))
    window = MainWindow(library, watch=False)
    try:
        qtbot.addWidget(window)
        window.show()
        window.add_paths([str(corpus)])
        wait_idle(qtbot, window)
        shown: list[tuple[str, bool]] = []
        window.search.results_shown.connect(
            lambda q, n: shown.append((q, all(h.reranked for h in window.search.view.results.hits()))))
        qtbot.keyClicks(window.search.field, "boundary layer")
        qtbot.waitUntil(lambda: ("boundary layer", True) in shown, timeout=20_000)
        first_for_query = next(flag for q, flag in shown if q == "boundary layer")
        assert first_for_query is False  # the fused ranking came first, without waiting
        assert all(h.reranked for h in window.search.view.results.hits())
        assert window.search.rerank_enabled
    finally:
        window.shutdown()
        window.close()
        library.close()


def test_stale_results_are_discarded(qtbot, make_window, corpus):
    window = make_window()
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    seen: list[str] = []
    window.search.results_shown.connect(lambda q, n: seen.append(q))
    field = window.search.field
    for text in ("tom", "tomatoes", "sourdough"):
        field.setText(text)
        window.search.search_now()  # no debounce: three searches in flight at once
    qtbot.waitUntil(lambda: window.search.view.results.query == "sourdough" and not window.tasks.busy("search"))
    assert seen[-1] == "sourdough"
    assert "tom" not in seen[seen.index("sourdough"):]
    assert _names(window.search.view.results.hits())[0] == "bread.txt"


@pytest.mark.slow
def test_window_gives_memory_back_once_searches_go_quiet(qtbot, make_window, corpus):
    window = make_window()
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.memory.releases >= 1, timeout=15_000)  # after indexing settled
    window.memory.after_search_ms = 300
    released = window.memory.releases
    hits = search_for(qtbot, window, "hypersonic heat")
    qtbot.waitUntil(lambda: window.memory.releases > released, timeout=10_000)
    assert search_for(qtbot, window, "sourdough") and hits  # still answering afterwards
