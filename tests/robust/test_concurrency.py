"""One writer and many readers on WAL: no "database is locked", searches stay quick while
another process indexes, checkpoints keep the WAL bounded and never wait for readers."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import apsw
from memex.core.indexing import indexer as indexer_module
from memex.core.indexing import reading as reading_module
from memex.core.store.connection import JOURNAL_SIZE_LIMIT, read_snapshot

WORDS = "river stone lantern harbor violet copper meadow thunder falcon ember glacier orchard".split()


def _corpus(folder: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for i in range(count):
        words = " ".join(rng.choice(WORDS) for _ in range(40))
        (folder / f"f{i:04}.txt").write_text(f"Document {i} of {folder.name}: {words}.")


def _memex(args: list[str], home: Path) -> subprocess.Popen:
    env = {**__import__("os").environ, "MEMEX_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "memex.core", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_searching_while_another_process_indexes(tmp_path: Path, make_library, embedder) -> None:
    base, extra, db = tmp_path / "base", tmp_path / "extra", tmp_path / "library.db"
    _corpus(base, 60, 1)
    _corpus(extra, 300, 2)
    lib = make_library(db, embedder=embedder)
    lib.index([base])
    queries = [f"{a} {b}" for a, b in zip(WORDS, reversed(WORDS), strict=True)]
    idle = []
    for q in queries * 2:
        t0 = time.perf_counter()
        lib.search(q, k=10)
        idle.append(time.perf_counter() - t0)

    writer = _memex(["index", "--library", str(db), str(extra)], tmp_path / "home")
    latencies: list[float] = []
    errors: list[str] = []
    stop = threading.Event()

    def reader(mode: str) -> None:
        while not stop.is_set():
            for q in queries:
                t0 = time.perf_counter()
                try:
                    lib.search(q, k=10, mode=mode)
                except Exception as exc:  # counted, not raised: the writer must keep going
                    errors.append(repr(exc))
                latencies.append(time.perf_counter() - t0)

    readers = [threading.Thread(target=reader, args=(m,)) for m in ("hybrid", "bm25")]
    for t in readers:
        t.start()
    try:
        out, err = writer.communicate(timeout=300)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert writer.returncode == 0, err
    assert "locked" not in err
    assert errors == []
    assert len(latencies) > 20
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    # The busy timeout is 10 s: a search that waited on a lock would show up here. The two
    # processes share two cores, so plain CPU contention is allowed for.
    assert latencies[-1] < 8.0 and p95 < 3.0, (p95, latencies[-1], sorted(idle)[len(idle) // 2])
    assert lib.status().documents == 360


def test_two_processes_indexing_one_library_at_once(tmp_path: Path, make_library) -> None:
    """Two writers (say the window and ``memex index``) never see "database is locked" and
    never damage the library; whatever one leaves undone, the next run finishes."""
    one, two, db = tmp_path / "one", tmp_path / "two", tmp_path / "library.db"
    _corpus(one, 80, 3)
    _corpus(two, 80, 4)
    make_library(db).close()  # created first: both processes then find it migrated
    procs = [_memex(["index", "--library", str(db), str(folder)], tmp_path / "home") for folder in (one, two)]
    results = [p.communicate(timeout=300) for p in procs]
    for _, err in results:
        assert "locked" not in err
    finish = _memex(["index", "--library", str(db)], tmp_path / "home")
    _, err = finish.communicate(timeout=300)
    assert finish.returncode == 0, err
    conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT count(*) FROM documents WHERE status = 'ok'").fetchone()[0] == 160
        assert conn.execute("SELECT count(*) FROM chunks WHERE embedded = 0").fetchone()[0] == 0
    finally:
        conn.close()


def test_checkpoints_bound_the_wal_and_never_wait_for_a_reader(tmp_path: Path, make_library, monkeypatch) -> None:
    folder, db = tmp_path / "docs", tmp_path / "library.db"
    _corpus(folder, 260, 5)
    calls: list[tuple[int, int, int]] = []
    real = indexer_module.checkpoint

    def spy(conn: apsw.Connection) -> tuple[int, int, int]:
        result = real(conn)
        calls.append(result)
        return result

    monkeypatch.setattr(indexer_module, "checkpoint", spy)  # the one at the end of a run
    monkeypatch.setattr(reading_module, "checkpoint", spy)  # those between files
    monkeypatch.setattr(reading_module, "CHECKPOINT_EVERY", 50)
    lib = make_library(db)
    conn = lib.store.connection()
    assert conn.execute("PRAGMA journal_size_limit").fetchone()[0] == JOURNAL_SIZE_LIMIT

    # A reader holds one snapshot open for the whole run: PASSIVE checkpoints must not wait.
    holding = threading.Event()
    release = threading.Event()

    def long_reader() -> None:
        reader = lib.store.connection()
        with read_snapshot(reader):
            reader.execute("SELECT count(*) FROM documents").fetchone()
            holding.set()
            release.wait(120)

    thread = threading.Thread(target=long_reader)
    thread.start()
    assert holding.wait(30)
    started = time.monotonic()
    try:
        report = lib.index([folder])
    finally:
        release.set()
        thread.join()
    assert report.added == 260
    assert time.monotonic() - started < 120
    assert len(calls) >= 260 // 50 + 1  # every 50 files and once at the end
    # With the reader gone, one more run's closing checkpoint empties the WAL, and the next
    # write truncates the file to the limit.
    lib.index()
    lib.index()
    assert Path(f"{db}-wal").stat().st_size <= JOURNAL_SIZE_LIMIT
    assert calls[-1][0] == 0 and calls[-1][1] == calls[-1][2]  # not busy; every frame copied back


def test_opening_waits_for_a_lock_instead_of_failing(tmp_path: Path) -> None:
    """Two processes opening one new library at once: the second waits for the first's lock
    (busy timeout) from its very first statement, which is loading sqlite-vec."""
    from memex.core.store import open_connection

    db = tmp_path / "library.db"
    holder = apsw.Connection(str(db))
    holder.execute("CREATE TABLE t(x)")
    holder.execute("BEGIN EXCLUSIVE")
    releaser = threading.Timer(1.0, lambda: holder.execute("COMMIT"))
    releaser.start()
    started = time.monotonic()
    try:
        conn = open_connection(db)
    finally:
        releaser.join()
    conn.close()
    holder.close()
    assert 0.5 < time.monotonic() - started < 9
