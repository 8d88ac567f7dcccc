"""Memex writes, moves aside or migrates only library files it can prove it made: anything else
is refused with one line and left byte for byte as it was. Libraries on read-only disks are
searched read-only; brand-new libraries may be opened by many processes at once; every failed
open leaves nothing behind; a recovered library is announced."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import apsw
import pytest
from memex.core.config import Settings, default_library_path
from memex.core.errors import LibraryError
from memex.core.library import Library
from memex.core.store import migrate, open_connection
from memex_bench.promise_library_files import fingerprint as snapshot
from memex_bench.promise_library_files import foreign_files, foreign_sqlite

HERE = Path(__file__).parent
MEMEX_APPLICATION_ID = 0x4D454D58  # "MEMX", in the header of every library Memex makes


# --- foreign files -----------------------------------------------------------------------------


def test_foreign_files_are_refused_and_left_byte_identical(tmp_path: Path, hash_embedder) -> None:
    folder = tmp_path / "mine"
    files = foreign_files(folder)
    before = snapshot(folder)
    for path in files:
        for how in ("argument", "settings"):
            with pytest.raises(LibraryError) as caught:
                if how == "argument":
                    Library.open(path, settings=Settings(), embedder=hash_embedder, reranker=False)
                else:
                    Library.open(settings=Settings(library=str(path)), embedder=hash_embedder, reranker=False)
            message = str(caught.value)
            assert "\n" not in message and str(path) in message, message
            assert snapshot(folder) == before, (path, how)  # no tables, no WAL, no sidecar, no mark, no rename


def test_a_foreign_file_named_in_settings_is_refused_by_the_cli(tmp_path: Path, isolated_home: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    wal_db = foreign_sqlite(folder / "wal.db", wal=True)
    (isolated_home / "settings.json").write_text(json.dumps({"library": str(wal_db)}))
    before = snapshot(folder)
    run = _cli("status", home=isolated_home)
    assert run.returncode == 1, run.stderr
    assert run.stderr.startswith("memex: ") and "not a Memex library" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "unexpected" not in run.stderr
    assert snapshot(folder) == before


def test_an_empty_file_is_a_new_library_only_in_memex_own_folder(tmp_path: Path, hash_embedder) -> None:
    default = default_library_path()
    default.write_bytes(b"")
    with Library.open(settings=Settings(), embedder=hash_embedder, reranker=False) as lib:
        assert lib.status().schema_version > 0
    assert _application_id(default) == MEMEX_APPLICATION_ID


def test_a_link_at_the_default_path_does_not_make_its_target_memex_own(tmp_path: Path, hash_embedder) -> None:
    thesis = tmp_path / "thesis.txt"
    thesis.write_text("Chapter one, precious.")
    default_library_path().symlink_to(thesis)
    before = snapshot(tmp_path)
    with pytest.raises(LibraryError, match="not a Memex library"):
        Library.open(settings=Settings(), embedder=hash_embedder, reranker=False)
    assert snapshot(tmp_path) == before and default_library_path().is_symlink()


def test_a_library_made_before_the_application_id_opens_and_is_stamped(tmp_path: Path, make_library) -> None:
    db = tmp_path / "odd #1? 100%" / "early ?#%.db"  # the read-only checks address it as a URI
    db.parent.mkdir()
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("the pelican in the harbour")
    lib = make_library(db)
    lib.index([folder])
    lib.close()
    conn = open_connection(db)
    conn.execute("PRAGMA application_id = 0")  # what earlier versions wrote
    conn.close()
    assert _application_id(db) == 0

    lib = make_library(db)

    assert [Path(h.path).name for h in lib.search("pelican", mode="bm25")] == ["a.txt"]
    lib.close()
    assert _application_id(db) == MEMEX_APPLICATION_ID


def test_a_new_library_carries_memex_application_id(tmp_path: Path, make_library) -> None:
    db = tmp_path / "sub" / "new.db"
    make_library(db).close()
    assert _application_id(db) == MEMEX_APPLICATION_ID
    assert sorted(p.name for p in db.parent.iterdir()) == ["new.db"]  # no draft left beside it


def _application_id(path: Path) -> int:
    with open(path, "rb") as fh:
        return int.from_bytes(fh.read(100)[68:72], "big")


# --- failures leave nothing behind -------------------------------------------------------------


def test_a_path_that_is_not_valid_utf8_is_refused_leaving_nothing(tmp_path: Path, hash_embedder) -> None:
    bad = os.fsdecode(os.fsencode(str(tmp_path)) + b"/lib\xff.db")
    with pytest.raises(LibraryError, match="not valid UTF-8"):
        Library.open(bad, settings=Settings(), embedder=hash_embedder, reranker=False)
    with pytest.raises(LibraryError, match="NUL"):
        Library.open(settings=Settings(library=f"{tmp_path}/a\0b.db"), embedder=hash_embedder, reranker=False)
    assert list(tmp_path.iterdir()) == []


def test_a_path_that_is_not_valid_utf8_is_refused_by_the_cli(tmp_path: Path, isolated_home: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "memex.core", "status", "--library",
                          os.fsencode(str(tmp_path)) + b"/lib\xff.db"],
                         capture_output=True, text=True, timeout=120, env=_env(isolated_home))
    assert run.returncode in (1, 2) and "unexpected" not in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "UTF-8" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_library_from_a_newer_memex_is_refused_leaving_no_mark(tmp_path: Path, make_library) -> None:
    db = tmp_path / "library.db"
    make_library(db).close()
    conn = open_connection(db)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    before = snapshot(tmp_path)
    with pytest.raises(LibraryError, match="newer version"):
        make_library(db)
    assert snapshot(tmp_path) == before


# --- read-only ---------------------------------------------------------------------------------

_READONLY_MOUNT = 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"'


def _readonly(folder: Path, argv: list[str], home: Path) -> subprocess.CompletedProcess:
    """Run ``argv`` while ``folder`` is read-only: a read-only bind mount in a private mount
    namespace when root (root writes through file modes), else the folder's modes."""
    if os.geteuid() == 0:
        if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
            pytest.skip("needs unshare to make a read-only mount")
        cmd = ["unshare", "-m", "sh", "-c", _READONLY_MOUNT, "sh", str(folder), *argv]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=_env(home))
    modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
    try:
        for p in modes:
            p.chmod(0o555 if p.is_dir() else 0o444)
        return subprocess.run(argv, capture_output=True, text=True, timeout=180, env=_env(home))
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def _shelf_and_docs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A folder for the library (made read-only later), its library path, and a folder to index."""
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bird.txt").write_text("the pelican waits in the harbour")
    return shelf, shelf / "library.db", docs


_INDEX_AND_DIE = """
import os, signal, sys
sys.path.insert(0, sys.argv[3])
from hostile_files import HashEmbedder
from memex.core.config import Settings
from memex.core.library import Library
lib = Library.open(sys.argv[1], settings=Settings(), embedder=HashEmbedder(), reranker=False)
lib.index([sys.argv[2]])
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="read-only mounts and SIGKILL")
@pytest.mark.parametrize("checkpointed", [True, False], ids=["checkpointed", "with-wal"])
def test_a_read_only_library_is_searched_and_refuses_writes(tmp_path: Path, isolated_home: Path,
                                                            make_library, checkpointed: bool) -> None:
    shelf, db, docs = _shelf_and_docs(tmp_path)
    if checkpointed:
        lib = make_library(db)
        lib.index([docs])
        lib.close()  # the last connection folds the WAL into the file and removes -wal/-shm
    else:  # a process indexed and was killed: the changes sit in library.db-wal (and -shm)
        run = subprocess.run([sys.executable, "-c", _INDEX_AND_DIE, str(db), str(docs), str(HERE)],
                             capture_output=True, text=True, timeout=120, env=_env(isolated_home))
        assert run.returncode == -signal.SIGKILL, run.stderr
        assert Path(f"{db}-wal").stat().st_size > 0 and Path(f"{db}-shm").exists()
    for mark in shelf.glob("library.db.open-*"):
        mark.unlink()  # the mark a killed process leaves: not what this test is about
    before = snapshot(shelf)

    cli = [sys.executable, "-m", "memex.core"]
    status = _readonly(shelf, [*cli, "status", "--json", "--library", str(db)], isolated_home)
    search = _readonly(shelf, [*cli, "search", "pelican", "--mode", "bm25", "--no-rerank", "--json",
                               "--library", str(db)], isolated_home)
    index = _readonly(shelf, [*cli, "index", str(docs), "--library", str(db)], isolated_home)
    doctor = _readonly(shelf, [*cli, "doctor", "--json", "--library", str(db)], isolated_home)

    assert status.returncode == 0, status.stderr
    library_check = next(c for c in json.loads(doctor.stdout) if c["name"] == "library")
    assert library_check["ok"] and "read-only" in library_check["detail"], library_check
    assert json.loads(status.stdout)["documents"] == 1
    assert search.returncode == 0, search.stderr
    assert [Path(h["path"]).name for h in json.loads(search.stdout)] == ["bird.txt"]
    assert index.returncode == 1 and "is read-only" in index.stderr, index.stderr
    assert len(index.stderr.strip().splitlines()) == 1
    assert snapshot(shelf) == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="read-only mounts and SIGKILL")
