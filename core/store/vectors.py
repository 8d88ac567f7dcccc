"""Vectors in sqlite-vec ``vec0`` tables, one table per embedding model ("vector space"), so
vectors from two models can never be compared with each other.

Small spaces are searched exactly by sqlite-vec; larger ones through ``vector_index`` (sign
bits in memory, then the best candidates rescored from int8 copies)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import apsw
import numpy as np

from ..errors import LibraryError
from . import vector_index

EXACT_BELOW = 10_000  # spaces with at most this many vectors are searched exactly
# Approximate search: the SHORTLIST nearest sign-bit codes by Hamming distance, the CANDIDATES
# best of those by the query's dot product with the codes, those rescored from int8 copies.
# Each is the larger of its terms; the share keeps recall as spaces grow (clustered synthetic
# 384-d vectors, k = 50: recall@10 vs exact ≈ 0.99 at 100k, ≈ 0.98 at 1M; `memex bench latency`).
SHORTLIST_MIN, SHORTLIST_PER_RESULT, SHORTLIST_SHARE = 2_000, 40, 0.005
CANDIDATES_MIN, CANDIDATES_PER_RESULT = 300, 10


@dataclass(frozen=True)
class VectorSpace:
    id: int
    model_id: str
    dim: int
    table: str


def active_space(conn: apsw.Connection) -> VectorSpace | None:
    row = conn.execute(
        "SELECT id, model_id, dim, table_name FROM vector_spaces WHERE active = 1"
    ).fetchone()
    return VectorSpace(*row) if row else None


def ensure_space(conn: apsw.Connection, model_id: str, dim: int) -> VectorSpace:
    """The active space for ``model_id``; created (and made active) for an empty library.

    A library whose vectors came from another model is refused with a clear message rather
    than silently mixing two embedding spaces."""
    current = active_space(conn)
    if current is not None:
        if current.model_id != model_id:
            raise LibraryError(
                f"This library's vectors were made with the model '{current.model_id}', but "
                f"Memex is set to use '{model_id}'. Set the embedder back to "
                f"'{current.model_id}', or index into a new library."
            )
        if current.dim != dim:
            raise LibraryError(
                f"Model '{model_id}' now produces {dim}-dimensional vectors but the library "
                f"holds {current.dim}-dimensional ones."
            )
        return current
    conn.execute(
        "INSERT INTO vector_spaces(model_id, dim, table_name, active, created_at) "
        "VALUES (?, ?, '', 1, ?)",
        (model_id, dim, time.time()),
    )
    space_id = int(conn.last_insert_rowid())
    table = f"vec_chunks_{space_id}"
    conn.execute("UPDATE vector_spaces SET table_name = ? WHERE id = ?", (table, space_id))
    conn.execute(
        f"CREATE VIRTUAL TABLE {table} USING vec0(embedding float[{dim}] distance_metric=cosine)"
    )
    # Vectors leave with their chunk, whatever deletes it.
    conn.execute(
        f"CREATE TRIGGER {table}_ad AFTER DELETE ON chunks BEGIN "
        f"DELETE FROM {table} WHERE rowid = old.id; END"
    )
    space = VectorSpace(space_id, model_id, dim, table)
    vector_index.create_index(conn, space)
    return space


def insert_vectors(
    conn: apsw.Connection, space: VectorSpace, chunk_ids: Sequence[int], vectors: np.ndarray
) -> None:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    conn.executemany(
        f"INSERT INTO {space.table}(rowid, embedding) VALUES (?, ?)",
        [(int(cid), vec.tobytes()) for cid, vec in zip(chunk_ids, vectors, strict=True)],
    )
    vector_index.add_to_index(conn, space, chunk_ids, vectors)


def knn(
    conn: apsw.Connection, space: VectorSpace, query: np.ndarray, k: int, exact_below: int | None = None
) -> list[tuple[int, float]]:
    """The ``k`` nearest chunks by cosine distance, nearest first: exact for spaces of at most
    ``exact_below`` vectors (default ``EXACT_BELOW``), else approximate (the nearest sign-bit
    codes, rescored from int8 copies)."""
    if k <= 0:
        return []
    limit = EXACT_BELOW if exact_below is None else exact_below
    size = vector_index.cached_codes(conn, space)[0].alive
    if size > limit:
        shortlist = max(SHORTLIST_MIN, SHORTLIST_PER_RESULT * k, math.ceil(SHORTLIST_SHARE * size))
        candidates = max(CANDIDATES_MIN, CANDIDATES_PER_RESULT * k)
        return vector_index.approximate_knn(conn, space, query, k, candidates, shortlist)
    return exact_knn(conn, space, query, k)


def exact_knn(
    conn: apsw.Connection, space: VectorSpace, query: np.ndarray, k: int
) -> list[tuple[int, float]]:
    """sqlite-vec's exact (brute-force) search over the float vectors."""
    blob = np.ascontiguousarray(query, dtype=np.float32).tobytes()
    rows = conn.execute(
        f"SELECT rowid, distance FROM {space.table} WHERE embedding MATCH ? AND k = ? "
        "ORDER BY distance",
        (blob, int(k)),
    )
    return [(int(r[0]), float(r[1])) for r in rows]


def count_vectors(conn: apsw.Connection, space: VectorSpace) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {space.table}").fetchone()[0])
