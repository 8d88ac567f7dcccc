"""BM25 search over the FTS5 index. The MATCH expression comes from ``search.query``, which
quotes every user term, so raw input never reaches FTS5's query syntax."""

from __future__ import annotations

import apsw

from ..types import SearchFilters
from .filters import filter_sql


def bm25_search(
    conn: apsw.Connection, match: str, limit: int, filters: SearchFilters | None = None
) -> list[tuple[int, float]]:
    """Top ``limit`` chunks for ``match``, best first, as (chunk id, bm25 score ≥ 0)."""
    where, params = filter_sql(filters)
    if where:
        sql = (
            "SELECT f.rowid, bm25(chunks_fts) AS s FROM chunks_fts f "
            "JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.document_id "
            f"WHERE chunks_fts MATCH ?{where} ORDER BY s LIMIT ?"
        )
    else:
        sql = "SELECT rowid, bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ? " \
              "ORDER BY s LIMIT ?"
    rows = conn.execute(sql, [match, *params, limit] if where else [match, limit])
    return [(int(r[0]), -float(r[1])) for r in rows]


def integrity_check(conn: apsw.Connection) -> str | None:
    """None when the FTS index matches the chunks table, else SQLite's message."""
    try:
        conn.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
    except apsw.Error as exc:
        return str(exc)
    return None
