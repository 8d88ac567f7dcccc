"""Files with the same content: documents that share a content hash (copies of one file)."""

from __future__ import annotations

from collections.abc import Sequence

import apsw

from .sql import IN_BATCH, in_batches, rows


def content_hashes(conn: apsw.Connection, document_ids: Sequence[int]) -> dict[int, str]:
    """document id → content hash, for the readable documents among ``document_ids``."""
    sql = "SELECT id, content_hash FROM documents WHERE id IN ({ids}) AND status = 'ok'"
    return {int(r[0]): str(r[1]) for r in in_batches(conn, sql, document_ids)}


def paths_by_hash(conn: apsw.Connection, hashes: Sequence[str]) -> dict[str, list[str]]:
    """content hash → the paths of every readable document with that content, sorted."""
    unique = list(dict.fromkeys(hashes))
    found: dict[str, list[str]] = {}
    for start in range(0, len(unique), IN_BATCH):
        part = unique[start:start + IN_BATCH]
        sql = (f"SELECT content_hash, path FROM documents WHERE content_hash IN ({','.join('?' * len(part))}) "
               "AND status = 'ok' ORDER BY path")
        for digest, path in rows(conn, sql, part):
            found.setdefault(str(digest), []).append(str(path))
    return found