def test_a_read_only_library_whose_wal_cannot_be_read_says_so(tmp_path: Path, isolated_home: Path) -> None:
    shelf, db, docs = _shelf_and_docs(tmp_path)
    run = subprocess.run([sys.executable, "-c", _INDEX_AND_DIE, str(db), str(docs), str(HERE)],
                         capture_output=True, text=True, timeout=120, env=_env(isolated_home))
    assert run.returncode == -signal.SIGKILL, run.stderr
    Path(f"{db}-shm").unlink()  # SQLite reads a WAL only through its -shm, which cannot be made here
    before = snapshot(shelf)

    status = _readonly(shelf, [sys.executable, "-m", "memex.core", "status", "--library", str(db)], isolated_home)

    assert status.returncode == 1 and "unexpected" not in status.stderr, status.stderr
    assert len(status.stderr.strip().splitlines()) == 1 and "is read-only" in status.stderr
    assert snapshot(shelf) == before


# --- many first opens at once ------------------------------------------------------------------

_OPEN_AFTER_BARRIER = """
import sys
from memex.core.config import Settings
from memex.core.library import Library
print("ready", flush=True)
sys.stdin.read()  # the barrier: every process starts opening when the parent closes the pipe
lib = Library.open(sys.argv[1] if sys.argv[1] != "-" else None, settings=Settings(), reranker=False)
print("opened", lib.status().schema_version, flush=True)
lib.close()
"""


