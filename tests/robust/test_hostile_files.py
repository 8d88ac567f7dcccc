"""Hostile inputs: each is bounded in time and memory, reported, and the run goes on; nothing
outside the library and temp folders is written, and nothing a file points at gets in."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conftest import SIMULATED_TARGET
from hostile_files import SECRET, make_hostile_folder, make_unreadable, tree_snapshot
from memex.core.config import Settings

MAX_CHARS = 20_000  # keeps the 2 GB file's chunks few; the cap itself is what is tested
GOOD_WORD = "aardvarkzebra"


def _good_files(folder: Path) -> list[Path]:
    paths = []
    for i in range(3):
        path = folder / f"good{i}.txt"
        path.write_text(f"An ordinary note number {i} about the {GOOD_WORD} in the garden.")
        paths.append(path)
    return paths


def test_hostile_folder_is_indexed_bounded_and_reported(tmp_path: Path, make_library) -> None:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(f"{SECRET} root:x:0:0")
    folder = tmp_path / "downloads"
    cases = make_hostile_folder(folder, secret_file=secret)
    good = _good_files(folder)
    before = tree_snapshot(tmp_path)
    temp_before = set(os.listdir(tempfile.gettempdir()))

    lib = make_library(tmp_path / "lib" / "library.db", settings=Settings(max_chars_per_file=MAX_CHARS),
                       target=SIMULATED_TARGET, timeout_s=3)
    started = time.monotonic()
    report = lib.index([folder])
    took = time.monotonic() - started

    assert not report.cancelled
    conn = lib.store.connection()
    rows = {p: (status, reason) for p, status, reason in
            conn.execute("SELECT path, status, error_reason FROM documents")}
    errors = {e.path: e for e in report.errors}
    for case in cases:
        key = str(case.path)
        got = rows.get(key)
        if case.expect == "indexed":
            assert got is not None and got[0] == "ok", (case.name, got, errors.get(key))
        elif case.expect == "failed":
            assert got is not None and got[0] == "error" and got[1], (case.name, got)
            assert key in errors, case.name  # reported to the caller too
        elif case.expect == "skipped":
            assert got is None, (case.name, got)
        else:
            assert got is not None, case.name
    by_name = {Path(p).name: v for p, v in rows.items()}
    assert by_name["hang.pdf"] == ("error", "timeout")
    assert by_name["crash.pdf"] == ("error", "crashed")
    assert by_name["oom.pdf"] == ("error", "too-large")
    assert by_name["bomb-lying.docx"] == ("error", "corrupt")
    huge = str(folder / "huge.txt")
    assert errors[huge].reason == "truncated"
    length = conn.execute("SELECT sum(length(c.text)) FROM chunks c JOIN documents d ON d.id = c.document_id "
                          "WHERE d.path = ?", (huge,)).fetchone()[0]
    assert 0 < length <= MAX_CHARS * 1.5  # overlapping chunks repeat a little text
    bad_names = [e for e in report.errors if e.reason == "bad-name"]
    assert len(bad_names) == 1 and "\ufffd" in bad_names[0].path

    # Nothing a file points at got in; the ordinary files are there and searchable.
    assert conn.execute("SELECT count(*) FROM chunks WHERE text LIKE ?", (f"%{SECRET}%",)).fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM chunks WHERE text LIKE '%root:x:0%'").fetchone()[0] == 0
    hits = lib.search(GOOD_WORD, k=10, mode="bm25")
    assert {h.path for h in hits} == {str(p) for p in good}
    assert lib.search(SECRET, k=5, mode="bm25") == []

    # Bounded: one timeout (3 s) plus a few restarts of the worker, not minutes.
    assert took < 90, took
    # Nothing was written into the folder, nor anywhere else but the library's own folder.
    library_folder = os.fsencode(tmp_path / "lib")
    after = {k: v for k, v in tree_snapshot(tmp_path).items() if not k.startswith(library_folder)}
    assert after == before
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/evil.txt").exists()
    new_temp = set(os.listdir(tempfile.gettempdir())) - temp_before
    assert not [n for n in new_temp if "evil" in n or SECRET in n]

    # Failures are recorded with their content hash and not tried again while unchanged.
    started = time.monotonic()
    again = lib.index()
    assert again.failed == 0 and again.added == 0 and again.updated == 0
    assert time.monotonic() - started < 10  # the hanging file was not retried

    # The library stayed sound through a worker killed, timed out and restarted.
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")


_INDEX_AND_LIST = """
import sys
from memex.core.config import Settings
from memex.core.library import Library
sys.path.insert(0, sys.argv[3])
from hostile_files import HashEmbedder
with Library.open(sys.argv[1], settings=Settings(), embedder=HashEmbedder(), reranker=False) as lib:
    report = lib.index([sys.argv[2]])
    for e in report.errors:
        print("ERROR", e.reason, e.path)
    for p, status, reason in lib.store.connection().execute("SELECT path, status, error_reason FROM documents"):
        print("DOC", status, reason, p)
"""


def test_unreadable_file_and_folder_are_reported_and_the_run_goes_on(tmp_path: Path, make_library) -> None:
    """A mode-000 file and folder. Root reads through mode bits (CAP_DAC_OVERRIDE), so as root
    the indexer runs in a child whose capability bounding set lacks the two DAC overrides:
    still uid 0, but held to the permission bits like any user."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "fine.txt").write_text(f"a readable note about the {GOOD_WORD}")
    cases = make_unreadable(folder)
    locked_file, locked_folder = cases[0].path, cases[1].path
    try:
        if os.geteuid() == 0:
            assert os.access(locked_file, os.R_OK)  # why root needs the capability trick
            out = _run_without_dac_override(tmp_path / "library.db", folder)
            docs = {line.split(" ", 3)[3]: line.split(" ", 3)[1:3] for line in out if line.startswith("DOC ")}
            errors = [line.split(" ", 2)[1:] for line in out if line.startswith("ERROR ")]
        else:
            assert not os.access(locked_file, os.R_OK)
            lib = make_library()
            report = lib.index([folder])
            docs = {p: [s, r] for p, s, r in lib.store.connection().execute(
                "SELECT path, status, error_reason FROM documents")}
            errors = [[e.reason, e.path] for e in report.errors]
        assert docs[str(folder / "fine.txt")][0] == "ok"
        assert docs[str(locked_file)] == ["error", "unreadable"]
        assert ["unreadable", str(locked_folder)] in errors
        assert not any(p.startswith(str(locked_folder) + os.sep) for p in docs)
    finally:
        os.chmod(locked_file, 0o600)
        os.chmod(locked_folder, 0o700)


def _run_without_dac_override(db: Path, folder: Path) -> list[str]:
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2

    def drop() -> None:
        for cap in (cap_dac_override, cap_dac_read_search):
            if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")

    proc = subprocess.run(
        [sys.executable, "-c", _INDEX_AND_LIST, str(db), str(folder), str(Path(__file__).parent)],
        capture_output=True, text=True, timeout=120, preexec_fn=drop)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()
