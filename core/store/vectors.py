"""Vectors in sqlite-vec ``vec0`` tables, one table per embedding model ("vector space"), so
vectors from two models can never be compared with each other.

Small spaces are searched exactly by sqlite-vec; larger ones through ``vector_index`` (sign
bits in memory, then the best candidates rescored from int8 copies)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import apsw

from ..errors import LibraryError
from ..lazy_module import lazy
from . import vector_index
from .sql import Row, in_batches, one_int, one_row, rows

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy("numpy")  # imported on first use: a bm25 search or a status never needs it

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
    spec: str | None = None  # how to load the model again (catalogue name or folder); None: model_id


# A space's spec lives in ``meta`` (it came with model switching, which needed no migration).
# Versions from before model switching cannot read today's libraries anyway: each migration
# since (0003, 0004) raised the schema version past what they accept.
_SPEC_KEY = "space-spec:"
_SELECT = ("SELECT s.id, s.model_id, s.dim, s.table_name, m.value FROM vector_spaces s "
           f"LEFT JOIN meta m ON m.key = '{_SPEC_KEY}' || s.id")


def _space(row: Row | None) -> VectorSpace | None:
    if row is None:
        return None
    space_id, model_id, dim, table, spec = row
    return VectorSpace(int(space_id), str(model_id), int(dim), str(table), None if spec is None else str(spec))


def active_space(conn: apsw.Connection) -> VectorSpace | None:
    return _space(one_row(conn, f"{_SELECT} WHERE s.active = 1"))


def pending_space(conn: apsw.Connection) -> VectorSpace | None:
    """The space being filled for a model switch (inactive until the swap), if any."""
    return _space(one_row(conn, f"{_SELECT} WHERE s.active = 0 ORDER BY s.id DESC"))


def space_state(conn: apsw.Connection, space: VectorSpace) -> str | None:
    """"active", "pending", or None when the space no longer exists."""
    row = one_row(conn, "SELECT active FROM vector_spaces WHERE id = ? AND model_id = ?",
                  (space.id, space.model_id))
    if row is None:
        return None
    return "active" if row[0] else "pending"


def ensure_space(conn: apsw.Connection, model_id: str, dim: int, spec: str | None = None) -> VectorSpace:
    """The active space for ``model_id``; created (and made active) for an empty library.

    A library whose vectors came from another model is refused with a clear message rather
    than silently mixing two embedding spaces (``memex models use`` switches models)."""
    current = active_space(conn)
    if current is not None:
        if current.model_id != model_id:
            raise LibraryError(
                f"This library's vectors were made with the model '{current.model_id}', but "
                f"Memex is set to use '{model_id}'. Set the embedder back to "
                f"'{current.model_id}', switch the library to the new model with "
                "'memex models use MODEL' (or in Settings), or index into a new library."
            )
        if current.dim != dim:
            raise LibraryError(
                f"Model '{model_id}' now produces {dim}-dimensional vectors but the library "
                f"holds {current.dim}-dimensional ones."
            )
        return current
    return create_space(conn, model_id, dim, spec=spec, active=True)


def create_space(conn: apsw.Connection, model_id: str, dim: int, *, spec: str | None = None,
                 active: bool) -> VectorSpace:
    """A new, empty space with its tables; call inside the caller's transaction. An inactive
    one is the target of a model switch: it is filled, then swapped in by ``activate_space``."""
    conn.execute(
        "INSERT INTO vector_spaces(model_id, dim, table_name, active, created_at) VALUES (?, ?, '', ?, ?)",
        (model_id, dim, int(active), time.time()),
    )
    space_id = int(conn.last_insert_rowid())
    if spec is not None:
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (f"{_SPEC_KEY}{space_id}", spec))
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
    space = VectorSpace(space_id, model_id, dim, table, spec)
    vector_index.create_index(conn, space)
    return space


def drop_space(conn: apsw.Connection, space: VectorSpace) -> None:
    """Remove a space: its row, tables and triggers (call inside the caller's transaction).
    Readers holding an older snapshot keep seeing it until they finish (WAL)."""
    bits, i8 = vector_index.bits_table(space), vector_index.int8_table(space)
    conn.execute(
        f"""
        DROP TRIGGER IF EXISTS {space.table}_ad;
        DROP TRIGGER IF EXISTS {bits}_ad;
        DROP TABLE IF EXISTS {space.table};
        DROP TABLE IF EXISTS {bits};
        DROP TABLE IF EXISTS {i8};
        """
    )
    conn.execute("DELETE FROM vector_index_state WHERE space_id = ?", (space.id,))
    conn.execute("DELETE FROM meta WHERE key = ?", (f"{_SPEC_KEY}{space.id}",))
    conn.execute("DELETE FROM vector_spaces WHERE id = ?", (space.id,))


def activate_space(conn: apsw.Connection, new: VectorSpace) -> VectorSpace | None:
    """Make ``new`` the active space and drop the one it replaces; returns the old one. Call
    inside the caller's write transaction, with every chunk already in ``new``: the chunks'
    ``embedded`` flags describe the active space, so they are all set here."""
    old = active_space(conn)
    if old is not None:
        conn.execute("UPDATE vector_spaces SET active = 0 WHERE id = ?", (old.id,))
    conn.execute("UPDATE vector_spaces SET active = 1 WHERE id = ?", (new.id,))
    conn.execute("UPDATE chunks SET embedded = 1 WHERE embedded = 0")
    if old is not None:
        drop_space(conn, old)
    return old


def missing_chunks(conn: apsw.Connection, space: VectorSpace, after_id: int, limit: int) -> list[tuple[int, str]]:
    """Chunks above ``after_id`` with no vector in ``space``, in id order (a switch's backlog:
    the space's own rows are its progress)."""
    found = rows(
        conn,
        f"SELECT c.id, c.text FROM chunks c WHERE c.id > ? AND NOT EXISTS "
        f"(SELECT 1 FROM {vector_index.int8_table(space)} v WHERE v.id = c.id) ORDER BY c.id LIMIT ?",
        (after_id, limit),
    )
    return [(int(r[0]), str(r[1])) for r in found]


def count_missing(conn: apsw.Connection, space: VectorSpace) -> int:
    return one_int(conn, f"SELECT count(*) FROM chunks c WHERE NOT EXISTS "
                         f"(SELECT 1 FROM {vector_index.int8_table(space)} v WHERE v.id = c.id)")


def without_vectors(conn: apsw.Connection, space: VectorSpace, chunk_ids: Sequence[int]) -> set[int]:
    """Which of ``chunk_ids`` still exist and have no vector in ``space`` yet."""
    sql = (f"SELECT c.id FROM chunks c WHERE c.id IN ({{ids}}) AND NOT EXISTS "
           f"(SELECT 1 FROM {vector_index.int8_table(space)} v WHERE v.id = c.id)")
    return {int(r[0]) for r in in_batches(conn, sql, chunk_ids)}


def unit_vectors(conn: apsw.Connection, space: VectorSpace, chunk_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """Unit vectors of ``chunk_ids`` that have one, from the index's int8 copies (a plain
    table: a row per chunk, where sqlite-vec would read a block of vectors for each), else
    from the float table."""
    found: dict[int, np.ndarray] = {}
    tables = ((vector_index.int8_table(space), "id", "vec", np.int8), (space.table, "rowid", "embedding", np.float32))
    for table, key, column, dtype in tables:
        missing = [c for c in chunk_ids if c not in found]
        for cid, blob in in_batches(conn, f"SELECT {key}, {column} FROM {table} WHERE {key} IN ({{ids}})", missing):
            vector = np.frombuffer(blob, dtype=dtype).astype(np.float32)
            found[int(cid)] = vector / max(float(np.linalg.norm(vector)), 1e-12)
    return found


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
    found = rows(conn, f"SELECT rowid, distance FROM {space.table} WHERE embedding MATCH ? AND k = ? "
                       "ORDER BY distance", (blob, int(k)))
    return [(int(r[0]), float(r[1])) for r in found]


def count_indexed(conn: apsw.Connection, space: VectorSpace) -> int:
    """Vectors in the space, counted on its plain int8 table (cheaper than the vec0 table)."""
    return one_int(conn, f"SELECT count(*) FROM {vector_index.int8_table(space)}")
