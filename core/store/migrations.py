"""Named, ordered, transactional schema steps; the applied ones are recorded in the file."""

from __future__ import annotations

import time
from collections.abc import Callable

import apsw

from . import vector_index
from .connection import MEMEX_APPLICATION_ID, write_transaction
from .vectors import VectorSpace


def _initial(conn: apsw.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);

        CREATE TABLE sources(
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('folder', 'file')),
            added_at REAL NOT NULL,
            last_indexed_at REAL
        );

        CREATE TABLE documents(
            id INTEGER PRIMARY KEY,
            source_id INTEGER REFERENCES sources(id) ON DELETE SET NULL,
            path TEXT NOT NULL UNIQUE,
            folder TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
            error_reason TEXT,
            error TEXT,
            title TEXT,
            pages INTEGER NOT NULL DEFAULT 0,
            truncated INTEGER NOT NULL DEFAULT 0,
            indexed_at REAL NOT NULL
        );
        CREATE INDEX documents_hash ON documents(content_hash);
        CREATE INDEX documents_folder ON documents(folder);
        CREATE INDEX documents_source ON documents(source_id);

        CREATE TABLE chunks(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ord INTEGER NOT NULL,
            page INTEGER NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            token_count INTEGER NOT NULL,
            text TEXT NOT NULL,
            embedded INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX chunks_document ON chunks(document_id, ord);
        CREATE INDEX chunks_pending ON chunks(id) WHERE embedded = 0;

        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text,
            content='chunks', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER chunks_fts_ai AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER chunks_fts_ad AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER chunks_fts_au AFTER UPDATE OF text ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
        END;

        CREATE TABLE vector_spaces(
            id INTEGER PRIMARY KEY,
            model_id TEXT NOT NULL UNIQUE,
            dim INTEGER NOT NULL,
            table_name TEXT NOT NULL UNIQUE,
            active INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
        """
    )


def _binary_vectors(conn: apsw.Connection) -> None:
    """Sign-bit codes and int8 copies next to each space's float vectors (see vector_index)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS vector_index_state("
        "space_id INTEGER PRIMARY KEY, token TEXT NOT NULL, high INTEGER NOT NULL)"
    )
    rows = conn.execute("SELECT id, model_id, dim, table_name FROM vector_spaces").fetchall()
    for row in rows:
        space = VectorSpace(*row)
        vector_index.create_index(conn, space)
        vector_index.fill_from_floats(conn, space)


def _document_names(conn: apsw.Connection) -> None:
    """A word index of each document's file name and title, so a file is found by the name
    people remember even when its text never says it (see ``search.hybrid``)."""
    conn.execute(
        """
        CREATE VIRTUAL TABLE documents_fts USING fts5(
            name, title,
            content='documents', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER documents_fts_ai AFTER INSERT ON documents BEGIN
            INSERT INTO documents_fts(rowid, name, title) VALUES (new.id, new.name, new.title);
        END;
        CREATE TRIGGER documents_fts_ad AFTER DELETE ON documents BEGIN
            INSERT INTO documents_fts(documents_fts, rowid, name, title) VALUES ('delete', old.id, old.name, old.title);
        END;
        CREATE TRIGGER documents_fts_au AFTER UPDATE OF name, title ON documents BEGIN
            INSERT INTO documents_fts(documents_fts, rowid, name, title) VALUES ('delete', old.id, old.name, old.title);
            INSERT INTO documents_fts(rowid, name, title) VALUES (new.id, new.name, new.title);
        END;
        INSERT INTO documents_fts(documents_fts) VALUES ('rebuild');
        """
    )


Migration = tuple[str, Callable[[apsw.Connection], None]]

MIGRATIONS: list[Migration] = [
    ("0001_initial", _initial),
    ("0002_binary_vectors", _binary_vectors),
    ("0003_document_names", _document_names),
]


def schema_version(conn: apsw.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def application_id(conn: apsw.Connection) -> int:
    return int(conn.execute("PRAGMA application_id").fetchone()[0])


def pending_migrations(conn: apsw.Connection) -> list[str]:
    """Names of the migrations this library has not had yet (read only)."""
    _refuse_newer(conn)
    if conn.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'migrations'").fetchone() is None:
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
            if conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone() is not None:
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