def _open_together(path: str, count: int, home: Path) -> list[tuple[int, str, str]]:
    procs = [subprocess.Popen([sys.executable, "-c", _OPEN_AFTER_BARRIER, path], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(home))
             for _ in range(count)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.close()
        p.stdin = None  # closed: communicate() has nothing to send
    results = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        results.append((p.returncode, out, err))
    return results


@pytest.mark.parametrize("where", ["new-path", "empty-default"])
def test_many_processes_open_a_brand_new_library_at_once(tmp_path: Path, isolated_home: Path, where: str) -> None:
    for round_ in range(3):
        if where == "new-path":
            path = tmp_path / f"round{round_}" / "library.db"
            arg = str(path)
        else:  # the default library, found empty: filled by whichever process gets there first
            path = default_library_path()
            for leftover in path.parent.glob("library.db*"):
                leftover.unlink()
            path.write_bytes(b"")
            arg = "-"
        results = _open_together(arg, 6, isolated_home)
        assert [(code, err) for code, _, err in results] == [(0, "")] * 6, results
        assert all(out.split()[-1] == str(len(_migration_names())) for _, out, _ in results)
        # Six closes at the same moment may each find another still open, so none folds the WAL
        # in (SQLite checkpoints on a close only when it gets the file to itself): the stamp may
        # still sit in library.db-wal. What any reader sees is stamped, and nothing else is left.
        assert _stamp_as_read(path) == MEMEX_APPLICATION_ID
        left = sorted(p.name for p in path.parent.glob("library.db*"))
        assert [n for n in left if n not in ("library.db-wal", "library.db-shm")] == ["library.db"], left
        Library.open(path, settings=Settings(), reranker=False).close()  # alone: folds the WAL in
        assert _application_id(path) == MEMEX_APPLICATION_ID
        assert sorted(p.name for p in path.parent.glob("library.db*")) == ["library.db"]


def _stamp_as_read(path: Path) -> int:
    """The application id as a reader sees it (the WAL included), read without writing."""
    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return int(conn.execute("PRAGMA application_id").fetchone()[0])
    finally:
        conn.close()


def _migration_names() -> list[str]:
    from memex.core.store.migrations import MIGRATIONS

    return [name for name, _ in MIGRATIONS]


def test_migrate_run_twice_at_once_on_one_file_applies_each_step_once(tmp_path: Path) -> None:
    """Two connections that both saw an empty file: the second finds the work done."""
    db = tmp_path / "library.db"
    first, second = open_connection(db), open_connection(db)
    try:
        assert migrate(first) == _migration_names()
        assert migrate(second) == []
        assert second.execute("SELECT count(*) FROM migrations").fetchone()[0] == len(_migration_names())
    finally:
        first.close()
        second.close()


# --- the notice of a recovered library ---------------------------------------------------------


def test_the_cli_tells_once_that_a_damaged_library_was_set_aside(isolated_home: Path) -> None:
    db = default_library_path()
    db.write_bytes(b"\0" * 4096 + os.urandom(4096))  # truncated over: no longer looks like SQLite
    first = _cli("status", home=isolated_home)
    second = _cli("status", home=isolated_home)
    assert first.returncode == 0, first.stderr
    notices = [line for line in first.stderr.splitlines() if "set it aside" in line]
    assert len(notices) == 1 and notices[0].startswith("memex: The library was damaged")
    assert "add your folders again" in notices[0]
    assert second.returncode == 0 and "set it aside" not in second.stderr
    assert len(list(db.parent.glob("library.db.corrupt-*"))) == 1


def test_a_library_damaged_past_reading_gets_its_folders_back_from_memex_own_copy(tmp_path: Path,
                                                                                 make_library) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bird.txt").write_text("the pelican waits in the harbour")
    db = default_library_path()
    lib = make_library(db)
    lib.index([docs])
    lib.close()
    with open(db, "r+b") as fh:  # the header and schema written over: nothing in the file says the folders
        fh.write(b"\0" * 8192)

    lib = make_library(db)

    notice = lib.recovered
    assert notice is not None and not notice.lost_sources and notice.from_record
    assert notice.sources == ((str(docs), "folder"),)
    assert "Memex's own copy" in notice.message and "will be indexed again" in notice.message
    assert [s.path for s in lib.sources()] == [str(docs)]
    assert lib.index().added == 1


# --- helpers -----------------------------------------------------------------------------------


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "MEMEX_HOME": str(home)}


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memex.core", *args], capture_output=True, text=True,
                          timeout=180, env=_env(home))


def test_a_library_that_cannot_be_created_leaves_no_folders_or_drafts(tmp_path: Path, hash_embedder) -> None:
    # A name the disk takes, but whose draft name beside it is too long: creation fails midway.
    target = tmp_path / "new" / "deeper" / ("x" * 240 + ".db")
    with pytest.raises(LibraryError, match="Cannot create the library") as caught:
        Library.open(target, settings=Settings(), embedder=hash_embedder, reranker=False)
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # the folders it made are gone again
