"""Drawing document pages with PyMuPDF — run only inside the preview process.

The main process never imports this module: a damaged or hostile file may hang, crash or
exhaust MuPDF, so :class:`~memex.core.preview.worker.PreviewWorker` calls :func:`handle` in a
child process with a deadline and a memory cap.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import CorruptFile, EncryptedFile, ExtractionError, UnsupportedFile
from ..search.query import fold
from .pages import MAX_WIDTH_PX, RENDERABLE_KINDS, RenderedPage, word_matches

# An extremely tall page (a 3 × 14400 pt strip drawn 4000 px wide) would need gigabytes of
# pixels; the zoom is lowered so no image holds more than this.
MAX_PIXELS = 40_000_000
_HIGHLIGHT_RGB = (1.0, 0.85, 0.2)
_HIGHLIGHT_HEX = 0xFFD933  # the same colour as an sRGB integer
Box = tuple[float, float, float, float]
# Pictures PyMuPDF draws as one-page documents (a TIFF: one page per frame); WebP and HEIC
# through Pillow. A picture larger than this is not decoded for a preview at all.
PICTURE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "jpe", "jfif", "tif", "tiff", "bmp", "gif", "webp",
                              "heic", "heif", "pnm", "pbm", "pgm", "ppm", "jp2", "jpx"})
MAX_PICTURE_PIXELS = 180_000_000


def warm_up() -> None:
    """Import PyMuPDF at the child's start, so its import time is not charged to a page (and
    keep MuPDF's own messages off stderr)."""
    from ..extract.mupdf_quiet import quiet_pymupdf

    quiet_pymupdf()


def handle(op: str, args: tuple[Any, ...]) -> Any:
    """The preview process's entry point: ``("render", (path, page, terms, width, crop[, boxes,
    frame]))`` or ``("count", (path,))``."""
    if op == "render":
        return render_page(*args)
    if op == "count":
        return page_count(*args)
    raise ExtractionError(f"unknown preview request {op!r}")


def page_count(path: str) -> int:
    """How many pages PyMuPDF sees in ``path``."""
    import pymupdf

    doc = _open(pymupdf, Path(path))
    try:
        return doc.page_count
    finally:
        doc.close()


def render_page(path: str, page_number: int, terms: list[str], width_px: int,
                crop_margins: bool = False, boxes: Sequence[Box] = (),
                frame: tuple[float, float] | None = None) -> RenderedPage:
    """Page ``page_number`` (1-based) of ``path`` as PNG, about ``width_px`` wide, with every
    word matching ``terms`` highlighted; see :meth:`PreviewWorker.render`.

    A page without a text layer (a scanned page, a picture) has no words to match: then
    ``boxes`` given by the caller (the matching words OCR read, in the page units of a page
    ``frame`` = (width, height) in size: PDF points for a PDF page, pixels for an image; the
    page's own size when None) are highlighted instead, on the whole page."""
    import pymupdf

    file = Path(path)
    width_px = max(16, min(int(width_px), MAX_WIDTH_PX))
    folded = [fold(t) for t in terms if t and t.strip()]
    doc = _open(pymupdf, file)
    try:
        if not 1 <= page_number <= doc.page_count:
            raise ExtractionError(
                f"{file.name} has {doc.page_count} page(s); page {page_number} is not there.", reason="page")
        try:
            page = doc[page_number - 1]
            words = page.get_text("words")
            if not words and boxes:
                return _render_with_boxes(pymupdf, doc, page, width_px, boxes, frame)
            rects = [pymupdf.Rect(w[:4]) for w in words if folded and word_matches(w[4], folded)]
            _highlight(pymupdf, doc, page, rects)
            area = _text_columns(pymupdf, page) if crop_margins else page.rect
            zoom = _zoom(area, width_px)
            pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), clip=area, annots=True, alpha=False)
            origin = area.tl
            found = tuple(((r.x0 - origin.x) * zoom, (r.y0 - origin.y) * zoom,
                           (r.x1 - origin.x) * zoom, (r.y1 - origin.y) * zoom) for r in rects)
            return RenderedPage(pix.tobytes("png"), pix.width, pix.height, found, doc.page_count)
        except (ExtractionError, MemoryError):
            raise
        except Exception as exc:  # PyMuPDF raises plain RuntimeErrors on damaged pages
            raise CorruptFile(f"Cannot draw page {page_number} of {file.name}: {exc}") from exc
    finally:
        doc.close()


