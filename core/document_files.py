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
from .store.in_flight import done_reading
from .store.members import ChainLink, containers, mailbox_state, rewind_mailbox
from .store.members import chain as member_chain

if TYPE_CHECKING:
    from .store import Connection, Store
    from .types import FileError, OcrPage


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


def failures(store: Store, limit: int) -> list[FileError]:
    """Failed files, then files with pages OCR could not read (see ``Library.failures``)."""
    from .store.ocr import failed_files as ocr_failed

    with store.read() as conn:
        found = docs.failed_files(conn, limit)
        return found + ocr_failed(conn, limit - len(found))


def mark_for_retry(store: Store, paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Mark the failed files among ``paths`` to be read again; the paths to refresh. A document
    inside a file stands for the file that holds it; a message skipped because it stopped the
    reader makes its mailbox be read again from that message; the pages OCR could not read in
    a document wait to be read again."""
    from .indexing.mailboxes import head_before
    from .store.ocr import retry_failed as retry_ocr

    wanted = [str(Path(p).expanduser().absolute()) for p in paths]
    with store.read() as conn:
        skipped = _skipped_messages(conn, wanted)
    # The bytes before each message are hashed outside the write transaction.
    rewinds = [(box, state, head_before(box.path, offset, state) if state else None)
               for box, offset, state in skipped.values()]
    with store.write() as conn:
        held = containers(conn, wanted)
        marked = docs.mark_for_retry(conn, [held.get(p, p) for p in wanted if p not in skipped])
        marked += [held.get(p, p) for p in retry_ocr(conn, wanted)]
        for box, state, to in rewinds:
            rewind_mailbox(conn, box.id, state, to)
            done_reading(conn, box.path)
        return list(dict.fromkeys([*marked, *(box.path for box, _, _ in rewinds)]))


_Skipped = tuple[ChainLink, int, tuple[int, str] | None]


def _skipped_messages(conn: Connection, paths: Iterable[str]) -> dict[str, _Skipped]:
    """path → (its mailbox on disk, the message's offset, the mailbox's read state), for the
    paths that are failed messages of a mailbox (skipped because they stopped the reader)."""
    from .indexing.mailboxes import MAILBOX_KINDS

    found: dict[str, _Skipped] = {}
    for path in dict.fromkeys(paths):
        links = member_chain(conn, path)
        if len(links) != 2 or links[1].status != "error" or links[0].kind not in MAILBOX_KINDS:
            continue
        key = links[1].key or ""
        if key.isdigit():
            found[path] = (links[0], int(key), mailbox_state(conn, links[0].id))
    return found
