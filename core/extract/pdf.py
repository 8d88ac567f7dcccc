"""Paged formats read with PyMuPDF: pdf, epub, xps, fb2, mobi, cbz (one Page per page)."""

from __future__ import annotations

from pathlib import Path

import pymupdf
from memex.core.errors import CorruptFile, EmptyFile, EncryptedFile, NoTextLayer
from memex.core.types import Extraction, Page

from .office import check_zip

# MuPDF would otherwise print repair notes and errors for damaged files to stderr.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)

_ZIP_KINDS = frozenset({"epub", "cbz"})


def extract_paged(path: Path, kind: str, max_chars: int) -> Extraction:
    label = kind.upper()
    if kind in _ZIP_KINDS:
        check_zip(path, label)
    try:
        doc = pymupdf.open(str(path), filetype=kind)
    except (RuntimeError, ValueError) as exc:  # FileDataError is a RuntimeError
        raise CorruptFile(f"the {label} file could not be opened: {_message(exc)}") from None
    try:
        if doc.needs_pass:
            raise EncryptedFile(f"the {label} file is password-protected")
        return _read_pages(doc, kind, max_chars)
    finally:
        doc.close()


def _read_pages(doc: pymupdf.Document, kind: str, max_chars: int) -> Extraction:
    label = kind.upper()
    try:
        page_count = doc.page_count
    except (RuntimeError, ValueError) as exc:
        raise CorruptFile(f"the {label} file could not be laid out: {_message(exc)}") from None
    if page_count <= 0:  # a real document has at least one page; this one is damaged
        raise CorruptFile(f"the {label} file has no readable pages")

    pages: list[Page] = []
    total = 0
    failed = 0
    last_error: Exception | None = None
    has_images = False
    truncated = False
    for index in range(page_count):
        try:
            page = doc.load_page(index)
            text = page.get_text("text")
        except (RuntimeError, ValueError) as exc:  # one bad page must not lose the rest
            failed += 1
            last_error = exc
            pages.append(Page(index + 1, ""))
            continue
        pages.append(Page(index + 1, text))
        total += len(text)
        if not has_images and not text.strip():
            has_images = _has_images(page)
        if total >= max_chars and index + 1 < page_count:
            truncated = True
            break

    if failed == len(pages):
        detail = _message(last_error) if last_error else "unknown error"
        raise CorruptFile(f"no page of the {label} file could be read: {detail}")
    if not any(p.text.strip() for p in pages):
        if kind == "cbz" or has_images:
            raise NoTextLayer(
                f"the {label} file has no text layer (scanned or image-only pages; "
                "run OCR on it to make it searchable)"
            )
        raise EmptyFile(f"the {label} file contains no text")
    return Extraction(pages=tuple(pages), kind=kind, title=_title(doc), truncated=truncated)


def _has_images(page: pymupdf.Page) -> bool:
    try:
        return bool(page.get_image_info())
    except (RuntimeError, ValueError):
        return False


def _title(doc: pymupdf.Document) -> str | None:
    try:
        metadata = doc.metadata or {}
    except (RuntimeError, ValueError):
        return None
    title = metadata.get("title")
    if not isinstance(title, str):
        return None
    return " ".join(title.split()) or None


def _message(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__
