"""Steps 0007_ocr_pages, 0008_members and 0009_skipped_files: the tables kept beside the
documents (pages read by OCR, documents inside files, files the scan passed over)."""

from __future__ import annotations

import apsw

# Frozen: each step here holds its own SQL text and code and never calls live code (a later
# change to ``vector_index``, say, must not change what an old library's upgrade does).


def ocr_pages(conn: apsw.Connection) -> None:
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


def skipped_files(conn: apsw.Connection) -> None:
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


def members(conn: apsw.Connection) -> None:
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
