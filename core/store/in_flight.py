"""The file an indexing run is reading, noted in ``meta`` before it is extracted, so a file
that brings the whole process down is recognised when the next run reaches it again."""

from __future__ import annotations

import apsw

from .sql import one_row

_IN_FLIGHT = "extracting:"  # meta key prefix: path -> "attempts content_hash"


def note_reading(conn: apsw.Connection, path: str, attempts: int, digest: str) -> None:
    """Run number ``attempts`` starts on this version of ``path`` (inside a write transaction)."""
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (_IN_FLIGHT + path, f"{attempts} {digest}"))


def done_reading(conn: apsw.Connection, path: str) -> None:
    """``path`` was read to the end, or failed cleanly (inside a write transaction)."""
    conn.execute("DELETE FROM meta WHERE key = ?", (_IN_FLIGHT + path,))


def reading_attempts(conn: apsw.Connection, path: str, digest: str) -> int:
    """How many runs already started on this version of ``path`` and never finished it."""
    row = one_row(conn, "SELECT value FROM meta WHERE key = ?", (_IN_FLIGHT + path,))
    if row is None:
        return 0
    count, _, noted_hash = str(row[0]).partition(" ")
    return int(count) if count.isdigit() and noted_hash == digest else 0
