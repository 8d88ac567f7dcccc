"""Writes say what they changed (``Changes``, after Anki's ``OpChanges``), and the window asks
the library again only for that: no status, no sources and no search after a write that
changed nothing.

The counts come from the real Library of the test, its methods wrapped by counting functions
that call through."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest
from gui_helpers import search_for
from memex.core.api import SwitchResult
from memex.core.types import NO_CHANGES, Changes, IndexReport
from memex.desktop import run_status

ASKED = ("status", "sources", "search")


def count_calls(library, names=ASKED) -> Counter:
    """From now on, count the calls of ``library``'s methods ``names`` (they still run)."""
    calls: Counter = Counter()
    for name in names:
        method = getattr(library, name)

        def counted(*args, _name=name, _method=method, **kwargs):
            calls[_name] += 1
            return _method(*args, **kwargs)

        setattr(library, name, counted)  # the instance's attribute, in front of the class's method
    return calls


def settle(qtbot, window) -> None:
    """Until no write is queued or running and every lane has delivered its answers."""
    qtbot.waitUntil(lambda: not window.indexer.busy and not window.tasks.busy(), timeout=30_000)


def touch(path: Path) -> None:
    """A new modification time, the same bytes (what an editor's save-without-change does)."""
    later = time.time() + 5
    os.utime(path, (later, later))


@pytest.fixture
def window(qtbot, make_window, library, corpus, monkeypatch):
    """The window over an indexed corpus, settled, with "sourdough" in the search box; the
    periodic refresh during a run is off unless a test turns it on."""
    monkeypatch.setattr(run_status, "INFO_EVERY_S", 3600.0)
    library.index([corpus])
    window = make_window()
    qtbot.waitUntil(lambda: bool(window.folders.sources), timeout=10_000)
    search_for(qtbot, window, "sourdough")
    settle(qtbot, window)
    return window


def run_write(qtbot, window, start) -> IndexReport:
    with qtbot.waitSignal(window.indexer.finished, timeout=30_000) as finished:
        start()
    settle(qtbot, window)
    return finished.args[1]


# -- the values ---------------------------------------------------------------------------
def test_changes_combine_and_say_whether_anything_changed():
    assert not NO_CHANGES.any and not IndexReport().changes.any
    both = Changes(sources=True) | Changes(search_results=True)
    assert both == Changes(sources=True, search_results=True) and both.any
    assert IndexReport(unchanged=12, seconds=3.0).changes == NO_CHANGES
    assert IndexReport(embedded=4).changes == Changes(documents=True, search_results=True)
    assert IndexReport(sources_checked=1).changes == Changes(sources=True)


def test_a_model_switch_changes_searches_only_when_it_swapped():
    kept = SwitchResult("m", "m", 8, embedded=0, done=0, total=0, seconds=0.0, switched=False,
                        cancelled=False)
    assert not kept.changes.search_results and not kept.changes.model
    swapped = SwitchResult("n", "m", 8, embedded=5, done=5, total=5, seconds=1.0, switched=True,
                           cancelled=False, settings_saved=True)
    assert swapped.changes == Changes(documents=True, search_results=True, settings=True, model=True)


def test_library_writes_report_what_they_changed(library, corpus):
    first = library.index([corpus])
    assert (first.sources_added, first.sources_checked) == (1, 1)
    assert first.changes == Changes(sources=True, documents=True, search_results=True)

    again = library.index([corpus])  # nothing new: only the folder's "last checked" moved
    assert (again.sources_added, again.added, again.updated) == (0, 0, 0)
    assert again.changes == Changes(sources=True)

    touch(corpus / "meeting.md")
    assert library.refresh([corpus / "meeting.md"]).changes == NO_CHANGES

    (corpus / "meeting.md").write_text("# Budget meeting\n\nThe zucchini harvest was discussed.\n",
                                       encoding="utf-8")
    edited = library.refresh([corpus / "meeting.md"])
    assert edited.updated == 1
    assert edited.changes == Changes(documents=True, search_results=True)

    removal = library.remove(corpus)
    assert (removal.removed, removal.sources_removed) == (4, 1)
    assert removal.changes == Changes(sources=True, documents=True, search_results=True)


