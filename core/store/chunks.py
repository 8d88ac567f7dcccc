"""Chunk rows: text with page and offsets; FTS rows follow by trigger."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import apsw

from ..types import ChunkSpan


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
    mtime: float


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
    rows = conn.execute(
        "SELECT id, text FROM chunks WHERE embedded = 0 ORDER BY id LIMIT ?", (limit,)
    )
    return [(int(r[0]), r[1]) for r in rows]


def count_pending(conn: apsw.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM chunks WHERE embedded = 0").fetchone()[0])


def mark_embedded(conn: apsw.Connection, chunk_ids: Iterable[int]) -> None:
    conn.executemany("UPDATE chunks SET embedded = 1 WHERE id = ?", [(i,) for i in chunk_ids])


def existing_ids(conn: apsw.Connection, chunk_ids: Sequence[int]) -> set[int]:
    """Which of ``chunk_ids`` still exist and still wait for a vector (a file may change, or
    another process may embed them, while they are being embedded here)."""
    found: set[int] = set()
    for start in range(0, len(chunk_ids), 500):
        part = chunk_ids[start:start + 500]
        marks = ",".join("?" * len(part))
        found.update(r[0] for r in conn.execute(
            f"SELECT id FROM chunks WHERE embedded = 0 AND id IN ({marks})", part))
    return found


def chunk_owners(conn: apsw.Connection, chunk_ids: Sequence[int]) -> dict[int, int]:
    """chunk id → document id, for the ids that still exist."""
    owners: dict[int, int] = {}
    unique = list(dict.fromkeys(chunk_ids))
    for start in range(0, len(unique), 500):
        part = unique[start:start + 500]
        marks = ",".join("?" * len(part))
        owners.update((r[0], r[1]) for r in conn.execute(
            f"SELECT id, document_id FROM chunks WHERE id IN ({marks})", part))
    return owners


def fetch_chunks(conn: apsw.Connection, chunk_ids: Sequence[int]) -> dict[int, StoredChunk]:
    out: dict[int, StoredChunk] = {}
    for start in range(0, len(chunk_ids), 500):
        part = list(chunk_ids[start:start + 500])
        marks = ",".join("?" * len(part))
        rows = conn.execute(
            f"""SELECT c.id, c.document_id, c.ord, c.page, c.char_start, c.char_end, c.text,
                       d.path, d.title, d.kind, d.mtime_ns
                FROM chunks c JOIN documents d ON d.id = c.document_id
                WHERE c.id IN ({marks})""",
            part,
        )
        for r in rows:
            out[r[0]] = StoredChunk(*r[:10], mtime=r[10] / 1e9)
    return out


def document_chunks(conn: apsw.Connection, document_id: int) -> list[StoredChunk]:
    ids = [r[0] for r in conn.execute(
        "SELECT id FROM chunks WHERE document_id = ? ORDER BY ord", (document_id,))]
    found = fetch_chunks(conn, ids)
    return [found[i] for i in ids if i in found]