def _zoom(area, width_px: int) -> float:
    """The zoom that draws ``area`` ``width_px`` wide, lowered for a page too tall for MAX_PIXELS."""
    zoom = width_px / max(area.width, 1.0)
    if area.width * area.height * zoom * zoom > MAX_PIXELS:
        zoom = (MAX_PIXELS / max(area.width * area.height, 1.0)) ** 0.5
    return zoom


def _render_with_boxes(pymupdf, doc, page, width_px: int, boxes: Sequence[Box],
                       frame: tuple[float, float] | None) -> RenderedPage:
    """The whole page drawn as it is seen (rotation applied), each box (in ``frame`` units)
    tinted like a highlighter: white paper turns yellow, dark ink stays dark."""
    zoom = _zoom(page.rect, width_px)
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), annots=True, alpha=False)
    if pix.n != 3:  # a grey or CMYK picture: tint in RGB
        pix = pymupdf.Pixmap(pymupdf.csRGB, pix)
    frame_w, frame_h = frame if frame and frame[0] > 0 and frame[1] > 0 else (page.rect.width, page.rect.height)
    sx, sy = pix.width / frame_w, pix.height / frame_h
    found = []
    for x0, y0, x1, y1 in boxes:
        box = (max(0.0, min(x0, x1) * sx), max(0.0, min(y0, y1) * sy),
               min(float(pix.width), max(x0, x1) * sx), min(float(pix.height), max(y0, y1) * sy))
        area = pymupdf.IRect(int(box[0]), int(box[1]), int(box[2] + 0.999), int(box[3] + 0.999))
        if area.is_empty:
            continue
        tinted = pymupdf.Pixmap(pymupdf.csRGB, area, False)
        tinted.copy(pix, area)
        tinted.tint_with(0x000000, _HIGHLIGHT_HEX)
        pix.copy(tinted, area)
        found.append(box)
    return RenderedPage(pix.tobytes("png"), pix.width, pix.height, tuple(found), doc.page_count)


def _highlight(pymupdf, doc, page, rects: list) -> None:
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
    suffix = file.suffix.lower().lstrip(".")
    shown = suffix in RENDERABLE_KINDS or suffix in PICTURE_SUFFIXES
    try:
        doc = pymupdf.open(str(file))
    except Exception as exc:
        if suffix in PICTURE_SUFFIXES:  # a picture MuPDF cannot read (WebP, HEIC): through Pillow
            return _open_picture(pymupdf, file)
        if not shown:
            raise UnsupportedFile(f"{file.name} cannot be shown as pages.") from exc
        raise CorruptFile(f"{file.name} is damaged and cannot be shown: {exc}") from exc
    if not doc.is_pdf and not shown:
        doc.close()
        raise UnsupportedFile(f"{file.name} cannot be shown as pages.")
    if doc.needs_pass:
        doc.close()
        raise EncryptedFile(f"{file.name} is password-protected.")
    return doc


def _open_picture(pymupdf, file: Path):
    """A picture MuPDF does not read, decoded by Pillow (when installed) into a one-page
    document; one far too large to draw is refused before it is decoded."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:
        raise UnsupportedFile(f"{file.name} cannot be shown: no reader for this kind of picture.") from exc
    from memex.core.extract.scans import register_picture_formats

    register_picture_formats()  # HEIC/HEIF through pillow-heif
    try:
        with Image.open(file) as picture:
            if picture.width * picture.height > MAX_PICTURE_PIXELS:
                raise UnsupportedFile(f"{file.name} is too large to show ({picture.width} × {picture.height} "
                                      "pixels).", reason="too-large")
            picture.thumbnail((MAX_WIDTH_PX, MAX_PIXELS // MAX_WIDTH_PX))  # the most a preview draws
            out = io.BytesIO()
            picture.convert("RGB").save(out, "PNG")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as exc:
        raise CorruptFile(f"{file.name} is damaged and cannot be shown: {exc}") from exc
    return pymupdf.open("png", out.getvalue())
