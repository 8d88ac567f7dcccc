"""Pictures (PNG, JPEG, TIFF, WebP, BMP, GIF, HEIC): no text of their own, so every page — one per
picture, one per frame of a multi-page TIFF — is left for OCR, which runs after the words of
every file are in. Only the header is read here: a picture too large to decode is refused
before a single pixel is."""

from __future__ import annotations

from pathlib import Path

from memex.core.errors import EmptyFile
from memex.core.types import Extraction, Page
from PIL import Image

from .scans import MAX_OCR_PAGES, check_picture_size, open_picture

MIN_TEXT_SIDE = 16  # a picture smaller than this either way (an icon, a spacer) holds no readable text
_PAGED_FORMATS = frozenset({"TIFF"})  # other formats' frames are animation, not pages


def extract_image(path: Path, kind: str, max_chars: int) -> Extraction:
    """Empty pages, all of them listed in ``ocr_pages`` (at most ``MAX_OCR_PAGES``; ``truncated``
    says when a TIFF has more)."""
    path = Path(path)
    with open_picture(path) as image:
        check_picture_size(image.width, image.height, path.name)
        if min(image.width, image.height) < MIN_TEXT_SIDE:
            raise EmptyFile(f"the picture is too small to hold text ({image.width} × {image.height} pixels)")
        count = _page_count(image) if image.format in _PAGED_FORMATS else 1
    pages = min(count, MAX_OCR_PAGES)
    return Extraction(
        pages=tuple(Page(number, "") for number in range(1, pages + 1)),
        kind=kind,
        title=None,
        truncated=count > pages,
        ocr_pages=tuple(range(1, pages + 1)),
    )


def _page_count(image: Image.Image) -> int:
    """Frames of a multi-page picture, counted up to one past the cap (a file claiming a
    million pages is not walked to the end)."""
    count = 1
    while count <= MAX_OCR_PAGES:
        try:
            image.seek(count)
        except (EOFError, OSError, ValueError):  # the end, or a damaged page list: pages so far
            break
        count += 1
    return count
