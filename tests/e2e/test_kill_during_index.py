"""SIGKILL the indexer mid-run, run it again: the library must be sound and complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dbprobe import count as count_rows
from memex.core.store import open_connection

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
import docgen  # noqa: E402

FILES = 40
WORDS = """
    orbit rocket fuel thrust nozzle turbine blade vortex wake drag lift wing flap spar rib
    skin panel rivet bolt weld crack fatigue stress strain load
    """.split()


def _corpus(folder: Path, files: int) -> None:
    import random

    rnd = random.Random(7)
    folder.mkdir()
    for i in range(files):
        paragraphs = [f"Report {i}. " + " ".join(rnd.choice(WORDS) for _ in range(90)) + "."
                      for _ in range(3)]
        if i % 10 == 0:
            docgen.make_pdf(folder / f"doc{i:03}.pdf", paragraphs[:3])
        else:
            (folder / f"doc{i:03}.txt").write_text("\n\n".join(paragraphs))


def _memex(args: list[str]) -> subprocess.Popen:
    script = Path(sys.executable).with_name("memex")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "memex.core"]
    return subprocess.Popen([*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.parametrize("kill_after_docs", [2, 20])
def test_sigkill_then_rerun_leaves_sound_complete_library(tmp_path, kill_after_docs):
    folder = tmp_path / "corpus"
    _corpus(folder, FILES)
    db = tmp_path / "lib.db"
    proc = _memex(["index", "--library", str(db), str(folder)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if count_rows(db, "SELECT count(*) FROM documents") >= kill_after_docs:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "indexing finished before it could be killed: make the corpus bigger"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    docs_before = count_rows(db, "SELECT count(*) FROM documents")
    embedded_before = count_rows(db, "SELECT count(*) FROM chunks WHERE embedded = 1")
    pending_before = count_rows(db, "SELECT count(*) FROM chunks WHERE embedded = 0")
    # Words come first, in growing groups of files: the kill lands while files are read or,
    # once every file's words are in, while their vectors are made; either way work is left.
    assert 0 < docs_before <= FILES
    assert docs_before < FILES or pending_before > 0

    rerun = _memex(["index", "--library", str(db), "--json", str(folder)])
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    report = json.loads(out)
    assert report["added"] + report["updated"] == FILES - docs_before
    # Nothing finished before the kill is embedded again: only the backlog and new files.
    assert report["embedded"] == pending_before + report["chunks"]

    conn = open_connection(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
        paths = [r[0] for r in conn.execute("SELECT path FROM documents")]
        assert len(paths) == len(set(paths)) == FILES
        assert sorted(Path(p).name for p in paths) == sorted(p.name for p in folder.iterdir())
        assert conn.execute("SELECT count(*) FROM chunks WHERE embedded = 0").fetchone()[0] == 0
        chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM vec_chunks_1").fetchone()[0] == chunks
        assert embedded_before <= chunks
    finally:
        conn.close()
