"""A library's page previews: the renderer process and the rule for what it may read."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..errors import ExtractionError, LibraryError
from ..indexing.scan import OUTSIDE_LINK, OUTSIDE_LINK_MESSAGE, judge_path
from ..search.query import fold
from ..types import OcrPage
from .pages import RenderedPage, word_matches

if TYPE_CHECKING:  # the worker (and multiprocessing) loads when a page is first drawn
    from .worker import PreviewWorker


class PagePreviews:
    """Draws pages by a separate process (``worker``, or one started on first use), only from
    where the scan would read them: a path inside a source that leads out of it through a link
    is refused. ``root_of`` names the source folder or file that covers a path (None: none)."""

    def __init__(self, root_of: Callable[[str], str | None], worker: PreviewWorker | None = None) -> None:
        self._root_of = root_of
        self._worker = worker
        self._lock = threading.Lock()
        self._closed = False

    def render(self, path: str | os.PathLike[str], page_number: int, terms: Sequence[str], width_px: int,
               crop_margins: bool = False, ocr: OcrPage | None = None) -> RenderedPage:
        """See :meth:`Library.render_page`. ``ocr``: the words OCR read on that page; those
        matching ``terms`` are highlighted where the page has no text layer of its own."""
        boxes: list[tuple[float, float, float, float]] = []
        frame = None
        if ocr is not None:
            folded = [fold(t) for t in terms if t and t.strip()]
            boxes = [(w.x0, w.y0, w.x1, w.y1) for w in ocr.words if folded and word_matches(w.text, folded)]
            frame = (ocr.width, ocr.height)
        return self._started().render(self.readable(path), page_number, terms, width_px, crop_margins,
                                      boxes, frame)

    def readable(self, path: str | os.PathLike[str]) -> str:
        """Where ``path`` may be read, as the scan's link judge says (``scan.judge_path``)."""
        target = os.path.abspath(os.fspath(path))
        root = self._root_of(target)
        if root is None:
            return target
        verdict = judge_path(target, root)
        if verdict.real is None:
            raise ExtractionError(OUTSIDE_LINK_MESSAGE, OUTSIDE_LINK)
        return verdict.real

    def close(self) -> None:
        with self._lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None
            self._closed = True

    def _started(self) -> PreviewWorker:
        with self._lock:
            if self._closed:
                raise LibraryError("The library is closed.")
            if self._worker is None:
                from .worker import PreviewWorker

                self._worker = PreviewWorker()
            return self._worker
