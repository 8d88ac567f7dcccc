"""Several writers on one library: runs in other processes (the window and ``memex index``) wait
for each other instead of indexing the same files twice and leaving chunks without vectors; a
waiting run can be cancelled; ``memex remove`` waits too; a run follows a model switch made
meanwhile; and a library deleted or moved mid-run is a loud failure, never "done"."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest
from memex.core.errors import LibraryError
from memex.core.library import Library
from memex.core.store.writer_lock import WAITING_MESSAGE, WriterLock
from memex.core.types import IndexProgress
from memex_bench.promise_writers import DELETE_MIDWAY, ON_BARRIER

WORDS = "river stone lantern harbor violet copper meadow thunder falcon ember glacier orchard".split()



def _corpus(folder: Path, count: int, seed: int, words: int = 60) -> Path:
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for i in range(count):
        text = " ".join(rng.choice(WORDS) for _ in range(words))
        (folder / f"f{i:03}.txt").write_text(f"Document {i} of {folder.name}: {text}.", encoding="utf-8")
    return folder


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "MEMEX_HOME": str(home)}


def _one(db: Path, sql: str) -> int:
    conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def _vectors(db: Path) -> int:
    conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        table = conn.execute("SELECT 'vec_i8_' || id FROM vector_spaces WHERE active = 1").fetchone()[0]
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def _wait_until(proc: subprocess.Popen, ready, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"the process ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def _stderr_lines(proc: subprocess.Popen, lines: list[str]) -> threading.Thread:
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    return reader


@pytest.mark.parametrize("writers", [3])
def test_concurrent_index_runs_leave_every_chunk_embedded_and_index_each_file_once(
        tmp_path: Path, make_library, writers: int) -> None:
    """Each run indexes a folder they all share and one of its own (the window's folders and
    the one named on a command line); a few chunks per file, so each run's backlog outgrows
    one embedding batch."""
    shared, db, home = _corpus(tmp_path / "shared", 10, 1, 300), tmp_path / "library.db", tmp_path / "home"
    own = [_corpus(tmp_path / f"own-{i}", 10, 10 + i, 300) for i in range(writers)]
    files = 10 * (writers + 1)
    make_library(db).close()  # made first, with the default model's space still to come
    go = tmp_path / "go"
    procs = [subprocess.Popen(
        [sys.executable, "-c", ON_BARRIER, str(tmp_path / f"ready-{i}"), str(go),
         "index", "--json", "--library", str(db), str(shared), str(own[i])],
        env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(writers)]
    for i, proc in enumerate(procs):
        _wait_until(proc, (tmp_path / f"ready-{i}").exists, "the barrier")
    go.touch()
    results = [p.communicate(timeout=600) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
    reports = [json.loads(out) for out, _ in results]
    assert sum(r["added"] for r in reports) == files  # each file indexed by exactly one run
    assert sum(r["updated"] for r in reports) == 0
    chunks = _one(db, "SELECT count(*) FROM chunks")
    assert sum(r["embedded"] for r in reports) == chunks  # the reports tell the truth
    assert _one(db, "SELECT count(*) FROM documents WHERE status = 'ok'") == files
    assert _one(db, "SELECT count(*) FROM chunks WHERE embedded = 0") == 0
    assert _vectors(db) == chunks


@contextlib.contextmanager
def _behind_another_writer(db: Path, args: list[str], home: Path) -> Iterator[
        tuple[subprocess.Popen, list[str], threading.Thread]]:
    """Start ``memex ARGS --library DB`` while this test holds the writer lock (another writer,
    as far as the command can tell); yields once the command says it waits, and lets it go on
    (releases the lock) when the block ends."""
    lock = WriterLock(db)
    assert lock.acquire()
    proc = subprocess.Popen([sys.executable, "-m", "memex.core", *args[:1], "--library", str(db), *args[1:]],
                            env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = _stderr_lines(proc, lines)
    try:
        _wait_until(proc, lambda: any(WAITING_MESSAGE in line for line in lines), "the waiting line")
        yield proc, lines, reader
    finally:
        lock.release()


def test_a_second_writer_waits_says_so_once_and_then_finishes(tmp_path: Path, make_library) -> None:
    folder, db = _corpus(tmp_path / "docs", 6, 2), tmp_path / "library.db"
    make_library(db).close()
    with _behind_another_writer(db, ["index", str(folder)], tmp_path / "home") as (proc, lines, reader):
        assert _one(db, "SELECT count(*) FROM documents") == 0  # nothing written while it waits
    out = proc.stdout.read()
    assert proc.wait(timeout=300) == 0, lines
    reader.join(timeout=10)
    assert sum(WAITING_MESSAGE in line for line in lines) == 1
    assert "6 added" in out
    assert _one(db, "SELECT count(*) FROM chunks WHERE embedded = 0") == 0


def test_a_waiting_run_can_be_cancelled(tmp_path: Path, make_library) -> None:
    folder = _corpus(tmp_path / "docs", 4, 3)
    lib = make_library(tmp_path / "library.db")
    other = WriterLock(lib.path)
    assert other.acquire()
    cancel = threading.Event()
    phases: list[str] = []

    def progress(p: IndexProgress) -> None:
        phases.append(p.phase)
        if p.phase == "waiting":
            cancel.set()  # the user presses Cancel while the run waits

    try:
        report = lib.index([folder], progress=progress, cancel=cancel)
    finally:
        other.release()
    assert report.cancelled and report.added == 0
    assert phases == ["waiting", "cancelled"]
    assert lib.status().documents == 0
    again = lib.index([folder])  # nothing is left held: the next run goes ahead at once
    assert again.added == 4 and not again.cancelled


def test_two_library_objects_in_one_process_wait_for_each_other(tmp_path: Path, make_library) -> None:
    folder = _corpus(tmp_path / "docs", 5, 4)
    first, second = make_library(tmp_path / "library.db"), make_library(tmp_path / "library.db")
    seen: list[str] = []
    inner: list = []

    def progress(p: IndexProgress) -> None:
        if p.phase == "indexing" and not inner:
            cancel = threading.Event()
            inner.append(second.index([folder], cancel=cancel, progress=lambda q: (
                seen.append(q.phase), q.phase == "waiting" and cancel.set())))

    report = first.index([folder], progress=progress)
    assert report.added == 5
    assert inner[0].cancelled and seen == ["waiting", "cancelled"]


def test_remove_waits_for_a_running_index(tmp_path: Path, make_library) -> None:
    folder, db = _corpus(tmp_path / "docs", 3, 5), tmp_path / "library.db"
    lib = make_library(db)
    lib.index([folder])
    with _behind_another_writer(db, ["remove", str(folder)], tmp_path / "home") as (proc, lines, reader):
        assert _one(db, "SELECT count(*) FROM documents") == 3
    assert proc.wait(timeout=120) == 0, lines
    reader.join(timeout=10)
    assert _one(db, "SELECT count(*) FROM documents") == 0


@pytest.mark.parametrize("how", ["folder deleted", "file moved"])
def test_a_library_that_vanishes_mid_run_is_a_failure(tmp_path: Path, make_library, how: str) -> None:
    folder = _corpus(tmp_path / "docs", 12, 6)
    home = tmp_path / "libs"
    home.mkdir()
    lib = make_library(home / "library.db")

    def progress(p: IndexProgress) -> None:  # files are read in growing groups: 1, 2, 4, …
        if p.phase == "indexing" and p.files_done >= 4 and (home / "library.db").exists():
            if how == "folder deleted":
                shutil.rmtree(home)
            else:
                os.rename(home / "library.db", home / "elsewhere.db")

    with pytest.raises(LibraryError, match="was deleted or moved while Memex was writing to it") as caught:
        lib.index([folder], progress=progress)
    assert "\n" not in str(caught.value)


def test_memex_index_fails_loudly_when_its_library_folder_is_deleted(tmp_path: Path) -> None:
    folder, libs = _corpus(tmp_path / "docs", 12, 7), tmp_path / "libs"
    libs.mkdir()
    db = libs / "library.db"
    proc = subprocess.run([sys.executable, "-c", DELETE_MIDWAY, str(libs), "index", "--library", str(db),
                           str(folder)], env=_env(tmp_path / "home"), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1, proc.stdout
    assert "added" not in proc.stdout
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith(f"memex: The library file {db} was deleted or moved"), proc.stderr
    assert not libs.exists()  # nothing recreated it behind the user's back


def test_a_run_follows_a_model_switch_made_meanwhile(tmp_path: Path, fp32_embedder_dir: Path) -> None:
    """A switch (say ``memex models use`` in another process) swaps the library's model while a
    run is indexing: the run embeds the rest with the new model instead of leaving it behind."""
    folder = _corpus(tmp_path / "docs", 12, 8)
    db = tmp_path / "library.db"
    with Library.open(db, reranker=False) as indexing, Library.open(db, reranker=False) as switching:
        switched = []

        def progress(p: IndexProgress) -> None:
            if p.phase == "indexing" and p.files_done >= 6 and not switched:  # groups of 1, 2, 4, …
                switched.append(switching.switch_embedder(fp32_embedder_dir))

        report = indexing.index([folder], progress=progress)
        assert switched[0].switched
        status = indexing.status()
        assert report.added == 12 and not report.cancelled
        assert status.embedder == switched[0].model_id
        assert status.chunks_pending == 0
        assert _vectors(db) == status.chunks


def test_a_library_that_vanishes_mid_switch_is_a_failure(tmp_path: Path, fp32_embedder_dir: Path) -> None:
    folder, home = _corpus(tmp_path / "docs", 8, 9), tmp_path / "libs"
    home.mkdir()
    with Library.open(home / "library.db", reranker=False) as lib:
        lib.index([folder])

        def progress(p) -> None:
            if p.phase == "embedding" and home.exists():
                shutil.rmtree(home)

        with pytest.raises(LibraryError, match="was deleted or moved while switching its model"):
            lib.switch_embedder(fp32_embedder_dir, batch_size=2, progress=progress)


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="links are followed where O_NOFOLLOW is missing")
def test_a_lock_file_that_is_a_link_is_refused_and_its_target_untouched(tmp_path: Path, make_library) -> None:
    folder = _corpus(tmp_path / "docs", 2, 10)
    lib = make_library(tmp_path / "library.db")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not Memex's")
    (tmp_path / "library.db.lock").symlink_to(elsewhere)
    with pytest.raises(LibraryError, match="Cannot create the lock file"):
        lib.index([folder])
    assert elsewhere.read_text() == "not Memex's"
    assert lib.status().documents == 0
