"""Step 0001_initial: the first schema (settings, sources, documents, chunks, their word
index, vector spaces)."""

from __future__ import annotations

import apsw

# Frozen: each step here holds its own SQL text and code and never calls live code (a later
# change to ``vector_index``, say, must not change what an old library's upgrade does).


# 0001_initial, frozen: the library's own settings (key -> value).
_INITIAL_META = """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# 0001_initial, frozen: the folders and files the user added.
_INITIAL_SOURCES = """
        CREATE TABLE sources(
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('folder', 'file')),
            added_at REAL NOT NULL,
            last_indexed_at REAL
        );
"""

# 0001_initial, frozen: one row per indexed file, and its lookups.
_INITIAL_DOCUMENTS = """
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
"""

# 0001_initial, frozen: the passages of each document; ``embedded`` 0 until it has vectors.
_INITIAL_CHUNKS = """
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
"""

# 0001_initial, frozen: the full-text index over chunks, kept in step by triggers.
_INITIAL_CHUNKS_FTS = """
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
"""

# 0001_initial, frozen: one row per embedding model whose vectors the library holds.
_INITIAL_VECTOR_SPACES = """
        CREATE TABLE vector_spaces(
            id INTEGER PRIMARY KEY,
            model_id TEXT NOT NULL UNIQUE,
            dim INTEGER NOT NULL,
            table_name TEXT NOT NULL UNIQUE,
            active INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL
        );
"""


def initial(conn: apsw.Connection) -> None:
    """The first schema, its frozen parts in order (one transaction: see ``migrate``)."""
    for ddl in (_INITIAL_META, _INITIAL_SOURCES, _INITIAL_DOCUMENTS, _INITIAL_CHUNKS, _INITIAL_CHUNKS_FTS,
                _INITIAL_VECTOR_SPACES):
        conn.execute(ddl)
