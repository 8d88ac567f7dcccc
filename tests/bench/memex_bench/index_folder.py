"""A whole folder indexed from nothing, beside Recoll on the same files in the same run: time
until every file is searchable by words, time until every chunk has its vector, embedding
speed against the speed the int8 matrix products allow (:mod:`.ceiling`), and the peak memory
of every Memex process together (the app and its extraction process), sampled as it runs.

Each index runs in a fresh process (``python index_folder.py FOLDER LIBRARY``, JSON on the
last line), so another checkout of Memex can be measured the same way (``PYTHONPATH``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from .table import Row

RECOLL_INSTALL = "apt-get install recollcmd"
WORDS_TARGET_RATIO = 2.0  # words searchable within 2x Recoll's full index time
CEILING_SHARE_TARGET = 0.70
PEAK_RSS_TARGET_MB = 500.0


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except (OSError, ValueError):
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


class RssSampler:
    """The largest sum of RSS over this process and its children, sampled every ``every_s``."""

    def __init__(self, every_s: float = 0.1) -> None:
        self.every_s = every_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, sum(_rss_mb(p) for p in [me, *_descendants(me)]))
            self._stop.wait(self.every_s)


def measure(folder: str, library: str) -> dict:
    """Index ``folder`` into a new library at ``library`` (in this process) and time it."""
    from memex.core.library import Library

    lib = Library.open(library, reranker=False)
    embedder = lib.embedder  # model loading is start-up, not indexing
    marks: dict[str, float] = {}
    last: list = []
    start = time.perf_counter()

    def progress(p) -> None:  # noqa: ANN001 - IndexProgress of whichever checkout runs this
        if p.files_total and p.files_done == p.files_total and "words" not in marks:
            marks["words"] = time.perf_counter() - start
        last[:] = [p]

    with RssSampler() as rss:
        report = lib.index([folder], progress=progress)
    total = time.perf_counter() - start
    lib.close()
    import apsw

    reader = apsw.Connection(library, flags=apsw.SQLITE_OPEN_READONLY)
    tokens = [row[0] for row in reader.execute("SELECT token_count FROM chunks")]
    reader.close()
    words = marks.get("words", total)
    final = last[0] if last else None
    return {"words_s": words, "vectors_s": total, "files": report.added, "failed": report.failed,
            "chunks": report.chunks, "embedded": report.embedded,
            "chunks_per_s_wall": report.embedded / max(total - words, 1e-9),
            "chunks_per_s": getattr(final, "chunks_per_s", None),
            "tokens": [int(t) + 2 for t in tokens],  # + [CLS] and [SEP]
            "workers": getattr(embedder, "workers", 1), "peak_rss_mb": rss.peak_mb}


def run_memex(folder: Path, library: Path, env: dict[str, str] | None = None) -> dict:
    for suffix in ("", "-wal", "-shm"):
        Path(str(library) + suffix).unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-m", "memex_bench.index_folder", str(folder), str(library)],
                          capture_output=True, text=True, timeout=3600, env=env,
                          cwd=Path(__file__).resolve().parents[1])
    if proc.returncode != 0:
        raise RuntimeError(f"indexing benchmark failed: {proc.stderr.strip()[-800:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_recoll(folder: Path, confdir: Path) -> float | None:
    """Seconds for ``recollindex`` to index ``folder`` from nothing (None: not installed)."""
    if shutil.which("recollindex") is None:
        print(f"Recoll rows skipped: Recoll is not installed ({RECOLL_INSTALL}).", file=sys.stderr)
        return None
    shutil.rmtree(confdir, ignore_errors=True)
    confdir.mkdir(parents=True)
    # Without a language aspell is asked for C.UTF-8's and recollindex fails.
    (confdir / "recoll.conf").write_text(f"topdirs = {folder}\naspellLanguage = en\n", encoding="utf-8")
    started = time.perf_counter()
    subprocess.run(["recollindex", "-c", str(confdir)], capture_output=True, timeout=3600, check=True,
                   env={**os.environ, "RECOLL_CONFDIR": str(confdir)})
    return time.perf_counter() - started


def folder_rows(label: str, folder: Path, workdir: Path) -> list[Row]:
    """Recoll, then Memex, then the int8 rate, on ``folder``; the rows for the table."""
    from .ceiling import ceiling_chunks_per_s, int8_mac_rate

    name = label.replace(" ", "-")
    recoll_s = run_recoll(folder, workdir / f"recoll-{name}")
    result = run_memex(folder, workdir / f"{name}.db")
    mac_rate = int8_mac_rate(result["workers"])
    ceiling = ceiling_chunks_per_s(result["tokens"], mac_rate)
    speed = result["chunks_per_s"] or result["chunks_per_s_wall"]
    share = speed / ceiling if ceiling else 0.0
    words_target = f"≤ {WORDS_TARGET_RATIO:g}× Recoll"
    return [
        Row(f"{label}: all words searchable ({result['files']} files, {result['chunks']:,} chunks)",
            result["words_s"], "s", words_target, "recollindex, full index", recoll_s,
            result["words_s"] <= WORDS_TARGET_RATIO * recoll_s if recoll_s else None),
        Row(f"{label}: all vectors written", result["vectors_s"], "s", "", "recollindex", recoll_s),
        Row(f"{label}: embedding speed", speed, "chunks/s", f"≥ {CEILING_SHARE_TARGET:.0%} of ceiling",
            f"ceiling at {mac_rate / 1e9:.0f} GMAC/s int8", ceiling, share >= CEILING_SHARE_TARGET),
        Row(f"{label}: … share of the ceiling", share * 100, "%"),
        Row(f"{label}: peak RSS, all Memex processes", result["peak_rss_mb"], "MB",
            f"≤ {PEAK_RSS_TARGET_MB:.0f} MB", ok=result["peak_rss_mb"] <= PEAK_RSS_TARGET_MB),
    ]


def cranfield_folder(workdir: Path) -> Path | None:
    """Cranfield's 1,400 abstracts as text files (None when the shared data is absent)."""
    from memex.core.evaluation import load_collection, write_corpus

    source = Path(os.environ.get("MEMEX_SHARED", Path(__file__).resolve().parents[4] / "shared"))
    source = source / "eval" / "cranfield"
    if not (source / "corpus.jsonl").is_file():
        return None
    folder = workdir / "cranfield-files"
    if not folder.is_dir():
        write_corpus(load_collection(source), folder)
    return folder


def main() -> None:
    print(json.dumps(measure(sys.argv[1], sys.argv[2])))


if __name__ == "__main__":
    main()
