"""Opening the library file: apsw + sqlite-vec, verified, with the pragmas Memex relies on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import apsw
import sqlite_vec

from ..errors import LibraryError, StoreSetupError

BUSY_TIMEOUT_MS = 10_000


def open_connection(path: Path | str, *, readonly: bool = False) -> apsw.Connection:
    """Open (creating if needed) the library at ``path`` with sqlite-vec loaded and checked."""
    flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    try:
        conn = apsw.Connection(str(path), flags=flags)
    except apsw.Error as exc:
        raise LibraryError(f"Cannot open the library {path}: {exc}") from exc
    try:
        load_vec(conn)
        conn.setbusytimeout(BUSY_TIMEOUT_MS)
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA cache_size=-32000")
    except apsw.NotADBError as exc:
        conn.close()
        raise LibraryError(f"{path} is not a Memex library (not an SQLite database).") from exc
    except apsw.Error as exc:
        conn.close()
        raise LibraryError(f"Cannot use the library {path}: {exc}") from exc
    return conn


def load_vec(conn: apsw.Connection) -> str:
    """Load sqlite-vec into ``conn`` and prove it answers; returns its version."""
    try:
        conn.enable_load_extension(True)
        conn.load_extension(sqlite_vec.loadable_path())
        conn.enable_load_extension(False)
        version = conn.execute("SELECT vec_version()").fetchone()[0]
    except (apsw.Error, AttributeError) as exc:
        raise StoreSetupError(f"The sqlite-vec extension could not be loaded: {exc}") from exc
    if not version:
        raise StoreSetupError("The sqlite-vec extension loaded but did not report a version.")
    return str(version)


def has_fts5(conn: apsw.Connection) -> bool:
    return bool(conn.execute("SELECT sqlite_compileoption_used('ENABLE_FTS5')").fetchone()[0])


@contextmanager
def write_transaction(conn: apsw.Connection) -> Iterator[apsw.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: take the write lock up front so a reader never upgrades
    into a deadlock, and roll back on any error (or cancellation) inside the block."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


@contextmanager
def read_snapshot(conn: apsw.Connection) -> Iterator[apsw.Connection]:
    """A consistent read across several statements (one WAL snapshot)."""
    if not conn.getautocommit():
        yield conn
        return
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")