# -- the window -----------------------------------------------------------------------------
def test_a_refresh_that_changed_nothing_asks_the_library_nothing(qtbot, window, library, corpus):
    shown = window.search.view.results.hits()
    calls = count_calls(library)
    bread = corpus / "kitchen" / "bread.txt"
    touch(bread)
    report = run_write(qtbot, window, lambda: window.indexer.refresh([str(bread)]))
    assert report.unchanged == 1 and report.changes == NO_CHANGES
    assert calls == Counter()  # no status, no sources, no search again
    assert window.search.view.results.hits() == shown


def test_a_refresh_that_changed_a_file_asks_again_for_counts_and_results(qtbot, window, library, corpus):
    search_for(qtbot, window, "zucchini")
    assert "garden-notes.txt" not in {os.path.basename(h.path) for h in window.search.view.results.hits()}
    settle(qtbot, window)
    calls = count_calls(library)
    notes = corpus / "garden-notes.txt"
    notes.write_text("Zucchini plants need room; pick the zucchini young.\n", encoding="utf-8")
    report = run_write(qtbot, window, lambda: window.indexer.refresh([str(notes)]))
    assert report.updated == 1
    assert calls == Counter(status=1, sources=1, search=1)
    hits = window.search.view.results.hits()  # the query ran again by itself
    assert hits and os.path.basename(hits[0].path) == "garden-notes.txt"


def test_a_full_check_that_found_nothing_new_asks_only_for_the_sources(qtbot, window, library, monkeypatch):
    monkeypatch.setattr(run_status, "INFO_EVERY_S", 0.0)  # while running: as often as it writes
    before = window.folders.sources[0].last_indexed_at
    calls = count_calls(library)
    report = run_write(qtbot, window, window.rescan_all)
    assert report.changes == Changes(sources=True)
    assert calls == Counter(sources=1)  # the folder's "updated …" time; no counts, no search
    assert window.folders.sources[0].last_indexed_at > before


def test_removing_a_folder_asks_again_for_everything_it_changed(qtbot, window, library, corpus):
    calls = count_calls(library)
    run_write(qtbot, window, lambda: window.remove_source(str(corpus)))
    assert calls == Counter(status=1, sources=1, search=1)
    assert window.folders.sources == [] and window.search.view.results.hits() == []
    assert "Removed" in window.status.message_text() and "4 documents" in window.status.message_text()


def test_a_failed_write_asks_again_for_everything(qtbot, window, library, tmp_path):
    calls = count_calls(library)
    report = run_write(qtbot, window, lambda: window.indexer.remove(str(tmp_path / "never-added")))
    assert report is None  # failed: what it did is unknown
    assert calls == Counter(status=1, sources=1, search=1)


def _apply(window, settings) -> None:
    from memex.desktop.install_desktop_entry import start_at_login_enabled
    from memex.desktop.settings_dialog import SettingsResult

    window.apply_settings(SettingsResult(settings, start_at_login_enabled(), window.prefs.minimise_to_tray, [], []))


def test_settings_that_rank_results_run_the_query_again_and_others_do_not(qtbot, window):
    calls = count_calls(window.library)
    _apply(window, window.library.settings.with_changes(index_hidden=not window.library.settings.index_hidden))
    settle(qtbot, window)
    assert calls["search"] == 0  # the same query answers the same: nothing is asked again
    _apply(window, window.library.settings.with_changes(lexical_weight=0.9))
    qtbot.waitUntil(lambda: calls["search"] == 1, timeout=10_000)
    settle(qtbot, window)
    assert calls["search"] == 1 and window.library.settings.lexical_weight == 0.9
