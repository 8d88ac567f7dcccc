"""Crash safety: kills at random points leave a sound library; a damaged library is set aside
(never deleted) and replaced, keeping its sources; a file that brings the whole process down is
given up after a bounded number of attempts."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from memex.core.config import Settings, default_library_path
from memex.core.errors import LibraryError
from memex.core.indexing.indexer import MAX_ATTEMPTS
from memex.core.library import Library
from memex.core.store import open_connection
from memex_bench.robustness import run_kill_rounds


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _notes(folder: Path, count: int, word: str = "pelican") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"note{i}.txt"
        path.write_text(f"Note {i} about the {word} and the harbour.")
        paths.append(path)
    return paths


def _set_aside(tmp_path: Path, name: str = "library.db") -> list[Path]:
    return sorted(p for p in tmp_path.iterdir() if p.name.startswith(f"{name}.corrupt-"))


def test_sound_library_opens_without_a_notice(make_library) -> None:
    lib = make_library()
    assert lib.recovered is None
    lib.close()
    assert make_library().recovered is None


def test_garbage_library_is_set_aside_with_its_sidecars_and_replaced(tmp_path: Path, make_library) -> None:
    """The default library, in Memex's own folder, is Memex's whatever it now holds."""
    db = default_library_path()
    db.write_bytes(os.urandom(8192))
    Path(f"{db}-wal").write_bytes(b"stale wal " * 100)
    Path(f"{db}-shm").write_bytes(b"\0" * 32768)
    original = _sha(db)

    lib = make_library(db)

    notice = lib.recovered
    assert notice is not None and notice.lost_sources and notice.sources == ()
    assert "not a database" in notice.damaged
    assert "add your folders again" in notice.message
    moved = _set_aside(db.parent)
    assert {p.name for p in moved} == {notice.moved_to.name, notice.moved_to.name + "-wal",
                                       notice.moved_to.name + "-shm"}
    assert _sha(notice.moved_to) == original  # set aside untouched, never deleted
    folder = tmp_path / "docs"
    _notes(folder, 3)
    assert lib.index([folder]).added == 3
    assert lib.search("pelican", mode="bm25")


def test_damaged_library_keeps_its_sources_and_is_reindexed_from_disk(tmp_path: Path, make_library) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _notes(first, 4, "pelican")
    _notes(second, 3, "walrus")
    single = tmp_path / "single.txt"
    single.write_text("a lone file about the narwhal")
    db = tmp_path / "library.db"
    lib = make_library(db)
    lib.index([first, second, single])
    lib.close()  # the last connection folds the WAL into the file
    # Damage an index b-tree: the header and the sources table stay readable, but
    # PRAGMA quick_check (run at open) notices.
    conn = open_connection(db)
    page = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'documents_folder'").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(db, "r+b") as fh:
        fh.seek((page - 1) * page_size)
        fh.write(b"\x0d" + os.urandom(page_size - 1))
    damaged = _sha(db)

    lib = make_library(db)

    notice = lib.recovered
    assert notice is not None and not notice.lost_sources
    assert sorted(notice.sources) == sorted([(str(first), "folder"), (str(second), "folder"),
                                              (str(single), "file")])
    assert "3 folders and files" in notice.message
    assert _sha(notice.moved_to) == damaged
    assert sorted(s.path for s in lib.sources()) == sorted([str(first), str(second), str(single)])
    assert lib.status().documents == 0
    report = lib.index()  # what the window does after opening: catch up with the disk
    assert report.added == 8
    assert {Path(h.path).name for h in lib.search("walrus", mode="bm25")} == {"note0.txt", "note1.txt",
                                                                               "note2.txt"}
    conn = open_connection(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


def test_the_default_library_is_recovered_even_without_an_sqlite_header(hash_embedder) -> None:
    """The library in Memex's own folder is Memex's, whatever its first page now says."""
    db = default_library_path()
    db.write_bytes(b"\0" * 4096 + os.urandom(4096))
    with Library.open(settings=Settings(), embedder=hash_embedder, reranker=False) as lib:
        assert lib.recovered is not None and lib.recovered.lost_sources
        assert lib.recovered.moved_to.exists() and lib.status().documents == 0
        assert "add your folders again" in lib.recovered.message


def test_a_configured_library_without_an_sqlite_header_is_refused_not_moved(tmp_path: Path,
                                                                              hash_embedder) -> None:
    """A path named in the settings may be anything: without proof that Memex made it, it stays."""
    db = tmp_path / "library.db"
    db.write_bytes(b"\0" * 4096 + os.urandom(4096))
    before = _sha(db)
    with pytest.raises(LibraryError, match="not a Memex library"):
        Library.open(settings=Settings(library=str(db)), embedder=hash_embedder, reranker=False)
    assert _sha(db) == before and sorted(p.name for p in tmp_path.iterdir()) == ["library.db"]


def test_a_file_that_is_not_a_library_is_refused_not_moved(tmp_path: Path, make_library) -> None:
    thesis = tmp_path / "thesis.txt"
    thesis.write_text("Chapter one. Not a database at all, and precious.")
    before = _sha(thesis)
    with pytest.raises(LibraryError, match="not a Memex library"):
        make_library(thesis)
    assert _sha(thesis) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.txt"]


_INDEX_WITH_TARGET = """
import sys
from memex.core.config import Settings, default_library_path
from memex.core.extract.worker import ExtractionWorker
from memex.core.library import Library
sys.path.insert(0, sys.argv[3])
from hostile_files import HashEmbedder
killer = ExtractionWorker(timeout_s=30, target="hostile_files:parent_killing_extract")
with Library.open(sys.argv[1], settings=Settings(), embedder=HashEmbedder(), reranker=False,
                  extraction_worker=killer) as lib:
    report = lib.index([sys.argv[2]])
    print("FAILED", report.failed, "ADDED", report.added)
