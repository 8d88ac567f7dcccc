"""Watched folders: edits, renames and deletions on disk show up in the results on their own."""

from __future__ import annotations

import os

from gui_helpers import search_for, wait_idle


def _paths(window) -> list[str]:
    return [h.path for h in window.search.view.results.hits()]


def test_results_follow_changes_on_disk(qtbot, make_window, corpus):
    window = make_window(watch=True, watch_debounce_s=0.2)
    window.add_paths([str(corpus)])
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: window.watch.mode in ("native", "polling"), timeout=10_000)
    notes = corpus / "garden-notes.txt"

    # Modify: new words become findable, and the query on screen updates by itself.
    search_for(qtbot, window, "zebra crossing")
    notes.write_text("The zebra crossing outside the garden was repainted in April.\n", encoding="utf-8")
    qtbot.waitUntil(lambda: bool(window.search.view.results.hits()) and _paths(window)[0] == str(notes)
                    and "zebra" in window.search.view.results.hits()[0].snippet, timeout=20_000)

    # Rename: the document follows the file.
    renamed = corpus / "crossings.txt"
    os.rename(notes, renamed)
    qtbot.waitUntil(lambda: str(renamed) in _paths(window) and str(notes) not in _paths(window), timeout=20_000)
    assert window.library.document(str(notes)) is None

    # New file in a subfolder.
    (corpus / "kitchen" / "soup.txt").write_text("Pumpkin soup with zebra-striped tomatoes.\n", encoding="utf-8")
    qtbot.waitUntil(lambda: str(corpus / "kitchen" / "soup.txt") in _paths(window), timeout=20_000)

    # Delete: it leaves the results and the library.
    renamed.unlink()
    qtbot.waitUntil(lambda: str(renamed) not in _paths(window), timeout=20_000)
    wait_idle(qtbot, window)
    assert window.library.document(str(renamed)) is None
    assert window.library.status().documents == 4  # pdf, meeting, bread, soup
