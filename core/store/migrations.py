"""Named, ordered, transactional schema steps; the applied ones are recorded in the file."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import apsw

from .connection import MEMEX_APPLICATION_ID, write_transaction
from .sql import one_int, one_row, rows

# Every step is frozen: it holds its own SQL text and code and never calls live code (a later
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


def _initial(conn: apsw.Connection) -> None:
    """The first schema, its frozen parts in order (one transaction: see ``migrate``)."""
    for ddl in (_INITIAL_META, _INITIAL_SOURCES, _INITIAL_DOCUMENTS, _INITIAL_CHUNKS, _INITIAL_CHUNKS_FTS,
                _INITIAL_VECTOR_SPACES):
        conn.execute(ddl)


def _binary_vectors(conn: apsw.Connection) -> None:
    """Sign-bit codes and int8 copies next to each space's float vectors (see vector_index)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS vector_index_state("
        "space_id INTEGER PRIMARY KEY, token TEXT NOT NULL, high INTEGER NOT NULL)"
    )
    for space_id, dim, table in list(rows(conn, "SELECT id, dim, table_name FROM vector_spaces")):
        bits, i8 = f"vec_bits_{int(space_id)}", f"vec_i8_{int(space_id)}"
        conn.execute(
            f"""
            CREATE TABLE {bits}(id INTEGER PRIMARY KEY, code BLOB NOT NULL);
            CREATE TABLE {i8}(id INTEGER PRIMARY KEY, vec BLOB NOT NULL);
            CREATE TRIGGER {bits}_ad AFTER DELETE ON chunks BEGIN
                DELETE FROM {bits} WHERE id = old.id;
                DELETE FROM {i8} WHERE id = old.id;
            END;
            """
        )
        high = 0
        batch: list[tuple[int, bytes]] = []
        for rowid, blob in rows(conn, f"SELECT rowid, embedding FROM {table}"):
            batch.append((int(rowid), bytes(blob)))
            if len(batch) == 20_000:
                high = max(high, _binary_vectors_batch(conn, bits, i8, int(dim), batch))
                batch = []
        high = max(high, _binary_vectors_batch(conn, bits, i8, int(dim), batch))
        conn.execute("INSERT INTO vector_index_state VALUES (?, ?, ?)", (int(space_id), os.urandom(8).hex(), high))


