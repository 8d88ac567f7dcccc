"""Private copies of documents inside files, for the OCR process to read page by page.

A scanned PDF or a picture attached to a message has no file of its own. Its bytes are taken
out of its message (the message cut out of its mailbox at its offset, the attachment found by
its key, as opening a result does) into a folder of Memex's own in its cache folder (0700; the
file 0600), read from there while its pages are read, and removed after; nothing is written
anywhere else. When they cannot be had now (the mailbox was compacted or rewritten since it
was read, or is reached through a link now), the pages wait: the next run reads the mailbox
anew, and a document found again there keeps its waiting pages.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

from ..errors import ExtractionError
from ..extract.member_bytes import attachment, mbox_message
from ..store import Connection, members
from ..store import documents as docs
from ..store.members import ChainLink
from . import scan

COPIES_FOLDER = "ocr-copies"  # under Memex's cache folder
STALE_S = 24 * 3600  # a copies folder left behind by a process that died is removed after this
_MAX_FILE_BYTES = 100 * 2**20  # a message file on disk read to take an attachment out of it


class NotNow(Exception):
    """The document's bytes cannot be had now. ``lasting``: nor later, as the file holding it
    is the one Memex read (same size and date), so its pages fail; else they wait for the
    next run, which reads the changed file anew."""

    def __init__(self, message: str, lasting: bool = False) -> None:
        super().__init__(message)
        self.lasting = lasting


class MemberCopies:
    """Copies for one OCR phase, in a private folder of its own under ``cache``; one document's
    copy is kept at a time (its pages come one after the other). :meth:`close` removes them."""

    def __init__(self, cache: Path) -> None:
        self.root = cache / COPIES_FOLDER
        self._folder: Path | None = None
        self._held: tuple[int, Path] | None = None

    def copy_of(self, conn: Connection, document_id: int, path: str) -> Path | None:
        """The private copy of the document at ``path`` when it is inside a file (None for a
        file of its own); raises NotNow when its bytes cannot be had now."""
        if self._held is not None and self._held[0] == document_id:
            return self._held[1]
        links = members.chain(conn, path)
        if len(links) < 2:
            return None
        self.drop()
        name, data = _member_bytes(conn, links[0], links[1:])
        folder = _private(self._phase_folder() / str(document_id))
        target = folder / name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with open(fd, "wb") as fh:
            fh.write(data)
        self._held = (document_id, target)
        return target

    def drop(self) -> None:
        """Remove the copy held (if any)."""
        if self._held is not None:
            shutil.rmtree(self._held[1].parent, ignore_errors=True)
            self._held = None

    def close(self) -> None:
        """Remove every copy this phase made."""
        self._held = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def _phase_folder(self) -> Path:
        if self._folder is None:
            _private(self.root)
            _remove_stale(self.root)
            self._folder = _private(self.root / secrets.token_hex(8))
        return self._folder


def _member_bytes(conn: Connection, root: ChainLink, inside: list[ChainLink]) -> tuple[str, bytes]:
    """(a file name, the bytes) of the last of ``inside``, taken out of the file ``root``."""
    source = docs.source_root(conn, root.path)
    verdict = scan.judge_path(root.path, source) if source is not None else None
    if verdict is None or verdict.kind != "direct" or verdict.real is None:
        raise NotNow(f"{root.path} is not where Memex read it")
    known = docs.find_by_path(conn, root.path)
    try:
        pin = scan.PinnedFile(verdict.real)
    except OSError as exc:
        raise NotNow(f"{root.path} cannot be read: {exc.strerror or exc}") from None
    with pin:
        st = os.fstat(pin.fd)
        as_read = known is not None and (st.st_size, st.st_mtime_ns) == (known.size, known.mtime_ns)
        try:
            return _take_out(Path(pin.path), root.kind, [link.key or "" for link in inside])
        except (ExtractionError, OSError, ValueError, LookupError) as exc:
            raise NotNow(" ".join(str(exc).split()), lasting=as_read) from None


def _take_out(path: Path, kind: str, keys: list[str]) -> tuple[str, bytes]:
    """(a file name, the bytes) of the attachment reached by ``keys`` in the message file or
    mailbox (its first key: the message's offset) at ``path``."""
    if kind == "mbox":
        if not keys[0].isdigit():
            raise ExtractionError("the message is not where the mailbox keeps it", "moved")
        message = mbox_message(path, int(keys[0]))
        keys = keys[1:]
    else:
        with open(path, "rb") as fh:
            message = fh.read(_MAX_FILE_BYTES + 1)
        if len(message) > _MAX_FILE_BYTES:
            raise ExtractionError("the message is too large to take an attachment out of", "too-large")
    if not keys:
        raise ExtractionError("a message is read as text, not by OCR", "unsupported")
    return attachment(message, keys)


def _private(folder: Path) -> Path:
    """``folder`` made (0700) or found: a real folder of this user's, never a link."""
    folder.mkdir(mode=0o700, exist_ok=True)
    st = os.lstat(folder)
    if not os.path.isdir(folder) or os.path.islink(folder) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
        raise NotNow(f"{folder} is not a folder of Memex's own")
    if st.st_mode & 0o777 != 0o700:
        os.chmod(folder, 0o700)
    return folder


def _remove_stale(root: Path) -> None:
    """Copies folders left behind by a process that died while reading (older than STALE_S)."""
    now = time.time()
    for entry in os.scandir(root):
        try:
            if entry.is_dir(follow_symlinks=False) and now - entry.stat(follow_symlinks=False).st_mtime > STALE_S:
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue
