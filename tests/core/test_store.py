from __future__ import annotations

import numpy as np
import pytest
from memex.core.errors import LibraryError
from memex.core.store import migrate, open_connection, schema_version, write_transaction
from memex.core.store.connection import has_fts5, load_vec
from memex.core.store.fts import bm25_search, integrity_check
from memex.core.store.migrations import MIGRATIONS
from memex.core.store.vectors import ensure_space, insert_vectors, knn


@pytest.fixture
def conn(tmp_path):
    c = open_connection(tmp_path / "t.db")
    migrate(c)
    yield c
    c.close()


def test_open_verifies_vec_and_fts5_and_uses_wal(conn):
    assert load_vec(conn).startswith("v")
    assert has_fts5(conn)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert schema_version(conn) == len(MIGRATIONS)


def test_migrations_are_recorded_and_idempotent(conn):
    assert migrate(conn) == []
    names = [r[0] for r in conn.execute("SELECT name FROM migrations")]
    assert names == [name for name, _ in MIGRATIONS]


def test_newer_schema_is_refused(conn):
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(LibraryError, match="newer version"):
        migrate(conn)


def test_not_a_database_gives_a_clear_error(tmp_path):
    bogus = tmp_path / "notes.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LibraryError):
        c = open_connection(bogus)
        migrate(c)


def _add_doc(conn, path: str, texts: list[str]) -> list[int]:
    conn.execute(
        "INSERT INTO documents(path, folder, name, kind, size, mtime_ns, content_hash, status, "
        "indexed_at) VALUES (?, '/', ?, 'text', 1, 1, 'h', 'ok', 0)", (path, path))
    doc = conn.last_insert_rowid()
    ids = []
    for i, t in enumerate(texts):
        conn.execute("INSERT INTO chunks(document_id, ord, page, char_start, char_end, "
                     "token_count, text) VALUES (?, ?, 1, 0, ?, 1, ?)", (doc, i, len(t), t))
        ids.append(conn.last_insert_rowid())
    return ids


def test_fts_follows_chunks_through_triggers_and_vectors_leave_with_them(conn):
    with write_transaction(conn):
        space = ensure_space(conn, "test-model", 4)
        ids = _add_doc(conn, "/a.txt", ["supersonic flow over wings", "heat transfer in pipes"])
        insert_vectors(conn, space, ids, np.eye(4, dtype=np.float32)[:2])
    assert [c for c, _ in bm25_search(conn, '"supersonic"', 10)] == [ids[0]]
    assert knn(conn, space, np.array([1, 0, 0, 0], np.float32), 1)[0][0] == ids[0]
    with write_transaction(conn):
        conn.execute("DELETE FROM documents WHERE path = '/a.txt'")
    assert bm25_search(conn, '"supersonic"', 10) == []
    assert knn(conn, space, np.array([1, 0, 0, 0], np.float32), 5) == []
    assert integrity_check(conn) is None


def test_vectors_from_another_model_are_refused(conn):
    with write_transaction(conn):
        ensure_space(conn, "model-a", 4)
    with pytest.raises(LibraryError, match="model-a"), write_transaction(conn):
        ensure_space(conn, "model-b", 4)


def test_write_transaction_rolls_back_on_error(conn):
    with pytest.raises(RuntimeError), write_transaction(conn):
        _add_doc(conn, "/b.txt", ["text"])
        raise RuntimeError("boom")
    assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 0
