"""What ``memex doctor`` asks of SQLite: versions, extensions, and whether the file is sound."""

from __future__ import annotations

from pathlib import Path

import apsw

from .connection import load_vec, open_connection
from .fts import integrity_check
from .sql import rows


def sqlite_versions() -> str:
    return f"SQLite {apsw.sqlite_lib_version()} (apsw {apsw.apsw_version()})"


def vec_version() -> str:
    """sqlite-vec's version, loaded into a scratch in-memory database."""
    probe = apsw.Connection(":memory:")
    try:
        return load_vec(probe)
    finally:
        probe.close()


def file_problems(path: Path, *, readonly: bool) -> list[str]:
    """What is wrong with the library file (``PRAGMA quick_check``, then FTS5's own check of the
    full-text index unless ``readonly``: that check is written as an INSERT); [] when sound.

    On a connection of its own: a caller's cached one may be inside a read transaction whose
    snapshot predates the last indexing run (the check would judge old data, or fail with
    SQLITE_BUSY_SNAPSHOT when its write-style command tries to upgrade)."""
    fresh = open_connection(path, readonly=readonly, create=False)
    try:
        found = [str(r[0]) for r in rows(fresh, "PRAGMA quick_check")]
        if found != ["ok"]:
            return ["quick_check: " + "; ".join(found[:5])]
        problem = None if readonly else integrity_check(fresh)
    except apsw.CorruptError as exc:
        return [f"quick_check: the library file is damaged ({exc})"]
    finally:
        fresh.close()
    return [f"full-text index: {problem}"] if problem else []
