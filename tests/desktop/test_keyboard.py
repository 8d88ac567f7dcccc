"""Keyboard first: typing in the result list goes to the search box, → shows a result's other
matches, F3 and Ctrl+PgUp/PgDown move through matches and pages in the preview, "/" (and
Ctrl+L, Ctrl+F) reach the search box from anywhere, the last query and panes come back."""

from __future__ import annotations

from docgen import make_pdf
from gui_helpers import search_for, wait_idle
from PySide6.QtCore import Qt

PAGES = ["Cover page of the glacier survey.",
         "Glacier ice flows slowly downhill; crevasses open where the glacier bends.",
         "Nothing on this page but weather tables.",
         "The glacier retreated twelve metres, and new crevasses appeared near the snout."]


def _indexed(qtbot, make_window, corpus):
    make_pdf(corpus / "glacier.pdf", PAGES, title="Glacier survey")
    window = make_window()
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    return window


def test_typing_in_the_result_list_goes_to_the_search_box(qtbot, make_window, corpus):
    window = _indexed(qtbot, make_window, corpus)
    search_for(qtbot, window, "glacier")
    view = window.search.view
    view.setFocus()
    qtbot.keyClicks(view, " crevasses")
    assert window.search.field.text() == "glacier crevasses"
    assert window.search.field.hasFocus()


def test_more_matches_open_and_close_with_a_key(qtbot, make_window, corpus):
    window = _indexed(qtbot, make_window, corpus)
    hits = search_for(qtbot, window, "glacier crevasses")
    assert len(hits[0].chunks) > 1
    view, field = window.search.view, window.search.field
    top = view.results.index(0)
    qtbot.keyClick(field, Qt.Key.Key_Right)  # at the end of the query: the current result opens up
    assert view.isExpanded(top)
    qtbot.keyClick(field, Qt.Key.Key_Right)
    assert not view.isExpanded(top)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.isExpanded(top)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert not view.isExpanded(top)


def test_the_preview_moves_through_matches_and_pages(qtbot, make_window, corpus):
    window = _indexed(qtbot, make_window, corpus)
    hits = search_for(qtbot, window, "glacier crevasses")
    preview = window.preview
    assert preview.hit.path == hits[0].path
    pages = [c.page for c in hits[0].chunks]
    assert preview.page == pages[0]
    qtbot.keyClick(window.search.field, Qt.Key.Key_F3)
    assert preview.chunk.chunk_id == hits[0].chunks[1].chunk_id and preview.page == pages[1]
    assert window.search.view.selected()[1].chunk_id == hits[0].chunks[1].chunk_id  # the list follows
    qtbot.keyClick(window.search.field, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert preview.chunk.chunk_id == hits[0].chunks[0].chunk_id
    qtbot.waitUntil(lambda: preview.page_count == 4)
    start = preview.page
    qtbot.keyClick(window.search.field, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)
    assert preview.page == min(4, start + 1)
    qtbot.keyClick(window.search.field, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.search.field, Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    assert preview.page == max(1, start - 1)
    qtbot.waitUntil(lambda: "page" in preview.page_nav_info.text() and "of 4" in preview.page_nav_info.text())


def test_slash_reaches_the_search_box_from_anywhere(qtbot, make_window, corpus):
    window = _indexed(qtbot, make_window, corpus)
    search_for(qtbot, window, "glacier")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    for elsewhere in (window.preview.text, window.search.view, window.folders.list):
        elsewhere.setFocus()
        qtbot.keyClick(elsewhere, Qt.Key.Key_Slash)
        assert window.search.field.hasFocus(), elsewhere
        assert window.search.field.text() == "glacier"  # selected, ready to be typed over
    window.preview.text.setFocus()
    qtbot.keyClick(window.preview.text, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.search.field.hasFocus()


def test_the_last_query_order_and_panes_come_back(qtbot, make_window, corpus):
    window = _indexed(qtbot, make_window, corpus)
    search_for(qtbot, window, "glacier")
    window.search.set_order("date")
    window.resize(1200, 700)
    window.splitter.setSizes([300, 500, 400])
    qtbot.wait(50)
    sizes = window.splitter.sizes()
    window.shutdown()
    window.close()

    again = make_window()
    again.resize(1200, 700)
    qtbot.waitUntil(lambda: again.search.query() == "glacier")
    qtbot.waitUntil(lambda: again.search.state == "results")
    assert again.search.order == "date"
    assert again.splitter.sizes() == sizes
