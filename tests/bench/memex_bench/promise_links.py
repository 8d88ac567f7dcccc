"""Promise: nothing behind a link that leaves a watched folder is indexed.

A folder gets links out of it of every kind (a file by absolute path, by ``../``, a chain of
two links, a folder link, a link without extension to a secret, a link to a system file and
to ``/etc``) and links that stay inside (one file linked twice, ``self -> .``, a link to a
subfolder). The folder is indexed by a real ``memex index`` process; while a folder watcher
runs over the library, a second set of the same links appears in a new subfolder; then a
second ``memex index`` process scans everything again. Counted from the library file: text
from behind the outside links (must be none), links listed as "outside-link" failures (all
planted), documents reached through an inside link (none: each file counts once), and rows
the full scan changed after the watcher (none: the two agree).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from .robustness import _row

PART = "promise: links"
SECRET = "zanzibarquincemint"
GOOD = "pelicanharbour"
SYSTEM_FILE = "/etc/os-release" if os.path.exists("/etc/os-release") else "/etc/hostname"
WATCH_TIMEOUT_S = 120.0


def plant_links(folder: Path, outside: Path) -> tuple[list[Path], list[Path]]:
    """Links out of ``folder`` (one of each kind) and links inside it; returns both lists.
    ``folder`` holds ``real.txt`` and ``sub/notes.md`` (made here) for the inside links."""
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    (folder / "real.txt").write_text(f"An ordinary note about the {GOOD}.\n")
    (folder / "sub" / "notes.md").write_text(f"# Notes\n\nThe {GOOD} in a subfolder.\n")
    depth = os.path.relpath(outside, folder)
    out_links = {
        "absolute.txt": outside / "secret.txt",
        "relative.txt": os.path.join(depth, "secret.txt"),
        "hop.md": os.path.join(depth, "secret.txt"),
        "chain.txt": "hop.md",
        "secret": outside / "secret.txt",  # no extension: would be sniffed by content
        "outdir": depth,
        "system.txt": SYSTEM_FILE,
        "etc": "/etc",
    }
    in_links = {"again.txt": "real.txt", "sub/again.txt": "../real.txt", "self": ".", "sub-link": "sub"}
    made: tuple[list[Path], list[Path]] = ([], [])
    for group, links in zip(made, (out_links, in_links), strict=True):
        for name, target in links.items():
            os.symlink(target, folder / name)
            group.append(folder / name)
    return made


def measure(workdir: Path, *, progress: Callable[[str], None] | None = None) -> list[dict]:
    from memex.core.config import DEFAULT_IGNORE, Settings
    from memex.core.indexing.scan import OUTSIDE_LINK, OUTSIDE_LINK_MESSAGE, IgnoreRules, judge_path
    from memex.core.indexing.watcher import FolderWatcher
    from memex.core.library import Library

    say = progress or (lambda message: None)
    workdir = Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    outside = workdir / "outside"
    outside.mkdir(parents=True)
    (outside / "secret.txt").write_text(f"The {SECRET} recipe is kept here.\n")
    folder = workdir / "docs"
    library = workdir / "lib" / "library.db"
    env = {**os.environ, "MEMEX_HOME": str(workdir / "home"), "NO_COLOR": "1"}
    cli = [sys.executable, "-m", "memex.core", "index", "--library", str(library)]

    planted_out, planted_in = plant_links(folder, outside)
    first = subprocess.run([*cli, str(folder)], env=env, capture_output=True, text=True, timeout=600)
    say(f"links: memex index: {first.stdout.splitlines()[0] if first.stdout else first.stderr[-300:]}")
    reported = sum(f"skipped {p}: {OUTSIDE_LINK_MESSAGE} [{OUTSIDE_LINK}]" in first.stdout for p in planted_out)

    # The watcher pass: the same kinds of links appear in a new subfolder while it runs.
    later = folder / "later"
    delivered: list[str] = []
    cond = threading.Condition()
    with Library.open(library, settings=Settings(), reranker=False) as lib:
        def on_changes(paths: list[str]) -> None:
            lib.refresh(paths)
            with cond:
                delivered.extend(paths)
                cond.notify_all()

        watcher = FolderWatcher(on_changes, rules=IgnoreRules(DEFAULT_IGNORE), debounce_s=0.3)
        watcher.set_roots([str(folder)])
        watcher.start()
        try:
            later.mkdir()
            more_out, more_in = plant_links(later, outside)
            planted_out += more_out
            planted_in += more_in
            wanted = {str(p) for p in planted_out}

            def settled() -> bool:
                return wanted <= {f.path for f in lib.failures() if f.reason == "outside-link"}

            with cond:
                watched = cond.wait_for(settled, timeout=WATCH_TIMEOUT_S)
        finally:
            watcher.stop()
        after_watcher = _rows(lib)
    second = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=600)
    say(f"links: full scan after the watcher: {second.stdout.splitlines()[0] if second.stdout else second.stderr}")

    with Library.open(library, settings=Settings(), reranker=False) as lib:
        rows = _rows(lib)
        conn = lib.store.connection()
        leaked = conn.execute("SELECT count(*) FROM chunks WHERE text LIKE ?", (f"%{SECRET}%",)).fetchone()[0]
        for word in _system_words():
            leaked += conn.execute("SELECT count(*) FROM chunks WHERE text LIKE ?", (f"%{word}%",)).fetchone()[0]
        listed = {f.path for f in lib.failures() if f.reason == "outside-link"}
    status = subprocess.run([*cli[:3], "status", "--json", "--library", str(library)], env=env,
                            capture_output=True, text=True, timeout=300)
    status_failed = json.loads(status.stdout).get("failed", -1) if status.returncode == 0 else -1
    through_links = [p for p, (status, _) in rows.items()
                     if status == "ok" and judge_path(p, str(folder)).kind != "direct"]
    behind = [p for p in rows if any(p.startswith(f"{link}{os.sep}") for link in map(str, planted_out))]
    changed = sum(after_watcher.get(p) != rows.get(p) for p in {*after_watcher, *rows})
    ok_runs = first.returncode == 0 and second.returncode == 0 and watched
    n_out = len(planted_out)
    return [
        _row(PART, "outside-link contents indexed", leaked + len(behind), "0", leaked + len(behind) == 0,
             f"{n_out} links out planted (file abs/../chain/no extension, folder, {SYSTEM_FILE}, /etc), "
             f"half before `memex index`, half under a running watcher; chunks with the secret or "
             f"system-file words + rows behind a folder link"),
        _row(PART, "links listed as outside the folder", len(listed & {str(p) for p in planted_out}),
             str(n_out), listed == {str(p) for p in planted_out} and status_failed == n_out,
             f"reason outside-link; `memex index` named {reported}/{n_out // 2} of its own; "
             f"`memex status` counts {status_failed} failed"),
        _row(PART, "inside links indexed twice", len(through_links), "0", not through_links,
             f"{len(planted_in)} inside links (a file linked twice, self -> ., a subfolder link); "
             f"{sum(s == 'ok' for s, _ in rows.values())} documents for 4 real files"),
        _row(PART, "rows changed by a full scan after the watcher", changed, "0", changed == 0 and ok_runs,
             f"watcher settled: {watched}; both `memex index` runs exit 0: "
             f"{first.returncode == 0 and second.returncode == 0}"),
    ]


def _rows(lib) -> dict[str, tuple[str, str | None]]:
    return {p: (s, r) for p, s, r in lib.store.connection().execute("SELECT path, status, error_reason FROM documents")}


def _system_words() -> set[str]:
    try:
        text = Path(SYSTEM_FILE).read_text(errors="replace")
    except OSError:
        return set()
    return {w for w in text.replace("=", " ").replace('"', " ").split() if len(w) > 6 and w.isalpha()}
