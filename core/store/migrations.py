"""Named, ordered, transactional schema steps; the applied ones are recorded in the file."""

from __future__ import annotations

import time
from collections.abc import Callable

import apsw

from .connection import MEMEX_APPLICATION_ID, write_transaction
from .migration_steps.binary_vectors import binary_vectors
from .migration_steps.document_tables import members, ocr_pages, skipped_files
from .migration_steps.initial import initial
from .migration_steps.library_counts import library_counts
from .migration_steps.word_indexes import cjk_grams, document_names, word_index
from .sql import one_int, one_row

# The steps are frozen (see ``migration_steps``): their names and order never change.
Migration = tuple[str, Callable[[apsw.Connection], None]]

MIGRATIONS: list[Migration] = [
    ("0001_initial", initial),
    ("0002_binary_vectors", binary_vectors),
    ("0003_document_names", document_names),
    ("0004_library_counts", library_counts),
    ("0005_word_index", word_index),
    ("0006_cjk_grams", cjk_grams),
    ("0007_ocr_pages", ocr_pages),
    ("0008_members", members),
    ("0009_skipped_files", skipped_files),
]


def schema_version(conn: apsw.Connection) -> int:
    return one_int(conn, "PRAGMA user_version")


def application_id(conn: apsw.Connection) -> int:
    return one_int(conn, "PRAGMA application_id")


def pending_migrations(conn: apsw.Connection) -> list[str]:
    """Names of the migrations this library has not had yet (read only)."""
    _refuse_newer(conn)
    if one_row(conn, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'migrations'") is None:
        return [name for name, _ in MIGRATIONS]
    applied = {row[0] for row in conn.execute("SELECT name FROM migrations")}
    return [name for name, _ in MIGRATIONS if name not in applied]


def migrate(conn: apsw.Connection) -> list[str]:
    """Make the file a Memex library of this version: stamp Memex's application id and apply
    every migration not yet applied, each in its own transaction; returns their names.

    Only for files Memex has proven its own (see ownership.py). Any number of processes may
    run this at once on the same new file: what is applied is read again inside each write
    transaction, so a step another process has just committed is skipped, not repeated.
    A library already up to date is only read (no write lock taken)."""
    if not pending_migrations(conn) and application_id(conn) == MEMEX_APPLICATION_ID:
        return []
    with write_transaction(conn):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations(name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        if application_id(conn) != MEMEX_APPLICATION_ID:
            conn.execute(f"PRAGMA application_id = {MEMEX_APPLICATION_ID}")
    done: list[str] = []
    for number, (name, step) in enumerate(MIGRATIONS, start=1):
        with write_transaction(conn):
            _refuse_newer(conn)
            if one_row(conn, "SELECT 1 FROM migrations WHERE name = ?", (name,)) is not None:
                continue
            step(conn)
            conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
            conn.execute(f"PRAGMA user_version = {number}")
        done.append(name)
    return done


def _refuse_newer(conn: apsw.Connection) -> None:
    if schema_version(conn) > len(MIGRATIONS):
        from ..errors import LibraryError

        raise LibraryError(
            "This library was written by a newer version of Memex; update Memex to open it."
        )
