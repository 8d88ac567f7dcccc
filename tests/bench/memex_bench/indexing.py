"""Indexing benchmarks: time to first result for a 300-page PDF dropped on an empty library,
and peak memory (RSS) while indexing, each run in a fresh process so figures are honest."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from .table import Row

PDF_PAGES = 300
DEFAULT_FOLDER = Path("/tmp/realfolder")  # tests/realfolder/build_folder.py writes it there
TTFR_TARGET_S = 5.0
PEAK_RSS_TARGET_MB = 500.0
IDLE_RSS_TARGET_MB = 250.0
IDLE_LIBRARY_CHUNKS = 100_000
WORDS = ("report analysis market revenue growth customer product design engineering research "
         "policy budget quarter project team schedule risk quality safety energy water climate "
         "transport health education software hardware network security data model").split()


def make_pdf(path: Path, pages: int, marker: str) -> None:
    """A text PDF of ``pages`` pages; ``marker`` appears only on the last page."""
    import pymupdf

    rnd = random.Random(5)
    doc = pymupdf.open()
    for number in range(1, pages + 1):
        words = [rnd.choice(WORDS) for _ in range(350)]
        if number == pages:
            words[100] = marker
        text = f"Page {number}. " + " ".join(words)
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(50, 50, 550, 800), text, fontsize=9)
    doc.save(str(path))
    doc.close()


def make_text_corpus(folder: Path, files: int) -> None:
    rnd = random.Random(9)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        paragraphs = [" ".join(rnd.choice(WORDS) for _ in range(rnd.randint(60, 160))) + "."
                      for _ in range(rnd.randint(2, 8))]
        (folder / f"note{i:04}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")


_TTFR_SCRIPT = textwrap.dedent("""
    import json, sys, threading, time
    from memex.core.library import Library
    library_path, folder, marker = sys.argv[1:4]
    lib = Library.open(library_path)
    lib.embedder  # model loading is start-up, not indexing
    result = {}
    start = time.perf_counter()
    worker = threading.Thread(target=lambda: lib.index([folder]))
    worker.start()
    while "lexical" not in result or "semantic" not in result:
        if "lexical" not in result and lib.search(marker, mode="bm25", rerank=False):
            result["lexical"] = time.perf_counter() - start
        if "semantic" not in result and lib.status().chunks_pending == 0 and lib.status().chunks:
            result["semantic"] = time.perf_counter() - start
        if not worker.is_alive() and "lexical" not in result:
            result["lexical"] = float("nan")
        time.sleep(0.05)
    worker.join()
    result["done"] = time.perf_counter() - start
    print(json.dumps(result))
""")

_RSS_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    from memex.core.library import Library
    library_path, folder = sys.argv[1:3]
    with Library.open(library_path) as lib:
        lib.index([folder])
        lib.search("budget risk", rerank=False)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"main_mb": own, "worker_mb": child}))
""")

_IDLE_SCRIPT = textwrap.dedent("""
    import json, sys
    from memex.core.library import Library
    with Library.open(sys.argv[1]) as lib:
        for query in ("budget risk", "water climate policy", "network security data model"):
            lib.search(query, rerank=False)
        rss = lambda: int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
        searched = rss()
        lib.release_memory()  # what the window does once it goes quiet
        print(json.dumps({"rss_mb": searched, "quiet_mb": rss(), "chunks": lib.status().chunks}))
""")


