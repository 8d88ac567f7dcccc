"""The check at open: every table after an unclean end (a process that had the library open died),
only the small tables after a clean close, so opening a large library stays quick."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from memex.core.store import open_connection
from memex.core.store.connection import library_damage
from memex.core.store.open_marks import stale_marks

_OPEN_AND_DIE = """
import os, signal, sys
from memex.core.config import Settings
from memex.core.library import Library

lib = Library.open(sys.argv[1], settings=Settings(), reranker=False)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _marks(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.iterdir() if p.name.startswith(f"{db.name}.open-"))


def _indexed_library(tmp_path: Path, make_library) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(30):
        (folder / f"note{i}.txt").write_text(f"Note {i} about the pelican and the harbour. " * 40)
    db = tmp_path / "library.db"
    lib = make_library(db)
    lib.index([folder])
    lib.close()  # the last connection folds the WAL into the file
    return db


def _damage_root_page(db: Path, name: str) -> None:
    """Overwrite the root page of the table or index ``name`` with noise."""
    conn = open_connection(db)
    try:
        root = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = ?", (name,)).fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    with open(db, "r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(b"\x0d" + os.urandom(page_size - 1))


def _damage_chunks(db: Path) -> None:
    """Damage the chunks table: a large table the light check leaves alone."""
    _damage_root_page(db, "chunks")


def test_an_open_library_leaves_a_mark_that_a_clean_close_removes(tmp_path: Path, make_library) -> None:
    db = tmp_path / "library.db"
    first, second = make_library(db), make_library(db)
    assert len(_marks(db)) == 2 and not stale_marks(db)
    first.close()
    assert len(_marks(db)) == 1
    second.close()
    assert _marks(db) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kills a child process with SIGKILL")
def test_damage_after_an_unclean_end_is_found_by_the_next_open(tmp_path: Path, make_library) -> None:
    db = _indexed_library(tmp_path, make_library)
    proc = subprocess.run([sys.executable, "-c", _OPEN_AND_DIE, str(db)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "MEMEX_HOME": str(tmp_path / "home")})
    assert proc.returncode == -9, proc.stderr
    assert len(stale_marks(db)) == 1  # it never closed the library
    _damage_chunks(db)

    lib = make_library(db)

    assert lib.recovered is not None
    assert lib.recovered.moved_to.exists() and len(lib.recovered.sources) == 1
    assert not stale_marks(db) and len(_marks(db)) == 1  # the old mark is gone, this open's is there


def test_after_a_clean_close_only_the_small_tables_are_checked(tmp_path: Path, make_library) -> None:
    db = _indexed_library(tmp_path, make_library)
    _damage_chunks(db)
    assert library_damage(db, thorough=True) is not None
    assert library_damage(db, thorough=False) is None  # the price of a quick open…

    lib = make_library(db)
    assert lib.recovered is None
    checks = {c.name: c for c in lib.doctor()}
    assert not checks["library"].ok and "quick_check" in checks["library"].detail  # …which the doctor pays


def test_damage_in_a_small_table_is_found_even_after_a_clean_close(tmp_path: Path, make_library) -> None:
    db = _indexed_library(tmp_path, make_library)
    _damage_root_page(db, "documents_folder")
    assert library_damage(db, thorough=False) is not None
    assert make_library(db).recovered is not None
