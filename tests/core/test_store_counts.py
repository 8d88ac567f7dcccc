"""The Store's kept counts and caches: ``status`` reads totals its triggers keep exact through
every kind of write, and a search right after a write uses counts of the library as it is now."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import docgen
import pytest
from memex.core.store import migrate, open_connection, write_transaction
from memex.core.store import migrations as migrations_module
from memex.core.store.chunks import insert_chunks
from memex.core.store.documents import DocumentRecord, write_document
from memex.core.store.fts import ideal_score
from memex.core.store.sql import in_batches
from memex.core.types import ChunkSpan


def _truth(path: Path) -> tuple[int, int, int, int, int]:
    """The totals counted the slow way, on a connection of its own."""
    conn = open_connection(path, readonly=True, create=False)
    try:
        one = lambda sql: int(conn.execute(sql).fetchone()[0])  # noqa: E731
        return (one("SELECT count(*) FROM sources"), one("SELECT count(*) FROM documents WHERE status = 'ok'"),
                one("SELECT count(*) FROM documents WHERE status = 'error'"), one("SELECT count(*) FROM chunks"),
                one("SELECT count(*) FROM chunks WHERE embedded = 1"))
    finally:
        conn.close()


def _kept(lib) -> tuple[int, int, int, int, int]:
    s = lib.status()
    return (s.sources, s.documents, s.failed, s.chunks, s.chunks_embedded)


def _assert_exact(lib) -> tuple[int, int, int, int, int]:
    kept = _kept(lib)
    assert kept == _truth(lib.path)
    return kept


def _folder(root: Path, name: str, texts: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir()
    for file, text in texts.items():
        (folder / file).write_text(text, encoding="utf-8")
    return folder


def test_counts_stay_exact_through_index_reindex_failures_remove_and_rollback(tmp_path, library):
    first = _folder(tmp_path, "a", {f"n{i}.txt": f"Note {i} about lighthouses and tides. " * 40 for i in range(4)})
    docgen.make_broken_pdf(first / "broken.pdf")
    second = _folder(tmp_path, "b", {"only.txt": "A single short note about gardens."})
    library.index([first, second])
    sources, ok, failed, chunks, embedded = _assert_exact(library)
    assert (sources, ok, failed) == (2, 5, 1) and chunks == embedded > 5

    (first / "n0.txt").write_text("Rewritten: now only a line.", encoding="utf-8")  # re-index a changed file
    (first / "n1.txt").unlink()
    library.index()
    assert _assert_exact(library)[1:3] == (4, 1)

    library.remove(second)
    assert _assert_exact(library)[:3] == (1, 3, 1)

    before = _kept(library)
    conn = library.store.connection()
    with pytest.raises(RuntimeError), write_transaction(conn):  # a crash inside a write: rolled back
        doc = write_document(conn, DocumentRecord(path=str(tmp_path / "ghost.txt"), kind="text", size=1,
                                                  mtime_ns=1, content_hash="h", source_id=None))
        insert_chunks(conn, doc, [ChunkSpan(page=1, char_start=0, char_end=5, token_count=1, text="ghost")])
        conn.execute("DELETE FROM sources")
        raise RuntimeError("killed")
    assert _assert_exact(library) == before


def test_counts_stay_exact_through_a_model_switch(tmp_path, library, fp32_embedder_dir):
    library.index([_folder(tmp_path, "docs", {f"t{i}.txt": f"Topic {i}: sourdough starter and flour. " * 30
                                              for i in range(5)})])
    before = _assert_exact(library)
    assert library.switch_embedder(fp32_embedder_dir).switched
    assert _assert_exact(library) == before


def test_migration_counts_a_library_made_before_it(tmp_path, library):
    library.index([_folder(tmp_path, "docs", {"a.txt": "alpha " * 300, "b.txt": "beta"})])
    expected = _assert_exact(library)
    conn = library.store.connection()
    triggers = [r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE name LIKE 'library_counts_%'")]
    with write_transaction(conn):  # as a library written before the counts were kept
        for name in triggers:
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("DROP TABLE library_counts")
        conn.execute("DELETE FROM migrations WHERE name = '0004_library_counts'")
        conn.execute("PRAGMA user_version = 3")
    assert migrate(conn) == ["0004_library_counts"]
    assert _kept(library) == expected


def _idf_sum(path: Path, terms: list[str]) -> float:
    """What ``ideal_score`` must give: FTS5's IDF of each term over the library as it is."""
    conn = open_connection(path, readonly=True, create=False)
    try:
        rows = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        total = 0.0
        for term in terms:
            sql = "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?"
            hits = conn.execute(sql, (f'"{term}"',)).fetchone()[0]
            total += max(1e-6, math.log((rows - hits + 0.5) / (hits + 0.5)))
        return total
    finally:
        conn.close()


def test_a_search_right_after_indexing_uses_the_new_term_counts(tmp_path, open_library):
    """The IDF behind ``ideal_score`` (how much of the query a result matched) is counted on the
    library as it is now: after this Library indexes, and after another one (another process,
    as far as this Library's caches know) writes the same file."""
    library = open_library("lib.db")
    folder = _folder(tmp_path, "docs", {f"f{i}.txt": ("kestrel " if i == 0 else "") + f"plain note {i}"
                                        for i in range(12)})
    library.index([folder])
    conn = library.store.connection()
    match = '"kestrel" OR "note"'
    assert ideal_score(conn, match) == pytest.approx(_idf_sum(library.path, ["kestrel", "note"]))

    for i in range(12, 20):  # now a common word: its IDF drops at once, not a minute later
        (folder / f"f{i}.txt").write_text(f"kestrel sighting {i}", encoding="utf-8")
    library.index()
    assert ideal_score(conn, match) == pytest.approx(_idf_sum(library.path, ["kestrel", "note"]))

    other = open_library("lib.db")
    (folder / "f20.txt").write_text("kestrel again", encoding="utf-8")
    other.index()
    assert ideal_score(conn, match) == pytest.approx(_idf_sum(library.path, ["kestrel", "note"]))


def test_in_batches_reads_every_id_once_past_the_batch_size(tmp_path):
    conn = open_connection(tmp_path / "t.db")
    try:
        migrate(conn)
        conn.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(1, 1201)])
        ids = [*range(1, 1201, 2), 7, 7, 5000]
        found = list(in_batches(conn, "SELECT id, v FROM t WHERE id IN ({ids}) AND v != ?", ids, ["v3"], size=100))
        assert sorted(r[0] for r in found) == [i for i in range(1, 1201, 2) if i != 3]
    finally:
        conn.close()


def _imported_from(path: Path) -> set[str | None]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


def test_migrations_are_frozen_text_that_calls_no_live_code():
    runner = Path(migrations_module.__file__)
    imported = _imported_from(runner)
    steps = {m for m in imported if m and m.startswith("migration_steps.")}
    assert imported - steps <= {"__future__", "collections.abc", "connection", "errors", "sql"}, imported
    step_files = sorted((runner.parent / "migration_steps").glob("*.py"))
    assert {f"migration_steps.{f.stem}" for f in step_files if f.stem != "__init__"} == steps
    for step_file in step_files:
        imported = _imported_from(step_file)
        assert imported <= {"__future__", "sql"}, (step_file.name, imported)
