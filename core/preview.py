"""Preview helpers for the window (no Qt): a rendered page with the query's words marked, and
the spans of a text that match the query.

PyMuPDF is not thread-safe, so renders are serialised by a module lock; call
:func:`render_page_png` from a background thread, never from a GUI thread.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import CorruptFile, EncryptedFile, ExtractionError, UnsupportedFile
from .search.query import fold, query_terms

RENDERABLE_KINDS = frozenset({"pdf", "xps", "epub", "fb2", "mobi", "cbz"})
MAX_WIDTH_PX = 4000
_HIGHLIGHT_RGB = (1.0, 0.85, 0.2)
_WORD = re.compile(r"\w+", re.UNICODE)
_LOCK = threading.Lock()


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


def warm_up() -> None:
    """Import PyMuPDF now (it takes seconds the first time), so the first preview is quick."""
    import pymupdf  # noqa: F401


def page_count(path: str | os.PathLike[str]) -> int:
    """How many pages PyMuPDF sees in ``path``."""
    import pymupdf

    with _LOCK:
        doc = _open(pymupdf, Path(path))
        try:
            return doc.page_count
        finally:
            doc.close()


@dataclass(frozen=True)
class RenderedPage:
    png: bytes
    width: int
    height: int
    matches: tuple[tuple[float, float, float, float], ...]  # highlighted boxes, in image pixels
    page_count: int


def render_page_png(path: str | os.PathLike[str], page_number: int, terms: list[str],
                    width_px: int) -> bytes:
    """PNG bytes of page ``page_number`` (1-based) of ``path``, ``width_px`` wide, with every
    word matching ``terms`` (query words, see :func:`query_terms`) highlighted.

    Raises :class:`UnsupportedFile`, :class:`EncryptedFile`, :class:`CorruptFile` or
    :class:`ExtractionError` (page out of range) with a readable message."""
    return render_page(path, page_number, terms, width_px).png


def render_page(path: str | os.PathLike[str], page_number: int, terms: list[str],
                width_px: int, crop_margins: bool = False) -> RenderedPage:
    """Like :func:`render_page_png`, also returning where the highlights are (to scroll to
    them) and the number of pages. ``crop_margins`` leaves out the empty left and right
    margins, so the text is drawn larger in a narrow pane."""
    import pymupdf

    file = Path(path)
    width_px = max(16, min(int(width_px), MAX_WIDTH_PX))
    folded = [fold(t) for t in terms if t and t.strip()]
    with _LOCK:
        doc = _open(pymupdf, file)
        try:
            if not 1 <= page_number <= doc.page_count:
                raise ExtractionError(
                    f"{file.name} has {doc.page_count} page(s); page {page_number} is not there.",
                    reason="page")
            try:
                page = doc[page_number - 1]
                rects = [pymupdf.Rect(w[:4]) for w in page.get_text("words")
                         if folded and word_matches(w[4], folded)]
                if rects and doc.is_pdf:
                    annot = page.add_highlight_annot(rects)
                    annot.set_colors(stroke=_HIGHLIGHT_RGB)
                    annot.update()
                elif rects:  # other formats cannot carry annotations: paint the boxes
                    shape = page.new_shape()
                    for r in rects:
                        shape.draw_rect(r)
                    shape.finish(color=None, fill=_HIGHLIGHT_RGB, fill_opacity=0.4)
                    shape.commit(overlay=True)
                area = _text_columns(pymupdf, page) if crop_margins else page.rect
                zoom = width_px / max(area.width, 1.0)
                pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), clip=area, annots=True, alpha=False)
                origin = area.tl
                boxes = tuple(((r.x0 - origin.x) * zoom, (r.y0 - origin.y) * zoom,
                               (r.x1 - origin.x) * zoom, (r.y1 - origin.y) * zoom) for r in rects)
                return RenderedPage(pix.tobytes("png"), pix.width, pix.height, boxes, doc.page_count)
            except ExtractionError:
                raise
            except Exception as exc:  # PyMuPDF raises plain RuntimeErrors on damaged pages
                raise CorruptFile(f"Cannot draw page {page_number} of {file.name}: {exc}") from exc
        finally:
            doc.close()


def _text_columns(pymupdf, page):
    """The page's full height, between the leftmost and rightmost text (plus a little air)."""
    area = pymupdf.Rect()
    for block in page.get_text("blocks"):
        area |= pymupdf.Rect(block[:4])
    full = page.rect
    if area.is_empty or area.width < full.width * 0.3:
        return full
    air = full.width * 0.03
    return pymupdf.Rect(max(full.x0, area.x0 - air), full.y0, min(full.x1, area.x1 + air), full.y1)


def _open(pymupdf, file: Path):
    if not file.is_file():
        raise ExtractionError(f"{file} is not there any more.", reason="missing")
    try:
        doc = pymupdf.open(str(file))
    except Exception as exc:
        if file.suffix.lower().lstrip(".") not in RENDERABLE_KINDS:
            raise UnsupportedFile(f"{file.name} cannot be shown as pages.") from exc
        raise CorruptFile(f"{file.name} is damaged and cannot be shown: {exc}") from exc
    if not doc.is_pdf and file.suffix.lower().lstrip(".") not in RENDERABLE_KINDS:
        doc.close()
        raise UnsupportedFile(f"{file.name} cannot be shown as pages.")
    if doc.needs_pass:
        doc.close()
        raise EncryptedFile(f"{file.name} is password-protected.")
    return doc