def _python(script: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark process failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def idle_library_path(workdir: Path) -> Path:
    """A synthetic library of IDLE_LIBRARY_CHUNKS chunks whose vectors claim the default
    embedder, so the app opens it, loads that model and searches it as it would a real one
    (built once, a minute or two; the vectors' values do not change the memory it takes)."""
    from memex.core.models.resolve import resolve_embedder

    from .latency import build_library

    return build_library(workdir, IDLE_LIBRARY_CHUNKS, model_id=resolve_embedder(None).model_id).path


def run(workdir: Path | None = None, idle_library: Path | None = None, folder: Path | None = None) -> list[Row]:
    """``idle_library`` None: the idle figure is taken on ``idle_library_path`` (in ``workdir``,
    else a temporary folder). ``folder``: a real mixed folder indexed beside Recoll (default
    ``DEFAULT_FOLDER`` when it exists), and Cranfield as files beside it."""
    rows: list[Row] = []
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    rows.extend(whole_folder_rows(folder, workdir))
    with tempfile.TemporaryDirectory(prefix="memex-bench-", dir=workdir) as tmp:
        root = Path(tmp)
        pdf_dir = root / "pdf"
        pdf_dir.mkdir()
        make_pdf(pdf_dir / "big.pdf", PDF_PAGES, "zanzibarquokka")
        ttfr = _python(_TTFR_SCRIPT, str(root / "ttfr.db"), str(pdf_dir), "zanzibarquokka")
        rows.append(Row(f"time to first result, {PDF_PAGES}-page PDF (words)", ttfr["lexical"], "s",
                        f"≤ {TTFR_TARGET_S:.0f} s", "all vectors ready", ttfr["semantic"],
                        ttfr["lexical"] <= TTFR_TARGET_S))
        corpus = root / "corpus"
        make_text_corpus(corpus, 400)
        (corpus / "big.pdf").write_bytes((pdf_dir / "big.pdf").read_bytes())
        rss = _python(_RSS_SCRIPT, str(root / "rss.db"), str(corpus))
        peak = max(rss["main_mb"], rss["worker_mb"])
        rows.append(Row("peak RSS while indexing (main process)", rss["main_mb"], "MB",
                        f"≤ {PEAK_RSS_TARGET_MB:.0f} MB", "extraction process", rss["worker_mb"],
                        peak <= PEAK_RSS_TARGET_MB))
        library = idle_library or idle_library_path(workdir or root)
        idle = _python(_IDLE_SCRIPT, str(library))
        judged = idle["chunks"] >= 100_000
        target = f"≤ {IDLE_RSS_TARGET_MB:.0f} MB at 100k chunks"
        rows.append(Row(f"idle RSS after searches, core process ({idle['chunks']:,} chunks)", idle["rss_mb"], "MB",
                        target, ok=idle["rss_mb"] <= IDLE_RSS_TARGET_MB if judged else None))
        rows.append(Row("  … once quiet (caches and run buffers given back)", idle["quiet_mb"], "MB",
                        target, "after searches", idle["rss_mb"],
                        ok=idle["quiet_mb"] <= IDLE_RSS_TARGET_MB if judged else None))
        rows.extend(_window_rows(library, root, target if judged else ""))
    return rows


def whole_folder_rows(folder: Path | None, workdir: Path | None) -> list[Row]:
    """A real folder and Cranfield, each indexed from nothing beside Recoll."""
    from . import index_folder

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="memex-bench-", dir=workdir) as tmp:
        root = Path(tmp)
        folder = folder or (DEFAULT_FOLDER if DEFAULT_FOLDER.is_dir() else None)
        if folder is None:
            print(f"Real-folder rows skipped: no folder given and {DEFAULT_FOLDER} is missing "
                  "(tests/realfolder/build_folder.py builds it).", file=sys.stderr)
        else:
            rows.extend(index_folder.folder_rows("real folder", folder, root))
        cranfield = index_folder.cranfield_folder(root)
        if cranfield is not None:
            rows.extend(index_folder.folder_rows("Cranfield", cranfield, root))
    return rows


def _window_rows(library: Path, root: Path, target: str) -> list[Row]:
    """The window process on the same library, when the GUI is installed (offscreen)."""
    if importlib.util.find_spec("PySide6") is None:
        return []
    from memex.core.config import cache_dir

    home = root / "window-home"
    (home / "cache").mkdir(parents=True)
    optimized = cache_dir() / "optimized"
    if optimized.is_dir():  # reuse the optimised model copies instead of building them again
        (home / "cache" / "optimized").symlink_to(optimized, target_is_directory=True)
    env = {**os.environ, "MEMEX_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "memex_bench.window_idle", str(library)],
                          capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"window benchmark failed: {proc.stderr.strip()[-500:]}")
    win = json.loads(proc.stdout.strip().splitlines()[-1])
    ok = (lambda mb: mb <= IDLE_RSS_TARGET_MB) if target else (lambda mb: None)
    return [Row("window process after typed searches and a preview", win["searched_mb"], "MB", target,
                "at start", win["start_mb"], ok(win["searched_mb"])),
            Row("  … once quiet (it gives memory back by itself)", win["quiet_mb"], "MB", target,
                ok=ok(win["quiet_mb"]))]
