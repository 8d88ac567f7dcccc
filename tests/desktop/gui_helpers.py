"""Helpers shared by the window tests (a plain module: test files import it by name)."""

from __future__ import annotations

PDF_PAGES = [
    "Introduction. This report studies heat transfer in hypersonic flows around blunt bodies. "
    "We compare wind tunnel data with numerical results.",
    "Results. The boundary layer thickens near the stagnation point, and the measured heat flux "
    "agrees with the Fay-Riddell correlation within ten percent.",
]


def wait_idle(qtbot, window, timeout: int = 30_000) -> None:
    """Until the write queue is empty and the last counts have arrived."""
    qtbot.waitUntil(lambda: window.indexer is not None and not window.indexer.busy, timeout=timeout)
    qtbot.waitUntil(lambda: not window.tasks.busy("read"), timeout=timeout)


def search_for(qtbot, window, text: str, timeout: int = 10_000) -> list:
    """Type ``text`` into the search box like a person and wait for its results."""
    field = window.search.field
    field.clear()
    qtbot.keyClicks(field, text)
    qtbot.waitUntil(lambda: window.search.view.results.query == text and window.search.state in
                    ("results", "no-hits"), timeout=timeout)
    return window.search.view.results.hits()
