"""Whole-process command-line search, as a script pays for it: ``memex search`` and ``memex
status`` through the resident service (``memex serve``; the quick entry point sends the command
line and writes the answer), without it (the CLI opens the library itself), and Recoll's
``recollq`` over the same files, each query run once per way in turn (so the machine's load
falls on every column alike). A Python that only starts and exits is the floor: Python's own
start, plus whatever the installation adds to every start (an editable install's import
finders add ~15 ms; an installed wheel has none).

Bytecode is cached as an installed Memex has it: the measured processes run without
``PYTHONDONTWRITEBYTECODE`` (else every start would compile Memex's modules anew), after a
warm-up call of each way.

The corpus is a folder of generated English-like text files (kept in the work folder and reused),
indexed by ``memex index`` with the default embedder and by ``recollindex``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .table import Row

FILES = 300
WORDS_PER_FILE = (150, 600)
QUERIES = 30
SERVICE_TARGET_MS = 50.0
DIRECT_TARGET_MS = 150.0
RECOLL_INSTALL = "apt-get install recollcmd"


def _memex() -> list[str]:
    script = Path(sys.executable).with_name("memex")
    return [str(script)] if script.exists() else [sys.executable, "-m", "memex.core"]


def make_corpus(folder: Path, seed: int = 5) -> list[str]:
    """FILES text files of Zipfian words (written once); returns two-word queries drawn from
    them, words of middling frequency so each query matches a few files."""
    from .latency import sample_words, vocabulary, zipf_cdf

    rng = np.random.default_rng(seed)
    words, cdf = vocabulary(rng), zipf_cdf()
    folder.mkdir(parents=True, exist_ok=True)
    texts: list[list[str]] = []
    for i in range(FILES):
        count = int(rng.integers(*WORDS_PER_FILE))
        drawn = [str(w) for w in words[sample_words(rng, cdf, count)]]
        texts.append(drawn)
        path = folder / f"note-{i:04d}.{'md' if i % 3 == 0 else 'txt'}"
        if not path.exists():
            lines = [" ".join(drawn[j:j + 12]) for j in range(0, len(drawn), 12)]
            path.write_text(f"Note {i}\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    queries: list[str] = []
    while len(queries) < QUERIES:
        doc = texts[int(rng.integers(len(texts)))]
        middling = [w for w in doc[20:] if len(w) > 4]
        if len(middling) >= 2:
            a, b = rng.choice(len(middling), 2, replace=False)
            queries.append(f"{middling[a]} {middling[b]}")
    return queries


def _run(cmd: list[str], env: dict[str, str]) -> float:
    """Milliseconds from start to exit (output discarded); a failure raises."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed: {proc.stderr.decode(errors='replace')[-300:]}")
    return elapsed


def recoll_config(confdir: Path, corpus: Path) -> None:
    confdir.mkdir(parents=True, exist_ok=True)
    (confdir / "recoll.conf").write_text(f"topdirs = {corpus}\naspellLanguage = en\n", encoding="utf-8")


@contextmanager
def serving(library: Path, env: dict[str, str]) -> Iterator[None]:
    """``memex serve`` for ``library`` while the block runs (its socket in env's runtime folder)."""
    proc = subprocess.Popen([*_memex(), "serve", "--no-watch", "--library", str(library)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    folder = Path(env["XDG_RUNTIME_DIR"]) / "memex"
    deadline = time.monotonic() + 60
    try:
        while not list(folder.glob("library-*.sock")):
            if proc.poll() is not None or time.monotonic() > deadline:
                why = proc.stderr.read().decode()[-300:] if proc.stderr and proc.poll() is not None else ""
                raise RuntimeError(f"memex serve did not start: {why}")
            time.sleep(0.1)
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def measure(workdir: Path, progress: Callable[[str], None] | None = None) -> dict[str, list[float]]:
    corpus, library, confdir = workdir / "corpus", workdir / "cli.db", workdir / "recoll"
    runtime = Path(tempfile.mkdtemp(prefix="mxb"))
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "NO_COLOR": "1"}
    for name in ("MEMEX_NO_SERVICE", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    direct = {**env, "MEMEX_NO_SERVICE": "1"}
    try:
        queries = make_corpus(corpus)
        if progress:
            progress(f"indexing {FILES} files with memex and recollindex")
        _run([*_memex(), "index", "--library", str(library), str(corpus)], direct)
        recoll_config(confdir, corpus)
        _run(["recollindex", "-c", str(confdir)], env)
        ways: dict[str, tuple[list[str], dict[str, str]]] = {
            "python": ([sys.executable, "-c", "pass"], env),
            "recollq": (["recollq", "-c", str(confdir), "-b", "-n", "10"], env),
            "direct bm25": ([*_memex(), "search", "--library", str(library), "--mode", "bm25"], direct),
            "direct hybrid": ([*_memex(), "search", "--library", str(library)], direct),
            "service bm25": ([*_memex(), "search", "--library", str(library), "--mode", "bm25"], env),
            "service hybrid": ([*_memex(), "search", "--library", str(library)], env),
            "direct status": ([*_memex(), "status", "--library", str(library)], direct),
            "service status": ([*_memex(), "status", "--library", str(library)], env),
        }
        takes_query = {name for name in ways if "search" in ways[name][0] or name == "recollq"}
        times: dict[str, list[float]] = {name: [] for name in ways}
        with serving(library, env):
            for name, (cmd, way_env) in ways.items():  # models loaded once, bytecode written
                _run([*cmd, "warm up"] if name in takes_query else cmd, way_env)
            for query in queries:
                for name, (cmd, way_env) in ways.items():
                    times[name].append(_run([*cmd, query] if name in takes_query else cmd, way_env))
        return times
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def run(workdir: Path, progress: Callable[[str], None] | None = None) -> list[Row]:
    if shutil.which("recollq") is None or shutil.which("recollindex") is None:
        print(f"CLI latency rows skipped: Recoll is not installed ({RECOLL_INSTALL}).", file=sys.stderr)
        return []
    t = measure(workdir, progress)
    recoll50, recoll95 = _pct(t["recollq"], 50), _pct(t["recollq"], 95)
    rows: list[Row] = []
    for name, label, target in (("service hybrid", "search via the service, hybrid", SERVICE_TARGET_MS),
                                ("service bm25", "search via the service, bm25", SERVICE_TARGET_MS),
                                ("service status", "status via the service", SERVICE_TARGET_MS),
                                ("direct bm25", "search without the service, bm25", DIRECT_TARGET_MS),
                                ("direct status", "status without the service", DIRECT_TARGET_MS),
                                ("direct hybrid", "search without the service, hybrid", None)):
        p50, p95 = _pct(t[name], 50), _pct(t[name], 95)
        rows += [
            Row(f"CLI p50, whole process, {label}", p50, "ms", f"≤ {target:g} ms" if target else "",
                "recollq p50", recoll50, p50 <= target if target else None),
            Row(f"CLI p95, whole process, {label}", p95, "ms", "", "recollq p95", recoll95),
        ]
    python50 = _pct(t["python"], 50)
    rows += [Row(f"Python start and exit p50 (the floor), {len(t['python'])} runs", python50, "ms", "",
                 "recollq p50", recoll50),
             Row("Python start and exit p95", _pct(t["python"], 95), "ms", "", "recollq p95", recoll95)]
    return rows
