"""Approximate nearest neighbours for large vector spaces: sign bits scanned in memory, the best
candidates rescored with int8 copies of their vectors.

sqlite-vec 0.1.x searches by brute force and picks its top k in O(rows × k): measured here, a
float KNN over 100k vectors takes ~180 ms, a ``bit[384]`` column ~24 ms for k = 50 but ~230 ms
for k = 500, and reading one vector back by rowid ~0.5 ms. So each space also keeps two plain
tables keyed by chunk id:

* ``vec_bits_<space>``: one sign bit per dimension (48 bytes for 384-d). A process holds all
  of a space's codes in memory (56 MB per million chunks, ids included, up to a quarter more
  while it grows);
* ``vec_i8_<space>``: the vector scaled so its largest component is ±127 (384 bytes). Cosine
  ignores the scale, so the int8 copy ranks candidates to within ~1e-3.

A search ranks every code by Hamming distance to the query's signs, ranks that shortlist again
by the query's dot product with the codes (``sign_dot``), and reads the int8 copies of the best
few hundred by chunk id to order them by cosine.

``vector_index_state`` holds, per space, the highest chunk id ever indexed and a token that
changes whenever an insert is not an append; a cached copy of the codes catches up by reading
the ids above its high-water mark, and reloads when the token changes. Deleted chunks leave
both tables through a trigger; a cache learns about them when their int8 row is missing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Protocol

import apsw

from ..lazy_module import lazy
from .caches import caches_of
from .sql import in_batches, one_row, rows

if TYPE_CHECKING:
    import numpy as np
else:
    np = lazy("numpy")  # imported on first use: a bm25 search or a status never needs it

BLOCK = 32_768  # codes per Hamming block: the temporaries stay in the CPU cache
MAX_DEAD_SHARE = 0.2  # reload a cached copy once this share of it is known deleted
RESCORE_BATCH = 900  # ids per SELECT … IN (…)


class SpaceLike(Protocol):
    """What the index needs of a vector space (``vectors.VectorSpace``, a frozen dataclass)."""

    @property
    def id(self) -> int: ...

    @property
    def dim(self) -> int: ...

    @property
    def table(self) -> str: ...


def bits_table(space: SpaceLike) -> str:
    return f"vec_bits_{space.id}"


def int8_table(space: SpaceLike) -> str:
    return f"vec_i8_{space.id}"


# -- writing ------------------------------------------------------------------------------
def create_index(conn: apsw.Connection, space: SpaceLike) -> None:
    """The space's code and int8 tables, their delete trigger and its state row."""
    bits, i8 = bits_table(space), int8_table(space)
    conn.execute(
        f"""
        CREATE TABLE IF NOT EXISTS vector_index_state(
            space_id INTEGER PRIMARY KEY, token TEXT NOT NULL, high INTEGER NOT NULL);
        CREATE TABLE {bits}(id INTEGER PRIMARY KEY, code BLOB NOT NULL);
        CREATE TABLE {i8}(id INTEGER PRIMARY KEY, vec BLOB NOT NULL);
        CREATE TRIGGER {bits}_ad AFTER DELETE ON chunks BEGIN
            DELETE FROM {bits} WHERE id = old.id;
            DELETE FROM {i8} WHERE id = old.id;
        END;
        """
    )
    conn.execute("INSERT INTO vector_index_state VALUES (?, ?, 0)", (space.id, _new_token()))


