"""The files behind documents, for opening and drawing them: an ordinary document is its own
file; a document inside a file (a message in a mailbox, an attachment) is written into
Memex's cache folder first (see ``opening``), and read again with the file that holds it.
Also what OCR read on a page, for the preview."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .config import cache_dir
from .store import documents as docs
from .store.members import chain as member_chain
from .store.members import containers

if TYPE_CHECKING:
    from .store import Store
    from .types import OcrPage


def open_target(store: Store, path: str) -> str:
    """The on-disk file to hand the operating system for the document at ``path`` (see
    ``Library.open_target``)."""
    from .opening import OPENED_FOLDER, open_target

    with store.read() as conn:
        return open_target(conn, str(path), cache_dir() / OPENED_FOLDER)


def drawable_path(store: Store, path: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """The file to draw a page of the document at ``path`` from: ``path`` itself, or, for a
    document inside a file, its copy in the cache folder."""
    if not os.path.lexists(path):
        with store.read() as conn:
            inside = len(member_chain(conn, os.fspath(path))) > 1
        if inside:
            return open_target(store, os.fspath(path))
    return path


def ocr_words(store: Store, path: str | os.PathLike[str], page: int) -> OcrPage | None:
    """What OCR read on page ``page`` of the document at ``path``, or None (see
    ``Library.ocr_words``)."""
    from .store.ocr import ocr_words

    with store.read() as conn:
        return ocr_words(conn, str(path), page)


def mark_for_retry(store: Store, paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Mark the failed files among ``paths`` to be read again; the paths to refresh. A document
    inside a file stands for the file that holds it."""
    wanted = [str(Path(p).expanduser().absolute()) for p in paths]
    with store.write() as conn:
        held = containers(conn, wanted)
        return docs.mark_for_retry(conn, [held.get(p, p) for p in wanted])
