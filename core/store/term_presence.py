"""Which chunks hold a word: the full-text index asked about the candidates of one search."""

from __future__ import annotations

from collections.abc import Sequence

import apsw

from .sql import in_batches

# Reading a word's whole list of chunks costs about 0.3 µs a chunk, asking about one chunk
# about 0.1 ms: past this many chunks, the candidates are asked about one by one.
WHOLE_LIST_BELOW = 50_000


def chunks_holding(conn: apsw.Connection, match: str, chunk_ids: Sequence[int]) -> tuple[set[int], int]:
    """Those of ``chunk_ids`` whose text matches the FTS5 expression ``match``, and how many
    chunks of the library match it (counted up to ``WHOLE_LIST_BELOW`` + 1)."""
    sql = "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?"
    listed = [int(r[0]) for r in conn.execute(sql, (match, WHOLE_LIST_BELOW + 1))]
    wanted = {int(c) for c in chunk_ids}
    if len(listed) <= WHOLE_LIST_BELOW:
        return wanted.intersection(listed), len(listed)
    sql = "SELECT rowid FROM chunks_fts WHERE rowid IN ({ids}) AND chunks_fts MATCH ?"
    return {int(r[0]) for r in in_batches(conn, sql, sorted(wanted), (match,))}, len(listed)
