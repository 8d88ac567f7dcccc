"""Looking into a library file from outside, as a second process would (read-only)."""

from __future__ import annotations

from pathlib import Path

import apsw


def count(db: Path, sql: str) -> int:
    """The number ``sql`` selects, or 0 while the file does not exist or is not readable yet."""
    try:
        conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    except apsw.Error:
        return 0
