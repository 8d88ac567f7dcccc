"""Edge cases of keeping the library in sync: names that are not UTF-8 in a watcher batch,
moved files keeping an accurate stat, files that become readable after a chmod, and the
doctor's integrity check beside a connection that holds an old read snapshot."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from memex.core.store import documents as docs
from memex.core.store.connection import write_transaction

posix_names = pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="needs byte file names (Linux)")


def _bytes_named_file(folder: Path, name: bytes, data: bytes) -> bytes:
    path = os.fsencode(folder) + b"/" + name
    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError as exc:  # a file system that only takes UTF-8 names
        pytest.skip(f"cannot create a non-UTF-8 name here: {exc}")
    return path


@posix_names
def test_refresh_skips_a_name_that_is_not_utf8_and_keeps_the_rest_of_the_batch(tmp_path: Path,
                                                                                 make_library) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    lib = make_library()
    lib.index([folder])
    good = folder / "good.txt"
    good.write_text("a note about the lantern by the harbour", encoding="utf-8")
    bad = _bytes_named_file(folder, b"caf\xe9.txt", b"the cafe menu")
    shown = str(folder / "caf\ufffd.txt")

    report = lib.refresh([bad, str(good)])  # as bytes, the way a byte-level watcher reports it
    assert report.added == 1 and report.failed == 0
    assert [(e.reason, e.path) for e in report.errors] == [("bad-name", shown)]
    assert "not valid UTF-8" in report.errors[0].message
    assert lib.document(good) is not None

    good.write_text("the lantern moved to the quay", encoding="utf-8")
    report = lib.refresh([os.fsdecode(bad), good])  # as str with surrogates, and as a Path
    assert report.updated == 1
    assert [(e.reason, e.path) for e in report.errors] == [("bad-name", shown)]
    assert [d.path for d in lib.documents()] == [str(good)]


def test_moving_a_document_stores_its_new_size_and_mtime(tmp_path: Path, make_library) -> None:
    lib = make_library()
    conn = lib.store.connection()
    with write_transaction(conn):
        doc_id = docs.write_document(conn, docs.DocumentRecord(
            path=str(tmp_path / "old.txt"), kind="text", size=10, mtime_ns=1, content_hash="abc", source_id=None))
        docs.move_document(conn, doc_id, str(tmp_path / "new" / "moved.txt"), 25, 2, None)
    moved = docs.find_by_path(conn, str(tmp_path / "new" / "moved.txt"))
    assert (moved.id, moved.size, moved.mtime_ns) == (doc_id, 25, 2)
    assert lib.document(tmp_path / "new" / "moved.txt").size == 25


def test_a_moved_file_is_unchanged_on_the_next_scan(tmp_path: Path, make_library) -> None:
    folder = tmp_path / "docs"
    (folder / "archive").mkdir(parents=True)
    original = folder / "report.txt"
    original.write_text("copper beacons along the fjord", encoding="utf-8")
    lib = make_library()
    lib.index([folder])
    target = folder / "archive" / "report.txt"
    shutil.copyfile(original, target)  # a copy and a delete: new mtime, same bytes
    os.utime(target, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    original.unlink()

    report = lib.index([folder])
    assert (report.moved, report.added, report.removed) == (1, 0, 0)
    moved = lib.document(target)
    st = target.stat()
    assert moved.size == st.st_size and moved.mtime == st.st_mtime_ns / 1e9
    again = lib.index([folder])
    assert (again.unchanged, again.moved, again.updated) == (1, 0, 0)


_CHMOD_SCRIPT = """
import os, sys
sys.path.insert(0, sys.argv[3])
from hostile_files import HashEmbedder
from memex.core.config import Settings
from memex.core.library import Library

db, folder = sys.argv[1], sys.argv[2]
locked = os.path.join(folder, "locked.txt")
lib = Library.open(db, settings=Settings(), embedder=HashEmbedder(), reranker=False)
first = lib.index([folder])
before = lib.document(locked)
again = lib.index([folder])  # still unreadable: tried again, still failed, nothing else breaks
mtime = os.stat(locked).st_mtime_ns
os.chmod(locked, 0o644)
assert os.stat(locked).st_mtime_ns == mtime
fixed = lib.index([folder])
after = lib.document(locked)
hits = lib.search("lantern", mode="bm25")
print(before.status, first.failed, again.failed, after.status, fixed.updated, fixed.failed,
      [os.path.basename(h.path) for h in hits])
lib.close()
"""


def _without_dac_override() -> None:
    """Root reads through mode bits; drop the capabilities that allow it (still uid 0)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mode bits and prctl are Linux's")
def test_a_file_made_readable_by_chmod_is_indexed_on_the_next_scan(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    locked = folder / "locked.txt"
    locked.write_text("the lantern room of the old lighthouse", encoding="utf-8")
    os.chmod(locked, 0)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHMOD_SCRIPT, str(tmp_path / "lib.db"), str(folder), str(Path(__file__).parent)],
            capture_output=True, text=True, timeout=120, env={**os.environ, "MEMEX_HOME": str(tmp_path / "home")},
            preexec_fn=_without_dac_override if os.geteuid() == 0 else None)
    finally:
        os.chmod(locked, 0o600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["error", "1", "1", "ok", "1", "0", "['locked.txt']"]


def test_the_doctor_checks_the_library_beside_a_connection_with_an_old_snapshot(tmp_path: Path,
                                                                                 make_library) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("juniper and thistle on the mesa", encoding="utf-8")
    lib = make_library()
    lib.index([folder])
    conn = lib.store.connection()
    conn.execute("BEGIN")
    assert conn.execute("SELECT count(*) FROM chunks").fetchone()[0] == 1  # this snapshot stays open
    try:
        (folder / "b.txt").write_text("walnut and cobalt by the reef", encoding="utf-8")
        worker = threading.Thread(target=lib.index, args=([folder],))  # its own connection writes
        worker.start()
        worker.join(60)
        checks = {c.name: c for c in lib.doctor()}
    finally:
        conn.execute("COMMIT")
    assert checks["library"].ok, checks["library"].detail
    assert conn.execute("SELECT count(*) FROM chunks").fetchone()[0] == 2
