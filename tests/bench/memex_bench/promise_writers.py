"""Promise: a writer never reports "done" with work left undone.

* concurrent writers: 2, then 3, real ``memex index`` processes started together (on a
  barrier: each imports Memex, says it is ready, and starts when told) on one new library,
  each given a folder all of them index and a folder of its own (the window's folders and the
  one named on a command line), ``rounds`` times each; afterwards, chunks without a vector,
  runs that exited 0, and documents indexed by more than one run (the runs' "added" +
  "updated" beyond the documents there are);
* vanished library: ``memex index`` whose library folder is deleted after its fifth file must
  end non-zero with the one-line "deleted or moved" message, not print "N added".

The real default embedder is used (small files, a few chunks each), as a user's run would.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .robustness import _row

PART = "promise: writers"
FILES = 12  # in the shared folder, and in each writer's own one
WORDS_PER_FILE = 400  # about three chunks a file: the backlog outgrows one embedding batch
WRITERS = (2, 3)
ROUNDS = 2
_WORDS = "river stone lantern harbor violet copper meadow thunder falcon ember glacier orchard".split()

ON_BARRIER = """
import sys, time
from pathlib import Path
import memex.core.models.embedding, memex.core.library
from memex.core.cli.main import main
Path(sys.argv[1]).touch()
while not Path(sys.argv[2]).exists():
    time.sleep(0.005)
sys.exit(main(sys.argv[3:]))
"""

DELETE_MIDWAY = """
import shutil, sys
from memex.core.indexing import indexer
from memex.core.cli.main import main
original, seen = indexer.Indexer._judge, []
def judge(self, f, source_id):
    seen.append(f.path)
    if len(seen) == 6:
        shutil.rmtree(sys.argv[1])
    return original(self, f, source_id)
indexer.Indexer._judge = judge
sys.exit(main(sys.argv[2:]))
"""


def _corpus(folder: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        text = " ".join(rng.choice(_WORDS) for _ in range(WORDS_PER_FILE))
        (folder / f"f{i:03}.txt").write_text(f"Document {i}: {text}.", encoding="utf-8")


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "MEMEX_HOME": str(home)}


def _left_without_vectors(db: Path) -> tuple[int, int]:
    """(chunks not marked embedded or with no vector in the active space, documents)."""
    import apsw

    conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        one = lambda sql: int(conn.execute(sql).fetchone()[0])  # noqa: E731
        space = conn.execute("SELECT id FROM vector_spaces WHERE active = 1").fetchone()
        unmarked = one("SELECT count(*) FROM chunks WHERE embedded = 0")
        if space is None:
            return one("SELECT count(*) FROM chunks"), one("SELECT count(*) FROM documents")
        missing = one(f"SELECT count(*) FROM chunks c WHERE NOT EXISTS "
                      f"(SELECT 1 FROM vec_i8_{int(space[0])} v WHERE v.id = c.id)")
        return max(unmarked, missing), one("SELECT count(*) FROM documents WHERE status = 'ok'")
    finally:
        conn.close()


def _round(folder: Path, work: Path, writers: int) -> dict[str, int]:
    """One library, ``writers`` runs started together; what they left behind."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    db, go = work / "library.db", work / "go"
    for i in range(writers):
        _corpus(work / f"own-{i}", FILES, 10 + i)
    procs = [subprocess.Popen(
        [sys.executable, "-c", ON_BARRIER, str(work / f"ready-{i}"), str(go),
         "index", "--json", "--library", str(db), str(folder), str(work / f"own-{i}")],
        env=_env(work / "home"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(writers)]
    deadline = time.monotonic() + 120
    while not all((work / f"ready-{i}").exists() for i in range(writers)):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            break
        time.sleep(0.01)
    go.touch()
    succeeded, indexed = 0, 0
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        if proc.returncode == 0:
            succeeded += 1
            with_report = json.loads(out)
            indexed += int(with_report["added"]) + int(with_report["updated"])
    left, documents = _left_without_vectors(db) if db.exists() else (0, 0)
    return {"runs": writers, "succeeded": succeeded, "left": left, "twice": max(0, indexed - documents),
            "missing_documents": FILES * (writers + 1) - documents}


def _vanished(folder: Path, work: Path) -> tuple[bool, str]:
    libs = work / "vanishing"
    shutil.rmtree(work, ignore_errors=True)
    libs.mkdir(parents=True)
    db = libs / "library.db"
    proc = subprocess.run([sys.executable, "-c", DELETE_MIDWAY, str(libs), "index", "--library", str(db),
                           str(folder)], env=_env(work / "home"), capture_output=True, text=True, timeout=600)
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    loud = proc.returncode != 0 and "deleted or moved" in last and "added" not in proc.stdout
    return loud, f"exit {proc.returncode}: {last[:100] or proc.stdout.strip()[:100]}"


def measure(workdir: Path, *, progress: Callable[[str], None] | None = None,
            rounds: int = ROUNDS) -> list[dict]:
    workdir = Path(workdir)
    folder = workdir / "corpus"
    shutil.rmtree(folder, ignore_errors=True)
    _corpus(folder, FILES, 1)
    tallies: dict[int, list[dict[str, int]]] = {}
    for writers in WRITERS:
        for number in range(rounds):
            if progress is not None:
                progress(f"writers: {writers} concurrent runs, round {number + 1}/{rounds}")
            tallies.setdefault(writers, []).append(_round(folder, workdir / f"w{writers}-{number}", writers))
    total = lambda key: sum(t[key] for ts in tallies.values() for t in ts)  # noqa: E731
    by_count = lambda key: ", ".join(f"{w} writers: {sum(t[key] for t in ts)}"  # noqa: E731
                                     for w, ts in tallies.items())
    left, runs, succeeded, twice = total("left"), total("runs"), total("succeeded"), total("twice")
    missing = total("missing_documents")
    setup = (f"{rounds} rounds each of {' and '.join(map(str, WRITERS))} `memex index` runs, "
             f"{FILES} shared files + {FILES} each")
    if progress is not None:
        progress("writers: library deleted mid-run")
    loud, what = _vanished(folder, workdir / "vanished")
    return [
        _row(PART, "concurrent writers: chunks left without vectors", left, "0", left == 0,
             f"{setup}; {by_count('left')}"),
        _row(PART, "runs that reported success", f"{succeeded}/{runs}", "all", succeeded == runs,
             "each run exits 0 (a second writer waits for the first)"),
        _row(PART, "documents indexed twice", twice, "0", twice == 0 and missing == 0,
             f"{by_count('twice')}; documents missing: {missing}"),
        _row(PART, "vanished library reported as failure", "yes" if loud else "no", "yes", loud, what),
    ]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for row in measure(Path(tmp), progress=lambda m: print(m, file=sys.stderr)):
            print(row)
