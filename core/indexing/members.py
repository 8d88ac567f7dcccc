"""Writing the documents inside a file (an extraction's ``members``: the messages of a
mailbox, the attachments of a message) as documents of their own under their container.

A member's path is its container's path + "/" + its key; its date is its own (a message's
Date header) when it has one, so the date filter finds it by that date. Reading a container
again brings its members in line with the new extraction without losing what did not
change: a member whose key and content hash are unchanged keeps its row, chunks and vectors;
one found again under another key (a message that moved when a mailbox was compacted) is
renamed, not written again; the others are written, and the ones gone are deleted (theirs go
with them). A mailbox read in slices replaces only the members of the byte range the slice
read (see :func:`in_span`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ..store import Connection
from ..store import members as store
from ..store.chunks import insert_chunks
from ..store.documents import DocumentRecord, write_document
from ..store.ocr import record_waiting
from ..types import Extraction, Member
from .chunking import TokenizerLike, chunk_documents
from .meaning import MeaningQueue
from .pace import Pace

_MAX_NS = 2**63 - 1


def member_hash(name: str, extraction: Extraction) -> str:
    """The content hash of a member: what it holds, its own members' included (a different
    space from the file hashes, so a member is never taken for a moved file)."""
    digest = hashlib.blake2b(digest_size=16)

    def put(*parts: object) -> None:
        for part in parts:
            digest.update(str(part).encode("utf-8", "surrogatepass"))
            digest.update(b"\x00")

    put(name, extraction.kind, extraction.title, extraction.truncated, extraction.fields, extraction.date)
    for page in extraction.pages:
        put(page.number, page.text)
    for member in extraction.members:
        put(member.key, member_hash(member.name, member.extraction))
    return "member:" + digest.hexdigest()


def in_span(key: str, start: int, end: int | None) -> bool:
    """Whether a read of bytes [start, end) of a container (end None: to its end) replaces
    the member ``key``: a mailbox's messages are keyed by their byte offset; any other key
    belongs to a whole read only."""
    if key.isdigit():
        offset = int(key)
        return offset >= start and (end is None or offset < end)
    return start == 0 and end is None


def usable_members(members: Sequence[Member]) -> list[Member]:
    """The members whose keys can make a path: not empty, no "/", not "." or "..", each key once."""
    seen: set[str] = set()
    kept = []
    for member in members:
        key = member.key
        if not key or "/" in key or key in (".", "..") or "\x00" in key or key in seen:
            continue
        seen.add(key)
        kept.append(member)
    return kept


class MemberWriter:
    """Writes members on ``conn`` inside the caller's write transaction; the run's ``pace`` and
    ``meaning`` queue are told of each document written (its chunks wait for vectors)."""

    def __init__(self, conn: Connection, tokenizer: TokenizerLike, chunk_tokens: int, chunk_overlap: int,
                 pace: Pace, meaning: MeaningQueue) -> None:
        self.conn = conn
        self.tokenizer = tokenizer
        self.chunk_tokens = chunk_tokens
        self.chunk_overlap = chunk_overlap
        self.pace = pace
        self.meaning = meaning
        self.written = 0  # member documents written (new or changed) in this run
        self.kept = 0  # members found unchanged (their chunks and vectors kept)

    def write(self, container_id: int, container: DocumentRecord, result: Extraction, start: int = 0) -> int:
        """The container's own date and fields, then its members in the span the extraction
        read (from ``start`` to ``result.resume_at``); returns the members written."""
        plain = not (result.members or result.fields or result.date is not None)
        if plain and start == 0 and not store.holds_contents(self.conn, container_id):
            return 0  # an ordinary file, as it was: nothing to write
        store.set_own_values(self.conn, container_id, result.date, result.fields)
        before = self.written
        self._level(container_id, container, result.members, start, result.resume_at)
        return self.written - before

    def _level(self, parent_id: int, parent: DocumentRecord, members: Sequence[Member], start: int,
               end: int | None) -> None:
        """Bring the members of ``parent`` in the span [start, end) in line with ``members``."""
        existing = [m for m in store.list_members(self.conn, parent_id) if in_span(m.key, start, end)]
        incoming = [(m, member_hash(m.name, m.extraction)) for m in usable_members(members)]
        at_key = {m.key: m for m in existing}
        kept = {m.key for m, digest in incoming if m.key in at_key and at_key[m.key].content_hash == digest}
        free: dict[str, list[store.StoredMember]] = {}  # rows not kept where they are, by content
        for row in existing:
            if row.key not in kept:
                free.setdefault(row.content_hash, []).append(row)
        moves: list[tuple[store.StoredMember, str]] = []
        to_write: list[tuple[Member, str]] = []
        for member, digest in incoming:
            if member.key in kept:
                continue
            if free.get(digest):
                moves.append((free[digest].pop(), member.key))
            else:
                to_write.append((member, digest))
        store.delete_members(self.conn, [row.id for rows in free.values() for row in rows])
        # Moved rows step aside first (two messages may swap places), then take their new keys.
        for row, _ in moves:
            store.rename_member(self.conn, row.id, f".moving-{row.id}", f"{parent.path}/{row.key}",
                                f"{parent.path}/.moving-{row.id}")
        for row, key in moves:
            store.rename_member(self.conn, row.id, key, f"{parent.path}/.moving-{row.id}", f"{parent.path}/{key}")
        self.kept += len(kept) + len(moves)
        self._write_all(parent_id, parent, to_write)

    def _write_all(self, parent_id: int, parent: DocumentRecord, to_write: list[tuple[Member, str]]) -> None:
        """Write these members (their chunks cut in one go), then each one's own members."""
        spans = chunk_documents([m.extraction.pages for m, _ in to_write], self.tokenizer,
                                self.chunk_tokens, self.chunk_overlap)
        for (member, digest), chunks in zip(to_write, spans, strict=True):
            ex = member.extraction
            record = DocumentRecord(
                path=f"{parent.path}/{member.key}", kind=ex.kind or "unknown",
                size=sum(len(p.text.encode("utf-8", "surrogatepass")) for p in ex.pages),
                mtime_ns=_date_ns(ex.date, parent.mtime_ns), content_hash=digest, source_id=parent.source_id,
                title=ex.title or member.name, pages=len(ex.pages), truncated=ex.truncated)
            doc_id = write_document(self.conn, record)
            store.link_member(self.conn, doc_id, parent_id, member.key, member.name)
            store.set_own_values(self.conn, doc_id, ex.date, ex.fields)
            insert_chunks(self.conn, doc_id, chunks)
            record_waiting(self.conn, doc_id, ex.ocr_pages)  # a scan or picture attached: read by OCR later
            self.written += 1
            self.pace.read(0, 0, len(chunks))
            self.meaning.wrote(doc_id, record.mtime_ns, len(chunks))
            self._level(doc_id, record, ex.members, 0, None)


def _date_ns(date: float | None, fallback: int) -> int:
    """A member's mtime: its own date when it has one that fits, else its container's."""
    if date is None or date != date:  # None or NaN
        return fallback
    ns = date * 1e9
    return int(ns) if -_MAX_NS <= ns <= _MAX_NS else fallback
