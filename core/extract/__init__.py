"""Turn a file into text, page by page.

``extract_file`` runs in the calling process; ``memex.core.extract.worker.ExtractionWorker``
runs it in a separate process with a deadline and a memory cap. Format modules are imported
on first use, so ``detect_kind`` stays cheap for the scanner.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from memex.core.errors import (
    CorruptFile,
    EmptyFile,
    ExtractionError,
    UnsupportedFile,
)
from memex.core.types import Extraction, Page

from .registry import (
    MAIL_KINDS,
    OFFICE_KINDS,
    PYMUPDF_KINDS,
    SUPPORTED_KINDS,
    TEXT_KINDS,
    detect_kind,
    is_supported,
)

__all__ = ["SUPPORTED_KINDS", "detect_kind", "extract_file", "is_supported"]

DEFAULT_MAX_CHARS = 5_000_000
_MAX_TITLE_CHARS = 300


def extract_file(path: Path, max_chars: int = DEFAULT_MAX_CHARS, kind: str | None = None,
                 start: int = 0) -> Extraction:
    """Extract the text of ``path``; raises an ``ExtractionError`` subclass on failure.

    At most ``max_chars`` characters come back (``truncated`` says when more were dropped).
    ``kind`` is the file's kind when the caller has detected it already (the indexer's scan);
    by default it is detected here. ``start``: for a mailbox, the byte offset of the message
    to read on from (a previous extraction's ``resume_at``).
    """
    path = Path(path)
    if max_chars <= 0:
        raise ValueError("max_chars must be positive")
    kind = kind or detect_kind(path)
    if kind is None:
        suffix = path.suffix.lower() or "no extension"
        raise UnsupportedFile(f"this type of file is not supported ({suffix})")
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise ExtractionError(f"the file cannot be read: {exc.strerror}", "unreadable") from None
    if size == 0:
        raise EmptyFile("the file is empty")
    try:
        raw = _dispatch(path, kind, max_chars, start)
    except ExtractionError:
        raise
    except MemoryError:
        raise ExtractionError("the file needs too much memory to extract", "too-large") from None
    except OSError as exc:
        detail = exc.strerror or str(exc)
        raise ExtractionError(f"the file cannot be read: {detail}", "unreadable") from None
    except RecursionError:
        raise CorruptFile(f"the {kind} file is nested too deeply to read") from None
    except Exception as exc:  # library errors: the file is not what its extension says
        detail = str(exc).strip() or type(exc).__name__
        raise CorruptFile(f"the {kind} file could not be read: {detail}") from None
    return _finish(raw, max_chars)


def _dispatch(path: Path, kind: str, max_chars: int, start: int = 0) -> Extraction:
    if kind in PYMUPDF_KINDS:
        from .pdf import extract_paged

        return extract_paged(path, kind, max_chars)
    if kind in OFFICE_KINDS:
        from .office import extract_office

        return extract_office(path, kind, max_chars)
    if kind == "html":
        from .html import extract_html

        return extract_html(path, kind, max_chars)
    if kind in MAIL_KINDS:
        from .mail import extract_mail

        return extract_mail(path, kind, max_chars, start)
    if kind == "image":
        from .images import extract_image

        return extract_image(path, kind, max_chars)
    if kind in TEXT_KINDS:
        from .text import extract_text

        return extract_text(path, kind, max_chars)
    raise UnsupportedFile(f"no extractor for {kind} files")  # registry and dispatch disagree


def _finish(raw: Extraction, max_chars: int) -> Extraction:
    """Common clean-up: no NULs, \\n line ends, blank pages as "", the character cap."""
    pages: list[Page] = []
    left = max_chars
    truncated = raw.truncated
    for index, page in enumerate(raw.pages):
        if left <= 0:
            truncated = truncated or any(p.text.strip() for p in raw.pages[index:])
            break
        text = page.text
        if "\x00" in text:
            text = text.replace("\x00", "")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text.strip():
            text = ""  # a blank page stays, so later pages keep their numbers
        if len(text) > left:
            text = text[:left]
            truncated = True
        left -= len(text)
        pages.append(Page(page.number, text))
    kept = {p.number for p in pages}
    ocr_pages = tuple(n for n in raw.ocr_pages if n in kept)  # not the pages cut off by the cap
    truncated = truncated or len(ocr_pages) < len(raw.ocr_pages)
    # A mailbox has no text of its own, and a slice of one may hold only deleted messages;
    # the mail reader says itself when a mailbox holds nothing.
    if not any(p.text.strip() for p in pages) and not raw.members and not ocr_pages \
            and raw.kind not in MAIL_KINDS:
        raise EmptyFile("the file contains no text")
    title = raw.title
    if title is not None:
        title = " ".join(title.replace("\x00", "").split())[:_MAX_TITLE_CHARS] or None
    # Everything else (documents inside, fields, date, where to read on) comes through as it is.
    return replace(raw, pages=tuple(pages), title=title, truncated=truncated, ocr_pages=ocr_pages)
