"""mbox mailboxes (Thunderbird folders, exports, /var/mail) read as a stream, in slices.

Messages start at "From " lines (the mbox "From_" line: a sender and a date with a time of
day, so a body line that merely begins with "From " and was not escaped does not split a
message); ">From " lines (mboxrd and mboxo escaping) lose one ">". Nothing holds more than
one message in memory, and a message over ``MAX_MESSAGE_BYTES`` is read for its headers
only. A call stops after a budget of messages, bytes, characters or seconds and says where to
go on from (``Extraction.resume_at``), so a huge mailbox is read in slices and mail appended
later is read from the old end.

A message that hangs or crashes the reader would stop its whole slice; the indexer then asks
for one message at a time (:func:`one_message`), and past the one that stops the reader
(:func:`skip_message`: where the next message starts, found without parsing anything).
Both are asked for through the request's one number, ``start`` (see :func:`slice_request`).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from memex.core.errors import CorruptFile, EmptyFile, ExtractionError
from memex.core.types import Extraction, Member, Page

from .mail import MAX_MESSAGE_BYTES, MessageReader, headers_only, total_chars

MAX_SLICE_MESSAGES = 2000
MAX_SLICE_BYTES = 64 * 2**20
MAX_SLICE_SECONDS = 20.0  # well inside the extraction worker's deadline
_LINE_LIMIT = 2**20  # a longer "line" is read in pieces
_HEAD_KEEP = 256 * 1024  # of a message over the cap, this much is kept for its headers

# "From sender date" with a time of day somewhere in the date.
_FROM_LINE_RE = re.compile(rb"From \S+ .*\d{1,2}:\d\d")
_MOZILLA_STATUS_RE = re.compile(rb"^X-Mozilla-Status:[ \t]*([0-9A-Fa-f]{1,4})[ \t]*\r?$", re.M)
_MOZILLA_EXPUNGED = 0x0008
_BLANK_LINE_RE = re.compile(rb"\r?\n\r?\n")


def is_from_line(line: bytes) -> bool:
    return _FROM_LINE_RE.match(line) is not None


def one_message(offset: int) -> int:
    """The ``start`` that asks for the message at ``offset`` alone (its ``resume_at`` says
    where the next one starts)."""
    return -1 - 2 * offset


def skip_message(offset: int) -> int:
    """The ``start`` that asks only where the message after the one at ``offset`` starts (no
    message is read: the answer holds no members, its ``resume_at`` is that offset)."""
    return -2 - 2 * offset


def slice_request(start: int) -> tuple[int, str]:
    """(offset, what to do there) for a request's ``start``: "slice" (from ``start`` on, as far
    as the budget goes), "one" (:func:`one_message`) or "skip" (:func:`skip_message`)."""
    if start >= 0:
        return start, "slice"
    code = -1 - start
    return code // 2, "skip" if code % 2 else "one"


def read_mbox(path: Path, max_chars: int, start: int = 0) -> Extraction:
    """The messages of mailbox ``path`` from byte ``start`` (which must be the offset of a
    message's "From " line; otherwise ``ExtractionError`` with reason "moved"); a negative
    ``start`` asks for one message or a skip (:func:`slice_request`)."""
    start, mode = slice_request(start)
    with open(path, "rb") as fh, tempfile.TemporaryDirectory(prefix="memex-mbox-") as scratch:
        stream = _MboxStream(fh, _first_message(fh, start))
        if mode == "skip":
            stream.read_message(keep=False)
            return Extraction(pages=(Page(1, ""),), kind="mbox", title=Path(path).name,
                              resume_at=stream.next_offset)
        reader = MessageReader(Path(scratch))
        members: list[Member] = []
        left = max_chars
        began = time.monotonic()
        read = 0  # messages read, kept or not
        most = 1 if mode == "one" else MAX_SLICE_MESSAGES
        while stream.next_offset is not None:
            if read and (read >= most or left <= 0
                         or stream.next_offset - start >= MAX_SLICE_BYTES
                         or time.monotonic() - began >= MAX_SLICE_SECONDS):
                break
            offset, data, too_large = stream.read_message()
            read += 1
            if not data.strip() or _expunged(data):
                continue  # nothing there, or deleted in Thunderbird and not yet compacted away
            try:
                message = reader.read(data, max(left, 1), too_large=too_large)
            except ExtractionError:
                continue  # unreadable as a message: the mailbox goes on
            if members and message.truncated and not too_large:
                stream.next_offset = offset  # it did not fit: the next slice reads it whole
                break
            left -= total_chars(message)
            members.append(Member(key=str(offset), name=message.title or "(no subject)",
                                  extraction=message))
    if not members and start == 0 and stream.next_offset is None:
        raise EmptyFile("the mailbox holds no messages")
    return Extraction(pages=(Page(1, ""),), kind="mbox", title=Path(path).name,
                      members=tuple(members), resume_at=stream.next_offset)


def _first_message(fh: BinaryIO, start: int) -> int:
    """The offset of the first message to read: ``start`` itself, checked to be at a "From "
    line; from 0, past any blank lines at the top."""
    size = os.fstat(fh.fileno()).st_size
    if start < 0 or start > size:
        raise ExtractionError("the mailbox changed since it was last read", "moved")
    if start > 0:
        fh.seek(start - 1)
        before, line = fh.read(1), fh.readline(_LINE_LIMIT)
        if before != b"\n" or not is_from_line(line):
            raise ExtractionError("the mailbox changed since it was last read", "moved")
        return start
    offset = 0
    while (line := fh.readline(_LINE_LIMIT)) and not line.strip():
        offset += len(line)
    if not line:
        raise EmptyFile("the mailbox holds no messages")
    if not line.startswith(b"From "):
        raise CorruptFile("the file is not an mbox mailbox (it does not start with a \"From \" line)")
    return offset


class MessageLines:
    """The lines of one message, read from ``fh`` just after its "From " line ``from_line``, up
    to the next message's "From " line; ">From " lines lose the ">" the mailbox added. After
    the loop, ``read`` is the bytes the message took and ``at_next`` says whether another
    message follows (its "From " line is consumed, not counted)."""

    def __init__(self, fh: BinaryIO, from_line: bytes) -> None:
        self.fh = fh
        self.from_line = from_line
        self.read = 0
        self.at_next = False

    def __iter__(self) -> Iterator[bytes]:
        at_line_start = self.from_line.endswith(b"\n")
        while line := self.fh.readline(_LINE_LIMIT):
            line_start, at_line_start = at_line_start, line.endswith(b"\n")
            if line_start and line.startswith(b"From ") and is_from_line(line):
                self.at_next = True
                return
            self.read += len(line)
            if line_start and line.startswith(b">") and line.lstrip(b">").startswith(b"From "):
                line = line[1:]
            yield line


class _MboxStream:
    """Reads one message at a time; ``next_offset`` is where the next one's "From " line
    starts (None at the end of the file)."""

    def __init__(self, fh: BinaryIO, offset: int) -> None:
        self.fh = fh
        self.next_offset: int | None = offset

    def read_message(self, keep: bool = True) -> tuple[int, bytes, bool]:
        """(offset, message bytes without its "From " line, over the size cap); without
        ``keep``, the message is only passed over (no bytes come back)."""
        offset = self.next_offset
        assert offset is not None, "read past the end of the mailbox"
        self.fh.seek(offset)
        from_line = self.fh.readline(_LINE_LIMIT)
        lines = MessageLines(self.fh, from_line)
        chunks: list[bytes] = []
        size = 0
        too_large = False
        for line in lines:
            if too_large or not keep:
                continue
            chunks.append(line)
            size += len(line)
            if size > MAX_MESSAGE_BYTES:
                too_large = True
                chunks = [headers_only(_prefix(chunks, _HEAD_KEEP))]
        self.next_offset = offset + len(from_line) + lines.read if lines.at_next else None
        return offset, b"".join(chunks), too_large


def _expunged(data: bytes) -> bool:
    """Deleted in Thunderbird but still in the file until the folder is compacted."""
    head = data[:_HEAD_KEEP]
    end = _BLANK_LINE_RE.search(head)
    match = _MOZILLA_STATUS_RE.search(head[: end.start()] if end else head)
    return match is not None and bool(int(match.group(1), 16) & _MOZILLA_EXPUNGED)


def _prefix(chunks: list[bytes], limit: int) -> bytes:
    """The first ``limit`` bytes of the joined chunks, without joining them all."""
    taken: list[bytes] = []
    size = 0
    for chunk in chunks:
        if size >= limit:
            break
        taken.append(chunk[: limit - size])
        size += len(taken[-1])
    return b"".join(taken)
