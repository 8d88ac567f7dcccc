"""Promise: Memex writes only library files it can prove it made.

Files a person might pick as a library by mistake (a text document, a PDF, other programs'
SQLite databases: in rollback mode, in WAL mode, with tables named like Memex's, with their own
application id; an empty file Memex did not make, a JSON file)
are offered to the real command line (``python -m memex.core``) through ``--library`` and through
the ``library`` key of settings.json, for ``status``, ``search`` and ``index``. Each file must be
left exactly as it was (sha256, size, mtime) with nothing new beside it (no -wal/-shm, open
mark, draft or ``.corrupt-`` rename), and each run must refuse with one line.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .robustness import _row

PART = "promise: library files"
COMMANDS = {
    "status": ["status"],
    "search": ["search", "pelican", "--mode", "bm25", "--no-rerank"],
    "index": ["index"],  # + a folder of notes
}
ROUTES = ("--library", "settings.json")
PARALLEL = 4


def foreign_files(folder: Path) -> list[Path]:
    """Files a person might pick as a library by mistake (none made by Memex)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = folder / "thesis.txt"
    text.write_text("Chapter one. Not a database at all, and precious.\n")
    pdf = folder / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    empty = folder / "empty.db"
    empty.write_bytes(b"")
    settings = folder / "settings.json"
    settings.write_text(json.dumps({"theme": "dark", "recent": ["a", "b"]}))
    # Another program's databases: one using table names Memex uses, one with its own application id.
    lookalike = foreign_sqlite(folder / "lookalike.db", wal=False,
                               extra="CREATE TABLE migrations(name TEXT); CREATE TABLE sources(path TEXT); "
                                     "INSERT INTO migrations VALUES ('x');")
    claimed = foreign_sqlite(folder / "claimed.db", wal=False, extra="PRAGMA application_id = 1234;")
    return [text, pdf, foreign_sqlite(folder / "rollback.db", wal=False), foreign_sqlite(folder / "wal.db", wal=True),
            empty, settings, lookalike, claimed]


def foreign_sqlite(path: Path, *, wal: bool, extra: str = "") -> Path:
    """Another program's SQLite database (rollback journal, or WAL), with ``extra`` SQL run in it."""
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE invoices(id INTEGER PRIMARY KEY, customer TEXT, total REAL)")
    conn.executemany("INSERT INTO invoices(customer, total) VALUES (?, ?)", [("ada", 9.5), ("bob", 12.0)])
    if extra:
        conn.executescript(extra)
    conn.commit()
    conn.close()
    return path


def fingerprint(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every entry of ``folder``: sha256, size and mtime (ns)."""
    out = {}
    for p in sorted(folder.iterdir()):
        st = p.stat()
        out[p.name] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns)
    return out


def _offer(work: Path, route: str, command: str, notes: Path) -> list[dict]:
    """Offer every foreign file in a folder of its own to one command by one route."""
    folder = work / f"{route.strip('-').replace('.', '_')}-{command}"
    results = []
    for path in foreign_files(folder):
        before = fingerprint(folder)
        home = Path(tempfile.mkdtemp(prefix="home-", dir=work))
        argv = [sys.executable, "-m", "memex.core", *COMMANDS[command]]
        if command == "index":
            argv.append(str(notes))
        if route == "--library":
            argv += ["--library", str(path)]
        else:
            (home / "settings.json").write_text(json.dumps({"library": str(path)}))
        env = {**os.environ, "MEMEX_HOME": str(home)}
        run = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
        after = fingerprint(folder)
        changed = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        results.append({
            "file": path.name, "route": route, "command": command, "touched": bool(changed),
            "changed": changed, "code": run.returncode,
            "one_line": run.returncode == 1 and len(lines) == 1 and "unexpected" not in run.stderr,
            "stderr": run.stderr.strip()[:300],
        })
    return results


def measure(workdir: Path, *, progress: Callable[[str], None] | None = None) -> list[dict]:
    work = Path(workdir) / "library-files"
    work.mkdir(parents=True, exist_ok=True)
    notes = work / "notes"
    notes.mkdir(exist_ok=True)
    (notes / "bird.txt").write_text("the pelican waits in the harbour\n")
    jobs = [(route, command) for route in ROUTES for command in COMMANDS]
    if progress:
        progress(f"offering {len(foreign_files(work / 'count'))} foreign files to {len(jobs)} route/command pairs")
    with ThreadPoolExecutor(PARALLEL) as pool:
        results = [r for batch in pool.map(lambda job: _offer(work, *job, notes), jobs) for r in batch]
    touched = [r for r in results if r["touched"]]
    refused = [r for r in results if r["one_line"]]
    unclear = [r for r in results if not r["one_line"]]
    example = touched[0] if touched else unclear[0] if unclear else results[0]
    note = (f"{example['file']} via {example['route']} {example['command']}: exit {example['code']}, "
            f"{'changed ' + ', '.join(example['changed']) if example['changed'] else 'untouched'}; "
            f"{example['stderr'].splitlines()[0] if example['stderr'] else 'no message'}")
    return [
        _row(PART, "foreign files offered as a library — files touched", len(touched), "0",
             not touched, f"{len(results)} runs ({len(results) // len(jobs)} files × 2 routes × status/search/index); "
                          "sha256, size, "
                          "mtime, no sidecars/marks/renames; " + note),
        _row(PART, "foreign files offered as a library — refused with one line", f"{len(refused)}/{len(results)}",
             "all", len(refused) == len(results), "exit 1, one line on stderr, never 'unexpected error'"),
    ]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        for row in measure(Path(tmp), progress=print):
            print(row)
