"""Chunk rows: text with page and offsets; FTS rows follow by trigger."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import apsw

from ..types import ChunkSpan, SearchFilters
from .counts import library_counts
from .filters import filter_sql
from .sql import Row, in_batches, one_row, rows


@dataclass(frozen=True)
class StoredChunk:
    """A chunk joined with the document it belongs to (what search needs to build a hit)."""

    id: int
    document_id: int
    ord: int
    page: int
    char_start: int
    char_end: int
    text: str
    path: str
    title: str | None
    kind: str
    mtime: float  # the document's own date (a message's) when it has one, else the file's mtime


def insert_chunks(conn: apsw.Connection, document_id: int, spans: Sequence[ChunkSpan]) -> int:
    conn.executemany(
        "INSERT INTO chunks(document_id, ord, page, char_start, char_end, token_count, text) "
        "VALUES (?,?,?,?,?,?,?)",
        [(document_id, i, s.page, s.char_start, s.char_end, s.token_count, s.text)
         for i, s in enumerate(spans)],
    )
    return len(spans)


def pending_chunks(conn: apsw.Connection, limit: int) -> list[tuple[int, str]]:
    """Chunks stored but not yet embedded, oldest first (a restart resumes from here)."""
    found = rows(conn, "SELECT id, text FROM chunks WHERE embedded = 0 ORDER BY id LIMIT ?", (limit,))
    return [(int(r[0]), str(r[1])) for r in found]


def pending_chunks_in(conn: apsw.Connection, document_ids: Sequence[int]) -> list[tuple[int, str]]:
    """The chunks of ``document_ids`` that wait for a vector, document by document in the
    order given (the indexer embeds what the user is likely to look for first)."""
    found = in_batches(conn, "SELECT document_id, id, text FROM chunks WHERE embedded = 0 "
                             "AND document_id IN ({ids}) ORDER BY id", document_ids)
    by_document: dict[int, list[tuple[int, str]]] = {}
    for r in found:
        by_document.setdefault(int(r[0]), []).append((int(r[1]), str(r[2])))
    return [chunk for doc in dict.fromkeys(document_ids) for chunk in by_document.get(int(doc), [])]


def count_pending(conn: apsw.Connection) -> int:
    """Chunks waiting for a vector, from the library's counts (no scan)."""
    counts = library_counts(conn)
    return counts.chunks - counts.chunks_embedded


def mark_embedded(conn: apsw.Connection, chunk_ids: Iterable[int]) -> None:
    conn.executemany("UPDATE chunks SET embedded = 1 WHERE id = ?", [(i,) for i in chunk_ids])


def existing_ids(conn: apsw.Connection, chunk_ids: Sequence[int]) -> set[int]:
    """Which of ``chunk_ids`` still exist and still wait for a vector (a file may change, or
    another process may embed them, while they are being embedded here)."""
    return {int(r[0]) for r in in_batches(conn, "SELECT id FROM chunks WHERE embedded = 0 AND id IN ({ids})",
                                          chunk_ids)}


def chunk_owners(conn: apsw.Connection, chunk_ids: Sequence[int]) -> dict[int, int]:
    """chunk id → document id, for the ids that still exist."""
    return {int(r[0]): int(r[1]) for r in in_batches(conn, "SELECT id, document_id FROM chunks WHERE id IN ({ids})",
                                                     chunk_ids)}


def chunks_passing(conn: apsw.Connection, chunk_ids: Sequence[int], filters: SearchFilters) -> set[int]:
    """Which of ``chunk_ids`` belong to documents that pass ``filters``."""
    where, params = filter_sql(filters)
    sql = f"SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id IN ({{ids}}){where}"
    return {int(r[0]) for r in in_batches(conn, sql, chunk_ids, params)}


def fetch_chunks(conn: apsw.Connection, chunk_ids: Sequence[int]) -> dict[int, StoredChunk]:
    sql = """SELECT c.id, c.document_id, c.ord, c.page, c.char_start, c.char_end, c.text,
                    d.path, d.title, d.kind, coalesce(d.date * 1e9, d.mtime_ns)
             FROM chunks c JOIN documents d ON d.id = c.document_id
             WHERE c.id IN ({ids})"""
    return {int(r[0]): _stored(r) for r in in_batches(conn, sql, chunk_ids)}


def _stored(r: Row) -> StoredChunk:
    return StoredChunk(id=int(r[0]), document_id=int(r[1]), ord=int(r[2]), page=int(r[3]), char_start=int(r[4]),
                       char_end=int(r[5]), text=str(r[6]), path=str(r[7]), title=r[8], kind=str(r[9]),
                       mtime=r[10] / 1e9)


def document_chunks(conn: apsw.Connection, document_id: int) -> list[StoredChunk]:
    ids = [int(r[0]) for r in rows(conn, "SELECT id FROM chunks WHERE document_id = ? ORDER BY ord", (document_id,))]
    found = fetch_chunks(conn, ids)
    return [found[i] for i in ids if i in found]


def sample_texts(conn: apsw.Connection, count: int) -> list[str]:
    """Up to ``count`` chunk texts spread evenly over the library (by id)."""
    bounds = one_row(conn, "SELECT min(id), max(id) FROM chunks")
    if bounds is None or bounds[0] is None or count <= 0:
        return []
    low, high = int(bounds[0]), int(bounds[1])
    step = max(1, (high - low) // max(1, count - 1))
    seen: dict[int, str] = {}
    for target in range(low, high + 1, step):
        row = one_row(conn, "SELECT id, text FROM chunks WHERE id >= ? ORDER BY id LIMIT 1", (target,))
        if row is not None:
            seen.setdefault(int(row[0]), str(row[1]))
        if len(seen) >= count:
            break
    return list(seen.values())


def page_text(conn: apsw.Connection, document_id: int, page: int) -> str:
    """The stored text of one page, rebuilt from its chunks at their offsets (for preview).
    Whitespace between chunks is shown as a line break."""
    chunks = [c for c in document_chunks(conn, document_id) if c.page == page]
    out: list[str] = []
    pos = 0
    for c in sorted(chunks, key=lambda c: c.char_start):
        if c.char_end <= pos:
            continue
        if c.char_start > pos:
            out.append("\n" if out else "")
            pos = c.char_start
        out.append(c.text[pos - c.char_start:])
        pos = c.char_end
    return "".join(out)
