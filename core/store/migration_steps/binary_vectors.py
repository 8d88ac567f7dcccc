"""Step 0002_binary_vectors: sign-bit codes and int8 copies beside the float vectors."""

from __future__ import annotations

import os

import apsw

from ..sql import rows

# Frozen: each step here holds its own SQL text and code and never calls live code (a later
# change to ``vector_index``, say, must not change what an old library's upgrade does).


def binary_vectors(conn: apsw.Connection) -> None:
    """Sign-bit codes and int8 copies next to each space's float vectors (see vector_index)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS vector_index_state("
        "space_id INTEGER PRIMARY KEY, token TEXT NOT NULL, high INTEGER NOT NULL)"
    )
    for space_id, dim, table in list(rows(conn, "SELECT id, dim, table_name FROM vector_spaces")):
        bits, i8 = f"vec_bits_{int(space_id)}", f"vec_i8_{int(space_id)}"
        conn.execute(
            f"""
            CREATE TABLE {bits}(id INTEGER PRIMARY KEY, code BLOB NOT NULL);
            CREATE TABLE {i8}(id INTEGER PRIMARY KEY, vec BLOB NOT NULL);
            CREATE TRIGGER {bits}_ad AFTER DELETE ON chunks BEGIN
                DELETE FROM {bits} WHERE id = old.id;
                DELETE FROM {i8} WHERE id = old.id;
            END;
            """
        )
        high = 0
        batch: list[tuple[int, bytes]] = []
        for rowid, blob in rows(conn, f"SELECT rowid, embedding FROM {table}"):
            batch.append((int(rowid), bytes(blob)))
            if len(batch) == 20_000:
                high = max(high, _binary_vectors_batch(conn, bits, i8, int(dim), batch))
                batch = []
        high = max(high, _binary_vectors_batch(conn, bits, i8, int(dim), batch))
        conn.execute("INSERT INTO vector_index_state VALUES (?, ?, ?)", (int(space_id), os.urandom(8).hex(), high))


def _binary_vectors_batch(conn: apsw.Connection, bits: str, i8: str, dim: int,
                          batch: list[tuple[int, bytes]]) -> int:
    """Write the codes (one bit per dimension, set when positive, padded to 64-bit words) and
    int8 copies (scaled so the largest component is ±127) of ``batch``; its highest id."""
    import numpy as np  # here, not at the top: a bm25 search or a status never loads numpy

    if not batch:
        return 0
    ids = [cid for cid, _ in batch]
    vectors = np.frombuffer(b"".join(blob for _, blob in batch), np.float32).reshape(len(ids), dim)
    packed = np.packbits(vectors > 0, axis=1, bitorder="little")
    codes = np.zeros((len(ids), -(-dim // 64) * 8), np.uint8)
    codes[:, :packed.shape[1]] = packed
    scale = np.abs(vectors).max(axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    small = np.rint(vectors * (127.0 / scale)).astype(np.int8)
    conn.executemany(f"INSERT INTO {bits}(id, code) VALUES (?, ?)",
                     [(cid, code.tobytes()) for cid, code in zip(ids, codes, strict=True)])
    conn.executemany(f"INSERT INTO {i8}(id, vec) VALUES (?, ?)",
                     [(cid, vec.tobytes()) for cid, vec in zip(ids, small, strict=True)])
    return max(ids)