"""


def _index_in_child(db: Path, folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _INDEX_WITH_TARGET, str(db), str(folder),
                           str(Path(__file__).parent)], capture_output=True, text=True, timeout=120)


def test_a_file_that_kills_the_app_is_given_up_after_bounded_attempts(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    _notes(folder, 3)
    killer = folder / "killer.txt"
    killer.write_text("reading this brings the whole app down")
    db = tmp_path / "library.db"

    for attempt in range(MAX_ATTEMPTS):
        run = _index_in_child(db, folder)
        assert run.returncode == -9, (attempt, run.stdout, run.stderr)
    run = _index_in_child(db, folder)
    assert run.returncode == 0, run.stderr
    conn = open_connection(db)
    try:
        rows = dict(conn.execute("SELECT path, status || ':' || coalesce(error_reason, '') FROM documents"))
        message = conn.execute("SELECT error FROM documents WHERE path = ?", (str(killer),)).fetchone()[0]
        markers = conn.execute("SELECT count(*) FROM meta WHERE key LIKE 'extracting:%'").fetchone()[0]
    finally:
        conn.close()
    assert rows[str(killer)] == "error:crashed"
    assert f"stopped {MAX_ATTEMPTS} times" in message
    assert sorted(v for k, v in rows.items() if k != str(killer)) == ["ok:"] * 3
    assert markers == 0
    # A new version of the file gets its own attempts (and here kills the app again).
    killer.write_text("a new version, still deadly")
    assert _index_in_child(db, folder).returncode == -9


def test_random_kills_leave_a_sound_complete_library(tmp_path: Path, embedder) -> None:
    """A few rounds of the benchmark's kill loop (the benchmark runs 200+)."""
    tally = run_kill_rounds(tmp_path / "kill", 4, embedder=embedder, corpus_files=60)
    assert tally.rounds == 4
    assert tally.corrupt == 0, tally.problems
    assert (tally.lost, tally.phantom, tally.duplicated) == (0, 0, 0)
    assert tally.reembedded_files == 0 and tally.extra_embeddings == 0
    assert tally.unfinished == 0
