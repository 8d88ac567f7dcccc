from __future__ import annotations

import numpy as np
import pytest
from memex.core.store import fts, migrate, open_connection, write_transaction
from memex.core.store import vector_index as vi
from memex.core.store import vectors as vec
from memex.core.store.migrations import MIGRATIONS

DIM = 384


def clustered(rng: np.random.Generator, n: int, topics: int) -> np.ndarray:
    """Unit vectors around ``topics`` random centres (nearest neighbours ≈ 0.3–0.5 cosine)."""
    centres = rng.standard_normal((topics, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = 0.6 * centres[rng.integers(0, topics, n)] + rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def near(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    q = x + 0.5 * rng.standard_normal(DIM).astype(np.float32) / np.sqrt(DIM)
    return (q / np.linalg.norm(q)).astype(np.float32)


def add_chunks(conn, count: int, docs: int = 10) -> list[int]:
    """``count`` tiny chunks spread over ``docs`` documents; returns their ids in order."""
    ids: list[int] = []
    per_doc = -(-count // docs)
    for d in range(docs):
        n = min(per_doc, count - len(ids))
        conn.execute("INSERT INTO documents(path, folder, name, kind, size, mtime_ns, content_hash, status, "
                     "indexed_at) VALUES (?, '/', ?, 'text', 1, 1, 'h', 'ok', 0)", (f"/d{d}", f"d{d}"))
        doc = conn.last_insert_rowid()
        conn.executemany("INSERT INTO chunks(document_id, ord, page, char_start, char_end, token_count, text) "
                         "VALUES (?, ?, 1, 0, 1, 1, 'x')", [(doc, i) for i in range(n)])
        last = conn.last_insert_rowid()
        ids += range(last - n + 1, last + 1)
    return ids


def exact_top(matrix: np.ndarray, ids: list[int], query: np.ndarray, k: int) -> list[int]:
    order = np.argsort(-(matrix @ query), kind="stable")[:k]
    return [ids[i] for i in order]


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """30k clustered vectors in a real library file, shared by the read-only tests."""
    rng = np.random.default_rng(3)
    conn = open_connection(tmp_path_factory.mktemp("big") / "lib.db")
    migrate(conn)
    matrix = clustered(rng, 30_000, 300)
    with write_transaction(conn):
        space = vec.ensure_space(conn, "m", DIM)
        ids = add_chunks(conn, len(matrix))
        vec.insert_vectors(conn, space, ids, matrix)
    yield conn, space, matrix, ids, rng
    conn.close()


@pytest.fixture
def conn(tmp_path):
    c = open_connection(tmp_path / "t.db")
    migrate(c)
    yield c
    c.close()


def test_coarse_then_rescore_finds_the_exact_top_10(big):
    conn, space, matrix, ids, rng = big
    hits = 0
    queries = [near(rng, matrix[i]) for i in rng.integers(0, len(matrix), 30)]
    for q in queries:
        found = vec.knn(conn, space, q, 50, exact_below=1000)
        truth = exact_top(matrix, ids, q, 10)
        hits += len({c for c, _ in found[:10]} & set(truth))
        assert len(found) == 50
        assert [d for _, d in found] == sorted(d for _, d in found)
        rows = np.searchsorted(ids, [c for c, _ in found])
        exact = 1.0 - matrix[rows] @ q
        assert np.abs(exact - [d for _, d in found]).max() < 5e-3  # int8 keeps cosine to ~1e-3
    assert hits / (10 * len(queries)) >= 0.95
    # and agrees with sqlite-vec's own exact search
    q = queries[0]
    assert [c for c, _ in vec.exact_knn(conn, space, q, 10)][:3] == [c for c, _ in vec.knn(conn, space, q, 10)][:3]


def test_small_spaces_are_searched_exactly(big, monkeypatch):
    conn, space, matrix, ids, rng = big

    def refuse(*args, **kwargs):
        raise AssertionError("approximate path used")

    monkeypatch.setattr(vi, "approximate_knn", refuse)
    q = near(rng, matrix[7])
    found = vec.knn(conn, space, q, 10, exact_below=len(ids))
    assert [c for c, _ in found] == exact_top(matrix, ids, q, 10)
    with pytest.raises(AssertionError, match="approximate"):
        vec.knn(conn, space, q, 10, exact_below=len(ids) - 1)


def test_a_tiny_library_uses_the_exact_path(conn, monkeypatch):
    monkeypatch.setattr(vi, "approximate_knn", lambda *a, **k: pytest.fail("approximate path used"))
    with write_transaction(conn):
        space = vec.ensure_space(conn, "m", 4)
        ids = add_chunks(conn, 3, docs=1)
        vec.insert_vectors(conn, space, ids, np.eye(4, dtype=np.float32)[:3])
    found = vec.knn(conn, space, np.array([0, 1, 0.1, 0], np.float32), 2)
    assert [c for c, _ in found] == [ids[1], ids[2]]
    assert found[0][1] == pytest.approx(1 - 1 / np.sqrt(1.01), abs=1e-6)


def test_deleting_chunks_removes_their_vectors_everywhere(conn):
    rng = np.random.default_rng(5)
    matrix = clustered(rng, 2000, 20)
    with write_transaction(conn):
        space = vec.ensure_space(conn, "m", DIM)
        ids = add_chunks(conn, len(matrix), docs=4)
        vec.insert_vectors(conn, space, ids, matrix)
    q = near(rng, matrix[0])
    before = vec.knn(conn, space, q, 10, exact_below=0)  # loads the cached codes
    assert before[0][0] == ids[0]
    with write_transaction(conn):
        conn.execute("DELETE FROM documents WHERE path = '/d0'")  # chunks cascade, vectors by trigger
    gone = set(ids[:500])
    for table in (space.table, vi.bits_table(space), vi.int8_table(space)):
        left = {r[0] for r in conn.execute(f"SELECT rowid FROM {table}")}
        assert len(left) == 1500 and not left & gone
    after = vec.knn(conn, space, q, 10, exact_below=0)
    assert len(after) == 10 and not {c for c, _ in after} & gone
    assert [c for c, _ in after] == [c for c, _ in vec.exact_knn(conn, space, q, 10)]
    codes, _ = vi.cached_codes(conn, space)
    assert set(codes.ids[codes.dead].tolist()) <= gone and len(codes.dead) > 0


def test_cached_codes_follow_appends_and_reload_on_out_of_order_inserts(conn):
    rng = np.random.default_rng(6)
    matrix = clustered(rng, 1200, 12)
    with write_transaction(conn):
        space = vec.ensure_space(conn, "m", DIM)
        ids = add_chunks(conn, len(matrix), docs=3)
        vec.insert_vectors(conn, space, ids[400:800], matrix[400:800])
    assert vec.knn(conn, space, near(rng, matrix[500]), 1, exact_below=0)[0][0] == ids[500]
    with write_transaction(conn):  # an append: the cache catches up
        vec.insert_vectors(conn, space, ids[800:], matrix[800:])
    token = vi.cached_codes(conn, space)[0].token
    assert vec.knn(conn, space, near(rng, matrix[1000]), 1, exact_below=0)[0][0] == ids[1000]
    assert vi.cached_codes(conn, space)[0].token == token
    with write_transaction(conn):  # below the high-water mark: the cache reloads
        vec.insert_vectors(conn, space, ids[:400], matrix[:400])
    assert vec.knn(conn, space, near(rng, matrix[100]), 1, exact_below=0)[0][0] == ids[100]
    codes, _ = vi.cached_codes(conn, space)
    assert codes.token != token and codes.n == 1200


def test_migration_indexes_a_library_made_before_it(tmp_path):
    path = tmp_path / "old.db"
    conn = open_connection(path)
    rng = np.random.default_rng(8)
    matrix = clustered(rng, 1500, 15)
    # A library as the first schema left it: floats in vec0 only.
    conn.execute("CREATE TABLE migrations(name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    with write_transaction(conn):
        MIGRATIONS[0][1](conn)
        conn.execute("INSERT INTO migrations VALUES (?, 0)", (MIGRATIONS[0][0],))
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO vector_spaces(model_id, dim, table_name, active, created_at) "
                     "VALUES ('m', ?, 'vec_chunks_1', 1, 0)", (DIM,))
        conn.execute(f"CREATE VIRTUAL TABLE vec_chunks_1 USING vec0(embedding float[{DIM}] distance_metric=cosine)")
        conn.execute("CREATE TRIGGER vec_chunks_1_ad AFTER DELETE ON chunks BEGIN "
                     "DELETE FROM vec_chunks_1 WHERE rowid = old.id; END")
        ids = add_chunks(conn, len(matrix), docs=3)
        conn.executemany("INSERT INTO vec_chunks_1(rowid, embedding) VALUES (?, ?)",
                         [(c, v.tobytes()) for c, v in zip(ids, matrix, strict=True)])
    assert migrate(conn) == ["0002_binary_vectors", "0003_document_names", "0004_library_counts",
                             "0005_word_index", "0006_cjk_grams", "0007_ocr_pages", "0008_members",
                             "0009_skipped_files"]
    space = vec.active_space(conn)
    assert space is not None
    for table in (vi.bits_table(space), vi.int8_table(space)):
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == len(ids)
    q = near(rng, matrix[42])
    assert [c for c, _ in vec.knn(conn, space, q, 5, exact_below=0)] == exact_top(matrix, ids, q, 5)
    with write_transaction(conn):  # new vectors and deletions keep working after the migration
        conn.execute("DELETE FROM documents WHERE path = '/d0'")
    assert conn.execute(f"SELECT count(*) FROM {vi.bits_table(space)}").fetchone()[0] == len(ids) - 500
    conn.close()


def test_bm25_past_its_budget_matches_only_the_rarest_terms_and_scores_them_fully(conn, monkeypatch):
    with write_transaction(conn):
        conn.execute("INSERT INTO documents(path, folder, name, kind, size, mtime_ns, content_hash, status, "
                     "indexed_at) VALUES ('/a', '/', 'a', 'text', 1, 1, 'h', 'ok', 0)")
        # five words each; "common" in 104 rows (so IDF > 0), 0–4 times in the five "rare" rows
        texts = [" ".join(["common"] * (i // 60) + ["filler"] * (4 - i // 60) + ["rare"]) if i % 60 == 0
                 else " ".join(["common" if i % 3 == 1 else "filler"] + ["filler"] * 4) for i in range(300)]
        conn.executemany("INSERT INTO chunks(document_id, ord, page, char_start, char_end, token_count, text) "
                         "VALUES (1, ?, 1, 0, 1, 1, ?)", list(enumerate(texts)))
    both = '"common" OR "rare"'
    monkeypatch.setattr(fts, "MAX_SCORED_ROWS", None)
    everything = dict(fts.bm25_search(conn, both, 500))
    assert len(everything) == 105
    monkeypatch.setattr(fts, "MAX_SCORED_ROWS", 100)
    cut = fts.bm25_search(conn, both, 50)
    assert sorted((1, 61, 121, 181, 241), key=lambda c: -everything[c]) == [241, 181, 121, 61, 1]
    assert [c for c, _ in cut] == [241, 181, 121, 61, 1]  # only rows with "rare", "common" still counted
    assert all(score == pytest.approx(everything[c]) for c, score in cut)
    monkeypatch.setattr(fts, "MAX_WEIGHED_ROWS", 100)  # "common" too common to count: left out
    assert {c for c, _ in fts.bm25_search(conn, both, 50)} == {1, 61, 121, 181, 241}
    newest = {c for c, _ in fts.bm25_search(conn, '"common"', 500)}  # one term over budget: its newest rows
    monkeypatch.setattr(fts, "MAX_SCORED_ROWS", None)
    assert newest == set(sorted(c for c, _ in fts.bm25_search(conn, '"common"', 500))[-100:])
