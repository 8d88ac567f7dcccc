"""Preview helpers for the window (no Qt): the spans of a text that match the query, and the
shape of a drawn page.

Pages themselves are drawn by PyMuPDF in a separate process (``preview_worker.PreviewWorker``,
reached through ``Library.render_page``): the main process never parses a document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..search.query import fold, query_terms

# Kinds drawn as pages; "image": a picture (one page; a TIFF, one page per frame).
RENDERABLE_KINDS = frozenset({"pdf", "xps", "epub", "fb2", "mobi", "cbz", "image"})
MAX_WIDTH_PX = 4000
_WORD = re.compile(r"\w+", re.UNICODE)


def word_matches(word: str, terms: Sequence[str]) -> bool:
    """Whether ``word`` matches one of the (folded) query ``terms``: equal, or agreeing up to a
    short suffix ("flows" ~ "flow"), or starting with the term when the term is long enough to
    be a typed prefix ("transf" ~ "transfer")."""
    w = fold(word)
    for t in terms:
        if not t:
            continue
        if w == t or (len(t) >= 3 and w.startswith(t)):
            return True
        common = 0
        for a, b in zip(w, t, strict=False):
            if a != b:
                break
            common += 1
        if common >= 4 and common >= max(len(w), len(t)) - 3:
            return True
    return False


def match_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Half-open ``[start, end)`` spans of the words in ``text`` that match ``query``."""
    terms = query_terms(query)
    if not terms:
        return []
    return [(m.start(), m.end()) for m in _WORD.finditer(text) if word_matches(m.group(), terms)]


@dataclass(frozen=True)
class RenderedPage:
    """A drawn page: PNG bytes, the image size, the highlighted boxes and the page count."""

    png: bytes
    width: int
    height: int
    matches: tuple[tuple[float, float, float, float], ...]  # highlighted boxes, in image pixels
    page_count: int

