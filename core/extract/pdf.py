"""Paged formats read with PyMuPDF: pdf, epub, xps, fb2, mobi, cbz (one Page per page).

A page with no text that holds a picture (a scan; every page of a comic book archive) is listed
in ``ocr_pages`` for OCR, at most ``MAX_OCR_PAGES`` of them; a file of such pages only comes
back with empty pages rather than as an error."""

from __future__ import annotations

from pathlib import Path

import pymupdf
from memex.core.errors import CorruptFile, EmptyFile, EncryptedFile
from memex.core.types import Extraction, Page

from .mupdf_quiet import quiet_pymupdf
from .office import check_zip
from .scans import MAX_OCR_PAGES

quiet_pymupdf()  # MuPDF would otherwise print repair notes and errors for damaged files to stderr

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
    scanned: list[int] = []  # empty pages holding a picture: left for OCR
    total = 0
    failed = 0
    last_error: Exception | None = None
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
        if not text.strip() and (kind == "cbz" or _has_images(page)):
            scanned.append(index + 1)
        if total >= max_chars and index + 1 < page_count:
            truncated = True
            break

    if failed == len(pages):
        detail = _message(last_error) if last_error else "unknown error"
        raise CorruptFile(f"no page of the {label} file could be read: {detail}")
    if not scanned and not any(p.text.strip() for p in pages):
        raise EmptyFile(f"the {label} file contains no text")
    return Extraction(pages=tuple(pages), kind=kind, title=_title(doc),
                      truncated=truncated or len(scanned) > MAX_OCR_PAGES, ocr_pages=tuple(scanned[:MAX_OCR_PAGES]))


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