def _binary_vectors_batch(conn: apsw.Connection, bits: str, i8: str, dim: int,
                          batch: list[tuple[int, bytes]]) -> int:
    """Write the codes (one bit per dimension, set when positive, padded to 64-bit words) and
    int8 copies (scaled so the largest component is ±127) of ``batch``; its highest id."""
    import numpy as np  # here, not at the top: a bm25 search or a status never loads numpy

    if not batch:
        return 0
    ids = [cid for cid, _ in batch]
    vectors = np.frombuffer(b"".join(blob for _, blob in batch), np.float32).reshape(len(ids), dim)
    packed = np.packbits(vectors > 0, axis=1, bitorder="little")
    codes = np.zeros((len(ids), -(-dim // 64) * 8), np.uint8)
    codes[:, :packed.shape[1]] = packed
    scale = np.abs(vectors).max(axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    small = np.rint(vectors * (127.0 / scale)).astype(np.int8)
    conn.executemany(f"INSERT INTO {bits}(id, code) VALUES (?, ?)",
                     [(cid, code.tobytes()) for cid, code in zip(ids, codes, strict=True)])
    conn.executemany(f"INSERT INTO {i8}(id, vec) VALUES (?, ?)",
                     [(cid, vec.tobytes()) for cid, vec in zip(ids, small, strict=True)])
    return max(ids)


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


def _library_counts(conn: apsw.Connection) -> None:
    """What ``status`` shows, kept by triggers in one row instead of counted (a count of the
    embedded chunks read the whole chunks table: ~0.8 s at 300,000 chunks). ``chunk_version``
    advances with every chunk written, deleted or rewritten: caches of full-text counts are
    valid for one version (see ``caches``)."""
    conn.execute(
        """
        CREATE TABLE library_counts(
            id INTEGER PRIMARY KEY CHECK (id = 1),
            sources INTEGER NOT NULL,
            documents_ok INTEGER NOT NULL,
            documents_failed INTEGER NOT NULL,
            chunks INTEGER NOT NULL,
            chunks_embedded INTEGER NOT NULL,
            chunk_version INTEGER NOT NULL
        );
        INSERT INTO library_counts VALUES (1,
            (SELECT count(*) FROM sources),
            (SELECT count(*) FROM documents WHERE status = 'ok'),
            (SELECT count(*) FROM documents WHERE status = 'error'),
            (SELECT count(*) FROM chunks),
            (SELECT count(*) FROM chunks WHERE embedded = 1),
            0);
        CREATE TRIGGER library_counts_sources_ai AFTER INSERT ON sources BEGIN
            UPDATE library_counts SET sources = sources + 1;
        END;
        CREATE TRIGGER library_counts_sources_ad AFTER DELETE ON sources BEGIN
            UPDATE library_counts SET sources = sources - 1;
        END;
        CREATE TRIGGER library_counts_documents_ai AFTER INSERT ON documents BEGIN
            UPDATE library_counts SET documents_ok = documents_ok + (new.status = 'ok'),
                documents_failed = documents_failed + (new.status = 'error');
        END;
        CREATE TRIGGER library_counts_documents_ad AFTER DELETE ON documents BEGIN
            UPDATE library_counts SET documents_ok = documents_ok - (old.status = 'ok'),
                documents_failed = documents_failed - (old.status = 'error');
        END;
        CREATE TRIGGER library_counts_documents_au AFTER UPDATE OF status ON documents BEGIN
            UPDATE library_counts
                SET documents_ok = documents_ok + (new.status = 'ok') - (old.status = 'ok'),
                    documents_failed = documents_failed + (new.status = 'error') - (old.status = 'error');
        END;
        CREATE TRIGGER library_counts_chunks_ai AFTER INSERT ON chunks BEGIN
            UPDATE library_counts SET chunks = chunks + 1, chunks_embedded = chunks_embedded + new.embedded,
                chunk_version = chunk_version + 1;
        END;
        CREATE TRIGGER library_counts_chunks_ad AFTER DELETE ON chunks BEGIN
            UPDATE library_counts SET chunks = chunks - 1, chunks_embedded = chunks_embedded - old.embedded,
                chunk_version = chunk_version + 1;
        END;
        CREATE TRIGGER library_counts_chunks_au AFTER UPDATE OF embedded, text ON chunks BEGIN
            UPDATE library_counts SET chunks_embedded = chunks_embedded + new.embedded - old.embedded,
                chunk_version = chunk_version + (new.text IS NOT old.text);
        END;
        """
    )


def _word_index(conn: apsw.Connection) -> None:
    """The chunks' words as written (no stemming), without positions, and their vocabulary:
    what spelling correction picks a word from, and where a word is found inside a longer one
    (a part of a German compound, a Chinese word inside a run of characters). Positions are
    left out (detail none): the index only says which chunks hold a word, at about a tenth of
    the main index's size."""
    conn.execute(
        """
        CREATE VIRTUAL TABLE chunks_words USING fts5(
            text,
            content='chunks', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2',
            detail='none', columnsize=0
        );
        CREATE TRIGGER chunks_words_ai AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_words(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER chunks_words_ad AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_words(chunks_words, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER chunks_words_au AFTER UPDATE OF text ON chunks BEGIN
            INSERT INTO chunks_words(chunks_words, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO chunks_words(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE VIRTUAL TABLE chunks_words_vocab USING fts5vocab(chunks_words, row);
        INSERT INTO chunks_words(chunks_words) VALUES ('rebuild');
        """
    )


# 0006_cjk_grams, frozen: the characters that make a chunk's text CJK (Hiragana, Katakana,
# CJK ideographs and their extension A, Hangul syllables, compatibility ideographs).
_CJK_GLOB = "'*[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]*'"


def _cjk_grams(conn: apsw.Connection) -> None:
    """Every three characters of the chunks that hold CJK text, so a CJK word is found inside
    the runs of characters that CJK writes without spaces (the word index holds whole runs).
    Only those chunks are indexed (the triggers check the text), so a library without CJK text
    pays nothing; one with it pays about three times that text's size."""
    conn.execute(
        f"""
        CREATE VIRTUAL TABLE chunks_grams USING fts5(
            text,
            content='chunks', content_rowid='id',
            tokenize='trigram remove_diacritics 1'
        );
        CREATE TRIGGER chunks_grams_ai AFTER INSERT ON chunks WHEN new.text GLOB {_CJK_GLOB} BEGIN
            INSERT INTO chunks_grams(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER chunks_grams_ad AFTER DELETE ON chunks WHEN old.text GLOB {_CJK_GLOB} BEGIN
            INSERT INTO chunks_grams(chunks_grams, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER chunks_grams_au AFTER UPDATE OF text ON chunks BEGIN
            INSERT INTO chunks_grams(chunks_grams, rowid, text)
                SELECT 'delete', old.id, old.text WHERE old.text GLOB {_CJK_GLOB};
            INSERT INTO chunks_grams(rowid, text) SELECT new.id, new.text WHERE new.text GLOB {_CJK_GLOB};
        END;
        CREATE VIRTUAL TABLE chunks_grams_vocab USING fts5vocab(chunks_grams, row);
        INSERT INTO chunks_grams(rowid, text) SELECT id, text FROM chunks WHERE text GLOB {_CJK_GLOB};
        """
    )


def _ocr_pages(conn: apsw.Connection) -> None:
    """Pages with no text layer that hold a picture (scanned pages, image files), read by OCR
    after every file's words are in: waiting, done (the text read, its words with their boxes
    as JSON, the page size in the boxes' units) or failed (one line why). A document written
    again (read anew, or failed) loses its rows, as it loses its chunks; the rows it needs are
    recorded again with it."""
    conn.execute(
        """
        CREATE TABLE ocr_pages(
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            page INTEGER NOT NULL,
            state TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'done', 'failed')),
            engine TEXT,
            text TEXT,
            words TEXT,
            width REAL,
            height REAL,
            error TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (document_id, page)
        ) WITHOUT ROWID;
        CREATE INDEX ocr_pages_waiting ON ocr_pages(document_id) WHERE state = 'waiting';
        CREATE TRIGGER ocr_pages_document_written AFTER UPDATE OF indexed_at ON documents BEGIN
            DELETE FROM ocr_pages WHERE document_id = new.id;
        END;
        """
    )


def _skipped_files(conn: apsw.Connection) -> None:
    """Files and folders the scan passed over without reading them, each with a reason tag
    and a one-line message (see ``skipped``): kept so the list outlives the run that found
    it. A scan of a folder replaces its rows; a removed source takes its rows with it."""
    conn.execute(
        """
        CREATE TABLE skipped_files(
            path TEXT PRIMARY KEY,
            source_id INTEGER REFERENCES sources(id) ON DELETE CASCADE,
            reason TEXT NOT NULL,
            message TEXT NOT NULL,
            seen_at REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX skipped_files_source ON skipped_files(source_id);
        """
    )


def _members(conn: apsw.Connection) -> None:
    """Documents inside files (the messages of a mailbox, the attachments of a message): each
    a document of its own whose ``parent_id`` is the document holding it (deleted with it) and
    ``member_key`` its key there (its path is the parent's path + "/" + key). ``date`` is a
    document's own date (a message's Date header, POSIX seconds), which the date filter uses
    instead of the file's mtime; ``document_fields`` holds its named values (from, to, date),
    in order; ``mailbox_state`` remembers how far an mbox was read (``read_to``, a byte
    offset) and the SHA-256 of those first bytes, so mail appended later is read alone."""
    conn.execute(
        """
        ALTER TABLE documents ADD COLUMN parent_id INTEGER REFERENCES documents(id) ON DELETE CASCADE;
        ALTER TABLE documents ADD COLUMN member_key TEXT;
        ALTER TABLE documents ADD COLUMN date REAL;
        CREATE INDEX documents_parent ON documents(parent_id);
        CREATE TABLE document_fields(
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ord INTEGER NOT NULL,
            name TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (document_id, ord)
        ) WITHOUT ROWID;
        CREATE TABLE mailbox_state(
            document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
            read_to INTEGER NOT NULL,
            head_sha256 TEXT NOT NULL
        );
        """
    )


Migration = tuple[str, Callable[[apsw.Connection], None]]

MIGRATIONS: list[Migration] = [
    ("0001_initial", _initial),
    ("0002_binary_vectors", _binary_vectors),
    ("0003_document_names", _document_names),
    ("0004_library_counts", _library_counts),
    ("0005_word_index", _word_index),
    ("0006_cjk_grams", _cjk_grams),
    ("0007_ocr_pages", _ocr_pages),
    ("0008_members", _members),
    ("0009_skipped_files", _skipped_files),
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
