"""Page previews drawn in a separate, long-lived process, so a hostile file cannot take Memex down.

Like extraction, through :mod:`memex.core.child_process`: each request has a deadline, the child
runs under an address-space cap, and a child that hangs, crashes or runs out of memory is
replaced by a fresh one for the next request. Pages come back as PNG bytes plus the highlighted
boxes (:class:`~memex.core.preview.pages.RenderedPage`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..child_process import PYMUPDF_ADDONS, ChildSpec, IsolatedWorker
from .pages import RenderedPage

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

DEFAULT_TARGET = "memex.core.preview.render:handle"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MEMORY_MB = 1024  # a 4000 px page is ~70 MB of pixels; PyMuPDF itself needs ~100 MB


class PreviewWorker(IsolatedWorker):
    """Draws pages in a child process started on first use. Calls are serialised; the worker
    may be shared between threads. ``target`` ("module:function", called with (op, args))
    replaces the renderer. Closing kills a page still being drawn after 0.2 s and refuses
    every later request."""

    SPEC = ChildSpec(
        target=DEFAULT_TARGET, process_name="memex-preview", load_failed="the page renderer",
        out_of_memory="The page needs too much memory to draw.",
        reply_too_large="The page image is too large to show.", unreadable="The page could not be drawn",
        timed_out="Drawing {name} took longer than {timeout:g} s and was stopped; the file may be damaged.",
        crashed="The page preview process crashed while drawing {name} ({detail}); the file may be damaged.",
        not_started="The page preview process did not start.",
        closed="The page preview was closed before the page was drawn.",
        warm_up="memex.core.preview.render:warm_up", skip_modules=PYMUPDF_ADDONS)
    default_timeout_s = DEFAULT_TIMEOUT_S
    default_memory_mb = DEFAULT_MEMORY_MB
    close_wait_s = 0.2

    def render(self, path: str | os.PathLike[str], page_number: int, terms: Sequence[str], width_px: int,
               crop_margins: bool = False, boxes: Sequence[Box] = (),
               frame: tuple[float, float] | None = None) -> RenderedPage:
        """Page ``page_number`` (1-based) of ``path`` as PNG, ``width_px`` wide (less for a page
        too tall to draw that wide), every word matching ``terms`` (folded query words, see
        ``query_terms``) highlighted. ``crop_margins`` leaves out the empty side margins. A page
        with no text layer (a scan, a picture) highlights ``boxes`` instead: (x0, y0, x1, y1)
        in the units of a page ``frame`` = (width, height) in size (the words OCR read that
        match, in PDF points or image pixels; see ``render.render_page``).

        Raises :class:`UnsupportedFile`, :class:`EncryptedFile`, :class:`CorruptFile`,
        :class:`ExtractionTimeout`, :class:`ExtractorCrashed` or :class:`ExtractionError`
        (page out of range, file gone), each with a readable message."""
        args = (os.fspath(path), int(page_number), list(terms), int(width_px), bool(crop_margins),
                [tuple(float(v) for v in box) for box in boxes],
                (float(frame[0]), float(frame[1])) if frame else None)
        return self._request(("render", args), Path(path).name)

    def page_count(self, path: str | os.PathLike[str]) -> int:
        """How many pages ``path`` has (errors as for :meth:`render`)."""
        return self._request(("count", (os.fspath(path),)), Path(path).name)