def sign_codes(vectors: np.ndarray) -> np.ndarray:
    """One bit per dimension (set when positive), padded to whole 64-bit words: (n, words)."""
    vectors = np.atleast_2d(vectors)
    words = -(-vectors.shape[1] // 64)
    packed = np.packbits(vectors > 0, axis=1, bitorder="little")
    padded = np.zeros((len(vectors), words * 8), np.uint8)
    padded[:, :packed.shape[1]] = packed
    return padded.view(np.uint64)


def int8_vectors(vectors: np.ndarray) -> np.ndarray:
    scale = np.abs(vectors).max(axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    return np.rint(vectors * (127.0 / scale)).astype(np.int8)


def add_to_index(conn: apsw.Connection, space: SpaceLike, chunk_ids: Sequence[int],
                 vectors: np.ndarray) -> None:
    """Write the codes and int8 copies of ``vectors``; call inside the caller's transaction."""
    if len(chunk_ids) == 0:
        return
    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(chunk_ids), -1)
    ids = [int(c) for c in chunk_ids]
    codes, small = sign_codes(vectors), int8_vectors(vectors)
    conn.executemany(f"INSERT INTO {bits_table(space)}(id, code) VALUES (?, ?)",
                     [(cid, code.tobytes()) for cid, code in zip(ids, codes, strict=True)])
    conn.executemany(f"INSERT INTO {int8_table(space)}(id, vec) VALUES (?, ?)",
                     [(cid, vec.tobytes()) for cid, vec in zip(ids, small, strict=True)])
    _token, high = _state(conn, space)
    if min(ids) <= high:  # not an append: cached copies must reload, not catch up
        conn.execute("UPDATE vector_index_state SET token = ? WHERE space_id = ?", (_new_token(), space.id))
    conn.execute("UPDATE vector_index_state SET high = max(high, ?) WHERE space_id = ?", (max(ids), space.id))


def fill_from_floats(conn: apsw.Connection, space: SpaceLike, batch: int = 20_000) -> int:
    """Index every float vector of the space's vec0 table (for spaces made before this index)."""
    done = 0
    ids: list[int] = []
    blobs: list[bytes] = []
    for rowid, blob in rows(conn, f"SELECT rowid, embedding FROM {space.table}"):
        ids.append(int(rowid))
        blobs.append(blob)
        if len(ids) == batch:
            done += _add_blobs(conn, space, ids, blobs)
            ids, blobs = [], []
    return done + _add_blobs(conn, space, ids, blobs)


def _add_blobs(conn: apsw.Connection, space: SpaceLike, ids: list[int], blobs: list[bytes]) -> int:
    if ids:
        vectors = np.frombuffer(b"".join(blobs), np.float32).reshape(len(ids), space.dim)
        add_to_index(conn, space, ids, vectors)
    return len(ids)


def _new_token() -> str:
    return os.urandom(8).hex()


def _state(conn: apsw.Connection, space: SpaceLike) -> tuple[str, int]:
    row = one_row(conn, "SELECT token, high FROM vector_index_state WHERE space_id = ?", (space.id,))
    return (str(row[0]), int(row[1])) if row else ("", 0)


# -- the in-memory codes ------------------------------------------------------------------
class Codes:
    """A space's codes as (words, capacity) uint64 planes, so each word is one contiguous scan."""

    def __init__(self, token: str, words: int) -> None:
        self.token = token
        self.high = 0
        self.n = 0
        self.ids = np.empty(0, np.int64)
        self.planes = np.empty((words, 0), np.uint64)
        self.dead = np.empty(0, np.int64)  # positions whose chunks are known deleted

    def append(self, ids: np.ndarray, codes: np.ndarray) -> None:
        need = self.n + len(ids)
        if need > len(self.ids):
            capacity = max(need, len(self.ids) + len(self.ids) // 4, 1024)
            planes = np.empty((self.planes.shape[0], capacity), np.uint64)
            planes[:, :self.n] = self.planes[:, :self.n]
            grown = np.empty(capacity, np.int64)
            grown[:self.n] = self.ids[:self.n]
            self.planes, self.ids = planes, grown
        self.planes[:, self.n:need] = codes.T
        self.ids[self.n:need] = ids
        self.n = need  # last, so a concurrent reader never sees unwritten slots

    @property
    def alive(self) -> int:
        return self.n - len(self.dead)


def _load(conn: apsw.Connection, space: SpaceLike, codes: Codes, above: int) -> None:
    """Append the codes of ids above ``above`` (all of them for a fresh copy)."""
    words = codes.planes.shape[0]
    id_parts: list[np.ndarray] = []
    code_parts: list[np.ndarray] = []
    ids: list[int] = []
    blobs: list[bytes] = []
    for cid, blob in rows(conn, f"SELECT id, code FROM {bits_table(space)} WHERE id > ? ORDER BY id", (above,)):
        ids.append(cid)
        blobs.append(blob)
        if len(ids) == 100_000:  # bounded lists of Python objects
            id_parts.append(np.array(ids, np.int64))
            code_parts.append(np.frombuffer(b"".join(blobs), np.uint64).reshape(-1, words))
            ids, blobs = [], []
    id_parts.append(np.array(ids, np.int64))
    code_parts.append(np.frombuffer(b"".join(blobs), np.uint64).reshape(-1, words))
    codes.append(np.concatenate(id_parts), np.concatenate(code_parts))


def cached_codes(conn: apsw.Connection, space: SpaceLike) -> tuple[Codes, bool]:
    """The Store's copy of the space's codes (see ``caches``), brought up to the connection's
    snapshot; and whether that snapshot holds every cached id (so a missing int8 row means
    deleted). Only the space asked for is kept: the codes of a space a model switch replaced
    go at the first search after it."""
    token, high = _state(conn, space)
    words = -(-space.dim // 64)
    if conn.txn_state("main") == apsw.SQLITE_TXN_WRITE:  # may roll back: keep it out of the shared copy
        private = Codes(token, words)
        _load(conn, space, private, 0)
        return private, True
    caches = caches_of(conn)
    with caches.codes_lock:
        for other in [k for k in caches.codes if k != space.id]:
            del caches.codes[other]
        codes = caches.codes.get(space.id)
        if codes is None or codes.token != token or len(codes.dead) > MAX_DEAD_SHARE * max(codes.n, 1):
            codes = Codes(token, words)
            _load(conn, space, codes, 0)
            codes.high = high
            caches.codes[space.id] = codes
        elif high > codes.high:
            _load(conn, space, codes, codes.high)
            codes.high = high
        return codes, high >= codes.high


def forget_cached(conn: apsw.Connection) -> None:
    """Drop the codes the Store of ``conn`` holds (after a model switch: free them at once)."""
    caches = caches_of(conn)
    with caches.codes_lock:
        caches.codes.clear()


# -- searching ----------------------------------------------------------------------------
@cache
def _byte_counts() -> np.ndarray:
    """Set bits of each byte value."""
    return np.array([bin(b).count("1") for b in range(256)], np.uint8)


def _popcount(words: np.ndarray, out: np.ndarray) -> None:
    """Set bits of each uint64 into ``out`` (uint8); numpy < 2 has no ``bitwise_count``."""
    if hasattr(np, "bitwise_count"):
        np.bitwise_count(words, out=out)
    else:
        out[:] = _byte_counts()[words.view(np.uint8)].reshape(-1, 8).sum(axis=1, dtype=np.uint8)


def hamming(planes: np.ndarray, n: int, query_words: np.ndarray) -> np.ndarray:
    """Hamming distance from ``query_words`` to each of the first ``n`` codes."""
    out = np.empty(n, np.uint16)
    xor = np.empty(min(BLOCK, n), np.uint64)
    count = np.empty(min(BLOCK, n), np.uint8)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        m, part = stop - start, out[start:stop]
        for w, word in enumerate(query_words):
            np.bitwise_xor(planes[w, start:stop], word, out=xor[:m])
            _popcount(xor[:m], count[:m])
            if w == 0:
                part[:] = count[:m]
            else:
                np.add(part, count[:m], out=part)
    return out


def smallest(distances: np.ndarray, count: int) -> np.ndarray:
    """Positions of ``count`` smallest distances, in no order. A histogram of a sample guesses
    the cut, so one comparison pass over all distances replaces a partial sort of them."""
    n = len(distances)
    if count >= n:
        return np.arange(n)
    sample = distances[::max(1, n // 16_384)]
    wanted = 1.5 * count * len(sample) / n + 8  # aim past ``count``: a short pick costs a second pass
    cut = int(np.searchsorted(np.cumsum(np.bincount(sample)), wanted))
    picked = np.flatnonzero(distances <= cut)
    if len(picked) < count:  # the sample was unlucky: cut exactly
        cut = int(np.searchsorted(np.cumsum(np.bincount(distances)), count))
        picked = np.flatnonzero(distances <= cut)
    if len(picked) > count:
        picked = picked[np.argpartition(distances[picked], count - 1)[:count]]
    return picked


@cache
def _byte_bits() -> np.ndarray:
    """Row b: the eight bits of byte value b, lowest first, as 0.0/1.0."""
    return np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little").astype(np.float32)


def sign_dot(planes: np.ndarray, positions: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``query`` · the ±1 vector each code at ``positions`` stands for, up to a constant (higher
    is nearer). Using the query's values, not just its signs, ranks codes far better than
    Hamming distance does; a table per code byte keeps it to one lookup per byte."""
    words, m = planes.shape[0], len(positions)
    code_bytes = (np.ascontiguousarray(planes[:, positions]).view(np.uint8)  # each word's bytes in order
                  .reshape(words, m, 8).transpose(0, 2, 1).reshape(words * 8, m))  # one row per code byte
    padded = np.zeros(words * 64, np.float32)
    padded[:len(query)] = query
    table = padded.reshape(-1, 8) @ _byte_bits().T  # (bytes, 256): sum of query over each byte's set bits
    scores = np.zeros(m, np.float32)
    for byte, row in enumerate(code_bytes):
        scores += table[byte].take(row)
    return scores


def approximate_knn(conn: apsw.Connection, space: SpaceLike, query: np.ndarray, k: int,
                    candidates: int, shortlist: int) -> list[tuple[int, float]]:
    """The ``k`` nearest chunks by cosine distance: the ``shortlist`` codes nearest by Hamming
    distance, the ``candidates`` best of those by ``sign_dot``, rescored from int8 copies."""
    query = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
    codes, may_mark = cached_codes(conn, space)
    n, planes, ids, dead = codes.n, codes.planes, codes.ids, codes.dead
    distances = hamming(planes, n, sign_codes(query)[0])
    if len(dead):
        distances[dead] = np.iinfo(np.uint16).max
    picked = smallest(distances, min(max(shortlist, candidates), codes.alive))
    if len(picked) > candidates:
        scores = sign_dot(planes, picked, query)
        picked = picked[np.argpartition(-scores, candidates - 1)[:candidates]]
    picked = picked[np.argsort(ids[picked])]  # id order reads the B-tree forward
    found, missing = _rescore(conn, space, ids[picked], query, k)
    if missing.size and may_mark:
        with caches_of(conn).codes_lock:
            codes.dead = np.union1d(codes.dead, picked[missing])
    return found


def _rescore(conn: apsw.Connection, space: SpaceLike, ids: np.ndarray, query: np.ndarray,
             k: int) -> tuple[list[tuple[int, float]], np.ndarray]:
    """The ``k`` nearest of ``ids`` by cosine distance from their int8 copies, nearest first;
    and the positions of the ids that had no row (deleted)."""
    got: list[int] = []
    blobs: list[bytes] = []
    sql = f"SELECT id, vec FROM {int8_table(space)} WHERE id IN ({{ids}})"
    for cid, blob in in_batches(conn, sql, ids.tolist(), size=RESCORE_BATCH):
        got.append(cid)
        blobs.append(blob)
    kept = np.array(got, np.int64)
    missing = np.flatnonzero(~np.isin(ids, kept)) if len(kept) < len(ids) else np.empty(0, np.int64)
    if kept.size == 0:
        return [], missing
    matrix = np.frombuffer(b"".join(blobs), np.int8).reshape(len(kept), -1)
    matrix = matrix.astype(np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix)) * float(np.sqrt(query @ query))
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = np.where(norms > 0, (matrix @ query) / norms, 0.0)
    distance = 1.0 - cosine
    order = np.lexsort((kept, distance))[:k]
    return [(int(kept[i]), float(distance[i])) for i in order], missing
