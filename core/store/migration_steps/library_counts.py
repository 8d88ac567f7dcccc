"""Step 0004_library_counts: the counts ``status`` shows, kept by triggers."""

from __future__ import annotations

import apsw

# Frozen: each step here holds its own SQL text and code and never calls live code (a later
# change to ``vector_index``, say, must not change what an old library's upgrade does).


def library_counts(conn: apsw.Connection) -> None:
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
