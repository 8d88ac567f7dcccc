"""Reading an mbox mailbox: incrementally, in slices, each slice committed as it comes.

A mailbox is read alone (never in a batch with other files). When it changed and only grew
(the SHA-256 of its first ``read_to`` bytes is the one stored when it was last read that
far), only the mail after ``read_to`` is read and added; otherwise it is read again from the
start (members that did not change keep their rows and vectors; see :mod:`.members`). The
extractor stops after a budget and says where to go on (``Extraction.resume_at``): the
following slices are asked for in the same run, each written in its own transaction with the
progress shown, so a stop loses nothing and the next run goes on from where this one got to
(a mailbox read in part is stored with no stat or hash, so the next scan reads it again).

A slice that hangs or crashes the extraction process (or runs it out of memory) is read again
one message at a time; the message that does it again is listed as a failed document inside
the mailbox, and the mailbox is read on from the message after it: one such message costs
two deadlines, not a mailbox that never gets past it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..errors import ExtractionError, IndexingCancelled
from ..extract.mailbox import MAX_SLICE_BYTES, MAX_SLICE_MESSAGES, one_message, skip_message
from ..extract.worker import ExtractionWorker
from ..jobs import JobControl
from ..store import Connection, in_flight
from ..store import members as store
from ..store.chunks import insert_chunks
from ..store.connection import write_transaction
from ..store.documents import DocumentRecord, KnownFile, write_document
from ..types import Extraction, FileError
from . import scan
from .chunking import chunk_documents
from .members import MemberWriter

if TYPE_CHECKING:
    from .indexer import IndexOptions, _Reading

MAILBOX_KINDS = frozenset({"mbox"})
_BLOCK = 1 << 20
# A slice that failed so is read again one message at a time (one message may be why) ...
READER_STOPPED = frozenset({"timeout", "crashed", "too-large"})
# ... and a message read alone that fails so is not the message's doing: the mailbox fails.
NOT_THE_MESSAGE = frozenset({"closed", "moved", "unreadable"})


class _OneByOne:
    """Reading one message at a time from ``began``, as far as the slice that stopped the
    reader could have reached (the extractor's slice budget); past it, slices again."""

    def __init__(self, began: int) -> None:
        self.began = began
        self.read = 0

    def goes_on_to(self, offset: int) -> bool:
        """One more message was read alone; whether the next, at ``offset``, is read alone too."""
        self.read += 1
        return self.read < MAX_SLICE_MESSAGES and offset - self.began < MAX_SLICE_BYTES


class ReadingHost(Protocol):
    """What the mailbox reader uses of the indexer that runs it."""

    conn: Connection
    worker: ExtractionWorker
    options: IndexOptions
    members: MemberWriter
    _current: str | None

    job: JobControl

    def guard(self) -> None: ...
    def _emit(self, phase: str, force: bool = False) -> None: ...
    def _error(self, err: FileError) -> None: ...
    def _record_failure(self, f: scan.DiskFile, source_id: int | None, digest: str, reason: str,
                        message: str, known: KnownFile | None) -> str: ...
    def _link_instead(self, f: scan.DiskFile, source_id: int | None, verdict: scan.Verdict,
                      known: KnownFile | None) -> str: ...


class MailboxHead:
    """Running SHA-256 hashes of a mailbox's first ``pos`` bytes, read through an open
    descriptor: of the bytes themselves, and of the bytes with the status Thunderbird rewrites
    in place (X-Mozilla-Status read/replied/flagged bits, X-Mozilla-Status2, X-Mozilla-Keys)
    left out, so reading a message there does not make its mailbox be read again. A message
    deleted there (its expunged bit) still changes both."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.reset()

    def reset(self) -> None:
        self.sha = hashlib.sha256()
        self.masked = hashlib.sha256()
        self.pos = 0
        self._carry = b""  # from the last line break on: not yet masked

    def advance(self, to: int) -> bool:
        """Take in the bytes up to ``to``; False when the file ends before."""
        while self.pos < to:
            block = os.pread(self.fd, min(_BLOCK, to - self.pos), self.pos)
            if not block:
                return False
            self.sha.update(block)
            self.pos += len(block)
            # Whole lines go through, each with the line break before it (so a header at a
            # block's edge is seen the same wherever the blocks fall); the rest waits.
            data = self._carry + block
            cut = max(data.rfind(b"\n"), 0)
            self.masked.update(_masked(data[:cut]))
            self._carry = data[cut:]
        return True

    def digest(self) -> str:
        """What ``mailbox_state`` keeps: the two hashes, as hex, one space apart."""
        masked = self.masked.copy()
        masked.update(_masked(self._carry))
        return f"{self.sha.hexdigest()} {masked.hexdigest()}"

    def matches(self, stored: str) -> bool:
        """Whether the bytes taken in are those ``stored`` was made from, the status
        Thunderbird rewrites aside (a state holding one hash is checked against it alone)."""
        mine, theirs = self.digest().split(), stored.split()
        return mine[0] == theirs[0] or (len(theirs) > 1 and mine[1] == theirs[1])


def head_before(path: str, offset: int, state: tuple[int, str]) -> tuple[int, str] | None:
    """The state to store for the mailbox at ``path`` to be read on from ``offset`` (a
    skipped message's, to try it again): (offset, hash of the bytes before it), when its
    first ``read_to`` bytes are still those ``state`` was made from; None when it changed
    there or cannot be read (then it is read again from its start)."""
    read_to, stored = state
    if not 0 < offset <= read_to:
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        head = MailboxHead(fd)
        if not head.advance(offset):
            return None
        before = head.digest()
        return (offset, before) if head.advance(read_to) and head.matches(stored) else None
    except OSError:
        return None
    finally:
        os.close(fd)


_MARK = b"\nX-Mozilla-"
_EXPUNGED_DIGITS = frozenset(b"89abcdefABCDEF")  # the last hex digit holds the expunged bit 0x0008


def _masked(lines: bytes) -> bytes:
    """``lines`` (whole lines after a line break) without what Thunderbird rewrites in place:
    X-Mozilla-Status keeps only its expunged bit; X-Mozilla-Status2 and -Keys lose their value."""
    if _MARK not in lines:
        return lines
    parts = lines.split(_MARK)
    for i in range(1, len(parts)):
        part = parts[i]
        end = part.find(b"\n")
        head, rest = (part, b"") if end < 0 else (part[:end], part[end:])
        name, colon, value = head.partition(b":")
        if not colon:
            continue
        if name == b"Status":
            digits = value.strip()
            expunged = bool(digits) and digits[-1] in _EXPUNGED_DIGITS
            parts[i] = b"Status:" + (b"0008" if expunged else b"0000") + rest
        elif name in (b"Status2", b"Keys"):
            parts[i] = name + b":" + rest
    return _MARK.join(parts)


class MailboxReader:
    """Reads the mailboxes of one indexing run for ``host``."""

    def __init__(self, host: ReadingHost) -> None:
        self.host = host
        self.slices = 0  # extraction requests made for mailboxes in this run
        self.messages_read = 0  # messages those requests brought back
        self.skipped = 0  # messages passed over because reading them stopped the reader

    def read(self, r: _Reading) -> str:
        """Read mailbox ``r`` (from where it is known to be unchanged) to its end: the outcome."""
        h, f = self.host, r.file
        with write_transaction(h.conn):
            in_flight.note_reading(h.conn, f.path, r.attempts + 1, r.digest)
        try:
            pin = scan.PinnedFile(r.real)
        except OSError as exc:
            return h._record_failure(f, r.source_id, r.digest, "unreadable",
                                     f"Cannot read file: {exc.strerror or exc}", r.known)
        try:
            with pin:
                return self._read_pinned(r, pin)
        except IndexingCancelled:  # stopped between two slices: the next run goes on from there
            with write_transaction(h.conn):
                in_flight.done_reading(h.conn, f.path)
            raise

    def _read_pinned(self, r: _Reading, pin: scan.PinnedFile) -> str:
        h, f = self.host, r.file
        head = MailboxHead(pin.fd)
        start = self._start(r, head, os.fstat(pin.fd).st_size)
        if start is None:  # read to its end already (only its stat, or a status Thunderbird keeps, changed)
            assert r.known is not None
            with write_transaction(h.conn):
                store.mark_finished(h.conn, r.known.id, f.size, f.mtime_ns, r.digest)
                store.set_mailbox_state(h.conn, r.known.id, head.pos, head.digest())
                in_flight.done_reading(h.conn, f.path)
            return "unchanged"
        result, size = self._extract(pin, r, start)
        if isinstance(result, ExtractionError) and start and result.reason == "moved":
            head.reset()  # its old end is no longer where a message starts: read it all again
            start = 0
            result, size = self._extract(pin, r, start)
        return self._read_on(r, pin, head, start, result, size)

    def _read_on(self, r: _Reading, pin: scan.PinnedFile, head: MailboxHead, start: int,
                 result: Extraction | ExtractionError, size: int) -> str:
        """Write ``result`` (read from ``start``) and the slices after it, to the mailbox's end.
        A slice that stops the reader (a hang, a crash) is read again one message at a time,
        and the message that stops it is listed as failed and passed over."""
        h, f = self.host, r.file
        doc_id: int | None = None
        alone: _OneByOne | None = None  # reading one message at a time since a slice stopped the reader
        while True:
            culprit: ExtractionError | None = None
            if isinstance(result, ExtractionError):
                if alone is None and result.reason in READER_STOPPED:
                    alone = _OneByOne(start)
                    result, size = self._extract(pin, r, start, one_message(start))
                    continue
                if alone is None or result.reason in NOT_THE_MESSAGE:
                    return self._give_up(doc_id, r, start, result)
                culprit, alone = result, None  # this one message: go on after it
                result, size = self._extract(pin, r, start, skip_message(start))
                if isinstance(result, ExtractionError):
                    return self._give_up(doc_id, r, start, result)
            if doc_id is None:
                after = scan.judge_file(f)
                if after.real != r.real or after.kind != "direct":  # became a link during the read
                    return h._link_instead(f, r.source_id, after, r.known)
            with write_transaction(h.conn):
                doc_id = self._write_slice(doc_id, r, result, start, head, size)
                if culprit is not None:
                    self._write_skipped(doc_id, r, start, culprit)
            h._current = f.path
            h._emit("indexing", force=True)
            h.guard()
            if result.resume_at is None or result.resume_at <= start:
                return "updated" if r.known else "added"
            h.job.checkpoint()
            start = result.resume_at
            if alone is not None and not alone.goes_on_to(start):
                alone = None  # past where the slice that stopped could have reached: slices again
            result, size = self._extract(pin, r, start, one_message(start) if alone is not None else start)

    def _start(self, r: _Reading, head: MailboxHead, size: int) -> int | None:
        """Where to read from: the old end when the mailbox only grew since it was read that
        far, else 0; None when it holds nothing past that end."""
        state = store.mailbox_state(self.host.conn, r.known.id) if r.known is not None else None
        if state is None:
            return 0
        read_to, expected = state
        if 0 < read_to <= size and head.advance(read_to) and head.matches(expected):
            return None if read_to == size else read_to
        head.reset()
        return 0

    def _extract(self, pin: scan.PinnedFile, r: _Reading, start: int,
                 request: int | None = None) -> tuple[Extraction | ExtractionError, int]:
        """One slice from ``start`` (``request``: the start to ask for instead, for one
        message or a skip), and the mailbox's size just before it was read."""
        h = self.host
        size = os.fstat(pin.fd).st_size
        asked = start if request is None else request
        result = h.worker.extract_many([(Path(pin.path), h.options.max_chars, r.kind, asked)])[0]
        self.slices += 1
        if not isinstance(result, ExtractionError):
            self.messages_read += len(result.members)
        return result, size

    def _write_slice(self, doc_id: int | None, r: _Reading, result: Extraction, start: int, head: MailboxHead,
                     size_before: int) -> int:
        """One slice, in the caller's transaction: the mailbox's own document (first slice),
        the slice's messages, and how far the mailbox is now read. Returns the document id.
        (``head`` holds the mailbox's first ``start`` bytes.)"""
        h, f = self.host, r.file
        record = DocumentRecord(
            path=f.path, kind=result.kind or r.kind or "mbox", size=f.size, mtime_ns=f.mtime_ns,
            content_hash=r.digest, source_id=r.source_id, title=result.title, pages=len(result.pages),
            truncated=result.truncated)
        if doc_id is None:
            doc_id = write_document(h.conn, record)
            spans = chunk_documents([result.pages], h.members.tokenizer, h.options.chunk_tokens,
                                    h.options.chunk_overlap)[0]
            insert_chunks(h.conn, doc_id, spans)
            h.members.meaning.wrote(doc_id, f.mtime_ns, len(spans))
        h.members.write(doc_id, record, result, start)
        end = result.resume_at
        size_after = os.fstat(head.fd).st_size
        if end is None and size_after != size_before:
            end = start  # mail arrived while it was read: this slice again next time
        if end is None:  # read to the end
            if head.advance(size_after):
                store.set_mailbox_state(h.conn, doc_id, size_after, head.digest())
            store.mark_finished(h.conn, doc_id, f.size, f.mtime_ns, r.digest)
            in_flight.done_reading(h.conn, f.path)
            return doc_id
        if end > 0 and head.advance(end):
            store.set_mailbox_state(h.conn, doc_id, end, head.digest())
        else:
            store.forget_mailbox(h.conn, doc_id)
        store.mark_unfinished(h.conn, doc_id)  # a stop now: the next scan reads on from ``end``
        return doc_id

    def _write_skipped(self, doc_id: int, r: _Reading, offset: int, error: ExtractionError) -> None:
        """The message at ``offset`` stopped the reader: listed as a failed document inside
        the mailbox, with one line why (in the caller's transaction). The mailbox is read on
        after it, so it is not tried again until the mailbox changes where it lies."""
        h, f = self.host, r.file
        why = " ".join(str(error).split()).rstrip(".")
        message = f"Reading this message stopped Memex's reader ({why}); it is skipped until the mailbox changes"
        path = f"{f.path}/{offset}"
        member_id = write_document(h.conn, DocumentRecord(
            path=path, kind="email", size=0, mtime_ns=f.mtime_ns, content_hash="", source_id=r.source_id,
            status="error", error_reason=error.reason, error=message))
        store.link_member(h.conn, member_id, doc_id, str(offset), f"message at byte {offset:,}")
        h._error(FileError(path, error.reason, message))
        self.skipped += 1

    def _give_up(self, doc_id: int | None, r: _Reading, start: int, error: ExtractionError) -> str:
        """A read failed for the mailbox as a whole: listed as failed, the mail read before
        ``start`` kept (in this run or, reading on from an old end, before it)."""
        if doc_id is None and start and r.known is not None:
            doc_id = r.known.id
        if doc_id is None:
            f = r.file
            return self.host._record_failure(f, r.source_id, r.digest, error.reason, str(error), r.known)
        return self._failed_after(doc_id, r, start, error)

    def _failed_after(self, doc_id: int, r: _Reading, start: int, error: ExtractionError) -> str:
        """A slice after the first failed: the mailbox is listed as failed, the messages read
        before ``start`` stay searchable (and a later read goes on from there)."""
        h, f = self.host, r.file
        message = f"{error} (the messages before byte {start:,} are indexed)"
        with write_transaction(h.conn):
            store.mark_failed_after(h.conn, doc_id, error.reason, message)
            store.mark_finished(h.conn, doc_id, f.size, f.mtime_ns, r.digest)
            in_flight.done_reading(h.conn, f.path)
        h._error(FileError(f.path, error.reason, message))
        return "failed"
