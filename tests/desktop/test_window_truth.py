"""Every state the window shows is the library's: no "empty" flash while the counts are on
their way, no check of folders there are none of, no "not indexed yet" for a folder with files
in, live updates dated, the last progress shown, no speed while paused, no "Opened" when
nothing could open the file, readable secondary and error text."""

from __future__ import annotations

import os
import sys
import time

import pytest
from gui_helpers import search_for, wait_idle


def test_a_library_with_documents_never_says_it_is_empty(qtbot, make_window, library, corpus):
    library.index([str(corpus)])
    seen: list[str] = []
    window = make_window()
    seen.append(window.search.empty.text())
    qtbot.waitUntil(lambda: window.search.state == "ready")
    assert not any("empty" in text for text in seen), seen
    assert window.search.empty.title.text() == "Search 4 documents"


def test_a_first_launch_without_folders_checks_nothing(qtbot, make_window):
    window = make_window()
    assert not window.status.running
    qtbot.waitUntil(lambda: window.search.state == "welcome")
    qtbot.wait(100)
    assert not window.status.running and not window.indexer.busy
    assert window.status.summary.text() == "No folders yet"


def test_a_folder_with_files_in_is_not_called_unindexed():
    from memex.core.types import Source
    from memex.desktop.folders import source_meta

    partly = Source(id=1, path="/data/work", kind="folder", added_at=0.0, documents=24, chunks=300)
    assert "not indexed yet" not in source_meta(partly)
    assert "not indexed yet" in source_meta(Source(id=2, path="/data/new", kind="folder", added_at=0.0))


def test_a_live_update_is_dated_now(qtbot):
    from memex.core.types import Source
    from memex.desktop.folders import FoldersPanel

    panel = FoldersPanel()
    qtbot.addWidget(panel)
    seven_minutes_ago = time.time() - 7 * 60
    panel.set_sources([Source(id=1, path="/data/work", kind="folder", added_at=0.0, documents=3, chunks=9,
                              last_indexed_at=seven_minutes_ago)])
    row = panel.list.itemWidget(panel.list.item(0))
    assert "7 min ago" in row.meta_text()
    panel.mark_updated(["/data/work/notes/today.txt"], time.time())
    assert "just now" in row.meta_text()


def test_the_last_progress_held_back_is_shown(qtbot):
    from memex.core.types import IndexProgress
    from memex.desktop.progress import StatusArea

    status = StatusArea()
    qtbot.addWidget(status)
    status.resize(1200, 40)
    status.start_run("Indexing")
    for done in range(1, 13):  # faster than the status line redraws
        status.update_progress(IndexProgress(phase="indexing", files_total=110, files_done=done))
    qtbot.waitUntil(lambda: status.counts.text().startswith("12 of 110"), timeout=2000)


def test_no_speed_or_time_left_while_paused(qtbot):
    from memex.core.types import IndexProgress
    from memex.desktop.progress import RunMeter, StatusArea

    status = StatusArea()
    qtbot.addWidget(status)
    status.resize(1400, 40)
    status.start_run("Indexing")
    status._meter = RunMeter(time.monotonic() - 10)  # a run ten seconds old
    status.update_progress(IndexProgress(phase="indexing", files_total=100, files_done=40))
    assert "files/s" in status.counts.text() and "left" in status.counts.text()
    status.set_paused(True)
    assert status.phase.text() == "Paused"
    assert "files/s" not in status.counts.text() and "left" not in status.counts.text()
    assert status.counts.text().startswith("40 of 100")
    status.set_paused(False)
    assert "files/s" in status.counts.text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xdg-mime is the Linux desktop's")
def test_nothing_is_said_opened_when_no_application_can_open_it(qtbot, make_window, corpus, no_default_app):
    window = make_window()
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    started: list = []
    window.opener.open_url = lambda path: started.append(path) or True  # what the desktop would be asked
    search_for(qtbot, window, "sourdough")
    window.search.view.open_current()
    qtbot.waitUntil(lambda: "No application" in window.status.message_text())
    assert not started and "Opened" not in window.status.message_text()


def test_secondary_and_error_text_are_readable(qapp):
    """WCAG AA (4.5:1) for secondary text on every background it is drawn on, a selected
    result included, and for error text on the window."""
    from memex.desktop import style
    from PySide6.QtGui import QColor, QPalette

    def ratio(a: QColor, b: QColor) -> float:  # WCAG 2.x, computed here independently
        def lum(c: QColor) -> float:
            parts = [v / 255 for v in (c.red(), c.green(), c.blue())]
            lin = [p / 12.92 if p <= 0.03928 else ((p + 0.055) / 1.055) ** 2.4 for p in parts]
            return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
        hi, lo = sorted((lum(a), lum(b)), reverse=True)
        return (hi + 0.05) / (lo + 0.05)

    palette = qapp.palette()
    muted = palette.color(QPalette.ColorRole.PlaceholderText)
    for background in (palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Window),
                       palette.color(QPalette.ColorRole.AlternateBase), style.selected_row(palette)):
        assert ratio(muted, background) >= 4.5, (muted.name(), background.name())
    error = QColor(style.ERROR_DARK if style.is_dark(palette) else style.ERROR_LIGHT)
    for background in (palette.color(QPalette.ColorRole.Window), style.selected_row(palette)):
        assert ratio(error, background) >= 4.5


def test_results_sort_by_date_or_by_relevance(qtbot, make_window, corpus):
    for age, (name, text) in enumerate((("lantern-one.txt", "A lantern."),
                                        ("lantern-two.txt", "The lantern, the lantern and a lantern again."),
                                        ("lantern-three.txt", "Lantern light on the lantern path.")), start=1):
        (corpus / name).write_text(text + "\n", encoding="utf-8")
        stamp = time.time() - 86400 * age
        os.utime(corpus / name, (stamp, stamp))
    window = make_window()
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    ranked = search_for(qtbot, window, "lantern")
    assert len(ranked) == 3
    window.search.set_order("date")
    by_date = window.search.view.results.hits()
    assert [os.path.basename(h.path) for h in by_date] == ["lantern-one.txt", "lantern-two.txt", "lantern-three.txt"]
    assert window.search.sort_order.currentText() == "Newest first"
    window.search.set_order("relevance")
    assert [h.path for h in window.search.view.results.hits()] == [h.path for h in ranked]


def test_operators_typed_in_the_search_box(qtbot, make_window, corpus):
    window = make_window()
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    hits = search_for(qtbot, window, "budget type:markdown")
    assert [os.path.basename(h.path) for h in hits] == ["meeting.md"]
    assert search_for(qtbot, window, "budget type:pdf") == []
    hits = search_for(qtbot, window, "bread in:kitchen")
    assert [os.path.basename(h.path) for h in hits] == ["bread.txt"]
    hits = search_for(qtbot, window, '"full sun"')
    assert [os.path.basename(h.path) for h in hits] == ["garden-notes.txt"]
    search_for(qtbot, window, "bread type:spreadsheetz")
    assert "not a file type" in window.search.empty.text()
