"""The library's totals, kept by triggers in the one row of ``library_counts`` (migration 0004),
so reading them costs the same at a hundred chunks as at a million."""

from __future__ import annotations

from dataclasses import dataclass

import apsw

from ..errors import LibraryError
from .sql import one_row


@dataclass(frozen=True)
class LibraryCounts:
    sources: int
    documents: int  # read and indexed
    failed: int  # documents that could not be read
    chunks: int
    chunks_embedded: int  # chunks with a vector in the active space
    chunk_version: int  # advances with every chunk written, deleted or rewritten


def library_counts(conn: apsw.Connection) -> LibraryCounts:
    row = one_row(conn, "SELECT sources, documents_ok, documents_failed, chunks, chunks_embedded, "
                        "chunk_version FROM library_counts")
    if row is None:  # a row the migration made and nothing deletes: a damaged library
        raise LibraryError("The library's counts are missing: the file is damaged.")
    return LibraryCounts(*(int(v) for v in row))


def chunk_count(conn: apsw.Connection) -> int:
    return library_counts(conn).chunks
